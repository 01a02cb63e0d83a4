"""The admin API's bearer token from the command line: `pcfx init` shows one once, `pcfx admin token` makes
one, `--rotate` replaces it and the old one stops working on the running node at once. The home keeps only a
hash (mode 0600)."""

from __future__ import annotations

import re
import stat
import subprocess
import sys

import pytest
from http_kit import serving
from node_kit import make_network
from pcfx.node.admin_token import admin_token_path

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]
COMPANY = "urn:pcfx:uscc:911100001000000001"


def pcfx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PCFX, *args], capture_output=True, text=True, timeout=120)


def test_init_shows_the_admin_token_once_and_keeps_only_its_hash(tmp_path):
    done = pcfx("init", str(tmp_path / "acme"), "--name", "Acme", "--company-id", COMPANY)
    assert done.returncode == 0, done.stderr
    token = re.search(r"admin token (pcfx-admin-\S+)", done.stdout).group(1)
    kept = admin_token_path(tmp_path / "acme")
    assert token not in kept.read_text() and kept.read_text().startswith("sha256:")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_admin_token_makes_one_when_the_home_has_none(tmp_path):
    home = make_network(tmp_path, ["Acme"])["Acme"].settings.home
    done = pcfx("admin", "token", "--home", str(home))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("pcfx-admin-") and admin_token_path(home).exists()


def test_admin_token_without_rotate_keeps_the_existing_token_and_says_how_to_replace_it(tmp_path):
    home = make_network(tmp_path, ["Acme"])["Acme"].settings.home
    pcfx("admin", "token", "--home", str(home))
    kept = admin_token_path(home).read_text()
    again = pcfx("admin", "token", "--home", str(home))
    assert again.returncode == 1 and again.stdout == ""
    assert len(again.stderr.strip().splitlines()) == 1 and "--rotate" in again.stderr
    assert admin_token_path(home).read_text() == kept


@pytest.fixture
def acme(tmp_path):
    return make_network(tmp_path, ["Acme"], http_port=0, admin_port=0, allow_plain_http=True)["Acme"]


async def test_rotating_the_admin_token_stops_the_old_one_on_the_running_node(acme, nats_server):
    async with serving(acme.settings, nats_server.url) as served, served.admin() as admin:
        old = served.admin_headers
        before = await admin.get("/quarantine", headers=old)
        done = pcfx("admin", "token", "--rotate", "--home", str(acme.settings.home))
        new = {"Authorization": f"Bearer {done.stdout.strip()}"}
        with_old = await admin.get("/quarantine", headers=old)
        with_new = await admin.get("/quarantine", headers=new)
    assert done.returncode == 0, done.stderr
    assert (before.status_code, with_old.status_code, with_new.status_code) == (200, 401, 200)
