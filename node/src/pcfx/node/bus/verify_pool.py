"""Declaration verification in worker processes (`verify_workers` > 0), so the node stores and acknowledges
one batch while the next one is verified on another core.

A worker runs the protocol's `verify_declaration` with a copy of the node's trust registry (sent once, at
start; its parsed keys stay cached in the worker) and the status lists the node sent with the batch. A
result is a plain tuple; it also names every status list the verification looked up and the digest of the
one it used (None when it had none), so the node can accept the result only when its own current status
lists are exactly those (`ProtocolVerifier.accept`) and verify again in-process otherwise. The worker never
touches the store: whether, when and how a message is stored stays with the node's ingest loop.

A worker checks every half second that the node process that started it is still its parent, and exits
when it is not (a SIGKILLed node leaves no worker behind)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pcfx.node.store.facts import DeclarationFacts, FactsError, declaration_facts, parse_instant
from pcfx.protocol.errors import FailureReason
from pcfx.protocol.registry import TrustRegistry
from pcfx.protocol.status import StatusList, decode_status_list
from pcfx.protocol.verify import verify_declaration

__all__ = [
    "PooledResult",
    "ShippedList",
    "VerifyPool",
    "WorkerDiedError",
    "decode_list",
]

log = logging.getLogger("pcfx.ingest")

#: Status reasons after which an authentic declaration is stored in that state (its facts are needed).
_STATUS_REASONS = frozenset({"revoked", "deprecated", "suspended"})
#: (list URL, its issuer, SHA-256 of its bytes, its bytes): a stored, verified status list sent to a worker.
ShippedList = tuple[str, str, str, bytes]


class WorkerDiedError(RuntimeError):
    """A verification worker died (killed, out of memory...) before returning a batch's results."""


def decode_list(url: str, issuer: str, raw: bytes) -> StatusList:
    """Decode a stored status list (verified when it arrived: no signature check here)."""
    doc = orjson.loads(raw)
    subject = doc["credentialSubject"]
    return StatusList(
        url=url,
        issuer=issuer,
        purpose=subject["statusPurpose"],
        bits=decode_status_list(subject["encodedList"]),
        valid_until=parse_instant(doc.get("validUntil")),
    )


@dataclass(frozen=True, slots=True)
class PooledResult:
    """A worker's verification of one declaration, in the shape ingestion reads (`VerificationLike`).

    `declaration` is not sent back; `parsed` says whether the worker could read it, and `facts` (or
    `facts_error`) are computed in the worker for a declaration that will be stored. `status_used` lists
    (status list URL, digest of the list used or None)."""

    ok: bool
    reason: Any
    detail: str | None
    declaration_id: str | None
    issuer: str | None
    verification_method: str | None
    registry_version: int | None
    parsed: bool
    facts: DeclarationFacts | None
    facts_error: str | None
    status_used: tuple[tuple[str, str | None], ...]

    @property
    def declaration(self) -> None:
        return None


# ---- worker side -----------------------------------------------------------------------------------------
_registry: TrustRegistry | None = None
_allow_did_key = False
_lists: dict[tuple[str, str], StatusList] = {}  # (url, digest) -> decoded list, kept between batches


def _watch_parent(parent: int) -> None:
    import time

    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _init(registry_json: str | None, allow_did_key: bool, parent: int) -> None:
    global _registry, _allow_did_key
    _registry = TrustRegistry.model_validate_json(registry_json) if registry_json is not None else None
    if _registry is not None:
        _registry.lookup_index  # noqa: B018 - decode the public keys once, up front
    _allow_did_key = allow_did_key
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="pcfx-parent-watch").start()


class _Recording(dict[str, StatusList]):
    """The status lookup of one batch; remembers each URL asked for and the digest of what it gave."""

    def __init__(self, lists: dict[str, tuple[str, StatusList]]) -> None:
        super().__init__()
        self._lists = lists
        self.used: dict[str, str | None] = {}

    def get(self, url: str, default: Any = None) -> Any:  # type: ignore[override]
        found = self._lists.get(url)
        self.used[url] = None if found is None else found[0]
        return default if found is None else found[1]

    def __getitem__(self, url: str) -> StatusList:
        found = self.get(url)
        if found is None:
            raise KeyError(url)
        return found


