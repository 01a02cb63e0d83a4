"""PACT Action Events: CloudEvents (structured JSON mode) received on `/3/events` and `/2/events`.

- RequestCreated: accepted with 200 when it can be handled, then answered asynchronously with exactly one
  RequestFulfilled (the matching footprints the requester may read) or RequestRejected, POSTed to the
  requester's `source`, authenticated with a token from the requester's host when the node holds
  credentials for it, retried with exponential back-off (abandoned after 72 hours, as PACT advises).
- Published: the named footprints are pulled from the publisher and ingested through verification.
- RequestFulfilled / RequestRejected: answers to this node's own requests; carried footprints are
  ingested through verification.
Anything malformed is `400 BadRequest` before any work starts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from pcfx.node.pact.errors import BadRequestError
from pcfx.node.pact.filters import (
    DATE_CRITERIA,
    LIST_CRITERIA,
    FootprintFilter,
    filter_from_event_data,
    parse_timestamp,
)
from pcfx.node.pact.source import FootprintSnapshot, dump_json
from pcfx.protocol.dates import format_datetime
from pcfx.protocol.pact.primitives import UUID_PATTERN

__all__ = [
    "EVENT_TYPES",
    "CallbackAuth",
    "CloudEvent",
    "DeliveryOutcome",
    "EventDispatcher",
    "EventKind",
    "EventProcessor",
    "RetryPolicy",
    "answer_request",
    "callback_url",
    "parse_event",
]

log = logging.getLogger(__name__)

CLOUDEVENTS_MEDIA_TYPE = "application/cloudevents+json"


class EventKind(StrEnum):
    PUBLISHED = "published"
    REQUEST_CREATED = "request-created"
    REQUEST_FULFILLED = "request-fulfilled"
    REQUEST_REJECTED = "request-rejected"


# PACT API major version -> event kind -> CloudEvents `type`.
EVENT_TYPES: dict[int, dict[EventKind, str]] = {
    3: {
        EventKind.PUBLISHED: "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
        EventKind.REQUEST_CREATED: "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
        EventKind.REQUEST_FULFILLED: "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
        EventKind.REQUEST_REJECTED: "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3",
    },
    2: {
        EventKind.PUBLISHED: "org.wbcsd.pathfinder.ProductFootprint.Published.v1",
        EventKind.REQUEST_CREATED: "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
        EventKind.REQUEST_FULFILLED: "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1",
        EventKind.REQUEST_REJECTED: "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1",
    },
}
_KIND_OF_TYPE = {version: {t: k for k, t in types.items()} for version, types in EVENT_TYPES.items()}
_UUID = re.compile(UUID_PATTERN)
_ERROR_CODES = frozenset(
    {
        "BadRequest",
        "AccessDenied",
        "TokenExpired",
        "NotFound",
        "NoSuchFootprint",
        "InternalError",
        "NotImplemented",
    }
)


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """A validated PACT event."""

    api_version: int
    kind: EventKind
    id: str
    source: str
    time: datetime
    data: Mapping[str, Any]


def _is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in (CLOUDEVENTS_MEDIA_TYPE, "application/json")


def _require_string_list(data: Mapping[str, Any], name: str) -> None:
    value = data.get(name)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequestError(f"data.{name} must be an array of strings")


def _check_request_criteria_v3(data: Mapping[str, Any]) -> None:
    for name in LIST_CRITERIA:
        _require_string_list(data, name)
    for name in DATE_CRITERIA:
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or parse_timestamp(value) is None):
            raise BadRequestError(f"data.{name} must be a date-time")
    if not any(name in data for name in (*LIST_CRITERIA, *DATE_CRITERIA)):
        raise BadRequestError("a RequestCreated event must name at least one criterion")


def _check_request_criteria_v2(data: Mapping[str, Any]) -> None:
    fragment = data.get("pf")
    if not isinstance(fragment, Mapping):
        raise BadRequestError("data.pf must be a ProductFootprint fragment object")
    for name in ("productIds", "companyIds"):
        _require_string_list(fragment, name)
    if not fragment:
        raise BadRequestError("data.pf must name at least one property")


def _check_data(api_version: int, kind: EventKind, data: Mapping[str, Any]) -> None:
    if kind is EventKind.PUBLISHED:
        ids = data.get("pfIds")
        if ids is None:
            return
        if not isinstance(ids, list) or not all(isinstance(i, str) and _UUID.fullmatch(i) for i in ids):
            raise BadRequestError("data.pfIds must be an array of footprint UUIDs")
    elif kind is EventKind.REQUEST_CREATED:
        if "comment" in data and not isinstance(data["comment"], str):
            raise BadRequestError("data.comment must be a string")
        (_check_request_criteria_v3 if api_version == 3 else _check_request_criteria_v2)(data)
    elif kind is EventKind.REQUEST_FULFILLED:
        if not isinstance(data.get("requestEventId"), str):
            raise BadRequestError("data.requestEventId must be a string")
        pfs = data.get("pfs")
        if not isinstance(pfs, list) or not pfs or not all(isinstance(pf, Mapping) for pf in pfs):
            raise BadRequestError("data.pfs must be a non-empty array of footprints")
    else:
        if not isinstance(data.get("requestEventId"), str):
            raise BadRequestError("data.requestEventId must be a string")
        error = data.get("error")
        if (
            not isinstance(error, Mapping)
            or error.get("code") not in _ERROR_CODES
            or not isinstance(error.get("message"), str)
        ):
            raise BadRequestError("data.error must be an Error object {code, message}")


def parse_event(document: Any, *, api_version: int, content_type: str | None) -> CloudEvent:
    """Validate a received event (already JSON-decoded); 400 BadRequest on any deviation from PACT."""
    if not _is_json_media_type(content_type):
        raise BadRequestError(f"events must be sent as {CLOUDEVENTS_MEDIA_TYPE}")
    if not isinstance(document, Mapping):
        raise BadRequestError("an event must be a JSON object")
    for name in ("type", "specversion", "id", "source", "time"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise BadRequestError(f"the event needs a non-empty string {name}")
    if document["specversion"] != "1.0":
        raise BadRequestError("only CloudEvents specversion 1.0 is supported")
    kind = _KIND_OF_TYPE[api_version].get(document["type"])
    if kind is None:
        raise BadRequestError(f"unknown event type {document['type']!r} for /{api_version}/events")
    moment = parse_timestamp(document["time"])
    if moment is None:
        raise BadRequestError("time must be an RFC 3339 date-time")
    data = document.get("data")
    if not isinstance(data, Mapping):
        raise BadRequestError("the event needs a data object")
    _check_data(api_version, kind, data)
    return CloudEvent(api_version, kind, document["id"], document["source"], moment, data)


def callback_url(source: str, *, api_version: int, allow_plain_http: bool = False) -> str:
    """Where to send the answer to a RequestCreated event from `source`; 400 BadRequest if unreachable.

    `//host/path` takes https; a source that is only an origin gets the PACT events path appended.
    """
    text = source.strip()
    if text.startswith("//"):
        text = "https:" + text
    parts = urlsplit(text)
    allowed = ("https", "http") if allow_plain_http else ("https",)
    if parts.scheme.lower() not in allowed or not parts.hostname:
        raise BadRequestError("source must be an absolute https URL of the requester's events endpoint")
    path = parts.path if parts.path not in ("", "/") else f"/{api_version}/events"
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, parts.query, ""))


def _request_filter(event: CloudEvent) -> FootprintFilter:
    if event.api_version == 3:
        return filter_from_event_data(event.data)
    fragment = event.data["pf"]
    criteria: dict[str, Any] = {}
    if fragment.get("productIds"):
        criteria["productId"] = fragment["productIds"]
    if fragment.get("companyIds"):
        criteria["companyId"] = fragment["companyIds"]
    if isinstance(fragment.get("pcf"), Mapping) and fragment["pcf"].get("geographyCountry"):
        criteria["geography"] = [fragment["pcf"]["geographyCountry"]]
    if fragment.get("status"):
        criteria["status"] = [fragment["status"]]
    if not criteria:
        # A fragment naming only properties pcfx cannot match on selects nothing.
        return FootprintFilter(unsatisfiable=True)
    return filter_from_event_data(criteria)


def answer_request(
    event: CloudEvent, snapshot: FootprintSnapshot, *, client_id: str, own_source: str
) -> dict[str, Any]:
    """The RequestFulfilled (matching readable footprints) or RequestRejected event answering `event`."""
    wanted = _request_filter(event)
    matches = [fp for fp in snapshot.readable(client_id) if wanted.matches(fp.index)]
    types = EVENT_TYPES[event.api_version]
    answer: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": own_source,
        "time": format_datetime(datetime.now(UTC)),
    }
    pfs: list[Any]
    if event.api_version == 3:
        pfs = [fp.document for fp in matches]
    else:
        pfs = [doc for doc in map(snapshot.v2_document, matches) if doc is not None]
    if pfs:
        answer["type"] = types[EventKind.REQUEST_FULFILLED]
        answer["data"] = {"requestEventId": event.id, "pfs": pfs}
    else:
        answer["type"] = types[EventKind.REQUEST_REJECTED]
        # Both versions' Error schema enumerate NotFound (the v2 HTTP API's NoSuchFootprint is not in it).
        answer["data"] = {
            "requestEventId": event.id,
            "error": {"code": "NotFound", "message": "no footprint matching the request is available"},
        }
    return answer


# ----------------------------------------------------------------------------------------------------
# Delivery


class CallbackAuth(Protocol):
    """Supplies the Authorization header for an event sent to a peer (None: send unauthenticated)."""

    async def authorization_for(self, url: str, *, refresh: bool = False) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with jitter; PACT advises giving up after 72 hours."""

    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 600.0
    give_up_after: timedelta = timedelta(hours=72)
    timeout: float = 15.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        base = min(self.max_delay, self.first_delay * self.factor ** (attempt - 1))
        return base * random.uniform(0.8, 1.0)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How the delivery of one event ended."""

    url: str
    event_id: str
    delivered: bool
    attempts: int
    last_status: int | None
    reason: str


# Statuses worth retrying: the receiver may accept the same event later.
_RETRYABLE = frozenset({401, 408, 425, 429, 500, 502, 503, 504})


@dataclass(slots=True)
class EventDispatcher:
    """Sends events to peers in the background, retrying with back-off."""

    auth: CallbackAuth | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    verify: Any = True
    on_outcome: Callable[[DeliveryOutcome], None] | None = None
    _tasks: set[asyncio.Task[DeliveryOutcome]] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(verify=self.verify, timeout=self.policy.timeout)
        return self._client

    def submit(self, url: str, event: Mapping[str, Any]) -> asyncio.Task[DeliveryOutcome]:
        """Start delivering `event` to `url` in the background (needs a running event loop)."""
        task = asyncio.get_running_loop().create_task(self.deliver(url, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def deliver(self, url: str, event: Mapping[str, Any]) -> DeliveryOutcome:
        """POST `event` to `url` until accepted, refused for good, or the policy gives up."""
        body = dump_json(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.give_up_after.total_seconds()
        attempt = 0
        status: int | None = None
        reason = ""
        refresh = False
        while True:
            attempt += 1
            headers = {"Content-Type": f"{CLOUDEVENTS_MEDIA_TYPE}; charset=UTF-8"}
            try:
                if self.auth is not None:
                    authorization = await self.auth.authorization_for(url, refresh=refresh)
                    if authorization:
                        headers["Authorization"] = authorization
                response = await self._http().post(url, content=body, headers=headers)
                status = response.status_code
                if 200 <= status < 300:
                    return self._finish(url, event, True, attempt, status, "accepted")
                reason = f"HTTP {status}"
                refresh = status == 401
                if status not in _RETRYABLE:
                    return self._finish(url, event, False, attempt, status, f"refused: {reason}")
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            delay = self.policy.delay(attempt)
            if loop.time() + delay > deadline:
                return self._finish(url, event, False, attempt, status, f"gave up: {reason}")
            log.info(
                "event %s to %s failed (%s); retry %d in %.1fs", event.get("id"), url, reason, attempt, delay
            )
            await asyncio.sleep(delay)

    def _finish(
        self,
        url: str,
        event: Mapping[str, Any],
        delivered: bool,
        attempts: int,
        status: int | None,
        reason: str,
    ) -> DeliveryOutcome:
        outcome = DeliveryOutcome(url, str(event.get("id")), delivered, attempts, status, reason)
        (log.info if delivered else log.warning)("event %s to %s: %s", outcome.event_id, url, reason)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    async def aclose(self) -> None:
        """Cancel pending deliveries and close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        close_auth = getattr(self.auth, "aclose", None)
        if close_auth is not None:
            await close_auth()


