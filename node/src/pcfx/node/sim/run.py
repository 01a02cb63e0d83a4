"""The network simulation on the real protocol (`pcfx sim`, bench/network.py): N companies with M products on
a seeded tiered supply graph (`pcfx.node.sim.graph`), each onboarded into its own NATS account on an
operator-mode hub (`pcfx network` layout), with its own keys, registry entry, credentials, SQLite store and
node, real signing and real verify-before-use, all in this one process (one event loop); the operator's
follow and registry service runs as its own process (`pcfx network serve`). Nothing of the protocol is
shared between companies: each verifies what it receives with its own consumers.

It measures setup (onboarding in batches of one registry version each, node start, follows), the
process's memory per company, cold convergence (every purchased input on a verified supplier value),
propagation of deepest-tier revisions to tier 0 under background revisions (p50/p95/p99, declarations per
revision, hub messages and bytes per revision) and the hub (RSS, CPU, JetStream storage, streams,
consumers; with `cluster`, the Raft groups each of its three servers takes part in). Each node's periodic
housekeeping runs less often than a node's defaults (`readiness_seconds`, `feed_health_seconds`,
`subscription_sync_seconds`; 60, 120 and 60 s here): on a real network each company pays it on its
own machine, here one process pays it N times over (at N = 1,000 and half these intervals it was about a
quarter of the process's CPU during convergence and propagation); for the same reason the process's
garbage collector sets aside (`gc.freeze`) what setup and convergence made. (The subscription sync picks up subscriptions another process added to a
node's store; here every follow is made by the node itself.)"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from pcfx.node.config import load_settings
from pcfx.node.engine import parse_inventory
from pcfx.node.network.connect import network_connection, sys_connection
from pcfx.node.network.errors import FollowError
from pcfx.node.network.join import JoinRequest, install_registry, join_network_together
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.operator import free_ports, init_network
from pcfx.node.network.up import start_hub
from pcfx.node.service import Node
from pcfx.node.sim.graph import Product, build_graph, company_id, inventory, roots_of
from pcfx.node.sim.measure import (
    hub_jsz,
    hub_varz,
    percentile,
    process_usage,
    raft_groups,
    rss_mib,
)
from pcfx.node.store import repository as repo
from pcfx.node.supply import Recomputed, SupplyService

__all__ = ["SimError", "SimOptions", "check_quota_fits", "run_simulation"]


@dataclass(frozen=True)
class SimOptions:
    """What to simulate: `companies` with `products` each on `tiers` tiers, `revisions` measured revisions
    with `background` other revisions per second, `seed`; the hub's per-company JetStream disk quota
    (`company_disk_mib`, 0: the network default), a 3-server hub (`cluster`), companies per registry
    version (`onboard_batch`), each node's housekeeping periods, how many companies send follow requests
    (`concurrent_follows`) and start their nodes (`concurrent_starts`) at once, a cProfile file for the
    propagation, and whether to keep the network's files."""

    companies: int = 50
    products: int = 2
    tiers: int = 4
    revisions: int = 20
    background: float = 0.0
    seed: int = 7
    company_disk_mib: int = 0
    cluster: bool = False
    onboard_batch: int = 100
    readiness_seconds: float = 60.0
    feed_health_seconds: float = 120.0
    subscription_sync_seconds: float = 60.0
    concurrent_follows: int = 16
    concurrent_starts: int = 8
    profile: str | None = None
    keep: bool = False


def set_aside_heap() -> None:
    """Exclude the objects alive now from the garbage collector's future collections (`gc.freeze`). N nodes'
    long-lived objects share this process's heap, and each full collection would scan all of them: at
    N = 1,000 over half of the propagation phase's CPU went there. A real node's heap is one node's."""
    gc.collect()
    gc.freeze()


class SimError(ValueError):
    """The simulation cannot run as asked; the message says why and what to change."""


