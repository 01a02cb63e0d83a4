"""The node's verifier: the protocol's `verify_declaration` with the trust registry and the status lists the
node has received (verified, kept in the store), plus the handling of incoming status-list messages.

With `workers` > 0 a batch can also be verified in worker processes (`pcfx.node.bus.verify_pool`):
`submit_batch` sends it with the stored status lists of its issuers, and `accept` takes a worker's result
only when every status list it looked up is, at decision time, exactly the one the node itself would use
(same digest, or absent in both); otherwise the caller verifies in-process again."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pcfx.node.bus.ingest import StatusOutcome, VerificationLike
from pcfx.node.bus.verify_pool import PooledResult, ShippedList, VerifyPool, decode_list
from pcfx.node.store import repository as repo
from pcfx.node.store.facts import parse_instant
from pcfx.node.store.models import Declaration, DeclarationState, Origin, StatusList
from pcfx.protocol.errors import FailureReason, RegistryError, VerificationError
from pcfx.protocol.registry import TrustRegistry, verify_registry
from pcfx.protocol.status import StatusList as DecodedStatusList
from pcfx.protocol.status import verify_status_list
from pcfx.protocol.subjects import status_subject, subject_token
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
    registry = verify_registry(file.read_bytes(), operator_key)
    return _with_deltas(registry, file.with_name(file.name + ".d"), operator_key)


def _with_deltas(registry: TrustRegistry, folder: Path, operator_key: str) -> TrustRegistry:
    """`registry` with the deltas a networked node took after it, applied in order (each verified); the
    first that does not apply ends the chain (the node fetches the whole document when it connects)."""
    if not folder.is_dir():
        return registry
    from pcfx.protocol.registry_entries import apply_delta_document

    found = {int(p.stem[1:]): p for p in folder.glob("v*.json") if p.stem[1:].isdigit()}
    while registry.version + 1 in found:
        try:
            registry = apply_delta_document(registry, found[registry.version + 1].read_bytes(), operator_key)
        except (OSError, RegistryError) as exc:
            log.warning("trust registry delta v%s not applied: %s", registry.version + 1, exc)
            break
    return registry


def _clears_a_bit(old: bytes, new: bytes) -> bool:
    """True when a bit set in `old` is clear in `new` (over their common length): one big-integer operation
    instead of a loop over every byte of a 16 KiB list, which each status update of a supplier would cost."""
    common = min(len(old), len(new))
    return bool(int.from_bytes(old[:common], "big") & ~int.from_bytes(new[:common], "big"))


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

    def digest(self, url: str) -> str | None:
        """SHA-256 of the list `self[url]` returns (the same cache rules), None when there is none."""
        try:
            self[url]
        except KeyError:
            return None
        return self._cache[url][0]


def _decode_trusted(row: StatusList) -> DecodedStatusList:
    # Stored lists were verified on arrival; decoding only (no signature check on every lookup).
    return decode_list(row.list_id, row.issuer, row.raw)


_token = functools.lru_cache(maxsize=4096)(subject_token)


@dataclass
class ProtocolVerifier:
    """Verification as the protocol defines it, fed with the node's registry and received status lists."""

    registry: TrustRegistry | None
    allow_did_key: bool = False
    workers: int = 0
    _cache: dict[str, tuple[str, DecodedStatusList, float]] = field(default_factory=dict)
    _pool: VerifyPool | None = None
    _pool_users: int = 0
    _warming: Future[int] | None = None
    _shipped_raw: dict[tuple[str, str], bytes] = field(default_factory=dict)
    #: subject -> (sha256, registry version, list URL) of the status list last verified from that subject
    _status_seen: dict[str, tuple[str, int, str]] = field(default_factory=dict)

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
        return cls(
            registry=registry,
            allow_did_key=settings.allow_did_key,
            workers=int(getattr(settings, "verify_workers", 0) or 0),
        )

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

    # Worker processes ---------------------------------------------------------------------------------
    def open_pool(self) -> bool:
        """Take a share of the worker pool (started on first use); False when `workers` is 0."""
        if self.workers <= 0:
            return False
        self._pool_users += 1
        if self._pool is None:
            self._pool = self._new_pool()
            self._warming = self._pool.warm()
        return True

    async def pool_started(self) -> None:
        """Wait until the workers of an open pool are up (spawned, registry loaded)."""
        if self._warming is not None:
            await asyncio.wrap_future(self._warming)

    def _new_pool(self) -> VerifyPool:
        return VerifyPool(registry=self.registry, allow_did_key=self.allow_did_key, workers=self.workers)

    def close_pool(self) -> None:
        """Give a share back; the last one stops the worker processes."""
        self._pool_users = max(0, self._pool_users - 1)
        if self._pool_users == 0 and self._pool is not None:
            pool, self._pool, self._warming = self._pool, None, None
            pool.close()

    def restart_pool(self) -> None:
        """Drop a broken pool; the next `submit_batch` starts new workers."""
        if self._pool is not None:
            self._pool.restart()

    def pool_pids(self) -> list[int]:
        """Process ids of the running verification workers."""
        return [] if self._pool is None else self._pool.pids()

    def submit_batch(
        self, raws: Sequence[bytes], *, issuer_tokens: Iterable[str], session: Session, now: datetime
    ) -> asyncio.Future[Any] | None:
        """Start verifying `raws` in the workers with the stored status lists of the issuers whose subject
        tokens are `issuer_tokens`; None when there is no pool share open."""
        if self._pool_users <= 0 or not raws:
            return None
        pool = self._pool
        if pool is None or pool.registry is not self.registry:
            if pool is not None:
                pool.close()  # the registry changed: workers hold the old one
            pool = self._pool = self._new_pool()
        return pool.submit(raws, now=now, lists=self._lists_for(session, set(issuer_tokens)))

    async def batch_results(self, pending: asyncio.Future[Any]) -> list[PooledResult]:
        """A `submit_batch`'s results in order (raises `WorkerDiedError` when a worker died)."""
        return await VerifyPool.results(pending)

    def accept(self, result: PooledResult, *, session: Session) -> bool:
        """True when `result` is what in-process verification would give now: every status list it looked
        up is the node's current one (same digest), or absent for both."""
        status = _StoredStatusLists(session, self._cache)
        return all(status.digest(url) == digest for url, digest in result.status_used)

    def _lists_for(self, session: Session, tokens: set[str]) -> list[ShippedList]:
        rows = session.exec(select(StatusList.list_id, StatusList.issuer, StatusList.sha256)).all()
        wanted = [(url, issuer, digest) for url, issuer, digest in rows if _token(issuer) in tokens]
        missing = [url for url, _, digest in wanted if (url, digest) not in self._shipped_raw]
        if missing:
            current = {(url, digest) for url, _, digest in wanted}
            self._shipped_raw = {k: v for k, v in self._shipped_raw.items() if k in current}
            for row in session.exec(select(StatusList).where(StatusList.list_id.in_(missing))).all():  # type: ignore[attr-defined]
                self._shipped_raw[(row.list_id, row.sha256)] = row.raw
        return [
            (url, issuer, digest, self._shipped_raw[(url, digest)])
            for url, issuer, digest in wanted
            if (url, digest) in self._shipped_raw
        ]

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
        # A supplier republishes its lists whenever a buyer starts following it, and every follower gets
        # them again: the very bytes verified from this subject under this registry version, and stored
        # (committed: the store says so), are acknowledged without a second verification.
        digest = repo.sha256_hex(raw)
        seen = self._status_seen.get(subject)
        if (
            seen is not None
            and seen[:2] == (digest, self.registry.version)
            and repo.status_list_digest(session, list_id=seen[2]) == digest
        ):
            return StatusOutcome(True)
        try:
            decoded = verify_status_list(raw, registry=self.registry)
        except VerificationError as exc:
            reason = getattr(exc, "reason", None) or FailureReason.MALFORMED
            return StatusOutcome(False, str(reason), str(exc))
        if status_subject(decoded.issuer, decoded.url) != subject:
            if subject.split(".")[3:4] != [_token(decoded.issuer)]:
                return StatusOutcome(
                    False, "subject names another issuer", f"status list {decoded.url} of {decoded.issuer}"
                )
            return StatusOutcome(False, "subject mismatch", f"status list {decoded.url} of {decoded.issuer}")
        doc = orjson.loads(raw)
        valid_from = parse_instant(doc.get("validFrom"))
        current = repo.get_status_list(session, list_id=decoded.url)
        if current is not None and current.sha256 != digest:
            if decoded.purpose in _MONOTONE_PURPOSES:
                old = _StoredStatusLists(session, self._cache)[decoded.url]
                if _clears_a_bit(old.bits, decoded.bits):
                    # An earlier version of the list (no bit the stored one lacks, not dated later) is a
                    # stale copy: a buyer following two products of a supplier gets its lists on both feeds,
                    # in no common order. It is genuine and changes nothing: acknowledged, not stored.
                    # Anything else that clears a bit is the issuer taking back a revocation: refused.
                    stale = not _clears_a_bit(decoded.bits, old.bits) and (
                        valid_from is None or current.valid_from is None or valid_from <= current.valid_from
                    )
                    if stale:
                        return StatusOutcome(True)
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
        self._status_seen[subject] = (digest, self.registry.version, decoded.url)
        if not replaced:
            return StatusOutcome(True)
        self._cache[decoded.url] = (digest, decoded, time.monotonic())
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
