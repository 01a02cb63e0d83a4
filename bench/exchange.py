"""Exchange benchmark: verified declarations ingested per second end to end (publish -> JetStream -> verify
-> store -> ack) next to the bare verification rate of the same payloads, in the same run.

    .venv/bin/python bench/exchange.py [N]

Prints figures; asserts nothing. Goal (issue 4): ingest >= 80% of the bare verification rate."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "node"))

from node_kit import eventually, make_network
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo


async def main(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="pcfx-bench-"))
    net = make_network(root, ["Acme", "Globex"], fetch_batch=256)
    acme, globex = net["Acme"], net["Globex"]
    raws = [acme.declaration(f"p{i}") for i in range(n)]
    async with EmbeddedNats(store_dir=root / "nats") as server:
        supplier = await Node.start(acme.settings, nats_url=server.url)
        buyer = await Node.start(globex.settings, nats_url=server.url)
        for raw in raws:
            await supplier.publish(raw, verify=False)

        # Bare verification: the protocol pipeline on the same bytes, with the buyer's registry and the
        # supplier's status lists (fetched from the stream first, as `pcfx pull` does).
        await buyer._pull_status_lists(acme.did, raws[0])
        with buyer.session() as session:
            start = time.perf_counter()
            ok = sum(bool(buyer.verifier.verify_declaration(raw, session=session).ok) for raw in raws)
            bare = n / (time.perf_counter() - start)

        def stored() -> int:
            with buyer.session() as session:
                return repo.count_declarations(session, origin=Origin.RECEIVED)

        start = time.perf_counter()
        await buyer.subscribe(acme.did)
        await eventually(lambda: stored() >= n, timeout=600, interval=0.005)
        ingest = n / (time.perf_counter() - start)
        await buyer.stop()
        await supplier.stop()
    print(f"declarations           {n} (bare verification ok: {ok})")
    print(f"bare verification      {bare:10.0f} /s")
    print(f"end-to-end ingestion   {ingest:10.0f} /s   ({100 * ingest / bare:.0f}% of bare; goal >= 80%)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
