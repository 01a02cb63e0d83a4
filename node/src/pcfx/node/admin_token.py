"""The node's admin token: a random bearer token for the admin API, shown once when made, kept in the home only
as a SHA-256 hash (`pcfx init`, `pcfx admin token [--rotate]`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ADMIN_TOKEN_FILE",
    "ADMIN_TOKEN_PREFIX",
    "AdminTokenExistsError",
    "AdminTokenFile",
    "admin_token_path",
    "issue_admin_token",
]

ADMIN_TOKEN_FILE = Path("admin-token.sha256")
#: Tells an admin token from an OAuth access token (a JWT) in an Authorization header.
ADMIN_TOKEN_PREFIX = "pcfx-admin-"


class AdminTokenExistsError(FileExistsError):
    """The home has an admin token already (only its hash: it cannot be shown again)."""


def admin_token_path(home: Path) -> Path:
    """Where the home keeps its admin token's hash."""
    return home / ADMIN_TOKEN_FILE


def _digest(token: str) -> str:
    # 256 random bits: a plain SHA-256 cannot be brute-forced, and checking it costs nothing per request
    # (a slow password hash such as scrypt guards guessable secrets, which this is not).
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def issue_admin_token(home: Path, *, rotate: bool = False) -> str:
    """A new admin token for `home`, its hash written (mode 0600) in place of any earlier one, which stops
    working at once; AdminTokenExistsError when one exists and `rotate` is false."""
    path = admin_token_path(home)
    if path.exists() and not rotate:
        raise AdminTokenExistsError(
            f"{path} exists: the admin token was shown when it was made; "
            "`pcfx admin token --rotate` replaces it with a new one"
        )
    token = ADMIN_TOKEN_PREFIX + secrets.token_urlsafe(32)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(_digest(token) + "\n")
    # replaced in one step: a running node sees the old hash or the new one, never a partial file
    os.replace(partial, path)
    return token


@dataclass(slots=True)
class AdminTokenFile:
    """Checks presented tokens against the home's admin token hash, re-read when the file changes (a rotation
    takes effect on the running node at once)."""

    path: Path
    _seen: tuple[int, int, int] | None = field(default=None, init=False)
    _digest: str | None = field(default=None, init=False)

    def _current(self) -> str | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._seen, self._digest = None, None
            return None
        seen = (info.st_ino, info.st_mtime_ns, info.st_size)
        if seen != self._seen:
            self._digest = self.path.read_text(encoding="utf-8").strip() or None
            self._seen = seen
        return self._digest

    def current_digest(self) -> str | None:
        """The hash of the home's current admin token (None when there is none): what a session names."""
        return self._current()

    def matches(self, token: str) -> bool:
        """True when `token` is the home's current admin token (constant-time comparison)."""
        expected = self._current()
        return expected is not None and hmac.compare_digest(_digest(token), expected)
