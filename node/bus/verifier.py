"""The node's verifier: the protocol's `verify_declaration` with the trust registry and the status lists the
node has received (verified, kept in the store), plus the handling of incoming status-list messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pcfx.node.bus.ingest import StatusOutcome, VerificationLike
from pcfx.node.store import repository as repo
from pcfx.node.store.facts import parse_instant
from pcfx.node.store.models import Declaration, DeclarationState, Origin, StatusList
from pcfx.protocol.errors import FailureReason, VerificationError
from pcfx.protocol.registry import TrustRegistry, verify_registry
from pcfx.protocol.status import StatusList as DecodedStatusList
from pcfx.protocol.status import decode_status_list, verify_status_list
from pcfx.protocol.subjects import status_subject
from pcfx.protocol.verify import verify_declaration as _verify_declaration
from sqlmodel import Session, select

__all__ = ["ProtocolVerifier", "RegistryUnavailableError", "load_registry"]

log = logging.getLogger("pcfx.ingest")

# Revocation and deprecation are permanent, so a list that clears a set bit is a replay of an older list.
_MONOTONE_PURPOSES = frozenset({"revocation", "message"})


class RegistryUnavailableError(RuntimeError):
    """The node has no trust registry it can use (missing file, or no operator key to check it)."""


def load_registry(path: Any, operator_key: str | None) -> TrustRegistry:
    """Read the registry file and check the operator's proof with the pinned operator Multikey."""
    file = Path(path)
    if not file.is_file():
        raise RegistryUnavailableError(f"no trust registry at {file}")
    if not operator_key:
        raise RegistryUnavailableError(
            "registry_operator_key is not configured; the registry cannot be checked"
        )
    return verify_registry(file.read_bytes(), operator_key)


class _StoredStatusLists(Mapping[str, DecodedStatusList]):
    """statusListCredential URL -> verified, decoded list, read from the store on demand (decoded once)."""

    #: A cached list is trusted this long without looking at the store (lists stored by this process
    #: refresh the cache at once; the delay only matters for lists stored by another process, e.g. `pcfx pull`).
    TRUST_SECONDS = 2.0

    def __init__(self, session: Session, cache: dict[str, tuple[str, DecodedStatusList, float]]) -> None:
        self._session, self._cache = session, cache

    def __getitem__(self, url: str) -> DecodedStatusList:
        cached = self._cache.get(url)
        if cached is not None and time.monotonic() - cached[2] < self.TRUST_SECONDS:
            return cached[1]
        row = repo.get_status_list(self._session, list_id=url)
        if row is None:
            raise KeyError(url)
        if cached is not None and cached[0] == row.sha256:
            self._cache[url] = (cached[0], cached[1], time.monotonic())
            return cached[1]
        decoded = _decode_trusted(row)
        self._cache[url] = (row.sha256, decoded, time.monotonic())
        return decoded

    def __iter__(self) -> Iterator[str]:
        return iter(self._session.exec(select(StatusList.list_id)).all())

    def __len__(self) -> int:
        return len(self._session.exec(select(StatusList.list_id)).all())


def _decode_trusted(row: StatusList) -> DecodedStatusList:
    # Stored lists were verified on arrival; decoding only (no signature check on every lookup).
    doc = orjson.loads(row.raw)
    subject = doc["credentialSubject"]
    valid_until = doc.get("validUntil")
    return DecodedStatusList(
        url=row.list_id,
        issuer=row.issuer,
        purpose=subject["statusPurpose"],
        bits=decode_status_list(subject["encodedList"]),
        valid_until=parse_instant(valid_until),
    )


