"""`pcfx sim`: a small network simulated on the real protocol (operator-mode hub, one account, node, store and
consumers per company) converges on verified supplier values and propagates deepest-tier revisions to tier 0;
the supply graph it runs on is seeded and reproducible."""

from __future__ import annotations

import json

from pcfx.node.cli.app import app
from pcfx.node.sim.graph import build_graph, roots_of
from typer.testing import CliRunner


def test_the_supply_graph_is_the_same_for_the_same_seed_and_tier_0_buys_from_the_next_tier():
    first = build_graph(40, 2, 4, seed=3)
    again = build_graph(40, 2, 4, seed=3)
    assert [(p.pid, [q.pid for q in p.suppliers]) for p in first] == [
        (p.pid, [q.pid for q in p.suppliers]) for p in again
    ]
    assert all(q.tier == p.tier + 1 and q.company != p.company for p in first for q in p.suppliers)
    deepest = [p for p in first if p.tier == 3]
    assert deepest and all(not p.suppliers for p in deepest)
    assert any(roots_of(p) for p in deepest)  # a deepest-tier revision reaches some tier-0 product


def test_pcfx_sim_runs_a_small_network_to_convergence_and_times_its_revisions():
    done = CliRunner().invoke(
        app, ["sim", "--companies", "6", "--products", "1", "--tiers", "3", "--revisions", "2", "--json"]
    )
    assert done.exit_code == 0, done.output
    figures = json.loads(done.output[done.output.index("{") :])
    assert (figures["companies"], figures["products"]) == (6, 6)
    assert figures["feeds"] > 0 and figures["converge_s"] > 0
    assert figures["p50"] > 0 and figures["declarations_per_revision"] >= 1
    assert figures["quarantined"] == 0  # an honest network refuses nothing
    assert figures["background_per_s"] == 0  # none asked for: the rate run is printed, not the rate asked
    assert figures["streams"] >= 12  # each company's stream and KV bucket, in its own account


def test_pcfx_sim_refuses_in_one_line_quotas_the_hub_could_not_reserve():
    done = CliRunner().invoke(app, ["sim", "--companies", "100000", "--company-disk-mib", "1024"])
    assert done.exit_code == 2
    (line,) = done.output.strip().splitlines()
    assert "100000 companies x 1024 MiB of JetStream exceed the" in line
    assert "give --company-disk-mib" in line
