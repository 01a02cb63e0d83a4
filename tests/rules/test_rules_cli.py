"""`pcfx rules list|show`: the rule sets as a plant sees them on the command line."""

from __future__ import annotations

import json

from pcfx.node.cli.app import app
from typer.testing import CliRunner

runner = CliRunner()


def test_rules_list_shows_every_rule_set_with_its_standard_number():
    result = runner.invoke(app, ["rules", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for rule_id in ("steel-bf-bof", "lime", "li-ion-battery", "mobile-handset", "zinc-ingot"):
        assert rule_id in result.output
    assert "T/CISA 469-2024" in result.output
    assert "not known" in result.output


def test_rules_list_json_is_machine_readable():
    result = runner.invoke(app, ["rules", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 15
    steel = next(row for row in rows if row["id"] == "steel-bf-bof")
    assert steel["standard_number"] == "T/CISA 469-2024"
    assert steel["declared_unit"] == {"amount": "1", "unit": "t"}
    assert steel["verified_against_text"] is False


def test_rules_show_prints_rules_with_their_sources():
    result = runner.invoke(app, ["rules", "show", "steel-bf-bof"], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "standard: T/CISA 469-2024" in out
    assert "not verified against the standard text" in out
    assert "2. substitution [bf_slag, bof_slag, process_gas_export, electricity_exported, coal_tar]" in out
    assert "cut-off: total 5 %, per flow 1 %" in out
    assert "[cisa-news-2025]" in out and "(2025; verified)" in out


def test_rules_show_json_round_trips_decimals_as_strings():
    result = runner.invoke(app, ["rules", "show", "li-ion-battery", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["declared_unit"] == {
        "amount": "1",
        "unit": "kWh",
        "description": data["declared_unit"]["description"],
    }
    assert data["cutoff_percent"] == "5"
    assert data["candidate_standards"][0]["number"] == "T/CQAE 12002-2024"


def test_rules_show_unknown_id_exits_2_naming_the_known_ones():
    result = runner.invoke(app, ["rules", "show", "steel"])
    assert result.exit_code == 2
    assert "unknown rule set 'steel'; known: cathode-copper, cement" in result.output