@dataclass
class ProtocolVerifier:
    """Verification as the protocol defines it, fed with the node's registry and received status lists."""

    registry: TrustRegistry | None
    allow_did_key: bool = False
    _cache: dict[str, tuple[str, DecodedStatusList, float]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any) -> ProtocolVerifier:
        """Registry from `settings.registry_path` checked with `settings.registry_operator_key`; without a
        registry only did:key issuers can verify, and only when `allow_did_key` is set."""
        try:
            registry = load_registry(settings.registry_path, settings.registry_operator_key)
        except RegistryUnavailableError as exc:
            if not settings.allow_did_key:
                raise
            log.warning("%s; only did:key issuers will verify", exc)
            registry = None
        return cls(registry=registry, allow_did_key=settings.allow_did_key)

    def verify_declaration(
        self, raw: bytes, *, session: Session, now: datetime | None = None
    ) -> VerificationLike:
        """The protocol's verification of `raw` with the registry and the stored status lists."""
        return _verify_declaration(
            raw,
            registry=self.registry,
            status=_StoredStatusLists(session, self._cache),
            now=now,
            allow_did_key=self.allow_did_key,
        )

    def verify_batch(
        self, raws: Sequence[bytes], *, session: Session, now: datetime | None = None
    ) -> Iterator[VerificationLike]:
        """`verify_declaration` of each of `raws` in memory, at one instant and with one status lookup
        (status lists are decoded once and cached; the store is read only for a list not seen yet).

        Lazy: a result is computed when the caller asks for it, so a caller that keeps only what it needs
        of each result does not hold a whole batch of parsed declarations (which the garbage collector
        would otherwise scan again and again while the batch is decided)."""
        status = _StoredStatusLists(session, self._cache)
        at = now or datetime.now(UTC)
        registry, allow_did_key = self.registry, self.allow_did_key
        for raw in raws:
            yield _verify_declaration(
                raw, registry=registry, status=status, now=at, allow_did_key=allow_did_key
            )

    def is_transient(self, result: VerificationLike) -> bool:
        """A status list not received yet is retried (it normally follows on the same subscription)."""
        return str(result.reason) == FailureReason.STATUS_UNAVAILABLE

    def handle_status_list(self, raw: bytes, *, subject: str, session: Session) -> StatusOutcome:
        """Verify a status list, keep it when it is newer (never one that clears a permanent bit), and
        report which stored declarations it revokes or deprecates."""
        if self.registry is None:
            return StatusOutcome(
                False, FailureReason.UNKNOWN_ISSUER, "no trust registry to check status lists"
            )
        try:
            decoded = verify_status_list(raw, registry=self.registry)
        except VerificationError as exc:
            reason = getattr(exc, "reason", None) or FailureReason.MALFORMED
            return StatusOutcome(False, str(reason), str(exc))
        if status_subject(decoded.issuer, decoded.url) != subject:
            return StatusOutcome(False, "subject mismatch", f"status list {decoded.url} of {decoded.issuer}")
        doc = orjson.loads(raw)
        valid_from = parse_instant(doc.get("validFrom"))
        current = repo.get_status_list(session, list_id=decoded.url)
        if current is not None and current.sha256 != repo.sha256_hex(raw):
            if decoded.purpose in _MONOTONE_PURPOSES:
                old = _StoredStatusLists(session, self._cache)[decoded.url]
                if any(o & ~n for o, n in zip(old.bits, decoded.bits, strict=False)):
                    return StatusOutcome(
                        False, "downgrade", f"status list {decoded.url} clears a permanent bit"
                    )
            elif (
                valid_from is not None and current.valid_from is not None and valid_from < current.valid_from
            ):
                return StatusOutcome(
                    False, "downgrade", f"status list {decoded.url} is older than the stored one"
                )
        replaced, _ = repo.save_status_list(
            session,
            list_id=decoded.url,
            issuer=decoded.issuer,
            raw=raw,
            valid_from=valid_from,
            purpose=decoded.purpose,
            force=decoded.purpose in _MONOTONE_PURPOSES,
        )
        if not replaced:
            return StatusOutcome(True)
        self._cache[decoded.url] = (repo.sha256_hex(raw), decoded, time.monotonic())
        return StatusOutcome(True, changed=tuple(self._affected(session, decoded)))

    def _affected(self, session: Session, decoded: DecodedStatusList) -> Iterator[tuple[str, str]]:
        rows = session.exec(
            select(Declaration).where(
                Declaration.origin == Origin.RECEIVED,
                Declaration.issuer == decoded.issuer,
                Declaration.state.in_([DeclarationState.ACTIVE, DeclarationState.SUSPENDED]),  # type: ignore[attr-defined]
            )
        ).all()
        for row in rows:
            entries = orjson.loads(row.raw).get("credentialStatus") or []
            for entry in entries if isinstance(entries, list) else [entries]:
                if not isinstance(entry, dict) or entry.get("statusListCredential") != decoded.url:
                    continue
                try:
                    value = decoded.status(int(entry["statusListIndex"]), int(entry.get("statusSize", 1)))
                except (KeyError, ValueError, TypeError):
                    continue
                state = _state_for(decoded.purpose, value, row.state)
                if state is not None:
                    yield row.declaration_id, state


def _state_for(purpose: str, value: int, current: str) -> str | None:
    if purpose == "revocation" and value:
        return DeclarationState.REVOKED
    if purpose == "message" and value:
        return DeclarationState.DEPRECATED
    if purpose == "suspension":
        if value and current == DeclarationState.ACTIVE:
            return DeclarationState.SUSPENDED
        if not value and current == DeclarationState.SUSPENDED:
            return DeclarationState.ACTIVE
    return None
