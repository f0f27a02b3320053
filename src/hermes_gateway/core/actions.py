"""Button presses from chats (e.g. an approval's inline keyboard): who may press, and what
happens. Answers with the short text the platform shows the one who pressed; the prompt's
buttons go when the approval is settled, however it is (core/prompts.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes_gateway.core.prompts import VERDICTS
from hermes_gateway.core.types import ButtonPress, ChatType, SessionSource

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine


async def handle_button(engine: Engine, press: ButtonPress) -> str:
    if not engine.authorizer.check(press.platform.value, press.user_id).allowed:
        return "You are not allowed to do that."
    kind, _, rest = press.data.partition(":")
    if kind != "approval":
        return "This button is no longer active."
    approval_id, _, choice = rest.partition(":")
    if choice not in VERDICTS:
        return "This button is no longer active."
    pending = next((p for p in engine.approvals.pending() if p.id == approval_id), None)
    if pending is None:
        return "This approval was already answered or has expired."
    if pending.session_key not in _session_keys(engine, press):
        return "Only someone in that conversation can answer this approval."
    engine.approvals.resolve(None, choice, by=press.user_id, approval_id=approval_id)
    return VERDICTS[choice]


def _session_keys(engine: Engine, press: ButtonPress) -> set[str]:
    """The sessions this user can speak for in this chat: the DM key, or the group key."""
    return {
        engine.sessions.key_for(
            SessionSource(
                press.platform, press.chat_id, chat_type, press.user_id, thread_id=press.thread_id
            )
        )
        for chat_type in (ChatType.DM, ChatType.GROUP)
    }
