"""Waiting for the nodes: poll a condition on the event loop until it holds or the time is up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["WAIT", "until"]

#: Seconds a step may take before the demo gives up (each normally takes well under one).
WAIT = 30.0


async def until(check: Callable[[], bool], what: str, *, timeout: float = WAIT) -> None:
    """Return once `check()` is true; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
