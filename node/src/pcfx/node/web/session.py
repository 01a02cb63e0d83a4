"""Browser sessions of the web app: a person signs in with the node's admin token once and gets a signed,
HttpOnly, SameSite=Strict cookie. The cookie names the admin token it was issued under (a fingerprint of its
hash), so rotating the token (`pcfx admin token --rotate`) signs every browser out; forms carry the session's
CSRF token, checked on every change."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt
from pcfx.node.admin_token import AdminTokenFile

__all__ = ["SESSION_COOKIE", "SESSION_HOURS", "WebSession", "WebSessions"]

SESSION_COOKIE = "pcfx_session"
SESSION_HOURS = 12
_AUDIENCE = "pcfx-web"


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser: its CSRF token and when the session ends (seconds since the epoch)."""

    csrf: str
    expires: int

    def csrf_matches(self, presented: str | None) -> bool:
        """True when a form's CSRF field is this session's (constant-time)."""
        return presented is not None and hmac.compare_digest(presented, self.csrf)


@dataclass(slots=True)
class WebSessions:
    """Issues and reads session cookies with a key derived from the node's token key (never the key itself)."""

    token: AdminTokenFile
    key: bytes

    @classmethod
    def of(cls, token: AdminTokenFile, token_key: bytes) -> WebSessions:
        # a key of its own: a session cookie can never pass as a PACT access token, or the reverse
        return cls(token=token, key=hmac.new(token_key, b"pcfx web session", hashlib.sha256).digest())

    def sign_in(self, admin_token: str, *, now: float | None = None) -> str | None:
        """The cookie value for a browser that presented `admin_token`; None when it is not the node's."""
        if not self.token.matches(admin_token.strip()):
            return None
        issued = int(now if now is not None else time.time())
        claims = {
            "aud": _AUDIENCE,
            "iat": issued,
            "exp": issued + SESSION_HOURS * 3600,
            "tok": self._fingerprint(),
            "csrf": secrets.token_urlsafe(24),
        }
        return jwt.encode(claims, self.key, algorithm="HS256")

    def read(self, cookie: str | None) -> WebSession | None:
        """The session a cookie carries; None when absent, forged, expired, or issued under an older token."""
        if not cookie:
            return None
        try:
            claims = jwt.decode(cookie, self.key, algorithms=["HS256"], audience=_AUDIENCE)
        except jwt.PyJWTError:
            return None
        fingerprint = self._fingerprint()
        if fingerprint is None or not hmac.compare_digest(str(claims.get("tok", "")), fingerprint):
            return None
        csrf = claims.get("csrf")
        if not isinstance(csrf, str) or not csrf:
            return None
        return WebSession(csrf=csrf, expires=int(claims["exp"]))

    def _fingerprint(self) -> str | None:
        digest = self.token.current_digest()
        if digest is None:
            return None
        return hashlib.sha256(digest.encode()).hexdigest()[:16]
