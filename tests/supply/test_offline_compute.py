"""`pcfx compute INVENTORY --supplier DECL.json`: a buyer computes offline with declarations received as files,
verified before use, with the same per-input provenance as on a node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.keys import public_multikey
from pcfx.protocol.status import (
    build_status_list_credential,
    new_status_bits,
    set_status,
    sign_status_list,
    status_list_urls,
)
from pcfx_network import NOW, STATUS_BASE, Network, sample_footprint

ROOT = Path(__file__).resolve().parents[2]
BATTERY = ROOT / "node/src/pcfx/node/data/examples/li-ion-battery.yaml"
COPPER_COMPANY = "urn:pcfx:uscc:91340700PCFXD00131"
COPPER_PRODUCT = "urn:pcfx:product:91340700PCFXD00131:cathode-cu-cath-1"


@pytest.fixture
def net() -> Network:
    return Network([COPPER_COMPANY])


def _copper_footprint(reference: Path, pcf: str = "4.2") -> dict[str, Any]:
    fp = sample_footprint(reference, [COPPER_COMPANY])
    fp["productIds"] = [COPPER_PRODUCT]
    fp["pcf"]["pcfExcludingBiogenicUptake"] = pcf
    return fp


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _compute(
    tmp_path: Path, net: Network, *args: str, registry: bool = True
) -> subprocess.CompletedProcess[str]:
    options = list(args)
    if registry:
        options += ["--registry", str(_write(tmp_path / "registry.json", net.registry_doc()))]
        options += ["--operator-key", public_multikey(net.operator_key)]
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("PCFX_OPERATOR_KEY", None)
    return subprocess.run(
        [str(Path(sys.executable).with_name("pcfx")), "compute", str(BATTERY), *options],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _inputs(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return {i["flow"]: i for i in json.loads(done.stdout)["inputs"]}


def test_a_verified_supplier_file_replaces_the_default_with_its_receipt(tmp_path, reference, net):
    decl = _write(tmp_path / "copper.json", net.declare(_copper_footprint(reference)))
    inputs = _inputs(_compute(tmp_path, net, "--supplier", str(decl), "--offline", "--json"))
    busbars = inputs["busbars"]
    assert busbars["source"] == "supplier-declaration"
    assert busbars["issuer"] == net.supplier.did
    assert busbars["receipt"]["registry_version"] == "1"
    assert busbars["receipt"]["key_id"] == net.supplier.vm
    assert "status not checked" in busbars["conversion"]  # offline: said, not hidden


def test_the_supplier_value_changes_the_footprint_by_its_difference_from_the_default(
    tmp_path, reference, net
):
    low = _write(tmp_path / "low.json", net.declare(_copper_footprint(reference, "1.0")))
    high = _write(tmp_path / "high.json", net.declare(_copper_footprint(reference, "3.0"), index=1))
    totals = [
        json.loads(_compute(tmp_path, net, "--supplier", str(f), "--offline", "--json").stdout)["total"]
        for f in (low, high)
    ]
    from decimal import Decimal

    # 3.5 million kg of busbars per 10 million kWh: 2 kg CO2e/kg more is 0.7 kg CO2e/kWh more
    assert Decimal(totals[1]) - Decimal(totals[0]) == Decimal("0.7")


def test_inputs_whose_supplier_is_not_registered_keep_the_default_and_say_why(tmp_path, reference, net):
    decl = _write(tmp_path / "copper.json", net.declare(_copper_footprint(reference)))
    inputs = _inputs(_compute(tmp_path, net, "--supplier", str(decl), "--offline", "--json"))
    assert inputs["pack housing"]["source"] == "default-factor"
    assert inputs["pack housing"]["reason"] == (
        "company urn:pcfx:uscc:91130200PCFXD0001E is not in trust registry v1"
    )


def test_a_tampered_supplier_file_is_rejected_and_never_used(tmp_path, reference, net):
    doc = net.declare(_copper_footprint(reference))
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.1"
    decl = _write(tmp_path / "copper.json", doc)
    inputs = _inputs(_compute(tmp_path, net, "--supplier", str(decl), "--offline", "--json"))
    assert inputs["busbars"]["source"] == "default-factor"
    assert inputs["busbars"]["reason"].startswith("copper.json was rejected: bad signature")


def test_a_status_list_that_revokes_the_declaration_makes_it_unusable(tmp_path, reference, net):
    decl = _write(tmp_path / "copper.json", net.declare(_copper_footprint(reference), index=7))
    bits = new_status_bits()
    set_status(bits, 7)
    lists = []
    for purpose, url in status_list_urls(STATUS_BASE).items():
        credential = build_status_list_credential(
            url=url,
            issuer=net.supplier.did,
            purpose=purpose,
            bits=bits if purpose == "revocation" else new_status_bits(),
            valid_from=NOW - timedelta(days=1),
        )
        signed = sign_status_list(
            credential, key=net.supplier.key, verification_method=net.supplier.vm, created=NOW
        )
        lists += ["--status-list", str(_write(tmp_path / f"{purpose}.json", signed))]
    inputs = _inputs(_compute(tmp_path, net, "--supplier", str(decl), *lists, "--json"))
    assert inputs["busbars"]["source"] == "default-factor"
    assert inputs["busbars"]["reason"].startswith("copper.json was rejected: revoked")


def test_supplier_files_without_a_registry_are_refused_in_one_line(tmp_path, reference, net):
    decl = _write(tmp_path / "copper.json", net.declare(_copper_footprint(reference)))
    done = _compute(tmp_path, net, "--supplier", str(decl), registry=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --supplier needs --registry and --operator-key (or PCFX_OPERATOR_KEY): a supplier's value is "
        "used only once the trust registry says who signed it"
    ]


def test_the_table_names_each_file_and_the_input_it_served(tmp_path, reference, net):
    decl = _write(tmp_path / "copper.json", net.declare(_copper_footprint(reference)))
    done = _compute(tmp_path, net, "--supplier", str(decl), "--offline")
    assert done.returncode == 0, done.stderr
    assert "copper.json: valid, " in done.stdout and f"by {net.supplier.did} (registry v1)" in done.stdout
    busbars = next(line for line in done.stdout.splitlines() if line.startswith("│ busbars"))
    assert "supplier" in busbars and "registry v1" in busbars
