"""`pcfx node wait`: a script that starts `pcfx node run --home H &` goes on once that node is ready, with
its URLs printed and in H/run/; it gives up in one line, exit 1, when no node becomes ready in time or the
node exits first. A second node on a home where one runs is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from node_kit import make_network
from pcfx.node.home import init_home
from pcfx.node.service_runtime import NodeNotReadyError, wait_until_ready

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]
ENV = {**os.environ, "COLUMNS": "300"}


def _pcfx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PCFX, *args], capture_output=True, text=True, timeout=90, env=ENV)


@pytest.fixture(scope="module")
def node_and_wait(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    """A node started in the background and, at once, `pcfx node wait` on its home."""
    home = make_network(tmp_path_factory.mktemp("wait"), ["Acme"], http_port=0)["Acme"].settings.home
    node = subprocess.Popen(
        [*PCFX, "node", "run", "--home", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    try:
        yield home, _pcfx("node", "wait", "--home", str(home), "--timeout", "60")
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(15)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()


def test_node_wait_returns_once_the_node_is_ready_and_prints_its_urls(node_and_wait):
    home, waited = node_and_wait
    assert waited.returncode == 0, waited.stderr
    run = home / "run"
    urls = {name: (run / f"{name}.url").read_text().strip() for name in ("nats", "pact", "admin")}
    assert waited.stdout.strip().endswith(
        f"NATS {urls['nats']}, PACT API {urls['pact']}, admin API {urls['admin']}"
    )
    assert httpx.get(f"{urls['pact']}/health/live").status_code == 200
    assert httpx.get(f"{urls['admin']}/health/live").status_code == 200


def test_a_second_node_on_a_home_where_one_runs_is_refused_in_one_line(node_and_wait):
    home, _ = node_and_wait
    pid = (home / "run" / "node.pid").read_text().strip()
    second = _pcfx("node", "run", "--home", str(home))
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert second.stderr.strip() == f"node run: a node already runs on {home} (pid {pid}); stop it first"


def test_node_wait_without_a_node_gives_up_after_the_timeout_in_one_line(tmp_path):
    home = init_home(tmp_path / "idle", name="Idle", company_id="urn:pcfx:uscc:911100001000000017").home
    waited = _pcfx("node", "wait", "--home", str(home), "--timeout", "0.5")
    assert waited.returncode == 1 and waited.stdout == ""
    assert waited.stderr.strip() == f"node wait: no node became ready on {home} within 0.5 s"


def test_waiting_for_a_node_that_exits_before_it_is_ready_says_so(tmp_path):
    # no trust registry: `pcfx node run` ends with one line before it is ready
    home = init_home(tmp_path / "lone", name="Lone", company_id="urn:pcfx:uscc:911100001000000017").home
    outcome: list[BaseException | object] = []

    def wait() -> None:
        try:
            outcome.append(wait_until_ready(home, timeout=60))
        except NodeNotReadyError as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()  # waiting before the node starts, as `pcfx node run ... &` then `pcfx node wait` does
    node = subprocess.Popen([*PCFX, "node", "run", "--home", str(home)], stderr=subprocess.PIPE, env=ENV)
    _, err = node.communicate(timeout=90)
    waiter.join(60)
    assert node.returncode == 1 and "no trust registry" in err.decode()
    assert [str(o) for o in outcome] == [
        f"the node on {home} (pid {node.pid}) exited before it was ready; see its output"
    ]
