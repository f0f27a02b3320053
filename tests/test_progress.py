"""Tool progress in chats: modes, collapsing, and one message edited in place."""

import asyncio

from hermes_gateway.agent.tools.registry import ProgressUpdate
from hermes_gateway.core.types import Capabilities, SendResult
from hermes_gateway.delivery.progress import ChatProgress


class Chat:
    """Records what the progress reporter sends and edits (an in-process platform stand-in)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.edits: list[tuple[str, str]] = []

    async def send(self, text: str) -> SendResult:
        self.sent.append(text)
        return SendResult(ok=True, message_id=f"m{len(self.sent)}")

    async def edit(self, message_id: str, text: str) -> SendResult:
        self.edits.append((message_id, text))
        return SendResult(ok=True, message_id=message_id)


def started(tool: str, preview: str, emoji: str = "💻") -> ProgressUpdate:
    return ProgressUpdate(tool, emoji, preview, "started")


async def feed(mode: str, updates, editable: bool) -> Chat:
    chat = Chat()
    progress = ChatProgress(mode, Capabilities(can_edit=editable), chat.send, chat.edit)
    for update in updates:
        progress(update)
        await asyncio.sleep(0)
    await progress.close()
    return chat


async def test_editable_platform_gets_one_message_edited_in_place():
    updates = [started("terminal", "ls"), started("terminal", "pwd"), started("terminal", "ls")]
    chat = await feed("all", updates, editable=True)
    assert len(chat.sent) == 1
    final = chat.edits[-1][1] if chat.edits else chat.sent[0]
    assert final == "💻 `ls`…\n💻 `pwd`…\n💻 `ls`…"
    assert all(message_id == "m1" for message_id, _ in chat.edits)


async def test_repeated_lines_collapse_with_a_count():
    updates = [started("terminal", "make")] * 3
    chat = await feed("all", updates, editable=True)
    final = chat.edits[-1][1] if chat.edits else chat.sent[-1]
    assert final == "💻 `make`… (×3)"
    plain = await feed("all", updates, editable=False)
    assert plain.sent == ["💻 `make`…"]  # no spam where a line cannot be updated


async def test_mode_new_only_reports_a_change_of_tool():
    updates = [started("terminal", "a"), started("terminal", "b"), started("read_file", "x", "📖")]
    chat = await feed("new", updates, editable=False)
    assert chat.sent == ["💻 `a`…", "📖 `x`…"]


async def test_mode_off_sends_nothing_and_verbose_reports_failures():
    assert (await feed("off", [started("terminal", "ls")], editable=False)).sent == []
    failed = ProgressUpdate("terminal", "💻", "ls", "error", 3.0, "error: exit 2")
    chat = await feed("verbose", [started("terminal", "ls"), failed], editable=False)
    assert chat.sent[-1] == "❌ terminal: error: exit 2"
