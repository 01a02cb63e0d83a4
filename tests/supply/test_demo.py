"""`pcfx demo` end to end: real nodes on a real nats-server, the key facts in its output, nothing left behind;
and the node homes it keeps are inspectable with the supply commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from pcfx.node.cli.app import app
from pcfx.node.demo.scenario import run_demo
from rich.console import Console
from typer.testing import CliRunner

PCFX = Path(sys.executable).parent / "pcfx"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def test_pcfx_demo_shows_the_exchange_and_cleans_up(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "200"}
    done = subprocess.run([str(PCFX), "demo"], capture_output=True, text=True, env=env, timeout=120)
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    assert "ILLUSTRATIVE" in out
    assert "8 nodes running" in out
    assert re.search(r"Ningde Battery .*recomputed on Tongling Copper's new version, republished", out)
    assert "recomputed on Ningde Battery's new version" in out  # the handset, one tier further down
    assert re.search(r"Ningde Battery\s+│ forged \(wrong key\)\s+│ key not authorised", out)
    assert re.search(r"Shenzhen Handset\s+│ tampered \(edited total\)\s+│ bad signature", out)
    assert "stores unchanged" in out
    pid = int(re.search(r"JetStream, pid (\d+)", out).group(1))
    assert not _alive(pid)
    assert list(tmp_path.iterdir()) == []


async def test_the_demo_facts_and_the_kept_homes(tmp_path):
    console = Console(file=open(os.devnull, "w"), width=200)  # noqa: SIM115
    facts = await run_demo(tmp_path, console=console)
    console.file.close()
    assert facts.companies == 8
    assert facts.handset_supplier < facts.handset_default
    assert facts.battery_after < facts.battery_before
    assert facts.handset_after_revision < facts.handset_supplier
    republished = [s for s in facts.propagation if s.company == "Ningde Battery"]
    assert [s.declaration_id is not None and "republished" in s.what for s in republished] == [True]
    assert {(r.company, r.attack, r.reason) for r in facts.rejections} == {
        ("Ningde Battery", "forged (wrong key)", "key not authorised"),
        ("Ningde Battery", "tampered (edited total)", "bad signature"),
        ("Shenzhen Handset", "forged (wrong key)", "key not authorised"),
        ("Shenzhen Handset", "tampered (edited total)", "bad signature"),
    }
    assert facts.store_unchanged

    runner = CliRunner()
    handset_home = tmp_path / "nodes" / "mobile-handset"
    shown = runner.invoke(app, ["inputs", "handset-x1", "--home", str(handset_home)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    rows = {line.split("│")[1].strip(): line for line in shown.output.splitlines() if line.count("│") > 5}
    assert "supplier" in rows["battery"] and "registry v1" in rows["battery"]
    assert "default" in rows["memory"] and "not in trust registry v1" in rows["memory"]
    assert f"{facts.handset_after_revision.quantize(Decimal('0.0001'))} / 1 piece" in shown.output

    products = runner.invoke(app, ["products", "--home", str(tmp_path / "nodes" / "li-ion-battery")])
    assert products.exit_code == 0, products.output
    assert "published" in products.output and "active" in products.output
