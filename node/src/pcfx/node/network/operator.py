"""`pcfx network init`: a new network operator directory. The NATS operator (identity key for offline storage,
signing key for daily use), the SYS and NETWORK accounts and their users, the hub configurations, the
trust-registry operator's pcfx identity and registry version 1 (signed, empty), and the state file.

Also loads the operator signing key for the commands that sign account JWTs."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import nkeys
from pcfx.node.keystore import Identity, KeyFileError, KeyStore
from pcfx.node.network.accounts import (
    account_jwt,
    network_account_claims,
    network_user_jwt,
    sys_user_jwt,
    system_account_claims,
)
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.hub_config import write_hub_configs
from pcfx.node.network.jwt import KeyKind, creds, new_keypair, operator_jwt, public_key, seed
from pcfx.node.network.layout import NetworkLayout, write_public, write_secret
from pcfx.node.network.state import Endpoint, NetworkState, save_state
from pcfx.node.network.trust_registry import write_registry
from pcfx.protocol.registry import TrustRegistry

__all__ = ["free_ports", "init_network", "signing_key"]


def _cluster(hosts: list[str], port: int, leaf_port: int, route_port: int) -> list[Endpoint]:
    # Three servers on one host (a test or a single machine) get consecutive ports; on three hosts the same.
    same_host = len(set(hosts)) == 1
    return [
        Endpoint(
            name=f"n{n}",
            host=host,
            port=port + (n - 1 if same_host else 0),
            leaf_port=leaf_port + (n - 1 if same_host else 0),
            route_port=route_port + (n - 1 if same_host else 0),
        )
        for n, host in enumerate(hosts, start=1)
    ]


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free right now (the kernel picks them; held open until all are known)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def init_network(
    layout: NetworkLayout,
    *,
    name: str = "pcfx",
    host: str = "127.0.0.1",
    port: int = 4222,
    leaf_port: int = 7422,
    route_port: int = 6222,
    cluster_hosts: list[str] | None = None,
    registry_web: str | None = None,
    passphrase: str | None = None,
    now: datetime | None = None,
    company_disk_mib: int = 1024,
    company_mem_mib: int = 64,
    company_consumers: int = 64,
) -> NetworkState:
    """Create everything a new network needs in the layout's directory (which must not hold one yet).
    `company_disk_mib`/`company_mem_mib`: each company account's JetStream quota (reserved by the hub);
    `company_consumers`: its consumers (its node needs one, its intake)."""
    if layout.state_file.exists():
        raise NetworkError(f"{layout.root} already holds a network ({layout.state_file.name})")
    hosts = cluster_hosts or [host, host, host]
    if len(hosts) != 3:
        raise NetworkError(f"a hub cluster has 3 servers, got {len(hosts)} hosts")
    now = now or datetime.now(UTC)
    layout.make_private_dirs()

    operator, signing = new_keypair(KeyKind.OPERATOR), new_keypair(KeyKind.OPERATOR)
    system, network = new_keypair(KeyKind.ACCOUNT), new_keypair(KeyKind.ACCOUNT)
    sys_pub, net_pub = public_key(system), public_key(network)
    write_secret(layout.operator_seed, seed(operator) + "\n")
    write_secret(layout.signing_seed, seed(signing) + "\n")
    write_public(
        layout.operator_jwt,
        operator_jwt(operator, name, system_account=sys_pub, signing_keys=[public_key(signing)]) + "\n",
    )
    for account, label, claims in (
        (system, "SYS", system_account_claims()),
        (network, "NETWORK", network_account_claims()),
    ):
        pub = public_key(account)
        write_secret(layout.account_seed(pub), seed(account) + "\n")
        write_public(layout.account_jwt(pub), account_jwt(pub, label, claims, signing) + "\n")
    for path, account, make in (
        (layout.sys_creds, system, sys_user_jwt),
        (layout.network_creds, network, network_user_jwt),
    ):
        user = new_keypair(KeyKind.USER)
        write_secret(path, creds(make(public_key(user), public_key(account), signer=account), user))

    identity = _registry_operator(layout, registry_web, passphrase)
    registry = TrustRegistry(version=1, issued=now, operator=identity.did, entries=[])
    write_registry(layout, registry, passphrase=passphrase, now=now)

    state = NetworkState(
        name=name,
        created=now,
        hub=Endpoint(name="hub", host=host, port=port, leaf_port=leaf_port),
        cluster=_cluster(hosts, port, leaf_port, route_port),
        urls=[f"nats://{host}:{port}"],
        operator=public_key(operator),
        operator_signing_key=public_key(signing),
        system_account=sys_pub,
        network_account=net_pub,
        registry_operator=identity.did,
        registry_operator_key=identity.current.public_key_multibase,
        company_disk_mib=company_disk_mib,
        company_mem_mib=company_mem_mib,
        company_consumers=company_consumers,
    )
    save_state(layout, state)
    write_hub_configs(layout, state)
    return state


def _registry_operator(layout: NetworkLayout, web: str | None, passphrase: str | None) -> Identity:
    try:
        return KeyStore(layout.registry_keys).create(web_domain=web, passphrase=passphrase)
    except (KeyFileError, ValueError) as exc:
        raise NetworkError(f"trust-registry operator key: {exc}") from None


def _read_seed(path: Path, kind: str) -> nkeys.KeyPair:
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise NetworkError(f"{kind} seed {path} is missing") from None
    if path.stat().st_mode & 0o077:
        raise NetworkError(f"{path} is readable by group/others; chmod 600 it")
    try:
        return nkeys.from_seed(bytearray(text.encode()))
    except Exception as exc:  # nkeys raises its own untyped errors for a damaged seed
        raise NetworkError(f"{path} is not an nkey seed: {exc}") from None


def signing_key(layout: NetworkLayout, state: NetworkState) -> nkeys.KeyPair:
    """The operator signing key (signs account JWTs); checked against the state's public key."""
    key = _read_seed(layout.signing_seed, "operator signing")
    if public_key(key) != state.operator_signing_key:
        raise NetworkError(f"{layout.signing_seed} is not the operator signing key named in the state")
    return key
