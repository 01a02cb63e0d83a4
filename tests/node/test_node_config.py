"""Node configuration and node home: pcfx.toml < PCFX_* environment < arguments; unsafe values refused."""

from __future__ import annotations

import stat

import pytest
from pcfx.node.config import ConfigError, load_settings
from pcfx.node.home import HomeExistsError, init_home
from pcfx.node.keystore import KeyStore
from pcfx.node.store.db import make_engine
from sqlalchemy import inspect

COMPANY = "urn:pcfx:uscc:911100001000000001"


@pytest.fixture
def home(tmp_path):
    return init_home(tmp_path / "acme", name="Acme Steel", company_id=COMPANY, web_domain="acme.example").home


def test_init_creates_config_keys_and_a_migrated_sqlite_database(home):
    settings = load_settings(home)
    assert settings.did == "did:web:acme.example"
    assert KeyStore(settings.keys_path).identity().did == settings.did
    assert stat.S_IMODE((settings.keys_path / "signing.pem").stat().st_mode) == 0o600
    assert settings.effective_database_url == f"sqlite:///{home / 'pcfx.db'}"
    assert "declaration" in inspect(make_engine(settings.effective_database_url)).get_table_names()
    text = (home / "pcfx.toml").read_text()
    assert 'name = "Acme Steel"' in text and "did:web:acme.example" in text


def test_init_refuses_an_existing_node_home(home):
    with pytest.raises(HomeExistsError):
        init_home(home, name="Other", company_id=COMPANY)


def test_init_refuses_invalid_values_before_creating_anything(tmp_path):
    with pytest.raises(ConfigError):
        init_home(tmp_path / "x", name="X", company_id="not-a-urn")
    assert not (tmp_path / "x").exists()


def test_environment_overrides_the_file_and_arguments_override_the_environment(home, monkeypatch):
    monkeypatch.setenv("PCFX_HTTP_PORT", "9001")
    monkeypatch.setenv("PCFX_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1/db")
    assert load_settings(home).http_port == 9001
    assert load_settings(home).database_url == "postgresql+psycopg://u:p@127.0.0.1/db"
    assert load_settings(home, http_port=9002).http_port == 9002


def test_home_comes_from_pcfx_home_when_not_given(home, monkeypatch):
    monkeypatch.setenv("PCFX_HOME", str(home))
    assert load_settings().home == home


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="pcfx init"):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nats_url": "nats://10.0.0.5:4222"}, "plaintext"),
        ({"nats_url": "http://127.0.0.1:4222"}, "nats_url must use"),
        ({"http_host": "0.0.0.0"}, "allow_remote_http"),
        ({"database_url": "mysql://x"}, "database_url"),
        ({"max_declaration_bytes": 64 * 1024 * 1024}, "max_declaration_bytes"),
        ({"keys_dir": "../elsewhere"}, "inside the node home"),
    ],
)
def test_unsafe_values_are_refused(home, overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(home, **overrides)


def test_explicitly_allowed_remote_values_are_accepted(home):
    settings = load_settings(
        home,
        nats_url="nats://10.0.0.5:4222",
        allow_plaintext_nats=True,
        http_host="0.0.0.0",
        allow_remote_http=True,
    )
    assert (settings.nats_url, settings.http_host) == ("nats://10.0.0.5:4222", "0.0.0.0")
    assert load_settings(home, nats_url="tls://hub.example:4222").nats_url == "tls://hub.example:4222"


def test_secrets_are_refused_in_the_file(home):
    with (home / "pcfx.toml").open("a") as handle:
        handle.write('key_passphrase = "hunter2"\n')
    with pytest.raises(ConfigError, match="PCFX_KEY_PASSPHRASE"):
        load_settings(home)


def test_unknown_keys_in_the_file_are_refused(home):
    with (home / "pcfx.toml").open("a") as handle:
        handle.write("nats_ulr = 'nats://127.0.0.1:4222'\n")
    with pytest.raises(ConfigError):
        load_settings(home)


def test_a_bad_value_from_the_environment_is_blamed_on_the_environment(home, monkeypatch):
    monkeypatch.setenv("PCFX_NATS_URL", "http://127.0.0.1:4222")
    with pytest.raises(ConfigError) as info:
        load_settings(home)
    message = str(info.value)
    assert "nats_url from environment variable PCFX_NATS_URL" in message
    assert "nats_url must use nats://" in message
    assert "pcfx.toml" not in message


def test_a_bad_value_from_the_file_names_the_file(home):
    with (home / "pcfx.toml").open("a") as handle:
        handle.write("http_port = 99999\n")
    with pytest.raises(ConfigError) as info:
        load_settings(home)
    assert (
        f"http_port (http_port from {home / 'pcfx.toml'}): Input should be less than or equal to 65535"
        in str(info.value)
    )


def test_a_bad_command_line_option_is_blamed_on_the_option(home):
    with pytest.raises(ConfigError, match=r"nats_url from a command-line option\): nats_url is plaintext"):
        load_settings(home, nats_url="nats://10.0.0.5:4222")


def test_an_unknown_key_in_the_file_is_named(home):
    with (home / "pcfx.toml").open("a") as handle:
        handle.write("nats_ulr = 'nats://127.0.0.1:4222'\n")
    with pytest.raises(ConfigError, match="unknown setting nats_ulr"):
        load_settings(home)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_init_keeps_a_database_password_out_of_pcfx_toml(tmp_path, database_url):
    from pcfx.node.home import init_home
    from sqlalchemy.engine import make_url

    password = make_url(database_url).password
    assert password
    init_home(
        tmp_path / "acme",
        name="Acme",
        company_id="urn:pcfx:uscc:91110000000000001A",
        database_url=database_url,
    )
    config = (tmp_path / "acme" / "pcfx.toml").read_text()
    secrets = tmp_path / "acme" / "secrets.toml"
    assert f":{password}@" not in config
    assert f":{password}@" in secrets.read_text()
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert load_settings(tmp_path / "acme").database_url == database_url


def test_a_database_password_in_pcfx_toml_is_refused(home):
    with (home / "pcfx.toml").open("a") as handle:
        handle.write('database_url = "postgresql+psycopg://pcfx:s3cret@db.example/pcfx"\n')
    with pytest.raises(ConfigError, match=r"database_url holds a password; move it to secrets\.toml"):
        load_settings(home)


def test_a_secrets_file_readable_by_others_is_refused(home):
    secrets = home / "secrets.toml"
    secrets.write_text('key_passphrase = "x"\n')
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_settings(home)
