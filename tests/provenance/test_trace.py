"""The supply-chain provenance tree (`pcfx.node.provenance.build_trace`) on real nodes, real signatures and
real stores: cathode copper -> LFP pack -> handset (`trace_kit`). Each node of the tree is a declaration this
viewer verified now (signature, signer in the trust registry, status lists) with its own declared value,
primary data share and DQR; its children are what its signed accounting extension says its inputs used. An
input on a default factor ends its branch (with the reason, where this node made the calculation); a tier
sealed to another buyer is shown to exist, with its issuer, never with its values."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from node_kit import Company
from pcfx.node.config import load_settings
from pcfx.node.issuing import Issuer
from pcfx.node.provenance import DeclarationRef, TraceNode, build_trace
from pcfx.node.provenance.bus import BusFetcher, bus_fetcher
from pcfx.node.service import Node
from pcfx.protocol.accounting import AccountingFacts, attach_accounting
from pcfx.protocol.declaration import declaration_id
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.pact.v3 import dump_footprint, parse_footprint
from pcfx.protocol.registry import RegistryEntry, TrustRegistry
from sqlmodel import Session
from trace_kit import AUDITOR, BATTERY, COPPER, HANDSET, Chain, store


def pcf(raw: bytes) -> dict[str, Any]:
    """The signed `pcf` object of a declaration."""
    return json.loads(raw)["credentialSubject"]["pcf"]


def child(node: TraceNode, input_name: str) -> TraceNode:
    """The child of `node` standing for the input `input_name`."""
    (found,) = [c for c in node.children if c.link is not None and c.link.input == input_name]
    return found


def trace(chain: Chain, company: str, key: str, **options: Any) -> TraceNode:
    """The tree of declaration `key` as `company`'s node builds it from its store."""
    settings = chain.settings(company)
    with store(settings) as session:
        return build_trace(session, settings, chain.declared[key].declaration_id, **options)


async def trace_over_bus(chain: Chain, company: str, declaration: str | bytes) -> TraceNode:
    """The tree as `company`'s node builds it with the bus fetcher on the chain's nats-server."""
    settings = chain.settings(company)
    async with bus_fetcher(settings, chain.url) as fetcher:
        fetch = fetcher.blocking(asyncio.get_running_loop())

        def work() -> TraceNode:
            with store(settings) as session:
                return build_trace(session, settings, declaration, fetch=fetch)

        return await asyncio.to_thread(work)


# A tree of verified tiers --------------------------------------------------------------------------------
def test_a_three_tier_tree_shows_each_supplier_declaration_verified_with_its_own_values(public_chain):
    chain = public_chain
    handset = trace(chain, HANDSET, "H1")
    battery = child(handset, "final_assembly/battery")
    copper = child(battery, "pack_assembly/busbars")

    for node, company, key in ((handset, HANDSET, "H1"), (battery, BATTERY, "B1"), (copper, COPPER, "C1")):
        raw = chain.raw(HANDSET, key)
        declared = pcf(raw)
        assert node.kind == "declaration" and node.verified, node.verification
        assert node.declaration_id == chain.declared[key].declaration_id
        assert (node.issuer, node.company_name, node.registered) == (
            chain.net[company].did,
            f"Demo {company} Co.",
            True,
        )
        assert node.value == declared["pcfExcludingBiogenicUptake"]
        assert (
            node.unit == f"kg CO2e / {declared['declaredUnitAmount']} {declared['declaredUnitOfMeasurement']}"
        )
        assert node.primary_data_share == declared["primaryDataShare"]
        assert node.dqr == {
            "technological": declared["dqi"]["technologicalDQR"],
            "geographical": declared["dqi"]["geographicalDQR"],
            "temporal": declared["dqi"]["temporalDQR"],
        }
        assert node.verification is not None and node.verification.registry_version == 1
    assert (handset.origin, battery.origin, copper.origin) == ("own", "received", "received")
    assert handset.link is None and handset.product_id == chain.products[HANDSET]
    # The tier above names the supplier declaration in its signed footprint; the own tier also kept the
    # supplier it resolved and the receipt the value was used on.
    assert battery.link is not None and battery.link.referenced_by == handset.declaration_id
    assert battery.link.declaration_id == battery.declaration_id
    assert battery.link.issuer == chain.net[BATTERY].did
    assert battery.link.receipt is not None and battery.link.receipt.registry_version == "1"
    assert battery.receipt is not None and battery.receipt.ok  # stored when the node received it
    assert copper.link is not None and copper.link.referenced_by == battery.declaration_id
    assert copper.link.issuer is None and copper.link.receipt is None  # a received tier says only the id
    # The handset maker also buys copper directly: the same declaration, verified on that branch too.
    assert child(handset, "final_assembly/copper").declaration_id == copper.declaration_id
    assert handset.summary()["verified"] == 4 and handset.summary()["failed"] == 0