def _verify_chunk(
    raws: Sequence[bytes], now: datetime, shipped: Sequence[ShippedList]
) -> list[tuple[Any, ...]]:
    lists: dict[str, tuple[str, StatusList]] = {}
    for url, issuer, digest, raw in shipped:
        decoded = _lists.get((url, digest))
        if decoded is None:
            decoded = _lists[(url, digest)] = decode_list(url, issuer, raw)
        lists[url] = (digest, decoded)
    out: list[tuple[Any, ...]] = []
    for raw in raws:
        status = _Recording(lists)
        result = verify_declaration(
            raw, registry=_registry, status=status, now=now, allow_did_key=_allow_did_key
        )
        reason = None if result.reason is None else str(result.reason)
        facts = facts_error = None
        if result.declaration is not None and (result.ok or reason in _STATUS_REASONS):
            try:
                facts = declaration_facts(result.declaration, declaration_id=result.declaration_id)
            except (FactsError, ValueError) as exc:
                facts_error = str(exc)
        out.append(
            (
                result.ok,
                reason,
                result.detail,
                result.declaration_id,
                result.issuer,
                result.verification_method,
                result.registry_version,
                result.declaration is not None,
                facts,
                facts_error,
                tuple(status.used.items()),
            )
        )
    return out


def _result(values: tuple[Any, ...]) -> PooledResult:
    reason = values[1]
    if reason is not None:
        with contextlib.suppress(ValueError):
            reason = FailureReason(reason)
    return PooledResult(values[0], reason, *values[2:])


# ---- node side -------------------------------------------------------------------------------------------
class VerifyPool:
    """`workers` verification processes (spawned, so they inherit no socket, loop or database handle)."""

    def __init__(self, *, registry: TrustRegistry | None, allow_did_key: bool, workers: int) -> None:
        self.registry, self.allow_did_key, self.workers = registry, allow_did_key, max(1, workers)
        self._registry_json = None if registry is None else registry.model_dump_json()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def _started(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is not None and getattr(self._executor, "_broken", False):
            log.error("verification worker died while idle; restarting the worker pool")
            self.restart()
        if self._executor is None:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(self._registry_json, self.allow_did_key, os.getpid()),
            )
        return self._executor

    def warm(self) -> concurrent.futures.Future[int]:
        """Start the workers now (spawn and registry load take about a second), not at the first batch."""
        executor = self._started()
        return executor.submit(os.getpid)

    def submit(
        self, raws: Sequence[bytes], *, now: datetime, lists: Sequence[ShippedList]
    ) -> asyncio.Future[list[list[tuple[Any, ...]]]]:
        """Start verifying `raws` at instant `now` with `lists`, split over the workers in order (call from
        the event loop; pass the returned future to `results`)."""
        executor = self._started()
        size = -(-len(raws) // self.workers) or 1
        return asyncio.gather(
            *(
                asyncio.wrap_future(executor.submit(_verify_chunk, raws[i : i + size], now, lists))
                for i in range(0, len(raws), size)
            )
        )

    @staticmethod
    async def results(pending: asyncio.Future[list[list[tuple[Any, ...]]]]) -> list[PooledResult]:
        """The results of a `submit`, in order; WorkerDiedError when a worker died meanwhile."""
        try:
            chunks = await pending
        except BrokenProcessPool as exc:
            raise WorkerDiedError(str(exc) or "a verification worker died") from exc
        return [_result(values) for chunk in chunks for values in chunk]

    def restart(self) -> None:
        """Replace the pool when it is broken (its processes are gone); the next `submit` starts fresh
        workers. A healthy pool is kept: several batches submitted to a broken one each report the death."""
        executor = self._executor
        # ProcessPoolExecutor marks itself broken when a worker dies (no public accessor).
        if executor is not None and getattr(executor, "_broken", False):
            self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers and wait for them to exit."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def pids(self) -> list[int]:
        """Process ids of the running workers (for tests and logs)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)
