"""`pcfx init --standalone`: a node home that is a network of one company, for a single company's PACT host.

Besides the usual home (`pcfx.node.home.init_home`) it holds an operator key of its own (`operator/`), a signed
trust registry v1 listing the company as a supplier (`registry.json`), the operator's public key pinned in
`pcfx.toml`, and a self-signed development certificate (`tls/`) that the PACT API serves. Buyers of such a
host verify its declarations against that registry once they pin the operator key it prints."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w
from pcfx.node.config import CONFIG_FILE, Settings, load_settings
from pcfx.node.home import init_home
from pcfx.node.keystore import KeyStore
from pcfx.node.pact.devcert import make_dev_certificate
from pcfx.protocol.registry import Role, TrustRegistry, sign_registry

__all__ = ["OPERATOR_DIR", "TLS_DIR", "StandaloneHome", "init_standalone_home"]

OPERATOR_DIR, TLS_DIR = "operator", "tls"
#: A development certificate is renewed by running `pcfx dev-cert --home HOME` again.
CERT_DAYS = 90


@dataclass(frozen=True, slots=True)
class StandaloneHome:
    """What `init_standalone_home` made."""

    settings: Settings
    operator_did: str
    operator_key: str  # the public key pinned as registry_operator_key
    cert_path: Path
    key_path: Path


def init_standalone_home(
    directory: Path | str,
    *,
    name: str,
    company_id: str,
    web_domain: str | None = None,
    passphrase: str | None = None,
    hostnames: tuple[str, ...] = ("localhost",),
    **settings: Any,
) -> StandaloneHome:
    """A node home (`init_home`, same arguments) with its own operator, signed registry and dev certificate."""
    base = init_home(
        directory, name=name, company_id=company_id, web_domain=web_domain, passphrase=passphrase, **settings
    )
    home = base.home
    operator_store = KeyStore(home / OPERATOR_DIR)
    operator = operator_store.create(passphrase=passphrase)
    company = KeyStore(base.keys_path).identity()
    now = datetime.now(UTC)
    entry = company.registry_entry(legal_name=name, company_ids=[company_id], roles=[Role.SUPPLIER])
    registry = TrustRegistry(version=1, issued=now, operator=operator.did, entries=[entry])
    signed = sign_registry(
        registry,
        key=operator_store.signing_key(passphrase),
        verification_method=operator.verification_method,
        created=now,
    )
    base.registry_path.write_text(json.dumps(signed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    cert = make_dev_certificate(home / TLS_DIR, hostnames=hostnames, days=CERT_DAYS)
    operator_key = operator.current.public_key_multibase
    _add_settings(
        home,
        registry_operator_key=operator_key,
        tls_cert=str(cert.cert_path.relative_to(home)),
        tls_key=str(cert.key_path.relative_to(home)),
    )
    return StandaloneHome(load_settings(home), operator.did, operator_key, cert.cert_path, cert.key_path)


def _add_settings(home: Path, **values: str) -> None:
    path = home / CONFIG_FILE
    current = tomllib.loads(path.read_text(encoding="utf-8"))
    path.write_text(
        "# pcfx node configuration; PCFX_* environment variables override these values.\n"
        "# A standalone home: its own trust registry (registry.json, operator key in operator/) and a\n"
        "# development certificate (tls/, renew with `pcfx dev-cert --home .`).\n"
        + tomli_w.dumps({**current, **values}),
        encoding="utf-8",
    )
