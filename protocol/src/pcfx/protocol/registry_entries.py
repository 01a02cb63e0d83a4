"""The trust registry split for scale: one operator-signed entry per company and a small signed root, so a
node downloads and verifies only what changed and only the entries it needs, instead of the whole document.

Wire forms (JSON, each with an eddsa-jcs-2022 proof by the operator's key, like the single document):
  entry: {"type": "PcfxRegistryEntry", "registryVersion": 8, "operator": "did:...", "entry": {...RegistryEntry}}
  root:  {"type": "PcfxRegistryRoot", "version": 8, "issued": "...Z", "operator": "did:...", "entries": 100000,
          "treeHead": "<hex SHA-256>", "changed": ["did:...", ...], "removed": ["did:...", ...]}

`registryVersion` of an entry is the registry version in which the entry last changed. `treeHead` is the
RFC 6962 Merkle tree head over the SHA-256 of every current entry's JCS bytes (the entry as the single
document carries it), in DID order: it binds the root to exactly one set of entries, so a node that holds the
previous version and applies a delta (`apply_delta`: the root and the entries it changed) checks that it
now holds exactly the operator's version, and a node that holds only some entries checks each with its
inclusion proof. `changed` and `removed` list the DIDs this version
changed, so a node that follows the roots knows which cached entries are stale, and refuses an older signed
entry replayed to it (`RegistryView.accept_entry`). Versions only go up, as for the single document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from pcfx.protocol.canonical import canonicalize, load_json
from pcfx.protocol.errors import RegistryConflictError, RegistryError
from pcfx.protocol.keys import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pcfx.protocol.proof import add_proof
from pcfx.protocol.registry import (
    _DID,
    RegistryEntry,
    Timestamp,
    TrustRegistry,
    check_operator_proof,
    operator_key_bytes,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

__all__ = [
    "ENTRY_TYPE",
    "ROOT_TYPE",
    "MerkleTree",
    "RegistryRoot",
    "RegistryView",
    "SignedEntry",
    "apply_delta",
    "entry_leaf",
    "export_registry",
    "merkle_tree_head",
    "sign_entry",
    "sign_root",
    "split_registry",
    "verify_entry",
    "verify_inclusion",
    "verify_root",
]

ENTRY_TYPE = "PcfxRegistryEntry"
ROOT_TYPE = "PcfxRegistryRoot"
DELTA_TYPE = "PcfxRegistryDelta"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


_M = TypeVar("_M", bound=_Model)


class SignedEntry(_Model):
    """One company's entry as the operator signed it, with the registry version it last changed in."""

    type: Literal["PcfxRegistryEntry"] = ENTRY_TYPE
    registry_version: int = Field(ge=1)
    operator: str = Field(pattern=_DID.pattern)
    entry: RegistryEntry

    def content(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RegistryRoot(_Model):
    """The signed head of a registry version: how many entries, their Merkle tree head, what changed."""

    type: Literal["PcfxRegistryRoot"] = ROOT_TYPE
    version: int = Field(ge=1)
    issued: Timestamp
    operator: str = Field(pattern=_DID.pattern)
    entries: int = Field(ge=0)
    tree_head: str = Field(pattern=r"^[0-9a-f]{64}$")
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def content(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# Merkle tree (RFC 6962 section 2.1; inclusion proofs verified as RFC 9162 section 2.1.3.2) ------------
def entry_leaf(entry: RegistryEntry) -> bytes:
    """SHA-256 of an entry's JCS bytes (as the single document carries it): what the tree head commits to,
    so a holder of the single document recomputes the head of its version."""
    return hashlib.sha256(
        canonicalize(entry.model_dump(mode="json", by_alias=True, exclude_none=True))
    ).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """The RFC 6962 tree over leaves (each the SHA-256 of an entry), kept level by level for proofs. Built
    bottom-up with a last odd node carried up unhashed, which gives RFC 6962's recursive tree head."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
        self.levels = [level]
        while len(level) > 1:
            paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                paired.append(level[-1])
            self.levels.append(paired)
            level = paired

    @property
    def size(self) -> int:
        return len(self.levels[0])

    @property
    def head(self) -> str:
        """The tree head, hex (SHA-256 of nothing for an empty tree)."""
        return self.levels[-1][0].hex() if self.size else hashlib.sha256(b"").hexdigest()

    def proof(self, index: int) -> list[str]:
        """The audit path of leaf `index`, hex, bottom-up."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} of a tree of {self.size}")
        path: list[str] = []
        for level in self.levels[:-1]:
            if index % 2:
                path.append(level[index - 1].hex())
            elif index + 1 < len(level):
                path.append(level[index + 1].hex())
            index //= 2
        return path


def merkle_tree_head(leaves: Sequence[bytes]) -> str:
    """The RFC 6962 tree head (hex) over `leaves` (each already a SHA-256 of an entry), in their order."""
    return MerkleTree(leaves).head


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[str], head: str) -> bool:
    """True when `leaf` (an entry's SHA-256) is leaf `index` of the tree of `size` leaves with `head`."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = hashlib.sha256(b"\x00" + leaf).digest()
    for hex_node in proof:
        try:
            p = bytes.fromhex(hex_node)
        except ValueError:
            return False
        if sn == 0:
            return False
        if fn % 2 or fn == sn:
            r = _node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == head


# Signing and verifying -----------------------------------------------------------------------------------
def _checked(
    doc: Mapping[str, Any] | bytes | str,
    operator_key: Ed25519PublicKey | bytes | str,
    model: type[_M],
    what: str,
) -> _M:
    """`doc` as `model` once its operator proof verifies (`registry.check_operator_proof`)."""
    checked = check_operator_proof(doc, operator_key, what=what)
    try:
        return model.model_validate({k: v for k, v in checked.items() if k != "proof"})
    except ValidationError as exc:
        raise RegistryError(f"{what} content invalid: {exc.errors()[0]['msg']}") from exc


def sign_entry(
    entry: RegistryEntry, *, version: int, operator: str, key: Ed25519PrivateKey, verification_method: str,
    created: datetime,
) -> dict[str, Any]:  # fmt: skip
    """`entry` signed by the operator as changed in registry `version`."""
    signed = SignedEntry(registry_version=version, operator=operator, entry=entry)
    return add_proof(signed.content(), key=key, verification_method=verification_method, created=created)


def verify_entry(
    doc: Mapping[str, Any] | bytes | str, operator_key: Ed25519PublicKey | bytes | str
) -> SignedEntry:
    """A signed entry checked against the pinned operator key (RegistryError otherwise)."""
    return _checked(doc, operator_key, SignedEntry, "registry entry")


def sign_root(
    root: RegistryRoot, *, key: Ed25519PrivateKey, verification_method: str, created: datetime
) -> dict[str, Any]:
    """The root signed by the operator."""
    return add_proof(root.content(), key=key, verification_method=verification_method, created=created)


def verify_root(
    doc: Mapping[str, Any] | bytes | str, operator_key: Ed25519PublicKey | bytes | str
) -> RegistryRoot:
    """A signed root checked against the pinned operator key (RegistryError otherwise)."""
    return _checked(doc, operator_key, RegistryRoot, "registry root")


def split_registry(
    registry: TrustRegistry, *, key: Ed25519PrivateKey, verification_method: str, created: datetime,
    previous: TrustRegistry | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """The signed root of `registry` and its signed entries that changed since `previous` (all of them
    without one), by DID: what the operator publishes for this version."""
    before = {e.did: e for e in (previous.entries if previous is not None else ())}
    ordered = sorted(registry.entries, key=lambda e: e.did)
    changed = [e for e in ordered if before.get(e.did) != e]
    removed = sorted(set(before) - {e.did for e in ordered})
    signed = {
        e.did: sign_entry(e, version=registry.version, operator=registry.operator, key=key,
                          verification_method=verification_method, created=created)
        for e in changed
    }  # fmt: skip
    root = RegistryRoot(
        version=registry.version, issued=registry.issued, operator=registry.operator, entries=len(ordered),
        tree_head=merkle_tree_head([entry_leaf(e) for e in ordered]),
        changed=tuple(e.did for e in changed), removed=tuple(removed),
    )  # fmt: skip
    return signed, sign_root(root, key=key, verification_method=verification_method, created=created)


def apply_delta(
    current: TrustRegistry, root_doc: Mapping[str, Any] | bytes | str,
    entry_docs: Iterable[Mapping[str, Any] | bytes | str], operator_key: Ed25519PublicKey | bytes | str,
    *, leaves: dict[str, bytes] | None = None,
) -> TrustRegistry:  # fmt: skip
    """The next registry version from the one held: the signed root of version `current.version + 1` and
    exactly the signed entries it names as changed, each verified with the pinned operator key; the result's
    tree head must be the root's (else RegistryError: the node does not hold the operator's version).
    `leaves` (DID -> `entry_leaf`, kept by the caller between versions) spares hashing unchanged entries
    again; it is updated only when the delta is taken."""
    key = operator_key_bytes(operator_key)
    root = verify_root(root_doc, key)
    if root.operator != current.operator:
        raise RegistryError(f"registry root v{root.version} is by {root.operator}, not {current.operator}")
    if root.version != current.version + 1:
        raise RegistryError(f"registry delta v{root.version} does not follow v{current.version}")
    entries = {e.did: e for e in current.entries}
    given: dict[str, RegistryEntry] = {}
    for doc in entry_docs:
        signed = verify_entry(doc, key)
        if signed.registry_version != root.version or signed.entry.did not in root.changed:
            raise RegistryError(
                f"registry entry of {signed.entry.did} (v{signed.registry_version}) is not a change of v{root.version}"
            )
        given[signed.entry.did] = signed.entry
    missing = sorted(set(root.changed) - set(given))
    if missing:
        raise RegistryError(
            f"registry delta v{root.version} lacks the entries it changed: {', '.join(missing)}"
        )
    for did in root.removed:
        entries.pop(did, None)
    entries.update(given)
    ordered = [entries[did] for did in sorted(entries)]
    known = leaves if leaves is not None else {}
    fresh = {e.did: entry_leaf(e) for e in ordered if e.did in given or e.did not in known}
    hashes = [fresh[e.did] if e.did in fresh else known[e.did] for e in ordered]
    if len(ordered) != root.entries or merkle_tree_head(hashes) != root.tree_head:
        raise RegistryError(
            f"registry v{root.version} after the delta is not the operator's (tree head or entry count differs)"
        )
    if leaves is not None:
        for did in root.removed:
            leaves.pop(did, None)
        leaves.update(fresh)
    return TrustRegistry(version=root.version, issued=root.issued, operator=root.operator, entries=ordered)


def registry_delta(
    signed_entries: Mapping[str, Mapping[str, Any]], root_doc: Mapping[str, Any]
) -> dict[str, Any]:
    """One message carrying a version's change: its signed root and the signed entries it changed."""
    return {"type": DELTA_TYPE, "root": dict(root_doc), "entries": [dict(e) for e in signed_entries.values()]}


