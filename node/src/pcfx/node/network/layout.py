"""Where the network operator's directory keeps each thing, how secrets are written (0600, in 0700 folders),
and the lock that serialises changes made by several operator processes (commands and the serve loop).

    network.json            the state: ports, public keys, accounts (see state.py)
    companies.db            the company directory: one row per company and per follow (directory.py)
    operator/               operator-grade secrets (0700)
      operator.nk           operator identity seed: only for re-signing the operator JWT; keep it offline
      signing.nk            operator signing seed: signs every account JWT (daily use)
      operator.jwt          the operator JWT the hub servers trust
      sys.creds             SYS account admin user: pushes accounts; operator tooling only
      network.creds         NETWORK account service user: the registry feed and the follow service
    accounts/               account seeds (<pub>.nk, sign the accounts' users) and canonical JWTs (<pub>.jwt)
    registry/keys/          the trust-registry operator's identity (a pcfx key store)
    registry/registry.json  the current signed trust registry
    hub/hub.conf            one hub server; hub/cluster/n1..n3.conf a 3-server cluster; data under each
    companies/<slug>/       what each company receives (node.creds, leaf.creds, registry.json, ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["NetworkLayout", "write_public", "write_secret"]


def _write(path: Path, data: bytes, mode: int) -> None:
    # Written next to the target and renamed over it: a reader never sees half a file, and a secret is never
    # readable by others, not even for a moment (the mode is set before any byte is written).
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_secret(path: Path, text: str) -> None:
    """Write a seed or credentials file readable by its owner only (0600)."""
    _write(path, text.encode(), 0o600)


def write_public(path: Path, text: str) -> None:
    """Write a public file (JWTs, configs, the registry) atomically."""
    _write(path, text.encode(), 0o644)


class NetworkLayout:
    """The paths of one network operator directory (see the module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    @property
    def state_file(self) -> Path:
        return self.root / "network.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".network.lock"

    @property
    def operator_dir(self) -> Path:
        return self.root / "operator"

    @property
    def operator_seed(self) -> Path:
        return self.operator_dir / "operator.nk"

    @property
    def signing_seed(self) -> Path:
        return self.operator_dir / "signing.nk"

    @property
    def operator_jwt(self) -> Path:
        return self.operator_dir / "operator.jwt"

    @property
    def sys_creds(self) -> Path:
        return self.operator_dir / "sys.creds"

    @property
    def network_creds(self) -> Path:
        return self.operator_dir / "network.creds"

    @property
    def accounts_dir(self) -> Path:
        return self.root / "accounts"

    def account_seed(self, account: str) -> Path:
        return self.accounts_dir / f"{account}.nk"

    def account_jwt(self, account: str) -> Path:
        return self.accounts_dir / f"{account}.jwt"

    @property
    def registry_keys(self) -> Path:
        return self.root / "registry" / "keys"

    @property
    def registry_file(self) -> Path:
        return self.root / "registry" / "registry.json"

    @property
    def hub_dir(self) -> Path:
        return self.root / "hub"

    @property
    def hub_conf(self) -> Path:
        return self.hub_dir / "hub.conf"

    @property
    def hub_data(self) -> Path:
        return self.hub_dir / "data"

    def cluster_conf(self, n: int) -> Path:
        return self.hub_dir / "cluster" / f"n{n}.conf"

    def cluster_data(self, n: int) -> Path:
        return self.hub_dir / "cluster" / f"n{n}"

    def company_dir(self, slug: str) -> Path:
        return self.root / "companies" / slug

    def make_private_dirs(self) -> None:
        """Create the folders that hold secrets, readable by their owner only."""
        for folder in (self.root, self.operator_dir, self.accounts_dir, self.root / "companies"):
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)

    @contextlib.asynccontextmanager
    async def locked(self, *, poll: float = 0.02) -> AsyncIterator[None]:
        """Hold the directory's lock while the state is read, changed and written; waits without blocking the
        event loop (the lock is an flock, so it also serialises separate operator processes)."""
        with self.lock_file.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(poll)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
