"""Catch-up benchmark: a buyer node that was offline while its supplier published `n` declarations (10,000 by
default) comes back; seconds from `Node.start` to the n-th verified declaration stored, `--reps` times, each
repetition its own buyer (own SQLite store, own durable consumer holding the whole backlog).

Every buyer subscribes while running and sees the supplier's first declaration, then stops; the supplier then
publishes the backlog (bench/verify.py's PACT v3 samples, signed by the supplier, each a new product); then
each buyer is started again and timed: resume its subscription, fetch, verify, store, ack. The time includes
the node's start (store open, NATS connect, stream, KV, consumers). Goal (issue 13): 10,000 in < 10 s.

    .venv/bin/python bench/catchup.py [N] [--reps 3] [--batch 256] [--workers 0]

Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # node_kit
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/verify.py, bench/exchange.py

from exchange import _ingest_payloads
from node_kit import make_network
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo

__all__ = ["catch_up", "main"]


async def catch_up(n: int = 10_000, *, reps: int = 3, batch: int = 256, workers: int = 0) -> dict[str, Any]:
    """Seconds for an offline buyer to take in a backlog of `n` declarations, per repetition."""
    from verify import prepare  # bench/verify.py

    root = Path(tempfile.mkdtemp(prefix="pcfx-catchup-"))
    buyers = [f"Buyer{r + 1}" for r in range(reps)]
    net = make_network(root, ["Acme", *buyers], fetch_batch=batch, verify_workers=workers)
    acme = net["Acme"]
    raws = _ingest_payloads(acme, prepare()["footprints"], n + 1)
    seconds: list[float] = []
    print(
        f"catch-up: {n} declarations ({sum(map(len, raws)) / len(raws):.0f} bytes on average) while the buyer "
        f"was offline; {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"fetch batch {batch}, verify_workers={workers}"
    )
    try:
        async with EmbeddedNats(store_dir=root / "nats") as server:
            supplier = await Node.start(net["Acme"].settings, nats_url=server.url)
            await supplier.publish(raws[0], verify=False)
            for name in buyers:  # online once: subscribed, the first declaration stored, then offline
                buyer = await Node.start(net[name].settings, nats_url=server.url)
                await buyer.subscribe(acme.did)
                await _stored(buyer, 1)
                await buyer.stop()
            started = time.perf_counter()
            for raw in raws[1:]:
                await supplier.publish(raw, verify=False)
            print(f"  supplier published the backlog in {time.perf_counter() - started:.1f} s")
            for name in buyers:
                start = time.perf_counter()
                buyer = await Node.start(net[name].settings, nats_url=server.url)
                await _stored(buyer, n + 1)
                seconds.append(time.perf_counter() - start)
                await buyer.stop()
                print(
                    f"  {name}: {n} declarations caught up in {seconds[-1]:.2f} s ({n / seconds[-1]:.0f}/s)"
                )
            await supplier.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"catch-up of {n}: median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, "
        f"max {max(seconds):.2f}) over {reps} buyers"
    )
    return {"n": n, "seconds": seconds}


async def _stored(buyer: Node, count: int, *, timeout: float = 600) -> None:
    """Wait until the buyer's store holds `count` received declarations."""
    deadline = time.perf_counter() + timeout
    while True:
        with buyer.session() as session:
            if repo.count_declarations(session, origin=Origin.RECEIVED) >= count:
                return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"fewer than {count} declarations stored after {timeout:.0f} s")
        await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000, help="declarations missed while offline")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (one buyer each)")
    parser.add_argument("--batch", type=int, default=256, help="the buyer's fetch batch")
    parser.add_argument("--workers", type=int, default=0, help="the buyer's verify_workers")
    args = parser.parse_args(argv)
    asyncio.run(catch_up(args.n, reps=args.reps, batch=args.batch, workers=args.workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
