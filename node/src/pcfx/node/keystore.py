"""Key files of a node: private keys as PKCS8 PEM with mode 0600 (optionally passphrase-encrypted) and a
public `identity.json` naming the DID and every signing key the company has used.

Layout of a key directory (default `<node home>/keys`):
  signing.pem      current Ed25519 signing key
  signing-N.pem    retired signing keys, kept so their public halves stay on record after a rotation
  agreement.pem    X25519 key-agreement key (encryption to this company)
  identity.json    {"did", "keys": [{"id", "publicKeyMultibase", "created", "file", "retired"}], "keyAgreement"}
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pcfx.protocol.dates import format_datetime
from pcfx.protocol.did import did_key, did_key_document, did_web, did_web_document, did_web_domain_path
from pcfx.protocol.errors import KeyFormatError
from pcfx.protocol.keys import (
    Ed25519PrivateKey,
    X25519PrivateKey,
    generate_key_agreement_key,
    generate_signing_key,
    private_key_from_pkcs8,
    private_key_to_pkcs8,
    public_key_from_multikey,
    public_multikey,
    x25519_from_multikey,
    x25519_multikey,
)
from pcfx.protocol.registry import AgreementKey, RegistryEntry, RegistryKey, Role

__all__ = [
    "IDENTITY_FILE",
    "Identity",
    "KeyFileError",
    "KeyInfo",
    "KeyStore",
    "read_private_key",
    "write_private_key",
]

IDENTITY_FILE = "identity.json"
SIGNING_FILE = "signing.pem"
AGREEMENT_FILE = "agreement.pem"


class KeyFileError(Exception):
    """A key file is missing, unreadable, too widely readable, or its passphrase is wrong."""


@dataclass(frozen=True)
class KeyInfo:
    """One signing key on record: its verification method id and when it was made and retired."""

    id: str
    public_key_multibase: str
    created: str
    file: str
    retired: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyInfo:
        """A key record as `identity.json` holds it."""
        return cls(
            id=data["id"],
            public_key_multibase=data["publicKeyMultibase"],
            created=data["created"],
            file=data["file"],
            retired=data.get("retired"),
        )

    def as_json(self) -> dict[str, Any]:
        """The record written to `identity.json` (`retired` only once retired)."""
        data = {
            "id": self.id,
            "publicKeyMultibase": self.public_key_multibase,
            "created": self.created,
            "file": self.file,
        }
        return data | ({"retired": self.retired} if self.retired else {})


@dataclass(frozen=True)
class Identity:
    """The public identity of a key directory: DID, current signing key, key-agreement key, key history."""

    did: str
    keys: tuple[KeyInfo, ...]
    key_agreement_multibase: str

    @property
    def current(self) -> KeyInfo:
        """The signing key in use (the one not retired)."""
        return next(k for k in self.keys if k.retired is None)

    @property
    def verification_method(self) -> str:
        """Verification method id of the current signing key."""
        return self.current.id

    def registry_entry(
        self,
        *,
        legal_name: str,
        company_ids: list[str],
        roles: list[Role],
        valid_from: datetime | str | None = None,
        nats_account: str | None = None,
    ) -> RegistryEntry:
        """This identity as a trust-registry entry: every key on record, valid from its creation (or from
        `valid_from`, for demo and test networks that backdate their keys) until it was retired; its X25519
        key-agreement key (buyer-only declarations are sealed to it) and, in a NATS network, its account."""
        # The key records hold timestamps as strings: validated (not constructed) into the model's datetimes.
        keys = [
            RegistryKey.model_validate(
                {
                    "id": k.id,
                    "public_key_multibase": k.public_key_multibase,
                    "valid_from": valid_from or k.created,
                    "valid_until": k.retired,
                }
            )
            for k in self.keys
        ]
        agreement = AgreementKey(
            id=f"{self.did}#{self.key_agreement_multibase}", public_key_multibase=self.key_agreement_multibase
        )
        return RegistryEntry(
            did=self.did,
            legal_name=legal_name,
            company_ids=company_ids,
            roles=roles,
            keys=keys,
            key_agreement=[agreement],
            nats_account=nats_account,
        )


def write_private_key(
    path: Path, key: Ed25519PrivateKey | X25519PrivateKey, passphrase: str | None = None
) -> None:
    """Write a PKCS8 PEM key file readable by its owner only (created 0600, never world-readable in between)."""
    data = private_key_to_pkcs8(key, passphrase)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def read_private_key(path: Path, passphrase: str | None = None) -> Ed25519PrivateKey | X25519PrivateKey:
    """Load a key file; refuses files that group or others may read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeyFileError(f"no key file at {path}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path} is accessible by group/others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    try:
        return private_key_from_pkcs8(path.read_bytes(), passphrase)
    except KeyFormatError as exc:
        raise KeyFileError(f"{path}: {exc}") from exc


class KeyStore:
    """A node's key directory (see the module docstring for its layout)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def exists(self) -> bool:
        """True when the directory already holds an identity."""
        return (self.directory / IDENTITY_FILE).is_file()

    def create(
        self, *, web_domain: str | None = None, passphrase: str | None = None, now: datetime | None = None
    ) -> Identity:
        """Generate the signing and key-agreement keys; the DID is did:web of `web_domain`, else did:key."""
        if self.exists():
            raise KeyFileError(f"{self.directory} already holds an identity; use rotate")
        signing, agreement = generate_signing_key(), generate_key_agreement_key()
        multikey = public_multikey(signing)
        did = did_web(web_domain) if web_domain else did_key(signing)
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        write_private_key(self.directory / SIGNING_FILE, signing, passphrase)
        write_private_key(self.directory / AGREEMENT_FILE, agreement, passphrase)
        created = format_datetime(now or datetime.now(UTC))
        identity = Identity(
            did=did,
            keys=(
                KeyInfo(
                    id=f"{did}#{multikey}", public_key_multibase=multikey, created=created, file=SIGNING_FILE
                ),
            ),
            key_agreement_multibase=x25519_multikey(agreement),
        )
        self._write_identity(identity)
        return identity

    def rotate(self, *, passphrase: str | None = None, now: datetime | None = None) -> Identity:
        """Retire the current signing key (kept as signing-N.pem) and start a new one under the same did:web."""
        identity = self.identity()
        if identity.did.startswith("did:key:"):
            raise KeyFileError(
                "a did:key is its key; rotating it means a new identity (create one elsewhere)"
            )
        stamp = format_datetime(now or datetime.now(UTC))
        retired_file = f"signing-{len(identity.keys)}.pem"
        os.replace(self.directory / SIGNING_FILE, self.directory / retired_file)
        signing = generate_signing_key()
        write_private_key(self.directory / SIGNING_FILE, signing, passphrase)
        multikey = public_multikey(signing)
        keys = tuple(
            replace(k, file=retired_file, retired=stamp) if k.retired is None else k for k in identity.keys
        )
        new = KeyInfo(
            id=f"{identity.did}#{multikey}", public_key_multibase=multikey, created=stamp, file=SIGNING_FILE
        )
        identity = Identity(
            did=identity.did, keys=(*keys, new), key_agreement_multibase=identity.key_agreement_multibase
        )
        self._write_identity(identity)
        return identity

    def identity(self) -> Identity:
        """The public identity on record."""
        try:
            data = json.loads((self.directory / IDENTITY_FILE).read_text("utf-8"))
            return Identity(
                did=data["did"],
                keys=tuple(KeyInfo.from_json(k) for k in data["keys"]),
                key_agreement_multibase=data["keyAgreement"]["publicKeyMultibase"],
            )
        except FileNotFoundError as exc:
            raise KeyFileError(f"no identity in {self.directory}; run `pcfx keys new`") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFileError(
                f"{self.directory / IDENTITY_FILE} is not a pcfx identity file: {exc}"
            ) from exc

    def signing_key(self, passphrase: str | None = None) -> Ed25519PrivateKey:
        """The current signing key; checked against the public key on record."""
        key = read_private_key(self.directory / SIGNING_FILE, passphrase)
        if (
            not isinstance(key, Ed25519PrivateKey)
            or public_multikey(key) != self.identity().current.public_key_multibase
        ):
            raise KeyFileError(
                f"{self.directory / SIGNING_FILE} is not the signing key named in {IDENTITY_FILE}"
            )
        return key

    def agreement_key(self, passphrase: str | None = None) -> X25519PrivateKey:
        """The X25519 key-agreement key."""
        key = read_private_key(self.directory / AGREEMENT_FILE, passphrase)
        if not isinstance(key, X25519PrivateKey):
            raise KeyFileError(f"{self.directory / AGREEMENT_FILE} is not an X25519 key")
        return key

    def did_document(self) -> dict[str, Any]:
        """The DID document to publish (did:web) or the one the did:key resolves to."""
        identity = self.identity()
        if identity.did.startswith("did:key:"):
            return did_key_document(identity.did)
        # Retired keys leave the DID document: what they signed while valid is checked against the trust
        # registry's key windows, never against the DID document.
        active = [
            (k.id.split("#", 1)[1], public_key_from_multikey(k.public_key_multibase))
            for k in identity.keys
            if k.retired is None
        ]
        agreement = x25519_from_multikey(identity.key_agreement_multibase)
        return did_web_document(
            did_web_domain_path(identity.did), active, [(identity.key_agreement_multibase, agreement)]
        )

    def _write_identity(self, identity: Identity) -> None:
        data = {
            "did": identity.did,
            "keys": [k.as_json() for k in identity.keys],
            "keyAgreement": {"publicKeyMultibase": identity.key_agreement_multibase},
        }
        tmp = self.directory / (IDENTITY_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
        os.replace(tmp, self.directory / IDENTITY_FILE)
