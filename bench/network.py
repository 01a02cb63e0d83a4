"""Network simulation on the real protocol: N companies with M = `--products` x N products on a seeded
synthetic supply-chain graph (tier 0: handset-like products with tens of suppliers; deeper tiers: a few;
the deepest: raw materials with none), each company onboarded into its own NATS account on an operator-mode
hub (`pcfx network` layout), with its own keys, registry entry, credentials, SQLite store and node, real
signing and real verify-before-use, all in this one process (one event loop). Nothing is shared between
companies but the process: each node verifies what it receives with its own consumer.

Measured and printed:
- setup: onboarding, node start and following suppliers (each timed), RSS of this process per company;
- cold convergence: every company declares its products at once (policy auto: a buyer recomputes and
  republishes on each verified supplier version) until every purchased input of every product runs on a
  verified supplier value;
- propagation: a product of the deepest tier is revised; seconds until every tier-0 product that depends on
  it (transitively) has published a new declaration; p50 / p95 / p99 over `--revisions`, with
  `--background` revisions per second of random other products meanwhile; declarations published per revision;
- hub: nats-server RSS and CPU seconds, JetStream storage on disk, streams and consumers (from $SYS JSZ),
  messages and bytes it took in and delivered per revision (from $SYS VARZ).

A hub reserves each company account's JetStream quota (`pcfx.node.network.accounts.COMPANY_JETSTREAM`,
1 GiB of disk) against its store limit (by default 75 % of the free disk): on a machine with 77 GB free the
hub refuses JetStream to the ~55th company (ServiceUnavailable). `--company-disk-mib 64` gives the run's network
that quota (`pcfx network init --company-disk-mib`).

Companies join in batches of `--onboard-batch` (one registry version each, `onboard_companies`); the
operator's follow and registry service runs as its own process (`pcfx network serve`). Each node's periodic
housekeeping (readiness checks, feed-health rebuild) runs less often than a node's defaults
(`--readiness-seconds 30`, `--feed-health-seconds 60`): on a real network each company pays it on its own
machine, here one process pays it N times over.

    .venv/bin/python bench/network.py [--companies 50|25,50,100] [--products 2] [--tiers 4] [--revisions 20]
                                      [--background 0] [--seed 7] [--company-disk-mib 64] [--plot out.png]
                                      [--onboard-batch 100] [--readiness-seconds 30] [--feed-health-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from pcfx.node.config import load_settings
from pcfx.node.engine import parse_inventory
from pcfx.node.network.connect import network_connection, sys_connection
from pcfx.node.network.errors import FollowError
from pcfx.node.network.join import JoinRequest, install_registry, join_network_together
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.operator import init_network
from pcfx.node.network.up import start_hub
from pcfx.node.service import Node
from pcfx.node.supply import Recomputed, SupplyService


@dataclass
class Product:
    company: int
    index: int
    tier: int
    suppliers: list[Product] = field(default_factory=list)
    buyers: list[Product] = field(default_factory=list)

    @property
    def pid(self) -> str:
        return f"urn:pcfx:product:c{self.company:05d}:p{self.index}"


def _uscc(n: int) -> str:
    return f"urn:pcfx:uscc:9144{n:014d}"


def build_graph(companies: int, per_company: int, tiers: int, seed: int) -> tuple[list[int], list[Product]]:
    """Companies by tier (more upstream than downstream) and their products with supplier products one tier
    deeper: tier 0 buys from 20-40 products (capped by what exists), middle tiers 2-6, the deepest none."""
    rng = random.Random(seed)
    weights = [2**t for t in range(tiers)]  # tier t gets a share growing with depth
    tier_of = [min(tiers - 1, rng.choices(range(tiers), weights=weights)[0]) for _ in range(companies)]
    for t in range(tiers):  # every tier has at least one company
        if t not in tier_of:
            tier_of[t % companies] = t
    products = [Product(c, k, tier_of[c]) for c in range(companies) for k in range(per_company)]
    by_tier: dict[int, list[Product]] = defaultdict(list)
    for p in products:
        by_tier[p.tier].append(p)
    for p in products:
        deeper = [q for q in by_tier.get(p.tier + 1, []) if q.company != p.company]
        if not deeper:
            continue
        fan_in = rng.randint(20, 40) if p.tier == 0 else rng.randint(2, 6)
        for q in rng.sample(deeper, min(fan_in, len(deeper))):
            p.suppliers.append(q)
            q.buyers.append(p)
    return tier_of, products


def inventory(p: Product, revision: int = 0) -> dict[str, Any]:
    """A one-process inventory: its supplier products as purchased inputs (default factor 2 kg/kg), 0.5 kWh
    of grid electricity and direct CO2 that a revision changes."""
    inputs = [
        {"flow": f"part {n}", "kind": "intermediate", "amount": "0.1", "unit": "kg", "factor": "generic-part",
         "supplier": {"company_id": _uscc(q.company), "product_id": q.pid}}
        for n, q in enumerate(p.suppliers)
    ]  # fmt: skip
    inputs.append({"flow": "electricity", "kind": "electricity", "amount": "0.5", "unit": "kWh"})
    return {
        "product": {"name": f"Product {p.index} of company {p.company}", "id": p.pid,
                    "declared_unit": {"amount": "1", "unit": "kg"}, "reference": {"process": "make", "flow": "out"},
                    "mass_per_declared_unit": "1 kg", "fossil_carbon_content": "0"},
        "period": {"start": "2025-01-01", "end": "2026-01-01"},
        "geography": "CN",
        "factors": [{"id": "generic-part", "value": "2", "unit": "kg/kg", "year": 2024, "geography": "GLO",
                     "source": "synthetic bench/network.py factor"}],
        "processes": [{"id": "make", "outputs": [{"flow": "out", "kind": "product", "amount": "1", "unit": "kg"}],
                       "inputs": inputs, "emissions": [{"gas": "CO2", "amount": f"{1 + revision / 1000}", "unit": "kg"}]}],
    }  # fmt: skip


def _free_block(size: int = 3) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib() -> float:
    """This process's resident memory now (not its peak: several runs share the process)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _proc(pid: int) -> tuple[float, float]:
    """RSS (MiB) and CPU seconds of a process."""
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / 100


