"""The footprint declaration: a W3C VC 2.0 credential wrapping one PACT v3 ProductFootprint, issued by the
company's DID and secured with an eddsa-jcs-2022 Data Integrity proof.

    {"@context": ["https://www.w3.org/ns/credentials/v2", "https://pcfx.dev/contexts/declaration-v1.jsonld"],
     "id": "urn:uuid:<uuid5(issuer, footprint id)>",
     "type": ["VerifiableCredential", "ProductFootprintDeclaration"],
     "issuer": "did:web:...", "validFrom": "...Z", "validUntil": "...Z",
     "credentialSubject": {<PACT v3 ProductFootprint>},
     "credentialStatus": [<revocation entry>, <deprecation entry>]   (see pcfx.protocol.status)
     "proof": {<issuer proof, with an id>} | [<issuer proof>, <assurance proof with previousProof>, ...]}

The id is derived from issuer and footprint id, so each footprint version has exactly one declaration id
whoever serialises it; on the wire a declaration is its RFC 8785 canonical form (`declaration_bytes`).
Assurance: a registered verifier countersigns with a second proof chained to the issuer's (`assure`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.context import DECLARATION_CONTEXT
from pcfx.protocol.dates import DATETIME_STAMP_PATTERN, format_datetime, parse_datetime
from pcfx.protocol.did import did_of
from pcfx.protocol.errors import ProofError
from pcfx.protocol.keys import Ed25519PrivateKey
from pcfx.protocol.pact.v3 import ProductFootprint, dump_footprint, parse_footprint
from pcfx.protocol.proof import CRYPTOSUITE, PROOF_TYPE, add_proof, proofs_of
from pcfx.protocol.status import DEPRECATION_MESSAGES, status_entries
from pydantic import ConfigDict, Field, RootModel, Strict, ValidationError, model_validator, with_config
from typing_extensions import TypedDict

__all__ = [
    "DECLARATION_NAMESPACE",
    "DECLARATION_TYPE",
    "CredentialStatusEntry",
    "DataIntegrityProof",
    "DateTimeStamp",
    "Declaration",
    "DeclarationBody",
    "DeclarationDict",
    "InvalidDeclaration",
    "assure",
    "build_declaration",
    "check_body_consistency",
    "check_status_entries",
    "declaration_bytes",
    "declaration_id",
    "issuer_proof",
    "sign_declaration",
    "split_proofs",
    "validate_body",
]

DECLARATION_TYPE: tuple[str, str] = ("VerifiableCredential", "ProductFootprintDeclaration")
#: uuid5 namespace of declaration ids (uuid5 of the URL namespace and the project context URL).
DECLARATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pcfx.dev/contexts/declaration-v1.jsonld")
_NAMESPACE_BYTES = DECLARATION_NAMESPACE.bytes
_sha1 = hashlib.sha1
# Hex digit 16 of a uuid5 -> the same digit with the RFC 4122 variant bits (10xx) set.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}

# Patterns of the envelope members, used by the schema models below and by the hand-written checks of the
# verification path (validate_body), so both always apply the same rules.
_ID_PATTERN = r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_DID_PATTERN = r"^did:[a-z0-9]+:\S+$"
_INDEX_PATTERN = r"^(0|[1-9][0-9]{0,9})$"
_HTTP_URL_PATTERN = r"^https?://\S+$"

# XML Schema dateTimeStamp shape, checked in pydantic-core; the calendar check is `parse_datetime`'s job.
DateTimeStamp = Annotated[
    str, Field(pattern=DATETIME_STAMP_PATTERN, json_schema_extra={"format": "date-time"})
]
_STRICT = ConfigDict(strict=True, extra="forbid")

# The wire structure is declared as TypedDicts: pydantic-core validates them without building Python objects,
# which keeps the envelope's share of verification time small next to the footprint's own validation.


@with_config(_STRICT)
class CredentialStatusEntry(TypedDict):
    """A BitstringStatusListEntry (purposes revocation, suspension, or message = deprecation)."""

    id: str
    type: Literal["BitstringStatusListEntry"]
    statusPurpose: Literal["revocation", "suspension", "message"]
    statusListIndex: Annotated[str, Field(pattern=_INDEX_PATTERN)]
    statusListCredential: Annotated[str, Field(pattern=_HTTP_URL_PATTERN)]
    statusSize: NotRequired[Annotated[int, Field(ge=1, le=1)]]
    # Checked against the pcfx messages by check_body_consistency (exact list), so no per-item validation.
    statusMessage: NotRequired[list[dict[str, str]]]


DataIntegrityProof = TypedDict(
    "DataIntegrityProof",
    {
        "id": NotRequired[str],
        "type": Literal["DataIntegrityProof"],
        "cryptosuite": Literal["eddsa-jcs-2022"],
        "created": DateTimeStamp,
        "verificationMethod": Annotated[str, Field(pattern=r"^did:[a-z0-9]+:\S+#\S+$")],
        "proofPurpose": Literal["assertionMethod"],
        "previousProof": NotRequired[str | list[str]],
        "@context": NotRequired[list[str]],
        "proofValue": Annotated[str, Field(pattern=r"^z[1-9A-HJ-NP-Za-km-z]+$")],
    },
)
DataIntegrityProof.__doc__ = "An eddsa-jcs-2022 Data Integrity proof."
DataIntegrityProof.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]

_BODY_FIELDS: dict[str, Any] = {
    # Strict(False) on the fixed arrays only: a JSON array arrives as a list; the schema still says exactly these.
    "@context": Annotated[
        tuple[
            Literal["https://www.w3.org/ns/credentials/v2"],
            Literal["https://pcfx.dev/contexts/declaration-v1.jsonld"],
        ],
        Strict(False),
    ],
    "id": Annotated[str, Field(pattern=_ID_PATTERN)],
    "type": Annotated[
        tuple[Literal["VerifiableCredential"], Literal["ProductFootprintDeclaration"]], Strict(False)
    ],
    "issuer": Annotated[str, Field(pattern=_DID_PATTERN)],
    "validFrom": DateTimeStamp,
    "validUntil": DateTimeStamp,
    "credentialSubject": ProductFootprint,
    "credentialStatus": Annotated[list[CredentialStatusEntry], Field(min_length=1)],
}
DeclarationBody = TypedDict("DeclarationBody", _BODY_FIELDS)  # type: ignore[misc]
DeclarationBody.__doc__ = (
    "A declaration without its proofs; credentialSubject validates to a ProductFootprint."
)
DeclarationBody.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
_DECLARATION_FIELDS: dict[str, Any] = {
    **_BODY_FIELDS,
    "proof": DataIntegrityProof | Annotated[list[DataIntegrityProof], Field(min_length=1)],
}
DeclarationDict = TypedDict("DeclarationDict", _DECLARATION_FIELDS)  # type: ignore[misc]
DeclarationDict.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]

_ENTRY_REQUIRED = frozenset({"id", "type", "statusPurpose", "statusListIndex", "statusListCredential"})
_ENTRY_KEYS = _ENTRY_REQUIRED | {"statusSize", "statusMessage"}
_ENTRY_PURPOSES = ("revocation", "suspension", "message")
_INDEX = re.compile(_INDEX_PATTERN)
_HTTP_URL = re.compile(_HTTP_URL_PATTERN)


def check_status_entries(entries: list[Any]) -> None:
    """The CredentialStatusEntry rules, checked by hand (see validate_body), plus the pcfx ones: messages of
    a "message" entry are exactly the deprecation messages, and one entry is for revocation."""
    revocation = False
    for entry in entries:
        if type(entry) is not dict:
            raise ValueError("a credentialStatus entry must be an object")
        if not _ENTRY_REQUIRED <= entry.keys() <= _ENTRY_KEYS:
            raise ValueError(
                f"credentialStatus entry members: missing {sorted(_ENTRY_REQUIRED - entry.keys())}, "
                f"not allowed {sorted(entry.keys() - _ENTRY_KEYS)}"
            )
        purpose, index, url = entry["statusPurpose"], entry["statusListIndex"], entry["statusListCredential"]
        if type(entry["id"]) is not str:
            raise _entry_error(entry, "id must be a string")
        if entry["type"] != "BitstringStatusListEntry":
            raise _entry_error(entry, 'type must be "BitstringStatusListEntry"')
        if purpose not in _ENTRY_PURPOSES:
            raise _entry_error(entry, 'statusPurpose must be "revocation", "suspension" or "message"')
        if type(index) is not str or not _INDEX.fullmatch(index):
            raise _entry_error(entry, f"statusListIndex must be a string matching {_INDEX_PATTERN}")
        if type(url) is not str or not _HTTP_URL.fullmatch(url):
            raise _entry_error(entry, "statusListCredential must be an http(s) URL")
        if "statusSize" in entry and (type(entry["statusSize"]) is not int or entry["statusSize"] != 1):
            raise _entry_error(entry, "statusSize must be the integer 1")
        if purpose == "message":
            if entry.get("statusMessage") != DEPRECATION_MESSAGES:
                raise _entry_error(entry, 'a "message" entry must carry the pcfx deprecation messages')
        elif "statusMessage" in entry:
            raise _entry_error(entry, "statusMessage belongs to message entries only")
        revocation = revocation or purpose == "revocation"
    if not revocation:
        raise ValueError("credentialStatus needs a revocation entry")


def _entry_error(entry: dict[str, Any], problem: str) -> ValueError:
    return ValueError(f"credentialStatus entry {entry['id']!r}: {problem}")


def check_body_consistency(body: Mapping[str, Any]) -> None:
    """The rules a schema cannot state: dates ordered, id derived from issuer and footprint, status entries."""
    if parse_datetime(body["validUntil"]) <= parse_datetime(body["validFrom"]):
        raise ValueError("validUntil must be after validFrom")
    subject = body["credentialSubject"]
    footprint_id = subject.id if isinstance(subject, ProductFootprint) else subject["id"]
    if body["id"] != _derived_id(body["issuer"], footprint_id):
        raise ValueError("id is not the declaration id of this issuer and footprint")
    check_status_entries(body["credentialStatus"])


# The envelope is checked by hand on the verification path, with exactly the rules of the TypedDicts above
# (tests compare both on every kind of violation): pydantic's per-object overhead for a dozen envelope members
# and entries cost about a third of the PACT footprint's own validation.
_BODY_KEYS = frozenset(_BODY_FIELDS)
_CONTEXT = list(DECLARATION_CONTEXT)
_TYPE = list(DECLARATION_TYPE)
_DATETIME_SHAPE = re.compile(DATETIME_STAMP_PATTERN)
# (member, pattern, its bound fullmatch): one tuple walk, no attribute lookups per member.
_STRING_MEMBERS = tuple(
    (name, pattern, pattern.fullmatch)
    for name, pattern in (
        ("id", re.compile(_ID_PATTERN)),
        ("issuer", re.compile(_DID_PATTERN)),
        ("validFrom", _DATETIME_SHAPE),
        ("validUntil", _DATETIME_SHAPE),
    )
)


class InvalidDeclaration(ValueError):
    """A declaration (without its proofs) breaks the declaration schema or a pcfx consistency rule."""


def validate_body(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a declaration without its `proof` member: a copy whose credentialSubject is a ProductFootprint.

    Raises InvalidDeclaration naming the first violation.
    """
    # `type(doc) is dict` first: the wire path always passes a dict, and the ABC check costs more.
    if (type(doc) is not dict and not isinstance(doc, Mapping)) or doc.keys() != _BODY_KEYS:
        missing = sorted(_BODY_KEYS - doc.keys()) if isinstance(doc, Mapping) else []
        extra = sorted(doc.keys() - _BODY_KEYS) if isinstance(doc, Mapping) else []
        raise InvalidDeclaration(f"declaration members: missing {missing}, not allowed {extra}")
    if not _is_array_of(doc["@context"], _CONTEXT):
        raise InvalidDeclaration(f"@context must be {_CONTEXT}")
    if not _is_array_of(doc["type"], _TYPE):
        raise InvalidDeclaration(f"type must be {_TYPE}")
    for name, pattern, fullmatch in _STRING_MEMBERS:
        value = doc[name]
        if not isinstance(value, str) or fullmatch(value) is None:
            raise InvalidDeclaration(f"{name}: {value!r} does not match {pattern.pattern}")
    status = doc["credentialStatus"]
    if type(status) is not list or not status:
        raise InvalidDeclaration("credentialStatus must be a non-empty array")
    try:
        footprint = ProductFootprint.model_validate(doc["credentialSubject"])
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidDeclaration(f"credentialSubject.{where}: {first['msg']}".rstrip(".")) from None
    body = dict(doc)
    body["credentialSubject"] = footprint
    try:
        check_body_consistency(body)
    except ValueError as exc:
        raise InvalidDeclaration(str(exc)) from None
    return body


