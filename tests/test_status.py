"""Bitstring Status List: encoding, signed status list credentials, and revocation / deprecation in verification."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.declaration import sign_declaration
from pcfx.protocol.errors import FailureReason, StatusListError, VerificationError
from pcfx.protocol.multibase import multibase_encode_b64url
from pcfx.protocol.status import (
    MIN_ENTRIES,
    StatusList,
    build_status_list_credential,
    decode_status_list,
    encode_status_list,
    new_status_bits,
    set_status,
    sign_status_list,
    status_entries,
    status_list_urls,
    verify_status_list,
)
from pcfx.protocol.verify import verify_declaration
from pcfx_network import NOW, STATUS_BASE, Network, sample_footprint

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"
URLS = status_list_urls(STATUS_BASE)


@pytest.fixture
def net() -> Network:
    return Network([SUPPLIER_ID])


@pytest.fixture
def declaration(net: Network, reference: Path) -> dict[str, Any]:
    return net.declare(sample_footprint(reference, [SUPPLIER_ID]), index=7)


def signed_list(
    net: Network, purpose: str, set_indexes: tuple[int, ...] = (), **kwargs: Any
) -> dict[str, Any]:
    bits = new_status_bits()
    for index in set_indexes:
        set_status(bits, index)
    url = kwargs.pop("url", URLS.get(purpose, f"{STATUS_BASE}/{purpose}"))
    doc = build_status_list_credential(
        url=url,
        issuer=kwargs.pop("issuer", net.supplier.did),
        purpose=purpose,
        bits=bits,
        valid_from=NOW - timedelta(days=1),
        **kwargs,
    )
    return sign_status_list(
        doc, key=net.supplier.key, verification_method=net.supplier.vm, created=NOW - timedelta(hours=1)
    )


def lookup(net: Network, *lists: dict[str, Any]) -> dict[str, StatusList]:
    registry = net.registry()
    checked = [verify_status_list(doc, registry=registry, now=NOW) for doc in lists]
    return {s.url: s for s in checked}


def test_index_zero_is_the_most_significant_bit_of_the_first_byte() -> None:
    bits = new_status_bits()
    set_status(bits, 0)
    set_status(bits, 9)
    assert bits[:2] == b"\x80\x40"


def test_clearing_a_status() -> None:
    bits = new_status_bits()
    set_status(bits, 5)
    set_status(bits, 5, False)
    assert not any(bits)


def test_encoded_list_is_multibase_base64url_gzip_and_round_trips() -> None:
    bits = new_status_bits()
    set_status(bits, 131_071)
    encoded = encode_status_list(bits)
    assert encoded.startswith("u")
    assert "=" not in encoded
    assert decode_status_list(encoded) == bytes(bits)


def test_encoding_is_reproducible() -> None:
    assert encode_status_list(new_status_bits()) == encode_status_list(new_status_bits())


def test_list_shorter_than_minimum_is_refused() -> None:
    with pytest.raises(StatusListError):
        encode_status_list(bytearray(MIN_ENTRIES // 8 - 1))
    with pytest.raises(StatusListError):
        decode_status_list(multibase_encode_b64url(gzip.compress(bytes(100))))


def test_gzip_bomb_is_refused() -> None:
    with pytest.raises(StatusListError, match="size limit"):
        decode_status_list(multibase_encode_b64url(gzip.compress(bytes(32 * 1024 * 1024))))


def test_status_entries_for_an_index() -> None:
    revocation, deprecation = status_entries(STATUS_BASE, 7)
    assert revocation == {
        "id": f"{STATUS_BASE}/revocation#7",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "7",
        "statusListCredential": f"{STATUS_BASE}/revocation",
    }
    assert deprecation["statusPurpose"] == "message"
    assert deprecation["statusMessage"] == [
        {"status": "0x0", "message": "active"},
        {"status": "0x1", "message": "deprecated"},
    ]


def test_signed_status_list_verifies_and_decodes(net: Network) -> None:
    checked = lookup(net, signed_list(net, "revocation", (7,)))[URLS["revocation"]]
    assert (checked.issuer, checked.purpose) == (net.supplier.did, "revocation")
    assert (checked.status(7), checked.status(8)) == (1, 0)


def test_tampered_status_list_is_a_bad_signature(net: Network) -> None:
    doc = signed_list(net, "revocation", (7,))
    doc["credentialSubject"]["encodedList"] = encode_status_list(new_status_bits())
    with pytest.raises(VerificationError) as caught:
        verify_status_list(doc, registry=net.registry(), now=NOW)
    assert caught.value.reason is FailureReason.BAD_SIGNATURE


def test_expired_status_list_is_refused(net: Network) -> None:
    doc = signed_list(net, "revocation", valid_until=NOW - timedelta(minutes=1))
    with pytest.raises(VerificationError) as caught:
        verify_status_list(doc, registry=net.registry(), now=NOW)
    assert caught.value.reason is FailureReason.EXPIRED


def test_status_list_of_an_unregistered_issuer_is_refused(net: Network) -> None:
    doc = signed_list(net, "revocation", issuer="did:web:stranger.example")
    with pytest.raises(VerificationError) as caught:
        verify_status_list(doc, registry=net.registry(), now=NOW)
    assert caught.value.reason is FailureReason.UNKNOWN_ISSUER


def test_clear_status_verifies(net: Network, declaration: dict[str, Any]) -> None:
    status = lookup(net, signed_list(net, "revocation", (6, 8)), signed_list(net, "message", (6, 8)))
    assert verify_declaration(declaration, registry=net.registry(), status=status, now=NOW).ok


def test_revoked(net: Network, declaration: dict[str, Any]) -> None:
    status = lookup(net, signed_list(net, "revocation", (7,)), signed_list(net, "message"))
    result = verify_declaration(declaration, registry=net.registry(), status=status, now=NOW)
    assert result.reason is FailureReason.REVOKED


def test_deprecated(net: Network, declaration: dict[str, Any]) -> None:
    status = lookup(net, signed_list(net, "revocation"), signed_list(net, "message", (7,)))
    result = verify_declaration(declaration, registry=net.registry(), status=status, now=NOW)
    assert result.reason is FailureReason.DEPRECATED


def test_suspended(net: Network, declaration: dict[str, Any]) -> None:
    suspension_url = f"{STATUS_BASE}/suspension"
    doc = dict(declaration)
    doc["credentialStatus"] = [
        *declaration["credentialStatus"],
        {
            "id": f"{suspension_url}#7",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "suspension",
            "statusListIndex": "7",
            "statusListCredential": suspension_url,
        },
    ]
    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    signed = sign_declaration(
        unsigned, key=net.supplier.key, verification_method=net.supplier.vm, created=NOW - timedelta(days=1)
    )
    status = lookup(
        net,
        signed_list(net, "revocation"),
        signed_list(net, "message"),
        signed_list(net, "suspension", (7,), url=suspension_url),
    )
    assert (
        verify_declaration(signed, registry=net.registry(), status=status, now=NOW).reason
        is FailureReason.SUSPENDED
    )


def test_missing_status_list_is_status_unavailable(net: Network, declaration: dict[str, Any]) -> None:
    status = lookup(net, signed_list(net, "revocation"))
    result = verify_declaration(declaration, registry=net.registry(), status=status, now=NOW)
    assert result.reason is FailureReason.STATUS_UNAVAILABLE


def test_list_of_wrong_purpose_is_status_unavailable(net: Network, declaration: dict[str, Any]) -> None:
    swapped = lookup(
        net,
        signed_list(net, "revocation", url=URLS["message"]),
        signed_list(net, "message", url=URLS["revocation"]),
    )
    result = verify_declaration(declaration, registry=net.registry(), status=swapped, now=NOW)
    assert result.reason is FailureReason.STATUS_UNAVAILABLE


def test_stale_list_is_status_unavailable(net: Network, declaration: dict[str, Any]) -> None:
    status = lookup(
        net, signed_list(net, "revocation", valid_until=NOW + timedelta(hours=1)), signed_list(net, "message")
    )
    later = NOW + timedelta(hours=2)
    result = verify_declaration(declaration, registry=net.registry(), status=status, now=later)
    assert result.reason is FailureReason.STATUS_UNAVAILABLE


def test_without_status_lookup_status_is_not_checked(net: Network, declaration: dict[str, Any]) -> None:
    assert verify_declaration(declaration, registry=net.registry(), now=NOW).ok
