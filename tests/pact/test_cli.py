"""`pcfx clients`, `pcfx pact pull`, `pcfx pact peer` and `pcfx dev-cert` through the real CLI."""

from __future__ import annotations

import json
import re
import stat

import pytest
from cryptography import x509
from pcfx.node.cli.app import app
from pcfx.node.home import init_home
from pcfx.node.pact.auth import verify_secret
from pcfx.node.pact.store import list_unsigned
from pcfx.node.store.db import open_store, session_scope
from pcfx.node.store.pact_tables import PactClient
from sqlmodel import select
from typer.testing import CliRunner

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture()
def home(tmp_path):
    return init_home(tmp_path / "home", name="Buyer Co", company_id="urn:pcfx:uscc:91110000000000001A").home


def invoke(*args: str):
    result = runner.invoke(app, [str(arg) for arg in args])
    return result


def test_clients_add_prints_the_secret_once_and_stores_a_hash(home):
    result = invoke("clients", "add", "Acme Buyer", "--client-id", "acme", "--home", home)
    assert result.exit_code == 0, result.output
    secret = re.search(r"client_secret: (\S+)", result.output).group(1)
    engine = open_store(f"sqlite:///{home / 'pcfx.db'}")
    with session_scope(engine) as session:
        row = session.exec(select(PactClient).where(PactClient.client_id == "acme")).one()
        assert verify_secret(secret, row.secret_hash)
        assert secret not in row.secret_hash
    engine.dispose()


def test_clients_list_and_remove(home):
    invoke("clients", "add", "Acme Buyer", "--client-id", "acme", "--home", home)
    invoke("clients", "grant", "acme", "urn:pcfx:product:acme:cement", "--home", home)
    listed = invoke("clients", "list", "--home", home)
    assert "acme" in listed.output
    assert "urn:pcfx:product:acme:cement" in listed.output
    assert invoke("clients", "remove", "acme", "--home", home).exit_code == 0
    assert "acme" not in invoke("clients", "list", "--home", home).output
    again = invoke("clients", "remove", "acme", "--home", home)
    assert again.exit_code == 1


def test_clients_add_refuses_a_taken_id(home):
    invoke("clients", "add", "A", "--client-id", "same", "--home", home)
    result = invoke("clients", "add", "B", "--client-id", "same", "--home", home)
    assert result.exit_code == 1
    assert "already registered" in result.output


def test_client_ids_and_names_with_brackets_print_as_they_are(home):
    added = invoke("clients", "add", "[bold]Acme[/x]", "--client-id", "[/x]acme", "--home", home)
    assert added.exit_code == 0, added.output
    assert "client_id:     [/x]acme" in added.output
    listed = invoke("clients", "list", "--home", home)
    assert listed.exit_code == 0, listed.output
    assert "[/x]acme" in listed.output and "[bold]Acme[/x]" in listed.output
    again = invoke("clients", "add", "B", "--client-id", "[/x]acme", "--home", home)
    assert again.exit_code == 1
    assert "error: client '[/x]acme' is already registered" in again.output


def test_dev_cert_covers_localhost_and_loopback_with_a_private_key_file(tmp_path):
    result = invoke("dev-cert", "--out", tmp_path / "tls")
    assert result.exit_code == 0, result.output
    cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert stat.S_IMODE((tmp_path / "tls" / "key.pem").stat().st_mode) == 0o600


def test_pact_pull_stores_footprints_and_reports_each(home, pact_node):
    result = invoke(
        "pact", "pull", pact_node.url,
        "--client-id", pact_node.client_id,
        "--client-secret", pact_node.client_secret,
        "--geography", "DE",
        "--ca-file", pact_node.cert.cert_path,
        "--save-peer",
        "--home", home,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = {fp["id"] for fp in pact_node.footprints if fp["pcf"].get("geographyCountry") == "DE"} - {
        pact_node.restricted_id
    }
    assert f"{len(expected)} footprints from {pact_node.url}: unsigned {len(expected)}" in result.output
    engine = open_store(f"sqlite:///{home / 'pcfx.db'}")
    with session_scope(engine) as session:
        assert {row.footprint_id for row in list_unsigned(session)} == expected
    engine.dispose()
    peers = json.loads((home / "pact-peers.json").read_text())
    assert peers["peers"][0]["base_url"] == pact_node.url
    assert stat.S_IMODE((home / "pact-peers.json").stat().st_mode) == 0o600
    assert pact_node.url in invoke("pact", "peer", "list", "--home", home).output


def test_pact_pull_with_wrong_credentials_fails_with_a_reason(home, pact_node):
    result = invoke(
        "pact", "pull", pact_node.url,
        "--client-id", pact_node.client_id,
        "--client-secret", "wrong",
        "--ca-file", pact_node.cert.cert_path,
        "--home", home,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "pull failed" in result.output
    assert "401" in result.output
