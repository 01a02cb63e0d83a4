"""ECharts options for the web app's charts, built from report figures (plain data; the page's script only
hands them to `echarts.init(...).setOption`). Values go out as numbers rounded for display: the exact decimal
strings are in the tables beside each chart."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = ["bar_chart", "coverage_chart", "split_chart", "uncertainty_chart"]

_PALETTE = ["#2f6f4f", "#4f8f6f", "#7fb08f", "#a9cdb3", "#d3e6d8", "#c9a227", "#8f4f4f", "#4f6f8f"]


def _round(value: Decimal) -> float:
    # display only: the figures of record are the decimal strings in the page's tables
    return float(round(value, 3))


def bar_chart(rows: Sequence[tuple[str, Decimal]], *, unit: str, horizontal: bool = True) -> dict[str, Any]:
    """A bar per row (label, kg CO2e), largest first when horizontal; labels show the value."""
    labels = [label for label, _ in rows]
    values = [_round(value) for _, value in rows]
    category: dict[str, Any] = {
        "type": "category",
        "data": labels,
        "axisLabel": {"width": 220, "overflow": "truncate"},
    }
    value_axis: dict[str, Any] = {"type": "value", "name": unit, "nameLocation": "end"}
    if horizontal:
        category["inverse"] = True
    return {
        "animation": False,
        "color": _PALETTE,
        "grid": {"left": 8, "right": 48, "top": 24, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": value_axis if horizontal else category,
        "yAxis": category if horizontal else value_axis,
        "series": [
            {
                "type": "bar",
                "data": values,
                "label": {"show": True, "position": "right" if horizontal else "top"},
                "barMaxWidth": 28,
            }
        ],
    }


def split_chart(parts: Sequence[tuple[str, Decimal]]) -> dict[str, Any]:
    """A ring of the non-zero parts (fossil, biogenic, dLUC, aircraft), each labelled with its value."""
    data = [{"name": name, "value": _round(value)} for name, value in parts if value != 0]
    return {
        "animation": False,
        "color": _PALETTE,
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "pie",
                "radius": ["40%", "70%"],
                "data": data,
                "label": {"formatter": "{b}: {c}"},
            }
        ],
    }


def uncertainty_chart(
    *, total: Decimal, low: Decimal, high: Decimal, mean: Decimal, unit: str, labels: tuple[str, str, str]
) -> dict[str, Any]:
    """The declared value inside its 95 % interval: a band from `low` to `high` with the value and mean."""
    value, band, mean_label = labels
    return {
        "animation": False,
        "grid": {"left": 8, "right": 24, "top": 24, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "name": unit, "scale": True},
        "yAxis": {"type": "category", "data": [""], "show": False},
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "bar",
                "stack": "band",
                "data": [_round(low)],
                "itemStyle": {"color": "transparent"},
                "tooltip": {"show": False},
            },
            {
                "name": band,
                "type": "bar",
                "stack": "band",
                "data": [_round(high - low)],
                "itemStyle": {"color": "#a9cdb3"},
                "barWidth": 24,
            },
            {
                "name": value,
                "type": "scatter",
                "data": [[_round(total), ""]],
                "symbolSize": 14,
                "itemStyle": {"color": "#2f6f4f"},
                "label": {"show": True, "position": "top", "formatter": f"{value}: {_round(total)}"},
            },
            {
                "name": mean_label,
                "type": "scatter",
                "data": [[_round(mean), ""]],
                "symbol": "diamond",
                "symbolSize": 10,
                "itemStyle": {"color": "#c9a227"},
            },
        ],
    }


def coverage_chart(*, verified: Decimal, defaults: Decimal, labels: tuple[str, str, str]) -> dict[str, Any]:
    """One stacked bar of a product's footprint: on verified supplier values, on defaults where a supplier is
    named, and the rest (own processes and inputs without a supplier), in percent."""
    rest = max(Decimal(100) - verified - defaults, Decimal(0))
    colours = ("#2f6f4f", "#c9a227", "#d3d9d5")
    return {
        "animation": False,
        "grid": {"left": 8, "right": 8, "top": 28, "bottom": 4, "containLabel": True},
        "legend": {"top": 0, "itemWidth": 12, "itemHeight": 10},
        "xAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value} %"}},
        "yAxis": {"type": "category", "data": [""], "show": False},
        "tooltip": {"trigger": "item", "formatter": "{a}: {c} %"},
        "series": [
            {"name": name, "type": "bar", "stack": "share", "data": [_round(value)], "barWidth": 22,
             "itemStyle": {"color": colour}}
            for name, value, colour in zip(labels, (verified, defaults, rest), colours, strict=True)
        ],
    }  # fmt: skip
