"""The chains the provenance tests read: built once per session on one real nats-server, which keeps running
(with the exchange stream) after the nodes stopped, so fetchers can read from it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from pcfx.node.bus.server import EmbeddedNats
from trace_kit import Chain, build_chain


@pytest.fixture(scope="session")
def chain_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nats-server with JetStream for the chains, its URL."""
    server = EmbeddedNats(
        store_dir=tmp_path_factory.mktemp("trace-nats") / "nats", server_name=f"trace-{uuid.uuid4().hex[:8]}"
    )
    url = asyncio.run(server.start())
    try:
        yield url
    finally:
        asyncio.run(server.stop())


@pytest.fixture(scope="session")
def public_chain(tmp_path_factory: pytest.TempPathFactory, chain_nats: str) -> Chain:
    """Copper (public) -> battery -> handset, each declared once."""
    return asyncio.run(build_chain(tmp_path_factory.mktemp("public-chain"), chain_nats, sealed=False))


@pytest.fixture(scope="session")
def sealed_chain(tmp_path_factory: pytest.TempPathFactory, chain_nats: str) -> Chain:
    """Copper sealed to the battery maker only -> battery -> handset."""
    return asyncio.run(build_chain(tmp_path_factory.mktemp("sealed-chain"), chain_nats, sealed=True))
