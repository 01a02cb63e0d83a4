"""Supply commands: `pcfx products [add]`, `pcfx inputs PRODUCT`, `pcfx compute-product PRODUCT`,
`pcfx declare PRODUCT [--to BUYER_DID ... | --public] [--out FILE]`, `pcfx follow-suppliers`, `pcfx review list|approve`.

Reading commands work on the node home alone (store + trust registry); `declare`, `follow-suppliers` and
`review approve` publish or subscribe, so they need the node's NATS (running node, or --nats)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pcfx.node.cli.common import HomeOption, NatsOption, command_node, err, home_settings, store_session
from pcfx.node.cli.output import make_console, num, short
from rich.table import Table

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.node.supply.compute import Computation
    from pcfx.node.supply.products import OwnProduct
    from sqlmodel import Session

__all__ = [
    "compute_product_command",
    "declare_command",
    "follow_command",
    "inputs_command",
    "inputs_table",
    "products_app",
    "review_app",
    "totals_table",
]

console = make_console(markup=False, piped_width=None)

products_app = typer.Typer(
    invoke_without_command=True, help="Own products: inventory, latest result, latest declaration."
)
review_app = typer.Typer(no_args_is_help=True, help="Recomputed results held for review (policy hold).")

ProductArgument = Annotated[str, typer.Argument(help="Product id (URN), or a unique suffix or name of it.")]


# Tables ----------------------------------------------------------------------------------------------------
def inputs_table(computation: Computation, *, title: str | None = None) -> Table:
    """Per purchased input: amount, kg CO2e, share, and where its value came from."""
    from pcfx.node.supply.compute import input_rows

    table = Table(title=title or f"Purchased inputs of {computation.product_name}", title_justify="left")
    for column, justify in (
        ("input", "left"),
        ("amount", "right"),
        ("kg CO2e", "right"),
        ("%", "right"),
        ("source", "left"),
        ("declaration / factor", "left"),
        ("verification / reason", "left"),
        ("supplier primary %", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in input_rows(computation.result, computation.inputs):
        resolution = row["resolution"]
        if row["source"] == "supplier-declaration":
            receipt = resolution.receipt if resolution is not None else None
            check = (
                f"ok: key {short(receipt.key_id, 24)}, registry v{receipt.registry_version}, "
                f"{receipt.verified_at:%Y-%m-%d %H:%M:%S}Z"
                if receipt is not None
                else "verified"
            )
            if resolution is not None and resolution.conversion:
                check += f"; {resolution.conversion}"
            where = short(row["declaration_id"], 28)
            primary = num(resolution.supplier_primary_data_share, 1) if resolution else "-"
            source = "supplier"
        else:
            where = row["factor_id"] or "-"
            check = resolution.reason if resolution is not None and resolution.reason else "no supplier named"
            primary = "0"
            source = "default"
        table.add_row(
            row["flow"],
            f"{num(row['amount'])} {row['unit']}",
            num(row["co2e"]),
            num(row["share_percent"], 1),
            source,
            where,
            check,
            primary,
        )
    return table


def totals_table(rows: Sequence[tuple[str, Computation]], *, title: str = "Totals") -> Table:
    """Several computations side by side: total, primary data share, inputs on supplier values."""
    table = Table(title=title, title_justify="left")
    table.add_column("calculation")
    table.add_column("kg CO2e per declared unit", justify="right")
    table.add_column("primary data share %", justify="right")
    table.add_column("inputs on supplier values", justify="right")
    for label, computation in rows:
        used = sum(1 for i in computation.inputs if i.source == "supplier-declaration")
        unit = f"{num(computation.result.declared_unit_amount, 0)} {computation.result.declared_unit}"
        table.add_row(
            label,
            f"{num(computation.total)} / {unit}",
            num(computation.result.primary_data_share, 1),
            f"{used} of {len(computation.inputs)}",
        )
    return table


def products_table(
    products: Sequence[OwnProduct], restricted: Mapping[str, frozenset[str]] | None = None
) -> Table:
    """Own products with their latest result and declaration, and who they are declared to."""
    table = Table(title="Own products", title_justify="left")
    for column in ("product id", "name", "latest total", "result", "declaration", "state", "access"):
        table.add_column(column)
    for p in products:
        total = "-" if p.result is None else f"{num(p.result.total)} {p.result.unit or ''}".strip()
        table.add_row(
            p.product_id,
            p.name,
            total,
            "-" if p.result is None else f"#{p.result.id} {p.result.state}",
            short(p.declaration.declaration_id, 28) if p.declaration else "-",
            p.declaration.state if p.declaration else "-",
            "buyers: " + ", ".join(sorted(restricted[p.product_id]))
            if restricted and p.product_id in restricted
            else "public",
        )
    return table


# Helpers -----------------------------------------------------------------------------------------------
def _registry(settings: Settings) -> Any:
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry

    try:
        return load_registry(settings.registry_path, settings.registry_operator_key)
    except RegistryUnavailableError as exc:
        err.print(f"note: {exc}; company ids cannot be resolved to suppliers", style="yellow")
        return None


def _match(session: Session, text: str) -> str:
    """The own product id `text` names (exactly, by suffix or by name); no or several matches end the command."""
    from pcfx.node.store import repository as repo

    rows = repo.list_inventories(session)
    exact = [r.product_id for r in rows if r.product_id == text]
    found = exact or [
        r.product_id
        for r in rows
        if r.product_id.endswith(text) or (r.name or "").casefold() == text.casefold()
    ]
    if len(found) == 1:
        return found[0]
    known = ", ".join(r.product_id for r in rows) or "none; add one with `pcfx products add INVENTORY`"
    what = "matches several products" if found else "matches no own product"
    err.print(f"{text!r} {what} (own products: {known})", style="red")
    raise typer.Exit(1)


def _matched(settings: Settings, text: str) -> str:
    with store_session(settings) as session:
        return _match(session, text)


_HOME_REGISTRY: Any = object()  # `_compute` without a registry given: the home's


def _compute(
    session: Session, settings: Settings, text: str, *, defaults: bool = False, registry: Any = _HOME_REGISTRY
) -> tuple[OwnProduct, Computation]:
    """The own product `text` names and its footprint now (supplier values, or only defaults), with
    `registry` (default: the home's trust registry)."""
    from pcfx.node.supply.compute import PreparedCache, compute_product
    from pcfx.node.supply.products import get_product

    product = get_product(session, _match(session, text), issuer=settings.did)
    cache = PreparedCache(gwp_mismatch=settings.gwp_mismatch)
    return product, compute_product(
        session,
        product,
        registry=_registry(settings) if registry is _HOME_REGISTRY else registry,
        cache=cache,
        use_suppliers=not defaults,
    )


async def _with_service(settings: Settings, nats: str | None, work: Any) -> Any:
    from pcfx.node.supply.recompute import SupplyService

    async with command_node(settings, nats) as node:
        return await work(SupplyService(node, "review"))


# Commands ----------------------------------------------------------------------------------------------
@products_app.callback()
def products_command(ctx: typer.Context, home: HomeOption = None) -> None:
    """List own products (add one with `pcfx products add INVENTORY`)."""
    if ctx.invoked_subcommand is not None:
        return
    from pcfx.node.store import repository as repo
    from pcfx.node.supply.products import list_products, pact_v2_lines

    settings = home_settings(home)
    with store_session(settings) as session:
        products = list_products(session, issuer=settings.did)
        restricted = repo.restricted_products(session)
    console.print(products_table(products, restricted))
    for line in pact_v2_lines(products):
        console.print(line, highlight=False)


@products_app.command("add")
def products_add_command(
    inventories: Annotated[
        list[Path],
        typer.Argument(help="Inventory files (.yaml, .json, .csv, .xlsx) or folders of them (a batch)."),
    ],
    product_id: Annotated[
        str | None, typer.Option("--product-id", help="Product URN (default: from the inventory; one file).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Store (or replace) the inventories of own products, and follow the supplier products they name (a
    running node starts consuming them within seconds; `pcfx node run` follows them when it starts). A batch
    is stored only when every file loads: each problem is named on its own line and nothing is stored."""
    from pcfx.node.sealing import own_account
    from pcfx.node.service import record_subscription, runtime_url_file
    from pcfx.node.supply.products import add_product, get_product, load_batch
    from pcfx.node.supply.resolve import supplier_products

    settings = home_settings(home)
    loaded, problems = load_batch(inventories, company_id=settings.company_id)
    if product_id is not None and len(loaded) + len(problems) != 1:
        problems.append("--product-id names the product of one inventory file, not of a batch")
    if problems:
        for problem in problems:
            err.print(f"error: {problem}", style="red", highlight=False)
        if len(loaded) + len(problems) > 1:
            err.print("nothing stored: fix these and add the batch again", highlight=False)
        raise typer.Exit(1)
    registry = _registry(settings)
    account = own_account(settings, registry)
    followed = 0
    with store_session(settings) as session:
        for _, inventory in loaded:
            pid = add_product(session, inventory, company_id=settings.company_id, product_id=product_id)
            own = get_product(session, pid, issuer=settings.did)
            followed += len(
                [
                    record_subscription(
                        session, owner=settings.did, issuer=did, product_id=supplier, own_account=account
                    )
                    for did, supplier in supplier_products([own.inventory], registry=registry)
                ]
            )
            console.print(f"product {pid}")
    if followed and runtime_url_file(settings).exists():
        whose = "its" if len(loaded) == 1 else "their"
        console.print(f"the running node follows {whose} {followed} supplier product(s)")


@products_app.command("remove")
def products_remove_command(
    product: Annotated[str, typer.Argument(help="Product id (or its end, or its name).")],
    home: HomeOption = None,
) -> None:
    """Forget an own product's inventory: it is no longer computed or declared. Its results and declarations
    stay as they are (withdraw a published one with `pcfx revoke` or `pcfx deprecate`)."""
    from pcfx.node.store import Origin
    from pcfx.node.store import repository as repo

    settings = home_settings(home)
    with store_session(settings) as session:
        pid = _match(session, product)
        repo.delete_inventory(session, product_id=pid)
        declared = repo.list_declarations(session, origin=Origin.OWN, product_id=pid)
        repo.add_audit(session, event="product removed", subject=pid)
    active = [d.declaration_id for d in declared if d.state == "active"]
    console.print(f"removed product {pid}")
    if active:
        console.print(
            f"its active declaration(s) stay published: {', '.join(active)} "
            "(`pcfx revoke` or `pcfx deprecate` withdraws one)"
        )


def inputs_command(
    product: ProductArgument,
    home: HomeOption = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Show the default-factor calculation.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Provenance as JSON.")] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="Wait up to this many seconds until every input whose supplier is known (trust registry) "
            "has a verified declaration from it; exit 1 if some still have none then.",
        ),
    ] = 0.0,
) -> None:
    """Per purchased input: the supplier declaration and its verification receipt, or the default factor and
    why; the total and the primary data share that follow."""
    import time

    settings = home_settings(home)
    deadline = time.monotonic() + wait
    while True:
        registry = _registry(settings)  # read again each time: the node may take a newer one meanwhile
        with store_session(settings) as session:
            own, computation = _compute(session, settings, product, defaults=defaults, registry=registry)
        awaited = [] if defaults else _awaited(own, computation, registry)
        if not awaited or time.monotonic() >= deadline:
            break
        time.sleep(0.25)  # the running node stores a supplier's declaration as it arrives
    if as_json:
        typer.echo(json.dumps(computation.document(), indent=2, ensure_ascii=False))
    else:
        console.print(inputs_table(computation))
        console.print(totals_table([("now" if not defaults else "default factors", computation)]))
    if wait and awaited:
        err.print(
            f"after {wait:g} s still no verified declaration from the supplier of: {', '.join(awaited)}",
            style="red",
            highlight=False,
        )
        raise typer.Exit(1)


def _awaited(own: OwnProduct, computation: Computation, registry: Any) -> list[str]:
    """The inputs (flow names) whose supplier is known but from whom no declaration was received yet."""
    from pcfx.node.supply.resolve import purchased_inputs, supplier_dids

    known = {
        f"{item.process}/{item.flow}"
        for item in purchased_inputs(own.inventory)
        if supplier_dids(item.supplier, registry)
    }
    return [
        i.flow
        for i in computation.inputs
        if i.key in known and i.source == "default-factor" and i.declaration_id is None
    ]


def compute_product_command(
    product: ProductArgument,
    home: HomeOption = None,
    defaults: Annotated[bool, typer.Option("--defaults", help="Ignore supplier declarations.")] = False,
) -> None:
    """Compute an own product with its suppliers' current values and record the result."""
    from pcfx.node.supply.compute import record_computation

    settings = home_settings(home)
    with store_session(settings) as session:
        own, computation = _compute(session, settings, product, defaults=defaults)
        row = record_computation(
            session, computation, inventory_id=own.inventory_row_id, trigger="pcfx compute-product"
        )
    console.print(inputs_table(computation))
    console.print(totals_table([(f"result #{row.id}", computation)]))


def declare_command(
    product: ProductArgument,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            help="Declare to this buyer only (its DID; repeatable): sealed to the keyAgreement keys and sent "
            "to the NATS account the trust registry lists for it. Restricts the product from now on.",
        ),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Declare to every buyer again (lifts a --to restriction).")
    ] = False,
    home: HomeOption = None,
    nats: NatsOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write the signed declaration to this file (as published, unsealed)."
        ),
    ] = None,
) -> None:
    """Compute, sign and publish an own product's declaration (the previous one becomes Deprecated), publicly
    or, for a product restricted to buyers, sealed to each of them (its PACT footprints follow the same)."""
    import asyncio

    from pcfx.node.store import Origin
    from pcfx.node.store import repository as repo

    if to and public:
        err.print("--to and --public exclude each other", style="red")
        raise typer.Exit(2)
    if out is not None and not out.parent.is_dir():
        err.print(f"declare: cannot write {out}: folder {out.parent} does not exist", style="red")
        raise typer.Exit(2)
    settings = home_settings(home)
    pid = _matched(settings, product)
    declared = asyncio.run(
        _with_service(settings, nats, lambda s: s.declare(pid, to=to or None, public=public))
    )
    if out is not None:
        with store_session(settings) as session:
            row = repo.get_declaration(session, declaration_id=declared.declaration_id, origin=Origin.OWN)
        assert row is not None, "a declared product's declaration is stored"
        out.write_bytes(row.raw)
    from pcfx.protocol.pact.decimals import format_decimal

    # the declared value exactly as signed
    console.print(
        f"declared {pid}: {format_decimal(declared.total)} kg CO2e, declaration {declared.declaration_id}"
    )
    audience = "sealed to " + ", ".join(declared.buyers) if declared.buyers else "public"
    console.print(f"access: {audience}")
    if declared.deprecated:
        console.print(f"previous declaration {declared.deprecated} marked Deprecated")
    if out is not None:
        console.print(f"written to {out}")


