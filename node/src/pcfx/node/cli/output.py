"""The one way pcfx commands print: rich consoles with settings every command needs."""

from __future__ import annotations

import os
import sys
from decimal import Decimal

from rich.console import Console

__all__ = ["make_console", "num", "short"]


def make_console(*, stderr: bool = False, markup: bool = True, piped_width: int | None = 160) -> Console:
    """A console without emoji codes ("did:key:..." would print as "did🔑...") or auto-highlighting.

    Piped output without COLUMNS gets `piped_width` columns, not rich's 80; a console made at import time
    passes None so COLUMNS is read when it prints. `markup=False` for text with brackets."""
    stream = sys.stderr if stderr else sys.stdout
    sized = stream.isatty() or "COLUMNS" in os.environ
    return Console(
        stderr=stderr,
        soft_wrap=True,
        emoji=False,
        highlight=False,
        markup=markup,
        width=None if sized else piped_width,
    )


def num(value: Decimal | str | None, places: int = 4) -> str:
    """A decimal rounded for display (declared values stay exact in the store); "-" for None."""
    if value is None:
        return "-"
    from pcfx.protocol.pact.decimals import format_decimal

    quantum = Decimal(1).scaleb(-places)
    return format_decimal(Decimal(value).quantize(quantum))


def short(text: str | None, keep: int = 18) -> str:
    """A long id shortened for tables (head…tail); "-" for none."""
    if not text:
        return "-"
    return text if len(text) <= keep + 6 else f"{text[: keep // 2 + 4]}…{text[-(keep // 2) :]}"
