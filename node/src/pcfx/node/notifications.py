"""Notices of what waits in the web app's inbox — a recomputation held for approval, a supplier's new or
withdrawn declaration, rejected messages — sent to a webhook (JSON POST) and by e-mail (SMTP), as configured
(`notify_*` settings). A notice that cannot be delivered is logged and dropped: the inbox keeps the event,
and the node never stops or slows its ingest for a notification."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pcfx.node.bus.ingest.model import Decision, Incoming, StoredEvent
    from pcfx.node.config import Settings
    from pcfx.node.supply.recompute import Recomputed

__all__ = ["Notice", "Notifier", "attach_notifications", "held_notice", "rejected_notice", "revision_notice"]

log = logging.getLogger("pcfx.notify")
NOTICE_FORMAT = "pcfx-notice/1"


@dataclass(frozen=True)
class Notice:
    """One event for a person: a one-line subject, a few lines of text, and its facts as JSON."""

    kind: Literal["held", "revision", "rejected"]
    subject: str
    text: str
    facts: dict[str, Any] = field(default_factory=dict)

    def document(self, node: str) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {"format": NOTICE_FORMAT, "node": node, "kind": self.kind, "subject": self.subject,
                "text": self.text, **self.facts}  # fmt: skip


def held_notice(done: Recomputed, *, inbox_url: str | None) -> Notice:
    """A supplier's new version changed an own product's footprint; the result waits for approval."""
    before = "none" if done.previous_total is None else str(done.previous_total)
    causes = done.triggers or (done.trigger,)
    text = (
        f"{done.product_id}: {before} -> {done.total} kg CO2e, caused by supplier "
        f"declaration{'s' if len(causes) > 1 else ''} {', '.join(causes)}."
    )
    if inbox_url:
        text += f"\nApprove or dismiss it: {inbox_url}"
    return Notice(
        "held",
        f"Held for approval: {done.product_id} {before} -> {done.total} kg CO2e",
        text,
        {"productId": done.product_id, "resultId": done.result_id, "previousTotal": before,
         "total": str(done.total), "trigger": done.trigger, "triggers": list(causes),
         "changedInputs": list(done.changed_inputs)},
    )  # fmt: skip


def revision_notice(event: StoredEvent) -> Notice:
    """A supplier declaration became usable, or changed state (revoked, deprecated, ...)."""
    what = "new declaration" if event.state == "active" else f"declaration {event.state}"
    text = f"{event.issuer} {what} {event.declaration_id} of {event.product_id}"
    if event.superseded:
        text += f" (replaces {event.superseded})"
    return Notice(
        "revision",
        f"Supplier {what}: {event.product_id}",
        text + ".",
        {"issuer": event.issuer, "productId": event.product_id, "declarationId": event.declaration_id,
         "state": event.state, "superseded": event.superseded},
    )  # fmt: skip


def rejected_notice(reasons: Counter[str]) -> Notice:
    """Messages the node rejected in one batch, counted by reason (each kept in the quarantine)."""
    listed = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    total = sum(reasons.values())
    return Notice(
        "rejected",
        f"Rejected {total} message(s): {listed}",
        f"The node rejected {total} message(s) ({listed}); nothing of them was used. See the quarantine.",
        {"reasons": dict(reasons)},
    )


@dataclass
class Notifier:
    """Sends notices to the configured webhook and e-mail recipients."""

    settings: Settings
    sent: int = 0
    failed: int = 0

    @classmethod
    def of(cls, settings: Settings) -> Notifier | None:
        """A notifier when any channel is configured, else None."""
        mail = settings.notify_smtp_host and settings.notify_email_to and settings.notify_email_from
        return cls(settings) if settings.notify_webhook_url or mail else None

    async def send(self, notice: Notice) -> None:
        """Deliver `notice` on every configured channel; a failure is logged, never raised."""
        for channel, deliver in (("webhook", self._post), ("e-mail", self._mail)):
            try:
                if await deliver(notice):
                    self.sent += 1
            except Exception as exc:  # a notice must never break the node: log what failed and go on
                self.failed += 1
                log.warning("%s notice %r not delivered: %s", channel, notice.subject, exc)

    async def _post(self, notice: Notice) -> bool:
        url = self.settings.notify_webhook_url
        if not url:
            return False
        import httpx
        from pcfx.node.pact.wiring import outbound_verify

        verify = outbound_verify(self.settings.path(self.settings.outbound_ca_bundle)
                                 if self.settings.outbound_ca_bundle else None)  # fmt: skip
        async with httpx.AsyncClient(timeout=10, verify=verify) as client:
            answer = await client.post(url, json=notice.document(self.settings.name))
        answer.raise_for_status()
        return True

    async def _mail(self, notice: Notice) -> bool:
        s = self.settings
        if not (s.notify_smtp_host and s.notify_email_to and s.notify_email_from):
            return False
        message = EmailMessage()
        message["Subject"] = f"[pcfx {s.name}] {notice.subject}"
        message["From"] = s.notify_email_from
        message["To"] = ", ".join(s.notify_email_to)
        message.set_content(notice.text)
        await asyncio.to_thread(self._smtp, message)
        return True

    def _smtp(self, message: EmailMessage) -> None:
        s = self.settings
        assert s.notify_smtp_host is not None
        with smtplib.SMTP(s.notify_smtp_host, s.notify_smtp_port, timeout=10) as smtp:
            if s.notify_smtp_starttls:
                smtp.starttls()
            if s.notify_smtp_user and s.notify_smtp_password:
                smtp.login(s.notify_smtp_user, s.notify_smtp_password.get_secret_value())
            smtp.send_message(message)


def attach_notifications(node: Any, service: Any, *, inbox_url: str | None = None) -> Notifier | None:
    """Send notices of `node`'s inbox events (held results from `service`, supplier declarations, rejected
    messages) when a channel is configured; the notifier, or None."""
    notifier = Notifier.of(node.settings)
    if notifier is None:
        return None
    background: set[asyncio.Task[None]] = set()

    def later(notice: Notice) -> None:
        # the ingest path does not wait for a webhook or an SMTP server
        task = asyncio.get_running_loop().create_task(notifier.send(notice))
        background.add(task)
        task.add_done_callback(background.discard)

    async def on_recomputed(done: Recomputed) -> None:
        if done.action == "held":
            later(held_notice(done, inbox_url=inbox_url))

    def on_stored(event: StoredEvent) -> None:
        later(revision_notice(event))

    def on_batch(items: Sequence[Incoming], decisions: Sequence[Decision]) -> None:
        reasons = Counter(d.reason or "unknown" for d in decisions if d.outcome == "quarantined")
        if reasons:
            later(rejected_notice(reasons))

    service.add_callback(on_recomputed)
    node.add_listener(on_stored)
    node.ingestor.observers.append(on_batch)
    return notifier
