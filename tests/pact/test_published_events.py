"""Published events to subscribed peers: a footprint the node newly declares in public is announced to each peer
that asked (`published_events`), from the node's PACT API URL, over HTTPS trusted through the node's
`outbound_ca_bundle` (the peer's certificate comes from a private CA); a peer that did not ask hears nothing."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from http_kit import serving
from node_kit import make_network
from pcfx.node.config import ConfigError
from pcfx.node.engine import parse_inventory
from pcfx.node.pact.devcert import make_dev_certificate
from pcfx.node.pact.peers import FilePeerDirectory, PeerCredentials
from pcfx.node.pact.wiring import PEERS_FILE, outbound_verify
from pcfx.node.supply import SupplyService

from .conftest import RECEIVER_CLIENT, Receiver, ServedApp

PUBLISHED_V3 = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
STEEL = "urn:pcfx:product:acme:hrc"


def steel_inventory() -> dict:
    """1 t of steel with 1,800 kg direct CO2."""
    return {
        "product": {
            "name": "Hot-rolled coil",
            "id": STEEL,
            "declared_unit": {"amount": "1", "unit": "t"},
            "reference": {"process": "mill", "flow": "hot-rolled coil"},
            "mass_per_declared_unit": "1000 kg",
            "fossil_carbon_content": "0",
        },
        "period": {"start": "2025-01-01", "end": "2026-01-01"},
        "geography": "CN",
        "processes": [
            {
                "id": "mill",
                "outputs": [{"flow": "hot-rolled coil", "kind": "product", "amount": "1", "unit": "t"}],
                "emissions": [{"gas": "CO2", "amount": "1800", "unit": "kg"}],
            }
        ],
    }


async def test_a_new_public_declaration_is_announced_to_the_subscribed_peer_over_the_private_ca(
    tmp_path, nats_server
):
    private_ca = make_dev_certificate(tmp_path / "peer-tls")  # self-signed: trusted only through the bundle
    subscribed, silent = Receiver(), Receiver()
    peer = ServedApp(subscribed.app(), cert=private_ca).start()
    other = ServedApp(silent.app(), cert=private_ca).start()
    try:
        acme = make_network(tmp_path, ["Acme"])["Acme"]
        settings = acme.settings.model_copy(
            update={"outbound_ca_bundle": private_ca.cert_path, "allow_plain_http": True, "admin_port": 0}
        )
        peers = FilePeerDirectory(settings.home / PEERS_FILE)
        peers.save(PeerCredentials(peer.url, *RECEIVER_CLIENT, published_events=3))
        peers.save(PeerCredentials(other.url.replace("127.0.0.1", "localhost"), *RECEIVER_CLIENT))
        async with serving(settings.model_copy(update={"http_port": 0}), nats_server.url) as served:
            supply = SupplyService.attach(served.node, policy="auto")
            supply.add_product(parse_inventory(steel_inventory()))
            declared = await supply.declare(STEEL)
            event = await asyncio.to_thread(subscribed.wait_for, lambda e: e["body"]["type"] == PUBLISHED_V3)
            source = served.listeners.pact_url
    finally:
        peer.stop()
        other.stop()
    assert event["path"] == "/3/events"
    assert event["body"]["data"] == {"pfIds": [declared.footprint_id]}
    assert event["body"]["source"] == source
    assert event["authorization"].startswith("Bearer receiver-token-")
    assert silent.events == [] and silent.calls == 0


def test_an_unreadable_ca_bundle_is_a_config_error_naming_the_setting(tmp_path: Path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"^outbound_ca_bundle .*ca\.pem: not a readable PEM CA bundle"):
        outbound_verify(bundle)


def test_without_a_bundle_outbound_https_trusts_the_system_and_with_one_also_it(tmp_path: Path):
    private_ca = make_dev_certificate(tmp_path / "tls")
    assert outbound_verify(None) is True
    context = outbound_verify(private_ca.cert_path)
    assert isinstance(context, ssl.SSLContext)
    assert context.cert_store_stats()["x509_ca"] >= 1
