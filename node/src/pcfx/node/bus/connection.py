"""Client connection to NATS: reconnects forever (a restarted server is rejoined, nothing is dropped)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

__all__ = ["connect"]

log = logging.getLogger("pcfx.bus")


async def _error(exc: Exception) -> None:
    log.warning("nats: %s", exc)


async def _disconnected() -> None:
    log.info("nats: disconnected")


async def _reconnected() -> None:
    log.info("nats: reconnected")


async def connect(url: str, *, name: str, creds: Path | None = None, **options: Any) -> Client:
    """Connect to `url` as client `name` (optionally with a NATS credentials file) with endless reconnects."""
    settings: dict[str, Any] = {
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.25,
        "connect_timeout": 5,
        "error_cb": _error,
        "disconnected_cb": _disconnected,
        "reconnected_cb": _reconnected,
    }
    if creds is not None:
        settings["user_credentials"] = str(creds)
    settings.update(options)
    return await nats.connect(url, **settings)
