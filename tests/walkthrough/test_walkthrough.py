"""The README walkthrough runs as written: a supplier publishes, the buyer verifies and uses the value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("walkthrough.sh")


def test_walkthrough_ends_with_the_buyer_using_the_verified_copper_declaration(tmp_path):
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "240"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    busbars = next(line for line in done.stdout.splitlines() if line.startswith("│ busbars"))
    assert "supplier" in busbars and "registry v1" in busbars
    assert "is not in trust registry v1" in done.stdout  # suppliers without a node fall back, saying why
    assert "1 of 6" in done.stdout  # inputs on supplier values
