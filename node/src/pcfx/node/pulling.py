"""A company node's on-demand pulls of a supplier's latest declaration: request-reply to the issuer's node, else
the stream's last message on the subject, else the KV entry; each source's answer verified like a stream
message, the next source tried when one is refused."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NotFoundError
from pcfx.node.bus.ingest import Action, Decision
from pcfx.node.bus.responder import HEADER_STATUS
from pcfx.node.following import NodeFollowing
from pcfx.protocol.subjects import STREAM_NAME, decl_subject, latest_key, req_subject, status_subject

__all__ = ["PULL_SOURCES", "NodePulling"]

log = logging.getLogger("pcfx.node")

#: Where `pull` looks, in order: the issuer's node, the stream's last message on the subject, the KV entry.
PULL_SOURCES = ("request-reply", "stream", "kv")


class NodePulling(NodeFollowing):
    """`Node` methods that pull a supplier's latest declaration on demand (a pull asks the network to let
    this node follow the product first: `request_follows`)."""

    async def fetch_latest_raw(self, issuer: str, product_id: str, *, timeout: float = 2.0) -> bytes | None:
        """The first bytes any source has of the issuer's latest declaration, UNVERIFIED: request-reply to
        the issuer's node, else the stream's last message on the subject, else the KV entry."""
        for source in PULL_SOURCES:
            found = await self._read_source(source, issuer, product_id, timeout)
            if found is not None:
                return found[0]
        return None

    async def pull(self, issuer: str, product_id: str, *, timeout: float = 2.0) -> Decision | None:
        """Fetch the latest declaration on demand and ingest it (verify -> store); None when no source has
        one. Each source's answer is verified like a stream message; when it is refused (junk, another
        issuer's declaration...) the next source is tried. The decision's `source` names the source whose
        answer was accepted; when every answer was refused, its reason lists each source's."""
        subject = decl_subject(issuer, product_id)
        try:  # in a network, a follow imports the supplier's request service (the first one re-issues the account)
            await self.request_follows(issuer, [product_id])
        except Exception as exc:
            log.info(
                "pull of %s: follow not granted (%s); the stream and the KV are still asked", subject, exc
            )
        refused: list[tuple[str, Decision]] = []
        for source in PULL_SOURCES:
            found = await self._read_source(source, issuer, product_id, timeout)
            if found is None:
                continue
            raw, seq = found
            await self._pull_status_lists(issuer, raw)
            decided = await self.ingestor.ingest_raw(raw, subject=subject, stream_seq=seq)
            decision = dataclasses.replace(decided, source=source)
            if decision.action is Action.ACK:
                if refused:
                    log.warning(
                        "pull of %s: %s; accepted the %s's answer",
                        subject,
                        "; ".join(f"{s} refused: {d.reason}" for s, d in refused),
                        source,
                    )
                return decision
            refused.append((source, decision))
        if not refused:
            return None
        last = refused[-1][1]
        reasons = "; ".join(f"{source}: {d.reason}" for source, d in refused)
        return dataclasses.replace(last, reason=reasons, source=None)

    async def _read_source(
        self, source: str, issuer: str, product_id: str, timeout: float
    ) -> tuple[bytes, int | None] | None:
        # (bytes, stream sequence when read from the stream), or None
        reads: dict[str, Callable[[], Awaitable[tuple[bytes, int | None] | None]]] = {
            "request-reply": lambda: self._ask_issuer(issuer, product_id, timeout),
            "stream": lambda: self._last_on_stream(decl_subject(issuer, product_id)),
            "kv": lambda: self._kv_entry(issuer, product_id),
        }
        try:
            return await reads[source]()
        except Exception as exc:  # a source that cannot answer is skipped, never fatal to the pull
            log.info("pull from %s failed: %r", source, exc)
            return None

    async def _ask_issuer(self, issuer: str, product_id: str, timeout: float) -> tuple[bytes, None] | None:
        try:
            reply = await self.nc.request(req_subject(issuer, product_id), b"", timeout=timeout)
        except (TimeoutError, NoRespondersError, NatsTimeoutError):
            return None
        if (reply.headers or {}).get(HEADER_STATUS) == "200" and reply.data:
            return bytes(reply.data), None
        return None

    async def _last_on_stream(self, subject: str) -> tuple[bytes, int | None] | None:
        try:
            message = await self.js.get_last_msg(STREAM_NAME, subject, direct=True)
        except NotFoundError:
            return None
        return (bytes(message.data), message.seq) if message.data else None

    async def _kv_entry(self, issuer: str, product_id: str) -> tuple[bytes, None] | None:
        try:
            entry = await self.kv.get(latest_key(issuer, product_id))
        except (NotFoundError, KeyError):
            return None
        return (bytes(entry.value), None) if entry.value else None

    async def _pull_status_lists(self, issuer: str, raw: bytes) -> None:
        # The declaration can only verify with its status lists; fetch the current ones from the stream.
        try:
            entries = json.loads(raw).get("credentialStatus") or []
        except (ValueError, AttributeError):
            return
        urls = {
            e.get("statusListCredential")
            for e in (entries if isinstance(entries, list) else [entries])
            if isinstance(e, dict)
        }
        for url in sorted(u for u in urls if isinstance(u, str) and u):
            try:
                subject = status_subject(issuer, url)
                found = await self._last_on_stream(subject)
            except Exception as exc:
                log.info("status list %s not fetched: %r", url, exc)
                continue
            if found is not None:
                await self.ingestor.ingest_raw(found[0], subject=subject, stream_seq=found[1])
