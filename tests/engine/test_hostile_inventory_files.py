"""Inventory files that once crashed the loaders end with one line naming the file and the reason: a binary
file, text that is not UTF-8, a YAML alias that refers to itself, a "billion laughs" document, an oversized
file. The loader refuses them before building any data."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from pcfx.node.cli.app import app
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.loaders import MAX_INVENTORY_BYTES, load_inventory
from typer.testing import CliRunner

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)


def _refusal(path) -> str:
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    return str(info.value)


def test_a_binary_file_is_refused_as_binary(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "plant.yaml: a binary file, not a text inventory" in _refusal(path)


def test_text_that_is_not_utf8_names_the_byte(tmp_path):
    path = tmp_path / "plant.csv"
    path.write_bytes("product,名称\n".encode("gb18030"))
    assert "plant.csv: not UTF-8 text (byte 8 is 0xc3); save it as UTF-8" in _refusal(path)


def test_a_recursive_alias_is_refused_with_its_line(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text("product: &p\n  name: x\n  again: *p\n", encoding="utf-8")
    assert "plant.yaml line 1: a YAML alias refers to the block that contains it" in _refusal(path)


def test_a_billion_laughs_document_is_refused_quickly_and_in_little_memory(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS, encoding="utf-8")
    tracemalloc.start()
    started = time.perf_counter()
    message = _refusal(path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "expands to more than 100,000 items through its aliases" in message
    # a refusal, not a measurement: generous bounds that a 4 GB expansion could never meet
    assert peak < 50 * 1024 * 1024 and elapsed < 10


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_INVENTORY_BYTES + 1)
    assert f"huge.yaml: inventory file of {MAX_INVENTORY_BYTES + 1:,} bytes" in _refusal(path)


def test_anchors_used_a_few_times_still_load(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text(
        "product: {name: cement, declared_unit: {amount: '1', unit: t}, reference: {process: mill, flow: cement}}\n"
        "period: {start: 2024-01-01, end: 2025-01-01}\n"
        "processes:\n"
        "  - id: mill\n"
        "    outputs: [{flow: cement, amount: '100', unit: t}]\n"
        "    inputs:\n"
        "      - &coal {flow: raw coal, kind: fuel, amount: '10', unit: t, direct_factor: CN-fuel-raw-coal}\n"
        "      - *coal\n",
        encoding="utf-8",
    )
    inventory = load_inventory(path)
    assert [i.flow for i in inventory.processes[0].inputs] == ["raw coal", "raw coal"]


def test_products_add_on_a_binary_file_ends_with_one_line(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_bytes(b"\x00\x01\x02")
    out = CliRunner().invoke(app, ["compute", str(path)])
    assert out.exit_code != 0
    assert "Traceback" not in out.output
    assert "plant.yaml: a binary file, not a text inventory" in out.output
