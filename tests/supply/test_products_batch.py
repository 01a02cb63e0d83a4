"""`pcfx products add` takes several files or a folder: a batch is stored only when every file loads, each
problem named on its own line (file and line); two files declaring one product are a problem too."""

from __future__ import annotations

import yaml
from node_kit import make_network
from pcfx.node.cli.app import app
from supply_kit import housing_inventory, steel_inventory
from test_supply_cli import WIDE, rows
from typer.testing import CliRunner

runner = CliRunner()


def _folder(tmp_path):
    folder = tmp_path / "inventories"
    folder.mkdir()
    (folder / "steel.yaml").write_text(yaml.safe_dump(steel_inventory()))
    (folder / "housing.yaml").write_text(yaml.safe_dump(housing_inventory()))
    (folder / "~$steel.xlsx").write_bytes(b"an Excel lock file")
    (folder / "notes.txt").write_text("not an inventory")
    return folder


def test_a_folder_of_inventories_is_added_as_one_batch(tmp_path):
    home = str(make_network(tmp_path, ["SteelCo"])["SteelCo"].settings.home)
    added = runner.invoke(app, ["products", "add", str(_folder(tmp_path)), "--home", home], env=WIDE)
    listed = runner.invoke(app, ["products", "--home", home], env=WIDE)
    assert added.exit_code == 0, added.output
    assert added.output.splitlines() == [
        "product urn:pcfx:product:housingco:housing",
        "product urn:pcfx:product:steelco:hrc",
    ]
    assert sorted(r[0] for r in rows(listed.output) if r[0]) == [
        "urn:pcfx:product:housingco:housing",
        "urn:pcfx:product:steelco:hrc",
    ]


def test_a_batch_with_a_bad_file_names_it_and_stores_nothing(tmp_path):
    home = str(make_network(tmp_path, ["SteelCo"])["SteelCo"].settings.home)
    folder = _folder(tmp_path)
    broken = steel_inventory()
    broken["processes"][0]["emissions"][0]["unit"] = "kgg"
    (folder / "broken.yaml").write_text(yaml.safe_dump(broken))
    added = runner.invoke(app, ["products", "add", str(folder), "--home", home], env=WIDE)
    listed = runner.invoke(app, ["products", "--home", home], env=WIDE)
    assert added.exit_code == 1
    assert "error: broken.yaml line" in added.output and "'kgg' is not a known unit" in added.output
    assert "nothing stored" in added.output
    assert [r for r in rows(listed.output) if r[0]] == []


def test_two_files_declaring_one_product_are_named(tmp_path):
    home = str(make_network(tmp_path, ["SteelCo"])["SteelCo"].settings.home)
    folder = _folder(tmp_path)
    (folder / "steel-copy.yaml").write_text(yaml.safe_dump(steel_inventory(co2_kg="1700")))
    added = runner.invoke(app, ["products", "add", str(folder), "--home", home], env=WIDE)
    assert added.exit_code == 1
    assert "error: steel.yaml: product urn:pcfx:product:steelco:hrc is also declared by steel-copy.yaml" in (
        added.output
    )
