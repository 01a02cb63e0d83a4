"""Verification benchmark: declarations verified per second through the whole pipeline, next to the raw
Ed25519 verify rate of `cryptography` on the same signatures, in the same run, on one core; plus signing.

Payloads: the 180 PACT v3 samples of ../shared/reference/pact/samples, each signed as a declaration by a
registered supplier key and kept as wire bytes (RFC 8785 form).
- pipeline: `verify_declaration(wire bytes, registry=...)`: parse, envelope checks, registry key lookup,
  canonicalize, SHA-256, Ed25519 (libsodium), PACT v3 validation of the footprint, company binding, dates.
- raw: `Ed25519PublicKey.verify(signature, signing input)` of `cryptography` for the same declarations'
  signatures over their 64-byte signing inputs (what the proofs sign), and libsodium's rate on the same.
- signing: build + sign + canonical wire bytes per footprint, next to raw `cryptography` Ed25519 signing.
- stages (unless --no-stages): the pipeline's parts timed one by one on the same declarations, next to the
  pipeline and raw `cryptography` verify in the same interleaved run, as microseconds and as a fraction of
  one raw verify. "rest" is the pipeline minus the parts timed alone: its glue (key lookup, dates, company
  binding, result) and what running all parts in one sequence costs over running each alone (caches: the
  signature check evicts the Python side's working set), so most of it is not code that can be removed.
Within a repetition the measured functions alternate in chunks of 100 operations, so each sees the same
load of the (shared) host; the spread over repetitions shows the remaining noise.

    .venv/bin/python bench/verify.py [--n 3000] [--reps 7] [--cpu 0] [--no-stages]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pcfx.protocol.canonical import canonicalize_trusted, load_json
from pcfx.protocol.declaration import build_declaration, declaration_bytes, sign_declaration, validate_body
from pcfx.protocol.did import did_key
from pcfx.protocol.keys import generate_signing_key, public_key_bytes, public_multikey
from pcfx.protocol.pact.v3 import ProductFootprint
from pcfx.protocol.proof import decode_proof_value, ed25519_verify, signing_input
from pcfx.protocol.registry import RegistryEntry, RegistryKey, Role, TrustRegistry
from pcfx.protocol.verify import verify_declaration

__all__ = ["STAGES", "measure_stages", "measure_verify", "prepare"]

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"
ISSUER = "did:web:supplier.example"
VM = f"{ISSUER}#key-1"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _samples() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((REFERENCE / "pact" / "samples").glob("*.json")):
        out.extend(json.loads(path.read_text("utf-8")))
    return out


def prepare() -> dict[str, Any]:
    """Key, registry, the sample footprints and their signed wire bytes (built once, reused by callers)."""
    key = generate_signing_key()
    footprints = _samples()
    registry = TrustRegistry(
        version=1,
        issued=NOW,
        operator=did_key(generate_signing_key()),
        entries=[
            RegistryEntry(
                did=ISSUER,
                legal_name="Supplier Co., Ltd.",
                company_ids=sorted({c for fp in footprints for c in fp["companyIds"]}),
                roles=[Role.SUPPLIER],
                keys=[
                    RegistryKey(
                        id=VM, public_key_multibase=public_multikey(key), valid_from=NOW - timedelta(days=365)
                    )
                ],
            )
        ],
    )
    wires = [_issue(fp, key, i) for i, fp in enumerate(footprints)]
    return {"key": key, "registry": registry, "footprints": footprints, "wires": wires}


def _issue(fp: dict[str, Any], key: Any, index: int) -> bytes:
    doc = build_declaration(
        fp,
        issuer=ISSUER,
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=365),
        status_list_url="https://supplier.example/pcfx/status",
        status_index=index,
    )
    return declaration_bytes(
        sign_declaration(doc, key=key, verification_method=VM, created=NOW - timedelta(hours=1))
    )


def _rates(
    work: dict[str, tuple[Callable[[Any], Any], list[Any]]], n: int, chunk: int = 100
) -> dict[str, float]:
    """Operations per second of each callable over `n` items, run in alternating chunks of `chunk` items so
    that every measured function sees the same machine load (the host is shared)."""
    batches = {name: [items[i % len(items)] for i in range(n)] for name, (_, items) in work.items()}
    spent = dict.fromkeys(work, 0.0)
    gc.collect()
    for start in range(0, n, chunk):
        for name, (fn, _) in work.items():
            batch = batches[name][start : start + chunk]
            t0 = time.perf_counter()
            for item in batch:
                fn(item)
            spent[name] += time.perf_counter() - t0
    return {name: n / seconds for name, seconds in spent.items()}


#: Pipeline parts timed by `measure_stages`, in pipeline order (footprint is a part of envelope+footprint).
STAGES = (
    ("parse", "JSON parse (msgspec) + astral scan"),
    ("canonical_body", "JCS of the body (orjson)"),
    ("signing_input", "proof config JCS + 2 x SHA-256"),
    ("proof_value", "proofValue base58 decode"),
    ("libsodium", "Ed25519 verify (libsodium)"),
    ("envelope_footprint", "envelope + footprint validation"),
    ("footprint", "  of which PACT v3 footprint"),
)


def measure_stages(n: int = 1000, *, reps: int = 7, setup: dict[str, Any] | None = None) -> dict[str, Any]:
    """Microseconds per declaration of each pipeline stage (STAGES), of the whole pipeline and of a raw
    `cryptography` verify, timed interleaved in the same runs; medians over `reps`, plus `rest`."""
    setup = setup or prepare()
    registry, key, wires = setup["registry"], setup["key"], setup["wires"]
    public = key.public_key()
    public_raw = public_key_bytes(public)
    parts = []
    for wire in wires:
        doc, fast = load_json(wire, check_duplicates=False)
        body = {k: v for k, v in doc.items() if k != "proof"}
        body_jcs = canonicalize_trusted(body)
        parts.append((wire, doc, body, body_jcs, decode_proof_value(doc["proof"]), fast))

    def stage(fn: Callable[[tuple[Any, ...]], Any]) -> tuple[Callable[[Any], Any], list[Any]]:
        return fn, parts

    work = {
        "pipeline": stage(lambda p: verify_declaration(p[0], registry=registry, now=NOW)),
        "raw_cryptography": stage(
            lambda p: public.verify(p[4], signing_input(p[1], p[1]["proof"], document_jcs=p[3]))
        ),
        "parse": stage(lambda p: load_json(p[0], check_duplicates=False)),
        "canonical_body": stage(lambda p: canonicalize_trusted(p[2])),
        "signing_input": stage(lambda p: signing_input(p[1], p[1]["proof"], fast=p[5], document_jcs=p[3])),
        "proof_value": stage(lambda p: decode_proof_value(p[1]["proof"])),
        "libsodium": stage(
            lambda p: ed25519_verify(public_raw, p[4], signing_input(p[1], p[1]["proof"], document_jcs=p[3]))
        ),
        "envelope_footprint": stage(lambda p: validate_body(p[2])),
        "footprint": stage(lambda p: ProductFootprint.model_validate(p[2]["credentialSubject"])),
    }
    # The raw and libsodium entries above include a signing_input each: subtract it again below so both are
    # the bare signature check, as in measure_verify.
    runs = []
    for _ in range(reps):
        rates = _rates(work, n)
        us = {name: 1e6 / rate for name, rate in rates.items()}
        us["raw_cryptography"] -= us["signing_input"]
        us["libsodium"] -= us["signing_input"]
        counted = [name for name, _ in STAGES if name != "footprint"]
        us["rest"] = us["pipeline"] - sum(us[name] for name in counted)
        runs.append(us)
    names = [*work, "rest"]
    return {name: statistics.median(r[name] for r in runs) for name in names} | {"runs": runs}


def measure_verify(n: int = 3000, *, reps: int = 7, setup: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rates per second (median over `reps`, each a run of `n` items) and their spread.

    Keys: pipeline, raw_cryptography, raw_libsodium, ratio (pipeline / raw_cryptography, per repetition),
    sign_pipeline, sign_raw, and `runs` with every repetition's figures.
    """
    setup = setup or prepare()
    registry, key, wires = setup["registry"], setup["key"], setup["wires"]
    public = key.public_key()
    public_raw = public_key_bytes(public)
    signed = []
    for wire in wires:
        doc, _ = load_json(wire)
        signed.append((decode_proof_value(doc["proof"]), signing_input(doc, doc["proof"])))
    failures = [r for r in (verify_declaration(w, registry=registry, now=NOW) for w in wires) if not r.ok]
    if failures:
        raise RuntimeError(
            f"benchmark declarations do not verify: {failures[0].reason}: {failures[0].detail}"
        )

    def pipeline(wire: bytes) -> None:
        if not verify_declaration(wire, registry=registry, now=NOW).ok:
            raise RuntimeError("verification failed")

    def raw_cryptography(pair: tuple[bytes, bytes]) -> None:
        public.verify(pair[0], pair[1])

    def raw_libsodium(pair: tuple[bytes, bytes]) -> None:
        if not ed25519_verify(public_raw, pair[0], pair[1]):
            raise RuntimeError("bad signature")

    footprints = setup["footprints"]

    def sign_pipeline(i: int) -> None:
        _issue(footprints[i % len(footprints)], key, i)

    def sign_raw(pair: tuple[bytes, bytes]) -> None:
        key.sign(pair[1])

    runs = []
    for _ in range(reps):
        run = _rates(
            {
                "pipeline": (pipeline, wires),
                "raw_cryptography": (raw_cryptography, signed),
                "raw_libsodium": (raw_libsodium, signed),
            },
            n,
        )
        run |= _rates(
            {"sign_pipeline": (sign_pipeline, list(range(len(footprints)))), "sign_raw": (sign_raw, signed)},
            max(n // 3, 1),
        )
        run["ratio"] = run["pipeline"] / run["raw_cryptography"]
        runs.append(run)
    out: dict[str, Any] = {"n": n, "reps": reps, "declarations": len(wires), "runs": runs}
    for name in ("pipeline", "raw_cryptography", "raw_libsodium", "ratio", "sign_pipeline", "sign_raw"):
        values = [r[name] for r in runs]
        out[name] = statistics.median(values)
        out[f"{name}_min"], out[f"{name}_max"] = min(values), max(values)
    out["mean_wire_bytes"] = sum(map(len, wires)) / len(wires)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=3000, help="operations per measurement")
    parser.add_argument("--reps", type=int, default=7, help="repetitions")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: no pinning)")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage breakdown")
    args = parser.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    # The host is shared: its load average (before and after) says how much the figures can be trusted.
    load_before = _load()
    setup = prepare()
    result = measure_verify(args.n, reps=args.reps, setup=setup)
    stages = None if args.no_stages else measure_stages(max(args.n // 3, 1), reps=args.reps, setup=setup)
    print(
        f"declarations: {result['declarations']} PACT samples, {result['mean_wire_bytes']:.0f} bytes on average; "
        f"n={result['n']} per run, {result['reps']} runs, one core; "
        f"host load average {load_before:.2f} before, {_load():.2f} after, on {os.cpu_count()} cores"
    )
    print(
        f"{'run':>4} {'pipeline/s':>11} {'crypto raw/s':>13} {'sodium raw/s':>13} {'ratio':>6} "
        f"{'pipeline us':>12} {'overhead us':>12} {'sign/s':>8} {'raw sign/s':>11}"
    )
    for i, r in enumerate(result["runs"], 1):
        # overhead: pipeline time per declaration beyond its own (libsodium) signature check
        print(
            f"{i:>4} {r['pipeline']:>11.0f} {r['raw_cryptography']:>13.0f} {r['raw_libsodium']:>13.0f} "
            f"{r['ratio']:>6.2f} {1e6 / r['pipeline']:>12.1f} {1e6 / r['pipeline'] - 1e6 / r['raw_libsodium']:>12.1f} "
            f"{r['sign_pipeline']:>8.0f} {r['sign_raw']:>11.0f}"
        )

    def span(name: str, fmt: str = ".0f") -> str:
        return f"{result[name]:{fmt}} (min {result[name + '_min']:{fmt}}, max {result[name + '_max']:{fmt}})"

    print(f"median pipeline verify/s      {span('pipeline')}")
    print(f"median raw cryptography/s     {span('raw_cryptography')}")
    print(f"median raw libsodium/s        {span('raw_libsodium')}")
    print(f"median pipeline / raw         {span('ratio', '.2f')}   goal >= 0.70")
    print(f"median sign (build+sign+wire) {span('sign_pipeline')}")
    print(f"median raw cryptography sign  {span('sign_raw')}")
    if stages is not None:
        raw = stages["raw_cryptography"]
        print(
            f"stages (median of {args.reps} interleaved runs of {max(args.n // 3, 1)}; "
            f"us per declaration, fraction of one raw cryptography verify = {raw:.1f} us)"
        )
        for name, label in (*STAGES, ("rest", "rest of the pipeline"), ("pipeline", "whole pipeline")):
            print(f"  {label:<38} {stages[name]:>7.1f} us {stages[name] / raw:>6.2f}")
    return 0


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


if __name__ == "__main__":
    sys.exit(main())
