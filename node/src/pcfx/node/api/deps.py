"""FastAPI dependencies of the node's HTTP apps (state set by `create_pact_app` and `create_admin_app`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from pcfx.node.config import Settings
from sqlmodel import Session

__all__ = ["NodeDep", "SessionDep", "SettingsDep", "get_node", "get_session", "get_settings"]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_node(request: Request) -> Any:
    """The running `pcfx.node.service.Node`, or None when the API serves a store without a bus."""
    return request.app.state.node


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
NodeDep = Annotated[Any, Depends(get_node)]
