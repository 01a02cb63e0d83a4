"""The shipped rule sets: the 15 first-batch products, every rule cited, numbers only where the reference has them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pcfx.node.engine.factors import default_factor_library
from pcfx.node.engine.inventory import ALLOCATION_METHODS, INPUT_KINDS, OUTPUT_KINDS, Inventory
from pcfx.node.engine.rules import (
    CITED_FIELDS,
    RuleSetError,
    UnknownRuleSetError,
    list_rule_ids,
    list_rule_sets,
    load_rule_set,
    load_rule_set_file,
    missing_required_items,
    normalise_flow,
)
from pcfx.node.engine.units import parse_unit

FIRST_BATCH = [
    "cathode-copper",
    "cement",
    "ethylene",
    "ferroalloy",
    "flat-glass",
    "industrial-silicon",
    "lead-ingot",
    "li-ion-battery",
    "lime",
    "mineral-wool",
    "mobile-handset",
    "sanitary-ceramics",
    "steel-bf-bof",
    "steel-eaf",
    "zinc-ingot",
]
RULE_DIR = Path(__file__).resolve().parents[2] / "node" / "src" / "pcfx" / "node" / "data" / "rules"


def test_the_fifteen_products_of_the_first_batch_are_shipped():
    assert list_rule_ids() == FIRST_BATCH
    assert [r.id for r in list_rule_sets()] == FIRST_BATCH


def test_only_bf_bof_steel_has_a_standard_number_and_it_is_t_cisa_469_2024():
    numbers = {r.id: r.standard_number for r in list_rule_sets() if r.standard_number}
    assert numbers == {"steel-bf-bof": "T/CISA 469-2024"}


def test_every_standard_number_and_candidate_appears_verbatim_in_the_reference(reference):
    text = (reference / "standards.md").read_text(encoding="utf-8")
    numbers = [r.standard_number for r in list_rule_sets() if r.standard_number]
    numbers += [c.number for r in list_rule_sets() for c in r.candidate_standards]
    assert numbers
    for number in numbers:
        assert number in text, number


def test_candidates_are_the_lime_battery_and_flat_glass_standards_found_in_the_reference():
    candidates = {
        r.id: [c.number for c in r.candidate_standards] for r in list_rule_sets() if r.candidate_standards
    }
    assert candidates == {
        "flat-glass": ["T/CECRPA 010-2024"],
        "li-ion-battery": ["T/CQAE 12002-2024"],
        "lime": ["T/CBMF 287—2024"],
    }


@pytest.mark.parametrize("rule_id", FIRST_BATCH)
def test_no_rule_set_claims_to_be_verified_against_the_standard_text(rule_id):
    r = load_rule_set(rule_id)
    assert r.verified_against_text is False
    assert r.verification_note.startswith(
        "not verified against the standard text; follows GB/T 24067-2024 defaults"
    )
    assert r.general_standard == "GB/T 24067-2024"


@pytest.mark.parametrize("rule_id", FIRST_BATCH)
def test_every_rule_field_cites_sources_that_carry_a_year(rule_id):
    r = load_rule_set(rule_id)
    for field in CITED_FIELDS:
        if getattr(r, field) not in (None, []):
            assert r.citations[field], field
    cited = {s for ids in r.citations.values() for s in ids}
    assert cited <= {s.id for s in r.sources}
    assert {s.id for s in r.sources} <= cited | {s for c in r.candidate_standards for s in c.sources}
    for source in r.sources:
        assert 1990 <= source.year <= 2026, source.id


def test_issuers_are_cisa_for_steel_and_ferroalloy_and_cbmf_inferred_for_building_materials():
    by_id = {r.id: r for r in list_rule_sets()}
    for rule_id in ("steel-bf-bof", "steel-eaf", "ferroalloy"):
        assert by_id[rule_id].issuer.startswith("China Iron and Steel Association")
    for rule_id in ("cement", "lime", "flat-glass", "sanitary-ceramics", "mineral-wool"):
        assert by_id[rule_id].issuer.startswith("China Building Materials Federation")
        assert by_id[rule_id].issuer_note.startswith("Inferred, not confirmed")
    for rule_id in (
        "ethylene",
        "lead-ingot",
        "zinc-ingot",
        "industrial-silicon",
        "cathode-copper",
        "mobile-handset",
    ):
        assert by_id[rule_id].issuer is None


def test_declared_units_are_per_tonne_except_battery_per_kwh_and_handset_per_piece():
    units = {r.id: (r.declared_unit.amount, r.declared_unit.unit) for r in list_rule_sets()}
    assert units.pop("li-ion-battery") == (Decimal(1), "kWh")
    assert units.pop("mobile-handset") == (Decimal(1), "piece")
    assert set(units.values()) == {(Decimal(1), "t")}


@pytest.mark.parametrize("rule_id", FIRST_BATCH)
def test_units_of_every_item_are_known_to_the_engine(rule_id):
    r = load_rule_set(rule_id)
    parse_unit(r.declared_unit.unit)
    for item in r.required_items + r.optional_items:
        parse_unit(item.unit)


@pytest.mark.parametrize("rule_id", FIRST_BATCH)
def test_flow_kinds_and_allocation_methods_are_the_inventory_vocabulary(rule_id):
    r = load_rule_set(rule_id)
    for item in r.required_items + r.optional_items:
        if item.kind == "input":
            assert item.flow_kind in INPUT_KINDS
        if item.kind == "output":
            assert item.flow_kind in OUTPUT_KINDS
    assert {step.method for step in r.allocation} <= set(ALLOCATION_METHODS)
    assert r.allocation[0].method == "subdivision"
    assert r.allocation[-1].method in {"economic", "mass"}


@pytest.mark.parametrize("rule_id", FIRST_BATCH)
def test_suggested_direct_factors_exist_in_the_default_factor_library(rule_id):
    library = default_factor_library()
    for item in load_rule_set(rule_id).required_items + load_rule_set(rule_id).optional_items:
        if item.direct_factor:
            library.get(item.direct_factor)


def test_cutoff_is_five_percent_total_and_one_percent_per_flow_from_en_15804_practice():
    for r in list_rule_sets():
        assert (r.cutoff_percent, r.cutoff_per_flow_percent) == (Decimal(5), Decimal(1))
        assert "en-15804-cutoff-practice" in r.citations["cutoff_percent"]


def test_every_rule_set_allows_location_and_market_based_electricity():
    for r in list_rule_sets():
        assert r.electricity_methods == ["location", "market"]


def test_system_expansion_by_products_include_slag_for_steel_and_sulfuric_acid_for_copper_zinc_lead():
    def substituted(rule_id: str) -> list[str]:
        return [
            b
            for step in load_rule_set(rule_id).allocation
            if step.method == "substitution"
            for b in step.by_products
        ]

    assert {"bf_slag", "bof_slag"} <= set(substituted("steel-bf-bof"))
    for rule_id in ("cathode-copper", "zinc-ingot", "lead-ingot"):
        assert "sulfuric_acid" in substituted(rule_id)


def test_ladder_lists_each_by_product_with_its_aliases_for_the_engine():
    ladder = load_rule_set("zinc-ingot").ladder()
    assert ladder[0] == ("subdivision", ())
    assert ladder[1] == (
        "substitution",
        ("sulfuric_acid", "H2SO4", "cadmium"),
    )
    assert ladder[2:] == [("mass", ()), ("economic", ())]


def test_battery_and_handset_keep_downstream_stages_but_exclude_them_from_the_boundary():
    battery = {s.id: s.included for s in load_rule_set("li-ion-battery").stages}
    handset = {s.id: s.included for s in load_rule_set("mobile-handset").stages}
    assert battery == {"raw_material": True, "production": True, "distribution": False, "end_of_life": False}
    assert handset == {
        "raw_material": True,
        "production": True,
        "distribution": False,
        "use": False,
        "end_of_life": False,
    }


def test_unknown_rule_set_is_a_lookup_error_listing_the_known_ids():
    with pytest.raises(UnknownRuleSetError, match="unknown rule set 'steel'; known: cathode-copper"):
        load_rule_set("steel")


def _user_rule_file(tmp_path: Path, edit: tuple[str, str]) -> Path:
    text = (RULE_DIR / "lime.yaml").read_text(encoding="utf-8")
    assert edit[0] in text
    path = tmp_path / "my-lime.yaml"
    path.write_text(text.replace(*edit, 1), encoding="utf-8")
    return path


def test_a_user_rule_file_loads_with_the_shared_sources(tmp_path):
    path = _user_rule_file(tmp_path, ("id: lime", "id: my-lime"))
    r = load_rule_set_file(str(path))
    assert r.id == "my-lime"
    assert r.source("gbt-24067-2024").year == 2024


def test_a_rule_without_citation_is_refused(tmp_path):
    path = _user_rule_file(tmp_path, ("  boundary: [tcbmf-287-2024, gbt-24067-2024]\n", ""))
    with pytest.raises(RuleSetError, match=r"my-lime\.yaml: rule set: field 'boundary' has no citation"):
        load_rule_set_file(str(path))


def test_a_citation_of_an_unknown_source_is_refused(tmp_path):
    path = _user_rule_file(
        tmp_path, ("electricity_methods: [iso-14067", "electricity_methods: [made-up-2025, iso-14067")
    )
    with pytest.raises(RuleSetError, match=r"citations name unknown sources: \['made-up-2025'\]"):
        load_rule_set_file(str(path))


def test_an_unverified_rule_set_must_say_so(tmp_path):
    path = _user_rule_file(tmp_path, ("not verified against the standard text; ", "checked; "))
    with pytest.raises(RuleSetError, match="must say 'not verified against the standard text'"):
        load_rule_set_file(str(path))


def test_a_by_product_that_is_no_co_product_item_is_refused(tmp_path):
    path = _user_rule_file(tmp_path, ("by_products: [lime_kiln_dust]", "by_products: [limestone]"))
    with pytest.raises(RuleSetError, match=r"names by-products that are no co-product item: \['limestone'\]"):
        load_rule_set_file(str(path))


def test_flow_names_read_as_item_ids_ignoring_case_spaces_and_hyphens():
    assert normalise_flow("  Iron-Ore ") == "iron_ore"
    r = load_rule_set("steel-bf-bof")
    assert r.item("iron_ore").matches("Iron ore")
    assert r.item("electricity_purchased").matches("grid electricity")
    assert not r.item("iron_ore").matches("iron ore pellets")


def test_missing_required_items_names_what_an_inventory_lacks():
    inventory = Inventory.model_validate(
        {
            "rule_set": "lime",
            "product": {
                "name": "Quicklime",
                "declared_unit": {"amount": "1", "unit": "t"},
                "reference": {"process": "kiln", "flow": "quicklime"},
            },
            "processes": [
                {
                    "id": "kiln",
                    "outputs": [{"flow": "quicklime", "amount": "1000", "unit": "t"}],
                    "inputs": [
                        {
                            "flow": "limestone",
                            "kind": "material",
                            "amount": "1785",
                            "unit": "t",
                            "direct_factor": "CN-process-CaCO3",
                        },
                        {"flow": "electricity", "kind": "electricity", "amount": "40", "unit": "MWh"},
                    ],
                }
            ],
        }
    )
    assert [i.id for i in missing_required_items(load_rule_set("lime"), inventory)] == ["kiln_fuel"]
