"""Changing any single leaf of a signed declaration makes it fail: every leaf of a sample, one at a time.

The signature is checked before the content is interpreted, so a changed value is a bad signature even
where the new value would also break the schema. Four leaves route verification before the signature can
be checked, and fail for that reason instead (asserted precisely below).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.declaration import declaration_bytes
from pcfx.protocol.errors import FailureReason
from pcfx.protocol.verify import verify_declaration
from pcfx_network import NOW, Network, sample_footprint

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"

Path_ = tuple[str | int, ...]

ROUTING_LEAVES: dict[Path_, FailureReason] = {
    ("issuer",): FailureReason.UNKNOWN_ISSUER,  # the changed DID is not registered
    ("proof", "type"): FailureReason.UNSUPPORTED_CRYPTOSUITE,
    ("proof", "cryptosuite"): FailureReason.UNSUPPORTED_CRYPTOSUITE,
    ("proof", "verificationMethod"): FailureReason.KEY_NOT_AUTHORISED,  # not a key of the issuer
    ("proof", "proofPurpose"): FailureReason.KEY_NOT_AUTHORISED,
}


def leaves(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def mutate(value: Any) -> Any:
    """A different value of the same JSON type that keeps the value's shape where it can."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    for i, char in enumerate(value):
        if char.isdigit():
            return value[:i] + str((int(char) + 1) % 10) + value[i + 1 :]
        if char.isascii() and char.isalpha():
            base = ord("a") if char.islower() else ord("A")
            return value[:i] + chr(base + (ord(char) - base + 1) % 26) + value[i + 1 :]
    return value + "x"


def with_leaf(doc: dict[str, Any], path: Path_, new: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return out


def get(doc: Any, path: Path_) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@pytest.fixture(scope="module")
def setting(reference: Path) -> tuple[Network, dict[str, Any]]:
    net = Network([SUPPLIER_ID])
    return net, net.declare(sample_footprint(reference, [SUPPLIER_ID]))


def test_the_untampered_declaration_verifies(setting: tuple[Network, dict[str, Any]]) -> None:
    net, doc = setting
    assert verify_declaration(declaration_bytes(doc), registry=net.registry(), now=NOW).ok


def test_every_leaf_is_covered(setting: tuple[Network, dict[str, Any]]) -> None:
    _, doc = setting
    paths = list(leaves(doc))
    assert len(paths) > 60
    assert set(ROUTING_LEAVES) <= set(paths)
    assert all(mutate(get(doc, p)) != get(doc, p) for p in paths)


def test_changing_any_single_leaf_fails_with_the_expected_reason(
    setting: tuple[Network, dict[str, Any]],
) -> None:
    net, doc = setting
    registry = net.registry()
    outcomes: dict[Path_, FailureReason | None] = {}
    for path in leaves(doc):
        tampered = with_leaf(doc, path, mutate(get(doc, path)))
        outcomes[path] = verify_declaration(declaration_bytes(tampered), registry=registry, now=NOW).reason
    expected = {path: ROUTING_LEAVES.get(path, FailureReason.BAD_SIGNATURE) for path in outcomes}
    assert outcomes == expected
