"""The `pcfx demo` scenario on the real network layout: an operator-mode hub and the network service started
by the demo, each company onboarded with its own NATS account and credentials (the copper smelter behind its
own leaf node), exchanging signed declarations along lime -> steel; industrial silicon; cathode copper; flat
glass -> lithium-ion battery -> mobile handset; the copper smelter declares to the battery maker only.

Each company is a full node (own keys, own SQLite store, own account and durable consumers); nodes talk only
through the hub. The scenario prints progress lines and rich tables (`report`) and returns `DemoFacts`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pcfx.node.cli.output import num
from pcfx.node.demo.attacker_act import AttackerAct
from pcfx.node.demo.facts import DemoFacts, Rejection, Step
from pcfx.node.demo.network import CHAIN, DemoNetwork, build_network, revised
from pcfx.node.demo.operator import DemoOperator
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
from pcfx.node.demo.waiting import until
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.node.supply import Declared, Recomputed, SupplyService
from pcfx.node.supply.resolve import purchased_inputs
from rich.console import Console
from rich.markup import escape

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
    """Run the whole scenario: the network directory under `root/network`, node homes under `root/nodes`."""
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
        operator = await DemoOperator.start(self.root / "network")
        try:
            network = self.facts.network
            network.hub_url, network.hub_pid = operator.hub.urls[0], operator.hub_pid
            say(
                f"network operator: hub nats-server {network.hub_url} in operator mode (JWT accounts, full "
                f"resolver, JetStream domain hub, pid {network.hub_pid}); network service up "
                "(trust registry feed, follow service)"
            )
            self.net = await build_network(self.root / "nodes", operator)
            self._onboarded(self.net)
            await self._start_nodes()
            await self._follow()
            await self._publish_chain()
            await self._compare_handset()
            self._buyer_only()
            await self._revise()
            act = AttackerAct(self.net, self.nodes, urls=operator.hub.urls, console=self.console, say=say)
            await act.run(self.facts, genuine_battery=self.declared[BATTERY].declaration_id)
        finally:
            for node in self.nodes.values():
                with contextlib.suppress(Exception):
                    await node.stop()
            await operator.stop()
        self.facts.seconds = time.monotonic() - self.clock.start
        print_summary(self.console, self.facts)
        return self.facts

    def _onboarded(self, net: DemoNetwork) -> None:
        self.facts.companies = len(net.companies)
        self.facts.network.accounts = {
            c.short_name: c.account for c in [*net.companies.values(), net.attacker]
        }
        self.facts.network.registry_version = net.registry_version
        self.clock.say(
            f"{len(self.facts.network.accounts)} companies onboarded, each with its own node home (Ed25519 key, "
            "did:web, SQLite store), NATS account, node and leaf credentials, and trust-registry entry "
            f"(with its key-agreement key and account); registry v{net.registry_version} signed by the operator"
        )
        self.console.print(registry_table(net))

    async def _start_nodes(self) -> None:
        for key in CHAIN:
            company = self.net[key]
            node = await Node.start(company.settings)
            service = SupplyService.attach(node)
            service.add_product(company.product)
            self.nodes[key], self.services[key] = node, service
        self.nodes["attacker"] = await Node.start(self.net.attacker.settings)
        self.facts.nodes = len(self.nodes)
        copper, leaf = self.net[COPPER], self.nodes[COPPER]
        assert leaf.embedded is not None, "the copper smelter runs its own leaf node"
        self.facts.network.leaf_company = copper.short_name
        self.facts.network.leaf_domain = copper.settings.local_domain
        self.facts.network.leaf_pid = leaf.embedded.pid
        self.clock.say(
            f"{len(self.nodes)} nodes running, republish policy auto: {len(self.nodes) - 1} connect to the hub "
            f"with their own node credentials; {copper.short_name} runs its own leaf node (nats-server pid "
            f"{leaf.embedded.pid}, JetStream domain {copper.settings.local_domain}) linked to its account"
        )

    async def _follow(self) -> None:
        follows = []
        for key in CHAIN:
            names = await self.services[key].follow_suppliers()
            if names:
                suppliers = sorted(
                    {
                        self.net.by_company_id(i.supplier.company_id or "").short_name  # type: ignore[union-attr]
                        for i in purchased_inputs(self.net[key].product)
                        if self.net.by_company_id(i.supplier.company_id or "") is not None
                    }
                )
                follows.append(f"{self.net[key].short_name} <- {', '.join(suppliers)}")
        copper, attacker = self.net[COPPER], self.net.attacker
        # The attacker follows the copper smelter like any buyer; the handset maker tries the attacker as a
        # prospective supplier: both follows are granted (the attacker is a registered company).
        await self.nodes["attacker"].subscribe(copper.did, copper.product_id)
        await self.nodes[HANDSET].subscribe(attacker.did)
        follows += [
            f"{attacker.short_name} <- {copper.short_name}",
            f"{self.net[HANDSET].short_name} <- {attacker.short_name}",
        ]
        self.clock.say(
            "each follow granted by the network's follow service (imports into the buyer's account), then a "
            "durable consumer: " + "; ".join(follows)
        )

    # ---- publishing up the chain -----------------------------------------------------------------------
    def _expected(self, key: str) -> dict[tuple[str, str], str]:
        """(supplier DID, product) -> the supplier's newest own declaration id, for suppliers in the demo that
        declared to this company (publicly or to it by name)."""
        wanted: dict[tuple[str, str], str] = {}
        for item in purchased_inputs(self.net[key].product):
            supplier = self.net.by_company_id(item.supplier.company_id or "")
            if supplier is None or supplier.key not in self.declared:
                continue
            declared = self.declared[supplier.key]
            if declared.buyers and self.net[key].did not in declared.buyers:
                continue
            wanted[(supplier.did, item.supplier.product_id)] = declared.declaration_id
        return wanted

    async def _received(self, key: str) -> None:
        node, wanted = self.nodes[key], self._expected(key)

        def done() -> bool:
            return all(
                (row := node.latest(did, pid)) is not None and row.declaration_id == expected
                for (did, pid), expected in wanted.items()
            )

        await until(done, f"{self.net[key].short_name} to receive its suppliers' declarations")

    async def _publish_chain(self) -> None:
        battery = self.net[BATTERY]
        for tier in TIERS:
            for key in tier:
                await self._received(key)
                company = self.net[key]
                to = [battery.did] if key == COPPER else None
                declared = await self.services[key].declare(company.product_id, to=to)
                self.declared[key] = declared
                used = sum(
                    1 for i in self.services[key].compute(company.product_id).inputs if i.value is not None
                )
                where = (
                    f"sealed to {battery.short_name} only (its key-agreement key, its account's branch)"
                    if declared.buyers
                    else "published"
                )
                self.clock.say(
                    f"{company.short_name} declared {company.product.product.name.split(' (')[0]}: "
                    f"{num(declared.total, 2)} kg CO2e / {unit_label(company)}"
                    f"{f' ({used} supplier value(s) used)' if used else ''}, signed and {where} "
                    f"[dim]{declared.declaration_id}[/dim]"
                )
        await self._received(HANDSET)
        self.clock.say(
            "the handset maker has verified and stored every declaration its suppliers published to it"
        )

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
        battery = self.services[BATTERY].compute(self.net[BATTERY].product_id)
        sealed = frozenset({self.declared[COPPER].declaration_id})
        self.console.print(verification_table(self.net, BATTERY, battery, sealed=sealed))

    def _buyer_only(self) -> None:
        copper, battery = self.net[COPPER], self.net[BATTERY]
        declared = self.declared[COPPER]
        facts = self.facts.buyer_only
        facts.supplier, facts.buyer, facts.declaration_id = (
            copper.short_name,
            battery.short_name,
            declared.declaration_id,
        )
        inputs = self.services[BATTERY].compute(battery.product_id).inputs
        facts.buyer_used = any(
            i.source == "supplier-declaration" and i.declaration_id == declared.declaration_id for i in inputs
        )
        for key in (HANDSET, "attacker"):
            company = self.net.attacker if key == "attacker" else self.net[key]
            facts.others_received[company.short_name] = (
                self.nodes[key].latest(copper.did, copper.product_id) is not None
            )
        self.clock.say(
            f"buyer-only: {battery.short_name} opened, verified and used {copper.short_name}'s sealed "
            f"declaration; {' and '.join(facts.others_received)} (both follow {copper.short_name}) received "
            "none of it, so the handset maker uses a default for its copper"
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
            return any(k == HANDSET and battery & set(o.triggers or (o.trigger,)) for _, k, o in steps)

        self.services[BATTERY].add_callback(watcher(BATTERY))
        self.services[HANDSET].add_callback(watcher(HANDSET))
        factor, value = REVISION
        self.clock.say(
            f"[bold]{copper.short_name} revises its declaration[/bold] (still to {battery.short_name} only): "
            f"copper concentrate from a mine with mine-specific data, {value} instead of the 350 kg CO2e/t "
            "default (illustrative)"
        )
        before_battery = self.declared[BATTERY].total
        self.services[COPPER].add_product(revised(copper.product, factor, value))
        start, wall = time.monotonic(), datetime.now(UTC)
        revision = await self.services[COPPER].declare(copper.product_id)
        published_ms = (revision.published_at - wall).total_seconds() * 1000
        await until(handset_done, "the revision to reach the handset")
        previous = self.declared[COPPER]
        self.declared[COPPER] = revision
        self.facts.propagation.append(
            Step(
                0.0,
                copper.short_name,
                f"signs, seals and publishes its revision through its leaf node (acked after {published_ms:.0f} ms)",
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
