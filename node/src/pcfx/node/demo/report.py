"""What `pcfx demo` prints besides its story lines: timestamped progress, the registry, comparison,
verification, propagation, refusal and quarantine tables, and the closing summary."""

from __future__ import annotations

import time

from pcfx.node.cli.output import num, short
from pcfx.node.demo.facts import DemoFacts, Refusal, Rejection, Step
from pcfx.node.demo.network import DemoCompany, DemoNetwork
from pcfx.node.supply import Computation
from rich.console import Console
from rich.table import Table

__all__ = [
    "Clock",
    "comparison_table",
    "print_summary",
    "propagation_table",
    "quarantine_table",
    "refusal_table",
    "registry_table",
    "short_id",
    "unit_label",
    "verification_table",
]


class Clock:
    """Progress lines, each stamped with the seconds since the demo started."""

    def __init__(self, console: Console) -> None:
        self.console, self.start = console, time.monotonic()

    def say(self, message: str) -> None:
        self.console.print(f"[dim]{time.monotonic() - self.start:5.1f}s[/dim]  {message}")


def unit_label(company: DemoCompany) -> str:
    """The declared unit of `company`'s product (with its amount unless 1)."""
    unit = company.product.product.declared_unit
    return unit.unit if unit.amount == 1 else f"{unit.amount} {unit.unit}"


def short_id(text: str | None, keep: int = 26) -> str:
    """A long id shortened for a table cell."""
    return short(text, keep)


def registry_table(net: DemoNetwork) -> Table:
    """The companies onboarded: trust-registry entry, NATS account and how each node connects."""
    table = Table(
        title=f"Onboarded companies: trust registry v{net.registry_version} (signed by the network operator "
        f"{short_id(net.operator_did, 30)}), one NATS account each",
        title_justify="left",
    )
    for column in ("company (fictitious)", "company id (USCC)", "DID", "NATS account", "node", "product"):
        table.add_column(column)
    for company in [*net.companies.values(), net.attacker]:
        table.add_row(
            company.name,
            company.company_id,
            company.did,
            short_id(company.account, 16),
            "leaf node" if company.joined.leaf else "hub client",
            company.inventory.product.name.split(" (")[0]
            if company.inventory
            else "[red](turns attacker)[/red]",
        )
    return table


