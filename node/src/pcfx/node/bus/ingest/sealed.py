"""Receiving a buyer-only declaration (PROTOCOL.md section 9.4, steps 1 to 4): size, the node's own branch of
`pcfx.v1.dto`, the envelope's shape and algorithms, a recipient that is one of the node's own keys, and
decryption. What comes out is an ordinary declaration message (the opened bytes, the same subject) that the
ingestion path then verifies, checks and stores exactly like a public one (steps 5 to 8 of section 5.2)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import NamedTuple, Protocol

from pcfx.node.bus.ingest.model import Incoming, IngestReason
from pcfx.protocol.keys import X25519PrivateKey
from pcfx.protocol.sealed import MAX_SEALED_BYTES, SealedError, open_sealed_any
from pcfx.protocol.subjects import (
    DECL_PREFIX,
    DTO_PREFIX,
    decl_subject,
    dto_subject,
    parse_dto_subject,
    parse_subject,
)

__all__ = [
    "Inbox",
    "Refusal",
    "expected_subject",
    "is_sealed",
    "issuer_channel",
    "subject_parts",
    "unseal",
]

_DTO = DTO_PREFIX + "."


class Inbox(Protocol):
    """The node's own NATS account and key-agreement keys (`pcfx.node.sealing.SealedInbox`)."""

    @property
    def account(self) -> str | None: ...

    def keys(self) -> Mapping[str, X25519PrivateKey]: ...


class Refusal(NamedTuple):
    """Why a sealed message is quarantined (with its envelope) before anything was opened."""

    reason: str
    detail: str


def is_sealed(subject: str) -> bool:
    """True for a subject under `pcfx.v1.dto.`."""
    return subject.startswith(_DTO)


def subject_parts(subject: str) -> tuple[str, str, str]:
    """(kind, issuer token, last token) of a pcfx subject; kind `dto` for a buyer-only subject, whose last
    token is the product's. Raises ValueError for anything else."""
    if is_sealed(subject):
        _, issuer, product = parse_dto_subject(subject)
        return "dto", issuer, product
    return parse_subject(subject)


def expected_subject(subject: str, issuer: str, product_id: str) -> str:
    """The subject a declaration of (issuer, product) belongs on, on the channel `subject` is on."""
    if is_sealed(subject):
        account, _, _ = parse_dto_subject(subject)
        return dto_subject(account, issuer, product_id)
    return decl_subject(issuer, product_id)


def issuer_channel(subject: str, issuer_token: str) -> str:
    """The subjects of an issuer on the channel of `subject` (for a one-line refusal)."""
    if is_sealed(subject):
        account, _, _ = parse_dto_subject(subject)
        return f"{DTO_PREFIX}.{account}.{issuer_token}.*"
    return f"{DECL_PREFIX}.{issuer_token}.*"


def unseal(item: Incoming, inbox: Inbox | None) -> Incoming | Refusal:
    """The declaration sealed in `item` to this node, as a message on the same subject; or why not."""
    if len(item.raw) > MAX_SEALED_BYTES:
        return Refusal(IngestReason.OVERSIZED, f"{len(item.raw)} bytes > sealed limit {MAX_SEALED_BYTES}")
    try:
        account, _, _ = parse_dto_subject(item.subject)
    except ValueError as exc:
        return Refusal(IngestReason.UNKNOWN_SUBJECT, str(exc))
    own = inbox.account if inbox is not None else None
    if own is None:
        return Refusal(IngestReason.UNKNOWN_SUBJECT, "this node has no NATS account: no buyer-only branch")
    if account != own:
        return Refusal(IngestReason.UNKNOWN_SUBJECT, f"addressed to account {account}, not this node's {own}")
    assert inbox is not None
    try:
        opened = open_sealed_any(item.raw, inbox.keys())
    except SealedError as exc:
        return Refusal(exc.reason.value, exc.detail)
    return dataclasses.replace(item, raw=opened)
