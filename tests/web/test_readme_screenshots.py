"""README shows the web app's pages as the browser tests capture them: every picture it links is in
docs/screenshots/ and is one that tests/web/test_browser.py writes (same name), so a page that changes is
captured again by the tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _linked() -> list[str]:
    return re.findall(
        r"!\[[^\]]*\]\(docs/screenshots/([\w-]+)\.png\)", (ROOT / "README.md").read_text("utf-8")
    )


def test_readme_links_screenshots_of_the_pages() -> None:
    assert {"product", "suppliers", "inbox", "provenance"} <= set(_linked())


def test_every_linked_screenshot_exists_and_is_written_by_a_browser_test() -> None:
    written = set(
        re.findall(r'screenshot\(page, "([\w-]+)"\)', (ROOT / "tests/web/test_browser.py").read_text("utf-8"))
    )
    for name in _linked():
        assert (ROOT / "docs" / "screenshots" / f"{name}.png").is_file(), name
        assert name in written, f"{name}.png is not captured by tests/web/test_browser.py"