def comparison_table(default: Computation, specific: Computation) -> Table:
    """The handset's purchased inputs: default factors against the supplier-specific values."""
    table = Table(
        title=f"{default.product_name}: purchased inputs, default factors vs supplier-specific values "
        "(kg CO2e per handset)",
        title_justify="left",
    )
    for column, justify in (
        ("input", "left"),
        ("amount", "right"),
        ("default", "right"),
        ("supplier-specific", "right"),
        ("change", "right"),
        ("value used", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    after = {c.key: c for c in specific.result.by_input}
    flows = [c.flow for c in default.result.by_input if c.source is not None]
    for c in default.result.by_input:
        if c.source is None:
            continue
        label = c.flow or c.key
        if flows.count(c.flow) > 1:
            label = f"{c.flow} ({c.process})"
        new = after[c.key]
        used = new.source.source if new.source else ""
        value_used = (
            f"[green]supplier declaration {short_id(new.source.declaration_id, 18)}[/green]"
            if new.source and used == "supplier-declaration"
            else f"default {new.factor_id or used}"
        )
        table.add_row(
            label,
            f"{num(c.amount)} {c.unit}",
            num(c.co2e),
            num(new.co2e),
            num(new.co2e - c.co2e) if new.co2e != c.co2e else "",
            value_used,
        )
    table.add_row(
        "[bold]total[/bold]",
        "",
        f"[bold]{num(default.total)}[/bold]",
        f"[bold]{num(specific.total)}[/bold]",
        num(specific.total - default.total),
        "",
    )
    return table


def verification_table(
    net: DemoNetwork, key: str, computation: Computation, *, sealed: frozenset[str] = frozenset()
) -> Table:
    """How each of `key`'s supplier inputs was verified (or why a default factor stands in); `sealed`: the
    declaration ids that reached it buyer-only."""
    registry = net.registry
    legal = {e["did"]: e["legalName"] for e in registry["entries"]}
    table = Table(
        title=f"Verification of {net[key].short_name}'s supplier inputs (verify before use)",
        title_justify="left",
    )
    for column in (
        "input",
        "supplier (issuer)",
        "outcome",
        "declaration",
        "issuer key",
        "registry",
        "verified at",
    ):
        table.add_column(column)
    for item in computation.inputs:
        company_id = (item.supplier or "").split("/")[0]
        supplier = net.by_company_id(company_id)
        name = supplier.name if supplier else f"{company_id} (fictitious, no node)"
        if item.source == "supplier-declaration" and item.receipt is not None:
            table.add_row(
                item.flow,
                f"{legal.get(item.issuer or '', name)}\n[dim]{item.issuer}[/dim]",
                "[green]verified, used[/green]"
                + ("\n[cyan]buyer-only: opened with its key[/cyan]" if item.declaration_id in sealed else ""),
                short_id(item.declaration_id),
                "#" + short_id((item.receipt.key_id or "").split("#")[-1], 16),
                f"v{item.receipt.registry_version}",
                f"{item.receipt.verified_at:%H:%M:%S.%f}"[:-3],
            )
        else:
            reason = item.reason or ""
            if reason.startswith("company "):
                reason = "supplier not in the trust registry" + reason.rsplit("trust registry", 1)[-1]
            table.add_row(
                item.flow,
                name,
                f"[yellow]default factor[/yellow] {item.default_factor_id}: {reason}",
                "-",
                "-",
                "-",
                "-",
            )
    return table


def propagation_table(steps: list[Step]) -> Table:
    """The revision's hops down the chain (`steps` in time order)."""
    table = Table(title="A supplier revision propagating down the chain", title_justify="left")
    for column, justify in (
        ("+ms", "right"),
        ("company", "left"),
        ("what happened", "left"),
        ("kg CO2e before", "right"),
        ("after", "right"),
        ("new declaration", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for step in steps:
        table.add_row(
            f"{step.at_ms:.0f}",
            step.company,
            step.what,
            num(step.before),
            num(step.after),
            short_id(step.declaration_id) if step.declaration_id else "-",
        )
    return table


def refusal_table(refusals: list[Refusal]) -> Table:
    """The attacker's moves against the network and what each got."""
    table = Table(
        title="The attacker's moves on the network layout (refused or confined)", title_justify="left"
    )
    for column in ("move", "what the attacker got", "aimed at", "victim unchanged"):
        table.add_column(column)
    for r in refusals:
        unchanged = "[green]yes[/green]" if r.victim_unchanged else "[red]NO[/red]"
        table.add_row(r.attack, r.outcome, r.victim, unchanged)
    return table


def quarantine_table(rejections: list[Rejection]) -> Table:
    """The attacker's messages to a buyer (labelled by what was sent) and the reasons the buyer rejected them
    for; a reason other than the expected one is flagged."""
    table = Table(title="Rejected into quarantine (never used)", title_justify="left")
    for column in ("receiving node", "message sent", "reason", "as expected", "detail"):
        table.add_column(column)
    for r in rejections:
        verdict = "[green]yes[/green]" if r.as_expected else f"[red]NO: expected {r.expected}[/red]"
        table.add_row(r.company, r.attack, f"[red]{r.reason}[/red]", verdict, short_id(r.detail, 90))
    return table


def print_summary(console: Console, f: DemoFacts) -> None:
    """The closing line: the handset figures and what was refused or rejected."""
    rejected = ", ".join(sorted({f"{r.attack}: {r.reason}" for r in f.rejections}))
    confined = sum(1 for r in f.refusals if r.victim_unchanged)
    console.print(
        f"\n[bold]Summary[/bold] ({f.nodes} nodes on one hub, {len(f.network.accounts)} company accounts, "
        f"{f.seconds:.1f} s): handset {num(f.handset_default)} kg CO2e with default factors -> "
        f"{num(f.handset_supplier)} with verified supplier values -> {num(f.handset_after_revision)} after the "
        f"copper revision propagated (buyer-only to {f.buyer_only.buyer}); attacker moves confined: "
        f"{confined} of {len(f.refusals)}; rejected: {rejected}. All figures are illustrative demo data."
    )
    for problem in f.problems:
        console.print(f"[red]not as the demo expects[/red]: {problem}")
