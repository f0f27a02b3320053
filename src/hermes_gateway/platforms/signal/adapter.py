"""The Signal adapter: signal-cli's SSE stream in, JSON-RPC out. Signal cannot edit a message,
so the delivery layer sends one final text (in numbered parts when it is long)."""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes
from pathlib import Path
from typing import Any

from hermes_gateway.core.types import (
    Attachment,
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Platform,
    SendResult,
)
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.connection import StatusLatch, StreamTask
from hermes_gateway.platforms.downloads import RemoteFile, with_downloads
from hermes_gateway.platforms.extra import with_rates
from hermes_gateway.platforms.processing_reaction import ProcessingReaction

from . import GROUP_PREFIX, MAX_MESSAGE_LENGTH, not_registered, options_from_settings
from .convert import (
    Converted,
    MalformedEvent,
    convert_envelope,
    envelope_of,
    message_ref,
    parse_ref,
)
from .events import AccountRejected, EventStream
from .rpc import METHOD_NOT_FOUND, SignalRpc, SignalRpcError, result_from_error

log = logging.getLogger("hermes.signal")

PROCESSING_EMOJI = "👀"


class SignalAccountError(RuntimeError):
    """signal-cli does not serve SIGNAL_ACCOUNT."""


class SignalAdapter(Adapter):
    platform = Platform.SIGNAL
    capabilities = Capabilities(
        max_length=MAX_MESSAGE_LENGTH,
        markup="plain",
        can_edit=False,
        typing=True,
        threads=False,
        reactions=True,
        images=True,
        files=True,
        voice=True,
        buttons=False,  # approvals are answered with /approve and /deny
        numbered_chunks=True,
        per_chat_rate=1.0,
        global_rate=5.0,
    )

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.options = options_from_settings(settings)
        self.capabilities = with_rates(SignalAdapter.capabilities, self.options)
        self.rpc = SignalRpc(self.options.http_url, self.options.account)
        self._status = StatusLatch(context.report_status)
        self._cache = context.home.cache_dir / "signal"
        self._verified = False
        self._stream: StreamTask | None = None
        self._reaction = ProcessingReaction(
            Platform.SIGNAL.value, self._add_processing, self._remove_processing
        )

    def __repr__(self) -> str:
        return f"SignalAdapter(http_url={self.options.http_url!r})"

    # -- lifecycle ---------------------------------------------------------------------------
    async def connect(self) -> None:
        try:
            await self._verify()
        except AccountRejected as exc:
            await self.rpc.close()
            raise SignalAccountError(str(exc)) from None
        except SignalRpcError as exc:  # not running yet: the stream keeps trying
            self._status("connecting", f"cannot reach signal-cli at {self.options.http_url}: {exc}")
        stream = EventStream(self.rpc, self._status, self._verify, self.on_receive)
        self._stream = StreamTask(stream, "signal-events")
        if self.options.processing_reaction:
            self._reaction.attach(self.context.listen)
        fatal = await self._stream.first_connection()
        if fatal:
            await self.disconnect(report=False)
            raise SignalAccountError(fatal)

    async def _verify(self) -> None:
        """The daemon answers, and serves our account (a multi-account daemon lists them; a
        single-account one has no listAccounts and serves whichever it was started with)."""
        if self._verified:
            return
        await self.rpc.check()
        try:
            accounts = await self.rpc.call("listAccounts", account=False)
        except SignalRpcError as exc:
            if exc.code != METHOD_NOT_FOUND:
                raise
            accounts = None
        if isinstance(accounts, list):
            numbers = {a.get("number") for a in accounts if isinstance(a, dict)}
            if self.options.account not in numbers:
                raise AccountRejected(not_registered(self.options.account, self.rpc.http_url))
        self._verified = True

    async def disconnect(self, report: bool = True) -> None:
        self._reaction.detach()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        await self.rpc.close()
        if report:
            self._status("stopped", "")

    # -- inbound -----------------------------------------------------------------------------
    async def on_receive(self, payload: Any) -> None:
        """One "receive" event: returns once stored; raises when it could not be."""
        try:
            envelope = envelope_of(payload)
            converted = convert_envelope(
                envelope, self.options.account, self.options.require_mention
            )
        except (MalformedEvent, KeyError, TypeError, ValueError) as exc:
            log.warning("signal: skipped a malformed event: %s", exc)
            return
        if converted is not None:
            await self.context.deliver_inbound(await self._with_files(converted))

    async def _with_files(self, converted: Converted) -> InboundMessage:
        async def fetch(ref: RemoteFile) -> bytes:
            return await self._fetch(converted, ref.id)

        return await with_downloads(
            converted.message,
            converted.attachments,
            cache_dir=self._cache,
            max_bytes=self.options.max_file_bytes,
            fetch=fetch,
            errors=(SignalRpcError, OSError, ValueError),
        )

    async def _fetch(self, converted: Converted, attachment_id: str) -> bytes:
        if self.options.attachments_dir:  # signal-cli on this machine: read its file
            return await asyncio.to_thread(
                (Path(self.options.attachments_dir) / attachment_id).read_bytes
            )
        params: dict[str, Any] = {"id": attachment_id}
        if converted.group_id:
            params["groupId"] = converted.group_id
        else:
            params["recipient"] = converted.author
        found = await self.rpc.call("getAttachment", params)
        return base64.b64decode((found or {}).get("data") or "", validate=True)

    # -- outbound ----------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        params = _target(message.chat_id)
        params["message"] = message.text
        quoted = parse_ref(message.reply_to) if message.reply_to else None
        if quoted is not None:
            params["quoteAuthor"], params["quoteTimestamp"] = quoted
        try:
            if message.attachments:
                params["attachments"] = [await _data_uri(a) for a in message.attachments]
            result = await self.rpc.call("send", params)
        except SignalRpcError as exc:
            return result_from_error(exc)
        except OSError as exc:
            return SendResult(ok=False, error=f"cannot read the attachment: {exc}", retryable=False)
        failed = _failed_recipients(result)
        if failed:
            return SendResult(ok=False, error=failed, retryable=False, kind="not_found")
        timestamp = (result or {}).get("timestamp") if isinstance(result, dict) else None
        return SendResult(
            ok=True, message_id=message_ref(self.options.account, int(timestamp or 0))
        )

    async def typing(self, chat_id: str, thread_id: str = "") -> None:
        try:
            await self.rpc.call("sendTyping", _target(chat_id))
        except SignalRpcError as exc:  # a missing indicator is not worth an error
            log.debug("signal: sendTyping failed: %s", exc)

    async def _react(self, chat_id: str, message_id: str, remove: bool) -> None:
        ref = parse_ref(message_id)
        if ref is None:
            return
        params = _target(chat_id)
        params.update(emoji=PROCESSING_EMOJI, targetAuthor=ref[0], targetTimestamp=ref[1])
        if remove:
            params["remove"] = True
        await self.rpc.call("sendReaction", params)

    async def _add_processing(self, chat_id: str, message_id: str) -> None:
        await self._react(chat_id, message_id, remove=False)

    async def _remove_processing(self, chat_id: str, message_id: str) -> None:
        await self._react(chat_id, message_id, remove=True)


def _target(chat_id: str) -> dict[str, Any]:
    if chat_id.startswith(GROUP_PREFIX):
        return {"groupId": chat_id[len(GROUP_PREFIX) :]}
    return {"recipient": [chat_id]}


def _failed_recipients(result: Any) -> str:
    """signal-cli reports per-recipient outcomes; a send nobody received is a failure."""
    outcomes = result.get("results") if isinstance(result, dict) else None
    if not isinstance(outcomes, list) or not outcomes:
        return ""
    kinds = [str(r.get("type") or "") for r in outcomes if isinstance(r, dict)]
    if kinds and all(k != "SUCCESS" for k in kinds):
        return f"not delivered: {', '.join(sorted(set(kinds)))}"
    return ""


async def _data_uri(attachment: Attachment) -> str:
    """signal-cli takes a file path or a data URI; a data URI also works when it runs in a
    container or on another machine."""
    path = Path(attachment.path)
    data = await asyncio.to_thread(path.read_bytes)
    mime = attachment.mime_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    encoded = base64.b64encode(data).decode()
    return f"data:{mime};filename={path.name};base64,{encoded}"
