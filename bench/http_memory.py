"""A running node's memory while clients throw request bodies at it (issue 10: under 300 MB while 1 GB of bodies
arrive). `pcfx node run` in its own process (embedded nats-server, SQLite, PACT API on plain HTTP, admin API);
a load process sends `--total-mb` MB of bodies, `--body-mb` MB each, `--concurrency` at a time, spread over
`POST /auth/token`, `POST /3/events` (PACT listener) and `POST /subscriptions` (admin listener, authenticated);
RSS of the node process is sampled every 50 ms from /proc.

    .venv/bin/python bench/http_memory.py [--total-mb 1024] [--body-mb 16] [--concurrency 8]

Prints the node's RSS before, its peak and after, and what the server answered (status counts). Asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _tree_rss_mb(pid: int) -> float:
    """RSS of the node process and its children except nats-server (a separate program)."""
    total = _rss_mb(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        name = Path(f"/proc/{child}/comm").read_text().strip()
        if name != "nats-server":
            total += _rss_mb(int(child))
    return total


async def _sampler(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], _tree_rss_mb(pid))
        await asyncio.sleep(0.05)


async def _chunks(size: int, chunk: int = 1024 * 1024):
    """A streamed body of `size` bytes (no Content-Length: the server learns the size as it reads)."""
    block = b"x" * chunk
    sent = 0
    while sent < size:
        part = min(chunk, size - sent)
        yield block[:part]
        sent += part


async def _throw(
    urls: dict[str, str], token: str, total: int, body: int, concurrency: int
) -> collections.Counter:
    statuses: collections.Counter = collections.Counter()
    targets = [
        (urls["pact"] + "/auth/token", {"Content-Type": "application/x-www-form-urlencoded"}),
        (urls["pact"] + "/3/events", {"Content-Type": "application/cloudevents+json"}),
        (urls["admin"] + "/subscriptions", {"Authorization": f"Bearer {token}"}),
    ]
    count = total // body
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            url, headers = targets[i % len(targets)]
            try:
                response = await client.post(url, headers=headers, content=_chunks(body))
                statuses[response.status_code] += 1
            except httpx.HTTPError as exc:  # the server may close a connection it refused mid-body
                statuses[type(exc).__name__] += 1

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return statuses


async def main_async(total_mb: int, body_mb: int, concurrency: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="pcfx-bench-mem-"))
    init = subprocess.run(
        [
            *PCFX,
            "init",
            str(root / "acme"),
            "--name",
            "Acme",
            "--company-id",
            "urn:pcfx:uscc:91110000000000001A",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    token = re.search(r"(pcfx-admin-\S+)", init.stdout + init.stderr)
    assert token is not None, init.stdout
    node = subprocess.Popen(
        [
            *PCFX,
            "node",
            "run",
            "--home",
            str(root / "acme"),
            "--http-port",
            "0",
            "--admin-port",
            "0",
            "--plain-http",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PCFX_ALLOW_DID_KEY": "true"},
    )
    urls: dict[str, str] = {}
    assert node.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(urls) < 2:
        line = node.stdout.readline()
        for name, url in re.findall(r"(PACT|admin) API (http://\S+?)\)?[,\s]", line):
            urls["pact" if name == "PACT" else "admin"] = url.rstrip(")")
    if len(urls) < 2:
        node.kill()
        raise SystemExit(f"the node did not print its two listeners (got {urls})")
    try:
        await asyncio.sleep(2)
        before = _tree_rss_mb(node.pid)
        peak, stop = [before], asyncio.Event()
        sampler = asyncio.create_task(_sampler(node.pid, peak, stop))
        started = time.perf_counter()
        statuses = await _throw(
            urls, token.group(1), total_mb * 1024 * 1024, body_mb * 1024 * 1024, concurrency
        )
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1)
        stop.set()
        await sampler
        after = _tree_rss_mb(node.pid)
        print(
            f"{total_mb} MB of request bodies ({body_mb} MB each, {concurrency} at a time) in {elapsed:.1f} s: "
            f"node RSS before {before:.0f} MB, peak {peak[0]:.0f} MB, after {after:.0f} MB; answers {dict(statuses)}"
        )
    finally:
        node.terminate()
        node.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-mb", type=int, default=1024)
    parser.add_argument("--body-mb", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.total_mb, args.body_mb, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
