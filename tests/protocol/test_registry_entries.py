"""The trust registry split for scale: operator-signed entries, a signed root with an RFC 6962 tree head and
the DIDs each version changed, and a node's view that takes only newer roots and refuses stale entries."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime

import pytest
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.errors import RegistryConflictError, RegistryError
from pcfx.protocol.keys import generate_signing_key, public_multikey
from pcfx.protocol.registry import RegistryEntry, RegistryKey, Role, TrustRegistry
from pcfx.protocol.registry_entries import (
    MerkleTree,
    RegistryView,
    apply_delta,
    entry_leaf,
    export_registry,
    split_registry,
    verify_entry,
    verify_inclusion,
    verify_root,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OPERATOR = generate_signing_key()
OPERATOR_DID = did_key(OPERATOR)
VM = did_key_verification_method(OPERATOR)


def _entry(n: int, name: str = "Company") -> RegistryEntry:
    did = f"did:web:c{n:05d}.example"
    return RegistryEntry(
        did=did,
        legal_name=f"{name} {n}",
        company_ids=[f"urn:pcfx:uscc:9111000060{n:07d}L"],
        roles=[Role.SUPPLIER],
        keys=[
            RegistryKey(
                id=f"{did}#key-1",
                public_key_multibase=public_multikey(generate_signing_key()),
                valid_from=NOW,
            )
        ],
    )


def _registry(version: int, entries: list[RegistryEntry]) -> TrustRegistry:
    return TrustRegistry(version=version, issued=NOW, operator=OPERATOR_DID, entries=entries)


def _split(registry: TrustRegistry, previous: TrustRegistry | None = None) -> tuple[dict[str, dict], dict]:
    return split_registry(registry, key=OPERATOR, verification_method=VM, created=NOW, previous=previous)


def _tree(entries: dict[str, dict]) -> MerkleTree:
    return MerkleTree([entry_leaf(verify_entry(entries[d], OPERATOR.public_key()).entry) for d in entries])


def _rfc6962_head(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, recursively, as written there."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc6962_head(leaves[:k]) + _rfc6962_head(leaves[k:])).digest()


@pytest.mark.parametrize("size", range(1, 34))
def test_the_tree_head_is_rfc_6962s(size: int) -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(size)]
    assert MerkleTree(leaves).head == _rfc6962_head(leaves).hex()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13, 33])
def test_every_leafs_inclusion_proof_verifies_and_no_other_leaf_or_index_does(size: int) -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(size)]
    tree = MerkleTree(leaves)
    for index, leaf in enumerate(leaves):
        proof = tree.proof(index)
        assert verify_inclusion(leaf, index, size, proof, tree.head)
        assert not verify_inclusion(hashlib.sha256(b"other").digest(), index, size, proof, tree.head)
        if size > 1:
            assert not verify_inclusion(leaf, (index + 1) % size, size, proof, tree.head)


def test_a_first_split_signs_every_entry_and_names_every_did_as_changed() -> None:
    entries, root_doc = _split(_registry(1, [_entry(2), _entry(1)]))
    root = verify_root(root_doc, OPERATOR.public_key())
    assert root.version == 1 and root.entries == 2
    assert list(root.changed) == sorted(entries) == list(entries)  # DID order
    assert root.tree_head == _tree(entries).head
    assert {verify_entry(doc, OPERATOR.public_key()).registry_version for doc in entries.values()} == {1}


def test_the_next_version_signs_and_names_only_what_changed() -> None:
    companies = [_entry(n) for n in range(1, 5)]
    v1 = _registry(1, companies)
    renamed = companies[2].model_copy(update={"legal_name": "Renamed Co."})
    signed, root_doc = _split(_registry(2, [companies[0], companies[1], renamed]), previous=v1)
    root = verify_root(root_doc, OPERATOR.public_key())
    assert root.changed == (renamed.did,) and root.removed == (companies[3].did,)
    assert list(signed) == [renamed.did]
    assert verify_entry(signed[renamed.did], OPERATOR.public_key()).registry_version == 2


def test_a_node_holding_v1_applies_the_delta_and_holds_exactly_the_operators_v2() -> None:
    companies = [_entry(n) for n in range(1, 6)]
    v1 = _registry(1, companies)
    revoked_key = companies[1].keys[0].model_copy(update={"revoked_at": NOW})
    v2 = _registry(2, [companies[0], companies[1].model_copy(update={"keys": [revoked_key]}), *companies[3:]])
    signed, root_doc = _split(v2, previous=v1)
    held = apply_delta(v1, root_doc, signed.values(), OPERATOR.public_key())
    assert held.content() == _registry(2, sorted(v2.entries, key=lambda e: e.did)).content()
    revoked = held.entry(companies[1].did)
    assert revoked is not None and revoked.keys[0].revoked_at == NOW
    assert held.entry(companies[2].did) is None


def test_a_delta_missing_a_changed_entry_or_carrying_an_unnamed_one_is_refused() -> None:
    companies = [_entry(n) for n in range(1, 4)]
    v1 = _registry(1, companies)
    renamed = companies[0].model_copy(update={"legal_name": "Renamed Co."})
    signed, root_doc = _split(_registry(2, [renamed, *companies[1:]]), previous=v1)
    with pytest.raises(RegistryError, match="lacks the entries it changed"):
        apply_delta(v1, root_doc, [], OPERATOR.public_key())
    also = companies[1].model_copy(update={"legal_name": "Also Renamed"})
    other, _ = _split(_registry(2, [companies[0], also, companies[2]]), previous=v1)
    with pytest.raises(RegistryError, match="is not a change of v2"):
        apply_delta(v1, root_doc, [*signed.values(), *other.values()], OPERATOR.public_key())


def test_a_delta_applied_to_another_version_than_the_operators_is_refused_by_its_tree_head() -> None:
    companies = [_entry(n) for n in range(1, 4)]
    v1 = _registry(1, companies)
    renamed = companies[0].model_copy(update={"legal_name": "Renamed Co."})
    signed, root_doc = _split(_registry(2, [renamed, *companies[1:]]), previous=v1)
    tampered = companies[1].model_copy(update={"legal_name": "Tampered"})
    diverged = _registry(1, [companies[0], tampered, companies[2]])
    with pytest.raises(RegistryError, match="is not the operator's"):
        apply_delta(diverged, root_doc, signed.values(), OPERATOR.public_key())
    with pytest.raises(RegistryError, match="does not follow v2"):
        apply_delta(_registry(2, companies), root_doc, signed.values(), OPERATOR.public_key())


def test_the_export_is_the_single_document_registry_of_the_same_entries() -> None:
    registry = _registry(3, [_entry(n) for n in range(1, 4)])
    entries, root_doc = _split(registry)
    signed = [verify_entry(doc, OPERATOR.public_key()) for doc in entries.values()]
    exported = export_registry(signed, verify_root(root_doc, OPERATOR.public_key()))
    assert exported.content() == _registry(3, sorted(registry.entries, key=lambda e: e.did)).content()


def test_an_edited_entry_or_root_fails_its_signature() -> None:
    entries, root_doc = _split(_registry(1, [_entry(1)]))
    doc = copy.deepcopy(next(iter(entries.values())))
    doc["entry"]["legalName"] = "Someone Else"
    with pytest.raises(RegistryError, match="signature does not verify"):
        verify_entry(doc, OPERATOR.public_key())
    edited = {**root_doc, "entries": 99}
    with pytest.raises(RegistryError, match="signature does not verify"):
        verify_root(edited, OPERATOR.public_key())


def test_an_entry_signed_by_another_key_is_refused_with_the_pinned_operator_key() -> None:
    entries, _ = _split(_registry(1, [_entry(1)]))
    with pytest.raises(RegistryError, match="signature does not verify"):
        verify_entry(next(iter(entries.values())), generate_signing_key().public_key())


def _view_at_v1(count: int = 5) -> tuple[RegistryView, list[RegistryEntry], dict[str, dict]]:
    companies = [_entry(n) for n in range(1, count + 1)]
    entries, root = _split(_registry(1, companies))
    view = RegistryView.pinned(OPERATOR.public_key())
    view.apply_root(root)
    return view, companies, entries


def test_a_node_that_started_at_a_root_takes_an_entry_only_with_its_inclusion_proof() -> None:
    companies = [_entry(n) for n in range(1, 6)]
    renamed = companies[0].model_copy(update={"legal_name": "Renamed Co."})
    v2_registry = _registry(2, [renamed, *companies[1:]])
    _, root2 = _split(v2_registry, previous=_registry(1, companies))
    served, _ = _split(v2_registry)  # every entry of v2 signed (what a store of entries serves)
    view = RegistryView.pinned(OPERATOR.public_key())
    view.apply_root(root2)  # this node starts at v2: it never saw when companies[2] last changed
    order, tree, did = list(served), _tree(served), companies[2].did
    with pytest.raises(RegistryError, match="not proven in root v2"):
        view.accept_entry(served[did])
    index = order.index(did)
    with pytest.raises(RegistryError, match="not proven in root v2"):
        view.accept_entry(served[did], index=(index + 1) % len(order), proof=tree.proof(index))
    view.accept_entry(served[did], index=index, proof=tree.proof(index))
    assert view.entry(did) == companies[2]


def test_a_root_naming_a_did_drops_its_cached_entry_and_refuses_the_old_one_replayed() -> None:
    view, companies, v1 = _view_at_v1()
    did = companies[0].did
    view.accept_entry(v1[did])  # v1 named every DID: no proof needed
    revoked_key = companies[0].keys[0].model_copy(update={"revoked_at": NOW})
    revoked = companies[0].model_copy(update={"keys": [revoked_key]})
    v2, root2 = _split(_registry(2, [revoked, *companies[1:]]), previous=_registry(1, companies))
    assert view.apply_root(root2) == [did]
    assert view.entry(did) is None  # stale: fetched again before use
    with pytest.raises(RegistryError, match="is from v1, but v2 changed it: stale"):
        view.accept_entry(v1[did])
    assert view.accept_entry(v2[did]).entry.keys[0].revoked_at == NOW  # no proof needed: v2 named it


def test_roots_only_go_up_one_version_at_a_time() -> None:
    view, companies, _ = _view_at_v1()
    v1, v2 = _registry(1, companies), _registry(2, companies[:-1])
    assert view.apply_root(_split(v1)[1]) == []  # the same version again, same content: nothing to do
    _, root2 = _split(v2, previous=v1)
    _, root3 = _split(_registry(3, companies[:-2]), previous=v2)
    with pytest.raises(RegistryError, match="registry root v3 after v1"):
        view.apply_root(root3)
    view.apply_root(root2)
    assert view.apply_root(_split(v1)[1]) == []  # older: ignored
    _, other2 = _split(_registry(2, companies[:-3]), previous=v1)
    with pytest.raises(RegistryConflictError, match="two different registry roots claim version 2"):
        view.apply_root(other2)


def test_an_entry_of_a_removed_company_is_refused() -> None:
    view, companies, v1 = _view_at_v1()
    _, root2 = _split(_registry(2, companies[:-1]), previous=_registry(1, companies))
    view.apply_root(root2)
    with pytest.raises(RegistryError):
        view.accept_entry(v1[companies[-1].did])


def test_a_registry_taken_from_a_delta_is_the_same_version_as_the_operators_document() -> None:
    from pcfx.protocol.registry import newer

    companies = [_entry(3), _entry(1), _entry(2)]  # the operator's document lists them as they joined
    v1 = _registry(1, companies)
    v2 = _registry(2, [*companies, _entry(4)])
    signed, root_doc = _split(v2, previous=v1)
    held = apply_delta(v1, root_doc, signed.values(), OPERATOR.public_key())
    assert [e.did for e in held.entries] != [e.did for e in v2.entries]  # by DID, not by joining order
    assert newer(v2, held) is False  # the same version, not a conflict
