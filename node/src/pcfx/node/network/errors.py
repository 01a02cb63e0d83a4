"""The errors of the network operator's tooling: each names the reason in one line."""

from __future__ import annotations

__all__ = ["FollowError", "HubError", "NetworkError", "PushError"]


class NetworkError(Exception):
    """An operator command cannot do what it was asked (the message says why, in one line)."""


class PushError(NetworkError):
    """An account JWT was not pushed (it failed the checks) or did not take in the full resolver."""


class HubError(NetworkError):
    """The hub did not start, or cannot be reached."""


class FollowError(NetworkError):
    """A follow request got no answer (no follow service running, or a malformed reply)."""
