"""A hub nats-server process started from a generated configuration (hub.conf or a cluster server's), with
its log beside its data; started and stopped by `pcfx network up` and by tests."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from pcfx.node.bus.server import NatsServerError, exit_with_parent, nats_server_binary, stop_process
from pcfx.node.network.errors import HubError

__all__ = ["HubProcess"]

_READY = "Server is ready"


class HubProcess:
    """One nats-server running `config`, logging to `log`."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _log_text(self, offset: int) -> str:
        try:
            with self.log.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    async def start(self, *, timeout: float = 15.0) -> None:
        """Start the server and wait until it is ready for clients (HubError with the log's reason if not)."""
        if self.running:
            return
        try:
            binary = nats_server_binary()
        except NatsServerError as exc:
            raise HubError(str(exc)) from None
        self.log.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        self._process = subprocess.Popen(
            [str(binary), "-c", str(self.config), "-l", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=exit_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise HubError(f"nats-server {self.config.name} exited: {self._failure(offset)}")
            if _READY in self._log_text(offset):
                return
            await asyncio.sleep(0.02)
        await self.stop()
        raise HubError(f"nats-server {self.config.name} not ready after {timeout}s; see {self.log}")

    def _failure(self, offset: int) -> str:
        # a configuration error is printed on stderr before logging starts; a fatal error is logged
        assert self._process is not None and self._process.stderr is not None
        stderr = self._process.stderr.read().decode("utf-8", "replace").strip()
        fatal = [line for line in self._log_text(offset).splitlines() if "[FTL]" in line or "[ERR]" in line]
        return (fatal[-1] if fatal else stderr.splitlines()[-1] if stderr else f"see {self.log}").strip()

    async def stop(self, *, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM: JetStream flushed), SIGKILL if it does not exit in time."""
        process, self._process = self._process, None
        if process is None:
            return
        await stop_process(process, timeout=timeout)
        if process.stderr is not None:
            process.stderr.close()