def _is_array_of(value: Any, expected: Sequence[str]) -> bool:
    # A JSON array of exactly these strings (a tuple counts: the schema model accepts one too).
    if type(value) is list:
        return value == expected
    return type(value) is tuple and list(value) == expected


class Declaration(RootModel[DeclarationDict]):  # type: ignore[type-var]
    """A signed ProductFootprintDeclaration (its JSON Schema is generated from this model)."""

    @model_validator(mode="after")
    def _consistent(self) -> Declaration:
        check_body_consistency(self.root)
        return self


def _uuid5(name: str) -> str:
    # RFC 4122 name-based SHA-1 uuid, as uuid.uuid5 computes it, without building UUID objects (hot path):
    # the version nibble (hex digit 12) becomes 5, the variant bits (top two of hex digit 16) become 10.
    h = _sha1(_NAMESPACE_BYTES + name.encode("utf-8")).hexdigest()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def _derived_id(issuer: str, footprint_id: str) -> str:
    return _uuid5(f"{issuer} {footprint_id.lower()}")


def declaration_id(doc: Mapping[str, Any]) -> str:
    """The stable id of a declaration: uuid5 of issuer and footprint id (one per footprint version)."""
    subject = doc.get("credentialSubject")
    if (
        not isinstance(doc.get("issuer"), str)
        or not isinstance(subject, Mapping)
        or not isinstance(subject.get("id"), str)
    ):
        raise ValueError("a declaration needs an issuer and a credentialSubject with an id")
    return _derived_id(doc["issuer"], subject["id"])


