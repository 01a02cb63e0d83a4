"""The node as an issuer: signing its declarations with its keystore key and keeping its own status lists
(revocation, deprecation) in the store, re-signed whenever a bit changes. No bus here; `Node` publishes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pcfx.node.keystore import KeyStore
from pcfx.node.store import repository as repo
from pcfx.node.store.facts import parse_instant
from pcfx.node.store.models import StatusList
from pcfx.protocol.declaration import build_declaration, declaration_bytes, sign_declaration
from pcfx.protocol.did import did_web_url
from pcfx.protocol.keys import Ed25519PrivateKey
from pcfx.protocol.status import (
    build_status_list_credential,
    decode_status_list,
    new_status_bits,
    set_status,
    sign_status_list,
    status_list_urls,
)
from pcfx.protocol.subjects import subject_token
from sqlmodel import Session, select

__all__ = ["Issuer", "status_base_url"]

#: The two lists every declaration references (statusPurpose -> list).
PURPOSES = ("revocation", "message")


def status_base_url(did: str) -> str:
    """Where an issuer's status lists live: `https://<did:web host/path>/status`; did:key issuers (local use)
    get a non-resolvable `https://<token>.pcfx.invalid/status` (lists travel on the bus, not over HTTP)."""
    if did.startswith("did:web:"):
        return did_web_url(did).removesuffix("/did.json").removesuffix("/.well-known") + "/status"
    return f"https://{subject_token(did)[-26:]}.pcfx.invalid/status"


@dataclass
class Issuer:
    """Signs this node's declarations and maintains its status lists (stored in the `status_list` table)."""

    did: str
    verification_method: str
    key: Ed25519PrivateKey
    # own declaration rows read so far, and the lowest index not used by them nor handed out
    _read_up_to: int = field(default=0, init=False, repr=False)
    _next_index: int = field(default=0, init=False, repr=False)

    @classmethod
    def from_keystore(cls, keystore: KeyStore, passphrase: str | None = None) -> Issuer:
        identity = keystore.identity()
        return cls(identity.did, identity.verification_method, keystore.signing_key(passphrase))

    @property
    def status_base(self) -> str:
        return status_base_url(self.did)

    @property
    def list_urls(self) -> dict[str, str]:
        return status_list_urls(self.status_base)

    # Declarations ---------------------------------------------------------------------------------------
    def next_status_index(self, session: Session) -> int:
        """A fresh status index: above every index the own declarations in the store use and every index this
        issuer handed out before (each call hands out a new one, signed or not).

        Only own declarations stored since the previous call are read, so signing costs the same however long
        the history; a restarted node, or another process on the same store, reads what it has not seen."""
        for row_id, raw in repo.own_declarations_after(session, row_id=self._read_up_to):
            self._next_index = max(self._next_index, _highest_status_index(raw) + 1)
            self._read_up_to = row_id
        index = self._next_index
        self._next_index += 1
        return index

    def sign(
        self,
        footprint: Mapping[str, Any],
        *,
        status_index: int,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        created: datetime | None = None,
    ) -> bytes:
        """Build and sign the declaration of a PACT v3 footprint; returns its wire bytes (RFC 8785)."""
        now = created or datetime.now(UTC)
        valid_from = valid_from or now
        valid_until = valid_until or valid_from + timedelta(days=365)
        doc = build_declaration(
            footprint,
            issuer=self.did,
            valid_from=valid_from,
            valid_until=valid_until,
            status_list_url=self.status_base,
            status_index=status_index,
        )
        signed = sign_declaration(
            doc, key=self.key, verification_method=self.verification_method, created=now
        )
        return declaration_bytes(signed)

    # Status lists ----------------------------------------------------------------------------------------
    def _bits(self, session: Session, url: str) -> bytearray:
        row = repo.get_status_list(session, list_id=url)
        if row is None:
            return new_status_bits()
        return bytearray(decode_status_list(json.loads(row.raw)["credentialSubject"]["encodedList"]))

    def _store(self, session: Session, purpose: str, bits: bytearray, now: datetime) -> bytes:
        url = self.list_urls[purpose]
        current = repo.get_status_list(session, list_id=url)
        # validFrom has second precision: never go backwards, so receivers keep the newest list.
        valid_from = now if current is None or current.valid_from is None else max(now, current.valid_from)
        doc = build_status_list_credential(
            url=url, issuer=self.did, purpose=purpose, bits=bits, valid_from=valid_from
        )
        raw = declaration_bytes(
            sign_status_list(doc, key=self.key, verification_method=self.verification_method, created=now)
        )
        repo.save_status_list(
            session,
            list_id=url,
            issuer=self.did,
            raw=raw,
            valid_from=parse_instant(json.loads(raw)["validFrom"]),
            purpose=purpose,
            force=True,
        )
        return raw

    def ensure_lists(self, session: Session, *, now: datetime | None = None) -> dict[str, bytes]:
        """The signed revocation and deprecation lists, created all-clear when missing (URL -> bytes)."""
        out: dict[str, bytes] = {}
        for purpose, url in self.list_urls.items():
            row = repo.get_status_list(session, list_id=url)
            out[url] = (
                row.raw
                if row is not None
                else self._store(session, purpose, new_status_bits(), now or _now())
            )
        return out

    def set_status(
        self, session: Session, *, index: int, purpose: str, value: bool = True, now: datetime | None = None
    ) -> tuple[str, bytes]:
        """Set (or clear) one bit of an own list, re-sign it; returns (list URL, new signed bytes)."""
        if purpose not in self.list_urls:
            raise ValueError(f"no own {purpose!r} status list")
        bits = self._bits(session, self.list_urls[purpose])
        set_status(bits, index, value)
        return self.list_urls[purpose], self._store(session, purpose, bits, now or _now())

    def own_lists(self, session: Session) -> list[StatusList]:
        """The stored own lists."""
        urls = list(self.list_urls.values())
        return list(session.exec(select(StatusList).where(StatusList.list_id.in_(urls))).all())  # type: ignore[attr-defined]


def _highest_status_index(raw: bytes) -> int:
    """The highest statusListIndex of a declaration's credentialStatus entries (-1 without any)."""
    entries = json.loads(raw).get("credentialStatus") or []
    indexes = [
        int(e["statusListIndex"])
        for e in entries
        if isinstance(e, dict) and str(e.get("statusListIndex", "")).isdigit()
    ]
    return max(indexes, default=-1)


def _now() -> datetime:
    return datetime.now(UTC)
