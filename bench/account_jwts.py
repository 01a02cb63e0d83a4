"""The account JWTs an operator signs and every hub server's resolver holds, at N companies on the simulation's
supply graph (`pcfx.node.sim.graph`, `--products` per company, `--tiers` tiers, seeded): each company follows
the supplier products its products buy, and its account JWT is minted as `pcfx network` mints it
(`company_account_claims`: one set of imports per supplier). For comparison the same accounts are minted with
one request-service import per followed product added, the layout before (`pcfx.v1.req.<supplier>.<product>`
for each product instead of `pcfx.v1.req.<supplier>.>`).

    .venv/bin/python bench/account_jwts.py [--companies 1000,10000] [--products 2] [--tiers 6] [--seed 7]

Prints the median, p99 and largest JWT and the total (the resolver's size) both ways; asserts nothing."""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import nkeys
from pcfx.node.network.accounts import (
    COMPANY_JETSTREAM,
    account_jwt,
    company_account_claims,
)
from pcfx.node.network.state import CompanyRecord
from pcfx.node.sim.graph import build_graph, company_id
from pcfx.protocol.subjects import REQ_PREFIX, subject_token

_B32 = "ABCDEFGHIJ"


def _records(companies: int, products: int, tiers: int, seed: int) -> dict[str, CompanyRecord]:
    follows: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for product in build_graph(companies, products, tiers, seed):
        for supplier in product.suppliers:
            follows[product.company][_did(supplier.company)].add(supplier.pid)
    now = datetime.now(UTC)
    return {
        _did(n): CompanyRecord(
            slug=f"c{n}",
            name=f"Company {n}",
            did=_did(n),
            company_ids=[company_id(n)],
            roles=["supplier"],
            account="A" + "".join(_B32[int(c)] for c in f"{n:055d}"),
            onboarded=now,
            follows={did: sorted(pids) for did, pids in follows[n].items()},
        )
        for n in range(companies)
    }


def _did(n: int) -> str:
    return f"did:web:c{n}.example"


def _per_product(claims: dict[str, Any], record: CompanyRecord, records: dict[str, CompanyRecord]) -> None:
    """`claims` with the request-service imports of the layout before: one per followed product."""
    imports = [i for i in claims["imports"] if not i["subject"].startswith(f"{REQ_PREFIX}.")]
    for did, products in sorted(record.follows.items()):
        supplier = records[did]
        imports += [
            {
                "name": f"{supplier.slug} requests {product}",
                "subject": f"{REQ_PREFIX}.{supplier.issuer_token}.{subject_token(product)}",
                "type": "service",
                "account": supplier.account,
            }
            for product in products
        ]
    claims["imports"] = imports


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--companies", default="1000,10000")
    parser.add_argument("--products", type=int, default=2)
    parser.add_argument("--tiers", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    signer = nkeys.from_seed(nkeys.encode_seed(bytes(32), nkeys.PREFIX_BYTE_OPERATOR))
    network = "A" + "B" * 55
    for count in (int(n) for n in args.companies.split(",")):
        records = _records(count, args.products, args.tiers, args.seed)
        sizes: dict[str, list[int]] = {"per supplier": [], "per product (before)": []}
        for record in records.values():
            for layout, list_ in sizes.items():
                claims = company_account_claims(
                    record, network_account=network, suppliers=records, jetstream=COMPANY_JETSTREAM
                )
                if layout != "per supplier":
                    _per_product(claims, record, records)
                list_.append(len(account_jwt(record.account, record.name, claims, signer)))
        follows = sum(len(p) for r in records.values() for p in r.follows.values())
        print(f"N = {count:,} companies, {count * args.products:,} products, {follows:,} followed products:")
        for layout, values in sizes.items():
            values.sort()
            print(
                f"  {layout:>21}: median {statistics.median(values) / 1000:.1f} kB, "
                f"p99 {values[int(0.99 * (len(values) - 1))] / 1000:.1f} kB, largest {values[-1] / 1000:.1f} kB; "
                f"all accounts {sum(values) / 1e6:.1f} MB"
            )


if __name__ == "__main__":
    main()
