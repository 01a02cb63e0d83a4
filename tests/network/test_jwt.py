"""The NATS JWT minter: what it mints is accepted by a real nats-server in operator mode, and what the
operator's tooling must never push (an account not signed by the operator, an import that drops a wildcard)
is refused before it reaches the resolver."""

from __future__ import annotations

import asyncio
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from pcfx.node.network.jwt import (
    JwtError,
    KeyKind,
    account_claims,
    check_account_jwt,
    creds,
    decode_jwt,
    encode_jwt,
    new_keypair,
    operator_jwt,
    public_key,
    user_jwt,
    verify_jwt,
)
from ports import free_port, wait_for_port

NATS_SERVER = Path(sysconfig.get_path("scripts")) / "nats-server"


@pytest.fixture
def operator():
    op, system = new_keypair(KeyKind.OPERATOR), new_keypair(KeyKind.ACCOUNT)
    return op, system


def _account_jwt(op, account, *, name="ACME", imports=(), exports=()) -> str:
    nats_claims = account_claims(jetstream=None, imports=imports, exports=exports)
    return encode_jwt(subject=public_key(account), name=name, nats=nats_claims, signer=op)


@pytest.fixture
def hub(tmp_path: Path, operator) -> Iterator[tuple[str, dict[str, str]]]:
    """A real nats-server in operator mode (MEMORY resolver) with SYS and one company account ACME."""
    op, system = operator
    acme = new_keypair(KeyKind.ACCOUNT)
    jwts = {
        public_key(system): _account_jwt(op, system, name="SYS"),
        public_key(acme): _account_jwt(op, acme),
    }
    port = free_port()
    preload = "\n".join(f"  {k}: {v}" for k, v in jwts.items())
    conf = tmp_path / "hub.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\n"
        f"operator: {operator_jwt(op, 'pcfx-test', system_account=public_key(system))}\n"
        f"system_account: {public_key(system)}\nresolver: MEMORY\nresolver_preload: {{\n{preload}\n}}\n"
    )
    proc = subprocess.Popen([str(NATS_SERVER), "-c", str(conf)], stderr=subprocess.DEVNULL)
    wait_for_port(port)
    try:
        yield f"nats://127.0.0.1:{port}", {"acme": acme.seed.decode()}
    finally:
        proc.kill()
        proc.wait()


async def _connects(url: str, creds_file: Path) -> bool:
    try:
        nc = await nats.connect(
            url,
            user_credentials=str(creds_file),
            max_reconnect_attempts=0,
            connect_timeout=2,
            allow_reconnect=False,
        )
    except (nats.errors.Error, OSError, TimeoutError):
        return False
    await nc.close()
    return True


def test_a_user_of_an_operator_signed_account_connects(hub, tmp_path):
    url, seeds = hub
    import nkeys

    acme = nkeys.from_seed(bytearray(seeds["acme"].encode()))
    user = new_keypair(KeyKind.USER)
    token = user_jwt(public_key(user), "acme-node", signer=acme, account=public_key(acme))
    (tmp_path / "acme.creds").write_text(creds(token, user))
    assert asyncio.run(_connects(url, tmp_path / "acme.creds"))


def test_a_user_of_an_account_the_operator_never_issued_is_refused(hub, tmp_path):
    url, _ = hub
    stranger, user = new_keypair(KeyKind.ACCOUNT), new_keypair(KeyKind.USER)
    token = user_jwt(public_key(user), "spy", signer=stranger, account=public_key(stranger))
    (tmp_path / "spy.creds").write_text(creds(token, user))
    assert not asyncio.run(_connects(url, tmp_path / "spy.creds"))


def test_a_minted_jwt_verifies_with_its_signer_and_names_it(operator):
    op, system = operator
    token = _account_jwt(op, system, name="SYS")
    claims = verify_jwt(token, issuers=[public_key(op)])
    assert (claims["iss"], claims["sub"], claims["nats"]["type"]) == (
        public_key(op),
        public_key(system),
        "account",
    )


def test_a_changed_claim_breaks_the_signature(operator):
    op, system = operator
    head, _, sig = _account_jwt(op, system).split(".")
    other = _account_jwt(op, new_keypair(KeyKind.ACCOUNT)).split(".")[1]
    with pytest.raises(JwtError, match="signature does not verify"):
        verify_jwt(f"{head}.{other}.{sig}", issuers=[public_key(op)])


def test_an_account_not_signed_by_the_operator_is_refused_before_any_push(operator):
    op, _ = operator
    account = new_keypair(KeyKind.ACCOUNT)
    self_signed = _account_jwt(account, account)
    with pytest.raises(JwtError, match="not by"):
        check_account_jwt(self_signed, operator_keys=[public_key(op)])


def test_an_import_whose_local_subject_drops_a_wildcard_is_refused(operator):
    op, _ = operator
    buyer, supplier = new_keypair(KeyKind.ACCOUNT), new_keypair(KeyKind.ACCOUNT)
    bad = {
        "subject": "pcfx.v1.decl.to.*.>",
        "local_subject": "in.x.>",
        "account": public_key(supplier),
        "type": "stream",
    }
    with pytest.raises(JwtError, match="must keep every wildcard"):
        check_account_jwt(_account_jwt(op, buyer, imports=[bad]), operator_keys=[public_key(op)])


def test_an_export_token_position_must_point_at_a_wildcard(operator):
    op, _ = operator
    supplier = new_keypair(KeyKind.ACCOUNT)
    bad = {"subject": "pcfx.v1.decl.to.x.>", "type": "stream", "account_token_position": 5}
    with pytest.raises(JwtError, match="is not a"):
        check_account_jwt(_account_jwt(op, supplier, exports=[bad]), operator_keys=[public_key(op)])


def test_decode_names_what_is_wrong_with_text_that_is_not_a_jwt():
    with pytest.raises(JwtError, match="three dot-separated parts"):
        decode_jwt("not a jwt")
