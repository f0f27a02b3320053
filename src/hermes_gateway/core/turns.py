"""One agent turn for one session: the merged prompt in, the reply durably queued and sent.

The transcript, the finished inbox rows, the queued reply and the usage are committed in one
transaction at the end, so a crash mid-turn leaves the inbox rows pending and the turn is run
again after a restart — answered exactly once."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes_gateway.agent.loop import LoopResult
from hermes_gateway.core.events import EngineError, SessionChanged, TurnFinished, TurnStarted
from hermes_gateway.core.types import InboundMessage
from hermes_gateway.sessions.lane import TurnControl
from hermes_gateway.storage.records import TranscriptEntry

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine

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
    return "\n\n".join(p.message.text for p in batch if p.message.text)


class TurnRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._system_prompts: dict[str, str] = {}

    def _system(self, platform: str) -> dict:
        if platform not in self._system_prompts:
            self._system_prompts[platform] = SYSTEM_PROMPT.format(platform=platform)
        return {"role": "system", "content": self._system_prompts[platform]}

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
        try:
            session = engine.sessions.resolve(source, key, engine.is_protected)
            bus.publish(TurnStarted(key, session.id, len(batch)))
            bus.publish(SessionChanged(key, session.id, "running"))
            history = [e.to_openai() for e in store.transcript(session.id)]
            messages = [self._system(source.platform.value), *history, user_entry.to_openai()]
            await engine.runtime.run(messages, session.model, result=result)
            reply = result.text.strip() or "(the agent returned an empty reply)"
            if session.reset_notice:
                reply = f"{session.reset_notice}\n\n{reply}"
                store.session_update(session.id, reset_notice="")
            entries = [user_entry, *result.entries]
            outbox = [engine.reply_row(source, reply, key, reply_to=last.message_id)]
            self._commit(session, entries, inbox_ids, "done", outbox, result)
        except asyncio.CancelledError:
            if not control.cancelled_by_lane or session is None:
                raise  # shutdown: the inbox rows stay pending and the turn runs again later
            status = "interrupted" if control.reason == "interrupt" else "stopped"
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
