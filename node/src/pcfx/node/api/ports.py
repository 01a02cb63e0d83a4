"""Where a node's two HTTP listeners bind.

A port set explicitly (`--http-port`/`--admin-port`, `PCFX_HTTP_PORT`/`PCFX_ADMIN_PORT`, `pcfx.toml`) is
bound as given, or refused with one line naming the setting and where it came from. A port left at its
default (8787 for the PACT API, 8788 for the admin API) is used when it is free; when something else holds
it the node takes a free port, says so in one line, and keeps it in the home (`ports/<surface>.port`, as the
embedded nats-server keeps its port in `nats/nats.port`), so the node's URLs stay the same across restarts."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Literal

from pcfx.node.config import ConfigError, Settings

__all__ = ["PortTakenError", "Surface", "bind_listener", "explicit_port_problem", "kept_port_file"]

Surface = Literal["http", "admin"]

log = logging.getLogger("pcfx.node.api")

_LABEL: dict[Surface, str] = {"http": "HTTP", "admin": "admin"}


class PortTakenError(ConfigError):
    """An explicitly configured HTTP port cannot be bound."""


def kept_port_file(settings: Settings, surface: Surface) -> Path:
    """Where the home keeps the port a listener took in place of its busy default."""
    return settings.home / "ports" / f"{surface}.port"


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port and listening (bind and listen at once: two nodes starting together
    cannot both get a port), or OSError."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _kept_port(path: Path) -> int | None:
    try:
        port = int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _keep(path: Path, port: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(f"{port}\n", encoding="utf-8")
    partial.replace(path)


def _taken_message(settings: Settings, surface: Surface, strerror: str | None) -> str:
    name = f"{surface}_port"
    host, port = getattr(settings, f"{surface}_host"), getattr(settings, name)
    source = settings.source_of(name)
    option = f" (--{surface}-port)" if source == "a command-line option" else ""
    return (
        f"{_LABEL[surface]} port {host}:{port} is not free ({strerror}); {name} is set by {source}{option}: "
        f"stop what holds it, choose another port, or leave {name} unset to take a free one"
    )


def explicit_port_problem(settings: Settings, surface: Surface) -> str | None:
    """One line when the explicitly configured port of `surface` is taken now; None when it is free, or not
    set explicitly (a default port that is taken is replaced, not refused)."""
    port = getattr(settings, f"{surface}_port")
    if settings.source_of(f"{surface}_port") is None or not port:
        return None
    try:
        _listening_socket(getattr(settings, f"{surface}_host"), port).close()
    except OSError as exc:
        return _taken_message(settings, surface, exc.strerror)
    return None


def bind_listener(settings: Settings, surface: Surface) -> socket.socket:
    """The listening socket of `surface` (see the module docstring); PortTakenError when an explicitly set
    port is taken."""
    name = f"{surface}_port"
    host: str = getattr(settings, f"{surface}_host")
    port: int = getattr(settings, name)
    if settings.source_of(name) is not None:
        try:
            return _listening_socket(host, port)
        except OSError as exc:
            raise PortTakenError(_taken_message(settings, surface, exc.strerror)) from None
    kept_file = kept_port_file(settings, surface)
    wanted = _kept_port(kept_file) or port
    try:
        return _listening_socket(host, wanted)
    except OSError as exc:
        reason = exc.strerror
    sock = _listening_socket(host, 0)
    taken = sock.getsockname()[1]
    _keep(kept_file, taken)
    log.warning(
        "%s port %s:%d is not free (%s): listening on port %d instead, kept in %s (%s chooses one)",
        _LABEL[surface],
        host,
        wanted,
        reason,
        taken,
        kept_file,
        name,
    )
    return sock
