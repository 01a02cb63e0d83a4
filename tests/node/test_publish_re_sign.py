"""`pcfx publish --re-sign`: a footprint published before, changed and signed again, goes out as its next
version (new footprint id, the old one in precedingPfIds, created now) instead of being refused as a
downgrade; without the option the refusal says how to get there."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta

import pytest
from node_kit import make_network
from pcfx.node.new_version import NewVersionError, next_version
from pcfx.node.service import Node
from pcfx.node.store import Origin, open_store, session_scope
from pcfx.node.store import repository as repo
from pcfx.protocol.dates import parse_datetime as parse_instant

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]
CREATED = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)


async def pcfx(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *PCFX,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "240"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


def test_the_next_version_has_a_new_id_names_the_old_one_and_is_created_now(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    raw = acme.declaration("steel", created=CREATED, preceding=["00000000-0000-4000-8000-000000000001"])
    old = json.loads(raw)["credentialSubject"]
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    new = next_version(raw, now=now)
    assert new["id"] != old["id"] and len(new["id"]) == 36
    assert new["precedingPfIds"] == ["00000000-0000-4000-8000-000000000001", old["id"]]
    assert parse_instant(new["created"]) == now
    assert {k: v for k, v in new.items() if k not in ("id", "precedingPfIds", "created")} == {
        k: v for k, v in old.items() if k not in ("id", "precedingPfIds", "created")
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "not JSON"),
        (b'{"credentialSubject": {}}', "no credentialSubject with a footprint id"),
        (
            b'{"credentialSubject": {"id": "urn:x", "precedingPfIds": "urn:y"}}',
            "precedingPfIds is not a list",
        ),
    ],
)
def test_bytes_that_are_no_declaration_cannot_be_made_a_new_version(raw, reason):
    with pytest.raises(NewVersionError, match=reason):
        next_version(raw)


async def test_a_re_signed_footprint_is_refused_as_a_downgrade_with_a_hint_then_published_with_re_sign(
    tmp_path, nats_server
):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    home = str(acme.settings.home)
    node = await Node.start(acme.settings, nats_url=nats_server.url)
    try:
        first = await node.publish(acme.declaration("steel", created=CREATED))
    finally:
        await node.stop()
    # the same footprint, its value changed, signed again without touching `created` or its id
    footprint = json.loads(acme.declaration("steel", created=CREATED))["credentialSubject"]
    again = acme.issuer.sign(
        {**footprint, "id": "6f1c9a56-0d2b-4d0e-9a59-2f5e3c1b7a11"},
        status_index=900,
        created=CREATED,
        valid_from=CREATED - timedelta(days=1),
    )
    path = tmp_path / "again.json"
    path.write_bytes(again)

    code, _, err = await pcfx("publish", str(path), "--home", home, "--nats", nats_server.url)
    assert code == 1
    assert "refused: downgrade" in err and "(--re-sign publishes its footprint as the next version)" in err

    code, out, err = await pcfx("publish", str(path), "--re-sign", "--home", home, "--nats", nats_server.url)
    assert code == 0, err
    assert "re-signed footprint 6f1c9a56-0d2b-4d0e-9a59-2f5e3c1b7a11 as its next version" in out
    engine = open_store(acme.settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            latest = repo.latest_declaration(
                session, issuer=acme.did, product_id=acme.product("steel"), origin=Origin.OWN
            )
            assert latest is not None
            subject = json.loads(latest.raw)["credentialSubject"]
    finally:
        engine.dispose()
    assert latest.declaration_id != first.declaration_id
    assert subject["precedingPfIds"][-1] == "6f1c9a56-0d2b-4d0e-9a59-2f5e3c1b7a11"
    assert parse_instant(subject["created"]) > CREATED
