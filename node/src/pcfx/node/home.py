"""`pcfx init`: a node home with its configuration (pcfx.toml), keys (keystore) and migrated database."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import tomli_w
from pcfx.node.config import CONFIG_FILE, SECRETS_FILE, ConfigError, Settings, has_password, load_settings
from pcfx.node.keystore import KeyStore
from pcfx.node.store.checks import open_node_store
from pcfx.node.store.health import StoreError

__all__ = ["HomeExistsError", "init_home"]


class HomeExistsError(FileExistsError):
    """The directory already holds a node configuration."""


def init_home(
    directory: Path | str,
    *,
    name: str,
    company_id: str,
    web_domain: str | None = None,
    passphrase: str | None = None,
    database_url: str | None = None,
    **settings: Any,
) -> Settings:
    """Create a node home: keys (did:web of `web_domain`, else did:key), `pcfx.toml`, and the database
    (SQLite `pcfx.db` in the home unless `database_url`) migrated to the current schema.

    Extra keyword arguments are written to `pcfx.toml` as settings (e.g. `nats_url`, `http_port`); the file
    is validated before anything is created, and never holds secrets. A database that belongs to another
    node, or that is corrupt or read-only, is refused (`StoreError`) and nothing of the home is left."""
    home = Path(directory).expanduser().resolve()
    if (home / CONFIG_FILE).exists():
        raise HomeExistsError(f"{home / CONFIG_FILE} exists; this directory is already a node home")
    values: dict[str, Any] = {"name": name, "company_id": company_id, **settings}
    secrets: dict[str, Any] = {}
    if database_url is not None:
        # a password never goes into pcfx.toml: it is kept in secrets.toml, mode 0600
        (secrets if has_password(database_url) else values)["database_url"] = database_url
    values = {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items() if v is not None}
    # Validate everything except the DID before touching the disk (the DID comes from the new keys).
    try:
        checked = Settings(home=home, did="did:key:z6Mkvalidation", **values, **secrets)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    created_home = not home.exists()
    created_keys = not checked.keys_path.exists()
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    identity = KeyStore(checked.keys_path).create(web_domain=web_domain, passphrase=passphrase)
    try:
        # the database: checked, migrated, and now this identity's (another node's is refused)
        open_node_store(checked.effective_database_url, did=identity.did, company_id=company_id).dispose()
    except StoreError:
        # nothing of a home that cannot work is left behind
        if created_keys:
            shutil.rmtree(checked.keys_path, ignore_errors=True)
        if created_home:
            shutil.rmtree(home, ignore_errors=True)
        raise
    values["did"] = identity.did
    if secrets:
        secrets_path = home / SECRETS_FILE
        secrets_path.touch(mode=0o600)
        secrets_path.write_text(
            "# pcfx node secrets: never in pcfx.toml; keep this file mode 0600.\n" + tomli_w.dumps(secrets),
            encoding="utf-8",
        )
    (home / CONFIG_FILE).write_text(
        "# pcfx node configuration; PCFX_* environment variables override these values.\n"
        + tomli_w.dumps(values),
        encoding="utf-8",
    )
    return load_settings(home)
