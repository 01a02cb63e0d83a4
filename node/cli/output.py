"""The one way pcfx commands print: rich consoles with settings every command needs."""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["make_console"]


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
