"""What the network simulation reads from the machine and the hub: this process's memory, a process's RSS
and CPU time (/proc), percentiles, and the hub's VARZ, JSZ and Raft groups through the system account."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

__all__ = ["hub_jsz", "hub_varz", "percentile", "process_usage", "raft_groups", "rss_mib"]


def rss_mib() -> float:
    """This process's resident memory now (not its peak: several runs share the process)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def process_usage(pid: int) -> tuple[float, float]:
    """RSS (MiB) and CPU seconds of a process."""
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / 100


async def hub_varz(sys_nc: Any) -> dict[str, Any]:
    """The first hub server's VARZ (messages and bytes in and out)."""
    reply = await sys_nc.request("$SYS.REQ.SERVER.PING.VARZ", b"{}", timeout=5)
    return json.loads(reply.data).get("data", {})


async def raft_groups(sys_nc: Any, *, servers: int) -> dict[str, int]:
    """Distinct Raft groups each hub server takes part in (stream and consumer groups of every account,
    plus the meta group), from every server's JSZ reply."""
    inbox = sys_nc.new_inbox()
    replies: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def collect(msg: Any) -> None:
        replies.append(json.loads(msg.data))
        if len(replies) >= servers:
            done.set()

    sub = await sys_nc.subscribe(inbox, cb=collect)
    body = {"accounts": True, "streams": True, "consumer": True, "raft": True, "limit": 100_000}
    await sys_nc.publish("$SYS.REQ.SERVER.PING.JSZ", json.dumps(body).encode(), reply=inbox)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=10)
    await sub.unsubscribe()
    counts: dict[str, int] = {}
    for reply in replies:
        data = reply.get("data", {})
        groups = {"meta"} if data.get("meta_cluster") else set()
        for account in data.get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                groups.add(str((stream.get("cluster") or {}).get("raft_group") or stream.get("name")))
                for consumer in stream.get("consumer_detail") or []:
                    cluster = consumer.get("cluster") or {}
                    groups.add(
                        str(cluster.get("raft_group") or f"{stream.get('name')}/{consumer.get('name')}")
                    )
        counts[str(reply.get("server", {}).get("name", "?"))] = len(groups)
    return counts


async def hub_jsz(sys_nc: Any) -> dict[str, Any]:
    """The first hub server's JSZ (streams, consumers, storage)."""
    reply = await sys_nc.request("$SYS.REQ.SERVER.PING.JSZ", b'{"accounts": true}', timeout=5)
    return json.loads(reply.data).get("data", {})
