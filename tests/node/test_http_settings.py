"""The HTTP settings of a node home: the admin API on loopback unless allowed off it, on a port of its own,
and `trusted_proxies` as addresses or CIDR networks (comma-separated from the environment); a bad value names
the setting and where it came from. A default port that is taken is replaced by a free one the home keeps;
an explicitly set one that is taken is refused, naming the setting and its source."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest
from pcfx.node.api.ports import PortTakenError, bind_listener, kept_port_file
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


@contextlib.contextmanager
def taken(port: int) -> Iterator[None]:
    """`port` on loopback held by a listener for the block (or already held by another process)."""
    holder = socket.socket()
    with contextlib.suppress(OSError):  # held already: taken all the same
        holder.bind(("127.0.0.1", port))
        holder.listen()
    try:
        yield
    finally:
        holder.close()


def _port(sock: socket.socket) -> int:
    with sock:
        return sock.getsockname()[1]


def test_a_default_port_that_is_taken_is_replaced_by_a_free_one_kept_in_the_home(home):
    settings = load_settings(home)
    with taken(settings.http_port):
        port = _port(bind_listener(settings, "http"))
    assert port != 8787
    assert kept_port_file(settings, "http").read_text() == f"{port}\n"
    assert kept_port_file(settings, "http") == home / "ports" / "http.port"


def test_the_kept_port_is_used_again_at_the_next_start(home):
    settings = load_settings(home)
    with taken(settings.admin_port):
        first = _port(bind_listener(settings, "admin"))
    with taken(settings.admin_port):
        assert _port(bind_listener(settings, "admin")) == first


@pytest.mark.parametrize(
    ("how", "source"),
    [
        ("option", "a command-line option (--http-port)"),
        ("environment", "environment variable PCFX_HTTP_PORT"),
        ("file", "pcfx.toml"),
    ],
)
def test_an_explicit_port_that_is_taken_is_refused_naming_the_setting_and_its_source(
    home, monkeypatch, how, source
):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        if how == "environment":
            monkeypatch.setenv("PCFX_HTTP_PORT", str(port))
        if how == "file":
            with (home / "pcfx.toml").open("a") as config:
                config.write(f"http_port = {port}\n")
        settings = load_settings(home, http_port=port if how == "option" else None)
        with pytest.raises(PortTakenError) as refused:
            bind_listener(settings, "http")
    assert str(refused.value).startswith(f"HTTP port 127.0.0.1:{port} is not free (")
    assert f"http_port is set by {source}" in str(refused.value).replace(str(home) + "/", "")
    assert not kept_port_file(settings, "http").exists()
