"""Following a supplier without the operator by hand. A buyer's node sends a small JSON document, signed by
its registry key (eddsa-jcs-2022, like every pcfx signature), to `pcfx.network.follow.<its account>`; only
its own account can send there (the NETWORK export has `account_token_position: 4`). The service checks
the request and adds the imports that let the buyer's account receive the supplier's declarations, status
lists and buyer-only branch and send requests for each product, then re-pushes the buyer's account.

    {"type": "PcfxFollowRequest", "buyer": "<buyer DID>", "account": "<buyer account>",
     "supplier": "<supplier DID>", "products": ["<product id>", ...], "proof": {...}}

Reply: `{"ok": true, "supplier": ..., "imports": [...]}` or `{"ok": false, "reason": "..."}`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pcfx.node.network.account_issue import issue_company_account
from pcfx.node.network.accounts import FOLLOW_PREFIX, follow_imports, follow_subject
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import FollowError, NetworkError
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.operator import signing_key
from pcfx.node.network.state import CompanyRecord, CompanyState, load_state
from pcfx.node.network.trust_registry import verified_registry
from pcfx.protocol.canonical import JsonParseError, canonicalize, load_json
from pcfx.protocol.dates import parse_datetime
from pcfx.protocol.did import did_of
from pcfx.protocol.errors import ProofError, VerificationError
from pcfx.protocol.keys import Ed25519PrivateKey
from pcfx.protocol.proof import add_proof, proofs_of, verify_proof
from pcfx.protocol.registry import Role, TrustRegistry, check_key_window
from pcfx.protocol.subjects import InvalidIdentifierError, subject_token
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "FOLLOW_TYPE",
    "FollowRefused",
    "FollowRequest",
    "FollowResult",
    "check_follow_request",
    "handle_follow",
    "request_follow",
]

FOLLOW_TYPE = "PcfxFollowRequest"
MAX_REQUEST_BYTES = 64 * 1024
#: a request signed longer ago (or further ahead) than this is refused: a replay gains nothing, but a
#: request is an instruction of now
FRESHNESS = timedelta(minutes=5)


class FollowRefused(NetworkError):
    """The follow request is refused; the message is the reason sent back to the requester."""


class FollowRequest(BaseModel):
    """The signed body of a follow request."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["PcfxFollowRequest"]
    buyer: str = Field(min_length=1, max_length=2048)
    account: str = Field(pattern=r"^A[A-Z2-7]{55}$")
    supplier: str = Field(min_length=1, max_length=2048)
    products: list[str] = Field(max_length=256)
    proof: dict[str, Any]


class FollowResult(BaseModel):
    """The follow service's answer."""

    ok: bool
    reason: str | None = None
    supplier: str | None = None
    supplier_account: str | None = None
    imports: list[str] = Field(default_factory=list)


async def request_follow(
    nc: Client,
    *,
    account: str,
    signer_key: Ed25519PrivateKey,
    verification_method: str,
    supplier_did: str,
    product_ids: Sequence[str],
    timeout: float = 5.0,
) -> FollowResult:
    """Ask the network to let `account` follow `supplier_did` (and request `product_ids`); the request is
    signed with the buyer's registered key. FollowError when no follow service answers."""
    document = {
        "type": FOLLOW_TYPE,
        "buyer": did_of(verification_method),
        "account": account,
        "supplier": supplier_did,
        "products": list(product_ids),
    }
    signed = add_proof(
        document, key=signer_key, verification_method=verification_method, created=datetime.now(UTC)
    )
    try:
        reply = await nc.request(follow_subject(account), canonicalize(signed), timeout=timeout)
    except NoRespondersError:
        raise FollowError(f"no follow service answers {follow_subject(account)}") from None
    except (NatsTimeoutError, TimeoutError):
        raise FollowError(f"the follow service did not answer within {timeout}s") from None
    try:
        return FollowResult.model_validate_json(reply.data)
    except ValidationError:
        raise FollowError(f"the follow service's reply is not a follow result: {reply.data[:80]!r}") from None


