"""The running node's background health work, started by `Node.start` and stopped by `Node.stop`: the
supervisor of its embedded nats-server (restarted on the same port, or the node halts with the reason)
and the readiness checks (`pcfx.node.readiness`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from pcfx.node.bus.supervisor import ServerSupervisor
from pcfx.node.readiness import (
    DatabaseWritable,
    DiskSpace,
    Probe,
    jetstream_probe,
    nats_connection_probe,
    nats_server_probe,
)

if TYPE_CHECKING:
    from pcfx.node.node_state import NodeState

__all__ = ["halt", "start_health", "stop_health", "until_stopped"]

log = logging.getLogger("pcfx.node")


async def start_health(node: NodeState, *, checks: bool = True) -> None:
    """Supervise the embedded server (when the node has one) and, with `checks`, run the readiness checks
    once now and then in the background."""
    if node.embedded is not None:
        supervisor = ServerSupervisor(
            node.embedded,
            on_give_up=lambda reason: halt(node, reason),
            on_change=node.readiness.poke,
            on_restart=node.metrics.nats_restarts.inc,
        )
        node._supervisor = supervisor
        node._health_tasks.append(asyncio.create_task(supervisor.run(), name="pcfx-nats-supervisor"))
    if not checks:
        return
    probes: dict[str, Probe] = {}
    if node.embedded is not None:
        probes["nats_server"] = nats_server_probe(node.embedded, node._supervisor)
    probes["nats_connection"] = nats_connection_probe(node.nc)
    probes["jetstream"] = jetstream_probe(node.nc, node.consume_js)
    probes["database"] = DatabaseWritable(
        node.engine,
        node.settings.effective_database_url,
        store_lock=node.ingestor._lock,  # one writer at a time: the check never delays a batch
    )
    probes["disk"] = DiskSpace.of(
        node.settings, nats_store=node.embedded.store_dir if node.embedded is not None else None
    )
    node.readiness.probes = probes
    node.readiness.interval = node.settings.readiness_seconds
    await node.readiness.check()
    node._health_tasks.append(asyncio.create_task(node.readiness.run(node._stop), name="pcfx-readiness"))


async def stop_health(node: NodeState) -> None:
    """Stop supervising (before the server is stopped on purpose) and checking."""
    tasks, node._health_tasks = node._health_tasks, []
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    database = node.readiness.probes.get("database")
    if isinstance(database, DatabaseWritable):
        database.close()


def halt(node: NodeState, reason: str) -> None:
    """The node cannot go on: not ready, and `halted` is set for `run_node` to stop it with `reason`."""
    node.halt_reason = reason
    node.readiness.report("node", reason)
    node.halted.set()


async def until_stopped(node: NodeState, stop: asyncio.Event) -> None:
    """Wait until `stop` is set or the node halts."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node.halted.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
