"""OAuth2 client credentials, JWT expiry, scopes, client removal, per-buyer access and plain-HTTP refusal."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pcfx.node.pact.auth import (
    RegisteredClient,
    StaticClientRegistry,
    TokenSigner,
    hash_secret,
    parse_basic_authorization,
    verify_secret,
)
from pcfx.node.pact.errors import BadRequestError, TokenExpiredError
from pcfx.node.pact.host import PactHost, install_pact
from pcfx.node.pact.source import StaticFootprintSource
from pcfx.node.pact.store import add_client, remove_client
from pcfx.node.store.db import session_scope
from pcfx.node.store.pact_tables import PactClient
from sqlmodel import select

from .conftest import ServedApp


def test_secret_hash_verifies_the_secret_and_nothing_else():
    encoded = hash_secret("correct horse")
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_secret("correct horse", encoded)
    assert not verify_secret("correct horsf", encoded)
    assert not verify_secret("correct horse", "plain:correct horse")


def test_same_secret_hashes_differently_each_time():
    assert hash_secret("s") != hash_secret("s")


def test_registered_clients_are_stored_without_their_secret(pact_node):
    with session_scope(pact_node.engine) as session:
        row = session.exec(select(PactClient).where(PactClient.client_id == pact_node.client_id)).one()
        assert pact_node.client_secret not in row.secret_hash
        assert verify_secret(pact_node.client_secret, row.secret_hash)


def test_basic_authorization_is_parsed_with_form_decoding():
    header = "Basic " + base64.b64encode(b"a%3Ab:s%20t").decode()
    assert parse_basic_authorization(header) == ("a:b", "s t")
    assert parse_basic_authorization("Bearer x") is None
    assert parse_basic_authorization("Basic !!!") is None


def test_eddsa_tokens_verify_and_hs256_forgeries_do_not():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = TokenSigner.eddsa(Ed25519PrivateKey.generate(), issuer="node")
    issued = signer.issue("buyer", frozenset({"footprint:list"}))
    assert signer.verify(issued.access_token).client_id == "buyer"
    forged = jwt.encode({"sub": "buyer", "iss": "node", "aud": "pcfx-pact", "iat": 1, "exp": 2**40}, "k" * 32)
    with pytest.raises(BadRequestError):
        signer.verify(forged)


def test_expired_token_is_token_expired():
    signer = TokenSigner.hs256(bytes(range(32)), issuer="node", lifetime=timedelta(seconds=60))
    issued = signer.issue("buyer", frozenset(), now=time.time() - 120)
    with pytest.raises(TokenExpiredError):
        signer.verify(issued.access_token)


def test_token_for_another_issuer_is_bad_request():
    issued = TokenSigner.hs256(bytes(32), issuer="other").issue("buyer", frozenset())
    with pytest.raises(BadRequestError):
        TokenSigner.hs256(bytes(32), issuer="node").verify(issued.access_token)


def test_expired_token_is_answered_401_token_expired(pact_node):
    expired = pact_node.host.signer.issue(
        pact_node.client_id, frozenset({"footprint:list"}), now=time.time() - 7200
    ).access_token
    with pact_node.http() as http:
        response = http.get("/3/footprints", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json() == {"code": "TokenExpired", "message": "the access token has expired"}


def test_token_request_without_grant_type_is_invalid_request(pact_node):
    with pact_node.http() as http:
        response = http.post("/auth/token", data={}, auth=(pact_node.client_id, pact_node.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_request_with_another_grant_is_unsupported(pact_node):
    with pact_node.http() as http:
        response = http.post(
            "/auth/token",
            data={"grant_type": "password"},
            auth=(pact_node.client_id, pact_node.client_secret),
        )
    assert response.json()["error"] == "unsupported_grant_type"


def test_client_secret_in_the_form_body_is_accepted(pact_node):
    with pact_node.http() as http:
        response = http.post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": pact_node.client_id,
                "client_secret": pact_node.client_secret,
            },
        )
    assert response.status_code == 200


def test_scope_request_is_narrowed_to_what_was_asked(pact_node):
    with pact_node.http() as http:
        response = http.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "footprint:list"},
            auth=(pact_node.client_id, pact_node.client_secret),
        )
        token = response.json()["access_token"]
        assert response.json()["scope"] == "footprint:list"
        listed = http.get("/3/footprints?limit=1", headers={"Authorization": f"Bearer {token}"})
        got = http.get(
            f"/3/footprints/{pact_node.footprints[0]['id']}", headers={"Authorization": f"Bearer {token}"}
        )
    assert listed.status_code == 200
    assert got.status_code == 403
    assert got.json() == {"code": "AccessDenied", "message": "the access token does not grant footprint:read"}


def test_client_without_a_scope_cannot_ask_for_it(pact_node):
    with pact_node.http() as http:
        response = http.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "footprint:read"},
            auth=(pact_node.limited_id, pact_node.limited_secret),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_restricted_footprint_is_forbidden_to_other_clients(pact_node):
    with pact_node.http() as http:
        response = http.get(f"/3/footprints/{pact_node.restricted_id}", headers=pact_node.headers())
    assert response.status_code == 403
    assert response.json()["code"] == "AccessDenied"


def test_restricted_footprint_is_served_to_the_named_buyer(pact_node):
    headers = pact_node.headers(pact_node.other_id, pact_node.other_secret)
    with pact_node.http() as http:
        got = http.get(f"/3/footprints/{pact_node.restricted_id}", headers=headers)
        listed = http.get("/3/footprints", headers=headers).json()["data"]
    assert got.status_code == 200
    assert pact_node.restricted_id in {fp["id"] for fp in listed}
    assert len(listed) == len(pact_node.footprints)


def test_restricted_footprint_is_not_listed_to_other_clients(pact_node):
    with pact_node.http() as http:
        listed = http.get("/3/footprints", headers=pact_node.headers()).json()["data"]
    assert pact_node.restricted_id not in {fp["id"] for fp in listed}


def test_removed_client_loses_access(pact_node):
    with session_scope(pact_node.engine) as session:
        created = add_client(session, name="Temporary", client_id="temporary")
    headers = pact_node.headers(created.client_id, created.client_secret)
    pact_node.host.authenticator.client_recheck_seconds = 0.0
    try:
        with pact_node.http() as http:
            assert http.get("/3/footprints?limit=1", headers=headers).status_code == 200
            with session_scope(pact_node.engine) as session:
                assert remove_client(session, client_id=created.client_id)
            assert http.get("/3/footprints?limit=1", headers=headers).status_code == 400
            again = http.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(created.client_id, created.client_secret),
            )
            assert again.status_code == 401
    finally:
        pact_node.host.authenticator.client_recheck_seconds = 5.0


def test_unknown_pact_path_gets_a_pact_error_body(pact_node):
    with pact_node.http() as http:
        response = http.get("/3/nothing-here", headers=pact_node.headers())
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_plain_http_app_refuses_the_pact_api_unless_allowed(samples):
    registry = StaticClientRegistry([RegisteredClient("buyer", "Buyer", hash_secret("s"))])
    signer = TokenSigner.hs256(bytes(32), issuer="node")
    app = FastAPI()
    install_pact(app, PactHost(source=StaticFootprintSource(samples), registry=registry, signer=signer))
    served = ServedApp(app, cert=None).start()
    try:
        with httpx.Client(base_url=served.url) as http:
            token = http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("buyer", "s"))
            issued = signer.issue("buyer", frozenset({"footprint:list"})).access_token
            listed = http.get("/3/footprints", headers={"Authorization": f"Bearer {issued}"})
    finally:
        served.stop()
    assert token.status_code == 400
    assert "access_token" not in token.text
    assert listed.status_code == 400
    assert listed.json() == {"code": "BadRequest", "message": "HTTPS is required"}