def follow_command(
    product: Annotated[str | None, typer.Argument(help="One own product; all when omitted.")] = None,
    home: HomeOption = None,
    nats: NatsOption = None,
) -> None:
    """Subscribe to every supplier product the own inventories name (company ids via the trust registry).
    `pcfx node run` and `pcfx products add` do this themselves; run it after the trust registry changes."""
    import asyncio

    settings = home_settings(home)
    pid = _matched(settings, product) if product else None
    names = asyncio.run(_with_service(settings, nats, lambda s: s.follow_suppliers(pid)))
    console.print(f"{len(names)} supplier subscription(s): {', '.join(names) or 'none'}")


@review_app.command("list")
def review_list_command(home: HomeOption = None) -> None:
    """Results held for review, with the change they would publish."""
    from pcfx.node.store import repository as repo
    from pcfx.node.supply.compute import ResultState, held_results

    settings = home_settings(home)
    with store_session(settings) as session:
        rows = held_results(session)
        published: dict[str, str | None] = {}  # product id -> total of its latest published result
        for r in rows:
            last = repo.list_results(session, product_id=r.product_id, state=ResultState.PUBLISHED, limit=1)
            published[r.product_id] = last[0].total if last else None
    table = Table(title="Held for review", title_justify="left")
    for column in ("result", "product", "computed", "published total", "new total", "trigger"):
        table.add_column(column)
    for r in rows:
        trigger = json.loads(r.document).get("trigger", "")
        table.add_row(
            str(r.id),
            r.product_id,
            f"{r.computed_at:%Y-%m-%d %H:%M:%S}",
            num(published[r.product_id]),
            num(r.total),
            short(trigger, 48),
        )
    console.print(table)


@review_app.command("approve")
def review_approve_command(
    result_id: Annotated[int, typer.Argument(help="Result id from `pcfx review list`.")],
    home: HomeOption = None,
    nats: NatsOption = None,
) -> None:
    """Publish a held result (the previous declaration becomes Deprecated)."""
    import asyncio

    settings = home_settings(home)
    declared = asyncio.run(_with_service(settings, nats, lambda s: s.approve(result_id)))
    console.print(f"approved result #{result_id}: declaration {declared.declaration_id}")
