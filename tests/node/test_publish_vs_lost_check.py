"""The periodic check of what the stream lost (`republish_lost`) and a publication in flight never interleave:
a version stored but not yet sent is neither republished as "lost" nor overtaken by the version it
replaces, so the stream's last message on the subject is always the newest version."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from attack_kit import NOW, exchange
from pcfx.protocol.subjects import STREAM_NAME, decl_subject


async def test_a_lost_check_during_a_publication_waits_for_it_and_republishes_nothing(
    tmp_path, nats_server, monkeypatch
):
    async with exchange(tmp_path, nats_server.url) as ex:
        supplier, gate = ex.supplier, asyncio.Event()
        real_send = supplier._send_own

        async def held_send(raw, facts, subject):  # stored in the node's store, not yet on the stream
            await gate.wait()
            return await real_send(raw, facts, subject)

        monkeypatch.setattr(supplier, "_send_own", held_send)
        newer = ex.acme.declaration("steel", created=NOW - timedelta(minutes=30))
        publishing = asyncio.create_task(supplier.publish(newer))
        await asyncio.sleep(0.1)
        checking = asyncio.create_task(supplier.republish_lost())
        await asyncio.sleep(0.1)
        assert not checking.done()  # waits for the publication
        gate.set()
        await publishing
        assert await checking == []
        last = await supplier.js.get_last_msg(
            STREAM_NAME, decl_subject(ex.acme.did, ex.acme.product("steel"))
        )
        assert bytes(last.data) == newer


async def test_the_republication_for_a_new_follower_is_tried_again_when_the_hub_does_not_answer(
    tmp_path, nats_server, monkeypatch
):
    async with exchange(tmp_path, nats_server.url) as ex:
        supplier, calls = ex.supplier, []
        real = supplier.republish_lost

        async def busy_once(*, force: bool = False) -> list[str]:
            calls.append(force)
            if len(calls) == 1:
                raise TimeoutError  # a busy hub: the JetStream request timed out
            return await real(force=force)

        monkeypatch.setattr(supplier, "republish_lost", busy_once)
        await supplier._republish_for_follower()
        assert calls == [True, True]
