"""The supply-chain provenance tree: one node per declaration a footprint rests on, tier by tier, each with
its own verification outcome; JSON-ready (`to_dict`) for the CLI and the web app alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from pcfx.node.supply.resolve import ReceiptInfo
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["InputLink", "NodeKind", "Origin", "TraceCheck", "TraceNode", "TraceReceipt"]

#: What a tree node stands for:
#: - `declaration`: a declaration this viewer holds (stored, fetched and verified, or given as a file);
#: - `restricted`: it exists but this viewer may not read it (sealed to another buyer): no values shown;
#: - `unavailable`: named by the tier above, neither stored here nor fetchable;
#: - `cycle`: already on the path from the root (the branch ends);
#: - `depth-limit`: deeper than the trace goes (the branch ends);
#: - `default-factor`: an input that ran on a default factor (the branch ends, with the reason when known).
NodeKind = Literal["declaration", "restricted", "unavailable", "cycle", "depth-limit", "default-factor"]
#: Where a shown declaration's bytes came from.
Origin = Literal["own", "received", "fetched", "file", "quarantined"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class TraceReceipt(ReceiptInfo):
    """A verification receipt kept in the store (`ReceiptInfo`: key, registry version, when) and its outcome."""

    ok: bool = True


class TraceCheck(_Model):
    """The verification of one node now: signature, signer against the trust registry, validity, status."""

    ok: bool
    reason: str | None = None  # the failure reason (`bad signature`, `unknown issuer`, `revoked`, ...)
    detail: str = ""
    checked_at: datetime
    key_id: str | None = None
    registry_version: int | None = None
    assured_by: tuple[str, ...] = ()


class InputLink(_Model):
    """The signed reference in the tier above: which of its inputs used this declaration, or a default factor.
    `supplier`, `issuer`, `receipt` and `reason` are known only when the tier above is this node's own."""

    input: str  # "<process>/<flow>" as the tier above's accounting extension names it
    share: str | None = None  # share of the tier above's footprint due to this input (0..1)
    referenced_by: str | None = None  # the declaration id of the tier above
    referenced_by_verified: bool | None = None  # whether that signed declaration verifies now
    declaration_id: str | None = None  # supplier-declaration sources
    default_factor_id: str | None = None  # default-factor sources
    supplier: str | None = None  # "<did or company id>/<product id>" as the own inventory names it
    issuer: str | None = None  # the supplier DID the own calculation resolved
    receipt: TraceReceipt | None = None  # the own verification receipt the value was used on
    reason: str | None = None  # why a default factor was used


class TraceNode(_Model):
    """One node of the provenance tree; `children` are the declarations (and defaults) its inputs used."""

    kind: NodeKind
    link: InputLink | None = None  # how the tier above names this node (None at the root)
    declaration_id: str | None = None
    issuer: str | None = None
    company_name: str | None = None  # the trust registry's legal name, else the footprint's companyName
    registered: bool | None = None  # whether the issuer is in this node's trust registry
    product_id: str | None = None
    product_name: str | None = None
    value: str | None = None  # pcfExcludingBiogenicUptake, kg CO2e per declared unit
    unit: str | None = None  # e.g. "kg CO2e / 1 t"
    primary_data_share: str | None = None  # percent
    dqr: dict[str, str] | None = None  # technological / geographical / temporal DQR
    verification: TraceCheck | None = None
    receipt: TraceReceipt | None = None  # the receipt stored when this node received the declaration
    origin: Origin | None = None
    source: str | None = None  # where a fetched declaration came from (stream, kv, request-reply, ...)
    state: str | None = None  # the store's state of the declaration (active, superseded, revoked, ...)
    restricted_to: tuple[str, ...] | None = None  # restricted: the buyer(s) it is sealed / declared to
    note: str | None = None  # why a node is restricted, unavailable, cut, or what else to know
    children: tuple[TraceNode, ...] = Field(default_factory=tuple)

    @property
    def verified(self) -> bool:
        """True when this node is a declaration whose verification holds now."""
        return self.verification is not None and self.verification.ok

    def walk(self) -> Iterator[TraceNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, declaration_id: str) -> TraceNode | None:
        """The first node (depth first) about `declaration_id`, if any."""
        return next((n for n in self.walk() if n.declaration_id == declaration_id), None)

    def summary(self) -> dict[str, int]:
        """Counts over the tree: declarations `verified` and `failed`, and the nodes of every other kind."""
        counts: dict[str, int] = dict.fromkeys(
            ("verified", "failed", "restricted", "unavailable", "cycle", "depth-limit", "default-factor"), 0
        )
        for node in self.walk():
            counts[
                ("verified" if node.verified else "failed") if node.kind == "declaration" else node.kind
            ] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The tree as JSON-ready data (absent members left out, `children` always present)."""
        data = self.model_dump(mode="json", exclude_none=True, exclude={"children"})
        data["children"] = [child.to_dict() for child in self.children]
        return data
