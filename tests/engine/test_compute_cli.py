"""`pcfx compute INVENTORY`: a readable table by default, the full result as JSON on request."""

from __future__ import annotations

import json
import textwrap

from pcfx.node.cli.app import app
from typer.testing import CliRunner

INVENTORY = textwrap.dedent(
    """\
    product:
      name: cement
      declared_unit: {amount: "1", unit: t}
      reference: {process: mill, flow: cement}
    period: {start: 2024-01-01, end: 2025-01-01}
    processes:
      - id: mill
        outputs:
          - {flow: cement, amount: "100", unit: t}
        inputs:
          - {flow: raw coal, kind: fuel, amount: "10", unit: t, direct_factor: CN-fuel-raw-coal}
        emissions:
          - {gas: CH4, amount: "1", unit: kg}
    """
)


def test_json_output_is_the_full_result_with_decimal_strings(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    out = CliRunner().invoke(app, ["compute", str(path), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    # 10 t coal x 1900.2988488 kg + 1 kg CH4 x 29.8 = 19032.788488 kg over 100 t
    assert result["total"] == "190.32788488"
    assert result["gwp"] == "AR6"


def test_gwp_option_switches_the_characterisation(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    out = CliRunner().invoke(app, ["compute", str(path), "--json", "--gwp", "AR5"])
    assert json.loads(out.output)["total"] == "190.32988488"


def test_the_table_shows_total_contributions_and_sources(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    out = CliRunner().invoke(app, ["compute", str(path), "--monte-carlo", "50"])
    assert out.exit_code == 0, out.output
    assert "PCF excluding biogenic uptake" in out.output
    assert "190.3279" in out.output
    assert "mill/raw coal (combustion)" in out.output
    assert "CN-fuel-raw-coal" in out.output
    assert "95 % range" in out.output and "no factor in use carries an uncertainty" in out.output


def test_an_inventory_error_exits_with_the_located_message(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY.replace("unit: t, direct", "unit: kgg, direct"), encoding="utf-8")
    out = CliRunner().invoke(app, ["compute", str(path)])
    assert out.exit_code == 1
    assert "error: inventory.yaml line 11: unit 'kgg' is not a known unit" in out.output
