"""Approval prompts with buttons, from the moment they are sent until the approval is settled.

The engine, not each platform, knows when an approval is answered (a button, /approve, /deny,
the TUI, a timeout, /stop): on ApprovalResolved the prompt's buttons are retired through
`Adapter.retire_buttons`, in the background so that a slow platform never holds up whoever
resolved it. Also the one place for what each decision is called in chats."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from hermes_gateway.core.events import ApprovalResolved, Event
from hermes_gateway.core.types import OutboundMessage
from hermes_gateway.platforms.base import Adapter

log = logging.getLogger("hermes.prompts")

# What a person's choice is called: the answer to a button or to /approve, and the prompt's
# note once its buttons are gone.
VERDICTS = {
    "once": "✅ Approved once",
    "session": "✅ Approved for this session",
    "always": "✅ Always allowed from now on",
    "deny": "🚫 Denied",
}
# Endings nobody chose in the chat.
SETTLED = {
    "timeout": "⌛ No answer in time: denied",
    "cancelled": "⏹ Cancelled: the agent stopped waiting",
}
STOPPED = "🚫 Denied: the agent was stopped"
# ApprovalResolved.by values that are not a person of the chat.
NOBODY = frozenset({"operator", "timeout", "stop", "interrupt", "user"})
# Prompts waiting for an answer, and answers that came before their prompt was out. Only a
# huge backlog reaches these bounds; the oldest entries go first (their buttons then stay, and
# a press on them is refused as expired).
LIMIT = 256


def outcome(decision: str, by: str) -> str:
    """The short line a retired prompt shows, e.g. "✅ Approved once"."""
    if decision == "deny" and by == "stop":
        return STOPPED
    text = VERDICTS.get(decision) or SETTLED.get(decision) or f"Settled ({decision})"
    return f"{text} by the operator" if by == "operator" else text


@dataclass(frozen=True)
class SentPrompt:
    platform: str
    message: OutboundMessage  # as it was sent: chat, thread and text, for the platform
    message_id: str


class ApprovalPrompts:
    """approval id -> where its buttons are, until the approval is resolved."""

    def __init__(
        self,
        adapter: Callable[[str], Adapter | None],
        spawn: Callable[[Coroutine[Any, Any, None]], Any],
    ) -> None:
        self._adapter = adapter
        self._spawn = spawn
        # None while the prompt is being sent.
        self._sent: OrderedDict[str, SentPrompt | None] = OrderedDict()
        # Answered while being sent: approval id -> (outcome, who answered).
        self._early: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def sending(self, approval_id: str) -> None:
        _bounded_put(self._sent, approval_id, None)

    def sent(self, approval_id: str, prompt: SentPrompt | None) -> None:
        """The prompt is out (None: not with buttons, or not at all). Answered meanwhile,
        e.g. from the TUI: its buttons go at once."""
        waiting = self._sent.pop(approval_id, "gone") is None
        early = self._early.pop(approval_id, None)
        if prompt is None:
            return
        if early is not None:
            self._retire(prompt, early)
        elif waiting:
            _bounded_put(self._sent, approval_id, prompt)

    def on_event(self, event: Event) -> None:
        """A bus listener: must not block, so the platform call runs as a task."""
        if not isinstance(event, ApprovalResolved) or event.approval_id not in self._sent:
            return
        settled = (outcome(event.decision, event.by), "" if event.by in NOBODY else event.by)
        prompt = self._sent.pop(event.approval_id)
        if prompt is None:
            _bounded_put(self._early, event.approval_id, settled)
        else:
            self._retire(prompt, settled)

    def waiting(self) -> int:
        return len(self._sent)

    def _retire(self, prompt: SentPrompt, settled: tuple[str, str]) -> None:
        self._spawn(self._retire_now(prompt, *settled))

    async def _retire_now(self, prompt: SentPrompt, text: str, by: str) -> None:
        adapter = self._adapter(prompt.platform)
        if adapter is None:  # disconnected meanwhile: the buttons stay, a press says "expired"
            return
        try:
            await adapter.retire_buttons(prompt.message, prompt.message_id, text, by)
        except Exception as exc:  # stale buttons are harmless: a press is refused
            log.info("removing the buttons on %s failed: %s", prompt.platform, exc)


def _bounded_put(table: OrderedDict, key: str, value: Any) -> None:
    table[key] = value
    while len(table) > LIMIT:
        table.popitem(last=False)