def apply_delta_document(
    current: TrustRegistry, doc: Mapping[str, Any] | bytes | str, operator_key: Ed25519PublicKey | bytes | str,
    *, leaves: dict[str, bytes] | None = None,
) -> TrustRegistry:  # fmt: skip
    """`apply_delta` of a `registry_delta` message (bytes, text or parsed)."""
    if isinstance(doc, bytes | str):
        try:
            doc, _ = load_json(doc)
        except ValueError as exc:
            raise RegistryError(f"registry delta is not JSON: {exc}") from exc
    if not isinstance(doc, Mapping) or doc.get("type") != DELTA_TYPE:
        raise RegistryError(f"not a registry delta (type {DELTA_TYPE})")
    root, entries = doc.get("root"), doc.get("entries")
    if not isinstance(root, Mapping) or not isinstance(entries, list):
        raise RegistryError("a registry delta carries a root object and a list of entries")
    return apply_delta(current, root, entries, operator_key, leaves=leaves)


def delta_version(doc: Mapping[str, Any]) -> int | None:
    """The version a delta message claims (unverified: for routing only), or None."""
    root = doc.get("root") if isinstance(doc, Mapping) else None
    version = root.get("version") if isinstance(root, Mapping) else None
    return version if isinstance(version, int) else None


@dataclass
class RegistryView:
    """What a node knows of the split registry: the newest verified root, the version each DID last changed
    in (from every root it applied), and the verified entries it fetched; stale ones are refused."""

    operator_key: bytes
    root: RegistryRoot | None = None
    changed_in: dict[str, int] = field(default_factory=dict)
    entries: dict[str, SignedEntry] = field(default_factory=dict)

    @classmethod
    def pinned(cls, operator_key: Ed25519PublicKey | bytes | str) -> RegistryView:
        return cls(operator_key=operator_key_bytes(operator_key))

    def apply_root(self, doc: Mapping[str, Any] | bytes | str) -> list[str]:
        """Take a newer signed root (one version after another, so no change goes unseen); the DIDs whose
        cached entries it made stale (dropped). An older root changes nothing; a gap or a second root of
        the same version with other content is refused (RegistryError / RegistryConflictError)."""
        root = verify_root(doc, self.operator_key)
        current = self.root
        if current is not None:
            if root.version == current.version:
                if canonicalize(root.content()) != canonicalize(current.content()):
                    raise RegistryConflictError(f"two different registry roots claim version {root.version}")
                return []
            if root.version < current.version:
                return []
            if root.version != current.version + 1:
                raise RegistryError(
                    f"registry root v{root.version} after v{current.version}: fetch the roots in between "
                    "(each names what it changed)"
                )
        stale = [*root.changed, *root.removed]
        for did in stale:
            self.changed_in[did] = root.version
            self.entries.pop(did, None)
        self.root = root
        return stale

    def accept_entry(
        self, doc: Mapping[str, Any] | bytes | str, *, index: int | None = None, proof: Sequence[str] = ()
    ) -> SignedEntry:
        """A fetched signed entry, verified and current, cached for `entry()`. Current: not older than the last
        change the applied roots named for its DID; an entry whose DID no applied root named (this node
        started after its last change) must come with its inclusion proof in the current root's tree."""
        if self.root is None:
            raise RegistryError("no registry root yet: an entry cannot be judged current without one")
        if isinstance(doc, bytes | str):
            try:
                doc, _ = load_json(doc)
            except ValueError as exc:
                raise RegistryError(f"registry entry is not JSON: {exc}") from exc
        signed = verify_entry(doc, self.operator_key)
        did = signed.entry.did
        if signed.operator != self.root.operator:
            raise RegistryError(f"registry entry of {did} is signed for operator {signed.operator}")
        if signed.registry_version > self.root.version:
            raise RegistryError(
                f"registry entry of {did} claims v{signed.registry_version}, newer than the root"
            )
        last = self.changed_in.get(did)
        if last is not None and signed.registry_version < last:
            raise RegistryError(
                f"registry entry of {did} is from v{signed.registry_version}, but v{last} changed it: stale"
            )
        if did in self.root.removed:
            raise RegistryError(f"{did} was removed from the registry in v{self.root.version}")
        if last is None:
            leaf = entry_leaf(signed.entry)
            if index is None or not verify_inclusion(
                leaf, index, self.root.entries, proof, self.root.tree_head
            ):
                raise RegistryError(
                    f"registry entry of {did} is not proven in root v{self.root.version}'s tree (no or a wrong "
                    "inclusion proof): it may be an older version"
                )
        self.entries[did] = signed
        return signed

    def entry(self, did: str) -> RegistryEntry | None:
        """The cached current entry of `did` (None: not fetched yet, or made stale by a root)."""
        signed = self.entries.get(did)
        return signed.entry if signed is not None else None


def export_registry(entries: Iterable[SignedEntry], root: RegistryRoot) -> TrustRegistry:
    """The single-document registry (the old wire form, for tools that read it) of a root's entries."""
    return TrustRegistry(
        version=root.version, issued=root.issued, operator=root.operator, entries=[e.entry for e in entries]
    )
