"""Exchange benchmark, two parts (each a function; `main` runs the ones asked for):

- ingest: verified declarations ingested per second end to end (JetStream -> verify -> store -> ack) from a
  backlog published before timing, next to bench/verify.py's bare verification rate of the same PACT
  samples, both in each of `--ingest-reps` repetitions, once with `verify_workers` = 0 (verification in the
  node's process) and once with `--workers` (default 1: verification in a second process, on a second
  core, overlapping the node's store work). Goal (issue 4): ingest >= 80% of the bare rate.
- onboard: seconds to admit a company on the account layout (`pcfx network onboard`), `--companies` of
  them one after the other into a running hub.
- latency: propagation through a 4-tier chain - the tier-4 supplier publishes a revision, tiers 3, 2 and 1
  recompute and republish (policy auto), until the tier-0 product's new declaration is published; p50 and
  p95 over `--revisions` revisions, repeated `--reps` times. Goal (issue 4): p50 < 250 ms on one machine.
  All five nodes (own keys, SQLite store, NATS connection, durable consumers) share one process and one
  event loop with a real embedded nats-server.

    .venv/bin/python bench/exchange.py [N] [--part all|ingest|latency] [--revisions 50] [--reps 3]
                                       [--ingest-reps 3] [--batch 256] [--workers 1]
                                       [--companies 50]

Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import gc
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # node_kit
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/verify.py

from node_kit import eventually, make_network
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo
from pcfx.node.supply import Declared, Recomputed, SupplyService

__all__ = ["ingest_throughput", "main", "onboarding_seconds", "propagation_latency"]


# ---- ingest throughput ----------------------------------------------------------------------------------
def _ingest_payloads(acme: Any, footprints: list[dict[str, Any]], n: int) -> list[bytes]:
    """`n` declarations by Acme of bench/verify.py's PACT v3 samples (cycled): the same footprint bodies the
    bare rate verifies, each with Acme's company id and a product of its own (so every one is a new version
    of a new product, none a downgrade)."""
    created = datetime.now(UTC) - timedelta(minutes=5)
    raws = []
    for i in range(n):
        fp = copy.deepcopy(footprints[i % len(footprints)])
        fp |= {
            "id": str(uuid.uuid4()),
            "created": created.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "companyName": acme.name,
            "companyIds": [acme.company_id],
            "productIds": [acme.product(f"p{i}")],
        }
        fp.pop("precedingPfIds", None)
        raws.append(
            acme.issuer.sign(fp, status_index=i, valid_from=created - timedelta(days=1), created=created)
        )
    return raws


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of another process (Linux /proc), 0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


async def ingest_throughput(
    n: int = 2000, *, reps: int = 3, batch: int = 256, workers: int = 1
) -> dict[str, Any]:
    """End-to-end ingest rate of a backlog next to bench/verify.py's bare pipeline rate, `reps` times.

    The supplier publishes all `n` declarations first (not timed); each repetition then times a fresh buyer
    node (own SQLite store, own durable consumer, `fetch_batch` = `batch`) from `subscribe` to the commit of
    the n-th verified declaration (acks sent), so the figure is the catch-up rate of a backlog already in
    JetStream: fetch -> verify -> store -> ack. Right before it, the same repetition measures the bare rate
    (`measure_verify`: the protocol pipeline alone, in memory, on the same PACT samples), so both see the
    same machine load; the ratio is taken per repetition. CPU time per declaration is printed too (this
    process, and the nats-server process during ingestion, next to the buyer's verifier alone on the same
    bytes): on a shared machine it shows the cost of bus and store apart from the time spent waiting."""
    from verify import measure_verify, prepare  # bench/verify.py

    root = Path(tempfile.mkdtemp(prefix="pcfx-bench-"))
    modes = [0, workers] if workers else [0]
    buyers = [f"Buyer{r + 1}w{w}" for r in range(reps) for w in modes]
    net = make_network(root, ["Acme", *buyers], fetch_batch=batch)
    acme = net["Acme"]
    setup = prepare()
    raws = _ingest_payloads(acme, setup["footprints"], n)
    runs: list[dict[str, float]] = []
    print(
        f"ingest: {n} declarations, {sum(map(len, raws)) / n:.0f} bytes on average; {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
        f"verify_workers=0: everything in the node's process (one core); verify_workers={workers}: "
        f"verification in {workers} worker process(es), i.e. {workers} more core(s) used"
    )
    try:
        async with EmbeddedNats(store_dir=root / "nats") as server:
            supplier = await Node.start(acme.settings, nats_url=server.url)
            for raw in raws:
                await supplier.publish(raw, verify=False)
            for index, name in enumerate(buyers):
                rep, mode = index // len(modes) + 1, modes[index % len(modes)]
                bare = measure_verify(n, reps=1, setup=setup)["pipeline"]
                settings = net[name].settings.model_copy(update={"verify_workers": mode})
                buyer = await Node.start(settings, nats_url=server.url)
                if mode:
                    # Workers started before timing (spawn + registry load, about a second, once per node).
                    buyer.verifier.open_pool()
                    await buyer.verifier.pool_started()
                worker_start = sum(_cpu_seconds(pid) for pid in buyer.verifier.pool_pids())
                # The buyer's own verifier alone on exactly the ingested bytes (with the supplier's status
                # lists, fetched first as `pcfx pull` does): CPU time per declaration without bus and store.
                await buyer._pull_status_lists(acme.did, raws[0])
                with buyer.session() as session:
                    cpu = time.process_time()
                    valid = sum(bool(buyer.verifier.verify_declaration(r, session=session).ok) for r in raws)
                    verify_cpu = (time.process_time() - cpu) / n
                if valid != n:
                    raise RuntimeError(f"only {valid} of {n} benchmark declarations verify")
                stored, done = 0, asyncio.Event()

                def count(event: Any, done: asyncio.Event = done) -> None:
                    nonlocal stored
                    stored += 1  # one event per stored declaration (no status change happens here)
                    if stored >= n:
                        done.set()

                buyer.add_listener(count)
                gc.collect()
                # PCFX_BENCH_PROFILE=FILE: a cProfile of the node process during the timed ingest only
                profile_to = os.environ.get("PCFX_BENCH_PROFILE")
                profiler = None
                if profile_to:
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                cpu, server_cpu, start = time.process_time(), _cpu_seconds(server.pid), time.perf_counter()
                await buyer.subscribe(acme.did)
                await asyncio.wait_for(done.wait(), timeout=600)
                ingest = n / (time.perf_counter() - start)
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(f"{profile_to}.w{mode}.r{rep}")
                ingest_cpu = (time.process_time() - cpu) / n
                nats_cpu = (_cpu_seconds(server.pid) - server_cpu) / n
                worker_cpu = (sum(_cpu_seconds(pid) for pid in buyer.verifier.pool_pids()) - worker_start) / n
                if mode:
                    buyer.verifier.close_pool()
                with buyer.session() as session:
                    in_store = repo.count_declarations(session, origin=Origin.RECEIVED)
                await buyer.stop()
                run = {
                    "workers": mode,
                    "worker_cpu": worker_cpu * 1e6,
                    "ingest": ingest,
                    "bare": bare,
                    "ratio": ingest / bare,
                    "ingest_cpu": ingest_cpu * 1e6,
                    "nats_cpu": nats_cpu * 1e6,
                    "verify_cpu": verify_cpu * 1e6,
                    "cpu_ratio": verify_cpu / (ingest_cpu + nats_cpu),
                }
                runs.append(run)
                print(
                    f"rep {rep} workers={mode}: ingest {ingest:6.0f}/s   bare verify {bare:6.0f}/s   "
                    f"ratio {100 * run['ratio']:5.1f}%   | CPU us/declaration: node process "
                    f"{run['ingest_cpu']:4.0f} + nats-server {run['nats_cpu']:3.0f}"
                    + (f" + worker {run['worker_cpu']:4.0f}" if mode else "")
                    + f", verifier alone {run['verify_cpu']:4.0f}   [{in_store} stored]"
                )
            await supplier.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def span(key: str, mode: int, scale: float = 1.0, fmt: str = ".0f") -> str:
        values = [r[key] * scale for r in runs if r["workers"] == mode]
        return f"{statistics.median(values):{fmt}} (min {min(values):{fmt}}, max {max(values):{fmt}})"

    print(
        f"ingest of a {n}-declaration backlog (published before timing), fetch batch {batch}, {reps} reps, "
        f"median (min, max); load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}:"
    )
    for mode in modes:
        where = "node process only" if mode == 0 else f"+ {mode} verification process(es) on other core(s)"
        print(
            f" verify_workers={mode} ({where})\n"
            f"  end-to-end ingest/s         {span('ingest', mode)}\n"
            f"  bare verify/s (one core)    {span('bare', mode)}   (bench/verify.py pipeline, same samples)\n"
            f"  ingest / bare               {span('ratio', mode, 100, '.1f')} %   goal >= 80%\n"
            f"  CPU us/declaration          node {span('ingest_cpu', mode)} + nats-server {span('nats_cpu', mode)}"
            + (f" + worker {span('worker_cpu', mode)}" if mode else "")
            + f"\n                              verifier alone {span('verify_cpu', mode)}"
        )
    return {
        "runs": runs,
        **{
            f"w{mode}": {
                key: statistics.median(r[key] for r in runs if r["workers"] == mode)
                for key in ("ingest", "bare", "ratio")
            }
            for mode in modes
        },
    }


# ---- propagation latency --------------------------------------------------------------------------------
TIERS = ["T4", "T3", "T2", "T1", "T0"]  # T4 is the raw-material supplier, T0 the final product


def _product(tier: str) -> str:
    return f"urn:pcfx:product:bench:{tier.lower()}-part"


def _inventory(tier: str, supplier_company_id: str | None, *, co2_kg: str = "1000") -> dict[str, Any]:
    """T4: 1 t of material with `co2_kg` direct CO2. T3..T0: 1 kg of part = 0.5 kg of the tier above
    (default 2 kg CO2e/kg, named supplier product) + 0.1 kg direct CO2."""
    top = supplier_company_id is None
    declared = ("1", "t") if top else ("1", "kg")
    process: dict[str, Any] = {
        "id": "make",
        "outputs": [{"flow": "part", "kind": "product", "amount": declared[0], "unit": declared[1]}],
        "emissions": [{"gas": "CO2", "amount": co2_kg if top else "0.1", "unit": "kg"}],
    }
    if not top:
        upstream = TIERS[TIERS.index(tier) - 1]
        process["inputs"] = [
            {
                "flow": "upstream part",
                "kind": "intermediate",
                "amount": "0.5",
                "unit": "kg",
                "factor": {"value": "2", "unit": "kg/kg", "source": "bench default factor", "year": 2024},
                "supplier": {"company_id": supplier_company_id, "product_id": _product(upstream)},
            }
        ]
    return {
        "product": {
            "name": f"{tier} part",
            "id": _product(tier),
            "declared_unit": {"amount": declared[0], "unit": declared[1]},
            "reference": {"process": "make", "flow": "part"},
            "mass_per_declared_unit": "1000 kg" if top else "1 kg",
            "fossil_carbon_content": "0",
        },
        "period": {"start": "2024-01-01", "end": "2025-01-01"},
        "geography": "CN",
        "processes": [process],
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class _SingleAccount:
    """Today's local layout: one embedded nats-server, one account, a registry file in every home."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = EmbeddedNats(store_dir=root / "nats")

    async def __aenter__(self) -> dict[str, Any]:
        await self.server.start()
        net = make_network(self.root, TIERS, republish_policy="auto")
        return {t: net[t].settings.model_copy(update={"nats_url": self.server.url}) for t in TIERS}

    async def __aexit__(self, *_exc: object) -> None:
        await self.server.stop()


