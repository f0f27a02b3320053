"""Outgoing mail: the reply (Re: subject, In-Reply-To / References, plain text plus an optional
HTML alternative, attachments) and its delivery over SMTP with aiosmtplib."""

from __future__ import annotations

import mimetypes
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib

from hermes_gateway.config.secrets import redact
from hermes_gateway.core.types import Attachment, SendResult
from hermes_gateway.delivery.formatting import plain_text, render

from . import EmailOptions, login_rejected
from .threads import Thread

HTML_PAGE = '<html><body><div style="white-space: pre-wrap">{}</div></body></html>'


def build(
    options: EmailOptions,
    to: str,
    markdown: str,
    thread: Thread | None,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    """A reply to `to` (threaded onto `thread` when there is one); `markdown` as the model wrote
    it, sent as plain text and, when enabled, as HTML."""
    mail = EmailMessage()
    mail["From"] = options.address
    mail["To"] = to
    mail["Subject"] = thread.reply_subject() if thread else "Message from Hermes"
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=options.address.rsplit("@", 1)[1])
    # RFC 3834: a responder marks its mail, so other responders do not answer it in a loop.
    mail["Auto-Submitted"] = "auto-replied"
    if thread is not None:
        mail["In-Reply-To"] = thread.message_id
        mail["References"] = " ".join(thread.reply_references())
    mail.set_content(plain_text(markdown))
    if options.html:
        html, _ = render(markdown, "telegram_html")  # b, i, code, pre, a, blockquote: all HTML
        mail.add_alternative(HTML_PAGE.format(html), subtype="html")
    for attachment in attachments:
        _attach(mail, attachment)
    return mail


def _attach(mail: EmailMessage, attachment: Attachment) -> None:
    path = Path(attachment.path)
    mime = attachment.mime_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    major, _, minor = mime.partition("/")
    mail.add_attachment(
        path.read_bytes(), maintype=major, subtype=minor or "octet-stream", filename=path.name
    )


async def deliver(options: EmailOptions, mail: EmailMessage) -> None:
    """One SMTP conversation: connect (TLS or STARTTLS as configured), log in, send, quit."""
    context = ssl.create_default_context() if options.smtp_ssl or options.smtp_starttls else None
    await aiosmtplib.send(
        mail,
        hostname=options.smtp_host,
        port=options.smtp_port,
        username=options.username,
        password=options.password,
        use_tls=options.smtp_ssl,
        start_tls=options.smtp_starttls,
        tls_context=context,
        timeout=options.timeout,
    )


async def check_login(options: EmailOptions) -> None:
    """Connect and log in without sending: a wrong password shows at connect(), not at the
    first reply. Raises SMTPAuthenticationError or a connection error."""
    context = ssl.create_default_context() if options.smtp_ssl or options.smtp_starttls else None
    client = aiosmtplib.SMTP(
        hostname=options.smtp_host,
        port=options.smtp_port,
        use_tls=options.smtp_ssl,
        start_tls=options.smtp_starttls,
        tls_context=context,
        timeout=options.timeout,
    )
    async with client:
        await client.login(options.username, options.password)


def smtp_rejection(options: EmailOptions, exc: aiosmtplib.SMTPAuthenticationError) -> str:
    return login_rejected("SMTP", options.smtp, f"{exc.code} {_clean(options, exc.message)}")


def result_from_error(options: EmailOptions, exc: BaseException) -> SendResult:
    """What the delivery layer should do about a failed send."""
    detail = _clean(options, str(exc) or type(exc).__name__)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendResult(
            ok=False, error=smtp_rejection(options, exc), retryable=False, kind="auth"
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return SendResult(ok=False, error=f"recipient refused: {detail}", retryable=False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # 4xx is temporary (greylisting, rate limits): try again; 5xx is final.
        return SendResult(ok=False, error=f"SMTP {detail}", retryable=400 <= exc.code < 500)
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError)):
        return SendResult(ok=False, error=f"cannot reach {options.smtp}: {detail}")
    if isinstance(exc, OSError) and not isinstance(exc, aiosmtplib.SMTPException):
        return SendResult(ok=False, error=f"cannot send: {detail}", retryable=False)
    # A connection lost mid-conversation may have delivered already: never resent.
    return SendResult(ok=False, error=f"SMTP failed: {detail}", retryable=False)


def _clean(options: EmailOptions, text: str) -> str:
    return redact(text, options.password)
