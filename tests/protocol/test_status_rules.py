"""Bitstring status lists rule by rule: where each entry's bit lives, the exact bytes of an encoded list, and
every refusal of a status list credential with its reason and detail."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib
from datetime import timedelta
from typing import Any

import pytest
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.context import VC_V2_CONTEXT
from pcfx.protocol.errors import FailureReason, StatusListError, VerificationError
from pcfx.protocol.multibase import multibase_decode, multibase_encode_b64url
from pcfx.protocol.registry import TrustRegistry
from pcfx.protocol.status import (
    MIN_ENTRIES,
    StatusList,
    build_status_list_credential,
    decode_status_list,
    encode_status_list,
    new_status_bits,
    set_status,
    verify_status_list,
)
from pcfx_network import KEY_FROM, NOW, Network
from status_kit import LIST_FROM, SUPPLIER_ID, URLS, signed_list

# status._MAX_LIST_BYTES: the largest decompressed list accepted
SIZE_LIMIT = 16 * 1024 * 1024


@pytest.fixture
def net() -> Network:
    return Network([SUPPLIER_ID])


@pytest.fixture
def registry(net: Network) -> TrustRegistry:
    return net.registry()


def refusal(doc: Any, registry: TrustRegistry, now: Any = NOW) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_status_list(doc, registry=registry, now=now)
    return caught.value


def listed(*indexes: int) -> StatusList:
    bits = new_status_bits()
    for index in indexes:
        set_status(bits, index)
    return StatusList(
        url=URLS["revocation"], issuer="did:web:supplier.example", purpose="revocation", bits=bytes(bits)
    )


# the bitstring


def test_an_index_sets_one_bit_in_byte_index_div_8() -> None:
    bits = new_status_bits()
    set_status(bits, 17)
    set_status(bits, MIN_ENTRIES - 1)
    assert [(i, b) for i, b in enumerate(bits) if b] == [(2, 0x40), (MIN_ENTRIES // 8 - 1, 0x01)]


def test_setting_an_index_past_the_last_entry_is_refused() -> None:
    with pytest.raises(StatusListError) as caught:
        set_status(new_status_bits(), MIN_ENTRIES)
    assert str(caught.value) == f"index {MIN_ENTRIES} outside a list of {MIN_ENTRIES} entries"


def test_each_entry_is_read_from_its_own_bit() -> None:
    lst = listed(0, 17, 100_000)
    assert [i for i in range(MIN_ENTRIES) if lst.status(i)] == [0, 17, 100_000]


def test_a_multi_bit_entry_is_read_most_significant_bit_first() -> None:
    lst = listed(0, 2, 3, 5)  # two-bit entries 0..2: 10, 11, 01
    assert [lst.status(i, 2) for i in range(3)] == [2, 3, 1]


def test_reading_past_the_last_entry_is_refused() -> None:
    with pytest.raises(StatusListError) as caught:
        listed().status(MIN_ENTRIES)
    assert str(caught.value) == f"index {MIN_ENTRIES} outside the list {URLS['revocation']}"


# encodedList


def test_encoding_a_list_below_the_minimum_names_the_minimum() -> None:
    with pytest.raises(StatusListError) as caught:
        encode_status_list(bytearray(MIN_ENTRIES // 8 - 1))
    assert str(caught.value) == f"a status list has at least {MIN_ENTRIES} entries"


def test_encoded_list_is_gzip_with_modification_time_zero() -> None:
    compressed = multibase_decode(encode_status_list(new_status_bits()))
    assert compressed[:4] == b"\x1f\x8b\x08\x00"  # GZIP magic, deflate, no flags
    assert struct.unpack("<I", compressed[4:8]) == (0,)


def test_a_zlib_stream_is_not_a_gzip_list() -> None:
    with pytest.raises(StatusListError) as caught:
        decode_status_list(multibase_encode_b64url(zlib.compress(bytes(new_status_bits()))))
    assert str(caught.value).startswith("encodedList is not multibase GZIP data: ")


def test_a_list_of_exactly_the_size_limit_decodes() -> None:
    bits = bytes(SIZE_LIMIT - 1) + b"\x01"
    assert decode_status_list(multibase_encode_b64url(gzip.compress(bits))) == bits


def test_a_truncated_gzip_stream_is_refused() -> None:
    whole = gzip.compress(bytes(new_status_bits()))
    with pytest.raises(StatusListError) as caught:
        decode_status_list(multibase_encode_b64url(whole[:-8]))
    assert str(caught.value) == "encodedList is truncated or decompresses beyond the size limit"


def test_a_gzip_bomb_is_refused_after_inflating_no_more_than_the_limit() -> None:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    bomb = b"".join(deflate.compress(chunk) for _ in range(4 * SIZE_LIMIT >> 20)) + deflate.flush()
    encoded = multibase_encode_b64url(bomb)
    tracemalloc.start()
    try:
        with pytest.raises(StatusListError, match="size limit"):
            decode_status_list(encoded)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the output buffer and one copy of it; the whole bomb would be four times the limit
    assert peak < 3 * SIZE_LIMIT


def test_a_list_one_byte_short_of_the_minimum_is_refused() -> None:
    with pytest.raises(StatusListError) as caught:
        decode_status_list(multibase_encode_b64url(gzip.compress(bytes(MIN_ENTRIES // 8 - 1))))
    assert str(caught.value) == f"status list shorter than {MIN_ENTRIES} entries"


# the credential


def test_a_status_list_credential_has_the_bitstring_status_list_shape() -> None:
    bits = new_status_bits()
    doc = build_status_list_credential(
        url=URLS["revocation"],
        issuer="did:web:supplier.example",
        purpose="revocation",
        bits=bits,
        valid_from=LIST_FROM,
        valid_until=NOW + timedelta(days=1),
    )
    assert doc == {
        "@context": [VC_V2_CONTEXT],
        "id": URLS["revocation"],
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:web:supplier.example",
        "validFrom": "2026-05-31T12:00:00Z",
        "validUntil": "2026-06-02T12:00:00Z",
        "credentialSubject": {
            "id": f"{URLS['revocation']}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_status_list(bits),
        },
    }


def test_building_a_list_of_an_unknown_purpose_is_refused() -> None:
    with pytest.raises(StatusListError) as caught:
        build_status_list_credential(
            url=URLS["revocation"],
            issuer="did:web:a.example",
            purpose="bogus",
            bits=new_status_bits(),
            valid_from=NOW,
        )
    assert str(caught.value) == "unsupported statusPurpose 'bogus'"


def test_without_a_time_a_status_list_is_checked_at_the_current_time(
    net: Network, registry: TrustRegistry
) -> None:
    doc = signed_list(net, "revocation", (3,), valid_from=KEY_FROM)
    checked = verify_status_list(doc, registry=registry)
    assert (checked.url, checked.status(3), checked.valid_until) == (URLS["revocation"], 1, None)


def test_the_wire_bytes_of_a_status_list_verify_like_the_object(
    net: Network, registry: TrustRegistry
) -> None:
    doc = signed_list(net, "message", (9,), valid_until=NOW + timedelta(days=1))
    from_bytes = verify_status_list(canonicalize(doc), registry=registry, now=NOW)
    assert from_bytes == verify_status_list(doc, registry=registry, now=NOW)
    assert (from_bytes.purpose, from_bytes.status(9)) == ("message", 1)


def test_a_status_list_that_is_not_json_is_malformed(registry: TrustRegistry) -> None:
    refused = refusal(b"{not json", registry)
    assert refused.reason is FailureReason.MALFORMED
    assert refused.detail.startswith("status list is not JSON: ")


def test_a_status_list_that_is_a_json_array_is_malformed(registry: TrustRegistry) -> None:
    refused = refusal(b"[1, 2]", registry)
    assert (refused.reason, refused.detail) == (FailureReason.MALFORMED, "status list is not a JSON object")


def test_a_credential_of_another_type_is_schema_invalid(net: Network, registry: TrustRegistry) -> None:
    doc = signed_list(net, "revocation", edit=lambda d: d.update(type=["VerifiableCredential"]))
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.SCHEMA_INVALID,
        "status list credential: not a BitstringStatusListCredential",
    )


def test_a_list_of_an_unknown_purpose_is_schema_invalid(net: Network, registry: TrustRegistry) -> None:
    doc = signed_list(net, "revocation", edit=lambda d: d["credentialSubject"].update(statusPurpose="bogus"))
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.SCHEMA_INVALID,
        "status list credential: credentialSubject is not a BitstringStatusList of a known purpose",
    )


def test_a_list_with_two_proofs_is_schema_invalid(net: Network, registry: TrustRegistry) -> None:
    doc = signed_list(net, "revocation")
    doc["proof"] = [doc["proof"], doc["proof"]]
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.SCHEMA_INVALID,
        "status list credential: a status list carries exactly one proof",
    )


def test_a_list_without_its_encoded_list_is_schema_invalid(net: Network, registry: TrustRegistry) -> None:
    doc = signed_list(net, "revocation", edit=lambda d: d["credentialSubject"].pop("encodedList"))
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.SCHEMA_INVALID,
        "status list credential lacks 'encodedList'",
    )


def test_a_list_with_an_unparseable_valid_from_is_schema_invalid(
    net: Network, registry: TrustRegistry
) -> None:
    doc = signed_list(net, "revocation", edit=lambda d: d.update(validFrom="yesterday"))
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.SCHEMA_INVALID,
        "status list credential: not an XML Schema dateTimeStamp: 'yesterday'",
    )


def test_an_undecodable_proof_value_is_a_bad_signature(net: Network, registry: TrustRegistry) -> None:
    doc = signed_list(net, "revocation")
    doc["proof"] = {**doc["proof"], "proofValue": "not base58"}
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.BAD_SIGNATURE,
        "status list proof: proofValue must be a base58btc multibase string",
    )


def test_a_changed_list_names_the_list_whose_signature_fails(net: Network, registry: TrustRegistry) -> None:
    doc = signed_list(net, "revocation", (7,))
    doc["credentialSubject"]["encodedList"] = encode_status_list(new_status_bits())
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.BAD_SIGNATURE,
        f"status list {URLS['revocation']} signature does not verify",
    )


def test_a_list_is_valid_from_its_valid_from_on(net: Network, registry: TrustRegistry) -> None:
    checked = verify_status_list(signed_list(net, "revocation", (4,)), registry=registry, now=LIST_FROM)
    assert checked.status(4) == 1


def test_a_list_before_its_valid_from_is_not_yet_valid(net: Network, registry: TrustRegistry) -> None:
    refused = refusal(signed_list(net, "revocation"), registry, now=LIST_FROM - timedelta(seconds=1))
    assert (refused.reason, refused.detail) == (
        FailureReason.NOT_YET_VALID,
        f"status list {URLS['revocation']} valid from 2026-05-31T12:00:00Z",
    )


def test_a_list_at_its_valid_until_has_expired(net: Network, registry: TrustRegistry) -> None:
    until = NOW + timedelta(hours=3)
    refused = refusal(signed_list(net, "revocation", valid_until=until), registry, now=until)
    assert (refused.reason, refused.detail) == (
        FailureReason.EXPIRED,
        f"status list {URLS['revocation']} expired 2026-06-01T15:00:00Z",
    )


def test_a_signed_list_whose_bitstring_is_too_short_is_schema_invalid(
    net: Network, registry: TrustRegistry
) -> None:
    short = multibase_encode_b64url(gzip.compress(bytes(100)))
    doc = signed_list(net, "revocation", edit=lambda d: d["credentialSubject"].update(encodedList=short))
    refused = refusal(doc, registry)
    assert (refused.reason, refused.detail) == (
        FailureReason.SCHEMA_INVALID,
        f"status list shorter than {MIN_ENTRIES} entries",
    )