def check_quota_fits(companies: int, disk_mib: int, where: Path) -> None:
    """SimError when `companies` JetStream quotas of `disk_mib` exceed what a hub storing under `where` may
    reserve (75 % of the free disk): the hub would refuse JetStream to the companies past that, late in setup."""
    limit = shutil.disk_usage(where).free * 3 // 4
    if companies * disk_mib * 2**20 > limit:
        most = max(0, limit // (companies * 2**20))
        raise SimError(
            f"{companies} companies x {disk_mib} MiB of JetStream exceed the {limit / 2**30:.1f} GiB a hub may "
            f"reserve here (75 % of the free disk of {where}): give --company-disk-mib {most} or less"
        )


async def run_simulation(options: SimOptions, *, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the simulation `options` describe (see the module docstring); returns the figures, printing
    progress and results through `say`."""
    root = Path(tempfile.mkdtemp(prefix="pcfx-network-"))
    layout = NetworkLayout(root / "net")
    # A hub reserves every account's JetStream quota against its own store (75 % of free disk by default):
    # with the default 1 GiB per company, a machine with 77 GB free admits about 55 companies.
    try:
        check_quota_fits(options.companies, options.company_disk_mib or 1024, root)
    except SimError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    products = build_graph(options.companies, options.products, options.tiers, options.seed)
    port, leaf_port, route_port = free_ports(3)
    init_network(
        layout,
        port=port,
        leaf_port=leaf_port,
        route_port=route_port,
        company_disk_mib=options.company_disk_mib or 1024,
        company_mem_mib=8 if options.company_disk_mib else 64,
    )
    hub = await start_hub(layout, cluster=options.cluster)
    # the operator's follow and registry service runs as its own process (`pcfx network serve`), as it would
    # on the operator's machine: not in the event loop the companies' nodes share
    service_log = (root / "network-serve.log").open("wb")
    service = subprocess.Popen(
        [str(Path(sys.executable).with_name("pcfx")), "network", "serve", str(layout.root)],
        stdout=subprocess.DEVNULL, stderr=service_log,
    )  # fmt: skip
    nodes: dict[int, Node] = {}
    services: dict[int, SupplyService] = {}
    published: list[tuple[float, str]] = []  # (time, product id) of every declaration a node published
    figures: dict[str, Any] = {"companies": options.companies, "products": len(products)}
    rss0 = rss_mib()
    try:
        async with sys_connection(layout, hub.urls) as sys_nc, network_connection(layout, hub.urls) as net_nc:
            t0 = time.perf_counter()
            # companies join in batches, each batch one registry version (`onboard_companies`)
            for first in range(0, options.companies, options.onboard_batch):
                batch = range(first, min(options.companies, first + options.onboard_batch))
                requests = [
                    JoinRequest(root / f"c{c}", f"Company {c}", company_id(c), f"c{c}.example", f"c{c}")
                    for c in batch
                ]
                # every node's periodic housekeeping is paid N times over in this one process: the feed-health
                # rebuild (a consumer info, store reads for feeds with news) runs every 120 s, not every 5 s,
                # the readiness checks (a JetStream request, a store write) every 60 s, not 1 s, and the
                # subscription sync (a store read) every 60 s, not 2 s (`SimOptions`)
                await join_network_together(
                    layout, requests, sys_nc=sys_nc, network_nc=net_nc, republish_policy="auto",
                    feed_health_seconds=options.feed_health_seconds, readiness_seconds=options.readiness_seconds,
                    subscription_sync_seconds=options.subscription_sync_seconds,
                    stream_replicas=3 if options.cluster else 1,
                )  # fmt: skip
                say(f"  {batch[-1] + 1} companies onboarded ({time.perf_counter() - t0:.0f} s)")
            figures["onboard_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            # companies start their nodes independently: several at once, as they would on their own machines
            starting = asyncio.Semaphore(options.concurrent_starts)

            async def start_node(c: int) -> None:
                async with starting:
                    install_registry(layout, root / f"c{c}")  # the operator hands over the current registry
                    nodes[c] = await Node.start(load_settings(root / f"c{c}"))
                if len(nodes) % 100 == 0:
                    say(f"  {len(nodes)} nodes running ({time.perf_counter() - t1:.0f} s)")

            await asyncio.gather(*(start_node(c) for c in range(options.companies)))
            nodes = dict(sorted(nodes.items()))
            figures["node_start_s"] = time.perf_counter() - t1
            set_aside_heap()

            def note(done: Recomputed) -> None:
                if done.action == "republished":
                    published.append((time.perf_counter(), done.product_id))

            for c, node in nodes.items():
                services[c] = SupplyService.attach(node)
                services[c].add_callback(note)
            for p in products:
                services[p.company].add_product(parse_inventory(inventory(p)))
            t2, follows, followed = time.perf_counter(), 0, 0
            # companies follow their suppliers at the same time, as they would on a real network (each one's
            # requests go one after the other; the operator's service takes them one at a time)
            gate = asyncio.Semaphore(options.concurrent_follows)

            async def follow(c: int) -> None:
                nonlocal follows, followed
                async with gate:
                    for attempt in range(5):  # the operator's service may be slow to answer under this load
                        try:
                            feeds = await services[c].follow_suppliers()
                        except (FollowError, NatsTimeoutError) as exc:
                            say(f"  company {c}: {exc}; again ({attempt + 1})")
                        else:  # counted after the await: `follows += await …` would read it before
                            follows += len(feeds)
                            break
                followed += 1
                if followed % 100 == 0:
                    say(f"  {followed} companies follow their suppliers: {follows} feeds "
                          f"({time.perf_counter() - t2:.0f} s)")  # fmt: skip

            await asyncio.gather(*(follow(c) for c in services))
            figures["follow_s"], figures["feeds"] = time.perf_counter() - t2, follows
            figures["setup_s"] = time.perf_counter() - t0
            figures["rss_per_company_mib"] = (rss_mib() - rss0) / options.companies
            set_aside_heap()
            say(f"setup: {figures['setup_s']:.1f} s for {options.companies} companies, {len(products)} products; "
                  f"{figures['rss_per_company_mib']:.1f} MiB RSS per company")  # fmt: skip

            # ---- cold convergence ----------------------------------------------------------------------
            t0, declared_before = time.perf_counter(), len(published)
            for p in sorted(products, key=lambda q: -q.tier):
                published.append((time.perf_counter(), p.pid))
                await services[p.company].declare(p.pid)
            figures["converge_declare_s"] = time.perf_counter() - t0

            # a product whose every purchased input runs on a verified supplier value stays so: only the
            # others are checked again, and computed only once its node holds a usable version of each of
            # its supplier products (a computation per pending product every half second was a fifth of
            # this phase's CPU)
            pending = [p for p in products if p.suppliers]
            held: dict[str, set[str]] = {p.pid: set() for p in pending}

            def on_supplier_values(p: Product) -> bool:
                node, have = nodes[p.company], held[p.pid]
                for q in p.suppliers:
                    if q.pid not in have and node.latest(nodes[q.company].did, q.pid) is not None:
                        have.add(q.pid)
                if len(have) < len(p.suppliers):
                    return False
                inputs = services[p.company].compute(p.pid).inputs
                return all(i.source == "supplier-declaration" for i in inputs)

            while pending:
                await asyncio.sleep(0.5)
                pending = [p for p in pending if not on_supplier_values(p)]
            figures["converge_s"] = time.perf_counter() - t0
            figures["converge_declarations"] = len(published) - declared_before
            set_aside_heap()
            say(
                f"cold convergence: {figures['converge_s']:.1f} s (every purchased input on a verified value; "
                f"the companies declared their products in the first {figures['converge_declare_s']:.1f} s); "
                f"{figures['converge_declarations']} declarations published for {len(products)} products"
            )

            # ---- propagation -----------------------------------------------------------------------------
            # revised at the deepest tier, where the change reaches at least one tier-0 product
            deepest = [p for p in products if p.tier == options.tiers - 1 and roots_of(p)]
            rng = random.Random(options.seed + 1)
            stop_background = asyncio.Event()

            background_done = 0

            async def background() -> None:
                nonlocal background_done
                others = [p for p in products if p.tier < options.tiers - 1]
                while options.background and not stop_background.is_set():
                    background_done += 1
                    p = rng.choice(others)
                    services[p.company].add_product(parse_inventory(inventory(p, rng.randint(1, 999))))
                    with contextlib.suppress(Exception):
                        await services[p.company].declare(p.pid)
                    await asyncio.sleep(1 / options.background)

            varz0 = await hub_varz(sys_nc)
            phase_start = time.perf_counter()
            task = asyncio.create_task(background())
            profiler = None
            if options.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            latencies, fanout = [], []
            for r in range(options.revisions):
                source = rng.choice(deepest)
                roots = roots_of(source)
                start, before = time.perf_counter(), len(published)
                services[source.company].add_product(parse_inventory(inventory(source, 1000 + r)))
                await services[source.company].declare(source.pid)
                pending = {p.pid for p in roots}
                deadline = start + 60
                while pending and time.perf_counter() < deadline:
                    pending -= {pid for at, pid in published[before:] if at >= start}
                    await asyncio.sleep(0.005)
                if pending:
                    say(f"revision {r}: {len(pending)} tier-0 product(s) not republished within 60 s")
                    continue
                latencies.append(
                    max(at for at, pid in published[before:] if pid in {p.pid for p in roots}) - start
                )
                fanout.append(len(published) - before)
            stop_background.set()
            await task
            # the generator awaits each declaration it asks for: the rate it ran, not the rate asked, is the
            # load the measured revisions met
            figures["background_per_s"] = background_done / max(1e-9, time.perf_counter() - phase_start)
            varz1 = await hub_varz(sys_nc)
            # every message the hub took in and delivered while revisions ran, per revision (measured and
            # background): declarations, status lists, acks, consumer pulls, follow and registry traffic
            revisions_run = max(1, len(latencies) + background_done)
            for key in ("in_msgs", "out_msgs", "in_bytes"):
                figures[f"hub_{key}_per_revision"] = (varz1.get(key, 0) - varz0.get(key, 0)) / revisions_run
            say(f"hub messages per revision: {figures['hub_in_msgs_per_revision']:.0f} in, "
                  f"{figures['hub_out_msgs_per_revision']:.0f} out, "
                  f"{figures['hub_in_bytes_per_revision'] / 1024:.0f} KiB in ({revisions_run} revisions)")  # fmt: skip
            if profiler is not None and options.profile:
                profiler.disable()
                profiler.dump_stats(options.profile)
            if latencies:
                figures.update(
                    p50=percentile(latencies, 50),
                    p95=percentile(latencies, 95),
                    p99=percentile(latencies, 99),
                )
                figures["declarations_per_revision"] = statistics.median(fanout)
                say(f"propagation deepest tier -> tier 0 over {len(latencies)} revisions (background "
                      f"{options.background}/s asked, {figures['background_per_s']:.2f}/s run): p50 {figures['p50'] * 1000:.0f} ms, p95 {figures['p95'] * 1000:.0f} ms, "
                      f"p99 {figures['p99'] * 1000:.0f} ms; declarations published per revision "
                      f"{figures['declarations_per_revision']:.0f} (median)")  # fmt: skip

            # an honest network quarantines nothing: any message a node refused is a fault to look into
            quarantined = 0
            for node in nodes.values():
                with node.session() as session:
                    quarantined += repo.quarantine_totals(session).messages
            figures["quarantined"] = quarantined
            say(f"messages quarantined by the companies' nodes: {quarantined}")

            # ---- hub ---------------------------------------------------------------------------------------
            per_server = [process_usage(server.pid) for server in hub.servers if server.pid is not None]
            rss, cpu = max(r for r, _ in per_server), sum(c for _, c in per_server)
            jsz = await hub_jsz(sys_nc)
            store = sum(
                f.stat().st_size for f in (layout.root).rglob("*") if f.is_file() and "jetstream" in str(f)
            )
            figures.update(hub_rss_mib=rss, hub_cpu_s=cpu, jetstream_bytes=store,
                           streams=jsz.get("streams"), consumers=jsz.get("consumers"))  # fmt: skip
            say(f"hub: {rss:.0f} MiB RSS (largest server), {cpu:.1f} CPU s (all servers); JetStream "
                  f"{store / 2**20:.1f} MiB on disk, {jsz.get('streams')} streams, "
                  f"{jsz.get('consumers')} consumers")  # fmt: skip
            if options.cluster:
                groups = await raft_groups(sys_nc, servers=len(hub.servers))
                figures["raft_groups_per_server"] = groups
                say(f"Raft groups per server (streams and consumers, with the meta group): {groups}")
    finally:
        # each stop waits for its consumers' pulls to end: all at once, not one after the other
        await asyncio.gather(*(node.stop() for node in nodes.values()), return_exceptions=True)
        service.terminate()
        service.wait(timeout=30)
        service_log.close()
        await hub.stop()
        if options.keep:
            say(f"the network's files are kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return figures
