"""pcfx-protocol stands alone: its README example is a real file that verifies the shipped declaration,
and `pip install ./protocol` in an empty venv brings none of the node's dependencies."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
EXAMPLES = PROTOCOL / "examples"
NODE_ONLY = {"nats-py", "fastapi", "sqlalchemy", "sqlmodel", "scipy", "numpy", "uvicorn", "alembic", "pint"}


def _run_example(python: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "verify_declaration.py"], cwd=folder, capture_output=True, text=True, timeout=120
    )


def test_the_readme_example_is_the_example_file():
    readme = (PROTOCOL / "README.md").read_text()
    shown = re.search(r"```python\n(.*?)```", readme, re.S)
    assert shown is not None
    assert shown.group(1) == (EXAMPLES / "verify_declaration.py").read_text()


def test_the_example_verifies_the_shipped_declaration():
    done = _run_example(sys.executable, EXAMPLES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid declaration urn:uuid:9177872a-12fa-5687-96f8-018542984d1e by ")


def test_the_example_names_the_reason_for_a_tampered_declaration(tmp_path: Path):
    folder = shutil.copytree(EXAMPLES, tmp_path / "examples")
    doc = json.loads((folder / "declaration.json").read_text())
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "1"
    (folder / "declaration.json").write_text(json.dumps(doc))
    done = _run_example(sys.executable, folder)
    assert done.stdout.startswith("rejected: bad signature: "), done.stdout + done.stderr


def test_protocol_installs_alone_in_an_empty_venv_and_runs_the_example(tmp_path: Path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(PROTOCOL)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0 and "No matching distribution" in install.stderr:
        pytest.skip(f"no package index reachable: {install.stderr.strip().splitlines()[-1]}")
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "pcfx-protocol" in installed
    assert not installed & NODE_ONLY, f"the node's dependencies came along: {sorted(installed & NODE_ONLY)}"
    # A copy of the example folder, away from the repository: only the installed wheel can be imported.
    done = _run_example(python, shutil.copytree(EXAMPLES, tmp_path / "examples"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid declaration ")