def _parse(subject: str, data: bytes) -> tuple[str, dict[str, Any], FollowRequest]:
    parts = subject.split(".")
    if len(parts) != 4 or ".".join(parts[:3]) != FOLLOW_PREFIX:
        raise FollowRefused(f"not a follow subject: {subject}")
    if len(data) > MAX_REQUEST_BYTES:
        raise FollowRefused(f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        value, _ = load_json(data)
        return parts[3], value, FollowRequest.model_validate(value)
    except (JsonParseError, UnicodeDecodeError) as exc:
        raise FollowRefused(f"request is not JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise FollowRefused(
            f"malformed request: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None


def _check_signature(
    document: dict[str, Any], request: FollowRequest, registry: TrustRegistry, now: datetime
) -> None:
    # the signature is checked over the document as received (parsed JSON), not over the model's copy
    try:
        (proof,) = proofs_of(document)
        method = str(proof.get("verificationMethod", ""))
        created = parse_datetime(str(proof.get("created", "")))
    except (ProofError, ValueError):
        raise FollowRefused(
            "the request must carry one proof with a verification method and a time"
        ) from None
    found = registry.key(method)
    if found is None or found.entry.did != request.buyer or did_of(method) != request.buyer:
        raise FollowRefused(f"{method} is not a registered key of {request.buyer}")
    try:
        check_key_window(found.key, created)
        valid = verify_proof(document, proof, found.public_key)
    except VerificationError as exc:
        raise FollowRefused(exc.detail) from None
    except ProofError as exc:
        raise FollowRefused(f"proof unusable: {exc}") from None
    if not valid:
        raise FollowRefused(f"the request's signature does not verify with {method}")
    if abs(now - created) > FRESHNESS:
        raise FollowRefused(f"the request was signed at {proof['created']}, not within {FRESHNESS} of now")


def check_follow_request(
    subject: str, data: bytes, *, registry: TrustRegistry, directory: CompanyDirectory, now: datetime
) -> tuple[FollowRequest, CompanyRecord, CompanyRecord]:
    """The request, its buyer and its supplier when the request may be granted; FollowRefused otherwise."""
    account, document, request = _parse(subject, data)
    if request.account != account:
        raise FollowRefused(f"the request names account {request.account} but came from account {account}")
    _check_signature(document, request, registry, now)
    buyer = directory.by_did(request.buyer)
    if buyer is None or buyer.account != account:
        raise FollowRefused(f"account {account} is not the account onboarded for {request.buyer}")
    if buyer.state is not CompanyState.ACTIVE:
        raise FollowRefused(f"{request.buyer} is {buyer.state.value}")
    entry = registry.entry(request.supplier)
    if entry is None or Role.SUPPLIER not in entry.roles:
        raise FollowRefused(f"{request.supplier} is not a supplier in trust registry v{registry.version}")
    supplier = directory.by_did(request.supplier)
    if supplier is None or supplier.state is not CompanyState.ACTIVE:
        raise FollowRefused(f"{request.supplier} is not an active company of this network")
    if supplier.did == buyer.did:
        raise FollowRefused("a company does not follow itself")
    try:
        for product in request.products:
            subject_token(product)
    except InvalidIdentifierError as exc:
        raise FollowRefused(f"product id: {exc}") from None
    return request, buyer, supplier


async def handle_follow(
    layout: NetworkLayout, subject: str, data: bytes, *, nc: Client, now: datetime | None = None
) -> FollowResult:
    """Decide a follow request and, when granted, re-issue and push the buyer's account with the imports
    (checked, confirmed). `nc`: the SYS admin connection. Never raises for a bad request: the result says why."""
    now = now or datetime.now(UTC)
    try:
        async with layout.locked():
            state = load_state(layout)
            directory = CompanyDirectory.at(layout.root)
            registry = verified_registry(layout, state.registry_operator_key)
            request, buyer, supplier = check_follow_request(
                subject, data, registry=registry, directory=directory, now=now
            )
            imported = supplier.did in buyer.follows  # its imports cover every product of the supplier
            buyer.follows[supplier.did] = sorted(
                set(buyer.follows.get(supplier.did, [])) | set(request.products)
            )
            if not imported:
                await issue_company_account(layout, state, buyer, nc=nc, signer=signing_key(layout, state))
            # one row, written once the account with the new imports is pushed and confirmed
            directory.set_follow(buyer.did, supplier.did, buyer.follows[supplier.did])
    except FollowRefused as exc:
        return FollowResult(ok=False, reason=str(exc))
    except NetworkError as exc:
        return FollowResult(ok=False, reason=f"the network could not apply it: {exc}")
    imports = follow_imports(buyer.account, supplier)
    return FollowResult(
        ok=True,
        supplier=supplier.did,
        supplier_account=supplier.account,
        imports=[i["subject"] for i in imports],
    )
