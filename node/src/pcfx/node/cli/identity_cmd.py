"""`pcfx keys|did|sign|verify|assure`: identities and signed declarations (`pcfx registry` is registry_cmd).

Key directories default to `<node home>/keys` (node home: --home, else PCFX_HOME, else the current
directory). Passphrases come from PCFX_KEY_PASSPHRASE or, with --passphrase, from a hidden prompt.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pcfx.node.cli.common import HomeOption
from pcfx.node.cli.output import make_console
from rich.table import Table

if TYPE_CHECKING:
    from pcfx.node.keystore import Identity, KeyStore
    from pcfx.protocol.keys import Ed25519PrivateKey
    from pcfx.protocol.registry import TrustRegistry
    from rich.console import Console

__all__ = [
    "assure_command",
    "did_app",
    "keys_app",
    "sign_command",
    "verify_command",
]

PASSPHRASE_ENV = "PCFX_KEY_PASSPHRASE"
OPERATOR_KEY_ENV = "PCFX_OPERATOR_KEY"

keys_app = typer.Typer(no_args_is_help=True, help="Signing keys (Ed25519) and key-agreement keys (X25519).")
did_app = typer.Typer(no_args_is_help=True, help="The company DID and its DID document.")

DirOption = Annotated[
    Path | None, typer.Option("--dir", help="Key directory (default: <node home>/keys).", show_default=False)
]
AskOption = Annotated[
    bool, typer.Option("--passphrase", help=f"Prompt for the key passphrase (else {PASSPHRASE_ENV}).")
]

# The protocol modules (pydantic models, cryptography) are imported by the commands that use them, so that
# `pcfx --help` stays fast; the two protocol values typer needs when it builds the commands are mirrored here
# (tests/test_cli_startup.py checks that they agree with pcfx.protocol).
STATUS_INDEXES = 131_072  # pcfx.protocol.status.MIN_ENTRIES: the status lists' length


class RoleChoice(StrEnum):
    """The values of pcfx.protocol.registry.Role, for `--role`."""

    SUPPLIER = "supplier"
    VERIFIER = "verifier"


def _console() -> Console:
    return make_console(markup=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=code != 1)
    return typer.Exit(code)


def _store(directory: Path | None, home: Path | None) -> KeyStore:
    from pcfx.node.config import resolve_home
    from pcfx.node.keystore import KeyStore

    return KeyStore(directory or resolve_home(home) / "keys")


def _passphrase(ask: bool, *, confirm: bool = False) -> str | None:
    if ask:
        return typer.prompt("Key passphrase", hide_input=True, confirmation_prompt=confirm)
    return os.environ.get(PASSPHRASE_ENV) or None


def _read_json(path: Path) -> Any:
    from pcfx.protocol.canonical import JsonParseError, load_json

    try:
        value, _ = load_json(path.read_bytes())
    except OSError as exc:
        raise _fail(f"error: cannot read {path}: {exc.strerror}", 2) from None
    except (JsonParseError, UnicodeDecodeError) as exc:
        raise _fail(f"error: {path} is not JSON: {exc}", 2) from None
    return value


def _write_json(path: Path, value: Any, *, canonical: bool = False) -> None:
    from pcfx.protocol.declaration import declaration_bytes

    data = (
        declaration_bytes(value)
        if canonical
        else (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()
    )
    if path.is_dir():
        raise _fail(f"error: {path} is a folder; give the file to write, e.g. {path / 'declaration.json'}", 2)
    if not path.parent.is_dir():
        raise _fail(f"error: cannot write {path}: folder {path.parent} does not exist", 2)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise _fail(f"error: cannot write {path}: {exc.strerror}", 2) from None


def _signing_key(store: KeyStore, ask: bool) -> Ed25519PrivateKey:
    from pcfx.node.keystore import KeyFileError

    try:
        return store.signing_key(_passphrase(ask))
    except KeyFileError as exc:
        raise _fail(f"error: {exc}", 2) from None


def _identity(store: KeyStore) -> Identity:
    from pcfx.node.keystore import KeyFileError

    try:
        return store.identity()
    except KeyFileError as exc:
        raise _fail(f"error: {exc}", 2) from None


# keys


@keys_app.command("new")
def keys_new(
    directory: DirOption = None,
    home: HomeOption = None,
    web: Annotated[
        str | None,
        typer.Option(
            "--web",
            help="did:web domain, with optional port and path (example.com:8443/pcfx); default: a did:key.",
        ),
    ] = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Retire the current signing key and start a new one.")
    ] = False,
    ask: AskOption = False,
) -> None:
    """Generate the company's keys (or rotate the signing key)."""
    from pcfx.node.keystore import KeyFileError

    store = _store(directory, home)
    passphrase = _passphrase(ask, confirm=True)
    try:
        identity = (
            store.rotate(passphrase=passphrase)
            if rotate
            else store.create(web_domain=web, passphrase=passphrase)
        )
    except KeyFileError as exc:
        raise _fail(f"error: {exc}", 2) from None
    console = _console()
    console.print(f"DID                  {identity.did}")
    console.print(f"verification method  {identity.verification_method}")
    console.print(f"key directory        {store.directory}")
    if rotate:
        console.print(f"retired              {identity.keys[-2].id} (kept as {identity.keys[-2].file})")


