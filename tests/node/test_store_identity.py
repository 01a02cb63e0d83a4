"""A database belongs to the node that first opened it: a second home with another identity pointed at it
(`pcfx init --database-url`, `PCFX_DATABASE_URL`, a node started on it) is refused with one line naming
both DIDs, on one SQLite file and on one PostgreSQL database; so no node sees another's products."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from node_kit import make_network
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.node.store import session_scope
from pcfx.node.store.checks import open_node_store
from pcfx.node.store.identity import StoreIdentityError, bound_identity

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]


def _pcfx(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PCFX, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )


def test_a_database_records_the_identity_of_the_node_that_created_it(database_url, tmp_path):
    acme = make_network(tmp_path, ["Acme"], database_urls={"Acme": database_url})["Acme"]
    engine = open_node_store(database_url, did=acme.did, company_id=acme.company_id)
    try:
        with session_scope(engine) as session:
            bound = bound_identity(session)
    finally:
        engine.dispose()
    assert (bound.did, bound.company_id) == (acme.did, acme.company_id)


def test_pcfx_init_on_another_homes_database_is_refused_naming_both_dids_and_leaves_nothing(
    database_url, tmp_path
):
    acme = make_network(tmp_path, ["Acme"], database_urls={"Acme": database_url})["Acme"]
    second = tmp_path / "second"
    done = _pcfx(
        "init",
        str(second),
        "--name",
        "Other",
        "--company-id",
        "urn:pcfx:uscc:2",
        "--database-url",
        database_url,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("init:")]
    assert acme.did in line and "not to this node's did:key:" in line
    assert not second.exists()


async def test_a_node_started_on_another_homes_database_is_refused_and_sees_none_of_its_products(
    database_url, tmp_path
):
    net = make_network(tmp_path, ["Acme", "Globex"], database_urls={"Acme": database_url})
    acme, globex = net["Acme"], net["Globex"]
    engine = open_node_store(database_url, did=acme.did, company_id=acme.company_id)
    try:
        with session_scope(engine) as session:
            repo.save_inventory(session, product_id=acme.product("steel"), document={"name": "steel"})
    finally:
        engine.dispose()
    done = _pcfx(
        "node", "run", "--home", str(globex.settings.home), "--no-http", PCFX_DATABASE_URL=database_url
    )
    listed = _pcfx("products", "--home", str(globex.settings.home), PCFX_DATABASE_URL=database_url)
    globex.settings.database_url = database_url
    with pytest.raises(StoreIdentityError) as refused:
        await Node.start(globex.settings)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "ready" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert f"belongs to {acme.did} ({acme.company_id}), not to this node's {globex.did}" in last
    assert listed.returncode == 1 and acme.product("steel") not in listed.stdout
    assert acme.did in str(refused.value) and globex.did in str(refused.value)


def test_the_owner_reopening_its_database_is_not_refused_and_a_new_company_id_is_recorded(
    database_url, tmp_path
):
    acme = make_network(tmp_path, ["Acme"], database_urls={"Acme": database_url})["Acme"]
    engine = open_node_store(database_url, did=acme.did, company_id="urn:pcfx:uscc:renamed")
    try:
        with session_scope(engine) as session:
            bound = bound_identity(session)
    finally:
        engine.dispose()
    assert (bound.did, bound.company_id) == (acme.did, "urn:pcfx:uscc:renamed")
