"""`pcfx network status`: every company (name, DID, account, state) with what the hub sees of it right now:
client and leaf connections (`$SYS.REQ.ACCOUNT.PING.STATZ`) and its JetStream streams with their message
counts (`$SYS.REQ.ACCOUNT.<account>.JSZ`). In a cluster every server answers; the answers are combined."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from nats.aio.client import Client
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.state import load_state

__all__ = ["AccountStatus", "gather", "network_status"]


@dataclass
class AccountStatus:
    """One account as the operator and the hub see it."""

    name: str
    slug: str
    did: str
    account: str
    state: str
    connections: int = 0
    leafnodes: int = 0
    streams: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def gather(
    nc: Client, subject: str, payload: bytes = b"", *, window: float = 0.5, expect: int | None = None
) -> list[dict[str, Any]]:
    """Every JSON answer to one request within `window` seconds (each server of a cluster answers); stops
    early once `expect` answers are in."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    answers: list[dict[str, Any]] = []
    try:
        await nc.publish(subject, payload, reply=inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + window
        while (left := deadline - loop.time()) > 0 and (expect is None or len(answers) < expect):
            try:
                msg = await sub.next_msg(timeout=left)
            except TimeoutError:
                break
            with contextlib.suppress(ValueError):
                answer = json.loads(msg.data)
                if isinstance(answer, dict):
                    answers.append(answer)
    finally:
        await sub.unsubscribe()
    return answers


async def _connections(
    nc: Client, accounts: list[str], window: float, servers: int
) -> dict[str, tuple[int, int]]:
    request = json.dumps({"accounts": accounts, "include_unused": True}).encode()
    totals: dict[str, tuple[int, int]] = {}
    for answer in await gather(nc, "$SYS.REQ.ACCOUNT.PING.STATZ", request, window=window, expect=servers):
        for entry in (answer.get("data") or {}).get("account_statz") or []:
            conns, leafs = totals.get(entry.get("acc"), (0, 0))
            totals[entry.get("acc")] = (
                conns + int(entry.get("conns", 0)),
                leafs + int(entry.get("leafnodes", 0)),
            )
    return totals


async def _streams(nc: Client, account: str, window: float, servers: int) -> dict[str, int]:
    request = json.dumps({"streams": True}).encode()
    streams: dict[str, int] = {}
    for answer in await gather(nc, f"$SYS.REQ.ACCOUNT.{account}.JSZ", request, window=window, expect=servers):
        for stream in (answer.get("data") or {}).get("stream_detail") or []:
            # replicas of one stream answer from several servers: the count is the highest one seen
            messages = int((stream.get("state") or {}).get("messages", 0))
            streams[stream["name"]] = max(messages, streams.get(stream["name"], 0))
    return streams


async def network_status(
    layout: NetworkLayout, *, nc: Client, window: float = 0.5, servers: int | None = None
) -> list[AccountStatus]:
    """The NETWORK account and every company, with live connections and streams (`nc`: SYS admin). The
    answers of `servers` hub servers (default: one per URL in the state) are awaited, at most `window`
    seconds."""
    state = load_state(layout)
    servers = servers or len(state.urls)
    rows = [
        AccountStatus("NETWORK", "network", state.registry_operator, state.network_account, "operator")
    ] + [
        AccountStatus(r.name, r.slug, r.did, r.account, r.state.value)
        for r in CompanyDirectory.at(layout.root).records(follows=False)
    ]
    live_task = asyncio.ensure_future(_connections(nc, [r.account for r in rows], window, servers))
    streams = await asyncio.gather(*(_streams(nc, r.account, window, servers) for r in rows))
    live = await live_task
    for row, found in zip(rows, streams, strict=True):
        row.connections, row.leafnodes = live.get(row.account, (0, 0))
        row.streams = dict(sorted(found.items()))
    return rows
