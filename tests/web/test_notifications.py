"""Inbox events reach people who are not looking at the page: a JSON POST to the configured webhook and an
e-mail through the configured SMTP server (both real servers on loopback), for a recomputation held after a
supplier's revision over a real nats-server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from live_kit import live_chain
from node_kit import eventually
from pcfx.node.notifications import attach_notifications
from reports.report_kit import BATTERY


class _Mailbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    handler, port = _Mailbox(), _port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    """A real HTTP server on loopback recording the JSON bodies POSTed to it."""
    received: list[dict[str, Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        received.append(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield received, f"http://127.0.0.1:{port}/hooks/pcfx"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_held_recomputation_is_posted_to_the_webhook_and_mailed(
    tmp_path: Path, webhook: tuple[list[dict[str, Any]], str], mailbox: tuple[_Mailbox, int]
) -> None:
    received, url = webhook
    mails, smtp_port = mailbox
    async with live_chain(tmp_path, serve="BatteryCo", tiers=2) as chain:
        battery = chain.nodes["BatteryCo"]
        battery.settings = battery.settings.model_copy(
            update={
                "notify_webhook_url": url,
                "notify_smtp_host": "127.0.0.1",
                "notify_smtp_port": smtp_port,
                "notify_smtp_starttls": False,
                "notify_email_from": "pcfx@batteryco.example",
                "notify_email_to": ["carbon-team@batteryco.example"],
            }
        )
        notifier = attach_notifications(
            battery, chain.services["BatteryCo"], inbox_url=f"{chain.url}/ui/inbox"
        )
        assert notifier is not None
        revised = await chain.revise_copper("3000")
        held = await eventually(lambda: [n for n in received if n["kind"] == "held"], timeout=20)
        assert held[0]["productId"] == BATTERY and held[0]["trigger"] == revised
        assert held[0]["subject"].startswith(f"Held for approval: {BATTERY}")
        assert f"{chain.url}/ui/inbox" in held[0]["text"]
        revision = [n for n in received if n["kind"] == "revision" and n["declarationId"] == revised]
        assert revision and revision[0]["state"] == "active"
        mail = await eventually(
            lambda: [m for m in mails.messages if b"Held for approval" in m.content], timeout=20
        )
        assert mail[0].rcpt_tos == ["carbon-team@batteryco.example"]
        assert mail[0].mail_from == "pcfx@batteryco.example"


async def test_a_webhook_that_is_down_is_logged_and_the_node_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_chain(tmp_path, serve="BatteryCo", tiers=2) as chain:
        battery = chain.nodes["BatteryCo"]
        battery.settings = battery.settings.model_copy(
            update={"notify_webhook_url": f"http://127.0.0.1:{_port()}/x"}
        )
        notifier = attach_notifications(battery, chain.services["BatteryCo"])
        assert notifier is not None
        await chain.revise_copper("3000")
        await eventually(lambda: notifier.failed >= 1, timeout=20)
        assert chain.services["BatteryCo"].held(BATTERY)  # the recomputation itself was not disturbed
        assert "notice" in caplog.text and "not delivered" in caplog.text
