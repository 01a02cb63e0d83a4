"""The node's notification settings (part of `pcfx.node.config.Settings`): where a person hears of a result
held for approval, a supplier's new declaration or a rejected message — a webhook, and e-mail over SMTP."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

__all__ = ["NotificationSettings"]


class NotificationSettings(BaseModel):
    """Notification fields of the node's settings (TOML keys / PCFX_ environment variables)."""

    notify_webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="POST a JSON notice here for each event of the web app's inbox (held result, supplier "
        "revision, rejected message); HTTPS is verified (outbound_ca_bundle for a private CA).",
    )
    notify_smtp_host: str | None = Field(default=None, description="SMTP server for e-mail notices.")
    notify_smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587: STARTTLS).")
    notify_smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    notify_smtp_user: str | None = Field(default=None, description="SMTP login, when the server needs one.")
    notify_smtp_password: SecretStr | None = Field(
        default=None,
        description="SMTP password; environment (PCFX_NOTIFY_SMTP_PASSWORD) or secrets.toml only.",
    )
    notify_email_from: str | None = Field(default=None, description="Sender address of e-mail notices.")
    notify_email_to: list[str] = Field(default_factory=list, description="Recipients of e-mail notices.")
