"""core/prompts.py: a prompt's buttons are retired once, however its approval is settled, also
when the answer comes while the prompt is still being sent; the bookkeeping stays bounded."""

import asyncio

from hermes_gateway.core import prompts
from hermes_gateway.core.events import ApprovalResolved
from hermes_gateway.core.prompts import ApprovalPrompts, SentPrompt, outcome
from hermes_gateway.core.types import OutboundMessage


class Recorder:
    """Stands in for an adapter: records what it is asked to retire."""

    def __init__(self) -> None:
        self.retired: list[tuple[str, str, str, str]] = []

    async def retire_buttons(
        self, prompt: OutboundMessage, message_id: str, text: str, by: str = ""
    ) -> None:
        self.retired.append((prompt.chat_id, message_id, text, by))


def tracker() -> tuple[ApprovalPrompts, Recorder, list[asyncio.Task]]:
    adapter, tasks = Recorder(), []
    spawned = ApprovalPrompts(
        lambda name: adapter if name == "telegram" else None,
        lambda coro: tasks.append(asyncio.ensure_future(coro)),
    )
    return spawned, adapter, tasks


def prompt(chat: str = "42", message_id: str = "7") -> SentPrompt:
    return SentPrompt("telegram", OutboundMessage(chat, "Run it?"), message_id)


async def settled(tasks: list[asyncio.Task]) -> None:
    if tasks:
        await asyncio.wait(tasks, timeout=5)


async def test_buttons_go_once_when_the_approval_is_settled():
    tracked, adapter, tasks = tracker()
    tracked.sending("ap_1")
    tracked.sent("ap_1", prompt())
    tracked.on_event(ApprovalResolved("ap_1", "k", "once", "111"))
    tracked.on_event(ApprovalResolved("ap_1", "k", "once", "111"))  # a repeat changes nothing
    await settled(tasks)
    assert adapter.retired == [("42", "7", "✅ Approved once", "111")]
    assert tracked.waiting() == 0


async def test_an_answer_while_the_prompt_is_being_sent_retires_it_when_it_is_out():
    tracked, adapter, tasks = tracker()
    tracked.sending("ap_1")
    tracked.on_event(ApprovalResolved("ap_1", "k", "deny", "operator"))
    assert adapter.retired == [] and tasks == []
    tracked.sent("ap_1", prompt())
    await settled(tasks)
    assert adapter.retired == [("42", "7", "🚫 Denied by the operator", "")]
    assert tracked.waiting() == 0


async def test_approvals_without_a_prompt_with_buttons_leave_nothing_behind():
    tracked, adapter, tasks = tracker()
    tracked.on_event(ApprovalResolved("ap_9", "k", "auto", "allowlist"))  # never sent
    tracked.sending("ap_1")
    tracked.sent("ap_1", None)  # the send failed, or the platform is gone
    tracked.on_event(ApprovalResolved("ap_1", "k", "timeout", "timeout"))
    tracked.sending("ap_2")
    tracked.sent("ap_2", SentPrompt("discord", OutboundMessage("1", "x"), "2"))
    tracked.on_event(ApprovalResolved("ap_2", "k", "once", "u"))  # discord disconnected since
    await settled(tasks)
    assert adapter.retired == [] and tracked.waiting() == 0


async def test_the_tables_are_bounded(monkeypatch):
    monkeypatch.setattr(prompts, "LIMIT", 3)
    tracked, adapter, tasks = tracker()
    for n in range(5):
        tracked.sending(f"ap_{n}")
        tracked.sent(f"ap_{n}", prompt(message_id=str(n)))
    assert tracked.waiting() == 3
    for n in range(5):
        tracked.on_event(ApprovalResolved(f"ap_{n}", "k", "deny", "u"))
    await settled(tasks)
    assert [m for _, m, _, _ in adapter.retired] == ["2", "3", "4"]  # the oldest were forgotten


def test_outcome_wording():
    assert outcome("session", "111") == "✅ Approved for this session"
    assert outcome("timeout", "timeout").startswith("⌛")
    assert outcome("deny", "stop") == "🚫 Denied: the agent was stopped"
    assert outcome("always", "operator") == "✅ Always allowed from now on by the operator"
    assert outcome("cancelled", "interrupt").startswith("⏹")
