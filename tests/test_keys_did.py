"""Keys, Multikeys, key files and DID documents."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pcfx.node.keystore import KeyFileError, KeyStore, read_private_key, write_private_key
from pcfx.protocol.did import (
    did_key,
    did_key_document,
    did_key_verification_method,
    did_web,
    did_web_document,
    did_web_domain_path,
    did_web_url,
    resolve_did_key,
)
from pcfx.protocol.errors import KeyFormatError
from pcfx.protocol.keys import (
    X25519PrivateKey,
    ed25519_to_x25519_public,
    generate_key_agreement_key,
    generate_signing_key,
    private_key_from_multikey,
    private_key_from_pkcs8,
    private_key_to_pkcs8,
    private_multikey,
    public_key_bytes,
    public_key_from_multikey,
    public_multikey,
    x25519_from_multikey,
    x25519_multikey,
)

W3C_SECRET = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def test_ed25519_public_multikey_starts_with_z6mk_and_round_trips() -> None:
    key = generate_signing_key()
    multikey = public_multikey(key)
    assert multikey.startswith("z6Mk")
    assert public_key_bytes(public_key_from_multikey(multikey)) == public_key_bytes(key)


def test_secret_multikey_round_trips() -> None:
    key = private_key_from_multikey(W3C_SECRET)
    assert private_multikey(key) == W3C_SECRET
    assert public_multikey(key) == W3C_PUBLIC


def test_x25519_multikey_starts_with_z6ls_and_round_trips() -> None:
    key = generate_key_agreement_key()
    multikey = x25519_multikey(key)
    assert multikey.startswith("z6LS")
    assert x25519_multikey(x25519_from_multikey(multikey)) == multikey


def test_x25519_multikey_is_not_accepted_as_ed25519() -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_multikey(x25519_multikey(generate_key_agreement_key()))


def test_pkcs8_without_passphrase_round_trips() -> None:
    key = generate_signing_key()
    pem = private_key_to_pkcs8(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_multikey(private_key_from_pkcs8(pem)) == public_multikey(key)


def test_pkcs8_with_passphrase_is_encrypted_and_needs_it() -> None:
    key = generate_signing_key()
    pem = private_key_to_pkcs8(key, "correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert public_multikey(private_key_from_pkcs8(pem, "correct horse")) == public_multikey(key)
    with pytest.raises(KeyFormatError):
        private_key_from_pkcs8(pem, "wrong")
    with pytest.raises(KeyFormatError):
        private_key_from_pkcs8(pem)


def test_x25519_key_survives_pkcs8() -> None:
    key = generate_key_agreement_key()
    loaded = private_key_from_pkcs8(private_key_to_pkcs8(key))
    assert isinstance(loaded, X25519PrivateKey)
    assert x25519_multikey(loaded) == x25519_multikey(key)


def test_did_key_of_w3c_key_and_its_resolution() -> None:
    key = private_key_from_multikey(W3C_SECRET)
    assert did_key(key) == f"did:key:{W3C_PUBLIC}"
    assert did_key_verification_method(key) == f"did:key:{W3C_PUBLIC}#{W3C_PUBLIC}"
    assert public_multikey(resolve_did_key(f"did:key:{W3C_PUBLIC}#{W3C_PUBLIC}")) == W3C_PUBLIC


def test_resolve_did_key_refuses_other_methods() -> None:
    with pytest.raises(KeyFormatError):
        resolve_did_key("did:web:example.com")


def test_did_key_document_has_assertion_and_derived_key_agreement() -> None:
    key = private_key_from_multikey(W3C_SECRET)
    doc = did_key_document(f"did:key:{W3C_PUBLIC}")
    vm_id = f"did:key:{W3C_PUBLIC}#{W3C_PUBLIC}"
    x_multikey = x25519_multikey(ed25519_to_x25519_public(key.public_key()))
    assert doc["id"] == f"did:key:{W3C_PUBLIC}"
    assert doc["assertionMethod"] == [vm_id]
    assert doc["keyAgreement"] == [f"did:key:{W3C_PUBLIC}#{x_multikey}"]
    assert doc["verificationMethod"][0] == {
        "id": vm_id,
        "type": "Multikey",
        "controller": f"did:key:{W3C_PUBLIC}",
        "publicKeyMultibase": W3C_PUBLIC,
    }


@pytest.mark.parametrize(
    ("domain_path", "did", "url"),
    [
        ("acme.example", "did:web:acme.example", "https://acme.example/.well-known/did.json"),
        (
            "acme.example:8443",
            "did:web:acme.example%3A8443",
            "https://acme.example:8443/.well-known/did.json",
        ),
        (
            "acme.example/plants/wuhan",
            "did:web:acme.example:plants:wuhan",
            "https://acme.example/plants/wuhan/did.json",
        ),
    ],
)
def test_did_web_identifier_and_document_url(domain_path: str, did: str, url: str) -> None:
    assert did_web(domain_path) == did
    assert did_web_url(did) == url
    assert did_web_domain_path(did) == domain_path


@pytest.mark.parametrize("domain_path", ["acme.example:8443/plants/wuhan", "acme.example/plant 2/a%b"])
def test_keystore_did_web_document_names_its_own_did(tmp_path: Path, domain_path: str) -> None:
    store = KeyStore(tmp_path)
    identity = store.create(web_domain=domain_path)
    assert did_web(did_web_domain_path(identity.did)) == identity.did
    doc = store.did_document()
    assert doc["id"] == identity.did
    assert doc["assertionMethod"] == [identity.verification_method]


def test_did_web_document_lists_both_keys_during_rotation_and_x25519_for_agreement() -> None:
    old, new, agreement = generate_signing_key(), generate_signing_key(), generate_key_agreement_key()
    doc = did_web_document("acme.example", [("key-2025", old), ("key-2026", new)], [("enc-1", agreement)])
    assert doc["id"] == "did:web:acme.example"
    assert doc["assertionMethod"] == ["did:web:acme.example#key-2025", "did:web:acme.example#key-2026"]
    assert doc["keyAgreement"] == ["did:web:acme.example#enc-1"]
    assert [m["publicKeyMultibase"] for m in doc["verificationMethod"]] == [
        public_multikey(old),
        public_multikey(new),
        x25519_multikey(agreement),
    ]


def test_key_file_is_written_0600(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, generate_signing_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_readable_by_group_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, generate_signing_key())
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_private_key(path)


def test_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, generate_signing_key())
    with pytest.raises(FileExistsError):
        write_private_key(path, generate_signing_key())


def test_keystore_did_key_identity(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    identity = store.create(now=datetime(2026, 1, 5, tzinfo=UTC))
    key = store.signing_key()
    assert identity.did == did_key(key)
    assert identity.verification_method == did_key_verification_method(key)
    assert identity.current.created == "2026-01-05T00:00:00Z"
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert store.did_document() == did_key_document(key)


def test_keystore_with_passphrase_needs_it(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create(passphrase="s3cret")
    with pytest.raises(KeyFileError):
        store.signing_key()
    assert public_multikey(store.signing_key("s3cret")) == store.identity().current.public_key_multibase


def test_keystore_rotation_keeps_old_key_on_record_and_same_did(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    first = store.create(web_domain="acme.example", now=datetime(2025, 1, 1, tzinfo=UTC))
    old_key = store.signing_key()
    second = store.rotate(now=datetime(2026, 1, 1, tzinfo=UTC))
    assert second.did == first.did == "did:web:acme.example"
    assert [k.retired for k in second.keys] == ["2026-01-01T00:00:00Z", None]
    assert second.keys[0].id == first.verification_method
    assert public_multikey(read_private_key(tmp_path / second.keys[0].file)) == public_multikey(old_key)
    assert public_multikey(store.signing_key()) != public_multikey(old_key)
    doc = store.did_document()
    assert doc["assertionMethod"] == [second.verification_method]
    assert doc["keyAgreement"] == [f"did:web:acme.example#{second.key_agreement_multibase}"]


def test_keystore_refuses_rotating_a_did_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create()
    with pytest.raises(KeyFileError, match="did:key"):
        store.rotate()


def test_keystore_create_twice_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create()
    with pytest.raises(KeyFileError, match="already"):
        store.create()
