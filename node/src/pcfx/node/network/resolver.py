"""Pushing account JWTs to the hub's full resolver, as a SYS user, without trusting its answer.

The resolver answers 200 to `$SYS.REQ.CLAIMS.UPDATE` and stores even an account JWT that the operator did
not sign (the running server refuses it, and after a restart the account no longer loads), and a resolver
in cache mode answers 200 "jwt update cache skipped" and stores nothing. So a push is (1) checked before it
is sent (`check_account_jwt`: signed by the operator, wildcards kept by imports, export token positions),
(2) sent, and (3) confirmed by looking the account up (`$SYS.REQ.ACCOUNT.<pub>.CLAIMS.LOOKUP` answers the
stored JWT) and comparing it with what was sent."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pcfx.node.network.errors import PushError
from pcfx.node.network.jwt import JwtError, check_account_jwt, decode_jwt

__all__ = ["CLAIMS_UPDATE", "lookup_account", "lookup_subject", "push_account"]

CLAIMS_UPDATE = "$SYS.REQ.CLAIMS.UPDATE"


def lookup_subject(account: str) -> str:
    """The system subject the full resolver answers with the stored JWT of `account`."""
    return f"$SYS.REQ.ACCOUNT.{account}.CLAIMS.LOOKUP"


def _label(token: str) -> str:
    try:
        claims = decode_jwt(token)
    except JwtError:
        return "?"
    return str(claims.get("name") or claims.get("sub") or "?")


async def lookup_account(nc: Client, account: str, *, timeout: float = 2.0) -> str | None:
    """The JWT the resolver stores for `account`; None when it has none (or no full resolver answers)."""
    try:
        reply = await nc.request(lookup_subject(account), b"", timeout=timeout)
    except (NoRespondersError, NatsTimeoutError, TimeoutError):
        return None
    text = reply.data.decode("utf-8", "replace").strip()
    return text or None


def _update_reply(label: str, data: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(data)
    except ValueError:
        raise PushError(f"account {label}: the resolver's reply is not JSON: {data[:80]!r}") from None
    body = reply.get("data") if isinstance(reply, dict) else None
    error = reply.get("error") if isinstance(reply, dict) else None
    if error or not isinstance(body, dict) or body.get("code") != 200:
        detail = (error or {}).get("description") if isinstance(error, dict) else None
        detail = detail or (body or {}).get("message") or data[:120].decode("utf-8", "replace")
        raise PushError(f"account {label}: the resolver refused the JWT: {detail}")
    return body


async def push_account(
    nc: Client,
    token: str,
    *,
    operator_keys: list[str],
    timeout: float = 2.0,
    confirm_within: float = 2.0,
) -> dict[str, Any]:
    """Check, push and confirm one account JWT; returns its claims. PushError names the reason otherwise.

    `nc` is a connection of the system account's admin user. In a cluster the lookup is retried until
    `confirm_within` passes, because the servers store a pushed JWT one after the other."""
    label = _label(token)
    try:
        claims = check_account_jwt(token, operator_keys=operator_keys)
    except JwtError as exc:
        raise PushError(f"account {label}: {exc}; not pushed") from None
    account = str(claims["sub"])
    try:
        reply = await nc.request(CLAIMS_UPDATE, token.encode(), timeout=timeout)
    except NoRespondersError:
        raise PushError(
            f"account {label}: no full resolver answers {CLAIMS_UPDATE} (is the hub in operator mode?)"
        ) from None
    except (NatsTimeoutError, TimeoutError):
        raise PushError(f"account {label}: no answer to {CLAIMS_UPDATE} within {timeout}s") from None
    answer = _update_reply(label, reply.data)
    deadline = time.monotonic() + confirm_within
    while True:
        stored = await lookup_account(nc, account, timeout=timeout)
        if stored == token:
            return claims
        if time.monotonic() >= deadline:
            seen = "nothing" if stored is None else f"another JWT ({_label(stored)})"
            raise PushError(
                f"account {label}: the resolver answered {answer.get('message')!r} but stores {seen}; "
                "the push did not take"
            )
        await asyncio.sleep(0.05)
