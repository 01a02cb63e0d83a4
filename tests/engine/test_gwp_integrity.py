"""GWP sets are compared, never relabelled: every factor and supplier value carries the IPCC report its CO2e
rests on, a mismatch with the calculation's set is reported per input and lowers its temporal DQR, the policy
`gwp_mismatch` decides, and PACT lists every report the result rests on.

Plant: 1 t of product from 1 t of purchased steel (1910 kg CO2e/t) and, where named, 10 kg of fossil CH4
(AR6 29.8, AR5 30). The factor's year (2024) matches the period, so its temporal rating is 1 before any penalty.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pcfx.node.cli.app import app
from pcfx.node.engine import InventoryError, SupplierValue, compute, parse_inventory
from pcfx.node.engine.errors import FactorError
from pcfx.node.engine.factors import load_factor_file
from pcfx.node.engine.pact import to_carbon_footprint
from pcfx.node.supply.resolve import supplier_value
from typer.testing import CliRunner

STEEL = {
    "flow": "steel",
    "kind": "material",
    "amount": "1",
    "unit": "t",
    "factor": {"value": "1910", "unit": "kg/t", "source": "test", "year": 2024, "gwp": "AR6"},
    "supplier": {"did": "did:web:steel.example.cn", "product_id": "rebar"},
}
METHANE = {"gas": "CH4", "amount": "10", "unit": "kg"}


def plant(data, factor_gwp: str | None = "AR6", **extra):
    steel = json.loads(json.dumps(STEEL))
    if factor_gwp is None:
        del steel["factor"]["gwp"]
    else:
        steel["factor"]["gwp"] = factor_gwp
    return parse_inventory(data([steel], emissions=[METHANE], **extra))


def declaration(reports):
    """A verified PACT v3 footprint of 1.5 kg CO2e per kg, as the node stores it."""
    return {
        "pcf": {
            "declaredUnitOfMeasurement": "kilogram",
            "declaredUnitAmount": "1",
            "pcfExcludingBiogenicUptake": "1.5",
            "ipccCharacterizationFactors": reports,
        }
    }


def steel_line(result):
    return next(c for c in result.by_input if c.flow == "steel")


def test_a_supplier_declarations_gwp_set_is_read_from_its_pact_ipcc_characterization_factors():
    value, _ = supplier_value(declaration(["AR5"]), declaration_id="urn:uuid:decl-1", input_unit="t")
    assert value.gwp_sets == ("AR5",)


def test_a_supplier_value_of_another_gwp_set_is_reported_per_input_and_not_relabelled(data):
    value, _ = supplier_value(declaration(["AR5"]), declaration_id="urn:uuid:decl-1", input_unit="t")
    result = compute(plant(data), supplier_values={"steel": value})
    (source,) = result.sources
    assert source.source == "supplier-declaration"
    assert source.gwp is not None and (source.gwp.status, source.gwp.sets) == ("mismatch", ["AR5"])
    assert any(
        "'p/steel': supplier declaration urn:uuid:decl-1 is CO2e characterised with AR5, not AR6" in w
        for w in result.warnings
    )
    assert result.gwp_sets_used == ["AR5", "AR6"]


def test_a_co2e_factor_of_another_gwp_set_is_reported_per_input_and_lowers_its_temporal_dqr(data):
    matching = compute(plant(data), gwp="AR6")
    mismatching = compute(plant(data), gwp="AR5")
    assert steel_line(matching).gwp.status == "matches"
    check = steel_line(mismatching).gwp
    assert (check.status, check.sets, check.dqr_temporal_penalty) == ("mismatch", ["AR6"], 1)
    # steel (temporal 1, one report apart -> 2) carries 1910 of 1910 + 300 kg; CH4 is measured (temporal 1)
    assert mismatching.dqr.temporal == ((1910 * 2 + 300 * 1) / Decimal(2210)).quantize(Decimal("0.01"))
    assert matching.dqr.temporal == Decimal("1.00")


def test_the_default_grid_factor_states_no_gwp_set_and_is_reported_as_unknown_under_any_set(data):
    raw = data([{"flow": "electricity", "kind": "electricity", "amount": "1000", "unit": "kWh"}])
    for gwp in ("AR5", "AR6"):
        result = compute(parse_inventory(raw), gwp=gwp)
        (source,) = result.sources
        assert source.factor_id == "CN-MEE-2024-CFP-national"
        assert source.gwp is not None and source.gwp.status == "unknown"
        assert any(
            w.startswith(f"GWP set not stated by the source, CO2e used as given under {gwp}")
            and "CN-MEE-2024-CFP-national" in w
            for w in result.warnings
        )
        assert result.dqr.temporal == compute(parse_inventory(raw), gwp="AR6").dqr.temporal  # not rated down


def test_gas_level_data_are_recharacterised_under_the_chosen_set(data):
    for gwp, co2e in (("AR5", Decimal(300)), ("AR6", Decimal(298))):
        result = compute(plant(data), gwp=gwp)
        methane = next(c for c in result.by_input if c.kind == "direct-emission")
        assert methane.co2e == co2e
        assert methane.gwp is not None and (methane.gwp.status, methane.gwp.sets) == (
            "recharacterised",
            [gwp],
        )


def test_computing_under_ar5_does_not_claim_ar5_purity_in_the_pact_output(data):
    # the issue: `pcfx compute --gwp AR5` relabelled AR6 CO2e values and the PACT output said AR5
    result = compute(plant(data), gwp="AR5")
    assert result.total == Decimal(2210)  # 1910 (AR6 CO2e, as declared) + 10 x 30 (CH4 under AR5)
    assert to_carbon_footprint(result).ipcc_characterization_factors == ["AR5", "AR6"]


def test_pact_lists_only_the_calculation_set_when_every_value_rests_on_it(data):
    result = compute(plant(data), gwp="AR6")
    assert to_carbon_footprint(result).ipcc_characterization_factors == ["AR6"]


def test_the_refuse_policy_refuses_a_mismatching_factor_naming_the_line(data, write_yaml):
    from pcfx.node.engine import load_inventory

    inventory = load_inventory(write_yaml(data([STEEL], emissions=[METHANE])))
    with pytest.raises(InventoryError) as caught:
        compute(inventory, gwp="AR5", gwp_mismatch="refuse")
    assert caught.value.location == "inventory.yaml line 22"
    assert "characterised with AR6, not the calculation's AR5 (gwp_mismatch = refuse)" in caught.value.message


def test_the_refuse_policy_refuses_a_mismatching_supplier_value(data):
    value = SupplierValue(pcf=Decimal("1.5"), unit="kg", declaration_id="urn:uuid:decl-1", gwp_sets=("AR4",))
    with pytest.raises(InventoryError, match="urn:uuid:decl-1 is CO2e characterised with AR4"):
        compute(plant(data), supplier_values={"steel": value}, gwp_mismatch="refuse")


def test_the_refuse_policy_accepts_values_that_match_and_values_of_unknown_set(data):
    result = compute(plant(data, factor_gwp=None), gwp="AR5", gwp_mismatch="refuse")
    assert steel_line(result).gwp.status == "unknown"


def test_a_factor_file_may_state_the_gwp_set_of_all_its_factors(tmp_path):
    path = tmp_path / "factors.yaml"
    path.write_text(
        "gwp: AR5\nfactors:\n"
        "  - {id: a, value: '1', unit: kg/t, source: s, year: 2020, geography: CN}\n"
        "  - {id: b, value: '1', unit: kg/t, source: s, year: 2020, geography: CN, gwp: AR6}\n",
        encoding="utf-8",
    )
    assert [f.gwp for f in load_factor_file(path)] == ["AR5", "AR6"]


def test_a_gwp_that_is_no_ipcc_report_is_refused(tmp_path, data):
    path = tmp_path / "factors.yaml"
    path.write_text(
        "factors:\n  - {id: a, value: '1', unit: kg/t, source: s, year: 2020, geography: CN, gwp: AR6.1}\n"
    )
    with pytest.raises(FactorError, match=r"gwp 'AR6\.1' is not an IPCC report"):
        load_factor_file(path)
    with pytest.raises(InventoryError, match="gwp 'GWP100' is not an IPCC report"):
        plant(data, factor_gwp="GWP100")


def test_the_cli_says_per_input_which_values_keep_another_set(data, write_yaml):
    path = write_yaml(data([STEEL], emissions=[METHANE]))
    out = CliRunner().invoke(app, ["compute", str(path), "--gwp", "AR5"])
    assert out.exit_code == 0, out.output
    assert "GWP100 AR5; values rest on AR5, AR6" in out.output
    assert "warning: 'p/steel': factor inline:p/steel is CO2e characterised with AR6, not AR5" in out.output
    refused = CliRunner().invoke(app, ["compute", str(path), "--gwp", "AR5", "--gwp-mismatch", "refuse"])
    assert refused.exit_code == 1
    assert "error: inventory.yaml line 22: 'p/steel'" in refused.output


def test_the_nodes_gwp_mismatch_setting_reaches_its_prepared_systems(data):
    from datetime import UTC, datetime

    from pcfx.node.supply.compute import PreparedCache
    from pcfx.node.supply.products import OwnProduct

    product = OwnProduct(
        "urn:pcfx:product:test:p", "p", plant(data), 1, "digest", datetime.now(UTC), None, None
    )
    system = PreparedCache(gwp_mismatch="refuse").get(product)
    value = SupplierValue(pcf=Decimal("1.5"), unit="kg", declaration_id="urn:uuid:decl-1", gwp_sets=("AR5",))
    with pytest.raises(InventoryError, match="gwp_mismatch = refuse"):
        system.evaluate({"steel": value})
