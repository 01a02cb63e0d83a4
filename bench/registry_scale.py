"""Trust registry at scale: what one change costs a node with the single signed document, and with the split
registry (operator-signed entries + signed root with an RFC 6962 tree head, `pcfx.protocol.registry_entries`).

A node that holds the previous version takes a change from the delta (the root and the entries it changed,
checked against the root's tree head); a node that needs only some companies takes each entry with its
inclusion proof.

A synthetic registry of N companies (default 100,000), each with one Ed25519 key, is signed both ways; then
one company's key is revoked (version N+1). Printed, per way: bytes a node downloads after that change, time
for a node to verify what it downloaded, and (split) time to verify one entry with its inclusion proof, to
apply a root, and for the operator to re-sign after the change. Seeded keys: the same registry each run.

    .venv/bin/python bench/registry_scale.py [--companies 100000] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.keys import public_multikey
from pcfx.protocol.registry import (
    RegistryEntry,
    RegistryKey,
    Role,
    TrustRegistry,
    sign_registry,
    verify_registry,
)
from pcfx.protocol.registry_entries import MerkleTree, RegistryView, apply_delta, entry_leaf, split_registry

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed.to_bytes(32, "big"))


def _entries(count: int) -> list[RegistryEntry]:
    out = []
    for n in range(count):
        did = f"did:web:c{n:06d}.example"
        out.append(
            RegistryEntry(
                did=did,
                legal_name=f"Company {n}",
                company_ids=[f"urn:pcfx:uscc:91{n:016d}"[:32]],
                roles=[Role.SUPPLIER],
                keys=[
                    RegistryKey(
                        id=f"{did}#key-1", public_key_multibase=public_multikey(_key(n + 1)), valid_from=NOW
                    )
                ],
            )
        )
    return out


def _timed(work: Callable[[], Any], reps: int) -> tuple[float, float, Any]:
    """Median and spread (max - min) of `reps` runs, in seconds, and the last result."""
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times) - min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    operator = _key(10**9)
    vm, operator_did = did_key_verification_method(operator), did_key(operator)
    public = operator.public_key()

    t0 = time.perf_counter()
    entries = _entries(args.companies)
    print(f"{args.companies:,} entries built in {time.perf_counter() - t0:.1f} s")

    # The single document: every change is a new document every node downloads and verifies whole.
    v1 = TrustRegistry(version=1, issued=NOW, operator=operator_did, entries=entries)
    revoked = entries[args.companies // 2]
    revoked = revoked.model_copy(update={"keys": [revoked.keys[0].model_copy(update={"revoked_at": NOW})]})
    changed = [*entries[: args.companies // 2], revoked, *entries[args.companies // 2 + 1 :]]
    v2 = TrustRegistry(version=2, issued=NOW, operator=operator_did, entries=changed)
    sign_single, _, doc2 = _timed(
        lambda: sign_registry(v2, key=operator, verification_method=vm, created=NOW), 1
    )
    single_bytes = len(canonicalize(doc2))
    verify_single, verify_single_spread, _ = _timed(
        lambda: verify_registry(doc2, public), max(1, args.reps // 2)
    )

    # The split registry: the operator publishes the signed root and the one entry that changed.
    t0 = time.perf_counter()
    all_v1, _ = split_registry(v1, key=operator, verification_method=vm, created=NOW)
    first_split = time.perf_counter() - t0
    t0 = time.perf_counter()
    delta, root2 = split_registry(v2, key=operator, verification_method=vm, created=NOW, previous=v1)
    resplit = time.perf_counter() - t0
    root_bytes, entry_bytes = len(canonicalize(root2)), sum(len(canonicalize(d)) for d in delta.values())

    # A node holding v1 (with the leaf hashes it keeps between versions) takes v2 from the delta.
    t0 = time.perf_counter()
    leaves = {e.did: entry_leaf(e) for e in v1.entries}
    leaves_seconds = time.perf_counter() - t0

    def node_applies_delta() -> TrustRegistry:
        return apply_delta(v1, root2, delta.values(), public, leaves=dict(leaves))

    apply_s, apply_spread, held = _timed(node_applies_delta, args.reps)
    assert held.entry(revoked.did).keys[0].revoked_at == NOW

    # A node that needs only some entries: one entry of v1 with its inclusion proof in root v1.
    order = sorted(e.did for e in v1.entries)
    tree = MerkleTree([leaves[d] for d in order])
    _, root1 = split_registry(v1, key=operator, verification_method=vm, created=NOW, previous=v1)
    index = len(order) // 3
    proof = tree.proof(index)
    proof_bytes = len(json.dumps({"index": index, "proof": proof}))

    def node_takes_one_entry() -> None:
        view = RegistryView.pinned(public)
        view.apply_root(root1)
        view.accept_entry(all_v1[order[index]], index=index, proof=proof)

    one_s, one_spread, _ = _timed(node_takes_one_entry, args.reps * 20)

    print()
    print(f"trust registry of {args.companies:,} companies; one key revoked (v1 -> v2)")
    print(f"{'':46} {'single document':>16} {'split registry':>16}")
    print(
        f"{'bytes a node downloads after the change':46} {single_bytes:>16,} {root_bytes + entry_bytes:>16,}"
    )
    print(f"{'  (root / changed entry)':46} {'':>16} {f'{root_bytes:,} / {entry_bytes:,}':>16}")
    print(
        f"{'node verifies and takes the new version':46} {f'{verify_single:,.2f} s':>16} {f'{apply_s:,.3f} s':>16}"
    )
    print(
        f"{'  spread over repetitions':46} {f'{verify_single_spread:,.2f} s':>16} {f'{apply_spread:,.3f} s':>16}"
    )
    print(
        f"{'a node that needs one entry: root + entry + proof':46} {'(whole document)':>16} "
        f"{f'{one_s * 1e6:,.0f} us':>16}  ({proof_bytes:,} bytes of proof, {len(proof)} hashes; spread "
        f"{one_spread * 1e6:,.0f} us)"
    )
    print(f"{'operator signs the new version':46} {f'{sign_single:,.2f} s':>16} {f'{resplit:,.2f} s':>16}")
    print(
        f"first split (every entry signed once): {first_split:.1f} s; a node hashing its {len(leaves):,} "
        f"leaves once (kept between versions): {leaves_seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
