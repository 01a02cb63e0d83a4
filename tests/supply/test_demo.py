"""`pcfx demo` on the real network layout: an operator-mode hub it starts itself, each company onboarded with
its own account (the copper smelter behind its own leaf node), a buyer-only declaration, a revision
propagating down the chain, and a registered company turned attacker whose every move is refused by the
network or rejected by a buyer. The scenario runs once per module; each test asserts one of its facts."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from pcfx.node.cli.app import app
from pcfx.node.demo.facts import DemoFacts, Refusal
from pcfx.node.demo.network import CHAIN
from pcfx.node.demo.scenario import run_demo
from pcfx.node.network.directory import CompanyDirectory
from rich.console import Console
from typer.testing import CliRunner

PCFX = Path(sys.executable).parent / "pcfx"


@dataclass(frozen=True)
class Run:
    facts: DemoFacts
    root: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The scenario, run once, its directories kept."""
    root = tmp_path_factory.mktemp("demo")
    with open(os.devnull, "w") as sink:
        facts = asyncio.run(run_demo(root, console=Console(file=sink, width=200)))
    return Run(facts, root)


@dataclass(frozen=True)
class Command:
    out: str
    err: str
    returncode: int
    tmp: Path


@pytest.fixture(scope="module")
def command(tmp_path_factory: pytest.TempPathFactory) -> Command:
    """`pcfx demo` as a user runs it, its temporary directory inside a directory of its own."""
    tmp = tmp_path_factory.mktemp("demo-cli")
    env = {**os.environ, "TMPDIR": str(tmp), "COLUMNS": "200"}
    done = subprocess.run([str(PCFX), "demo"], capture_output=True, text=True, env=env, timeout=120)
    return Command(done.stdout, done.stderr, done.returncode, tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def _refusal(facts: DemoFacts, move: str) -> Refusal:
    return next(r for r in facts.refusals if r.attack.startswith(move))


# ---- the command ---------------------------------------------------------------------------------------
def test_pcfx_demo_tells_the_story_on_the_network(command):
    assert command.returncode == 0, command.err + command.out
    out = command.out
    assert "ILLUSTRATIVE" in out
    assert "in operator mode" in out
    assert "Tongling Copper runs its own leaf node" in out
    assert "sealed to Ningde Battery only" in out
    assert re.search(r"Ningde Battery .*recomputed on Tongling Copper's new version, republished", out)
    assert "recomputed on Ningde Battery's new version" in out  # the handset, one tier further down
    assert "permissions violation for publish" in out
    assert "not addressed to this key" in out
    assert "subject names another issuer" in out
    # printed only when every store compared equal before and after the attacker's moves
    assert "stores unchanged: the stores of" in out
    assert "not as the demo expects" not in out


def test_pcfx_demo_leaves_no_server_and_no_file_behind(command):
    assert command.returncode == 0, command.err
    hub = int(re.search(r"JetStream domain hub, pid (\d+)", command.out).group(1))
    leaf = int(re.search(r"leaf node \(nats-server pid (\d+)", command.out).group(1))
    assert not _alive(hub) and not _alive(leaf)
    assert list(command.tmp.iterdir()) == []


# ---- the network ---------------------------------------------------------------------------------------
def test_each_company_runs_a_node_in_its_own_account(demo):
    accounts = demo.facts.network.accounts
    assert demo.facts.nodes == len(accounts) == 9
    assert len(set(accounts.values())) == 9


def test_the_copper_smelter_runs_behind_its_own_leaf_node_with_its_own_jetstream_domain(demo):
    network = demo.facts.network
    assert network.leaf_company == "Tongling Copper"
    assert network.leaf_domain not in ("", "hub")


def test_the_kept_network_directory_lists_every_onboarded_company(demo):
    slugs = [r.slug for r in CompanyDirectory.at(demo.root / "network").records()]
    assert sorted(slugs) == sorted([*CHAIN, "attacker"])
    assert all((demo.root / "network" / "companies" / slug / "node.creds").exists() for slug in slugs)


# ---- values, buyer-only, propagation ---------------------------------------------------------------------
def test_verified_supplier_values_lower_the_handset_footprint(demo):
    assert demo.facts.handset_supplier < demo.facts.handset_default


def test_the_battery_maker_uses_the_copper_declared_to_it_only(demo):
    assert demo.facts.buyer_only.buyer == "Ningde Battery"
    assert demo.facts.buyer_only.buyer_used


def test_companies_following_the_copper_smelter_never_receive_its_buyer_only_declaration(demo):
    assert demo.facts.buyer_only.others_received == {"Shenzhen Handset": False, "Shadow Trading": False}


def test_the_stream_copy_of_the_buyer_only_declaration_is_ciphertext(demo):
    assert demo.facts.buyer_only.operator_sees_ciphertext


def test_the_copper_revision_propagates_through_the_battery_maker_to_the_handset(demo):
    facts = demo.facts
    republished = [s for s in facts.propagation if s.company == "Ningde Battery"]
    assert [s.declaration_id is not None and "republished" in s.what for s in republished] == [True]
    assert facts.battery_after < facts.battery_before
    assert facts.handset_after_revision < facts.handset_supplier


# ---- the attacker ----------------------------------------------------------------------------------------
def test_the_server_refuses_the_attackers_node_user_publishing_under_another_companys_subject(demo):
    refusal = _refusal(demo.facts, "publish on its subject")
    assert refusal.outcome.startswith("permissions violation for publish to")
    assert refusal.victim_unchanged


def test_the_attackers_unrestricted_leaf_user_floods_only_its_own_account(demo):
    refusal = _refusal(demo.facts, "flood its subject")
    assert "accepted into its own account" in refusal.outcome
    assert refusal.victim_unchanged


def test_purging_and_deleting_the_victims_stream_and_consumers_acts_on_the_attackers_own_account(demo):
    refusal = _refusal(demo.facts, "purge/delete")
    assert (
        "purged its own PCFX" in refusal.outcome and "1 of 1 consumers not found" in refusal.outcome
    )  # its intake
    assert refusal.victim_unchanged


def test_the_attacker_following_the_supplier_gets_its_public_messages_and_none_of_the_buyer_only_ones(demo):
    refusal = _refusal(demo.facts, "read the buyer-only")
    assert re.search(r"follow granted: [1-9]\d* status-list messages .* 0 of the [1-9]", refusal.outcome)
    assert refusal.victim_unchanged


def test_a_sealed_copy_the_attacker_obtained_does_not_open_with_its_key(demo):
    refusal = _refusal(demo.facts, "open a sealed copy")
    assert "not addressed to this key" in refusal.outcome
    assert refusal.victim_unchanged


def test_a_forged_declaration_on_the_attackers_own_subject_is_quarantined_by_its_buyer(demo):
    # labelled by the bytes sent, so the reason is the buyer's for that very message
    forged = [r for r in demo.facts.rejections if r.attack.startswith("forged")]
    assert [(r.company, r.reason) for r in forged] == [("Shenzhen Handset", "subject names another issuer")]


def test_a_declaration_edited_after_signing_is_quarantined_as_a_bad_signature(demo):
    edited = [r for r in demo.facts.rejections if "edited" in r.attack]
    assert [(r.company, r.reason) for r in edited] == [("Shenzhen Handset", "bad signature")]


def test_the_buyer_keeps_using_the_genuine_declaration_after_the_attacks(demo):
    assert demo.facts.store_unchanged


def test_no_store_changed_during_the_attackers_moves(demo):
    assert demo.facts.store_changes == []


def test_the_demo_saw_everything_it_claims(demo):
    assert demo.facts.problems == []


# ---- the kept homes --------------------------------------------------------------------------------------
def test_the_kept_handset_home_shows_its_inputs_with_their_provenance(demo):
    handset_home = demo.root / "nodes" / "mobile-handset"
    shown = CliRunner().invoke(
        app, ["inputs", "handset-x1", "--home", str(handset_home)], env={"COLUMNS": "250"}
    )
    assert shown.exit_code == 0, shown.output
    rows = {line.split("│")[1].strip(): line for line in shown.output.splitlines() if line.count("│") > 5}
    version = demo.facts.network.registry_version
    assert "supplier" in rows["battery"] and f"registry v{version}" in rows["battery"]
    assert "default" in rows["memory"] and f"not in trust registry v{version}" in rows["memory"]
    assert "default" in rows["copper"] and "received from the supplier" in rows["copper"]
    assert f"{demo.facts.handset_after_revision.quantize(Decimal('0.0001'))} / 1 piece" in shown.output


def test_the_kept_battery_home_lists_its_published_product(demo):
    products = CliRunner().invoke(app, ["products", "--home", str(demo.root / "nodes" / "li-ion-battery")])
    assert products.exit_code == 0, products.output
    assert "published" in products.output and "active" in products.output
