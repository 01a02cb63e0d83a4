"""The operator's company directory (`companies.db`): companies and follows are rows, written one at a time;
a state file of format 1, which held every company, has them moved into the directory when read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from network_kit import onboard
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.state import CompanyRecord, CompanyState, load_state

ACCOUNT = "A" + "B" * 55


def record(slug: str, *, did: str | None = None, account: str = ACCOUNT) -> CompanyRecord:
    return CompanyRecord(
        slug=slug,
        name=slug.title(),
        did=did or f"did:web:{slug}.example",
        company_ids=[f"urn:pcfx:uscc:{slug}"],
        roles=["supplier"],
        account=account,
        onboarded=datetime(2026, 12, 1, tzinfo=UTC),
    )


def test_a_follow_is_one_row_the_buyers_record_reads_back(tmp_path):
    directory = CompanyDirectory.at(tmp_path)
    directory.add([record("acme"), record("globex", account="A" + "C" * 55)])
    directory.set_follow("did:web:globex.example", "did:web:acme.example", ["urn:p:2", "urn:p:1"])
    globex = directory.get("globex")
    assert globex.follows == {"did:web:acme.example": ["urn:p:1", "urn:p:2"]}
    assert list(directory.suppliers_of(globex)) == ["did:web:acme.example"]
    assert directory.get("did:web:acme.example").follows == {}


def test_a_company_already_onboarded_is_refused_and_nothing_of_the_batch_is_added(tmp_path):
    directory = CompanyDirectory.at(tmp_path)
    directory.add([record("acme")])
    with pytest.raises(NetworkError, match=r"the DID did:web:acme\.example of acme2 is taken by acme$"):
        directory.add(
            [record("initech", account="A" + "D" * 55), record("acme2", did="did:web:acme.example")]
        )
    assert [r.slug for r in directory.records()] == ["acme"]


def test_a_saved_state_change_is_read_back(tmp_path):
    directory = CompanyDirectory.at(tmp_path)
    directory.add([record("acme")])
    acme = directory.get("acme")
    acme.state, acme.users_revoked_before = CompanyState.REVOKED, 1_800_000_000
    directory.save_state(acme)
    assert directory.get(ACCOUNT) == acme


async def test_a_state_file_of_format_1_has_its_companies_moved_into_the_directory(
    network_dir, sys_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    old = NetworkLayout(tmp_path / "old")
    old.root.mkdir()
    # what an operator before the directory wrote: the companies inside network.json
    document = json.loads(network_dir.state_file.read_text())
    document["format"] = "pcfx-network/1"
    document["companies"] = {"acme": acme.record.model_dump(mode="json")}
    old.state_file.write_text(json.dumps(document))
    state = load_state(old)
    assert state.network_account == document["network_account"]
    assert CompanyDirectory.at(old.root).get("acme") == acme.record
    rewritten = json.loads(old.state_file.read_text())
    assert rewritten["format"] == "pcfx-network/2" and "companies" not in rewritten
    assert load_state(old) == state  # read again: nothing more to move


def test_a_state_file_of_format_1_with_a_bad_company_names_it_and_moves_nothing(network_dir, tmp_path):
    old = NetworkLayout(tmp_path / "old")
    old.root.mkdir()
    document = json.loads(network_dir.state_file.read_text())
    document["format"] = "pcfx-network/1"
    document["companies"] = {"acme": record("acme").model_dump(mode="json") | {"slug": "Acme!"}}
    old.state_file.write_text(json.dumps(document))
    with pytest.raises(NetworkError, match=r"network\.json: companies\.acme\.slug: String should match"):
        load_state(old)
    assert CompanyDirectory.at(old.root).records() == []
    assert json.loads(old.state_file.read_text())["format"] == "pcfx-network/1"
