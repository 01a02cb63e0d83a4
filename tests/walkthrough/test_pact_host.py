"""README.md's "One company's PACT host in four commands" runs as written: its ```bash blocks, read from
README.md, run literally in one bash after `set -euo pipefail` (the same frame as test_walkthrough.py: the
venv's bin/ first on PATH, TMPDIR in the test's folder, the repository root as working directory)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from docs_kit import PACT_HOST, ROOT, walkthrough_blocks

PREAMBLE = """set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT
"""


@pytest.fixture(scope="module")
def host_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PCFX_")},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(tmp_path_factory.mktemp("pact-host")),
        "COLUMNS": "240",
    }
    script = PREAMBLE + "".join(b.text for b in walkthrough_blocks(PACT_HOST))
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )


def test_the_section_has_the_four_commands_and_the_buyers_calls():
    text = "".join(b.text for b in walkthrough_blocks(PACT_HOST))
    for command in ("pcfx init copper", "--standalone", "pcfx products add", "pcfx declare", "pcfx node run"):
        assert command in text, command


def test_every_command_of_the_section_succeeds_as_written(host_run):
    assert host_run.returncode == 0, host_run.stdout[-4000:] + host_run.stderr[-4000:]


def test_the_buyers_pact_client_reads_the_declared_cathode_copper_over_https(host_run):
    served = ast.literal_eval(host_run.stdout.strip().splitlines()[-1])
    assert served == [["urn:pcfx:product:91340700PCFXD00131:cathode-cu-cath-1"]]
