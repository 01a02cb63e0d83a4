"""Status lists for the protocol rule tests: a supplier's signed lists and the checked lookup a verifier uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pcfx.protocol.status import (
    StatusList,
    build_status_list_credential,
    new_status_bits,
    set_status,
    sign_status_list,
    status_list_urls,
    verify_status_list,
)
from pcfx_network import NOW, STATUS_BASE, Network

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"
URLS = status_list_urls(STATUS_BASE)
LIST_FROM = NOW - timedelta(days=1)
LIST_SIGNED = NOW - timedelta(hours=1)


def signed_list(
    net: Network,
    purpose: str,
    set_indexes: tuple[int, ...] = (),
    *,
    edit: Callable[[dict[str, Any]], None] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The supplier's status list credential for `purpose` with `set_indexes` set; `edit` changes the
    unsigned credential before the supplier signs it, so only the change can be at fault."""
    bits = new_status_bits()
    for index in set_indexes:
        set_status(bits, index)
    doc = build_status_list_credential(
        url=kwargs.pop("url", URLS.get(purpose, f"{STATUS_BASE}/{purpose}")),
        issuer=kwargs.pop("issuer", net.supplier.did),
        purpose=purpose,
        bits=bits,
        valid_from=kwargs.pop("valid_from", LIST_FROM),
        **kwargs,
    )
    if edit is not None:
        edit(doc)
    return sign_status_list(
        doc, key=net.supplier.key, verification_method=net.supplier.vm, created=LIST_SIGNED
    )


def lookup(net: Network, *lists: dict[str, Any]) -> dict[str, StatusList]:
    """The StatusLookup a verifier passes: each list checked at NOW, by URL."""
    registry = net.registry()
    checked = [verify_status_list(doc, registry=registry, now=NOW) for doc in lists]
    return {s.url: s for s in checked}
