"""Every command example of README.md, protocol/README.md and deploy/README.md runs as written, or says why
it cannot run here.

The convention (docs_kit.py): a ```bash, ```console or ```python block is run by a test of this folder,
read from the README itself; one that cannot run as a test has `<!-- not run: REASON -->` on the line before
its fence. README.md's walkthrough is test_walkthrough.py; protocol/README.md's example (the Python block,
run in the folder its console block names, and the console block's command) is run here; deploy/README.md
has no command block (its kubectl and docker commands are prose, for machines with a container engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from docs_kit import DOCUMENTED, PACT_HOST, ROOT, RUNNABLE, Block, blocks, console_session, walkthrough_blocks

PROTOCOL_README = ROOT / "protocol" / "README.md"
SCRIPTS = str(Path(sys.executable).parent)


def _protocol_block(language: str) -> Block:
    (found,) = [b for b in blocks(PROTOCOL_README) if b.language == language and b.not_run is None]
    return found


def _run_here() -> set[tuple[Path, int]]:
    """The blocks the tests of this folder run."""
    run = [
        *walkthrough_blocks(),
        *walkthrough_blocks(PACT_HOST),
        _protocol_block("python"),
        _protocol_block("console"),
    ]
    return {(b.path, b.line) for b in run}


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("readme", DOCUMENTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_block_is_run_by_a_test_or_says_why_not(readme: Path):
    examples = [b for b in blocks(readme) if b.language in RUNNABLE]
    unaccounted = [b.where for b in examples if b.not_run is None and (b.path, b.line) not in _run_here()]
    assert unaccounted == [], (
        "run these in a test of tests/walkthrough/ or mark them <!-- not run: REASON -->"
    )
    assert all(b.not_run for b in examples if b.not_run is not None), "a not-run block names its reason"


def test_a_block_run_by_a_test_is_not_marked_not_run():
    marked = {(b.path, b.line) for readme in DOCUMENTED for b in blocks(readme) if b.not_run is not None}
    assert not marked & _run_here()


def test_the_protocol_readme_python_example_prints_what_its_console_block_shows():
    ((command, shown),) = console_session(_protocol_block("console"))
    folder = command.removeprefix("cd ").split(" && ")[0]  # where the session runs it
    done = subprocess.run(
        [sys.executable, "-"],
        input=_protocol_block("python").text,
        cwd=ROOT / folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown


def test_the_protocol_readme_console_session_prints_what_it_shows():
    for command, shown in console_session(_protocol_block("console")):
        done = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{command}"],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == shown, command
