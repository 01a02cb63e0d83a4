"""PACT host throughput: authenticated `GET /3/footprints?limit=100` and `GET /3/footprints/{id}` against a bare
FastAPI endpoint returning the same bytes, served by the same uvicorn process over TLS on loopback.

    .venv/bin/python bench/api.py [--seconds 3] [--rounds 3] [--connections 8]

The server runs in one process, the load generator (keep-alive connections, one asyncio loop) in
another; runs alternate bare / PACT so drift hits both alike. Bounded in time; loopback only.
Goal: the PACT endpoints reach >= 60% of the bare endpoint's requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "reference" / "pact" / "samples"
CLIENT_ID, CLIENT_SECRET = "bench-buyer", "bench-secret"


def footprints(count: int) -> list[dict[str, Any]]:
    """`count` distinct valid footprints: the PACT samples, repeated with fresh ids."""
    unique: dict[str, dict[str, Any]] = {}
    for path in sorted(SAMPLES.glob("*.json")):
        for document in json.loads(path.read_text(encoding="utf-8")):
            unique.setdefault(document["id"], document)
    base = list(unique.values())
    out = []
    for n in range(count):
        document = json.loads(json.dumps(base[n % len(base)]))
        if n >= len(base):
            document["id"] = str(uuid.UUID(int=n))
        out.append(document)
    return out


def build_app(count: int) -> Any:
    from fastapi import FastAPI
    from pcfx.node.pact.auth import RegisteredClient, StaticClientRegistry, TokenSigner, hash_secret
    from pcfx.node.pact.host import PactHost, install_pact
    from pcfx.node.pact.source import StaticFootprintSource, dump_json
    from starlette.responses import Response

    documents = footprints(count)
    source = StaticFootprintSource(documents)
    registry = StaticClientRegistry([RegisteredClient(CLIENT_ID, "Bench", hash_secret(CLIENT_SECRET))])
    app = FastAPI()
    install_pact(
        app,
        PactHost(source=source, registry=registry, signer=TokenSigner.hs256(os.urandom(32), issuer="bench")),
    )
    # The bare endpoints return exactly the bytes the PACT routes return, without auth, filters or paging.
    page = b'{"data":[' + b",".join(dump_json(doc) for doc in documents[:100]) + b"]}"
    single = b'{"data":' + dump_json(documents[0]) + b"}"

    @app.get("/bare/list")
    async def bare_list() -> Response:
        return Response(page, media_type="application/json")

    @app.get("/bare/get")
    async def bare_get() -> Response:
        return Response(single, media_type="application/json")

    app.state.first_id = documents[0]["id"]
    return app


def serve(port: int, cert: str, key: str, count: int) -> None:
    import uvicorn

    uvicorn.run(
        build_app(count),
        host="127.0.0.1",
        port=port,
        ssl_certfile=cert,
        ssl_keyfile=key,
        log_level="warning",
        access_log=False,
    )


# --- load generator (separate process) -----------------------------------------------------------------


async def _one_connection(
    port: int, context: ssl.SSLContext, request: bytes, stop_at: float, counts: list[int], sizes: set[int]
) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost"
    )
    try:
        while time.perf_counter() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
            sizes.add(len(body))
            counts[0] += 1
    finally:
        writer.close()


def load(
    port: int, cafile: str, path: str, token: str | None, seconds: float, connections: int, queue: Any
) -> None:
    context = ssl.create_default_context(cafile=cafile)
    headers = f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n"
    if token:
        headers += f"Authorization: Bearer {token}\r\n"
    request = (headers + "\r\n").encode()
    counts = [0]
    sizes: set[int] = set()

    async def run() -> None:
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(
            *(_one_connection(port, context, request, stop_at, counts, sizes) for _ in range(connections))
        )

    started = time.perf_counter()
    asyncio.run(run())
    queue.put((counts[0] / (time.perf_counter() - started), sorted(sizes)))


def measure(
    port: int, cafile: str, path: str, token: str | None, seconds: float, connections: int
) -> tuple[float, list[int]]:
    queue: Any = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=load, args=(port, cafile, path, token, seconds, connections, queue)
    )
    process.start()
    result = queue.get(timeout=seconds + 60)
    process.join(30)
    return result


def get_token(port: int, cafile: str) -> str:
    import httpx

    with httpx.Client(verify=ssl.create_default_context(cafile=cafile)) as http:
        response = http.post(
            f"https://127.0.0.1:{port}/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--footprints", type=int, default=500)
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "CERT", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2], args.footprints)
        return

    from pcfx.node.pact.devcert import make_dev_certificate

    tls = make_dev_certificate(Path(tempfile.mkdtemp(prefix="pcfx-bench-tls-")))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            str(tls.cert_path),
            str(tls.key_path),
            "--footprints",
            str(args.footprints),
        ]
    )
    try:
        cafile = str(tls.cert_path)
        deadline = time.monotonic() + 60
        while True:
            try:
                token = get_token(port, cafile)
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        first_id = footprints(1)[0]["id"]
        pairs = [
            ("list limit=100", "/bare/list", "/3/footprints?limit=100"),
            ("get by id", "/bare/get", f"/3/footprints/{first_id}"),
        ]
        print(
            f"uvicorn (1 process, TLS) on loopback, {args.connections} keep-alive connections, "
            f"{args.rounds} x {args.seconds:.0f} s per endpoint, {args.footprints} footprints served, "
            f"{os.cpu_count()} cores"
        )
        for label, bare_path, pact_path in pairs:
            # Warm both paths (first request builds caches).
            measure(port, cafile, bare_path, None, 0.5, 2)
            measure(port, cafile, pact_path, token, 0.5, 2)
            bare_rates: list[float] = []
            pact_rates: list[float] = []
            sizes: set[tuple[int, ...]] = set()
            for _ in range(args.rounds):
                rate, size = measure(port, cafile, bare_path, None, args.seconds, args.connections)
                bare_rates.append(rate)
                sizes.add(tuple(size))
                rate, size = measure(port, cafile, pact_path, token, args.seconds, args.connections)
                pact_rates.append(rate)
                sizes.add(tuple(size))
            assert len(sizes) == 1, f"bare and PACT bodies differ in size: {sizes}"
            ratios = [p / b for p, b in zip(pact_rates, bare_rates, strict=True)]
            print(
                f"{label:15s} body {sizes.pop()[0]:>7d} B | bare {statistics.median(bare_rates):8.0f} req/s "
                f"(min {min(bare_rates):.0f}, max {max(bare_rates):.0f}) | PACT {statistics.median(pact_rates):8.0f} req/s "
                f"(min {min(pact_rates):.0f}, max {max(pact_rates):.0f}) | PACT/bare median {statistics.median(ratios):.0%} "
                f"(range {min(ratios):.0%}-{max(ratios):.0%}) goal >= 60%"
            )
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
