"""Revocation to rejection at a buyer, on the real network layout: an operator-mode hub (JWT accounts), the
network service, a supplier and a buyer node each in its own account. The buyer follows the supplier and
holds its declaration; the operator revokes the supplier (`pcfx network revoke`): the new registry version
reaches the buyer as a delta (root + the changed entry) and the supplier's declaration is refused from then on.

Per revocation (one fresh supplier each): seconds from the revocation's publication to the buyer holding the
new registry version, and to the buyer's verification refusing the supplier's declaration it held (a
revoked company vouches for nothing it signed; its connection is closed, so it cannot publish again); bytes of registry data the buyer received for that change. `--padding N` adds N
synthetic companies to the registry first, so the change is one entry among N (the buyer bootstraps the
whole document once when it starts, then takes deltas).

    .venv/bin/python bench/registry_revocation.py [--revocations 5] [--padding 0]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pcfx.node.network.connect import network_connection, sys_connection
from pcfx.node.network.join import join_network
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.lifecycle import revoke_company
from pcfx.node.network.operator import init_network
from pcfx.node.network.serve import NetworkService
from pcfx.node.network.state import load_state
from pcfx.node.network.trust_registry import current_registry, write_registry
from pcfx.node.network.up import start_hub
from pcfx.node.service import Node
from pcfx.protocol.keys import generate_signing_key, public_multikey
from pcfx.protocol.registry import RegistryEntry, RegistryKey, Role
from sqlmodel import Session


def _free_block(size: int = 3) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = int(sock.getsockname()[1])
        if base + size < 65000:
            return base


def _pad(layout: NetworkLayout, count: int) -> None:
    """Add `count` synthetic companies to the network's registry (one new version)."""
    state = load_state(layout)
    registry, _ = current_registry(layout, state.registry_operator_key)
    now = datetime.now(UTC).replace(microsecond=0)
    extra = [
        RegistryEntry(
            did=f"did:web:pad{n:06d}.example",
            legal_name=f"Padding Company {n}",
            company_ids=[f"urn:pcfx:uscc:9100{n:014d}"],
            roles=[Role.SUPPLIER],
            keys=[
                RegistryKey(
                    id=f"did:web:pad{n:06d}.example#key-1",
                    public_key_multibase=public_multikey(generate_signing_key()),
                    valid_from=now,
                )
            ],
        )
        for n in range(count)
    ]
    padded = registry.model_copy(
        update={"version": registry.version + 1, "entries": [*registry.entries, *extra]}
    )
    write_registry(layout, padded, now=now)


async def _until(check, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("gave up waiting")
        await asyncio.sleep(0.002)
    return time.perf_counter()


async def run(revocations: int, padding: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="pcfx-revocation-"))
    layout = NetworkLayout(root / "net")
    init_network(layout, port=_free_block(), leaf_port=_free_block(), route_port=_free_block())
    if padding:
        t0 = time.perf_counter()
        _pad(layout, padding)
        print(f"registry padded with {padding:,} companies in {time.perf_counter() - t0:.1f} s")
    hub = await start_hub(layout)
    service = await NetworkService(layout, urls=hub.urls).start()
    nodes: list[Node] = []
    propagation, rejection, received = [], [], []
    try:
        async with sys_connection(layout, hub.urls) as sys_nc, network_connection(layout, hub.urls) as net_nc:

            async def join(n: int, name: str) -> Node:
                joined = await join_network(
                    layout, root / name, name=name, company_id=f"urn:pcfx:uscc:9111{n:014d}",
                    web_domain=f"{name}.example", slug=name, sys_nc=sys_nc, network_nc=net_nc,
                )  # fmt: skip
                node = await Node.start(joined.settings)
                nodes.append(node)
                return node

            buyer = await join(0, "buyer")
            for n in range(1, revocations + 1):
                supplier = await join(n, f"supplier{n}")
                await buyer.subscribe(supplier.did)
                first = supplier_footprint(supplier, n, minutes_ago=5)
                await supplier.publish_footprint(first)
                product = first["productIds"][0]
                await _until(lambda s=supplier, p=product: buyer.latest(s.did, p) is not None)
                held = buyer.latest(supplier.did, product)
                assert held is not None and not _refused(buyer, held.raw)
                version = buyer.verifier.registry.version
                before = buyer._registry_updates.received_bytes
                revoked_at = time.perf_counter()
                await revoke_company(layout, f"supplier{n}", nc=sys_nc, nc_network=net_nc)
                taken = await _until(lambda v=version: buyer.verifier.registry.version > v)
                received.append(buyer._registry_updates.received_bytes - before)
                # the supplier's connection is closed by the revocation; what it signed is refused from now on
                rejected = await _until(lambda raw=held.raw: _refused(buyer, raw))
                propagation.append(taken - revoked_at)
                rejection.append(rejected - revoked_at)
    finally:
        for node in nodes:
            await node.stop()
        await service.stop()
        await hub.stop()

    def show(label: str, values: list[float]) -> None:
        print(
            f"{label:48} median {statistics.median(values) * 1000:7.1f} ms   min {min(values) * 1000:7.1f}   "
            f"max {max(values) * 1000:7.1f}"
        )

    print(f"{revocations} revocations; registry of {padding + revocations + 1:,} companies")
    show("revocation published -> buyer holds new version", propagation)
    show("revocation published -> held declaration refused", rejection)
    print(f"registry bytes the buyer received per revocation: {statistics.median(received):,.0f} (median)")


def supplier_footprint(node: Node, n: int, *, minutes_ago: int) -> dict:
    """The lime example's footprint as supplier `n`'s one product (`created` set so versions go up)."""
    from pcfx.node.demo.network import example_inventory
    from pcfx.node.engine import compute
    from pcfx.node.supply.products import build_footprint

    return build_footprint(
        compute(example_inventory("lime")), company_name=node.settings.name,
        company_id=node.settings.company_id, product_id=f"urn:pcfx:product:supplier{n}:lime",
        product_name=f"Lime of supplier {n}", created=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )  # fmt: skip


def _refused(node: Node, raw: bytes) -> bool:
    """True when the buyer's verification (its current registry, its stored status lists) refuses `raw`."""
    from pcfx.node.reports.source import verify_with_store

    with Session(node.engine) as session:
        outcome = verify_with_store(session, raw, registry=node.verifier.registry, allow_did_key=False)
    return not outcome.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--revocations", type=int, default=5)
    parser.add_argument("--padding", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(run(args.revocations, args.padding))


if __name__ == "__main__":
    main()