def test_an_input_on_a_default_factor_ends_its_branch_and_says_why(public_chain):
    handset = trace(public_chain, HANDSET, "H1")

    processor = child(handset, "smt/application processor")
    pcb = child(handset, "smt/pcb")
    battery = child(handset, "final_assembly/battery")
    cam = child(battery, "electrode_line/cathode active material")

    assert processor.kind == "default-factor" and processor.children == ()
    assert processor.link is not None and processor.link.default_factor_id == "demo-application-processor"
    assert processor.link.reason == "company urn:pcfx:uscc:91310000PCFXD00193 is not in trust registry v1"
    assert pcb.link is not None and pcb.link.reason == "the inventory names no supplier for this input"
    # A supplier's signed declaration names the default factor, not why: the tree does not invent a reason.
    assert cam.kind == "default-factor" and cam.link is not None
    assert (cam.link.default_factor_id, cam.link.reason) == ("demo-lfp-cam", None)
    assert cam.link.referenced_by == battery.declaration_id


async def test_a_viewer_that_stores_nothing_fetches_each_tier_from_the_bus_and_verifies_it(public_chain):
    chain = public_chain

    handset = await trace_over_bus(chain, AUDITOR, chain.declared["H1"].declaration_id)

    battery = child(handset, "final_assembly/battery")
    copper = child(battery, "pack_assembly/busbars")
    for node, key in ((handset, "H1"), (battery, "B1"), (copper, "C1")):
        assert node.declaration_id == chain.declared[key].declaration_id
        assert (node.kind, node.origin, node.source) == ("declaration", "fetched", "stream")
        assert node.verified, node.verification  # with the issuer's status lists fetched alongside
        assert node.value == pcf(chain.raw(HANDSET, key))["pcfExcludingBiogenicUptake"]


async def test_a_running_node_fetches_over_its_own_connection(public_chain):
    chain = public_chain
    settings = chain.settings(AUDITOR)
    node = await Node.start(settings, nats_url=chain.url, serve_requests=False, consume=False)
    try:
        fetch = BusFetcher.for_node(node).blocking(asyncio.get_running_loop())

        def work() -> TraceNode:
            with Session(node.engine) as session:
                return build_trace(session, settings, chain.declared["B1"].declaration_id, fetch=fetch)

        battery = await asyncio.to_thread(work)
    finally:
        await node.stop()

    assert battery.verified and battery.origin == "fetched"
    assert child(battery, "pack_assembly/busbars").verified


# Failed verification ---------------------------------------------------------------------------------------
def test_a_declaration_edited_after_signing_is_shown_as_failed_with_the_reason(public_chain):
    chain = public_chain
    edited = chain.raw(HANDSET, "H1").replace(
        b'"pcfExcludingBiogenicUptake":"', b'"pcfExcludingBiogenicUptake":"1'
    )
    settings = chain.settings(HANDSET)

    with store(settings) as session:
        tree = build_trace(session, settings, edited)

    assert tree.origin == "file" and not tree.verified
    assert tree.verification is not None and tree.verification.reason == "bad signature"
    assert tree.value == "1" + pcf(chain.raw(HANDSET, "H1"))["pcfExcludingBiogenicUptake"]  # as claimed
    assert child(tree, "final_assembly/battery").verified  # each tier is verified on its own


