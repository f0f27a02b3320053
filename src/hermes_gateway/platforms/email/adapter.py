"""The e-mail adapter: IMAP in (receiver.py), SMTP out (compose.py). Every sender is a DM whose
chat id is their address; approvals are answered by replying /approve or /deny."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import aiosmtplib

from hermes_gateway.config.secrets import redact
from hermes_gateway.core.types import Capabilities, OutboundMessage, Platform, SendResult
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.connection import StatusLatch
from hermes_gateway.platforms.extra import with_rates

from . import options_from_settings
from .compose import build, check_login, deliver, result_from_error, smtp_rejection
from .convert import Converted, Malformed, convert
from .files import save_parts
from .receiver import NETWORK_ERRORS, LoginRejected, Receiver
from .threads import ThreadBook

log = logging.getLogger("hermes.email")


class EmailAuthError(RuntimeError):
    """IMAP or SMTP refused the login; the message says what to do, without the password."""


class EmailAdapter(Adapter):
    platform = Platform.EMAIL
    capabilities = Capabilities(
        max_length=50000,  # no real limit; one mail that long is already more than anyone reads
        markup="markdown",  # kept as the model wrote it: we send it as plain text and HTML
        can_edit=False,
        typing=False,
        threads=False,
        images=True,
        files=True,
        buttons=False,
        global_rate=2.0,
    )

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.options = options_from_settings(settings)
        self.capabilities = with_rates(EmailAdapter.capabilities, self.options)
        # Unknown senders: a pairing code only when enabled (a reply to every spammer is
        # backscatter); the engine asks this attribute.
        self.offers_pairing = self.options.pairing
        self._status = StatusLatch(context.report_status)
        self._cache = context.home.cache_dir / "email"
        self.threads = ThreadBook(self._cache / "threads.json")
        self.receiver = Receiver(self.options, self.handle_mail, self._status)
        self._task: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"EmailAdapter({self.options!r})"

    # -- lifecycle ---------------------------------------------------------------
    async def connect(self) -> None:
        session = None
        try:
            session = await self.receiver.open()
            await check_login(self.options)
        except LoginRejected as exc:
            await self._fail_auth(str(exc), session)
        except aiosmtplib.SMTPAuthenticationError as exc:
            await self._fail_auth(smtp_rejection(self.options, exc), session)
        except aiosmtplib.SMTPException as exc:  # SMTP is only needed to answer: warn
            log.warning("email: cannot check SMTP %s: %s", self.options.smtp, self._clean(exc))
        except NETWORK_ERRORS as exc:  # offline at boot: the loop keeps trying
            self._status("connecting", f"IMAP {self.options.imap}: {self._clean(exc)}")
        self._task = asyncio.create_task(self.receiver.run(session), name="email-imap")

    async def _fail_auth(self, message: str, session) -> None:
        if session is not None:
            await session.close()
        self._status("failed", message)
        raise EmailAuthError(message)

    async def disconnect(self) -> None:
        self.receiver.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 3.0)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        self._status("stopped", "")

    # -- inbound -------------------------------------------------------------------
    async def handle_mail(self, uid: str, raw: bytes) -> None:
        """One unseen mail: returns once it is stored or known to be skippable (then it is
        marked seen); raises when it could not be stored, so it stays unseen."""
        try:
            converted = convert(raw, self.options.address, f"imap-uid-{uid}")
        except Malformed as exc:
            # Marked seen all the same: an unreadable mail would fail again on every check.
            log.warning("email: skipped malformed mail (uid %s): %s", uid, exc)
            return
        if not isinstance(converted, Converted):
            log.info("email: ignored mail (uid %s): %s", uid, converted.reason)
            return
        message = converted.message
        if converted.parts:
            saved, notes = save_parts(
                converted.parts, self._cache, message.message_id, self.options.max_attachment_bytes
            )
            # The engine tells the model about saved files; notes say what was left out.
            text = "\n".join(filter(None, [message.text, *notes]))
            message = dataclasses.replace(message, text=text, attachments=tuple(saved))
        # Remembered first: a fast reply (a command) must already find the thread.
        self.threads.remember(message.source.chat_id, converted.thread)
        await self.context.deliver_inbound(message)
        await asyncio.to_thread(self.threads.save)

    # -- outbound ------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        thread = self.threads.for_reply(message.chat_id, message.reply_to)
        try:
            mail = build(self.options, message.chat_id, message.text, thread, message.attachments)
            await deliver(self.options, mail)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            result = result_from_error(self.options, exc)
            log.warning("email: sending to %s failed: %s", message.chat_id, result.error)
            return result
        return SendResult(ok=True, message_id=str(mail["Message-ID"]))

    def _clean(self, exc: BaseException) -> str:
        return redact(str(exc) or type(exc).__name__, self.options.password)