@keys_app.command("show")
def keys_show(directory: DirOption = None, home: HomeOption = None) -> None:
    """List the signing keys on record with their validity."""
    identity = _identity(_store(directory, home))
    table = Table("verification method", "public key", "created", "retired")
    for key in identity.keys:
        table.add_row(key.id, key.public_key_multibase, key.created, key.retired or "")
    _console().print(table)


# did


@did_app.command("show")
def did_show(
    directory: DirOption = None,
    home: HomeOption = None,
    document: Annotated[bool, typer.Option("--document", help="Print only the DID document JSON.")] = False,
    key: Annotated[
        bool, typer.Option("--key", help="Print only the current public key (multibase, z6Mk...).")
    ] = False,
) -> None:
    """Show the DID, its current verification method and its DID document (or only one of them)."""
    from pcfx.protocol.did import did_web_url

    store = _store(directory, home)
    identity = _identity(store)
    if key:  # e.g. the network operator's key that node homes pin as registry_operator_key
        typer.echo(identity.current.public_key_multibase)
        return
    doc = store.did_document()
    if document:
        typer.echo(json.dumps(doc, indent=2))
        return
    console = _console()
    console.print(f"DID                  {identity.did}")
    console.print(f"verification method  {identity.verification_method}")
    if identity.did.startswith("did:web:"):
        console.print(f"publish at           {did_web_url(identity.did)}")
    typer.echo(json.dumps(doc, indent=2))


# sign


def _default_status_url(did: str) -> str:
    """The status-list base a node of this DID publishes under (one rule, `issuing.status_base_url`)."""
    from pcfx.node.issuing import status_base_url

    return status_base_url(did)


def sign_command(
    footprint: Annotated[Path, typer.Argument(help="PACT v3 ProductFootprint JSON file.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed declaration.")],
    directory: DirOption = None,
    home: HomeOption = None,
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, help="Validity from now, in days.")] = 365,
    status_url: Annotated[
        str | None,
        typer.Option(
            "--status-url",
            help="Status list base URL (default for did:web: https://<domain>/status, as the node publishes).",
        ),
    ] = None,
    status_index: Annotated[
        int | None,
        typer.Option(
            "--status-index",
            min=0,
            max=STATUS_INDEXES - 1,
            help="Index in the status lists (default: from the footprint id).",
        ),
    ] = None,
    ask: AskOption = False,
) -> None:
    """Sign a footprint as a declaration (W3C VC 2.0, eddsa-jcs-2022)."""
    from pcfx.protocol.declaration import build_declaration, sign_declaration
    from pcfx.protocol.pact.errors import InvalidFootprint
    from pcfx.protocol.pact.v3 import parse_footprint
    from pcfx.protocol.status import MIN_ENTRIES

    store = _store(directory, home)
    identity = _identity(store)
    try:
        fp = parse_footprint(_read_json(footprint))
    except InvalidFootprint as exc:
        raise _fail(f"error: {footprint} is not a PACT v3 footprint: {exc}", 2) from None
    base = status_url or _default_status_url(identity.did)
    if status_url is None and not identity.did.startswith("did:web:"):
        typer.echo(
            f"note: status lists under {base}, the node's default for a did:key: a node of this home publishes "
            "them on the NATS bus, not over HTTP (--status-url names where you publish them instead)",
            err=True,
        )
    # The node allocates status indexes; by hand, the footprint id picks one (collisions are possible).
    index = (
        status_index
        if status_index is not None
        else int(hashlib.sha256(fp.id.lower().encode()).hexdigest(), 16) % MIN_ENTRIES
    )
    key = _signing_key(store, ask)
    now = datetime.now(UTC)
    doc = build_declaration(
        fp,
        issuer=identity.did,
        valid_from=now,
        valid_until=now + timedelta(days=valid_days),
        status_list_url=base,
        status_index=index,
    )
    signed = sign_declaration(doc, key=key, verification_method=identity.verification_method, created=now)
    _write_json(out, signed, canonical=True)
    _console().print(f"signed {signed['id']} -> {out}")