def test_a_declaration_by_a_signer_the_registry_does_not_know_fails_as_unknown_issuer(public_chain):
    chain = public_chain
    footprint = json.loads(chain.raw(HANDSET, "H1"))["credentialSubject"]
    key = generate_signing_key()
    forger = Issuer("did:web:forger.example", "did:web:forger.example#key-1", key)
    forged = forger.sign({**footprint, "id": str(uuid.uuid4())}, status_index=0)
    settings = chain.settings(HANDSET)

    with store(settings) as session:
        tree = build_trace(session, settings, forged)

    assert tree.verification is not None and tree.verification.reason == "unknown issuer"
    assert (tree.issuer, tree.registered) == ("did:web:forger.example", False)
    assert tree.company_name == footprint["companyName"]  # only what it claims


def test_a_supplier_the_registry_revoked_fails_while_the_other_tiers_verify(public_chain):
    chain = public_chain
    registry = TrustRegistry.model_validate(chain.net.registry)
    since = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    revoked = [
        RegistryEntry.model_validate({**e.model_dump(mode="json"), "revokedAt": since})
        if e.did == chain.net[BATTERY].did
        else e
        for e in registry.entries
    ]
    newer = TrustRegistry(version=2, issued=registry.issued, operator=registry.operator, entries=revoked)

    handset = trace(chain, HANDSET, "H1", registry=newer)

    battery = child(handset, "final_assembly/battery")
    assert handset.verified and child(battery, "pack_assembly/busbars").verified
    assert battery.verification is not None and battery.verification.reason == "issuer revoked"
    assert handset.summary()["failed"] == 1


# Restricted tiers ----------------------------------------------------------------------------------------
async def test_a_tier_sealed_to_another_buyer_shows_that_it_exists_and_who_issued_it_never_its_values(
    sealed_chain,
):
    chain = sealed_chain
    sealed_c1 = chain.declared["C1"].declaration_id

    handset = await trace_over_bus(chain, HANDSET, chain.declared["H1"].declaration_id)

    battery = child(handset, "final_assembly/battery")
    copper = child(battery, "pack_assembly/busbars")
    assert battery.verified
    assert copper.kind == "restricted" and copper.declaration_id == sealed_c1
    assert (copper.issuer, copper.company_name) == (chain.net[COPPER].did, "Demo Copper Co.")
    assert copper.restricted_to == (chain.net[BATTERY].did,)
    assert copper.link is not None and copper.link.referenced_by == battery.declaration_id
    assert copper.link.referenced_by_verified is True  # the tier above that names it verified
    assert (copper.value, copper.unit, copper.primary_data_share, copper.dqr, copper.product_id) == (
        None,
    ) * 5
    assert copper.verification is None and copper.children == ()
    shown = json.dumps(handset.to_dict())
    values = pcf(chain.raw(BATTERY, "C1"))
    assert values["pcfExcludingBiogenicUptake"] not in shown
    assert json.loads(chain.raw(BATTERY, "C1"))["credentialSubject"]["productNameCompany"] not in shown
    # The handset maker never received the copper declaration: its own copper input is on its default.
    own_copper = child(handset, "final_assembly/copper")
    assert own_copper.kind == "default-factor" and own_copper.link is not None
    assert (
        own_copper.link.reason
        == f"no verified declaration of {chain.products[COPPER]} received from the supplier"
    )


def test_without_a_bus_a_tier_the_store_lacks_is_unavailable_and_the_buyer_it_was_sealed_to_sees_it(
    sealed_chain,
):
    chain = sealed_chain

    from_handset = child(
        child(trace(chain, HANDSET, "H1"), "final_assembly/battery"), "pack_assembly/busbars"
    )
    from_battery = child(trace(chain, BATTERY, "B1"), "pack_assembly/busbars")

    assert from_handset.kind == "unavailable" and from_handset.value is None
    assert from_handset.declaration_id == chain.declared["C1"].declaration_id
    assert from_handset.issuer is None  # the signed reference names the id only
    assert from_battery.kind == "declaration" and from_battery.verified
    assert from_battery.issuer == chain.net[COPPER].did


