"""The battery maker's node home, its declaration file and its rendered reports, made once for the report and
export tests (a real nats-server and two real nodes; WeasyPrint for the PDFs, python-docx for the Word
documents)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pcfx.node.cli.app import app
from pcfx.node.config import load_settings
from pcfx.node.store.db import open_store, session_scope
from pcfx.node.store.models import Declaration
from report_kit import BatteryHome, Rendered, make_battery_home
from sqlmodel import select
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def battery(tmp_path_factory: pytest.TempPathFactory) -> BatteryHome:
    return make_battery_home(tmp_path_factory.mktemp("battery"))


@pytest.fixture(scope="session")
def declaration_file(battery: BatteryHome, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The battery declaration as stored (signed bytes), in a file of its own."""
    engine = open_store(load_settings(battery.home).effective_database_url)
    try:
        with session_scope(engine) as session:
            query = select(Declaration).where(Declaration.declaration_id == battery.battery.declaration_id)
            row = session.exec(query).one()
            raw = row.raw
    finally:
        engine.dispose()
    path = tmp_path_factory.mktemp("decl") / "battery-declaration.json"
    path.write_bytes(raw)
    json.loads(raw)  # it is JSON
    return path


def _render(battery: BatteryHome, folder: Path, lang: str) -> Rendered:
    runner = CliRunner()
    files = {}
    for fmt in ("pdf", "html"):
        out = folder / f"battery-report-{lang}.{fmt}"
        args = ["report", "lfp-pack-280ah", "--format", fmt, "--lang", lang, "--out", str(out)]
        args += ["--verify-url", "https://batteryco.example/verify", "--home", str(battery.home)]
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        files[fmt] = out
    return Rendered(files["pdf"], files["html"])


@pytest.fixture(scope="session")
def english(battery: BatteryHome, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return _render(battery, tmp_path_factory.mktemp("report-en"), "en")


@pytest.fixture(scope="session")
def chinese(battery: BatteryHome, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return _render(battery, tmp_path_factory.mktemp("report-zh"), "zh")


def _render_docx(battery: BatteryHome, folder: Path, lang: str) -> Path:
    """The report as `pcfx report --format docx` writes it (with the same verify URL as the PDF and HTML)."""
    out = folder / f"battery-report-{lang}.docx"
    args = ["report", "lfp-pack-280ah", "--format", "docx", "--lang", lang, "--out", str(out)]
    args += ["--verify-url", "https://batteryco.example/verify", "--home", str(battery.home)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture(scope="session")
def english_docx(battery: BatteryHome, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render_docx(battery, tmp_path_factory.mktemp("docx-en"), "en")


@pytest.fixture(scope="session")
def chinese_docx(battery: BatteryHome, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render_docx(battery, tmp_path_factory.mktemp("docx-zh"), "zh")
