"""Forwarded headers believed only from configured proxies (`trusted_proxies`): behind a TLS-terminating
ingress the request's scheme, client address and host are what the ingress says, for everyone else what the
connection says.

Written here rather than taken from uvicorn's ProxyHeadersMiddleware: that one ignores X-Forwarded-Host, and
the trust decision for all three headers belongs in one place, independent of how the app is served.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["TrustedProxies"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, host:port, [v6]:port; anything else (spaces, slashes, userinfo) is not a host to build URLs from
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    """ASGI middleware applying X-Forwarded-Proto, -For and -Host when the peer is a trusted proxy."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.networks: tuple[_Network, ...] = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)

    def trusts(self, host: str | None) -> bool:
        """True when `host` (an IP address) is one of the configured proxies."""
        address = _address(host) if host else None
        return address is not None and any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self.trusts(client[0]):
            scope = self._forwarded(scope)
        await self.app(scope, receive, send)

    def _forwarded(self, scope: Scope) -> Scope:
        values: dict[bytes, list[str]] = {}
        for name, value in scope["headers"]:
            if name in (b"x-forwarded-proto", b"x-forwarded-for", b"x-forwarded-host"):
                values.setdefault(name, []).append(value.decode("latin-1"))
        if not values:
            return scope
        scope = dict(scope)
        # each proxy appends: the last entry is the one the nearest (trusted) proxy set
        proto = _last(values.get(b"x-forwarded-proto"))
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
        host = _last(values.get(b"x-forwarded-host"))
        if host is not None and _HOST.match(host):
            headers = [(n, v) for n, v in scope["headers"] if n != b"host"]
            scope["headers"] = [*headers, (b"host", host.encode("latin-1"))]
        forwarded_for = values.get(b"x-forwarded-for")
        if forwarded_for:
            # the client is the nearest address that is not itself a trusted proxy
            chain = [entry.strip() for value in forwarded_for for entry in value.split(",") if entry.strip()]
            for entry in reversed(chain):
                if _address(entry) is not None and not self.trusts(entry):
                    scope["client"] = (str(_address(entry)), 0)
                    break
        return scope


def _last(values: list[str] | None) -> str | None:
    if not values:
        return None
    parts = [part.strip() for part in values[-1].split(",") if part.strip()]
    return parts[-1].lower() if parts else None
