"""`pcfx registry new|add|sign|show`: the network operator's trust registry (identities: identity_cmd)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pcfx.node.cli.common import HomeOption
from pcfx.node.cli.identity_cmd import (
    AskOption,
    DirOption,
    RoleChoice,
    _console,
    _fail,
    _identity,
    _read_json,
    _signing_key,
    _store,
    _write_json,
)
from rich.table import Table

if TYPE_CHECKING:
    from pcfx.protocol.registry import TrustRegistry

__all__ = ["registry_app"]

registry_app = typer.Typer(no_args_is_help=True, help="The trust registry (network operator).")


def _load_registry_draft(path: Path) -> TrustRegistry:
    from pcfx.protocol.registry import TrustRegistry

    doc = _read_json(path)
    try:
        return TrustRegistry.model_validate(doc)
    except ValueError as exc:
        raise _fail(f"error: {path} is not a trust registry: {exc}", 2) from None


@registry_app.command("new")
def registry_new(
    out: Annotated[Path, typer.Argument(help="Registry file to create.")],
    directory: DirOption = None,
    home: HomeOption = None,
) -> None:
    """Start an empty registry (version 1) operated by the identity in the key directory."""
    from pcfx.protocol.registry import TrustRegistry

    identity = _identity(_store(directory, home))
    if out.exists():
        raise _fail(f"error: {out} exists", 2)
    registry = TrustRegistry(version=1, issued=datetime.now(UTC), operator=identity.did, entries=[])
    _write_json(out, registry.content())
    _console().print(f"registry v1 of operator {identity.did} -> {out}")


@registry_app.command("add")
def registry_add(
    registry_file: Annotated[Path, typer.Argument(help="Registry file (draft or signed).")],
    identity_dir: Annotated[
        Path, typer.Option("--identity", help="The company's key directory (its identity.json).")
    ],
    name: Annotated[str, typer.Option("--name", help="Legal name.")],
    company_ids: Annotated[
        list[str], typer.Option("--company-id", help="Company id URN, e.g. urn:pcfx:uscc:<code>.")
    ],
    roles: Annotated[list[RoleChoice], typer.Option("--role", help="supplier and/or verifier.")],
) -> None:
    """Add (or replace) a company: DID and keys from its identity.json, retired keys closed at retirement."""
    from pcfx.node.keystore import KeyStore
    from pcfx.protocol.registry import Role, TrustRegistry

    registry = _load_registry_draft(registry_file)
    identity = _identity(KeyStore(identity_dir))
    try:
        entry = identity.registry_entry(
            legal_name=name, company_ids=company_ids, roles=[Role(r.value) for r in roles]
        )
    except ValueError as exc:
        raise _fail(f"error: {exc}", 2) from None
    now = datetime.now(UTC)
    # A published (signed) registry changes only as a new version; a draft keeps its number.
    nxt = registry.with_entry(entry, issued=now)
    if registry.proof is None:
        nxt = nxt.model_copy(update={"version": registry.version})
    try:
        updated = TrustRegistry.model_validate(nxt.content())
    except ValueError as exc:
        raise _fail(f"error: {exc}", 2) from None
    _write_json(registry_file, updated.content())
    _console().print(f"registry v{updated.version}: {identity.did} ({', '.join(r.value for r in roles)})")


@registry_app.command("sign")
def registry_sign(
    registry_file: Annotated[Path, typer.Argument(help="Registry file to sign (in place unless --out).")],
    out: Annotated[Path | None, typer.Option("--out")] = None,
    directory: DirOption = None,
    home: HomeOption = None,
    ask: AskOption = False,
) -> None:
    """Sign the registry with the operator key."""
    from pcfx.protocol.errors import RegistryError
    from pcfx.protocol.registry import sign_registry

    store = _store(directory, home)
    identity = _identity(store)
    registry = _load_registry_draft(registry_file)
    key = _signing_key(store, ask)
    try:
        signed = sign_registry(
            registry, key=key, verification_method=identity.verification_method, created=datetime.now(UTC)
        )
    except RegistryError as exc:
        raise _fail(f"error: {exc}", 2) from None
    _write_json(out or registry_file, signed)
    _console().print(
        f"signed registry v{registry.version} as {identity.did}; operator key {identity.current.public_key_multibase}"
    )


@registry_app.command("show")
def registry_show(registry_file: Annotated[Path, typer.Argument(help="Registry file.")]) -> None:
    """Show version, operator and entries."""
    from pcfx.protocol.dates import format_datetime

    registry = _load_registry_draft(registry_file)
    console = _console()
    signed = "signed" if registry.proof is not None else "unsigned draft"
    console.print(
        f"trust registry v{registry.version} ({signed}), operator {registry.operator}, issued {format_datetime(registry.issued)}"
    )
    table = Table("DID", "legal name", "company ids", "roles", "keys")
    for e in registry.entries:
        keys = "\n".join(
            f"{k.id.split('#', 1)[1]} from {format_datetime(k.valid_from)}"
            + (f" until {format_datetime(k.valid_until)}" if k.valid_until else "")
            + (f" revoked {format_datetime(k.revoked_at)}" if k.revoked_at else "")
            for k in e.keys
        )
        table.add_row(
            e.did, e.legal_name, "\n".join(e.company_ids), ", ".join(r.value for r in e.roles), keys
        )
    console.print(table)