class _Accounts:
    """The network layout: an operator-mode hub, the network service, one NATS account per company, each
    node a client of the hub with its own credentials (what `pcfx network onboard` hands over)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> dict[str, Any]:
        from pcfx.node.network.connect import network_connection, sys_connection
        from pcfx.node.network.join import join_network
        from pcfx.node.network.layout import NetworkLayout
        from pcfx.node.network.operator import init_network
        from pcfx.node.network.serve import NetworkService
        from pcfx.node.network.up import start_hub

        layout = NetworkLayout(self.root / "net")
        init_network(
            layout, port=_free_port_block(), leaf_port=_free_port_block(), route_port=_free_port_block()
        )
        hub = await start_hub(layout)
        self.stack.push_async_callback(hub.stop)
        sys_nc = await self.stack.enter_async_context(sys_connection(layout, hub.urls))
        net_nc = await self.stack.enter_async_context(network_connection(layout, hub.urls))
        service = await NetworkService(layout, urls=hub.urls).start()
        self.stack.push_async_callback(service.stop)
        settings = {}
        for n, tier in enumerate(TIERS, start=1):
            joined = await join_network(
                layout,
                self.root / "nodes" / tier.lower(),
                name=tier,
                company_id=f"urn:pcfx:uscc:91110000{n:09d}A",
                web_domain=f"{tier.lower()}.example",
                slug=tier.lower(),
                sys_nc=sys_nc,
                network_nc=net_nc,
                republish_policy="auto",
            )
            settings[tier] = joined.settings
        return settings

    async def __aexit__(self, *_exc: object) -> None:
        await self.stack.aclose()


async def propagation_latency(
    *, revisions: int = 50, reps: int = 3, warmup: int = 3, layout: str = "single"
) -> dict[str, Any]:
    """Tier-4 revision -> tier-0 new declaration published, in ms; prints per repetition and overall.
    `layout`: "single" (one embedded server, one account) or "accounts" (hub, an account per company)."""
    root = Path(tempfile.mkdtemp(prefix="pcfx-bench-chain-"))
    nodes: dict[str, Node] = {}
    services: dict[str, SupplyService] = {}
    published: dict[str, list[datetime]] = {t: [] for t in TIERS}
    network = _Accounts(root) if layout == "accounts" else _SingleAccount(root)
    tier_settings = await network.__aenter__()
    try:
        for i, tier in enumerate(TIERS):
            nodes[tier] = await Node.start(tier_settings[tier])
            services[tier] = SupplyService.attach(nodes[tier], policy="auto")
            above = tier_settings[TIERS[i - 1]].company_id if i else None
            services[tier].add_product(parse_inventory(_inventory(tier, above)))

            def record(outcome: Recomputed, tier: str = tier) -> None:
                if outcome.declared is not None:
                    published[tier].append(outcome.declared.published_at)

            services[tier].add_callback(record)
        for tier in TIERS[1:]:
            await services[tier].follow_suppliers()
        # First declarations top-down, each once its supplier's is stored.
        previous: Declared | None = None
        for i, tier in enumerate(TIERS):
            if previous is not None:
                expected, up = previous.declaration_id, TIERS[i - 1]
                await eventually(
                    lambda t=tier, e=expected, u=up: (
                        (row := nodes[t].latest(tier_settings[u].did, _product(u))) is not None
                        and row.declaration_id == e
                    ),
                    timeout=30,
                )
            previous = await services[tier].declare(_product(tier))
        runs: list[list[float]] = []
        hops: list[list[float]] = []
        for rep in range(reps):
            latencies: list[float] = []
            for r in range(warmup + revisions):
                co2 = str(1000 + rep * 1000 + r + 1)
                services["T4"].add_product(parse_inventory(_inventory("T4", None, co2_kg=co2)))
                seen = len(published["T0"])
                wall = datetime.now(UTC)
                top = await services["T4"].declare(_product("T4"))
                await eventually(lambda s=seen: len(published["T0"]) > s, timeout=30, interval=0.001)
                end = published["T0"][-1]
                if r >= warmup:
                    latencies.append((end - wall).total_seconds() * 1000)
                    marks = [top.published_at] + [published[t][-1] for t in TIERS[1:]]
                    hops.append([(b - a).total_seconds() * 1000 for a, b in itertools.pairwise(marks)])
                    hops[-1].insert(0, (top.published_at - wall).total_seconds() * 1000)
                await asyncio.sleep(0.05)  # let the tiers' deprecation messages settle (not measured)
            runs.append(latencies)
            print(
                f"rep {rep + 1}: p50 {_percentile(latencies, 50):6.1f} ms   p95 {_percentile(latencies, 95):6.1f} ms"
                f"   min {min(latencies):6.1f}   max {max(latencies):6.1f}   ({revisions} revisions)"
            )
    finally:
        for node in nodes.values():
            await node.stop()
        await network.__aexit__(None, None, None)
        shutil.rmtree(root, ignore_errors=True)
    p50s = [_percentile(r, 50) for r in runs]
    p95s = [_percentile(r, 95) for r in runs]
    every = [x for r in runs for x in r]
    names = ["T4 compute+sign+publish", "T4 -> T3 published", "T3 -> T2", "T2 -> T1", "T1 -> T0"]
    medians = [statistics.median(h[i] for h in hops) for i in range(len(names))]
    print(
        f"[{layout}] propagation T4 revision -> T0 declaration published, {reps} x {revisions} revisions: "
        f"p50 {_percentile(every, 50):.1f} ms (reps {min(p50s):.1f}..{max(p50s):.1f}), "
        f"p95 {_percentile(every, 95):.1f} ms (reps {min(p95s):.1f}..{max(p95s):.1f}); goal p50 < 250 ms"
    )
    print("median per hop (ms): " + ", ".join(f"{n} {m:.1f}" for n, m in zip(names, medians, strict=True)))
    return {"p50": _percentile(every, 50), "p95": _percentile(every, 95), "runs": runs, "hops": medians}


# ---- onboarding -----------------------------------------------------------------------------------------
async def onboarding_seconds(*, companies: int = 50) -> dict[str, Any]:
    """Seconds to admit one company on the account layout (account JWT checked, pushed and confirmed by a
    resolver lookup, node and leaf credentials, a new signed registry version published), one after the
    other into a running one-server hub; prints median, p95 and the trend as the registry grows."""
    from pcfx.node.network.connect import network_connection, sys_connection
    from pcfx.node.network.layout import NetworkLayout
    from pcfx.node.network.onboard import onboard_many
    from pcfx.node.network.operator import init_network
    from pcfx.node.network.up import start_hub

    root = Path(tempfile.mkdtemp(prefix="pcfx-bench-onboard-"))
    layout = NetworkLayout(root / "net")
    init_network(layout, port=_free_port_block(), leaf_port=_free_port_block(), route_port=_free_port_block())
    hub = await start_hub(layout)
    try:
        async with sys_connection(layout, hub.urls) as sys_nc, network_connection(layout, hub.urls) as net_nc:
            durations = await onboard_many(
                layout, companies, workdir=root / "keys", nc=sys_nc, nc_network=net_nc
            )
    finally:
        await hub.stop()
        shutil.rmtree(root, ignore_errors=True)
    ms = [d * 1000 for d in durations]
    tenth = max(1, len(ms) // 10)
    print(
        f"onboarding {companies} companies one after the other: median {statistics.median(ms):.1f} ms, "
        f"p95 {_percentile(ms, 95):.1f} ms, min {min(ms):.1f}, max {max(ms):.1f}; "
        f"first {tenth}: {statistics.median(ms[:tenth]):.1f} ms, last {tenth}: {statistics.median(ms[-tenth:]):.1f} ms"
    )
    return {"median_ms": statistics.median(ms), "p95_ms": _percentile(ms, 95), "all_ms": ms}


def _free_port_block(size: int = 3) -> int:
    import random
    import socket

    for _ in range(200):
        base = random.randrange(20000, 60000)
        ok = True
        for port in range(base, base + size):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
        if ok:
            return base
    raise RuntimeError("no free port block")


# ---- main -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=2000, help="declarations for the ingest part")
    parser.add_argument("--part", choices=["all", "ingest", "latency", "onboard"], default="all")
    parser.add_argument("--companies", type=int, default=50, help="companies onboarded (onboard part)")
    parser.add_argument(
        "--layouts", default="single,accounts", help="latency part: single (one account), accounts (hub)"
    )
    parser.add_argument("--revisions", type=int, default=50, help="revisions per repetition (latency part)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the latency part")
    parser.add_argument("--ingest-reps", type=int, default=3, help="repetitions of the ingest part")
    parser.add_argument("--batch", type=int, default=256, help="fetch batch of the ingest part")
    parser.add_argument("--workers", type=int, default=1, help="verify_workers compared with 0 (ingest part)")
    args = parser.parse_args(argv)
    if args.part in ("all", "ingest"):
        asyncio.run(ingest_throughput(args.n, reps=args.ingest_reps, batch=args.batch, workers=args.workers))
    if args.part in ("all", "latency"):
        for layout in args.layouts.split(","):
            asyncio.run(propagation_latency(revisions=args.revisions, reps=args.reps, layout=layout))
    if args.part in ("all", "onboard"):
        asyncio.run(onboarding_seconds(companies=args.companies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
