"""The README walkthrough runs as written: the ```bash blocks of README.md's "Five-minute walkthrough"
section, read from README.md itself, run literally in one bash, one after the other. A supplier publishes,
the buyer verifies and uses the value, and the declaration file verifies by itself.

What the test adds around them, and only that: `set -euo pipefail` (any command that fails as written
fails the test), the venv's bin/ first on PATH (the README's "venv activated"), TMPDIR in the test's own
folder (the README's `mktemp -d`), the repository root as the working directory (where the README starts),
COLUMNS=240 so that the tables are not cut, and a trap that stops the background nodes at the end. The
README's two install commands ("Two commands") are not run here: they are marked not run, the tests run in
the venv they install, and .ci/run runs the test command itself. docs_kit.py states the convention every
README command example follows (run by a test here, or marked `<!-- not run: REASON -->`)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from docs_kit import ROOT, background_commands, walkthrough_blocks

PREAMBLE = """set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT
"""
# after the README's last command: how many of the nodes it started in the background still run
EPILOGUE = 'echo "background jobs running: $(jobs -rp | wc -l)"\n'


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Run:
    scripts = str(Path(sys.executable).parent)
    temp = tmp_path_factory.mktemp("walkthrough")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PCFX_")},
        "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(temp),
        "COLUMNS": "240",
    }
    script = PREAMBLE + "".join(b.text for b in walkthrough_blocks()) + EPILOGUE
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return Run(done.returncode, done.stdout, done.stderr)


def test_the_walkthrough_section_has_its_four_steps_as_shell_blocks():
    texts = [b.text for b in walkthrough_blocks()]
    assert [b.not_run for b in walkthrough_blocks()] == [None] * len(texts)
    for step in ("# 1.", "# 2.", "# 3.", "# 4."):
        assert sum(step in t for t in texts) == 1, step


def test_every_command_of_the_walkthrough_succeeds_as_written(walkthrough: Run):
    assert walkthrough.code == 0, walkthrough.out[-4000:] + walkthrough.err[-4000:]


def test_the_buyer_uses_the_copper_declaration_verified_against_registry_v1(walkthrough: Run):
    busbars = next(line for line in walkthrough.lines if line.startswith("│ busbars"))
    assert "│ supplier │" in busbars and "ok: key did:key:" in busbars and "registry v1" in busbars
    assert any("│ now" in line and "1 of 6" in line for line in walkthrough.lines)


def test_inputs_whose_suppliers_run_no_node_stay_on_defaults_saying_why(walkthrough: Run):
    cathode = next(line for line in walkthrough.lines if line.startswith("│ cathode active material"))
    assert "│ default" in cathode and "is not in trust registry v1" in cathode


def test_the_second_node_takes_free_ports_and_says_which(walkthrough: Run):
    ready = [line for line in walkthrough.lines if line.startswith("node on ") and " ready " in line]
    assert len(ready) == 2
    urls = [set(line.split("API ")[1:]) for line in ready]
    assert not urls[0] & urls[1]  # each node its own PACT and admin URLs


def test_the_declaration_file_verifies_with_and_without_the_pinned_operator_key(walkthrough: Run):
    valid = [line for line in walkthrough.lines if line.startswith("valid: ")]
    assert len(valid) == 2 and all(line.endswith("(registry v1)") for line in valid)
    assert "note: operator key not pinned; trusting the registry's operator did:key:" in walkthrough.err


def test_an_edited_declaration_fails_with_exit_code_1_and_the_reason(walkthrough: Run):
    at = next(n for n, line in enumerate(walkthrough.lines) if line.startswith("invalid: "))
    assert walkthrough.lines[at].startswith("invalid: bad signature: ")
    assert walkthrough.lines[at + 1] == "exit code 1"


def test_without_a_registry_only_the_signature_is_checked_and_it_exits_1(walkthrough: Run):
    at = next(n for n, line in enumerate(walkthrough.lines) if line.startswith("signature valid, but"))
    assert "identity was NOT checked" in walkthrough.lines[at]
    assert walkthrough.lines[at + 1] == "exit code 1"


def test_every_background_node_still_runs_at_the_end_without_a_traceback(walkthrough: Run):
    started = sum(background_commands(b) for b in walkthrough_blocks())
    assert started == 2
    assert f"background jobs running: {started}" in walkthrough.lines
    assert "Traceback" not in walkthrough.out + walkthrough.err
