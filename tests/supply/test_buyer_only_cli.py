"""Buyer-only declarations from the command line: `pcfx declare PRODUCT --to BUYER_DID` (the buyer's keys and
account from the node's signed trust registry), the access column of `pcfx products`, PACT clients bound to
a buyer (`pcfx clients add --buyer`), and the `nats_account` setting."""

from __future__ import annotations

import pytest
import yaml
from buyer_only_kit import buyer_only_network
from pcfx.node.cli.app import app
from pcfx.node.config import ConfigError, load_settings
from supply_kit import steel_inventory
from typer.testing import CliRunner

WIDE = {"COLUMNS": "250"}


def rows(output: str) -> list[list[str]]:
    """The cells of a rich table's body rows."""
    return [
        [c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")
    ]


def steel_home(tmp_path, runner: CliRunner) -> tuple[str, object]:
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    home = str(net["SteelCo"].settings.home)
    (tmp_path / "steel.yaml").write_text(yaml.safe_dump(steel_inventory()))
    added = runner.invoke(app, ["products", "add", str(tmp_path / "steel.yaml"), "--home", home])
    assert added.exit_code == 0, added.output
    return home, net


def test_declare_to_a_buyer_seals_it_and_restricts_the_product(tmp_path, nats_server):
    runner = CliRunner()
    home, net = steel_home(tmp_path, runner)
    buyer = net["PackCo"].did

    declared = runner.invoke(
        app, ["declare", "hrc", "--to", buyer, "--home", home, "--nats", nats_server.url]
    )
    listed = runner.invoke(app, ["products", "--home", home], env=WIDE)

    assert declared.exit_code == 0, declared.output
    assert declared.output.splitlines()[-1] == f"access: sealed to {buyer}"
    ((*_, access),) = rows(listed.output)
    assert access == f"buyers: {buyer}"


def test_declare_to_a_buyer_outside_the_trust_registry_ends_in_one_line(tmp_path, nats_server):
    runner = CliRunner()
    home, _ = steel_home(tmp_path, runner)

    declared = runner.invoke(
        app, ["declare", "hrc", "--to", "did:web:nobody.example", "--home", home, "--nats", nats_server.url]
    )

    assert declared.exit_code == 1
    assert declared.output.splitlines() == [
        "error: cannot seal to did:web:nobody.example is not in trust registry v1"
    ]


def test_declare_to_buyers_and_public_at_once_is_refused(tmp_path):
    runner = CliRunner()
    home, net = steel_home(tmp_path, runner)

    declared = runner.invoke(app, ["declare", "hrc", "--to", net["PackCo"].did, "--public", "--home", home])

    assert declared.exit_code == 2
    assert declared.output.splitlines() == ["--to and --public exclude each other"]


def test_a_pact_client_is_bound_to_the_buyer_a_company_id_names_in_the_registry(tmp_path):
    runner = CliRunner()
    home, net = steel_home(tmp_path, runner)

    added = runner.invoke(
        app, ["clients", "add", "PackCo purchasing", "--buyer", net["PackCo"].company_id, "--home", home]
    )
    listed = runner.invoke(app, ["clients", "list", "--home", home], env=WIDE)
    unknown = runner.invoke(
        app, ["clients", "add", "Nobody", "--buyer", "urn:pcfx:uscc:91110000999999999X", "--home", home]
    )

    assert added.exit_code == 0, added.output
    assert f"buyer:         {net['PackCo'].did}" in added.output.splitlines()
    ((_, name, _, buyer, *_),) = rows(listed.output)
    assert (name, buyer) == ("PackCo purchasing", net["PackCo"].did)
    assert unknown.exit_code == 1
    assert "urn:pcfx:uscc:91110000999999999X is not in trust registry v1" in unknown.output


def test_the_nats_account_setting_must_be_an_account_public_key(tmp_path):
    net = buyer_only_network(tmp_path, ["SteelCo"])

    with pytest.raises(ConfigError) as refused:
        load_settings(net["SteelCo"].settings.home, nats_account="UNOTANACCOUNT")

    assert refused.value.args[0].startswith("nats_account (nats_account from a command-line option): ")
