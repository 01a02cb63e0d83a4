"""verify_declaration rule by rule where the reason alone does not say enough: the status check's details
and boundaries, `verify_or_raise` passing every option through, and member names taken literally."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.declaration import build_declaration, declaration_bytes, sign_declaration
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.errors import FailureReason, VerificationError
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.status import StatusList
from pcfx.protocol.verify import VerificationResult, verify_declaration, verify_or_raise
from pcfx_network import NOW, STATUS_BASE, Network, sample_footprint
from status_kit import SUPPLIER_ID, URLS, lookup, signed_list


@pytest.fixture
def net() -> Network:
    return Network([SUPPLIER_ID])


@pytest.fixture
def footprint(reference: Path) -> dict[str, Any]:
    return sample_footprint(reference, [SUPPLIER_ID])


@pytest.fixture
def declaration(net: Network, footprint: dict[str, Any]) -> dict[str, Any]:
    return net.declare(footprint, index=7)


@pytest.fixture
def clear(net: Network) -> dict[str, StatusList]:
    return lookup(net, signed_list(net, "revocation"), signed_list(net, "message"))


def with_status(
    net: Network, doc: dict[str, Any], status: dict[str, StatusList], **kwargs: Any
) -> VerificationResult:
    return verify_declaration(doc, registry=net.registry(), status=status, now=kwargs.pop("now", NOW))


def did_key_declaration(footprint: dict[str, Any]) -> dict[str, Any]:
    key = generate_signing_key()
    doc = build_declaration(
        footprint,
        issuer=did_key(key),
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=1),
        status_list_url=STATUS_BASE,
        status_index=0,
    )
    return sign_declaration(
        doc, key=key, verification_method=did_key_verification_method(key), created=NOW - timedelta(hours=1)
    )


# status


def test_a_missing_status_list_is_named(net: Network, declaration: dict[str, Any]) -> None:
    result = with_status(net, declaration, lookup(net, signed_list(net, "revocation")))
    assert (result.reason, result.detail) == (
        FailureReason.STATUS_UNAVAILABLE,
        f"no status list {URLS['message']}",
    )


def test_a_list_of_the_wrong_purpose_is_named_with_what_was_needed(
    net: Network, declaration: dict[str, Any]
) -> None:
    swapped = lookup(net, signed_list(net, "message", url=URLS["revocation"]))
    result = with_status(net, declaration, swapped)
    assert (result.reason, result.detail) == (
        FailureReason.STATUS_UNAVAILABLE,
        f"status list {URLS['revocation']} is a message list of {net.supplier.did}, "
        f"need revocation of {net.supplier.did}",
    )


def test_a_status_list_is_stale_from_its_valid_until_on(net: Network, declaration: dict[str, Any]) -> None:
    until = NOW + timedelta(hours=1)
    status = lookup(net, signed_list(net, "revocation", valid_until=until), signed_list(net, "message"))
    assert with_status(net, declaration, status, now=until - timedelta(seconds=1)).ok
    result = with_status(net, declaration, status, now=until)
    assert (result.reason, result.detail) == (
        FailureReason.STATUS_UNAVAILABLE,
        f"status list {URLS['revocation']} is stale",
    )


def test_an_index_outside_the_published_list_is_status_unavailable(
    net: Network, declaration: dict[str, Any], clear: dict[str, StatusList]
) -> None:
    unsigned = {k: v for k, v in declaration.items() if k != "proof"}
    unsigned["credentialStatus"] = [
        {**entry, "id": f"{entry['statusListCredential']}#200000", "statusListIndex": "200000"}
        for entry in declaration["credentialStatus"]
    ]
    far = sign_declaration(
        unsigned, key=net.supplier.key, verification_method=net.supplier.vm, created=NOW - timedelta(days=1)
    )
    result = with_status(net, far, clear)
    assert (result.reason, result.detail) == (
        FailureReason.STATUS_UNAVAILABLE,
        f"index 200000 outside the list {URLS['revocation']}",
    )


def test_a_revoked_declaration_names_its_status_entry(net: Network, declaration: dict[str, Any]) -> None:
    status = lookup(net, signed_list(net, "revocation", (7,)), signed_list(net, "message"))
    result = with_status(net, declaration, status)
    assert (result.reason, result.detail) == (
        FailureReason.REVOKED,
        f"revoked by its issuer ({URLS['revocation']}#7)",
    )


# verify_or_raise


def test_verify_or_raise_refuses_a_did_key_issuer_unless_allowed(
    footprint: dict[str, Any], net: Network
) -> None:
    doc = did_key_declaration(footprint)
    with pytest.raises(VerificationError) as caught:
        verify_or_raise(doc, registry=net.registry(), now=NOW)
    assert (caught.value.reason, caught.value.detail) == (
        FailureReason.UNKNOWN_ISSUER,
        f"{doc['issuer']} is not in trust registry v1",
    )


def test_verify_or_raise_accepts_a_did_key_issuer_when_allowed(footprint: dict[str, Any]) -> None:
    doc = did_key_declaration(footprint)
    result = verify_or_raise(doc, registry=None, now=NOW, allow_did_key=True)
    assert (result.ok, result.issuer, result.registry_version) == (True, doc["issuer"], None)


def test_verify_or_raise_checks_the_status_it_is_given(net: Network, declaration: dict[str, Any]) -> None:
    status = lookup(net, signed_list(net, "revocation"), signed_list(net, "message", (7,)))
    with pytest.raises(VerificationError) as caught:
        verify_or_raise(declaration, registry=net.registry(), status=status, now=NOW)
    assert caught.value.reason is FailureReason.DEPRECATED


def test_verify_or_raise_judges_at_the_time_it_is_given(net: Network, declaration: dict[str, Any]) -> None:
    result = verify_or_raise(declaration, registry=net.registry(), now=NOW)
    assert result.checked_at == NOW


# member names


def test_a_member_named_PROOF_is_not_a_proof(net: Network, declaration: dict[str, Any]) -> None:
    wire = declaration_bytes(declaration).replace(b'"proof":', b'"PROOF":', 1)
    result = verify_declaration(wire, registry=net.registry(), now=NOW)
    assert (result.reason, result.detail) == (
        FailureReason.MALFORMED,
        "a declaration has exactly one issuer proof (one without previousProof), found 0",
    )
