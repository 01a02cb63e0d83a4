"""The HTTP settings of a node home: the admin API on loopback unless allowed off it, on a port of its own,
and `trusted_proxies` as addresses or CIDR networks (comma-separated from the environment); a bad value names
the setting and where it came from."""

from __future__ import annotations

import pytest
from pcfx.node.config import ConfigError, load_settings
from pcfx.node.home import init_home

COMPANY = "urn:pcfx:uscc:911100001000000001"


@pytest.fixture
def home(tmp_path):
    return init_home(tmp_path / "acme", name="Acme", company_id=COMPANY).home


def test_the_admin_api_defaults_to_loopback_on_a_port_of_its_own(home):
    settings = load_settings(home)
    assert (settings.admin_host, settings.admin_port) == ("127.0.0.1", 8788)
    assert settings.admin_port != settings.http_port
    assert settings.trusted_proxies == ["127.0.0.1", "::1"]


def test_the_admin_api_off_loopback_is_refused_unless_allowed(home, monkeypatch):
    monkeypatch.setenv("PCFX_ADMIN_HOST", "0.0.0.0")
    with pytest.raises(
        ConfigError, match=r"admin_host from environment variable PCFX_ADMIN_HOST.*not loopback"
    ):
        load_settings(home)
    monkeypatch.setenv("PCFX_ALLOW_REMOTE_ADMIN", "true")
    assert load_settings(home).admin_host == "0.0.0.0"


def test_the_admin_api_and_the_pact_api_cannot_share_a_port(home):
    with pytest.raises(ConfigError, match="admin_port and http_port must differ"):
        load_settings(home, admin_port=8787)


def test_trusted_proxies_from_the_environment_are_comma_separated(home, monkeypatch):
    monkeypatch.setenv("PCFX_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5,fd00::/8")
    assert load_settings(home).trusted_proxies == ["10.0.0.0/8", "192.168.1.5", "fd00::/8"]


def test_a_trusted_proxy_that_is_not_an_address_is_named_with_its_source(home, monkeypatch):
    monkeypatch.setenv("PCFX_TRUSTED_PROXIES", "ingress.internal")
    with pytest.raises(
        ConfigError,
        match=r"trusted_proxies from environment variable PCFX_TRUSTED_PROXIES.*'ingress.internal'",
    ):
        load_settings(home)
