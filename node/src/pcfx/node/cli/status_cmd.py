"""`pcfx status`: the health of every feed the node follows, from the running node's report (`run/feeds.json`,
refreshed every few seconds), else from what the store alone knows."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from pcfx.node.cli.common import HomeOption, home_settings, store_session
from pcfx.node.cli.output import make_console, short

if TYPE_CHECKING:
    from datetime import datetime

    from pcfx.node.feeds import FeedsReport

__all__ = ["status_command"]

console = make_console(markup=False, piped_width=None)

#: A report older than this is not a running node's: the node refreshes it every few seconds.
STALE_AFTER = timedelta(seconds=30)


def status_command(
    home: HomeOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The report as JSON (as /health's `feeds`).")
    ] = False,
) -> None:
    """Each followed supplier (or supplier product): ok, stalled or failing and why, the last verified
    version, the last message, how far behind the stream. Exit 1 when a feed is not ok."""
    from pcfx.node.feeds import read_report, report_file, store_report
    from pcfx.node.store.models import utcnow

    settings = home_settings(home)
    report = read_report(report_file(settings.home))
    if report is None or utcnow() - report.checked_at > STALE_AFTER:
        reason = (
            "no report from a running node"
            if report is None
            else f"the node's last report is from {_when(report.checked_at)}: is `pcfx node run` running?"
        )
        with store_session(settings) as session:
            report = store_report(session, reason=reason)
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _print_table(report)
    if not report.healthy:
        raise typer.Exit(1)


def _print_table(report: FeedsReport) -> None:
    from rich.table import Table

    source = "running node" if report.source == "node" else "store only"
    table = Table(
        "supplier",
        "product",
        "state",
        "last verified",
        "created",
        "last message",
        "intake behind",
        "rejected",
        title=f"feeds at {_when(report.checked_at)} ({source})",
    )
    for feed in report.feeds:
        verified = feed.last_verified
        table.add_row(
            short(feed.issuer, 28),
            short(feed.product_id, 28) if feed.product_id else "(all)",
            feed.summary(),
            short(verified.declaration_id, 22) if verified else "-",
            _when(verified.created) if verified else "-",
            _when(feed.last_message_at),
            str(feed.lag.behind) if feed.lag else "-",
            str(feed.rejected.count),
        )
    console.print(table)
    if not report.feeds:
        console.print("no subscriptions: `pcfx subscribe` or `pcfx follow-suppliers`")
    # Every feed comes through the node's one intake consumer: what is said of the intake is printed once.
    shown: set[str] = set()
    for feed in report.feeds:
        for note in feed.notes:
            if note in shown:
                continue
            shown.add(note)
            shared = sum(note in other.notes for other in report.feeds) > 1
            where = f"intake {feed.consumer}" if shared else short(feed.product_id or feed.issuer, 40)
            console.print(f"  {where}: {note}")


def _when(instant: datetime | None) -> str:
    return "-" if instant is None else f"{instant:%Y-%m-%d %H:%M:%S}Z"
