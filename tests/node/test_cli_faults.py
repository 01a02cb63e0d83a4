"""Operator mistakes that used to end `pcfx` commands in tracebacks end with one line naming the file, the
option or the port, and exit 2: a missing TLS file given by a relative path, a busy HTTP port, publishing a
file that does not exist."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from node_kit import make_network

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]


def _pcfx(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PCFX, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_node_run_with_a_missing_tls_certificate_names_the_file(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    done = _pcfx(
        "node",
        "run",
        "--home",
        str(acme.settings.home),
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        "key.pem",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"node run: --tls-cert {tmp_path / 'cert.pem'}: No such file or directory" in done.stderr


def test_node_run_on_a_busy_http_port_says_so_in_one_line(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _pcfx(
            "node", "run", "--home", str(acme.settings.home), "--http-port", str(port), "--plain-http"
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"node run: HTTP port 127.0.0.1:{port} is not free" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2


def test_publish_of_a_missing_file_names_it(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    done = _pcfx("publish", str(tmp_path / "nope.json"), "--home", str(acme.settings.home))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"publish: cannot read {tmp_path / 'nope.json'}: No such file or directory" in done.stderr
