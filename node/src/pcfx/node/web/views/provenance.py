"""The provenance tree of a declaration for the Provenance page: built by `pcfx.node.provenance` (each tier
verified now; declarations the store lacks fetched over the bus by a running node and verified too)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.node.provenance import TraceNode
    from sqlalchemy import Engine

__all__ = ["provenance_view", "tiers"]


async def provenance_view(engine: Engine, settings: Settings, node: Any, text: str) -> TraceNode | None:
    """The tree behind `text` (a declaration id, or an own product); None when nothing is known of it."""
    from pcfx.node.provenance import UnknownDeclarationError, build_trace, resolve_root
    from sqlmodel import Session

    fetch = None
    if node is not None:
        from pcfx.node.provenance.bus import BusFetcher

        fetch = BusFetcher.for_node(node).blocking(asyncio.get_running_loop())

    def work() -> TraceNode | None:
        # the tree is built in a worker thread: fetching blocks on the node's event loop, which stays free
        with Session(engine) as session:
            try:
                root = resolve_root(session, settings, text)
            except UnknownDeclarationError:
                return None
            return build_trace(session, settings, root, fetch=fetch)

    return await asyncio.to_thread(work)


def tiers(tree: TraceNode) -> int:
    """How many tiers of verified declarations the tree shows (the root is tier 0)."""

    def depth(node: TraceNode) -> int:
        below = [depth(child) for child in node.children if child.kind == "declaration" and child.verified]
        return 1 + max(below, default=0)

    return depth(tree) if tree.kind == "declaration" and tree.verified else 0
