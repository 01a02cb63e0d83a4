"""The Provenance page: the verified tree of supplier declarations behind any declaration, tier by tier."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pcfx.node.api.deps import NodeDep, SettingsDep
from pcfx.node.web.deps import LangDep, SignedIn, page

__all__ = ["provenance_router"]

provenance_router = APIRouter(include_in_schema=False)


@provenance_router.get("/ui/provenance", response_class=HTMLResponse)
async def provenance(
    request: Request,
    settings: SettingsDep,
    node: NodeDep,
    lang: LangDep,
    web: SignedIn,
    id: Annotated[str, Query(max_length=512)] = "",
) -> Response:
    from pcfx.node.web.views.provenance import provenance_view, tiers

    engine = request.app.state.engine
    tree = await provenance_view(engine, settings, node, id.strip()) if id.strip() else None
    return page(
        request, "provenance.html", lang=lang, session=web, id=id, tree=tree, tiers=tiers(tree) if tree else 0
    )
