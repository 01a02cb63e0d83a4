"""`pcfx trace DECL`: the provenance tree of a declaration printed as a tree (✓/✗ per tier, value, PDS, DQR,
"default factor: reason" leaves) or as JSON, on the node homes of the chain in `trace_kit`."""

from __future__ import annotations

import json

from pcfx.node.cli.app import app
from ports import free_port
from trace_kit import AUDITOR, BATTERY, COPPER, HANDSET, Chain
from typer.testing import CliRunner

WIDE = {"COLUMNS": "400"}


def pcfx_trace(chain: Chain, company: str, *args: str):
    return CliRunner().invoke(app, ["trace", *args, "--home", str(chain.settings(company).home)], env=WIDE)


def test_trace_prints_each_tier_verified_with_its_values_and_the_defaults_with_their_reasons(public_chain):
    chain = public_chain

    result = pcfx_trace(chain, HANDSET, "Smartphone X1 128 GB (Demo Shenzhen Handset)", "--offline")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (root,) = [line for line in lines if line.startswith("✓ Smartphone X1")]
    (battery,) = [line for line in lines if "final_assembly/battery" in line]
    copper = [line for line in lines if "Cathode copper Cu-CATH-1" in line]
    assert "— Demo Handset Co." in root and "kg CO2e / 1 piece · PDS " in root and "· DQR " in root
    assert "← ✓ LFP energy-storage battery pack" in battery and "— Demo Battery Co." in battery
    assert len(copper) == 2 and all("← ✓ Cathode copper" in line for line in copper)
    assert any(
        "smt/application processor" in line
        and "default factor demo-application-processor: company urn:pcfx:uscc:91310000PCFXD00193 is not in "
        "trust registry v1"
        in line
        for line in lines
    )
    assert any(
        "default factor demo-lfp-cam: reason not stated in the signed declaration" in line for line in lines
    )
    assert lines[-1].startswith("4 declarations verified, 0 failed verification, 0 restricted, 0 unavailable")


def test_trace_json_is_the_tree_a_web_page_renders(public_chain):
    chain = public_chain

    result = pcfx_trace(chain, HANDSET, chain.declared["H1"].declaration_id, "--offline", "--json")

    assert result.exit_code == 0, result.output
    tree = json.loads(result.output)
    assert tree["declaration_id"] == chain.declared["H1"].declaration_id
    assert tree["verification"]["ok"] is True and tree["origin"] == "own"
    battery = next(c for c in tree["children"] if c["link"]["input"] == "final_assembly/battery")
    assert (battery["kind"], battery["issuer"]) == ("declaration", chain.net[BATTERY].did)
    copper = next(c for c in battery["children"] if c["link"]["input"] == "pack_assembly/busbars")
    assert copper["issuer"] == chain.net[COPPER].did and copper["verification"]["ok"] is True
    defaults = [c for c in tree["children"] if c["kind"] == "default-factor"]
    assert defaults and all(c["children"] == [] and "default_factor_id" in c["link"] for c in defaults)


def test_trace_of_an_edited_declaration_file_marks_it_failed(public_chain, tmp_path):
    chain = public_chain
    edited = tmp_path / "edited.json"
    edited.write_bytes(
        chain.raw(HANDSET, "H1").replace(
            b'"pcfExcludingBiogenicUptake":"', b'"pcfExcludingBiogenicUptake":"1'
        )
    )

    result = pcfx_trace(chain, HANDSET, str(edited), "--offline")

    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()[:2]
    assert first.startswith("✗ Smartphone X1")
    assert "not verified: bad signature:" in result.output
    assert "file" in second
    assert "3 declarations verified, 1 failed verification" in result.output


def test_trace_fetches_over_the_nodes_nats_what_its_store_lacks(public_chain):
    chain = public_chain

    result = pcfx_trace(chain, AUDITOR, chain.declared["H1"].declaration_id, "--nats", chain.url, "--json")

    assert result.exit_code == 0, result.output
    tree = json.loads(result.output)
    declarations = [tree, *(c for c in tree["children"] if c["kind"] == "declaration")]
    assert {(d["origin"], d["source"], d["verification"]["ok"]) for d in declarations} == {
        ("fetched", "stream", True)
    }


def test_trace_of_something_unknown_ends_with_one_line(public_chain):
    chain = public_chain

    unknown = pcfx_trace(chain, HANDSET, "no-such-product", "--offline")
    missing = pcfx_trace(chain, AUDITOR, chain.declared["H1"].declaration_id, "--offline")

    assert unknown.exit_code == 1
    assert unknown.output.strip() == (
        "trace: 'no-such-product' is no declaration file, stored declaration id or own product of this node"
    )
    assert missing.exit_code == 1
    assert missing.output.strip() == (
        f"trace: {chain.declared['H1'].declaration_id}: not stored on this node (no bus to fetch it from)"
    )


def test_trace_without_a_reachable_nats_server_says_so_and_reads_the_store(public_chain):
    chain = public_chain

    result = pcfx_trace(
        chain,
        HANDSET,
        "Smartphone X1 128 GB (Demo Shenzhen Handset)",
        "--nats",
        f"nats://127.0.0.1:{free_port()}",
    )

    assert result.exit_code == 0, result.output
    assert "the store only" in result.output.splitlines()[0]
    assert "4 declarations verified" in result.output
