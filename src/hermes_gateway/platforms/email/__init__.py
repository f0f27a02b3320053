"""E-mail through IMAP (aioimaplib: IDLE when the server has it, polling otherwise) and SMTP
(aiosmtplib). A mail is marked \\Seen only after it is durable in our inbox.

    adapter.py    the Adapter: connect / disconnect / send, inbound handling
    receiver.py   the IMAP session loop: login, UNSEEN, IDLE or poll, reconnect with backoff
    convert.py    a raw message -> InboundMessage, or the reason it is ignored
    files.py      attachments saved into the cache (with a size limit)
    compose.py    replies: Re: subject, In-Reply-To / References, text + HTML, attachments
    threads.py    what each sender's last mail was, so every reply threads onto it

This module holds the adapter's options, read from `PlatformSettings.extra` (EMAIL_* variables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hermes_gateway.platforms.extra import ExtraReader

SETUP_HINT = "put them in ~/.hermes/.env, then restart the gateway"


@dataclass(frozen=True)
class EmailOptions:
    address: str
    password: str
    username: str  # the IMAP/SMTP login; most providers use the address
    imap_host: str
    imap_port: int
    imap_ssl: bool
    smtp_host: str
    smtp_port: int
    smtp_ssl: bool  # implicit TLS (port 465)
    smtp_starttls: bool
    mailbox: str = "INBOX"
    idle: bool = True  # use IMAP IDLE when the server offers it
    poll_interval: float = 30.0  # seconds between checks without IDLE
    idle_refresh: float = 540.0  # re-issue IDLE this often (NAT boxes drop quiet connections)
    pairing: bool = False  # unknown senders get a pairing code (else they are ignored)
    html: bool = True  # send an HTML alternative beside the plain text
    max_attachment_mb: float = 25.0
    timeout: float = 20.0  # one IMAP command / one SMTP conversation
    per_chat_rate: float = 0.0
    global_rate: float = 2.0

    def __repr__(self) -> str:  # never show the password
        return (
            f"EmailOptions(address={self.address!r}, imap={self.imap}, smtp={self.smtp}, "
            f"idle={self.idle})"
        )

    @property
    def imap(self) -> str:
        return f"{self.imap_host}:{self.imap_port}"

    @property
    def smtp(self) -> str:
        return f"{self.smtp_host}:{self.smtp_port}"

    @property
    def max_attachment_bytes(self) -> int:
        return int(self.max_attachment_mb * 1024 * 1024)


def options_from_settings(settings: Any) -> EmailOptions:
    """Options from a PlatformSettings; ValueError names the missing or bad setting."""
    read = ExtraReader("email", getattr(settings, "extra", None))
    missing = [
        f"EMAIL_{key.upper()}"
        for key in ("address", "password", "imap_host", "smtp_host")
        if not read.text(key)
    ]
    if missing:
        raise ValueError(
            f"e-mail needs {', '.join(missing)}: the bot's address, its password (often an app "
            f"password) and the IMAP / SMTP servers; {SETUP_HINT}"
        )
    address = read.text("address")
    if "@" not in address:
        raise ValueError(f"EMAIL_ADDRESS must be an e-mail address, not {address!r}")
    imap_ssl = read.flag("imap_ssl", True)
    smtp_ssl = read.flag("smtp_ssl", False)
    smtp_starttls = read.flag("smtp_starttls", not smtp_ssl)
    if smtp_ssl and smtp_starttls:
        raise ValueError(
            "EMAIL_SMTP_SSL (TLS from the start, port 465) and EMAIL_SMTP_STARTTLS (port 587) "
            "exclude each other: set one of them to false"
        )
    return EmailOptions(
        address=address,
        password=read.text("password"),
        username=read.text("username", address),
        imap_host=read.text("imap_host"),
        imap_port=_port(read, "imap_port", 993 if imap_ssl else 143),
        imap_ssl=imap_ssl,
        smtp_host=read.text("smtp_host"),
        smtp_port=_port(read, "smtp_port", 465 if smtp_ssl else 587),
        smtp_ssl=smtp_ssl,
        smtp_starttls=smtp_starttls,
        mailbox=read.text("mailbox", "INBOX"),
        idle=read.flag("idle", True),
        poll_interval=read.number("poll_interval", 30.0, low=0.1),
        idle_refresh=read.number("idle_refresh", 540.0, low=1.0),
        pairing=read.flag("pairing", False),
        html=read.flag("html", True),
        max_attachment_mb=read.number("max_attachment_mb", 25.0),
        timeout=read.number("timeout", 20.0, low=1.0),
        per_chat_rate=read.number("per_chat_rate", 0.0),
        global_rate=read.number("global_rate", 2.0),
    )


def _port(read: ExtraReader, key: str, default: int) -> int:
    port = read.number(key, default, low=1)
    if port != int(port) or port > 65535:
        raise ValueError(f"{read.name(key)} must be a port number (1-65535), not {port:g}")
    return int(port)


def login_rejected(server: str, where: str, detail: str) -> str:
    """The one-line reason for a rejected login (never contains the password)."""
    return (
        f"EMAIL_PASSWORD was rejected by the {server} server {where} ({detail}). Check "
        f"EMAIL_ADDRESS / EMAIL_USERNAME and EMAIL_PASSWORD (many providers need an app "
        f"password), then restart the gateway."
    )
