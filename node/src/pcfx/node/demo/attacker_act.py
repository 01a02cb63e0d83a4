"""The scenario's last act: a registered company turns attacker. Against the network it tries to publish under
the battery maker's subject (node and leaf credentials), to read and open the copper smelter's buyer-only
declaration, and to purge and delete the battery maker's stream and consumers (`attacks`); on its own
subjects it publishes a forged battery-maker declaration and a tampered one of its own, which the handset
maker (following it as a prospective supplier) rejects into quarantine."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from pcfx.node.demo.attacks import (
    delete_victims_stream,
    open_obtained_copy,
    publish_as_victim,
    publish_in_own_account,
    read_buyer_only,
)
from pcfx.node.demo.checks import Sent, collect_rejections, store_changes, store_snapshot, stores_line
from pcfx.node.demo.facts import DemoFacts, Rejection
from pcfx.node.demo.forgery import forge_declaration, own_footprint, tamper
from pcfx.node.demo.network import DemoNetwork
from pcfx.node.demo.report import quarantine_table, refusal_table
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.protocol.subjects import decl_subject
from rich.console import Console

__all__ = ["AttackerAct"]

HANDSET, BATTERY, COPPER, ATTACKER = "mobile-handset", "li-ion-battery", "cathode-copper", "attacker"
FORGED_TOTAL, TAMPERED_TOTAL = "40", "1"
#: Why the handset maker must reject each: the forgery names the battery maker as issuer on the attacker's
#: subject; the edited declaration's proof no longer covers its bytes.
FORGED_REASON, TAMPERED_REASON = "subject names another issuer", "bad signature"


class AttackerAct:
    """The attacker's moves on the running demo network (see the module docstring)."""

    def __init__(
        self,
        net: DemoNetwork,
        nodes: dict[str, Node],
        *,
        urls: list[str],
        console: Console,
        say: Callable[[str], None],
    ) -> None:
        self.net, self.nodes, self.urls, self.console, self.say = net, nodes, urls, console, say

    async def run(self, facts: DemoFacts, *, genuine_battery: str) -> None:
        """Every move; the refusals, rejections and whether the handset maker's store is unchanged go to
        `facts`. `genuine_battery`: the battery maker's current declaration id."""
        battery, copper, attacker = self.net[BATTERY], self.net[COPPER], self.net.attacker
        handset_node, battery_node, attacker_node = (self.nodes[k] for k in (HANDSET, BATTERY, ATTACKER))
        with battery_node.session() as session:
            row = repo.get_declaration(session, declaration_id=genuine_battery)
        assert row is not None
        template = json.loads(row.raw)
        forged = forge_declaration(template, issuer=battery.did, total=FORGED_TOTAL)
        on_battery = decl_subject(battery.did, battery.product_id)
        self.say(
            f"[bold]the attacker[/bold]: {attacker.name}, a registered company with its own account and "
            f"credentials, forges a {battery.short_name} declaration ({FORGED_TOTAL} kg CO2e/kWh, signed with a "
            f"key not in the registry) and goes after the network"
        )
        # what the moves must leave alone: every store but the attacker's, compared once the moves are over
        bystanders = {self.net[k].short_name: node for k, node in self.nodes.items() if k != ATTACKER}
        before = {name: store_snapshot(node.engine) for name, node in bystanders.items()}
        refusals = [
            await publish_as_victim(
                self.urls, attacker, on_battery, forged, watcher=handset_node, victim=battery.short_name
            ),
            await publish_in_own_account(
                self.urls,
                attacker,
                on_battery,
                forged,
                own=attacker_node,
                watcher=handset_node,
                victim=battery.short_name,
            ),
        ]
        facts.rejections = await self._forgeries(template, forged)
        pair = f"{copper.short_name} -> {battery.short_name}"
        refusals.append(
            await read_buyer_only(
                attacker_node, copper, buyer=battery_node, buyer_account=battery.account, victim=pair
            )
        )
        opened, ciphertext = await open_obtained_copy(
            attacker,
            copper,
            copper.product_id,
            buyer=battery_node,
            buyer_account=battery.account,
            victim=pair,
        )
        refusals.append(opened)
        facts.buyer_only.operator_sees_ciphertext = ciphertext
        refusals.append(
            await delete_victims_stream(self.urls, attacker, victim=battery_node, name=battery.short_name)
        )
        facts.refusals = refusals
        self.console.print(refusal_table(refusals))
        self.console.print(quarantine_table(facts.rejections))
        facts.store_changes = store_changes(
            before, {name: store_snapshot(node.engine) for name, node in bystanders.items()}
        )
        latest = handset_node.latest(battery.did, battery.product_id)
        uses_genuine = latest is not None and latest.declaration_id == genuine_battery
        facts.store_unchanged = uses_genuine and not facts.store_changes
        self.say(stores_line(sorted(before), facts.store_changes))
        if uses_genuine:
            self.say(
                f"{self.net[HANDSET].short_name} still uses {battery.short_name}'s genuine declaration "
                f"{genuine_battery}; the attacker's moves stayed in its own account"
            )
        else:
            self.say(
                f"[red]{self.net[HANDSET].short_name} no longer uses {battery.short_name}'s genuine "
                f"declaration {genuine_battery}[/red]"
            )

    async def _forgeries(self, template: dict[str, object], forged: bytes) -> list[Rejection]:
        """On its own subjects: the forged battery-maker declaration, and a declaration of its own signed with
        its registered key, then edited. The handset maker follows the attacker and quarantines both; each
        rejection is labelled from what was sent (`checks.collect_rejections`)."""
        battery, attacker = self.net[BATTERY], self.net.attacker
        handset, attacker_node = self.nodes[HANDSET], self.nodes[ATTACKER]
        subject = template["credentialSubject"]
        assert isinstance(subject, dict)
        own_product = f"urn:pcfx:product:{attacker.uscc}:lfp-pack"
        genuine = attacker_node.sign(
            own_footprint(
                subject, company_name=attacker.name, company_id=attacker.company_id, product_id=own_product
            )
        )
        moves = {
            decl_subject(attacker.did, battery.product_id): Sent(
                f"forged {battery.short_name} declaration on its own subject",
                forged,
                expected=FORGED_REASON,
            ),
            decl_subject(attacker.did, own_product): Sent(
                f"its own declaration, total edited to {TAMPERED_TOTAL} after signing",
                tamper(genuine, total=TAMPERED_TOTAL),
                expected=TAMPERED_REASON,
            ),
        }
        for on, sent in moves.items():
            await attacker_node.js.publish(
                on, sent.raw, headers={"Nats-Msg-Id": f"demo-attack-{uuid.uuid4()}"}
            )
        return await collect_rejections(handset.engine, self.net[HANDSET].short_name, list(moves.values()))