# verify


def _registry(path: Path, operator_key: str | None) -> TrustRegistry:
    from pcfx.protocol.errors import RegistryError
    from pcfx.protocol.registry import verify_registry

    doc = _read_json(path)
    pinned = operator_key
    if pinned is None:
        operator = doc.get("operator", "") if isinstance(doc, dict) else ""
        if not str(operator).startswith("did:key:"):
            raise _fail(f"error: pin the operator key with --operator-key or {OPERATOR_KEY_ENV}", 2)
        typer.echo(f"note: operator key not pinned; trusting the registry's operator {operator}", err=True)
        pinned = str(operator).removeprefix("did:key:")
    try:
        return verify_registry(doc, pinned)
    except RegistryError as exc:
        raise _fail(f"error: registry {path}: {exc}", 2) from None


def verify_command(
    declaration: Annotated[Path, typer.Argument(help="Declaration JSON file.")],
    registry: Annotated[Path | None, typer.Option("--registry", help="Trust registry JSON file.")] = None,
    operator_key: Annotated[
        str | None,
        typer.Option("--operator-key", envvar=OPERATOR_KEY_ENV, help="Pinned operator public key (z6Mk...)."),
    ] = None,
    allow_did_key: Annotated[
        bool, typer.Option("--allow-did-key", help="Accept did:key issuers outside the registry.")
    ] = False,
    allow_unregistered: Annotated[
        bool,
        typer.Option(
            "--allow-unregistered",
            help="Without --registry: exit 0 when the signature holds, although the signer's identity "
            "(who they are, which company ids they may declare for) was not checked.",
        ),
    ] = False,
) -> None:
    """Verify a declaration: exit 0 when valid; otherwise exit 1 with one line naming the reason.
    Without --registry only the signature of a did:key issuer can be checked: that is said, and the exit
    code is 1 unless --allow-unregistered is given."""
    from pcfx.protocol.verify import verify_declaration

    try:
        raw = declaration.read_bytes()
    except OSError as exc:
        raise _fail(f"error: cannot read {declaration}: {exc.strerror}", 2) from None
    reg = _registry(registry, operator_key) if registry is not None else None
    result = verify_declaration(raw, registry=reg, allow_did_key=allow_did_key or reg is None)
    if not result.ok:
        typer.echo(f"invalid: {result.reason}: {result.detail}")
        raise typer.Exit(1)
    if reg is None:
        claimed = ", ".join(result.footprint.company_ids) if result.footprint is not None else "?"
        typer.echo(
            f"signature valid, but the signer's identity was NOT checked (no --registry): {result.issuer} "
            f"is a self-made did:key and may claim any company ({claimed}); {result.declaration_id}"
        )
        if not allow_unregistered:
            raise typer.Exit(1)
        return
    typer.echo(f"valid: {result.declaration_id} by {result.issuer} (registry v{result.registry_version})")
    for a in result.assurances:
        state = "assured" if a.ok else f"assurance invalid ({a.reason})"
        typer.echo(f"  {state}: {a.verifier}")


# assure


def assure_command(
    declaration: Annotated[Path, typer.Argument(help="Declaration JSON file to countersign.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: overwrite the input).")
    ] = None,
    directory: DirOption = None,
    home: HomeOption = None,
    ask: AskOption = False,
) -> None:
    """Countersign a declaration as a verifier (a proof chained to the issuer's)."""
    from pcfx.protocol.declaration import assure
    from pcfx.protocol.errors import ProofError

    store = _store(directory, home)
    identity = _identity(store)
    doc = _read_json(declaration)
    key = _signing_key(store, ask)
    try:
        assured = assure(
            doc, key=key, verification_method=identity.verification_method, created=datetime.now(UTC)
        )
    except (ProofError, AttributeError) as exc:
        raise _fail(f"error: {declaration} cannot be assured: {exc}", 2) from None
    target = out or declaration
    _write_json(target, assured, canonical=True)
    _console().print(f"assured {assured.get('id')} as {identity.did} -> {target}")
