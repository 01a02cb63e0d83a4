"""The report's figures as SVG drawn in Python: the system boundary diagram and the bar charts."""

from __future__ import annotations

from decimal import Decimal
from xml.etree import ElementTree

from pcfx.node.reports.model import DiagramProcess, DiagramSpec
from pcfx.node.reports.svg import bar_chart, boundary_diagram, text_width


def spec(processes, flows, *, excluded=("Distribution",)) -> DiagramSpec:
    return DiagramSpec(
        processes=tuple(
            DiagramProcess(p, f"Process {p}", "Main production", ("coal", "ore [S]"), ()) for p in processes
        ),
        flows=tuple(flows),
        reference_process=processes[-1],
        boundary_label="System boundary: cradle-to-gate",
        gate_label="Product at factory gate",
        purchased_label="Purchased inputs",
        outputs_label="Other outputs",
        excluded=excluded,
        outside_label="outside the boundary",
        more_label="+{n} more",
        legend="[S] verified supplier value",
    )


def positions(svg: str) -> dict[str, float]:
    """Text -> x of each text element (the last one of a repeated text)."""
    root = ElementTree.fromstring(svg)
    return {el.text or "": float(el.get("x", "0")) for el in root.iter("{http://www.w3.org/2000/svg}text")}


def texts(svg: str) -> list[str]:
    return list(positions(svg))


def test_a_chain_of_processes_is_drawn_left_to_right_with_the_gate_after_the_reference():
    svg = boundary_diagram(spec(["a", "b", "c"], [("a", "b", "sinter"), ("b", "c", "iron")]))
    x = positions(svg)
    assert (
        x["Process a"] < x["sinter"] < x["Process b"] < x["iron"] < x["Process c"] < x["Product at factory"]
    )
    assert "Distribution" in x and "outside the boundary" in x


def test_a_loop_between_processes_is_drawn_without_recursing_forever():
    svg = boundary_diagram(
        spec(["furnace", "power"], [("furnace", "power", "gas"), ("power", "furnace", "electricity")])
    )
    assert {"gas", "electricity"} <= set(texts(svg))
    assert "<path" in svg  # the back edge runs below the boxes


def test_a_long_input_list_ends_with_how_many_more():
    many = DiagramProcess("p", "P", "stage", tuple(f"input {n}" for n in range(14)), ())
    base = spec(["p"], [])
    svg = boundary_diagram(DiagramSpec(**{**base.__dict__, "processes": (many,)}))
    assert "+6 more" in texts(svg)


def test_chinese_text_is_measured_wider_than_latin():
    assert text_width("原材料") > text_width("abc") * 1.5


def test_a_bar_chart_draws_negative_values_left_of_zero():
    svg = bar_chart(
        [("fossil", Decimal("10")), ("biogenic uptake", Decimal("-4"))], unit="kg CO2e", title="t"
    )
    assert "-4 kg CO2e" in texts(svg) and "10 kg CO2e" in texts(svg)
    ElementTree.fromstring(svg)  # well-formed
