"""The synthetic supply-chain graph of the network simulation (`pcfx sim`, bench/network.py): companies by
tier, more upstream than downstream, each with its products and their supplier products one tier deeper
(tier 0: handset-like products with 20-40 suppliers; middle tiers 2-6; the deepest, raw materials, none);
seeded, so a run is reproducible. `inventory` is a product's one-process inventory naming its suppliers."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Product", "build_graph", "company_id", "inventory", "roots_of"]


@dataclass
class Product:
    """A product of company `company` (its `index`-th) at `tier`, with its suppliers and buyers."""

    company: int
    index: int
    tier: int
    suppliers: list[Product] = field(default_factory=list)
    buyers: list[Product] = field(default_factory=list)

    @property
    def pid(self) -> str:
        return f"urn:pcfx:product:c{self.company:05d}:p{self.index}"


def company_id(n: int) -> str:
    """The company id (a synthetic USCC URN) of company number `n`."""
    return f"urn:pcfx:uscc:9144{n:014d}"


def build_graph(companies: int, per_company: int, tiers: int, seed: int) -> list[Product]:
    """The products of `companies` placed by tier (more upstream than downstream), each with supplier
    products one tier deeper: tier 0 buys from 20-40 products (capped by what exists), middle tiers 2-6, the deepest none."""
    rng = random.Random(seed)
    weights = [2**t for t in range(tiers)]  # tier t gets a share growing with depth
    tier_of = [min(tiers - 1, rng.choices(range(tiers), weights=weights)[0]) for _ in range(companies)]
    for t in range(tiers):  # every tier has at least one company
        if t not in tier_of:
            tier_of[t % companies] = t
    products = [Product(c, k, tier_of[c]) for c in range(companies) for k in range(per_company)]
    by_tier: dict[int, list[Product]] = defaultdict(list)
    for p in products:
        by_tier[p.tier].append(p)
    for p in products:
        deeper = [q for q in by_tier.get(p.tier + 1, []) if q.company != p.company]
        if not deeper:
            continue
        fan_in = rng.randint(20, 40) if p.tier == 0 else rng.randint(2, 6)
        for q in rng.sample(deeper, min(fan_in, len(deeper))):
            p.suppliers.append(q)
            q.buyers.append(p)
    return products


def inventory(p: Product, revision: int = 0) -> dict[str, Any]:
    """A one-process inventory: its supplier products as purchased inputs (default factor 2 kg/kg), 0.5 kWh
    of grid electricity and direct CO2 that a revision changes."""
    inputs = [
        {"flow": f"part {n}", "kind": "intermediate", "amount": "0.1", "unit": "kg", "factor": "generic-part",
         "supplier": {"company_id": company_id(q.company), "product_id": q.pid}}
        for n, q in enumerate(p.suppliers)
    ]  # fmt: skip
    inputs.append({"flow": "electricity", "kind": "electricity", "amount": "0.5", "unit": "kWh"})
    return {
        "product": {"name": f"Product {p.index} of company {p.company}", "id": p.pid,
                    "declared_unit": {"amount": "1", "unit": "kg"}, "reference": {"process": "make", "flow": "out"},
                    "mass_per_declared_unit": "1 kg", "fossil_carbon_content": "0"},
        "period": {"start": "2025-01-01", "end": "2026-01-01"},
        "geography": "CN",
        "factors": [{"id": "generic-part", "value": "2", "unit": "kg/kg", "year": 2024, "geography": "GLO",
                     "source": "synthetic bench/network.py factor"}],
        "processes": [{"id": "make", "outputs": [{"flow": "out", "kind": "product", "amount": "1", "unit": "kg"}],
                       "inputs": inputs, "emissions": [{"gas": "CO2", "amount": f"{1 + revision / 1000}", "unit": "kg"}]}],
    }  # fmt: skip


def roots_of(p: Product) -> list[Product]:
    """The tier-0 products that use `p`, directly or through other products."""
    seen, todo, roots = set(), [p], []
    while todo:
        q = todo.pop()
        for b in q.buyers:
            if b.pid not in seen:
                seen.add(b.pid)
                (roots if b.tier == 0 else todo).append(b)
                if b.tier == 0:
                    continue
    return roots
