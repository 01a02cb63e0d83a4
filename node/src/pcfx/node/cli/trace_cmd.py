"""`pcfx trace DECL [--home H] [--json]`: the supply-chain provenance tree of a declaration, tier by tier, each
supplier declaration verified by this node (✓/✗), with its value, primary data share and DQR; inputs on
default factors end their branch with the reason; a tier this node may not read is shown to exist, no values.

The tree is built by `pcfx.node.provenance` from the store; with a NATS server (the running node's, or
--nats) what the store lacks is fetched from the bus and verified before it is shown."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer
from pcfx.node.cli.common import HomeOption, NatsOption, err, home_settings, store_session
from pcfx.node.cli.output import make_console, num, short
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.node.provenance import TraceNode

__all__ = ["trace_command", "trace_tree"]

console = make_console(markup=False, piped_width=None)


def _percent(value: str | None, *, fraction: bool = False) -> str | None:
    if value is None:
        return None
    try:
        number = Decimal(value) * (100 if fraction else 1)
    except InvalidOperation:
        return value
    return f"{num(number, 1)}%"


def _who(node: TraceNode) -> str:
    name = node.company_name or "issuer not named"
    return f"{name} (not in the trust registry)" if node.registered is False else name


def _link(node: TraceNode) -> Text:
    text = Text()
    if node.link is not None:
        share = _percent(node.link.share, fraction=True)
        text.append(node.link.input, style="bold")
        text.append(f" ({share})" if share else "")
        text.append(" ← ")
    return text


def _label(node: TraceNode) -> Text:
    """The input a node stands for and what it is; a second line with ids, origin and how it was checked."""
    text = _link(node)
    if node.kind == "default-factor":
        link = node.link
        factor = link.default_factor_id if link is not None else None
        reason = (link.reason if link is not None else None) or "reason not stated in the signed declaration"
        text.append(f"default factor {factor or '?'}: {reason}", style="yellow")
        return text
    details: list[str] = []
    failure = None
    if node.kind == "declaration":
        check = node.verification
        ok = check is not None and check.ok
        text.append("✓ " if ok else "✗ ", style="green" if ok else "red")
        text.append(f"{node.product_name or node.product_id or '?'} — {_who(node)}")
        dqr = node.dqr or {}
        shown = (
            "/".join(dqr.get(k, "-") for k in ("technological", "geographical", "temporal")) if dqr else "-"
        )
        text.append(
            f"   {num(node.value)} {node.unit or ''} · PDS {_percent(node.primary_data_share) or '-'} · DQR {shown}"
        )
        details += [short(node.declaration_id, 28), node.issuer or "?", ", ".join(_facts(node))]
        if check is not None and not check.ok:
            failure = f"not verified: {check.reason}: {check.detail}"
        elif check is not None:
            registry = f", registry v{check.registry_version}" if check.registry_version is not None else ""
            details.append(f"verified now: key {short(check.key_id, 40)}{registry}")
    else:
        marks = {
            "restricted": "restricted",
            "unavailable": "unavailable",
            "cycle": "cycle",
            "depth-limit": "cut",
        }
        text.append(f"{marks.get(node.kind, node.kind)}: ", style="magenta")
        text.append(f"{node.declaration_id} — {_who(node)}")
        details.append(node.issuer or "issuer unknown to this node")
        if node.link is not None and node.link.referenced_by:
            verified = "verified" if node.link.referenced_by_verified else "which fails verification"
            details.append(
                f"named in the signed declaration {short(node.link.referenced_by, 28)} ({verified})"
            )
    if node.link is not None and node.link.receipt is not None:
        receipt = node.link.receipt
        details.append(
            f"used on this node's receipt #{receipt.receipt_id} of {receipt.verified_at:%Y-%m-%d %H:%M}Z"
        )
    text.append("\n    " + " · ".join(details), style="dim")
    if failure:
        text.append(f"\n    {failure}", style="red")
    if node.note:
        text.append(f"\n    {node.note}", style="dim")
    return text


def _facts(node: TraceNode) -> list[str]:
    facts = [node.origin or "?"]
    if node.source:
        facts.append(f"from {node.source}")
    if node.state:
        facts.append(node.state)
    return facts


def trace_tree(root: TraceNode) -> Tree:
    """The provenance tree as a rich Tree (declarations first, defaults after, in signed order)."""
    tree = Tree(_label(root), guide_style="dim")
    _grow(tree, root)
    return tree


def _grow(branch: Tree, node: TraceNode) -> None:
    ordered = sorted(node.children, key=lambda c: c.kind == "default-factor")
    for child in ordered:
        _grow(branch.add(_label(child)), child)


def _summary(root: TraceNode) -> str:
    counts = root.summary()
    return (
        f"{counts['verified']} declarations verified, {counts['failed']} failed verification, "
        f"{counts['restricted']} restricted, {counts['unavailable']} unavailable, "
        f"{counts['default-factor']} inputs on default factors"
        + (
            f", {counts['cycle'] + counts['depth-limit']} branches cut"
            if counts["cycle"] + counts["depth-limit"]
            else ""
        )
        + " (DQR: technological/geographical/temporal)"
    )


def _build(settings: Settings, root: str | bytes, url: str | None, depth: int) -> TraceNode:
    from pcfx.node.provenance import build_trace

    if url is None:
        with store_session(settings) as session:
            return build_trace(session, settings, root, max_depth=depth)
    import asyncio

    from pcfx.node.provenance.bus import bus_fetcher

    async def over_bus() -> TraceNode:
        async with bus_fetcher(settings, url) as fetcher:
            fetch = fetcher.blocking(asyncio.get_running_loop())

            def work() -> TraceNode:
                with store_session(settings) as session:
                    return build_trace(session, settings, root, fetch=fetch, max_depth=depth)

            return await asyncio.to_thread(work)

    return asyncio.run(over_bus())


def trace_command(
    declaration: Annotated[
        str,
        typer.Argument(
            help="Declaration id, own product id (or a unique suffix or name of it), or a declaration file."
        ),
    ],
    home: HomeOption = None,
    nats: NatsOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the node's store only; fetch nothing.")
    ] = False,
    depth: Annotated[int, typer.Option("--depth", min=0, help="Tiers traced below the declaration.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="The tree as JSON.")] = False,
) -> None:
    """The supply-chain provenance tree of a declaration: every supplier declaration its inputs used, tier by
    tier, verified by this node (signature, signer in the trust registry, status lists), with value, primary
    data share and DQR; inputs on default factors with the reason; tiers it may not read shown without values.
    Declarations missing from the store are fetched from the node's NATS (running node or --nats) and verified."""
    from pcfx.node.provenance import UnknownDeclarationError, resolve_root
    from pcfx.node.service import running_nats_url

    settings = home_settings(home)
    try:
        with store_session(settings) as session:
            root = resolve_root(session, settings, declaration)
    except UnknownDeclarationError as exc:
        err.print(f"trace: {exc}")
        raise typer.Exit(1) from None
    url = None if offline else nats or running_nats_url(settings)
    try:
        tree = _build(settings, root, url, depth)
    except Exception as exc:
        if url is None or not _unreachable(exc):
            raise
        err.print(f"note: no NATS server at {url} ({exc.__class__.__name__}): the store only")
        tree = _build(settings, root, None, depth)
    if tree.kind != "declaration":
        err.print(f"trace: {declaration}: {tree.note}")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(tree.to_dict(), indent=2, ensure_ascii=False))
        return
    console.print(trace_tree(tree))
    console.print(_summary(tree))


def _unreachable(exc: Exception) -> bool:
    from nats.errors import NoServersError
    from nats.errors import TimeoutError as NatsTimeoutError

    return isinstance(exc, NoServersError | NatsTimeoutError | ConnectionError | TimeoutError)
