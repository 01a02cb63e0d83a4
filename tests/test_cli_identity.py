"""`pcfx keys|did|sign|verify|registry|assure` on real files, through typer's CliRunner."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from pcfx.node.cli.app import app
from pcfx.protocol.canonical import canonicalize
from pcfx_network import sample_footprint
from typer.testing import CliRunner

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"
VERIFIER_ID = "urn:pcfx:uscc:91310000MA1FL0000X"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("PCFX_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("PCFX_OPERATOR_KEY", raising=False)
    return CliRunner()


def run(runner: CliRunner, *args: str | Path, input: str | None = None) -> Any:
    return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def network(runner: CliRunner, tmp_path: Path, reference: Path) -> dict[str, Path]:
    """Operator, supplier (did:web) and verifier key directories, a signed registry and a footprint file."""
    paths = {name: tmp_path / name for name in ("operator", "supplier", "verifier")}
    assert run(runner, "keys", "new", "--dir", paths["operator"]).exit_code == 0
    assert run(runner, "keys", "new", "--dir", paths["supplier"], "--web", "supplier.example").exit_code == 0
    assert run(runner, "keys", "new", "--dir", paths["verifier"], "--web", "verifier.example").exit_code == 0
    registry = tmp_path / "registry.json"
    assert run(runner, "registry", "new", registry, "--dir", paths["operator"]).exit_code == 0
    add = ("registry", "add", registry, "--name")
    assert (
        run(
            runner,
            *add,
            "Supplier Co.",
            "--identity",
            paths["supplier"],
            "--company-id",
            SUPPLIER_ID,
            "--role",
            "supplier",
        ).exit_code
        == 0
    )
    assert (
        run(
            runner,
            *add,
            "Audit Co.",
            "--identity",
            paths["verifier"],
            "--company-id",
            VERIFIER_ID,
            "--role",
            "verifier",
        ).exit_code
        == 0
    )
    assert run(runner, "registry", "sign", registry, "--dir", paths["operator"]).exit_code == 0
    footprint = tmp_path / "footprint.json"
    footprint.write_text(json.dumps(sample_footprint(reference, [SUPPLIER_ID]), indent=2))
    return {**paths, "registry": registry, "footprint": footprint, "decl": tmp_path / "decl.json"}


def operator_key(network: dict[str, Path]) -> str:
    return json.loads((network["operator"] / "identity.json").read_text())["keys"][0]["publicKeyMultibase"]


def test_keys_new_writes_private_keys_0600(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "keys", "new", "--dir", tmp_path / "k")
    assert result.exit_code == 0
    assert "did:key:z6Mk" in result.output
    for name in ("signing.pem", "agreement.pem"):
        assert stat.S_IMODE((tmp_path / "k" / name).stat().st_mode) == 0o600


def test_keys_new_with_passphrase_encrypts(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "keys", "new", "--dir", tmp_path / "k", "--passphrase", input="s3cret\ns3cret\n")
    assert result.exit_code == 0
    assert (tmp_path / "k" / "signing.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_keys_new_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    run(runner, "keys", "new", "--dir", tmp_path)
    result = runner.invoke(app, ["keys", "new", "--dir", str(tmp_path)])
    assert result.exit_code == 2


def test_did_show_prints_did_and_document(runner: CliRunner, network: dict[str, Path]) -> None:
    result = run(runner, "did", "show", "--dir", network["supplier"])
    assert result.exit_code == 0
    assert "did:web:supplier.example" in result.output
    assert "https://supplier.example/.well-known/did.json" in result.output
    doc = json.loads(run(runner, "did", "show", "--dir", network["supplier"], "--document").output)
    assert doc["id"] == "did:web:supplier.example"
    assert len(doc["keyAgreement"]) == 1


def test_registry_show_lists_entries(runner: CliRunner, network: dict[str, Path]) -> None:
    result = run(runner, "registry", "show", network["registry"])
    assert result.exit_code == 0
    assert "v1 (signed)" in result.output
    assert "did:web:supplier.example" in result.output
    assert "verifier" in result.output


def test_sign_then_verify_with_registry(runner: CliRunner, network: dict[str, Path]) -> None:
    signed = run(runner, "sign", network["footprint"], "--out", network["decl"], "--dir", network["supplier"])
    assert signed.exit_code == 0
    raw = network["decl"].read_bytes()
    assert raw == canonicalize(json.loads(raw))
    result = run(
        runner,
        "verify",
        network["decl"],
        "--registry",
        network["registry"],
        "--operator-key",
        operator_key(network),
    )
    assert result.exit_code == 0
    assert result.output.startswith("valid: urn:uuid:")
    assert "did:web:supplier.example (registry v1)" in result.output


def test_default_status_lists_follow_the_did_web_domain(runner: CliRunner, network: dict[str, Path]) -> None:
    run(
        runner,
        "sign",
        network["footprint"],
        "--out",
        network["decl"],
        "--dir",
        network["supplier"],
        "--status-index",
        "5",
    )
    entries = json.loads(network["decl"].read_text())["credentialStatus"]
    assert entries[0]["statusListCredential"] == "https://supplier.example/status/revocation"
    assert entries[0]["statusListIndex"] == "5"


def test_verify_tampered_declaration_prints_one_line_and_exits_1(
    runner: CliRunner, network: dict[str, Path]
) -> None:
    run(runner, "sign", network["footprint"], "--out", network["decl"], "--dir", network["supplier"])
    doc = json.loads(network["decl"].read_text())
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    network["decl"].write_text(json.dumps(doc))
    result = run(
        runner,
        "verify",
        network["decl"],
        "--registry",
        network["registry"],
        "--operator-key",
        operator_key(network),
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("invalid: bad signature: ")


def test_verify_declaration_of_unregistered_issuer(
    runner: CliRunner, network: dict[str, Path], tmp_path: Path
) -> None:
    run(runner, "keys", "new", "--dir", tmp_path / "stranger", "--web", "stranger.example")
    run(runner, "sign", network["footprint"], "--out", network["decl"], "--dir", tmp_path / "stranger")
    result = run(
        runner,
        "verify",
        network["decl"],
        "--registry",
        network["registry"],
        "--operator-key",
        operator_key(network),
    )
    assert (result.exit_code, result.output.split(":")[0:2]) == (1, ["invalid", " unknown issuer"])


def test_verify_without_registry_checks_a_did_key_signature_and_says_the_identity_was_not(
    runner: CliRunner, network: dict[str, Path], tmp_path: Path
) -> None:
    run(
        runner,
        "sign",
        network["footprint"],
        "--out",
        tmp_path / "local.json",
        "--dir",
        network["operator"],
        "--status-url",
        "https://localhost/status",
    )
    unchecked = run(runner, "verify", tmp_path / "local.json")
    assert unchecked.exit_code == 1
    assert "signature valid, but the signer's identity was NOT checked (no --registry)" in unchecked.output
    assert run(runner, "verify", tmp_path / "local.json", "--allow-unregistered").exit_code == 0
    run(runner, "sign", network["footprint"], "--out", network["decl"], "--dir", network["supplier"])
    assert run(runner, "verify", network["decl"]).exit_code == 1


def test_registry_with_wrong_pinned_operator_key_is_refused(
    runner: CliRunner, network: dict[str, Path]
) -> None:
    run(runner, "sign", network["footprint"], "--out", network["decl"], "--dir", network["supplier"])
    wrong = json.loads((network["supplier"] / "identity.json").read_text())["keys"][0]["publicKeyMultibase"]
    result = runner.invoke(
        app, ["verify", str(network["decl"]), "--registry", str(network["registry"]), "--operator-key", wrong]
    )
    assert result.exit_code == 2


def test_assure_adds_a_verifier_proof(runner: CliRunner, network: dict[str, Path]) -> None:
    run(runner, "sign", network["footprint"], "--out", network["decl"], "--dir", network["supplier"])
    assert run(runner, "assure", network["decl"], "--dir", network["verifier"]).exit_code == 0
    assert len(json.loads(network["decl"].read_text())["proof"]) == 2
    result = run(
        runner,
        "verify",
        network["decl"],
        "--registry",
        network["registry"],
        "--operator-key",
        operator_key(network),
    )
    assert result.exit_code == 0
    assert "assured: did:web:verifier.example" in result.output


def test_sign_with_passphrase_from_environment(
    runner: CliRunner, network: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCFX_KEY_PASSPHRASE", "pw")
    run(runner, "keys", "new", "--dir", tmp_path / "locked", "--web", "locked.example")
    assert (
        run(
            runner, "sign", network["footprint"], "--out", network["decl"], "--dir", tmp_path / "locked"
        ).exit_code
        == 0
    )
    monkeypatch.setenv("PCFX_KEY_PASSPHRASE", "wrong")
    assert (
        runner.invoke(
            app,
            [
                "sign",
                str(network["footprint"]),
                "--out",
                str(network["decl"]),
                "--dir",
                str(tmp_path / "locked"),
            ],
        ).exit_code
        == 2
    )


def test_rotation_then_registry_update_keeps_old_declarations_valid(
    runner: CliRunner, network: dict[str, Path], tmp_path: Path
) -> None:
    old_decl = tmp_path / "old.json"
    run(runner, "sign", network["footprint"], "--out", old_decl, "--dir", network["supplier"])
    time.sleep(1.1)  # key windows have whole-second bounds: the old proof must precede the retirement
    assert run(runner, "keys", "new", "--rotate", "--dir", network["supplier"]).exit_code == 0
    time.sleep(1.1)
    run(
        runner,
        "registry",
        "add",
        network["registry"],
        "--name",
        "Supplier Co.",
        "--identity",
        network["supplier"],
        "--company-id",
        SUPPLIER_ID,
        "--role",
        "supplier",
    )
    run(runner, "registry", "sign", network["registry"], "--dir", network["operator"])
    assert "v2 (signed)" in run(runner, "registry", "show", network["registry"]).output
    run(runner, "sign", network["footprint"], "--out", network["decl"], "--dir", network["supplier"])
    for path in (old_decl, network["decl"]):
        result = run(
            runner, "verify", path, "--registry", network["registry"], "--operator-key", operator_key(network)
        )
        assert (result.exit_code, "(registry v2)" in result.output) == (0, True)


def test_sign_refuses_a_non_pact_file(runner: CliRunner, network: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x"}')
    result = runner.invoke(
        app, ["sign", str(bad), "--out", str(network["decl"]), "--dir", str(network["supplier"])]
    )
    assert result.exit_code == 2


def test_sign_out_to_a_folder_names_the_folder(runner: CliRunner, network: dict[str, Path], tmp_path: Path):
    out = run(runner, "sign", network["footprint"], "--out", tmp_path, "--dir", network["supplier"])
    assert out.exit_code == 2
    assert f"error: {tmp_path} is a folder; give the file to write" in out.output


def test_sign_out_into_a_missing_folder_names_it(runner: CliRunner, network: dict[str, Path], tmp_path: Path):
    target = tmp_path / "missing" / "decl.json"
    out = run(runner, "sign", network["footprint"], "--out", target, "--dir", network["supplier"])
    assert out.exit_code == 2
    assert f"error: cannot write {target}: folder {tmp_path / 'missing'} does not exist" in out.output


def test_a_self_signed_declaration_claiming_another_company_is_not_called_valid(
    runner: CliRunner, network: dict[str, Path], tmp_path: Path
):
    # a forger's own did:key signs a footprint whose companyIds name the registered supplier
    forged = tmp_path / "forged.json"
    run(runner, "keys", "new", "--dir", tmp_path / "forger")
    run(
        runner,
        "sign",
        network["footprint"],
        "--out",
        forged,
        "--dir",
        tmp_path / "forger",
        "--status-url",
        "https://localhost/status",
    )
    out = run(runner, "verify", forged)
    assert out.exit_code == 1
    assert "valid:" not in out.output
    assert "identity was NOT checked" in out.output


def test_sign_on_a_did_key_home_uses_the_nodes_status_base_and_says_so(
    runner: CliRunner, network: dict[str, Path], tmp_path: Path
) -> None:
    from pcfx.node.issuing import status_base_url

    did = json.loads((network["operator"] / "identity.json").read_text())["did"]
    result = run(
        runner, "sign", network["footprint"], "--out", tmp_path / "d.json", "--dir", network["operator"]
    )
    assert result.exit_code == 0, result.output
    assert (
        f"note: status lists under {status_base_url(did)}, the node's default for a did:key" in result.output
    )
    entries = json.loads((tmp_path / "d.json").read_text())["credentialStatus"]
    assert {e["statusListCredential"].rsplit("/", 1)[0] for e in entries} == {status_base_url(did)}
    assert run(runner, "verify", tmp_path / "d.json", "--allow-unregistered").exit_code == 0