async def _varz(sys_nc: Any) -> dict[str, Any]:
    reply = await sys_nc.request("$SYS.REQ.SERVER.PING.VARZ", b"{}", timeout=5)
    return json.loads(reply.data).get("data", {})


async def _raft_groups(sys_nc: Any, *, servers: int) -> dict[str, int]:
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


async def _jsz(sys_nc: Any) -> dict[str, Any]:
    reply = await sys_nc.request("$SYS.REQ.SERVER.PING.JSZ", b'{"accounts": true}', timeout=5)
    return json.loads(reply.data).get("data", {})


async def run(args: argparse.Namespace) -> dict[str, Any]:
    _tier_of, products = build_graph(args.companies, args.products, args.tiers, args.seed)
    root = Path(tempfile.mkdtemp(prefix="pcfx-network-"))
    layout = NetworkLayout(root / "net")
    # A hub reserves every account's JetStream quota against its own store (75 % of free disk by default):
    # with the default 1 GiB per company, this machine's hub admits about 55 companies.
    quota = {"company_disk_mib": args.company_disk_mib, "company_mem_mib": 8} if args.company_disk_mib else {}
    init_network(layout, port=_free_block(), leaf_port=_free_block(), route_port=_free_block(), **quota)
    hub = await start_hub(layout, cluster=args.cluster)
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
    figures: dict[str, Any] = {"companies": args.companies, "products": len(products)}
    rss0 = _rss_mib()
    try:
        async with sys_connection(layout, hub.urls) as sys_nc, network_connection(layout, hub.urls) as net_nc:
            t0 = time.perf_counter()
            # companies join in batches, each batch one registry version (`onboard_companies`)
            for first in range(0, args.companies, args.onboard_batch):
                batch = range(first, min(args.companies, first + args.onboard_batch))
                requests = [
                    JoinRequest(root / f"c{c}", f"Company {c}", _uscc(c), f"c{c}.example", f"c{c}")
                    for c in batch
                ]
                # every node's periodic housekeeping is paid N times over in this one process: the feed-health
                # rebuild (a consumer info and two store reads per followed product) runs once a minute, not
                # every 5 s, and the readiness checks (a JetStream request, a store write) every 30 s, not 1 s
                await join_network_together(
                    layout, requests, sys_nc=sys_nc, network_nc=net_nc, republish_policy="auto",
                    feed_health_seconds=args.feed_health_seconds, readiness_seconds=args.readiness_seconds,
                    stream_replicas=3 if args.cluster else 1,
                )  # fmt: skip
                print(f"  {batch[-1] + 1} companies onboarded ({time.perf_counter() - t0:.0f} s)", flush=True)
            figures["onboard_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            for c in range(args.companies):
                install_registry(layout, root / f"c{c}")  # the operator hands over the current registry
                nodes[c] = await Node.start(load_settings(root / f"c{c}"))
                if (c + 1) % 100 == 0:
                    print(f"  {c + 1} nodes running ({time.perf_counter() - t1:.0f} s)", flush=True)
            figures["node_start_s"] = time.perf_counter() - t1
            for c, node in nodes.items():
                services[c] = SupplyService.attach(node)

                def note(done: Recomputed) -> None:
                    if done.action == "republished":
                        published.append((time.perf_counter(), done.product_id))

                services[c].add_callback(note)
            for p in products:
                services[p.company].add_product(parse_inventory(inventory(p)))
            t2, follows = time.perf_counter(), 0
            for c in services:
                for attempt in range(5):  # the operator's service may be slow to answer under this load
                    try:
                        follows += len(await services[c].follow_suppliers())
                        break
                    except (FollowError, NatsTimeoutError) as exc:
                        print(f"  company {c}: {exc}; again ({attempt + 1})", flush=True)
                if (c + 1) % 100 == 0:
                    print(f"  {c + 1} companies follow their suppliers: {follows} feeds "
                          f"({time.perf_counter() - t2:.0f} s)", flush=True)  # fmt: skip
            figures["follow_s"], figures["feeds"] = time.perf_counter() - t2, follows
            figures["setup_s"] = time.perf_counter() - t0
            figures["rss_per_company_mib"] = (_rss_mib() - rss0) / args.companies
            print(f"setup: {figures['setup_s']:.1f} s for {args.companies} companies, {len(products)} products; "
                  f"{figures['rss_per_company_mib']:.1f} MiB RSS per company")  # fmt: skip

            # ---- cold convergence ----------------------------------------------------------------------
            t0 = time.perf_counter()
            for p in sorted(products, key=lambda q: -q.tier):
                published.append((time.perf_counter(), p.pid))
                await services[p.company].declare(p.pid)

            # a product whose every purchased input runs on a verified supplier value stays so: only the
            # others are computed again on each check
            pending = [p for p in products if p.suppliers]

            def on_supplier_values(p: Product) -> bool:
                inputs = services[p.company].compute(p.pid).inputs
                return all(i.source == "supplier-declaration" for i in inputs)

            while pending:
                await asyncio.sleep(0.5)
                pending = [p for p in pending if not on_supplier_values(p)]
            figures["converge_s"] = time.perf_counter() - t0
            print(
                f"cold convergence: {figures['converge_s']:.1f} s (every purchased input on a verified value)"
            )

            # ---- propagation -----------------------------------------------------------------------------
            # revised at the deepest tier, where the change reaches at least one tier-0 product
            deepest = [p for p in products if p.tier == args.tiers - 1 and _roots_of(p)]
            rng = random.Random(args.seed + 1)
            stop_background = asyncio.Event()

            background_done = 0

            async def background() -> None:
                nonlocal background_done
                others = [p for p in products if p.tier < args.tiers - 1]
                while args.background and not stop_background.is_set():
                    background_done += 1
                    p = rng.choice(others)
                    services[p.company].add_product(parse_inventory(inventory(p, rng.randint(1, 999))))
                    with contextlib.suppress(Exception):
                        await services[p.company].declare(p.pid)
                    await asyncio.sleep(1 / args.background)

            varz0 = await _varz(sys_nc)
            task = asyncio.create_task(background())
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            latencies, fanout = [], []
            for r in range(args.revisions):
                source = rng.choice(deepest)
                roots = _roots_of(source)
                start, before = time.perf_counter(), len(published)
                services[source.company].add_product(parse_inventory(inventory(source, 1000 + r)))
                await services[source.company].declare(source.pid)
                pending = {p.pid for p in roots}
                deadline = start + 60
                while pending and time.perf_counter() < deadline:
                    pending -= {pid for at, pid in published[before:] if at >= start}
                    await asyncio.sleep(0.005)
                if pending:
                    print(f"revision {r}: {len(pending)} tier-0 product(s) not republished within 60 s")
                    continue
                latencies.append(
                    max(at for at, pid in published[before:] if pid in {p.pid for p in roots}) - start
                )
                fanout.append(len(published) - before)
            stop_background.set()
            await task
            varz1 = await _varz(sys_nc)
            # every message the hub took in and delivered while revisions ran, per revision (measured and
            # background): declarations, status lists, acks, consumer pulls, follow and registry traffic
            revisions_run = max(1, len(latencies) + background_done)
            for key in ("in_msgs", "out_msgs", "in_bytes"):
                figures[f"hub_{key}_per_revision"] = (varz1.get(key, 0) - varz0.get(key, 0)) / revisions_run
            print(f"hub messages per revision: {figures['hub_in_msgs_per_revision']:.0f} in, "
                  f"{figures['hub_out_msgs_per_revision']:.0f} out, "
                  f"{figures['hub_in_bytes_per_revision'] / 1024:.0f} KiB in ({revisions_run} revisions)")  # fmt: skip
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            if latencies:
                figures.update(
                    p50=_percentile(latencies, 50),
                    p95=_percentile(latencies, 95),
                    p99=_percentile(latencies, 99),
                )
                figures["declarations_per_revision"] = statistics.median(fanout)
                print(f"propagation deepest tier -> tier 0 over {len(latencies)} revisions (background "
                      f"{args.background}/s): p50 {figures['p50'] * 1000:.0f} ms, p95 {figures['p95'] * 1000:.0f} ms, "
                      f"p99 {figures['p99'] * 1000:.0f} ms; declarations published per revision "
                      f"{figures['declarations_per_revision']:.0f} (median)")  # fmt: skip

            # ---- hub ---------------------------------------------------------------------------------------
            per_server = [_proc(server.pid) for server in hub.servers if server.pid is not None]
            rss, cpu = max(r for r, _ in per_server), sum(c for _, c in per_server)
            jsz = await _jsz(sys_nc)
            store = sum(
                f.stat().st_size for f in (layout.root).rglob("*") if f.is_file() and "jetstream" in str(f)
            )
            figures.update(hub_rss_mib=rss, hub_cpu_s=cpu, jetstream_bytes=store,
                           streams=jsz.get("streams"), consumers=jsz.get("consumers"))  # fmt: skip
            print(f"hub: {rss:.0f} MiB RSS (largest server), {cpu:.1f} CPU s (all servers); JetStream "
                  f"{store / 2**20:.1f} MiB on disk, {jsz.get('streams')} streams, "
                  f"{jsz.get('consumers')} consumers")  # fmt: skip
            if args.cluster:
                groups = await _raft_groups(sys_nc, servers=len(hub.servers))
                figures["raft_groups_per_server"] = groups
                print(f"Raft groups per server (streams and consumers, with the meta group): {groups}")
    finally:
        for node in nodes.values():
            with contextlib.suppress(Exception):
                await node.stop()
        service.terminate()
        service.wait(timeout=30)
        service_log.close()
        await hub.stop()
    return figures


def _roots_of(p: Product) -> list[Product]:
    """The tier-0 products that use `p`, directly or through other products."""
    seen, todo, roots = set(), [p], []
    while todo:
        q = todo.pop()
        for b in q.buyers:
            if b.pid not in seen:
                seen.add(b.pid)
                (roots if b.tier == 0 else todo).append(b)
                if b.tier == 0:
                    continue
    return roots


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--companies",
        default="50",
        help="companies; several comma-separated (25,50,100) run one after another",
    )
    parser.add_argument(
        "--plot", help="write a PNG of the propagation percentiles against N here (matplotlib)"
    )
    parser.add_argument("--products", type=int, default=2, help="products per company")
    parser.add_argument("--tiers", type=int, default=4)
    parser.add_argument("--revisions", type=int, default=20)
    parser.add_argument("--background", type=float, default=0.0, help="background revisions per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--feed-health-seconds", type=float, default=60.0, help="each node's feed_health_seconds setting"
    )
    parser.add_argument(
        "--cluster", action="store_true",
        help="a 3-server hub cluster with R3 company streams (prints Raft groups per server)",
    )  # fmt: skip
    parser.add_argument(
        "--readiness-seconds", type=float, default=30.0, help="each node's readiness_seconds setting"
    )
    parser.add_argument(
        "--onboard-batch", type=int, default=100, help="companies admitted per registry version"
    )
    parser.add_argument("--profile", help="write a cProfile of the propagation phase to this file")
    parser.add_argument(
        "--company-disk-mib", type=int, default=0,
        help="JetStream disk quota per company account (default: the network's, 1024 MiB; see the docstring)",
    )  # fmt: skip
    args = parser.parse_args()
    runs = []
    for count in [int(n) for n in str(args.companies).split(",")]:
        figures = asyncio.run(run(argparse.Namespace(**{**vars(args), "companies": count})))
        print(json.dumps(figures, indent=1))
        runs.append(figures)
    if args.plot:
        plot(runs, Path(args.plot), background=args.background, tiers=args.tiers)


def plot(runs: list[dict[str, Any]], path: Path, *, background: float, tiers: int) -> None:
    """Propagation p50/p95/p99 (seconds) against the number of companies, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in runs if "p50" in r]
    counts = [r["companies"] for r in done]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for key, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
        ax.plot(counts, [r[key] for r in done], style, label=key)
    ax.set_xlabel("companies (each its own account, node and store)")
    ax.set_ylabel(f"seconds, tier {tiers - 1} revision to tier 0")
    ax.set_title(f"pcfx propagation, {background:g} background revisions/s")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
