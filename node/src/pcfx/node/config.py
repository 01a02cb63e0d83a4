"""The node's one typed configuration: `pcfx.toml` in the node home, overridden by `PCFX_*` environment
variables, overridden by explicit arguments (CLI options). Unsafe values are refused at load time."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pcfx.node.config_notify import NotificationSettings
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "CONFIG_FILE",
    "HOME_ENV",
    "SECRETS_FILE",
    "ConfigError",
    "Settings",
    "has_password",
    "load_settings",
    "resolve_home",
]

CONFIG_FILE = "pcfx.toml"
#: Secrets of a node home (database URL with its password, key passphrase): mode 0600, never in pcfx.toml.
SECRETS_FILE = "secrets.toml"
SECRET_SETTINGS = frozenset({"database_url", "key_passphrase", "notify_smtp_password"})
HOME_ENV = "PCFX_HOME"
#: NATS refuses larger messages with its default `max_payload`; a declaration is a few kB.
_NATS_MAX_PAYLOAD = 1024 * 1024


class ConfigError(ValueError):
    """The node configuration is missing or holds an unsafe value."""


def _is_loopback(host: str | None) -> bool:
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(NotificationSettings, BaseSettings):
    """Everything a node needs to run; field names are the TOML keys and, upper-cased with `PCFX_`, the
    environment variables (e.g. `PCFX_DATABASE_URL`)."""

    model_config = SettingsConfigDict(env_prefix="PCFX_", extra="forbid", validate_default=True)

    home: Path = Field(description="Node home directory (config, keys, database, embedded NATS store).")
    name: str = Field(min_length=1, max_length=200, description="Company display name.")
    company_id: str = Field(description="Company id URN, e.g. urn:pcfx:uscc:<unified social credit code>.")
    did: str = Field(description="The company's DID, the issuer of its declarations.")
    keys_dir: Path = Field(
        default=Path("keys"), description="Key directory (node keystore), relative to home."
    )
    key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of the key file; environment only (PCFX_KEY_PASSPHRASE)."
    )
    registry_file: Path = Field(
        default=Path("registry.json"), description="Trust registry, relative to home."
    )
    registry_operator_key: str | None = Field(
        default=None, description="Multikey of the network operator; the registry must verify with it."
    )
    allow_did_key: bool = Field(default=False, description="Accept did:key issuers outside the registry.")

    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in home.")

    nats_url: str | None = Field(
        default=None, description="External NATS server; embedded server when unset."
    )
    nats_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Embedded server port; 0 = a free port, picked at first start and kept in nats/nats.port.",
    )
    nats_creds: Path | None = Field(default=None, description="NATS user credentials file (operator mode).")
    nats_account: str | None = Field(
        default=None,
        pattern=r"^A[A-Z2-7]{55}$",
        description="The company's NATS account public key (buyer-only declarations reach it on "
        "pcfx.v1.dto.<account>.>); default: the company's trust-registry entry.",
    )
    allow_plaintext_nats: bool = Field(default=False, description="Allow nats:// to a non-loopback host.")
    nats_leaf_url: str | None = Field(
        default=None,
        description="The hub's leaf node URL: the embedded server joins the network hub as a leaf node of "
        "the company's account (nats-leaf:// or tls://), with a JetStream domain of its own.",
    )
    nats_leaf_creds: Path | None = Field(
        default=None, description="The company's leaf credentials file from the network operator."
    )
    nats_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="JetStream domain of the embedded leaf server (default: derived from the company DID).",
    )
    hub_domain: str = Field(
        default="hub", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="JetStream domain of the network hub."
    )

    http_host: str = Field(default="127.0.0.1")
    http_port: int = Field(default=8787, ge=0, le=65535)
    allow_remote_http: bool = Field(default=False, description="Allow binding the HTTP API off loopback.")
    tls_cert: Path | None = Field(default=None, description="PEM certificate (chain) the HTTP API serves.")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    allow_plain_http: bool = Field(
        default=False, description="Serve the PACT API over plain HTTP (local development only)."
    )
    pact_public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="The PACT API's base URL as peers reach it (behind a proxy); the source of the Published "
        "events this node sends (default: the URL it listens on).",
    )
    outbound_ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of CA certificates trusted, besides the system's, for outbound HTTPS (PACT "
        "event callbacks, Published events, pulls from peers): a private CA.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=["127.0.0.1", "::1"],
        description="Addresses or networks (CIDR) of the proxies whose X-Forwarded-Proto/-For/-Host headers the "
        "HTTP API believes (a TLS-terminating ingress); comma-separated in PCFX_TRUSTED_PROXIES.",
    )
    admin_host: str = Field(default="127.0.0.1", description="Interface of the node's admin API.")
    admin_port: int = Field(
        default=8788, ge=0, le=65535, description="Port of the admin API (the node's own endpoints), 0 = any."
    )
    allow_remote_admin: bool = Field(default=False, description="Allow binding the admin API off loopback.")

    max_declaration_bytes: int = Field(default=256 * 1024, ge=4096, le=_NATS_MAX_PAYLOAD)
    stream_history: int = Field(default=64, ge=1, le=10_000, description="Versions kept per subject.")
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="Replicas of the PCFX stream and KV (3 on a hub cluster)."
    )
    duplicate_window_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    ack_wait_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    fetch_batch: int = Field(default=64, ge=1, le=1024)
    subscription_sync_seconds: float = Field(
        default=2.0, ge=0.5, le=300.0, description="How soon a subscription added by `pcfx subscribe` starts."
    )
    readiness_seconds: float = Field(
        default=1.0,
        ge=0.1,
        le=300.0,
        description="How often the readiness checks run (NATS, JetStream, a write to the store, free disk).",
    )
    feed_health_seconds: float = Field(
        default=5.0,
        ge=1.0,
        le=3600.0,
        description="How often the feeds' health (lag, last verified version, rejections) is rebuilt: a "
        "consumer info and two store reads per followed product.",
    )
    verify_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes verifying fetched declarations while the node stores the previous batch "
        "(0 = verify in the node's own process). Each uses a core of its own.",
    )
    min_free_disk_mb: int = Field(
        default=256,
        ge=0,
        description="Free disk space (MiB) the node home, NATS store and SQLite file need for the node to be "
        "ready (/health/ready).",
    )
    quarantine_max_messages: int = Field(
        default=10_000, ge=1, description="Rejected messages kept; past it the ones seen last longest ago go."
    )
    quarantine_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=64 * 1024, description="Bytes of rejected messages kept, in total."
    )
    quarantine_max_age_days: int = Field(
        default=90, ge=1, le=36_500, description="Days a rejected message is kept after it was last seen."
    )
    quarantine_raw_bytes: int = Field(
        default=64 * 1024,
        ge=0,
        le=_NATS_MAX_PAYLOAD,
        description="Bytes kept of one rejected message (its full size and SHA-256 are kept).",
    )
    republish_policy: Literal["auto", "hold"] = Field(
        default="hold", description="On a new supplier version: republish own products, or hold for review."
    )
    gwp_mismatch: Literal["warn", "refuse"] = Field(
        default="warn",
        description="A CO2e value (factor or supplier declaration) characterised with another GWP set than the "
        "calculation's: warn (reported per input, its temporal DQR lowered) or refuse the computation.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments > PCFX_* environment > secrets.toml > pcfx.toml > defaults.
        config, secrets = _HOME_FILES.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if secrets is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=secrets))
        if config is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        else:  # Settings made without load_settings: the file its model_config names, if any
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @field_validator("company_id")
    @classmethod
    def _urn(cls, value: str) -> str:
        if not value.startswith("urn:") or len(value.split(":")) < 3:
            raise ValueError("company_id must be a URN such as urn:pcfx:uscc:<code>")
        return value

    @field_validator("did")
    @classmethod
    def _did(cls, value: str) -> str:
        if not value.startswith(("did:web:", "did:key:")):
            raise ValueError("did must be a did:web or did:key identifier")
        return value

    @field_validator("registry_operator_key")
    @classmethod
    def _operator_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from pcfx.protocol.keys import ed25519_raw_from_multikey

        try:  # refused here, with the setting's source, not when the registry is first read
            ed25519_raw_from_multikey(value)
        except ValueError as exc:
            raise ValueError(f"{exc} (the operator's key is what `pcfx did show --key` prints)") from None
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        # PCFX_TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.5" (a JSON list is accepted too)
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return [entry.strip() for entry in value]

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split("://", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgresql+psycopg"):
            raise ValueError("database_url must be sqlite:///PATH or postgresql+psycopg://...")
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.nats_url is not None:
            parts = urlsplit(self.nats_url)
            if parts.scheme not in ("nats", "tls", "ws", "wss"):
                raise ValueError("nats_url must use nats://, tls://, ws:// or wss://")
            plaintext = parts.scheme in ("nats", "ws")
            if plaintext and not _is_loopback(parts.hostname) and not self.allow_plaintext_nats:
                raise ValueError(
                    "nats_url is plaintext to a remote host; use tls:// or set allow_plaintext_nats = true"
                )
        if self.nats_leaf_url is not None:
            if self.nats_url is not None:
                raise ValueError("nats_leaf_url and nats_url exclude each other: a leaf node or a client")
            if self.nats_leaf_creds is None:
                raise ValueError("nats_leaf_url needs nats_leaf_creds (the company's leaf credentials)")
            parts = urlsplit(self.nats_leaf_url)
            if parts.scheme not in ("nats-leaf", "tls", "ws", "wss"):
                raise ValueError("nats_leaf_url must use nats-leaf://, tls://, ws:// or wss://")
            plaintext = parts.scheme in ("nats-leaf", "ws")
            if plaintext and not _is_loopback(parts.hostname) and not self.allow_plaintext_nats:
                raise ValueError(
                    "nats_leaf_url is plaintext to a remote host; use tls:// or set allow_plaintext_nats = true"
                )
        if not _is_loopback(self.http_host) and not self.allow_remote_http:
            raise ValueError("http_host is not loopback; set allow_remote_http = true to expose the API")
        if not _is_loopback(self.admin_host) and not self.allow_remote_admin:
            raise ValueError("admin_host is not loopback; set allow_remote_admin = true to expose it")
        if self.admin_port and self.admin_port == self.http_port:
            raise ValueError("admin_port and http_port must differ: the admin API has a listener of its own")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        for name in ("keys_dir", "registry_file"):
            path: Path = getattr(self, name)
            if not path.is_absolute() and ".." in path.parts:
                raise ValueError(f"{name} must stay inside the node home")
        return self

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    def source_of(self, name: str) -> str | None:
        """Where setting `name` was set explicitly (a command-line option, an environment variable, the
        file); None when it has its default."""
        if name not in self.model_fields_set:
            return None
        return self._sources.get(name, "the caller")

    # Resolved locations -------------------------------------------------------------------------------
    def path(self, relative: Path) -> Path:
        """A home-relative path made absolute."""
        return relative if relative.is_absolute() else self.home / relative

    @property
    def keys_path(self) -> Path:
        return self.path(self.keys_dir)

    @property
    def registry_path(self) -> Path:
        return self.path(self.registry_file)

    @property
    def nats_store_dir(self) -> Path:
        return self.home / "nats"

    @property
    def network_mode(self) -> bool:
        """True when the node is a company of a NATS network (credentials for a hub, or a leaf of one)."""
        return self.nats_creds is not None or self.nats_leaf_url is not None

    @property
    def network_creds(self) -> Path | None:
        """The credentials binding this node to its company's account: the node's, else the leaf's."""
        chosen = self.nats_creds or self.nats_leaf_creds
        return None if chosen is None else self.path(chosen)

    @property
    def leaf_mode(self) -> bool:
        """True when the embedded server joins a network hub as a leaf node."""
        return self.nats_leaf_url is not None

    @property
    def local_domain(self) -> str:
        """The embedded leaf server's JetStream domain: configured, or from the company DID."""
        if self.nats_domain:
            return self.nats_domain
        import hashlib

        return "pcfx-" + hashlib.sha256(self.did.encode()).hexdigest()[:16]

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or SQLite `pcfx.db` in the node home."""
        return self.database_url or f"sqlite:///{self.home / 'pcfx.db'}"


def resolve_home(home: Path | str | None = None) -> Path:
    """The node home: the argument, else `PCFX_HOME`, else the current directory."""
    chosen = home if home is not None else os.environ.get(HOME_ENV) or Path.cwd()
    return Path(chosen).expanduser().resolve()


#: The home's pcfx.toml and secrets.toml while `load_settings` builds its Settings (a subclass per home would
#: cost pydantic a schema build, ~14 ms, on every load).
_HOME_FILES: ContextVar[tuple[Path | None, Path | None]] = ContextVar("pcfx_home_files", default=(None, None))


def load_settings(home: Path | str | None = None, **overrides: Any) -> Settings:
    """Load the node configuration of `home` (see `resolve_home`); `overrides` win over env and file."""
    root = resolve_home(home)
    config = root / CONFIG_FILE
    if not config.is_file():
        raise ConfigError(f"no {CONFIG_FILE} in {root}; run `pcfx init {root} --name ... --company-id ...`")
    _refuse_secrets_in_file(config)

    secrets = root / SECRETS_FILE
    has_secrets = _check_secrets_file(secrets)

    values = {k: v for k, v in overrides.items() if v is not None}
    files = _HOME_FILES.set((config, secrets if has_secrets else None))
    try:
        settings = Settings(home=root, **values)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, config=config, overrides=values)) from None
    except ValueError as exc:
        raise ConfigError(f"{config}: {exc}") from exc
    finally:
        _HOME_FILES.reset(files)
    file_keys = _file_keys(config)
    settings._sources = {
        name: _source(name, config=config, overrides=values, file_keys=file_keys)
        for name in settings.model_fields_set
    }
    return settings


def _file_keys(config: Path) -> set[str]:
    import tomllib

    return set(tomllib.loads(config.read_text(encoding="utf-8")))


def _source(name: str, *, config: Path, overrides: dict[str, Any], file_keys: set[str]) -> str:
    """Where setting `name` got its value: argument, environment variable, the file, or the default."""
    if name in overrides:
        return "a command-line option"
    env = f"PCFX_{name.upper()}"
    if env in os.environ:
        return f"environment variable {env}"
    if name in file_keys:
        return str(config)
    return "the default"


def _explain(exc: ValidationError, *, config: Path, overrides: dict[str, Any]) -> str:
    """One line per problem naming the setting, where its value came from, and what is wrong."""
    file_keys = _file_keys(config)
    names = set(Settings.model_fields)
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = [str(part) for part in error["loc"]]
        if error["type"] == "extra_forbidden":
            lines.append(f"{config}: unknown setting {'.'.join(loc)} (see `pcfx.node.config.Settings`)")
            continue
        # a cross-setting check has no location: it names its settings in the message
        mentioned = loc[:1] if loc else sorted(n for n in names if re.search(rf"\b{n}\b", message))
        sources = "; ".join(
            f"{n} from {_source(n, config=config, overrides=overrides, file_keys=file_keys)}"
            for n in mentioned
        )
        lines.append(f"{'.'.join(loc) or 'settings'} ({sources or 'configuration'}): {message}")
    return "\n".join(lines)


def has_password(database_url: str | None) -> bool:
    """True when a database URL carries a password (it then belongs in secrets.toml or the environment)."""
    if not database_url or "://" not in database_url:
        return False
    try:
        return bool(urlsplit(database_url).password)
    except ValueError:
        return False


def _refuse_secrets_in_file(config: Path) -> None:
    import tomllib

    data = tomllib.loads(config.read_text(encoding="utf-8"))
    for secret in ("key_passphrase", "notify_smtp_password"):
        if secret in data:
            raise ConfigError(
                f"{config}: {secret} must come from PCFX_{secret.upper()} or {SECRETS_FILE}, never this file"
            )
    if has_password(data.get("database_url")):
        raise ConfigError(
            f"{config}: database_url holds a password; move it to {SECRETS_FILE} (mode 0600) in the home "
            "or to PCFX_DATABASE_URL"
        )
    if "home" in data:
        raise ConfigError(f"{config}: home is where the file is; remove the key")


def _check_secrets_file(path: Path) -> bool:
    """True when the home has a secrets file; refuse one that others can read or that holds other settings."""
    import tomllib

    if not path.is_file():
        return False
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path}: readable by others (mode {mode:o}); run chmod 600 {path}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    other = sorted(set(data) - SECRET_SETTINGS)
    if other:
        raise ConfigError(f"{path}: only {sorted(SECRET_SETTINGS)} belong here, not {other}")
    return True
