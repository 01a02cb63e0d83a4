"""The `pcfx demo` scenario: real company nodes on one embedded nats-server exchange signed declarations
along lime -> steel; industrial silicon; cathode copper; flat glass -> lithium-ion battery -> mobile handset.

Each company is a full node (own keys, own SQLite store, own NATS connection and durable consumers); nodes
talk only through the bus. The scenario prints progress lines and rich tables (`report`) and returns
`DemoFacts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.cli.output import num
from pcfx.node.demo.facts import DemoFacts, Rejection, Step
from pcfx.node.demo.forgery import forge_declaration
from pcfx.node.demo.network import CHAIN, build_network, revised
from pcfx.node.demo.report import (
    Clock,
    comparison_table,
    print_summary,
    propagation_table,
    registry_table,
    short_id,
    unit_label,
    verification_table,
)
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.node.supply import Declared, Recomputed, SupplyService
from pcfx.node.supply.resolve import purchased_inputs
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["DemoFacts", "Rejection", "Step", "run_demo"]

#: Upstream first: a tier publishes once every supplier it names (inside the demo) has been received.
TIERS = (
    ("lime", "ferroalloy", "industrial-silicon", "cathode-copper", "flat-glass"),
    ("steel-bf-bof",),
    ("li-ion-battery",),
)
HANDSET, BATTERY, COPPER = "mobile-handset", "li-ion-battery", "cathode-copper"
#: The supplier revision: the copper smelter replaces its default concentrate factor with mine-specific data.
REVISION = ("demo-copper-concentrate", "250")
WAIT = 20.0


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    # Node internals log reconnects and fallbacks; the demo tells its own story unless asked.
    logger = logging.getLogger("pcfx")
    level = logger.level
    if not verbose:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def run_demo(root: Path, *, console: Console, verbose: bool = False) -> DemoFacts:
    """Run the whole scenario with node homes and the NATS store under `root`."""
    with _quiet(verbose):
        return await _Demo(root, console).run()


class _Demo:
    def __init__(self, root: Path, console: Console) -> None:
        self.root, self.console = root, console
        self.clock = Clock(console)
        self.facts = DemoFacts()
        self.nodes: dict[str, Node] = {}
        self.services: dict[str, SupplyService] = {}
        self.declared: dict[str, Declared] = {}

    # ---- lifecycle -----------------------------------------------------------------------------------
    async def run(self) -> DemoFacts:
        say = self.clock.say
        say(
            "[bold]pcfx demo[/bold] - all companies, inventories and default factors are [bold]ILLUSTRATIVE[/bold] "
            "demo data (pcfx example inventories), not real plants or published figures."
        )
        server = EmbeddedNats(store_dir=self.root / "nats", server_name="pcfx-demo")
        url = await server.start()
        say(f"embedded nats-server {url} (JetStream, pid {server.pid})")
        try:
            self.net = await asyncio.to_thread(build_network, self.root / "nodes")
            self.facts.companies = len(self.net.companies)
            say(
                f"{len(self.net.companies)} company node homes created (own Ed25519 key, did:web, SQLite store); "
                f"trust registry v1 signed by the demo network operator {self.net.operator_did[:32]}…"
            )
            self.console.print(registry_table(self.net))
            await self._start_nodes(url)
            await self._publish_chain()
            await self._compare_handset()
            await self._revise()
            await self._attack(url)
        finally:
            for node in self.nodes.values():
                with contextlib.suppress(Exception):
                    await node.stop()
            await server.stop()
        self.facts.seconds = time.monotonic() - self.clock.start
        print_summary(self.console, self.facts)
        return self.facts

    async def _start_nodes(self, url: str) -> None:
        for key in CHAIN:
            company = self.net[key]
            node = await Node.start(company.settings, nats_url=url)
            service = SupplyService.attach(node)
            service.add_product(company.inventory)
            self.nodes[key], self.services[key] = node, service
        self.clock.say(
            f"{len(self.nodes)} nodes running, each with its own NATS connection, responder and store; "
            "republish policy: auto"
        )
        follows = []
        for key in CHAIN:
            names = await self.services[key].follow_suppliers()
            if names:
                suppliers = sorted(
                    {
                        self.net.by_company_id(i.supplier.company_id or "").short_name  # type: ignore[union-attr]
                        for i in purchased_inputs(self.net[key].inventory)
                        if self.net.by_company_id(i.supplier.company_id or "") is not None
                    }
                )
                follows.append(f"{self.net[key].short_name} <- {', '.join(suppliers)}")
        self.clock.say("durable subscriptions: " + "; ".join(follows))

    # ---- publishing up the chain -----------------------------------------------------------------------
    def _expected(self, key: str) -> dict[tuple[str, str], str]:
        """(supplier DID, product) -> the supplier's newest own declaration id, for suppliers in the demo."""
        wanted: dict[tuple[str, str], str] = {}
        for item in purchased_inputs(self.net[key].inventory):
            supplier = self.net.by_company_id(item.supplier.company_id or "")
            if supplier is None or supplier.key not in self.declared:
                continue
            wanted[(supplier.did, item.supplier.product_id)] = self.declared[supplier.key].declaration_id
        return wanted

    async def _received(self, key: str) -> None:
        node, wanted = self.nodes[key], self._expected(key)

        def done() -> bool:
            return all(
                (row := node.latest(did, pid)) is not None and row.declaration_id == expected
                for (did, pid), expected in wanted.items()
            )

        await _until(done, f"{self.net[key].short_name} to receive its suppliers' declarations")

    async def _publish_chain(self) -> None:
        for tier in TIERS:
            for key in tier:
                await self._received(key)
                company = self.net[key]
                declared = await self.services[key].declare(company.product_id)
                self.declared[key] = declared
                used = sum(
                    1 for i in self.services[key].compute(company.product_id).inputs if i.value is not None
                )
                self.clock.say(
                    f"{company.short_name} declared {company.inventory.product.name.split(' (')[0]}: "
                    f"{num(declared.total, 2)} kg CO2e / {unit_label(company)}"
                    f"{f' ({used} supplier value(s) used)' if used else ''}, signed and published "
                    f"[dim]{declared.declaration_id}[/dim]"
                )
        await self._received(HANDSET)
        self.clock.say("the handset maker has verified and stored every declaration its suppliers published")

    # ---- the handset: defaults vs supplier values --------------------------------------------------------
    async def _compare_handset(self) -> None:
        handset = self.services[HANDSET]
        pid = self.net[HANDSET].product_id
        default = handset.compute(pid, use_suppliers=False)
        specific = handset.compute(pid)
        self.facts.handset_default, self.facts.handset_supplier = default.total, specific.total
        self.console.print(comparison_table(default, specific))
        from pcfx.node.cli.supply_cmd import totals_table

        self.console.print(
            totals_table(
                [("default factors", default), ("supplier-specific values", specific)],
                title=f"{self.net[HANDSET].short_name}: handset footprint (kg CO2e per handset, cradle-to-gate)",
            )
        )
        self.console.print(verification_table(self.net, HANDSET, specific))
        self.console.print(
            verification_table(
                self.net, BATTERY, self.services[BATTERY].compute(self.net[BATTERY].product_id)
            )
        )

    # ---- a supplier revision propagates ----------------------------------------------------------------
    async def _revise(self) -> None:
        copper, battery, handset = self.net[COPPER], self.net[BATTERY], self.net[HANDSET]
        steps: list[tuple[float, str, Recomputed]] = []
        start = 0.0

        def watcher(key: str) -> Callable[[Recomputed], None]:
            def record(outcome: Recomputed) -> None:
                steps.append(((time.monotonic() - start) * 1000, key, outcome))

            return record

        def handset_done() -> bool:
            # the handset has recomputed on a battery version published after the revision
            battery = {o.declared.declaration_id for _, k, o in steps if k == BATTERY and o.declared}
            return any(k == HANDSET and o.trigger in battery for _, k, o in steps)

        self.services[BATTERY].add_callback(watcher(BATTERY))
        self.services[HANDSET].add_callback(watcher(HANDSET))
        factor, value = REVISION
        self.clock.say(
            f"[bold]{copper.short_name} revises its declaration[/bold]: copper concentrate from a mine with "
            f"mine-specific data, {value} instead of the 350 kg CO2e/t default (illustrative)"
        )
        before_battery = self.declared[BATTERY].total
        self.services[COPPER].add_product(revised(copper.inventory, factor, value))
        start, wall = time.monotonic(), datetime.now(UTC)
        revision = await self.services[COPPER].declare(copper.product_id)
        published_ms = (revision.published_at - wall).total_seconds() * 1000
        await _until(handset_done, "the revision to reach the handset")
        previous = self.declared[COPPER]
        self.declared[COPPER] = revision
        self.facts.propagation.append(
            Step(
                0.0,
                copper.short_name,
                f"signs and publishes its revision (JetStream ack + KV after {published_ms:.0f} ms)",
                previous.total,
                revision.total,
                revision.declaration_id,
            )
        )
        for at_ms, key, outcome in steps:
            trigger = self.net.by_did(self._issuer_of(key, outcome.trigger))
            action = {
                "republished": "republished",
                "recorded": "result recorded (product not declared)",
                "held": "held for review",
                "unchanged": "unchanged",
            }[outcome.action]
            what = f"recomputed on {trigger.short_name if trigger else 'a supplier'}'s new version, {action}"
            declaration = None
            if outcome.declared is not None:
                declaration = outcome.declared.declaration_id
                at_ms = (outcome.declared.published_at - wall).total_seconds() * 1000
            self.facts.propagation.append(
                Step(
                    at_ms, self.net[key].short_name, what, outcome.previous_total, outcome.total, declaration
                )
            )
        self.facts.propagation.sort(key=lambda step: step.at_ms)
        self.console.print(propagation_table(self.facts.propagation))
        battery_outcome = next(o for _, k, o in steps if k == BATTERY and o.declared is not None)
        self.facts.battery_before, self.facts.battery_after = before_battery, battery_outcome.total
        self.facts.handset_after_revision = self.services[HANDSET].compute(handset.product_id).total
        assert battery_outcome.declared is not None
        deprecated = (
            f"; its previous declaration {short_id(battery_outcome.declared.deprecated)} is Deprecated (status list "
            "re-signed and published)"
            if battery_outcome.declared.deprecated
            else ""
        )
        self.clock.say(
            f"{battery.short_name} republished {num(before_battery)} -> {num(battery_outcome.total)} kg CO2e/kWh "
            f"with precedingPfIds {escape(repr([self.declared[BATTERY].footprint_id]))}{deprecated}"
        )
        self.clock.say(
            f"{handset.short_name} recomputed: {num(self.facts.handset_supplier)} -> "
            f"{num(self.facts.handset_after_revision)} kg CO2e per handset"
        )
        self.declared[BATTERY] = battery_outcome.declared

    def _issuer_of(self, key: str, declaration_id: str) -> str:
        with self.nodes[key].session() as session:
            row = repo.get_declaration(session, declaration_id=declaration_id)
        return row.issuer if row is not None else ""

    # ---- forged and tampered declarations ----------------------------------------------------------------
    async def _attack(self, url: str) -> None:
        import nats
        from pcfx.protocol.subjects import decl_subject

        copper = self.net[COPPER]
        genuine = self.nodes[COPPER]
        with genuine.session() as session:
            row = repo.get_declaration(session, declaration_id=self.declared[COPPER].declaration_id)
        assert row is not None
        subject = decl_subject(copper.did, copper.product_id)
        forged = forge_declaration(json.loads(row.raw), issuer=copper.did)
        tampered = json.loads(row.raw)
        tampered["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "500"
        from pcfx.protocol.canonical import canonicalize

        self.clock.say(
            f"[bold]an attacker[/bold] with a plain NATS connection publishes on {copper.short_name}'s subject: "
            "(1) a declaration claiming to be theirs, 500 kg CO2e/t, signed with a key not in the registry; "
            "(2) their genuine declaration with the total edited to 500"
        )
        attacker = await nats.connect(url, name="demo attacker")
        try:
            js = attacker.jetstream()
            await js.publish(subject, forged, headers={"Nats-Msg-Id": f"forged-{uuid.uuid4()}"})
            await js.publish(
                subject, canonicalize(tampered), headers={"Nats-Msg-Id": f"tampered-{uuid.uuid4()}"}
            )
        finally:
            await attacker.drain()
        receivers = [BATTERY, HANDSET]

        def quarantined(key: str) -> list[Any]:
            with self.nodes[key].session() as session:
                return repo.list_quarantine(session, limit=10)

        await _until(lambda: all(len(quarantined(k)) >= 2 for k in receivers), "the forgeries to be rejected")
        table = Table(title="Rejected into quarantine (never used)", title_justify="left")
        for column in ("receiving node", "message", "reason", "detail"):
            table.add_column(column)
        for key in receivers:
            for q in sorted(quarantined(key), key=lambda r: r.id or 0):
                attack = "forged (wrong key)" if q.reason != "bad signature" else "tampered (edited total)"
                self.facts.rejections.append(
                    Rejection(self.net[key].short_name, attack, q.reason, q.detail or "")
                )
                table.add_row(
                    self.net[key].short_name, attack, f"[red]{q.reason}[/red]", short_id(q.detail, 90)
                )
        self.console.print(table)
        still = [
            (r := self.nodes[k].latest(copper.did, copper.product_id)) is not None
            and r.declaration_id == self.declared[COPPER].declaration_id
            for k in receivers
        ]
        self.facts.store_unchanged = all(still)
        self.clock.say(
            f"stores unchanged: {' and '.join(self.net[k].short_name for k in receivers)} still use "
            f"{copper.short_name}'s genuine declaration {short_id(self.declared[COPPER].declaration_id)}"
        )


async def _until(check: Callable[[], bool], what: str, *, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
