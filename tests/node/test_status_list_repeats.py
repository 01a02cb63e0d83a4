"""A supplier republishes its status lists each time a buyer starts following it, and every follower receives
them again: the very bytes already verified from that subject and stored are acknowledged without a second
signature check; anything else (changed bytes, a copy the store lost) is verified as any message is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from ingest_kit import HOUR, NOW, Acme, Buyer, acme_and_globex, declaration_id, outcomes
from pcfx.node.bus import verifier as verifier_module
from pcfx.node.store.models import StatusList
from sqlmodel import Session, delete


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The status lists whose signature the node checks, in order."""
    checked: list[bytes] = []
    real = verifier_module.verify_status_list

    def verify(raw, **kwargs):
        checked.append(raw)
        return real(raw, **kwargs)

    monkeypatch.setattr(verifier_module, "verify_status_list", verify)
    return checked


@pytest.fixture
def pair(tmp_path, sqlite_engine) -> Iterator[tuple[Acme, Buyer]]:
    with contextlib.contextmanager(acme_and_globex)(tmp_path, sqlite_engine) as (acme, globex):
        yield acme, globex


def test_the_same_status_list_received_again_is_acknowledged_without_a_second_check(pair, counted):
    acme, globex = pair
    lists = acme.status_messages()
    assert outcomes(globex.decide(lists)) == [("ack", "status", None)] * len(lists)
    assert outcomes(globex.decide(lists)) == [("ack", "status", None)] * len(lists)
    assert len(counted) == len(lists)


def test_a_changed_status_list_on_the_same_subject_is_checked_and_applied(pair, counted):
    acme, globex = pair
    lists = acme.status_messages()
    globex.decide(lists)
    steel = acme.sign("steel", created=NOW - HOUR)
    globex.decide([acme.message(steel)])
    again = acme.status_messages(revoke=acme.index)  # the revocation list changed, the other did not
    globex.decide(again)
    assert globex.declaration(declaration_id(steel)).state == "revoked"
    changed = [m.raw for m in again if m.raw not in {old.raw for old in lists}]
    assert len(changed) == 1 and counted == [m.raw for m in lists] + changed


def test_a_repeat_whose_first_copy_the_store_lost_is_checked_and_stored_again(pair, counted):
    acme, globex = pair
    lists = acme.status_messages()
    globex.decide(lists)
    with Session(globex.engine) as session:  # as if the batch that stored them had not been committed
        session.exec(delete(StatusList))  # type: ignore[call-overload]
        session.commit()
    assert outcomes(globex.decide(lists)) == [("ack", "status", None)] * len(lists)
    assert len(counted) == 2 * len(lists)
    assert globex.count(StatusList) == len(lists)