def test_shown_to_another_company_a_declaration_sealed_to_this_node_is_restricted(sealed_chain):
    chain = sealed_chain

    battery = trace(chain, BATTERY, "B1", viewer=chain.net[HANDSET].did)

    copper = child(battery, "pack_assembly/busbars")
    assert battery.verified
    assert copper.kind == "restricted" and copper.value is None
    assert copper.issuer == chain.net[COPPER].did and copper.restricted_to == (chain.net[BATTERY].did,)


async def test_a_copy_sealed_to_this_node_is_opened_with_its_key_verified_and_kept_from_other_viewers(
    sealed_chain, tmp_path
):
    chain = sealed_chain
    # the battery maker's node on an empty store: the sealed copy is on the bus only
    settings = load_settings(chain.settings(BATTERY).home, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    sealed_c1 = chain.declared["C1"].declaration_id
    async with bus_fetcher(settings, chain.url) as fetcher:
        fetch = fetcher.blocking(asyncio.get_running_loop())

        def work(viewer: str | None) -> TraceNode:
            with store(settings) as session:
                return build_trace(session, settings, sealed_c1, fetch=fetch, viewer=viewer)

        opened = await asyncio.to_thread(work, None)
        shown_to_handset = await asyncio.to_thread(work, chain.net[HANDSET].did)

    assert (opened.kind, opened.origin, opened.source) == (
        "declaration",
        "fetched",
        "stream (sealed to this node)",
    )
    assert opened.verified and opened.value == pcf(chain.raw(BATTERY, "C1"))["pcfExcludingBiogenicUptake"]
    assert shown_to_handset.kind == "restricted" and shown_to_handset.value is None
    assert shown_to_handset.issuer == chain.net[COPPER].did


# Bounds ------------------------------------------------------------------------------------------------------
def test_the_depth_of_a_trace_is_bounded(public_chain):
    handset = trace(public_chain, HANDSET, "H1", max_depth=1)

    battery = child(handset, "final_assembly/battery")
    below = child(battery, "pack_assembly/busbars")
    assert battery.verified
    assert below.kind == "depth-limit" and below.children == () and below.value is None
    assert below.declaration_id == public_chain.declared["C1"].declaration_id


def _referencing(company: Company, footprint_id: str, other_id: str) -> bytes:
    """A signed declaration of `company` whose one input used the declaration `other_id`."""
    footprint = company.footprint("widget", created=datetime.now(UTC) - timedelta(minutes=1))
    footprint["id"] = footprint_id
    facts = AccountingFacts.model_validate(
        {
            "ruleSet": {"id": "demo", "version": "1"},
            "gwpSet": "AR6",
            "primaryDataShareMethod": "PACT",
            "electricityMethod": "location-based",
            "allocationMethod": "none-required",
            "dataSources": [
                {
                    "input": "p/part",
                    "sourceKind": "supplier-declaration",
                    "supplierDeclarationId": other_id,
                    "share": "1",
                }
            ],
        }
    )
    signed = attach_accounting(parse_footprint(footprint), facts)
    return company.issuer.sign(dump_footprint(signed), status_index=0)


def test_a_cycle_of_references_ends_where_it_closes(public_chain):
    auditor = public_chain.net[AUDITOR]
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    a_id, b_id = (declaration_id({"issuer": auditor.did, "credentialSubject": {"id": i}}) for i in ids)
    a, b = _referencing(auditor, ids[0], b_id), _referencing(auditor, ids[1], a_id)
    settings = auditor.settings
    served: list[str] = []

    def fetch(ref: DeclarationRef) -> bytes | None:
        served.append(ref.declaration_id)
        return {a_id: a, b_id: b}.get(ref.declaration_id)

    with store(settings) as session:
        auditor.issuer.ensure_lists(session)
        tree = build_trace(session, settings, a, fetch=fetch)

    (b_node,) = tree.children
    (closed,) = b_node.children
    assert tree.verified and b_node.verified and b_node.origin == "fetched"
    assert closed.kind == "cycle" and closed.declaration_id == a_id and closed.children == ()
    assert served == [b_id]
