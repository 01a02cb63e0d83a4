"""The provenance tree of a declaration for the Provenance page (built by `pcfx.node.provenance`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from sqlmodel import Session

__all__ = ["provenance_view"]


async def provenance_view(session: Session, settings: Settings, node: Any, declaration_id: str) -> Any:
    """The tree behind `declaration_id` (None when nothing is known of it)."""
    return None
