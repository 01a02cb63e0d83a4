"""`pcfx report`: the CFP study report of the lithium-ion battery example on a real node home, as PDF (text read
back with pdftotext, fonts listed with pdffonts, pages drawn with pdftoppm) and HTML.

The figures are those of the stored computation: raw materials 59.5 kg CO2e per kWh (the example's defaults,
busbars on the copper maker's verified 3.6 kg/kg: 0.35 x 3.6 = 1.26), production 9.99421 (17.3 kWh x 0.5777),
total 69.49421."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from node_kit import make_network
from pcfx.node.cli.app import app
from pcfx.node.reports.i18n import translator
from pcfx.node.reports.svg import qr_svg
from report_kit import ARTIFACTS, EXAMPLES, BatteryHome, Rendered
from typer.testing import CliRunner

SECTIONS = (
    "sec_goal", "sec_unit", "sec_boundary", "sec_cutoff", "sec_data", "sec_allocation", "sec_electricity",
    "sec_gwp", "sec_results", "sec_uncertainty", "sec_primary", "sec_limitations", "sec_declaration",
)  # fmt: skip


def pdf_text(pdf: Path, *, first: int | None = None, last: int | None = None) -> str:
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    command = ["pdftotext", "-layout", *pages, str(pdf), "-"]  # -layout: a table row stays one line
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return re.sub(r"[ \t]+", " ", done.stdout)


def test_the_english_pdf_has_every_clause_7_section_and_the_certificate(english: Rendered):
    t, text = translator("en"), pdf_text(english.pdf)
    missing = [t(key) for key in (*SECTIONS, "certificate_title") if t(key) not in text]
    assert missing == []


def test_the_pdf_carries_the_computed_total_and_each_stage(english: Rendered):
    text = pdf_text(english.pdf)
    assert "69.49421" in text
    assert re.search(r"Raw material acquisition and pre-processing\s+59\.5\s+85\.6", text)
    assert re.search(r"Main product production\s+9\.99421\s+14\.4", text)
    assert re.search(r"Distribution\s+excluded\s+not assessed", text)


def test_the_certificate_page_shows_the_total_and_the_declaration_id(english: Rendered, battery: BatteryHome):
    page_one = pdf_text(english.pdf, first=1, last=1)
    assert "69.49421" in page_one
    assert battery.battery.declaration_id in page_one
    assert "https://batteryco.example/verify" in page_one


def test_the_qr_code_encodes_the_declaration_id_and_where_to_verify_it(
    english: Rendered, battery: BatteryHome
):
    payload = "\n".join(
        [
            "pcfx product carbon footprint declaration",
            f"declaration: {battery.battery.declaration_id}",
            f"issuer: {battery.network['BatteryCo'].did}",
            "product: urn:pcfx:product:91350900PCFXD0014J:lfp-pack-280ah",
            "cfp: 69.49421 kg CO2e / 1 kWh",
            "verify: https://batteryco.example/verify",
        ]
    )
    # the encoder is deterministic: the page's QR code is this payload's
    assert qr_svg(payload) in english.html.read_text(encoding="utf-8")


def test_the_chinese_pdf_embeds_the_noto_cjk_font(chinese: Rendered):
    fonts = subprocess.run(["pdffonts", str(chinese.pdf)], capture_output=True, text=True, check=True).stdout
    cjk = [line.split() for line in fonts.splitlines() if "Noto-Sans-CJK-SC" in line]
    assert cjk, fonts
    # columns after the name: type..., encoding, emb, sub, uni, object, generation
    assert all(row[-5] == "yes" for row in cjk), fonts


def test_the_chinese_pdf_reads_back_its_chinese_headings_and_figures(chinese: Rendered):
    t, text = translator("zh"), pdf_text(chinese.pdf)
    missing = [t(key) for key in (*SECTIONS, "certificate_title") if t(key) not in text]
    assert missing == []
    assert re.search(r"原材料获取阶段\s+59\.5", text)
    assert "9.99421" in text


def test_the_report_names_each_supplier_declaration_with_its_verification_receipt(
    english: Rendered, battery: BatteryHome
):
    html = english.html.read_text(encoding="utf-8")
    copper = battery.network["CopperCo"]
    assert battery.copper.declaration_id in html
    assert f"key {copper.issuer.verification_method}, trust registry v1, verified" in html
    # an input naming a supplier outside the registry keeps its default, and the report says why
    assert "company urn:pcfx:uscc:91430100PCFXD0016X is not in trust registry v1" in html


def test_the_boundary_diagram_draws_every_process_and_the_stages_outside(english: Rendered):
    html = english.html.read_text(encoding="utf-8")
    diagram = html[html.index("<svg", html.index("Unit processes")) :]
    diagram = diagram[: diagram.index("</svg>")]
    for label in ("Mixing, coating and", "Module and pack", "busbars [S]", "Distribution", "End of life"):
        assert label in diagram
    assert "System boundary: cradle-to-gate" in diagram


def test_page_images_of_the_first_pages_are_written_for_a_person_to_look_at(
    english: Rendered, chinese: Rendered
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for rendered, lang in ((english, "en"), (chinese, "zh")):
        prefix = ARTIFACTS / f"battery-report-{lang}"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "4", str(rendered.pdf), str(prefix)], check=True
        )
    pages = sorted(ARTIFACTS.glob("battery-report-*.png"))
    print(f"report page images: {ARTIFACTS}")
    assert len(pages) >= 8
    assert all(p.stat().st_size > 10_000 for p in pages)


def test_an_unknown_product_is_refused_with_one_line(battery: BatteryHome):
    done = CliRunner().invoke(app, ["report", "nothing", "--home", str(battery.home)])
    assert done.exit_code == 1
    assert done.output.strip().splitlines() == [
        "'nothing' matches no own product (own products: urn:pcfx:product:91350900PCFXD0014J:lfp-pack-280ah)"
    ]


def test_a_product_never_computed_is_refused_with_one_line(tmp_path):
    home = make_network(tmp_path, ["BatteryCo"])["BatteryCo"].settings.home
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["products", "add", str(EXAMPLES / "li-ion-battery.yaml"), "--home", str(home)]
        ).exit_code
        == 0
    )
    done = runner.invoke(
        app, ["report", "lfp-pack-280ah", "--home", str(home), "--out", str(tmp_path / "r.pdf")]
    )
    assert done.exit_code == 1
    assert done.output.strip() == (
        "error: urn:pcfx:product:91350900PCFXD0014J:lfp-pack-280ah has no computed result: run "
        "`pcfx compute-product` or `pcfx declare` first"
    )
    assert not (tmp_path / "r.pdf").exists()


def test_an_undeclared_result_is_reported_as_not_for_disclosure(tmp_path):
    home = make_network(tmp_path, ["BatteryCo"])["BatteryCo"].settings.home
    inventory = tmp_path / "battery.yaml"
    inventory.write_text(yaml.safe_dump(yaml.safe_load((EXAMPLES / "li-ion-battery.yaml").read_text())))
    runner = CliRunner()
    for args in (["products", "add", str(inventory)], ["compute-product", "lfp-pack-280ah"]):
        assert runner.invoke(app, [*args, "--home", str(home)]).exit_code == 0
    out = tmp_path / "report.html"
    done = runner.invoke(
        app,
        [
            "report",
            "lfp-pack-280ah",
            "--format",
            "html",
            "--lang",
            "en",
            "--out",
            str(out),
            "--home",
            str(home),
        ],
    )
    assert done.exit_code == 0, done.output
    html = out.read_text(encoding="utf-8")
    assert translator("en")("decl_none") in html
    assert "69.80921" in html  # every input on its default: 59.815 + 9.99421
