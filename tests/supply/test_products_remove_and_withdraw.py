"""`pcfx products remove` forgets an own product's inventory (declarations stay, and it says which);
`pcfx revoke` and `pcfx deprecate` withdraw an own declaration through its status list, asking first."""

from __future__ import annotations

import asyncio

import yaml
from node_kit import make_network
from pcfx.node.cli.app import app
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope
from supply_kit import steel_inventory
from typer.testing import CliRunner

STEEL = "urn:pcfx:product:steelco:hrc"
WIDE = {"COLUMNS": "250"}


def _declarations(settings) -> list[tuple[str, str]]:
    engine = open_store(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            rows = repo.list_declarations(session, origin=Origin.OWN, product_id=STEEL)
            return [(r.declaration_id, r.state) for r in rows]
    finally:
        engine.dispose()


async def test_a_removed_product_is_gone_from_the_list_and_its_declaration_stays_active(
    tmp_path, nats_server
):
    steel_co = make_network(tmp_path, ["SteelCo"])["SteelCo"]
    home = str(steel_co.settings.home)
    (tmp_path / "steel.yaml").write_text(yaml.safe_dump(steel_inventory()))
    runner = CliRunner()

    def cli(*args: str, **kwargs):
        return asyncio.to_thread(runner.invoke, app, [*args, "--home", home], env=WIDE, **kwargs)

    node = await Node.start(steel_co.settings, nats_url=nats_server.url)
    try:
        assert (await cli("products", "add", str(tmp_path / "steel.yaml"))).exit_code == 0
        declared = await cli("declare", "hrc", "--nats", nats_server.url)
        assert declared.exit_code == 0, declared.output
        removed = await cli("products", "remove", "hrc")
        listed = await cli("products")
        missing = await cli("products", "remove", "hrc")
    finally:
        await node.stop()
    [(declaration_id, state)] = _declarations(steel_co.settings)
    assert removed.exit_code == 0, removed.output
    assert removed.output.splitlines()[0] == f"removed product {STEEL}"
    assert f"its active declaration(s) stay published: {declaration_id}" in removed.output
    assert STEEL not in listed.output and state == "active"
    assert missing.exit_code == 1 and "'hrc' matches no own product" in missing.output


async def test_revoke_asks_first_then_marks_the_declaration_revoked_and_deprecate_marks_it_deprecated(
    tmp_path, nats_server
):
    steel_co = make_network(tmp_path, ["SteelCo"])["SteelCo"]
    home = str(steel_co.settings.home)
    runner = CliRunner()
    node = await Node.start(steel_co.settings, nats_url=nats_server.url)
    try:
        first = (await node.publish(steel_co.declaration("hrc"))).declaration_id
        second = (await node.publish(steel_co.declaration("plate"))).declaration_id

        def cli(*args: str, answer: str | None = None):
            argv = [*args, "--home", home, "--nats", nats_server.url]
            return asyncio.to_thread(runner.invoke, app, argv, input=answer, env=WIDE)

        declined = await cli("revoke", first, answer="n\n")
        state_after_no = dict(await asyncio.to_thread(_all_states, steel_co.settings))[first]
        revoked = await cli("revoke", first, answer="y\n")
        deprecated = await cli("deprecate", second, "--yes")
        unknown = await cli("revoke", "urn:uuid:00000000-0000-4000-8000-000000000000", "--yes")
    finally:
        await node.stop()
    states = dict(_all_states(steel_co.settings))
    assert declined.exit_code == 1 and state_after_no == "active"
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked {first}: its status list is re-signed and published" in revoked.output
    assert deprecated.exit_code == 0, deprecated.output
    assert (states[first], states[second]) == ("revoked", "deprecated")
    assert unknown.exit_code == 1 and "no own declaration urn:uuid:00000000" in unknown.output


def _all_states(settings) -> list[tuple[str, str]]:
    engine = open_store(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            return [(r.declaration_id, r.state) for r in repo.list_declarations(session, origin=Origin.OWN)]
    finally:
        engine.dispose()
