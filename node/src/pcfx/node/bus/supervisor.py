"""Supervision of the node's embedded nats-server: a server that exits (crash, SIGKILL, OOM killer) is reaped
at once and started again on the same port with the same store, so the node's own connection and every
client pointed at its URL reconnect and JetStream recovers its streams from disk. When it cannot be started
again (`max_attempts` within `window` seconds), the supervisor gives up with the reason."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import deque
from collections.abc import Callable

from pcfx.node.bus.server import EmbeddedNats, NatsServerError

__all__ = ["ServerSupervisor", "describe_exit"]

log = logging.getLogger("pcfx.bus")


def describe_exit(code: int) -> str:
    """`killed by SIGKILL` for a negative status, else `exit code N`."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ServerSupervisor:
    """Watches one `EmbeddedNats` every `interval` seconds. `problem` says why the server does not serve now
    (None when it does); `on_change()` is called when it changes, `on_restart()` after each restart, and
    `on_give_up(reason)` once when the server cannot be started again."""

    def __init__(
        self,
        server: EmbeddedNats,
        *,
        on_give_up: Callable[[str], None],
        on_change: Callable[[], None] = lambda: None,
        on_restart: Callable[[], None] = lambda: None,
        interval: float = 0.5,
        max_attempts: int = 5,
        window: float = 60.0,
    ) -> None:
        self.server = server
        self.problem: str | None = None
        self.gave_up: str | None = None
        self._on_give_up = on_give_up
        self._on_change = on_change
        self._on_restart = on_restart
        self._interval = interval
        self._max_attempts = max_attempts
        self._window = window
        self._attempts: deque[float] = deque()

    async def run(self) -> None:
        """Watch until cancelled, or until the server cannot be started again."""
        while self.gave_up is None:
            await asyncio.sleep(self._interval)
            code = self.server.exit_code()  # reaps an exited server
            if code is not None:
                await self._recover(describe_exit(code))

    def _set(self, problem: str | None) -> None:
        self.problem = problem
        self._on_change()

    async def _recover(self, how: str) -> None:
        port = self.server.port
        log.error("the embedded nats-server exited (%s); restarting it on port %d", how, port)
        self._set(f"nats-server exited ({how}); restarting it on port {port}")
        delay = 0.25
        last = how
        while True:
            now = time.monotonic()
            while self._attempts and now - self._attempts[0] > self._window:
                self._attempts.popleft()
            if len(self._attempts) >= self._max_attempts:
                reason = (
                    f"the embedded nats-server exited ({how}) and was not kept running on port {port}: "
                    f"{len(self._attempts)} restarts within {self._window:.0f} s, last: {last}"
                )
                self.gave_up = reason
                self._set(reason)
                log.error("%s", reason)
                self._on_give_up(reason)
                return
            self._attempts.append(now)
            try:
                await self.server.start()
            except NatsServerError as exc:
                last = str(exc)
                log.warning("restart of the embedded nats-server failed: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 4.0)
                continue
            log.warning("the embedded nats-server runs again on port %d (pid %s)", port, self.server.pid)
            self._on_restart()
            self._set(None)
            return
