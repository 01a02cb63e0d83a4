"""The footprints a PACT host serves, prepared once per change: serialized bytes, filter index, readers.

`FootprintSource` is what the host reads; `StaticFootprintSource` serves a fixed list (demo, tests,
benchmarks); the store-backed source rebuilds its snapshot when the store changes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pcfx.node.pact.access import AccessRule, readers_for
from pcfx.node.pact.filters import FootprintIndex, index_footprint
from pcfx.protocol.pact import dump_footprint_v2, parse_footprint, v3_to_v2

__all__ = [
    "FootprintSnapshot",
    "FootprintSource",
    "ServedFootprint",
    "StaticFootprintSource",
    "V2Converter",
    "dump_json",
    "serve",
    "to_v2_document",
]

log = logging.getLogger(__name__)

# Turns a PACT v3 footprint document into its v2.3 form (pcfx.protocol.pact.convert.v3_to_v2).
V2Converter = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def to_v2_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The PACT v2.3 form of a v3 footprint document (raises UnmappableFootprint / InvalidFootprint)."""
    return dump_footprint_v2(v3_to_v2(parse_footprint(dict(document))))


def dump_json(document: Any) -> bytes:
    """Compact UTF-8 JSON, the wire form of every PACT response body."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class ServedFootprint:
    """One footprint ready to serve."""

    id: str
    document: Mapping[str, Any]
    body: bytes
    index: FootprintIndex
    readers: frozenset[str] | None

    def readable_by(self, client_id: str) -> bool:
        """True when `client_id` may read this footprint."""
        return self.readers is None or client_id in self.readers


def serve(document: Mapping[str, Any], *, rules: Iterable[AccessRule] = ()) -> ServedFootprint:
    """Prepare one PACT v3 footprint document for serving."""
    return ServedFootprint(
        id=str(document["id"]).lower(),
        document=document,
        body=dump_json(document),
        index=index_footprint(document),
        readers=readers_for(document, rules),
    )


@dataclass(slots=True)
class FootprintSnapshot:
    """An immutable view of the served footprints, in a stable order (pagination relies on it)."""

    footprints: tuple[ServedFootprint, ...]
    to_v2: V2Converter | None = None
    by_id: dict[str, ServedFootprint] = field(init=False)
    all_public: bool = field(init=False)
    # Footprint id -> (PACT v2.3 JSON bytes, document), or None when v2.3 cannot express the footprint.
    _v2: dict[str, tuple[bytes, Mapping[str, Any]] | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.by_id = {item.id: item for item in self.footprints}
        self.all_public = all(item.readers is None for item in self.footprints)

    def readable(self, client_id: str) -> Iterable[ServedFootprint]:
        """The footprints `client_id` may read, in snapshot order."""
        if self.all_public:
            return self.footprints
        return (item for item in self.footprints if item.readable_by(client_id))

    def v2_body(self, item: ServedFootprint) -> bytes | None:
        """The footprint's PACT v2.3 JSON bytes (converted once, then cached); None if v2.3 cannot express it."""
        converted = self._v2_form(item)
        return None if converted is None else converted[0]

    def v2_document(self, item: ServedFootprint) -> Mapping[str, Any] | None:
        """The footprint's PACT v2.3 document (shared: not to be modified); None if v2.3 cannot express it."""
        converted = self._v2_form(item)
        return None if converted is None else converted[1]

    def _v2_form(self, item: ServedFootprint) -> tuple[bytes, Mapping[str, Any]] | None:
        if item.id in self._v2:
            return self._v2[item.id]
        converted: tuple[bytes, Mapping[str, Any]] | None = None
        if self.to_v2 is not None:
            try:
                document = self.to_v2(item.document)
                converted = (dump_json(document), document)
            except ValueError as exc:  # UnmappableFootprint, InvalidFootprint
                log.info("footprint %s is not served as PACT v2.3: %s", item.id, exc)
        with self._lock:
            self._v2[item.id] = converted
        return converted


class FootprintSource(Protocol):
    """Where the host gets the footprints it serves."""

    def snapshot(self) -> FootprintSnapshot: ...


class StaticFootprintSource:
    """A fixed, replaceable set of footprint documents."""

    def __init__(
        self,
        documents: Sequence[Mapping[str, Any]] = (),
        *,
        rules: Iterable[AccessRule] = (),
        to_v2: V2Converter | None = None,
    ) -> None:
        self._rules = tuple(rules)
        self._to_v2 = to_v2
        self._snapshot = self._build(documents)

    def _build(self, documents: Sequence[Mapping[str, Any]]) -> FootprintSnapshot:
        served: dict[str, ServedFootprint] = {}
        for document in documents:
            item = serve(document, rules=self._rules)
            # An id names one footprint: a repeated id is served once (its first document).
            served.setdefault(item.id, item)
        return FootprintSnapshot(tuple(served.values()), to_v2=self._to_v2)

    def replace(
        self, documents: Sequence[Mapping[str, Any]], *, rules: Iterable[AccessRule] | None = None
    ) -> None:
        """Serve `documents` from now on (and `rules`, when given)."""
        if rules is not None:
            self._rules = tuple(rules)
        self._snapshot = self._build(documents)

    def snapshot(self) -> FootprintSnapshot:
        return self._snapshot
