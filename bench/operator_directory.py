"""The operator's side of onboarding and following at scale: the company directory (`companies.db`,
`pcfx.node.network.directory`) against the state file it replaced (every company inside `network.json`).

For each N in `--companies`, N synthetic companies with `--follows` suppliers each (2 products per follow)
are onboarded in batches of 100 into a fresh directory; then `--requests` follow requests are applied the
way the follow service applies one (buyer and supplier read by DID, the buyer's suppliers read for its
account's imports, the follow row replaced). The same requests are then applied to the whole-file form:
the state validated from `network.json`, changed and written back atomically (what `handle_follow` did
before the directory). Printed: the milliseconds per request both ways, the directory's size on disk and
the state file's size. The account JWT re-signed and pushed for each request costs the same both ways and
is not part of this bench (`network.py` measures whole follows).

    .venv/bin/python bench/operator_directory.py [--companies 1000,10000] [--follows 5] [--requests 200]

Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.layout import write_public
from pcfx.node.network.state import CompanyRecord
from pydantic import BaseModel

_B32 = "ABCDEFGHIJ"


def _did(n: int) -> str:
    return f"did:key:z6Mk{n:040d}"


def _records(count: int, follows: int, rng: random.Random) -> list[CompanyRecord]:
    now = datetime.now(UTC)
    return [
        CompanyRecord(
            slug=f"bench-company-{n}",
            name=f"Bench Company {n}",
            did=_did(n),
            company_ids=[f"urn:pcfx:uscc:91{n:016d}"],
            roles=["supplier", "buyer"],
            account="A" + "".join(_B32[int(c)] for c in f"{n:055d}"),
            onboarded=now,
            follows={
                _did(rng.randrange(count)): [f"urn:pcfx:product:c{n}:p{j}" for j in range(2)]
                for _ in range(follows)
            },
        )
        for n in range(count)
    ]


class _WholeFile(BaseModel):
    """The companies part of a format-1 `network.json`."""

    companies: dict[str, CompanyRecord]


def _directory_ms(
    root: Path, records: list[CompanyRecord], pairs: list[tuple[int, int]]
) -> tuple[float, float]:
    directory = CompanyDirectory.at(root)
    started = time.perf_counter()
    for first in range(0, len(records), 100):
        directory.add(records[first : first + 100])
    onboard_s = time.perf_counter() - started
    times = []
    for buyer_n, supplier_n in pairs:
        started = time.perf_counter()
        buyer, supplier = directory.by_did(_did(buyer_n)), directory.by_did(_did(supplier_n))
        assert buyer is not None and supplier is not None
        buyer.follows[supplier.did] = sorted({*buyer.follows.get(supplier.did, []), f"urn:p:{buyer_n}"})
        directory.suppliers_of(buyer)  # the imports of the buyer's account are built from these
        directory.set_follow(buyer.did, supplier.did, buyer.follows[supplier.did])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, onboard_s


def _whole_file_ms(path: Path, records: list[CompanyRecord], pairs: list[tuple[int, int]]) -> float:
    write_public(path, _WholeFile(companies={r.slug: r for r in records}).model_dump_json(indent=2) + "\n")
    times = []
    for buyer_n, supplier_n in pairs:
        started = time.perf_counter()
        state = _WholeFile.model_validate_json(path.read_bytes())
        buyer = state.companies[f"bench-company-{buyer_n}"]
        supplier = _did(supplier_n)
        buyer.follows[supplier] = sorted({*buyer.follows.get(supplier, []), f"urn:p:{buyer_n}"})
        write_public(path, state.model_dump_json(indent=2) + "\n")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--companies", default="1000,10000", help="comma-separated N")
    parser.add_argument("--follows", type=int, default=5, help="suppliers each company follows")
    parser.add_argument("--requests", type=int, default=200, help="follow requests timed per N")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{'companies':>10} {'directory ms/follow':>20} {'whole file ms/follow':>21} {'companies.db':>13} "
          f"{'network.json':>13} {'onboard (directory)':>20}")  # fmt: skip
    for count in (int(n) for n in args.companies.split(",")):
        rng = random.Random(args.seed)
        records = _records(count, args.follows, rng)
        pairs = [(rng.randrange(count), rng.randrange(count)) for _ in range(args.requests)]
        with tempfile.TemporaryDirectory(prefix="pcfx-bench-") as tmp:
            root = Path(tmp)
            directory_ms, onboard_s = _directory_ms(root, records, pairs)
            CompanyDirectory.at(root).engine.dispose()  # checkpoints the WAL into the file
            db_bytes = (root / "companies.db").stat().st_size
            file_ms = _whole_file_ms(root / "network.json", records, pairs[: max(5, args.requests // 20)])
            file_bytes = (root / "network.json").stat().st_size
        print(f"{count:>10,} {directory_ms:>20.2f} {file_ms:>21.1f} {db_bytes / 1e6:>10.1f} MB "
              f"{file_bytes / 1e6:>10.1f} MB {onboard_s:>18.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
