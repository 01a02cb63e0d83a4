"""The run/ folder of a node home while `pcfx node run` runs there: `node.pid` from the start, then, once the
node listens, `pact.url` and `admin.url` (with HTTP) and `nats.url` last, so scripts and CLI commands on the
same home find the running node (`pcfx node wait` waits for them). A clean stop removes them all."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "NodeNotReadyError",
    "RunningNode",
    "claim_run_dir",
    "release_run_dir",
    "run_dir",
    "wait_until_ready",
    "write_run_urls",
]

PID_FILE = "node.pid"
#: Written in this order: `nats.url` last, so a node whose nats.url is there has written every URL.
URL_FILES = ("pact.url", "admin.url", "nats.url")


class NodeNotReadyError(RuntimeError):
    """No node became ready on the home in time, or the node exited first."""


@dataclass(frozen=True, slots=True)
class RunningNode:
    """What a ready node wrote to its home's run/ folder."""

    pid: int
    nats_url: str
    pact_url: str | None
    admin_url: str | None


def run_dir(home: Path) -> Path:
    """The run/ folder of a node home."""
    return home / "run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a process that exited but was not reaped yet is not a running node
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _pid(folder: Path) -> int | None:
    text = _read(folder / PID_FILE)
    return int(text) if text is not None and text.isdigit() else None


def claim_run_dir(home: Path) -> str | None:
    """Record this process as the home's running node and drop the URLs a node killed earlier left behind.
    Returns a one-line reason instead when another live node runs on the home."""
    folder = run_dir(home)
    other = _pid(folder)
    if other is not None and other != os.getpid() and _alive(other):
        return f"a node already runs on {home} (pid {other}); stop it first"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{PID_FILE}.tmp"
    partial.write_text(f"{os.getpid()}\n", encoding="utf-8")
    partial.replace(folder / PID_FILE)
    for name in URL_FILES:
        (folder / name).unlink(missing_ok=True)
    return None


def write_run_urls(home: Path, *, nats_url: str, pact_url: str | None, admin_url: str | None) -> None:
    """The running node's URLs, `nats.url` last (see URL_FILES)."""
    folder = run_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in zip(URL_FILES, (pact_url, admin_url, nats_url), strict=True):
        if value is not None:
            partial = folder / f"{name}.tmp"
            partial.write_text(value + "\n", encoding="utf-8")
            partial.replace(folder / name)


def release_run_dir(home: Path, *, urls_only: bool = False) -> None:
    """Remove the URL files (and, unless `urls_only`, this process's pid file) of a node that stops."""
    folder = run_dir(home)
    for name in URL_FILES:
        (folder / name).unlink(missing_ok=True)
    if not urls_only and _pid(folder) == os.getpid():
        (folder / PID_FILE).unlink(missing_ok=True)


def wait_until_ready(home: Path, *, timeout: float, interval: float = 0.1) -> RunningNode:
    """The home's running node once it is ready (its pid alive, its URLs written); NodeNotReadyError with one
    line when the timeout passes first or a node that started meanwhile exits."""
    folder = run_dir(home)
    started = time.time()
    deadline = time.monotonic() + timeout
    seen: set[int] = set()  # pids seen alive: one of them gone means the node exited
    while True:
        pid = _pid(folder)
        if pid is not None and _alive(pid):
            seen.add(pid)
            nats_url = _read(folder / "nats.url")
            if nats_url is not None:
                return RunningNode(pid, nats_url, _read(folder / "pact.url"), _read(folder / "admin.url"))
        elif pid is not None and (pid in seen or _newer_than(folder / PID_FILE, started)):
            raise NodeNotReadyError(
                f"the node on {home} (pid {pid}) exited before it was ready; see its output"
            )
        if time.monotonic() >= deadline:
            what = "" if pid is None else f" (the last one, pid {pid}, is not running)"
            raise NodeNotReadyError(f"no node became ready on {home} within {timeout:g} s{what}")
        time.sleep(interval)


def _newer_than(path: Path, moment: float) -> bool:
    try:
        return path.stat().st_mtime >= moment
    except OSError:
        return False