def build_declaration(
    footprint: ProductFootprint | Mapping[str, Any],
    *,
    issuer: str,
    valid_from: datetime,
    valid_until: datetime,
    status_list_url: str,
    status_index: int,
) -> dict[str, Any]:
    """The unsigned declaration of `footprint` (validated first).

    `status_list_url` is the issuer's status base URL: the revocation and deprecation lists are published at
    `<base>/revocation` and `<base>/deprecation` (see pcfx.protocol.status); `status_index` is this
    declaration's index in both.
    """
    fp = footprint if isinstance(footprint, ProductFootprint) else parse_footprint(dict(footprint))
    if valid_until <= valid_from:
        raise ValueError("valid_until must be after valid_from")
    subject = dump_footprint(fp)
    return {
        "@context": list(DECLARATION_CONTEXT),
        "id": _derived_id(issuer, fp.id),
        "type": list(DECLARATION_TYPE),
        "issuer": issuer,
        "validFrom": format_datetime(valid_from),
        "validUntil": format_datetime(valid_until),
        "credentialSubject": subject,
        "credentialStatus": status_entries(status_list_url, status_index),
    }


def _add_identified_proof(
    doc: Mapping[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    previous_proof: str | None = None,
) -> dict[str, Any]:
    # The proof id is derived (declaration id, method, time), so re-signing the same way gives the same id.
    stamp = format_datetime(created)
    return add_proof(
        doc,
        key=key,
        verification_method=verification_method,
        created=stamp,
        proof_id=_uuid5(f"{doc.get('id')} {verification_method} {stamp}"),
        previous_proof=previous_proof,
    )


def sign_declaration(
    doc: Mapping[str, Any], *, key: Ed25519PrivateKey, verification_method: str, created: datetime
) -> dict[str, Any]:
    """The declaration with the issuer's proof (which gets an id, so assurance proofs can chain to it)."""
    if "proof" in doc:
        raise ProofError("declaration is already signed")
    if did_of(verification_method) != doc.get("issuer"):
        raise ProofError(f"{verification_method} is not a key of the issuer {doc.get('issuer')}")
    return _add_identified_proof(doc, key=key, verification_method=verification_method, created=created)


def split_proofs(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The issuer's proof (the one proof that chains to no other) and the other proofs, in order."""
    proofs = proofs_of(doc)
    roots = [p for p in proofs if "previousProof" not in p]
    if len(roots) != 1:
        raise ProofError(
            f"a declaration has exactly one issuer proof (one without previousProof), found {len(roots)}"
        )
    root = roots[0]
    return root, [p for p in proofs if p is not root]


def issuer_proof(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The issuer's proof: the one proof that chains to no other."""
    return split_proofs(doc)[0]


def assure(
    declaration: Mapping[str, Any], *, key: Ed25519PrivateKey, verification_method: str, created: datetime
) -> dict[str, Any]:
    """Countersign as a verifier: add a proof chained (previousProof) to the issuer's proof."""
    root = issuer_proof(declaration)
    if root.get("type") != PROOF_TYPE or root.get("cryptosuite") != CRYPTOSUITE or "id" not in root:
        raise ProofError("the issuer proof must be an eddsa-jcs-2022 proof with an id to be assured")
    return _add_identified_proof(
        declaration,
        key=key,
        verification_method=verification_method,
        created=created,
        previous_proof=root["id"],
    )


def declaration_bytes(doc: Mapping[str, Any]) -> bytes:
    """The wire form of a declaration: its RFC 8785 canonical UTF-8 bytes (same declaration, same bytes)."""
    return canonicalize(doc)
