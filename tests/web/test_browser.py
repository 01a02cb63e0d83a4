"""The web app in a real browser (Debian's headless Chromium, driven by Playwright) on live nodes that sign,
publish and verify over a real nats-server. Each test writes screenshots to tests/artifacts/web/."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import openpyxl
from live_kit import HANDSET, browser_page, live_chain, screenshot
from pcfx.node.engine.loaders import load_inventory
from pcfx.node.engine.xlsx_tables import write_xlsx
from reports.report_kit import BATTERY, EXAMPLES


def _lime_workbook(folder: Path, *, bad_amount: str | None) -> Path:
    """The lime example as the engineer's workbook; with `bad_amount` in the first input's amount cell (D2)."""
    path = folder / "lime.xlsx"
    write_xlsx(load_inventory(EXAMPLES / "lime.yaml"), path)
    if bad_amount is not None:
        book = openpyxl.load_workbook(path)
        book["inputs"]["D2"] = bad_amount
        book.save(path)
    return path


async def test_the_products_page_lists_the_declared_battery_with_its_value(tmp_path: Path) -> None:
    async with live_chain(tmp_path, serve="BatteryCo", tiers=2) as chain, browser_page(chain) as page:
        row = page.locator("#products tbody tr", has_text="lfp-pack-280ah")
        await row.wait_for()
        assert "active" in await row.inner_text()
        assert chain.declared["BatteryCo"] in await row.inner_text()
        await screenshot(page, "products")


async def test_the_product_page_draws_its_charts_and_lists_the_supplier_input(tmp_path: Path) -> None:
    async with live_chain(tmp_path, serve="BatteryCo", tiers=2) as chain, browser_page(chain) as page:
        await page.goto(f"{chain.url}/ui/product?id={quote(BATTERY, safe='')}")
        for chart in ("stages", "split", "processes", "inputs", "gases"):
            await page.locator(f"#chart-{chart} svg").wait_for()  # ECharts drew it, from the node's own copy
        inputs = await page.locator("#inputs").inner_text()
        assert "busbars" in inputs and chain.declared["CopperCo"] in inputs
        await screenshot(page, "product")


async def test_an_uploaded_workbook_with_a_bad_cell_names_it_and_stores_nothing(tmp_path: Path) -> None:
    async with live_chain(tmp_path, serve="CopperCo", tiers=1) as chain, browser_page(chain) as page:
        await page.set_input_files("input[name=inventory]", _lime_workbook(tmp_path, bad_amount="twelve"))
        await page.click("#upload button[type=submit]")
        alert = page.locator(".flash.error")
        await alert.wait_for()
        text = await alert.inner_text()
        assert "lime.xlsx sheet inputs cell D2: amount 'twelve' is not a number" in text
        assert "Nothing already stored was changed." in text
        assert "quicklime" not in (await page.locator("main").inner_text()).lower()
        await screenshot(page, "upload-error")


async def test_a_fixed_workbook_is_stored_and_declared_after_confirmation(tmp_path: Path) -> None:
    async with live_chain(tmp_path, serve="CopperCo", tiers=1) as chain, browser_page(chain) as page:
        await page.set_input_files("input[name=inventory]", _lime_workbook(tmp_path, bad_amount=None))
        await page.click("#upload button[type=submit]")
        await page.locator(".flash.ok").wait_for()
        assert "/ui/product?id=" in page.url  # straight to the new product
        await page.click("text=Declare")
        question = await page.locator("#question").inner_text()
        assert "sign and publish a new declaration" in question
        await screenshot(page, "declare-confirm")
        await page.click("button:has-text('Confirm')")
        done = await page.locator(".flash.ok").inner_text()
        assert done.startswith("Declared urn:pcfx:product:") and "kg CO2e, declaration urn:uuid:" in done
        history = page.locator("#history tbody tr").first
        assert "active" in await history.inner_text()


async def test_a_supplier_revision_waits_in_the_inbox_and_is_published_when_approved(tmp_path: Path) -> None:
    from node_kit import eventually

    async with live_chain(tmp_path, serve="BatteryCo", tiers=2) as chain, browser_page(chain) as page:
        battery = chain.services["BatteryCo"]
        revised = await chain.revise_copper("3000")  # 3.6 -> 3.0 kg CO2e per kg of copper
        held = await eventually(lambda: battery.held(BATTERY), timeout=20)
        await page.click("text=Inbox")
        card = page.locator(f".held[data-result='{held[0].id}']")
        await card.wait_for()
        text = await card.inner_text()
        assert revised in text  # which supplier version caused it
        assert f"busbars: {chain.declared['CopperCo']} → {revised}" in text
        await screenshot(page, "inbox")
        await card.locator("button:has-text('Approve and publish')").click()
        done = await page.locator(".flash.ok").inner_text()
        assert done.startswith(f"Approved result #{held[0].id}: declaration urn:uuid:")
        assert battery.held(BATTERY) == []
        newest = battery.product(BATTERY).declaration
        assert newest is not None and newest.declaration_id != chain.declared["BatteryCo"]


async def test_the_suppliers_page_says_which_inputs_run_on_defaults_and_why(tmp_path: Path) -> None:
    async with live_chain(tmp_path, serve="HandsetCo", tiers=3) as chain, browser_page(chain) as page:
        await page.click("text=Suppliers")
        battery_row = page.locator("#coverage tbody tr", has_text="lfp-pack-280ah")
        assert await battery_row.get_attribute("data-why") == "verified"
        assert chain.declared["BatteryCo"] in await battery_row.inner_text()
        display = page.locator("#coverage tbody tr", has_text="oled-6-1")
        assert await display.get_attribute("data-why") == "not-in-registry"
        assert "not in the trust registry" in await display.inner_text()
        await screenshot(page, "suppliers")


async def test_request_data_asks_a_silent_supplier_over_the_bus_and_says_it_has_published_nothing(
    tmp_path: Path,
) -> None:
    async with (
        live_chain(tmp_path, serve="BatteryCo", tiers=2, silent=("CopperCo",)) as chain,
        browser_page(chain) as page,
    ):
        await page.click("text=Suppliers")
        row = page.locator("#coverage tbody tr", has_text="cathode-cu-cath-1")
        assert await row.get_attribute("data-why") == "not-published"
        await row.locator("button:has-text('Request data')").click()
        said = await page.locator(".flash").inner_text()
        assert (
            said
            == "The supplier has published no declaration of urn:pcfx:product:91340700PCFXD00131:cathode-cu-cath-1 yet."
        )


async def test_switching_to_chinese_shows_every_page_in_chinese(tmp_path: Path) -> None:
    async with live_chain(tmp_path, serve="BatteryCo", tiers=2) as chain, browser_page(chain) as page:
        await page.click("#lang-switch")
        await page.locator("h1", has_text="本企业产品").wait_for()
        await page.goto(f"{chain.url}/ui/product?id={quote(BATTERY, safe='')}")
        assert "按生命周期阶段" in await page.locator("main").inner_text()
        await page.locator("#chart-stages svg").wait_for()
        await screenshot(page, "product-zh")
        await page.click("text=待办")
        await page.locator("h1", has_text="待办").wait_for()
        await page.click("text=供应商")
        await page.locator("h1", has_text="供应商数据覆盖").wait_for()
        await screenshot(page, "suppliers-zh")


async def test_the_handset_provenance_tree_shows_three_tiers_each_verified(tmp_path: Path) -> None:
    async with live_chain(tmp_path, serve="HandsetCo", tiers=3) as chain, browser_page(chain) as page:
        await page.goto(f"{chain.url}/ui/product?id={quote(HANDSET, safe='')}")
        await page.locator(".actions a", has_text="Provenance tree").click()
        tree = page.locator("#tree")
        await tree.wait_for()
        verified = tree.locator(".tnode[data-kind='declaration'][data-verified='yes']")
        tiers = {await node.get_attribute("data-tier") for node in await verified.all()}
        assert tiers == {"0", "1", "2"}  # handset <- battery <- copper
        for company in (
            "HandsetCo",
            "BatteryCo",
            "CopperCo",
        ):  # copper twice: the handset buys it directly too
            nodes = await tree.locator(".tnode", has_text=chain.declared[company]).all()
            assert nodes and {await n.get_attribute("data-verified") for n in nodes} == {"yes"}
        # inputs on default factors end their branch, saying so
        assert await tree.locator(".tnode[data-kind='default-factor']").count() > 0
        assert (await page.locator("#summary").inner_text()).startswith("3 tier(s) of verified declarations")
        await screenshot(page, "provenance")