# Work done after a Published event or a RequestFulfilled event was accepted.
PublishedHandler = Callable[[CloudEvent, str], Awaitable[None]]
FootprintsHandler = Callable[[list[Mapping[str, Any]], str, int], Awaitable[None]]


@dataclass(slots=True)
class EventProcessor:
    """Validates received events and schedules the work each one calls for."""

    dispatcher: EventDispatcher
    on_published: PublishedHandler | None = None
    on_footprints: FootprintsHandler | None = None
    allow_plain_http_callbacks: bool = False
    # Where answers may be sent (None: any https URL); limits what a client can make this node call.
    callback_allowed: Callable[[str], bool] | None = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def _spawn(self, work: Awaitable[None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def accept(
        self,
        event: CloudEvent,
        *,
        client_id: str,
        snapshot: FootprintSnapshot,
        own_source: str,
    ) -> None:
        """Act on a validated event (background work only); raises 400 BadRequest if it cannot be handled."""
        if event.kind is EventKind.REQUEST_CREATED:
            url = callback_url(
                event.source, api_version=event.api_version, allow_plain_http=self.allow_plain_http_callbacks
            )
            if self.callback_allowed is not None and not self.callback_allowed(url):
                raise BadRequestError("this node does not send events to the source's host")
            answer = answer_request(event, snapshot, client_id=client_id, own_source=own_source)
            self.dispatcher.submit(url, answer)
        elif event.kind is EventKind.PUBLISHED:
            if self.on_published is not None and event.data.get("pfIds"):
                self._spawn(
                    self.on_published(event, client_id), f"pulling published footprints from {event.source}"
                )
        elif event.kind is EventKind.REQUEST_FULFILLED:
            if self.on_footprints is not None:
                pfs = list(event.data["pfs"])
                self._spawn(
                    self.on_footprints(pfs, event.source, event.api_version),
                    f"ingesting footprints from {event.source}",
                )
        else:
            error = event.data["error"]
            log.info("request %s rejected by %s: %s", event.data["requestEventId"], event.source, error)

    async def aclose(self) -> None:
        """Cancel background work and pending deliveries."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.dispatcher.aclose()
