"""The supply-chain provenance tree of a declaration (`pcfx trace`): the supplier declarations its inputs
used, tier by tier, each verified by this node, with defaults and unreadable tiers said as such.

- `model`: the tree (`TraceNode`, `InputLink`, `TraceCheck`, `TraceReceipt`), JSON via `to_dict`;
- `trace`: `build_trace` from the store, with an optional fetcher, and `resolve_root` for `pcfx trace DECL`;
- `bus`: `BusFetcher`, the fetcher over the exchange (imported on its own: it loads the NATS client).
"""

from pcfx.node.provenance.model import InputLink, NodeKind, TraceCheck, TraceNode, TraceReceipt
from pcfx.node.provenance.trace import (
    DeclarationRef,
    Fetched,
    Fetcher,
    FetchOutcome,
    SealedElsewhere,
    UnknownDeclarationError,
    build_trace,
    resolve_root,
)

__all__ = [
    "DeclarationRef",
    "FetchOutcome",
    "Fetched",
    "Fetcher",
    "InputLink",
    "NodeKind",
    "SealedElsewhere",
    "TraceCheck",
    "TraceNode",
    "TraceReceipt",
    "UnknownDeclarationError",
    "build_trace",
    "resolve_root",
]
