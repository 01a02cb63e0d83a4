"""A small network for node tests: an operator, companies with real node homes and keys, a signed trust
registry in every home, and footprints derived from a PACT v3 sample."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pcfx.node.config import Settings, load_settings
from pcfx.node.home import init_home
from pcfx.node.issuing import Issuer
from pcfx.node.keystore import KeyStore
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.keys import generate_signing_key, public_multikey
from pcfx.protocol.registry import Role, TrustRegistry, sign_registry

T = TypeVar("T")

# beside the clone; bench/mutation.py runs the tests from a copy further down (mutation/<group>/mutants/)
REFERENCE = next(
    (
        p / "shared" / "reference"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "reference").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "reference",
)
SAMPLE = REFERENCE / "pact" / "samples" / "cosmetics_tier_1_sample.json"
KEYS_SINCE = datetime.now(UTC) - timedelta(days=30)


def _uscc(n: int) -> str:
    return f"91110000{n:09d}A"


@dataclass
class Company:
    """One company: its node settings (home on disk) and its issuer (keystore key)."""

    name: str
    settings: Settings
    issuer: Issuer
    products: dict[str, str] = field(default_factory=dict)
    _status_index: int = 0

    @property
    def did(self) -> str:
        return self.settings.did

    @property
    def company_id(self) -> str:
        return self.settings.company_id

    def product(self, name: str) -> str:
        return self.products.setdefault(name, f"urn:pcfx:product:{self.name.lower()}:{name}")

    def footprint(
        self, product: str, *, created: datetime, pcf: str = "1.5", preceding: list[str] | None = None
    ):
        """A valid PACT v3 footprint of `product` by this company (from a PACT sample)."""
        sample = json.loads(SAMPLE.read_text())[0]
        fp = copy.deepcopy(sample)
        fp["id"] = str(uuid.uuid4())
        fp["created"] = created.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        fp["companyName"] = self.name
        fp["companyIds"] = [self.company_id]
        fp["productIds"] = [self.product(product)]
        fp["pcf"]["pcfExcludingBiogenicUptake"] = pcf
        fp.pop("precedingPfIds", None)
        if preceding:
            fp["precedingPfIds"] = preceding
        return fp

    def declaration(
        self,
        product: str,
        *,
        created: datetime | None = None,
        pcf: str = "1.5",
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        preceding: list[str] | None = None,
        issuer: Issuer | None = None,
    ) -> bytes:
        """Signed declaration bytes (own status index each time)."""
        created = created or datetime.now(UTC) - timedelta(minutes=5)
        index = self._status_index
        self._status_index += 1
        signer = issuer or self.issuer
        return signer.sign(
            self.footprint(product, created=created, pcf=pcf, preceding=preceding),
            status_index=index,
            valid_from=valid_from or created - timedelta(days=1),
            valid_until=valid_until,
            created=created,
        )


@dataclass
class Network:
    operator_key: Any
    operator_did: str
    companies: dict[str, Company]
    registry: dict[str, Any]

    def __getitem__(self, name: str) -> Company:
        return self.companies[name]


def make_network(
    root: Path, names: list[str], *, database_urls: dict[str, str] | None = None, **settings: Any
) -> Network:
    """Node homes for `names` under `root` (did:web <name>.example), all trusting one signed registry."""
    # the admin API on any free port: tests run many nodes at once, beside other test runs
    settings.setdefault("admin_port", 0)
    operator_key = generate_signing_key()
    operator_did = did_key(operator_key)
    operator_vm = did_key_verification_method(operator_key)
    companies: dict[str, Company] = {}
    entries = []
    for n, name in enumerate(names, start=1):
        home = init_home(
            root / name.lower(),
            name=name,
            company_id=f"urn:pcfx:uscc:{_uscc(n)}",
            web_domain=f"{name.lower()}.example",
            registry_operator_key=public_multikey(operator_key),
            database_url=(database_urls or {}).get(name),
            **settings,
        )
        identity = KeyStore(home.keys_path).identity()
        entries.append(
            identity.registry_entry(
                legal_name=name, company_ids=[home.company_id], roles=[Role.SUPPLIER], valid_from=KEYS_SINCE
            )
        )
        companies[name] = Company(name, home, Issuer.from_keystore(KeyStore(home.keys_path)))
    registry = TrustRegistry(version=1, issued=KEYS_SINCE, operator=operator_did, entries=entries)
    signed = sign_registry(registry, key=operator_key, verification_method=operator_vm, created=KEYS_SINCE)
    for company in companies.values():
        company.settings.registry_path.write_text(json.dumps(signed), encoding="utf-8")
        company.settings = load_settings(company.settings.home)
    return Network(operator_key, operator_did, companies, signed)


async def eventually(check, *, timeout: float = 10.0, interval: float = 0.02):
    """Poll `check()` until it returns a truthy value (returned) or `timeout` passes (AssertionError)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def eventually_async(check, *, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll the coroutine function `check` until it returns True (or `timeout` passes: False)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


async def within(what: str, awaitable: Awaitable[T], *, seconds: float = 60.0) -> T:
    """`awaitable`'s result, or AssertionError "hung at <what>" after `seconds`, with every task's stack on
    stderr: a hang fails the test and says where, instead of stopping the whole run."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        raise AssertionError(f"hung at {what} for {seconds} s") from None
