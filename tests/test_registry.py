"""Trust registry: model rules, operator signature, monotonic versions, key lookups."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.did import did_key_verification_method
from pcfx.protocol.errors import FailureReason, RegistryConflictError, RegistryError, VerificationError
from pcfx.protocol.keys import generate_signing_key, public_multikey
from pcfx.protocol.registry import (
    RegistryEntry,
    RegistryKey,
    Role,
    TrustRegistry,
    check_key_window,
    lookup_key,
    newer,
    sign_registry,
    uscc_urn,
    verify_registry,
)
from pcfx_network import NOW, Network
from pydantic import ValidationError


@pytest.fixture
def net() -> Network:
    return Network()


def key(
    fragment: str = "key-1",
    did: str = "did:web:acme.example",
    *,
    valid_from: datetime = NOW,
    valid_until: datetime | None = None,
    revoked_at: datetime | None = None,
) -> RegistryKey:
    return RegistryKey(
        id=f"{did}#{fragment}",
        public_key_multibase=public_multikey(generate_signing_key()),
        valid_from=valid_from,
        valid_until=valid_until,
        revoked_at=revoked_at,
    )


def entry(
    did: str = "did:web:acme.example", company_ids: list[str] | None = None, **kwargs: object
) -> RegistryEntry:
    return RegistryEntry(
        did=did,
        legal_name="Acme Materials Co., Ltd.",
        company_ids=company_ids or ["urn:pcfx:uscc:91110000600037341L"],
        roles=kwargs.pop("roles", [Role.SUPPLIER]),  # type: ignore[arg-type]
        keys=kwargs.pop("keys", [key(did=did)]),  # type: ignore[arg-type]
    )


def test_uscc_urn() -> None:
    assert uscc_urn("91110000600037341l") == "urn:pcfx:uscc:91110000600037341L"


@pytest.mark.parametrize("code", ["9111000060003734", "91110000600037341I", "91110000600037341O"])
def test_uscc_urn_refuses_malformed_codes(code: str) -> None:
    with pytest.raises(ValueError) as caught:
        uscc_urn(code)
    assert str(caught.value) == (
        f"not a unified social credit code (18 characters, GB 32100 alphabet): {code!r}"
    )


def test_signed_registry_verifies_with_the_operator_key(net: Network) -> None:
    registry = verify_registry(net.registry_doc(), net.operator_key.public_key())
    assert (registry.version, registry.operator) == (1, net.operator)
    assert [e.did for e in registry.entries] == ["did:web:supplier.example", "did:web:verifier.example"]


def test_registry_verifies_from_bytes_and_with_multikey_operator_key(net: Network) -> None:
    raw = json.dumps(net.registry_doc()).encode()
    assert verify_registry(raw, public_multikey(net.operator_key)).version == 1


def test_registry_wire_form_has_no_nulls_and_camel_case(net: Network) -> None:
    doc = net.registry_doc()
    assert "null" not in json.dumps(doc)
    first = doc["entries"][0]
    assert set(first) == {"did", "legalName", "companyIds", "roles", "keys"}
    assert set(first["keys"][0]) == {"id", "type", "publicKeyMultibase", "validFrom"}


def test_registry_under_another_key_is_refused(net: Network) -> None:
    with pytest.raises(RegistryError, match="does not verify"):
        verify_registry(net.registry_doc(), generate_signing_key().public_key())


def test_tampered_registry_is_refused(net: Network) -> None:
    doc = net.registry_doc()
    doc["entries"][0]["companyIds"].append("urn:pcfx:uscc:91440300MA5FL0000A")
    with pytest.raises(RegistryError):
        verify_registry(doc, net.operator_key.public_key())


def test_registry_signed_by_someone_other_than_its_operator_is_refused(net: Network) -> None:
    other = generate_signing_key()
    registry = TrustRegistry(version=1, issued=NOW, operator=net.operator, entries=[])
    with pytest.raises(RegistryError):
        sign_registry(
            registry, key=other, verification_method=did_key_verification_method(other), created=NOW
        )


def test_unsigned_registry_is_refused(net: Network) -> None:
    doc = net.registry_doc()
    del doc["proof"]
    with pytest.raises(RegistryError, match="exactly one"):
        verify_registry(doc, net.operator_key.public_key())


def test_invalid_registry_content_is_refused_even_when_signed(net: Network) -> None:
    doc = {k: v for k, v in net.registry_doc().items() if k != "proof"}
    doc["version"] = 0
    from pcfx.protocol.proof import add_proof

    signed = add_proof(
        doc,
        key=net.operator_key,
        verification_method=did_key_verification_method(net.operator_key),
        created=NOW,
    )
    with pytest.raises(RegistryError, match="content invalid"):
        verify_registry(signed, net.operator_key.public_key())


def test_duplicate_entry_dids_are_refused() -> None:
    with pytest.raises(ValidationError, match="unique DIDs"):
        TrustRegistry(
            version=1,
            issued=NOW,
            operator="did:web:operator.example",
            entries=[entry(), entry(company_ids=["urn:x:1"])],
        )


def test_company_id_bound_to_two_dids_is_refused() -> None:
    with pytest.raises(ValidationError, match="one DID only"):
        TrustRegistry(
            version=1,
            issued=NOW,
            operator="did:web:operator.example",
            entries=[
                entry(),
                entry(did="did:web:other.example", company_ids=["URN:PCFX:uscc:91110000600037341L"]),
            ],
        )


def test_a_company_id_finds_its_entry_under_urn_equivalence() -> None:
    registry = TrustRegistry(
        version=1,
        issued=NOW,
        operator="did:web:operator.example",
        entries=[entry(), entry(did="did:web:other.example", company_ids=["urn:pcfx:other:1"])],
    )
    found = registry.entry_for_company("URN:PCFX:uscc:91110000600037341L")
    assert found is not None and found.did == entry().did
    assert registry.entry_for_company("urn:pcfx:other:2") is None


def test_key_must_belong_to_the_entry_did() -> None:
    with pytest.raises(ValidationError, match="not a verification method"):
        entry(keys=[key(did="did:web:other.example")])


def test_key_window_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="after validFrom"):
        key(valid_from=NOW, valid_until=NOW - timedelta(days=1))


def test_non_ed25519_key_is_refused() -> None:
    with pytest.raises(ValidationError):
        RegistryKey(
            id="did:web:a.example#k",
            public_key_multibase="z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc",
            valid_from=NOW,
        )


def test_timestamps_are_whole_seconds_utc() -> None:
    k = key(valid_from=datetime(2026, 1, 1, 8, 0, 0, 999, tzinfo=UTC))
    assert k.model_dump(mode="json", exclude_none=True)["validFrom"] == "2026-01-01T08:00:00Z"
    with pytest.raises(ValidationError):
        RegistryKey.model_validate(
            {"id": k.id, "publicKeyMultibase": k.public_key_multibase, "validFrom": "2026-01-01T08:00:00.5Z"}
        )


def test_newer_registry_replaces_older() -> None:
    old = TrustRegistry(version=3, issued=NOW, operator="did:web:operator.example", entries=[entry()])
    new = old.with_entry(
        entry(did="did:web:beta.example", company_ids=["urn:x:2"]), issued=NOW + timedelta(days=1)
    )
    assert new.version == 4
    assert newer(new, old) is True
    assert newer(old, new) is False
    assert newer(old, None) is True


def test_same_version_same_content_is_not_newer() -> None:
    a = TrustRegistry(version=3, issued=NOW, operator="did:web:operator.example", entries=[entry()])
    assert newer(TrustRegistry.model_validate(a.content()), a) is False


def test_same_version_different_content_is_a_conflict() -> None:
    a = TrustRegistry(version=3, issued=NOW, operator="did:web:operator.example", entries=[entry()])
    b = TrustRegistry(
        version=3, issued=NOW + timedelta(seconds=1), operator="did:web:operator.example", entries=[entry()]
    )
    with pytest.raises(RegistryConflictError) as caught:
        newer(b, a)
    assert str(caught.value) == "two different registries claim version 3"


def test_with_entry_replaces_the_entry_of_the_same_did() -> None:
    base = TrustRegistry(version=1, issued=NOW, operator="did:web:operator.example", entries=[entry()])
    updated = base.with_entry(entry(roles=[Role.SUPPLIER, Role.VERIFIER]), issued=NOW)
    assert [e.roles for e in updated.entries] == [[Role.SUPPLIER, Role.VERIFIER]]


def test_signed_content_round_trips_canonically(net: Network) -> None:
    doc = net.registry_doc()
    registry = verify_registry(copy.deepcopy(doc), net.operator_key.public_key())
    assert canonicalize(registry.content()) == canonicalize({k: v for k, v in doc.items() if k != "proof"})


def test_lookup_key_resolves_registered_method(net: Network) -> None:
    found = lookup_key(net.registry(), net.supplier.did, net.supplier.vm, role=Role.SUPPLIER)
    assert found.entry.did == net.supplier.did
    assert public_multikey(net.supplier.key) == found.key.public_key_multibase
    assert len(found.public_key) == 32


@pytest.mark.parametrize(
    ("did", "vm", "role", "reason"),
    [
        ("did:web:nobody.example", "did:web:nobody.example#k", Role.SUPPLIER, FailureReason.UNKNOWN_ISSUER),
        (
            "did:web:supplier.example",
            "did:web:supplier.example#key-1",
            Role.VERIFIER,
            FailureReason.ROLE_NOT_GRANTED,
        ),
        (
            "did:web:supplier.example",
            "did:web:supplier.example#key-2",
            Role.SUPPLIER,
            FailureReason.KEY_NOT_AUTHORISED,
        ),
        (
            "did:web:supplier.example",
            "did:web:verifier.example#key-1",
            Role.SUPPLIER,
            FailureReason.KEY_NOT_AUTHORISED,
        ),
    ],
)
def test_lookup_key_failures(net: Network, did: str, vm: str, role: Role, reason: FailureReason) -> None:
    with pytest.raises(VerificationError) as caught:
        lookup_key(net.registry(), did, vm, role=role)
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    ("did", "vm", "role", "detail"),
    [
        (
            "did:web:nobody.example",
            "did:web:nobody.example#k",
            Role.SUPPLIER,
            "did:web:nobody.example is not in trust registry v1",
        ),
        (
            "did:web:supplier.example",
            "did:web:supplier.example#key-1",
            Role.VERIFIER,
            "did:web:supplier.example does not have the role verifier",
        ),
        (
            "did:web:supplier.example",
            "did:web:verifier.example#key-1",
            Role.SUPPLIER,
            "did:web:verifier.example#key-1 is not a registered key of did:web:supplier.example",
        ),
    ],
    ids=["unknown-issuer", "role-not-granted", "key-not-authorised"],
)
def test_lookup_key_failure_names_the_issuer_and_what_it_lacks(
    net: Network, did: str, vm: str, role: Role, detail: str
) -> None:
    with pytest.raises(VerificationError) as caught:
        lookup_key(net.registry(), did, vm, role=role)
    assert caught.value.detail == detail


@pytest.mark.parametrize(
    ("created", "reason"),
    [
        (NOW - timedelta(days=1), FailureReason.KEY_NOT_YET_VALID),
        (NOW, None),
        (NOW + timedelta(days=9), None),
        (NOW + timedelta(days=10), FailureReason.KEY_REVOKED),
    ],
)
def test_key_window_at_created(created: datetime, reason: FailureReason | None) -> None:
    k = key(valid_from=NOW, valid_until=NOW + timedelta(days=20), revoked_at=NOW + timedelta(days=10))
    if reason is None:
        check_key_window(k, created)
    else:
        with pytest.raises(VerificationError) as caught:
            check_key_window(k, created)
        assert caught.value.reason is reason


def test_an_entry_may_carry_its_nats_account_and_key_agreement_key():
    from pcfx.protocol.keys import generate_key_agreement_key, x25519_multikey
    from pcfx.protocol.registry import AgreementKey

    multikey = x25519_multikey(generate_key_agreement_key())
    made = entry(did="did:web:acme.example").model_copy(
        update={
            "key_agreement": [
                AgreementKey(id=f"did:web:acme.example#{multikey}", public_key_multibase=multikey)
            ],
            "nats_account": "A" + "B" * 55,
        }
    )
    again = RegistryEntry.model_validate(made.model_dump(mode="json", by_alias=True))
    assert again.nats_account == "A" + "B" * 55
    assert again.key_agreement is not None and again.key_agreement[0].public_key_multibase == multikey


def test_a_key_agreement_key_of_another_did_is_refused():
    from pcfx.protocol.keys import generate_key_agreement_key, x25519_multikey

    multikey = x25519_multikey(generate_key_agreement_key())
    data = entry(did="did:web:acme.example").model_dump(mode="json", by_alias=True)
    data["keyAgreement"] = [{"id": f"did:web:evil.example#{multikey}", "publicKeyMultibase": multikey}]
    with pytest.raises(ValidationError, match=r"is not a verification method of did:web:acme\.example"):
        RegistryEntry.model_validate(data)
