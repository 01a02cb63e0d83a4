"""Who may call the admin API: the holder of the node's admin token, or an OAuth client of the PACT API whose
access token grants the `admin` scope. Anything else is 401 (no or a bad token) or 403 (no admin scope)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from pcfx.node.admin_token import ADMIN_TOKEN_PREFIX, AdminTokenFile
from pcfx.node.pact.auth import SCOPE_ADMIN, Authenticator
from pcfx.node.pact.errors import PactError

__all__ = ["AdminAuthenticator", "AdminCaller", "AdminDep", "require_admin"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pcfx-admin"'}


@dataclass(frozen=True, slots=True)
class AdminCaller:
    """An authenticated admin: `client_id` None for the admin token (the company itself), else the OAuth client."""

    client_id: str | None

    def may_read(self, readers: frozenset[str] | None) -> bool:
        """True when the access policy (`readers`: None for every client) lets this caller read a footprint;
        the admin token is the issuing company and reads its own."""
        return self.client_id is None or readers is None or self.client_id in readers


@dataclass(slots=True)
class AdminAuthenticator:
    """Checks the Authorization header of an admin request."""

    token: AdminTokenFile
    clients: Authenticator

    def authenticate(self, authorization: str | None) -> AdminCaller:
        scheme, _, credential = (authorization or "").strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise _unauthorized(
                "the admin API needs the node's admin token or an access token with the admin scope"
            )
        if credential.startswith(ADMIN_TOKEN_PREFIX):
            if not self.token.matches(credential):
                raise _unauthorized("invalid admin token")
            return AdminCaller(client_id=None)
        try:
            client = self.clients.authenticate(f"Bearer {credential}")
        except PactError as exc:
            raise _unauthorized(exc.message) from None
        if SCOPE_ADMIN not in client.scopes:
            raise HTTPException(403, f"the access token does not grant the {SCOPE_ADMIN} scope")
        return AdminCaller(client_id=client.client_id)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers=_CHALLENGE)


def require_admin(request: Request) -> AdminCaller:
    """FastAPI dependency: the authenticated admin caller (401/403 otherwise)."""
    authenticator: AdminAuthenticator = request.app.state.admin_auth
    return authenticator.authenticate(request.headers.get("authorization"))


AdminDep = Annotated[AdminCaller, Depends(require_admin)]
