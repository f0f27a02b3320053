"""One agent turn for one session: the merged prompt in, the reply durably queued and sent.

The transcript, the finished inbox rows, the queued reply and the usage are committed in one
transaction at the end, so a crash mid-turn leaves the inbox rows pending and the turn is run
again after a restart — answered exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hermes_gateway.agent.loop import LoopResult
from hermes_gateway.agent.tools.base import ToolContext
from hermes_gateway.agent.tools.registry import ProgressUpdate
from hermes_gateway.core.events import (
    EngineError,
    SessionChanged,
    ToolProgress,
    TurnFinished,
    TurnStarted,
)
from hermes_gateway.core.types import Attachment, InboundMessage, OutboundMessage, SessionSource
from hermes_gateway.delivery.progress import ChatProgress
from hermes_gateway.delivery.streaming import StreamingReply
from hermes_gateway.sessions.lane import TurnControl
from hermes_gateway.storage.records import SessionRecord, TranscriptEntry

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine

log = logging.getLogger("hermes.turns")

SYSTEM_PROMPT = (
    "You are Hermes, a helpful AI agent. The user is talking to you through {platform}. "
    "Answer concisely; use Markdown only where the platform renders it."
)


@dataclass(frozen=True)
class Pending:
    """A message waiting in a session lane; inbox_id is None for a /retry of the transcript."""

    inbox_id: int | None
    message: InboundMessage


def merge_prompt(batch: list[Pending]) -> str:
    return "\n\n".join(text for p in batch if (text := prompt_text(p.message)))


def prompt_text(message: InboundMessage) -> str:
    """What the model reads of a message: its text, then a line per file that came with it
    (saved by the adapter; the agent opens them with its file tools)."""
    return "\n".join([message.text, *map(describe_attachment, message.attachments)]).strip()


def describe_attachment(attachment: Attachment) -> str:
    name = Path(attachment.path).name
    kind = attachment.mime_type or "unknown type"
    return (
        f"[attached {attachment.kind.value}: {name} ({kind}, {attachment.size} bytes) "
        f"saved at {attachment.path}]"
    )


class TurnRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._system_prompts: dict[str, str] = {}

    def _system(self, platform: str, key: str = "") -> dict:
        if platform not in self._system_prompts:
            self._system_prompts[platform] = SYSTEM_PROMPT.format(platform=platform)
        text = self._system_prompts[platform]
        personality = self.engine.personality_prompt(key) if key else ""
        return {"role": "system", "content": f"{text}\n\n{personality}" if personality else text}

    def _tools(self, key: str, source: SessionSource | None, progress, unattended=False):
        engine = self.engine
        context = ToolContext(engine.services, key, engine.workdir, source, unattended)

        def on_progress(update: ProgressUpdate) -> None:
            engine.bus.publish(
                ToolProgress(
                    key,
                    update.tool,
                    update.emoji,
                    update.preview,
                    update.status,
                    update.duration_ms,
                )
            )
            if progress is not None:
                progress(update)

        return engine.tools.bind(context, on_progress)

    def _stream(
        self, source: SessionSource, inbox_ids: list[int], reply_to: str
    ) -> StreamingReply | None:
        """A reply shown while it is written, where the platform can edit messages. The message
        id is recorded on the inbox rows at once, so a re-run after a crash edits that message
        instead of sending a second one."""
        engine = self.engine
        streaming = engine.settings.streaming
        if not streaming.enabled:
            return None
        store = engine.store

        def remember(message_id: str) -> None:
            if inbox_ids:
                store.inbox_set_stream(inbox_ids, message_id)

        return engine.sender.stream(
            source.platform.value,
            source.chat_id,
            thread_id=source.thread_id,
            reply_to=reply_to,
            existing_message_id=store.inbox_stream(inbox_ids) if inbox_ids else "",
            on_message_id=remember,
            interval=streaming.edit_interval,
        )

    def _chat_progress(self, source: SessionSource) -> ChatProgress | None:
        engine = self.engine
        adapter = engine.adapter(source.platform.value)
        mode = engine.settings.tool_progress_for(source.platform.value)
        if adapter is None or mode == "off":
            return None

        async def send(text: str):
            return await adapter.send(OutboundMessage(source.chat_id, text, source.thread_id))

        async def edit(message_id: str, text: str):
            return await adapter.edit(source.chat_id, message_id, text)

        return ChatProgress(mode, adapter.capabilities, send, edit)

    async def run(self, key: str, batch: list[Pending], control: TurnControl) -> None:
        engine = self.engine
        store, bus = engine.store, engine.bus
        last = batch[-1].message
        source = last.source
        inbox_ids = [p.inbox_id for p in batch if p.inbox_id is not None]
        user_entry = TranscriptEntry(role="user", content=merge_prompt(batch))
        result = LoopResult(text="")
        started = time.perf_counter()
        session = None
        status, error = "ok", ""
        typing = engine.start_typing(source)
        progress = self._chat_progress(source)
        stream = self._stream(source, inbox_ids, last.message_id)
        try:
            session = engine.sessions.resolve(source, key, engine.is_protected)
            bus.publish(TurnStarted(key, session.id, len(batch)))
            bus.publish(SessionChanged(key, session.id, "running"))
            history = [e.to_openai() for e in store.transcript(session.id)]
            messages = [self._system(source.platform.value, key), *history, user_entry.to_openai()]
            tools = self._tools(key, source, progress)
            options = engine.model_options(key)
            await engine.runtime.run(
                messages,
                session.model,
                result=result,
                tools=tools,
                options=options,
                on_text=stream.feed if stream else None,
            )
            if progress is not None:
                await progress.close()
            streamed_id = ""
            if stream is not None:  # the outbox row below turns the streamed message final
                await stream.abort()
                streamed_id = stream.message_id
            reply = result.text.strip() or "(the agent returned an empty reply)"
            if result.reasoning and store.prefs(key).get("show_reasoning") == "1":
                reply = f"💭 {' '.join(result.reasoning).strip()}\n\n{reply}"
            if session.reset_notice:
                reply = f"{session.reset_notice}\n\n{reply}"
                store.session_update(session.id, reset_notice="")
            entries = [user_entry, *result.entries]
            row = engine.reply_row(source, reply, key, reply_to=last.message_id)
            outbox = [dataclasses.replace(row, edit_message_id=streamed_id)]
            self._commit(session, entries, inbox_ids, "done", outbox, result)
        except asyncio.CancelledError:
            if not control.cancelled_by_lane or session is None:
                raise  # shutdown: the inbox rows stay pending and the turn runs again later
            status = "interrupted" if control.reason == "interrupt" else "stopped"
            if stream is not None:
                await self._close_partial(stream, status)
            note = TranscriptEntry(role="assistant", content=f"[{status} by the user]")
            entries = [user_entry, *result.entries, note]
            self._commit(session, entries, inbox_ids, status, [], result)
        except Exception as exc:  # a failure is never silence
            status, error = "error", engine.describe_error(exc)
            store.inbox_finish(inbox_ids, "failed", engine.clock(), error)
            bus.publish(EngineError(error, key))
            engine.queue_reply(source, f"⚠️ {error}\nSend /retry to try again.", key)
        finally:
            typing.cancel()
            if progress is not None:
                await progress.close(timeout=0.5)
            session_id = session.id if session else ""
            elapsed_ms = (time.perf_counter() - started) * 1000
            bus.publish(
                TurnFinished(
                    key,
                    session_id,
                    status,
                    elapsed_ms,
                    result.input_tokens,
                    result.output_tokens,
                    error,
                )
            )
            bus.publish(SessionChanged(key, session_id, "idle"))

    @staticmethod
    async def _close_partial(stream: StreamingReply, status: str) -> None:
        """An interrupted stream keeps what it showed, without the cursor, marked as cut off."""
        await stream.abort()
        if stream.message_id and stream.text:
            try:
                await stream.finish(f"{stream.text}\n\n_({status})_")
            except Exception as exc:
                log.debug("closing an interrupted stream failed: %s", exc)

    async def run_isolated(
        self,
        prompt: str,
        *,
        prefix: str,
        run_id: str,
        source: SessionSource | None,
        tool_key: str,
        unattended: bool = False,
    ) -> str:
        """A fresh agent run with no history (background tasks, cron jobs), in a session of its
        own (`<prefix>:<run_id>`). Tools act for `tool_key` — the chat that started it — so its
        approvals and processes show up there. Returns the reply; raises on failure."""
        engine = self.engine
        now = engine.clock()
        platform = source.platform.value if source else "console"
        session = SessionRecord(
            id=f"{run_id}",
            key=f"{prefix}:{run_id}",
            platform=platform,
            chat_id=source.chat_id if source else "",
            chat_type="dm",
            title=prompt[:80],
            created_at=now,
            last_active=now,
        )
        engine.store.session_create(session)
        user_entry = TranscriptEntry(role="user", content=prompt)
        messages = [self._system(platform), user_entry.to_openai()]
        result = LoopResult(text="")
        tools = self._tools(tool_key, source, None, unattended)
        try:
            await engine.runtime.run(messages, "", result=result, tools=tools)
        finally:
            self._commit(session, [user_entry, *result.entries], [], "done", [], result)
            engine.store.session_end(session.id, "finished", engine.clock())
        return result.text.strip() or "(the agent returned an empty reply)"

    def _commit(self, session, entries, inbox_ids, status, outbox, result: LoopResult) -> None:
        engine = self.engine
        target = engine.runtime.resolved(session.model)
        usage = None
        if result.input_tokens or result.output_tokens:
            usage = (target.provider, target.model, result.input_tokens, result.output_tokens)
        ids = engine.store.commit_turn(
            session.id, entries, inbox_ids, status, outbox, usage, engine.clock()
        )
        for outbox_id, row in zip(ids, outbox, strict=True):
            engine.send_later(outbox_id, row)
