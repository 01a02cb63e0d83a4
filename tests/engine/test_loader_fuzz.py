"""Whatever bytes or structures reach the inventory loaders, the only failure is an InventoryError with a
message (which the CLI prints as one line): never another exception, never a hang."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pcfx.node.engine.errors import EngineError, InventoryError
from pcfx.node.engine.loaders import load_inventory, parse_inventory

SUFFIXES = [".yaml", ".yml", ".json", ".csv", ".xlsx"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=8),
)
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
inventory_keys = st.sampled_from(["product", "period", "processes", "rule_set", "gwp", "factors", "inputs"])
inventory_like = st.dictionaries(inventory_keys, structures, max_size=5)


def _loads_or_says_why(path: Path) -> None:
    try:
        load_inventory(path)
    except InventoryError as exc:
        assert str(exc).strip()
    except EngineError as exc:  # a loaded inventory may still fail a later engine check, with a message
        assert str(exc).strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_in_any_inventory_format_end_in_an_inventory_error(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"inventory{suffix}"
        path.write_bytes(content)
        _loads_or_says_why(path)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=2048), suffix=st.sampled_from([".yaml", ".json", ".csv"]))
def test_random_text_ends_in_an_inventory_error(text, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"inventory{suffix}"
        path.write_text(text, encoding="utf-8")
        _loads_or_says_why(path)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(structures, inventory_like))
def test_random_structures_end_in_an_inventory_error(data):
    try:
        parse_inventory(data, source="fuzz.yaml")
    except InventoryError as exc:
        assert str(exc).strip()
