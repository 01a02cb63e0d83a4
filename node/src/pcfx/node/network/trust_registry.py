"""The network's pcfx trust registry, as the operator keeps it: `registry/registry.json`, signed by the
registry operator's key in `registry/keys` (the same registry, entries and signature as `pcfx registry
new|add|sign`, from the same functions). Every change is a new version, signed and written at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pcfx.node.keystore import Identity, KeyFileError, KeyStore
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.layout import NetworkLayout, write_public
from pcfx.protocol.errors import RegistryError
from pcfx.protocol.keys import Ed25519PublicKey
from pcfx.protocol.registry import RegistryEntry, Role, TrustRegistry, sign_registry, verify_registry
from pcfx.protocol.registry_entries import registry_delta, split_registry
from pydantic import ValidationError

__all__ = [
    "company_entry",
    "current_registry",
    "load_delta",
    "registry_stamp",
    "registry_with_entries",
    "registry_with_keys_revoked",
    "verified_registry",
    "write_registry",
]


def registry_stamp(layout: NetworkLayout) -> tuple[int, int, int]:
    """What changes when the registry file is replaced or rewritten (mtime, size, inode); NetworkError when
    there is no registry file."""
    try:
        stat = layout.registry_file.stat()
    except FileNotFoundError:
        raise NetworkError(f"no trust registry at {layout.registry_file}") from None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def current_registry(layout: NetworkLayout, operator_key: str) -> tuple[TrustRegistry, dict[str, Any]]:
    """The current registry (verified with the pinned registry operator key) and its signed document. The
    verified result is kept while the file is unchanged: the follow service reads it on every request, and
    at thousands of companies verifying the whole document each time is most of its work."""
    path = layout.registry_file
    key = (str(path), operator_key, registry_stamp(layout))
    try:
        doc = json.loads(path.read_text("utf-8"))
        registry = _VERIFIED[key] if key in _VERIFIED else verify_registry(doc, operator_key)
    except FileNotFoundError:
        raise NetworkError(f"no trust registry at {path}") from None
    except (ValueError, RegistryError) as exc:
        raise NetworkError(f"trust registry {path}: {exc}") from None
    _VERIFIED.clear()  # the newest only
    _VERIFIED[key] = registry
    return registry, doc


def verified_registry(layout: NetworkLayout, operator_key: str) -> TrustRegistry:
    """`current_registry` without the document (not even read while the verified registry is kept)."""
    cached = _VERIFIED.get((str(layout.registry_file), operator_key, registry_stamp(layout)))
    return cached if cached is not None else current_registry(layout, operator_key)[0]


_VERIFIED: dict[tuple[str, str, tuple[int, int, int]], TrustRegistry] = {}


def write_registry(
    layout: NetworkLayout,
    registry: TrustRegistry,
    *,
    passphrase: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign `registry` with the registry operator's key, write it as the current registry, return it. The
    change from the version it replaces is written beside it as a signed delta (`load_delta`): what nodes
    that hold that version download instead of the whole document."""
    store = KeyStore(layout.registry_keys)
    created = now or datetime.now(UTC)
    try:
        identity = store.identity()
        key = store.signing_key(passphrase)
        signed = sign_registry(
            registry, key=key, verification_method=identity.verification_method, created=created
        )
        previous = _previous(layout, key.public_key())
        if previous is not None and previous.version + 1 == registry.version:
            entries, root = split_registry(
                registry, key=key, verification_method=identity.verification_method, created=created,
                previous=previous,
            )  # fmt: skip
            write_public(
                _delta_file(layout, registry.version), json.dumps(registry_delta(entries, root)) + "\n"
            )
    except (KeyFileError, RegistryError) as exc:
        raise NetworkError(f"trust registry not signed: {exc}") from None
    write_public(layout.registry_file, json.dumps(signed, indent=2, ensure_ascii=False) + "\n")
    return signed


def _previous(layout: NetworkLayout, operator_key: Ed25519PublicKey) -> TrustRegistry | None:
    try:
        return verify_registry(layout.registry_file.read_bytes(), operator_key)
    except (FileNotFoundError, RegistryError):
        return None


def _delta_file(layout: NetworkLayout, version: int) -> Path:
    return layout.registry_file.parent / "deltas" / f"v{version}.json"


def load_delta(layout: NetworkLayout, version: int) -> dict[str, Any] | None:
    """The signed delta that made registry `version` (root + changed entries), when one was written."""
    try:
        return json.loads(_delta_file(layout, version).read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def registry_with_entries(
    registry: TrustRegistry, entries: list[RegistryEntry], *, now: datetime
) -> TrustRegistry:
    """The next version (one for all of them) with `entries` added or replaced; what the registry refuses
    (a company id claimed twice, a DID twice) is named."""
    try:
        return registry.with_entries(entries, issued=now)
    except ValueError as exc:
        raise NetworkError(f"trust registry v{registry.version + 1}: {_first_line(exc)}") from None


def company_entry(
    identity: Identity,
    *,
    legal_name: str,
    company_ids: list[str],
    roles: list[Role],
    nats_account: str | None = None,
) -> RegistryEntry:
    """The registry entry of the company of `identity` (its DID, every key on record, its key-agreement key
    and its NATS account); a field the registry refuses is named."""
    try:
        return identity.registry_entry(
            legal_name=legal_name, company_ids=company_ids, roles=roles, nats_account=nats_account
        )
    except ValueError as exc:
        raise NetworkError(f"registry entry of {identity.did}: {_first_line(exc)}") from None


def registry_with_keys_revoked(registry: TrustRegistry, did: str, *, revoked_at: datetime) -> TrustRegistry:
    """The next version in which every key of `did` not yet revoked is revoked at `revoked_at` (what the
    keys signed before stays valid, as for any revoked key)."""
    revoked_at = revoked_at.astimezone(UTC).replace(microsecond=0)
    entry = registry.entry(did)
    if entry is None:
        raise NetworkError(f"{did} is not in trust registry v{registry.version}")
    keys = [
        k if k.revoked_at is not None else k.model_copy(update={"revoked_at": revoked_at}) for k in entry.keys
    ]
    # the company itself is marked revoked too: buyers stop using what it signed before, not only after
    revoked = entry.model_copy(update={"keys": keys, "revoked_at": entry.revoked_at or revoked_at})
    return registry.with_entry(revoked, issued=revoked_at)


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
