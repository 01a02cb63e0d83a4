"""`pcfx network init`: what a new network directory holds, before any server runs."""

from __future__ import annotations

import json
import re
import stat

import pytest
from network_kit import new_layout
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.jwt import check_account_jwt, decode_jwt, verify_jwt
from pcfx.node.network.state import load_state
from pcfx.protocol.registry import verify_registry


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_seeds_and_credentials_are_readable_by_the_owner_only(network_dir):
    state = load_state(network_dir)
    secrets = [
        network_dir.operator_seed,
        network_dir.signing_seed,
        network_dir.sys_creds,
        network_dir.network_creds,
        network_dir.account_seed(state.system_account),
        network_dir.account_seed(state.network_account),
    ]
    assert {p.name: _mode(p) for p in secrets} == {p.name: 0o600 for p in secrets}
    assert _mode(network_dir.operator_dir) == _mode(network_dir.accounts_dir) == 0o700


def test_the_operator_jwt_names_the_signing_key_and_the_system_account(network_dir):
    state = load_state(network_dir)
    claims = verify_jwt(network_dir.operator_jwt.read_text(), issuers=[state.operator])
    assert claims["nats"]["signing_keys"] == [state.operator_signing_key]
    assert claims["nats"]["system_account"] == state.system_account
    assert state.operator_signing_key != state.operator


def test_accounts_are_signed_by_the_signing_key_not_the_identity_key(network_dir):
    state = load_state(network_dir)
    token = network_dir.account_jwt(state.network_account).read_text().strip()
    assert decode_jwt(token)["iss"] == state.operator_signing_key


def test_the_network_account_exports_the_registry_and_a_follow_service_bound_to_the_asker(network_dir):
    state = load_state(network_dir)
    token = network_dir.account_jwt(state.network_account).read_text().strip()
    claims = check_account_jwt(token, operator_keys=state.operator_keys)
    exports = {e["subject"]: e for e in claims["nats"]["exports"]}
    assert exports["pcfx.registry.>"]["type"] == "stream"
    assert exports["pcfx.network.follow.*"]["type"] == "service"
    assert exports["pcfx.network.follow.*"]["account_token_position"] == 4
    assert claims["nats"]["limits"]["disk_storage"] > 0  # JetStream on: the registry is retained


def test_the_hub_config_runs_operator_mode_with_a_full_resolver_and_only_sys_preloaded(network_dir):
    state = load_state(network_dir)
    conf = network_dir.hub_conf.read_text()
    assert f'operator: "{network_dir.operator_jwt}"' in conf
    assert f"system_account: {state.system_account}" in conf
    assert "type: full" in conf and f'dir: "{network_dir.hub_data / "jwt"}"' in conf
    preload = re.search(r"resolver_preload \{\n(.*?)\n\}", conf, re.S)
    assert preload is not None and preload.group(1).split(":")[0].strip() == state.system_account
    assert "domain: hub" in conf
    assert f"listen: 127.0.0.1:{state.hub.leaf_port}" in conf


def test_the_cluster_configs_are_three_servers_routed_to_each_other_on_distinct_ports(network_dir):
    confs = [network_dir.cluster_conf(n).read_text() for n in (1, 2, 3)]
    listens = [re.findall(r"listen: (\S+)", c) for c in confs]
    assert len({port for ports in listens for port in ports}) == 9  # client, leaf, route x 3
    routes = [sorted(re.findall(r"nats-route://(\S+)", c)) for c in confs]
    assert routes[0] == routes[1] == routes[2] and len(routes[0]) == 3
    assert all("type: full" in c and "domain: hub" in c for c in confs)
    resolver_dirs = {d for c in confs for d in re.findall(r'^  dir: "(.*?)"', c, re.M)}
    assert len(resolver_dirs) == 3  # a full resolver's directory is never shared


def test_registry_version_1_is_signed_by_the_registry_operator_and_empty(network_dir):
    state = load_state(network_dir)
    registry = verify_registry(json.loads(network_dir.registry_file.read_text()), state.registry_operator_key)
    assert (registry.version, registry.operator, registry.entries) == (1, state.registry_operator, [])


def test_init_refuses_a_directory_that_already_holds_a_network(network_dir):
    with pytest.raises(NetworkError, match="already holds a network"):
        new_layout(network_dir.root)


def test_cluster_servers_on_three_hosts_share_the_same_ports(tmp_path):
    layout = new_layout(
        tmp_path / "net", cluster_hosts=["n1.pcfx.example", "n2.pcfx.example", "n3.pcfx.example"]
    )
    cluster = load_state(layout).cluster
    assert len({(e.port, e.leaf_port, e.route_port) for e in cluster}) == 1
    assert [e.host for e in cluster] == ["n1.pcfx.example", "n2.pcfx.example", "n3.pcfx.example"]
