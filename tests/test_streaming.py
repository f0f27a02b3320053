"""Streamed replies: one message edited in place, coalesced, and exactly one final text."""

import asyncio

from hermes_gateway.core.types import OutboundMessage, SendResult
from hermes_gateway.delivery.chunking import split_message
from hermes_gateway.delivery.formatting import render, utf16_len
from hermes_gateway.delivery.streaming import CURSOR, StreamingReply
from tests.test_formatting import assert_telegram_html, visible

WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion


class Chat:
    """One chat's send and edit, recorded in order (an in-process platform stand-in)."""

    def __init__(self) -> None:
        self.ops: list[tuple] = []  # ("send", text, mode) | ("edit", message_id, text, mode)
        self.edit_results: list[SendResult] = []
        self.hold_send: asyncio.Event | None = None
        self._changed = asyncio.Event()

    async def send(self, message: OutboundMessage) -> SendResult:
        self.ops.append(("send", message.text, message.parse_mode))
        self._changed.set()
        if self.hold_send is not None:
            await self.hold_send.wait()
        return SendResult(ok=True, message_id=f"m{self.count('send')}")

    async def edit(self, message_id: str, text: str, parse_mode: str) -> SendResult:
        self.ops.append(("edit", message_id, text, parse_mode))
        self._changed.set()
        if self.edit_results:
            return self.edit_results.pop(0)
        return SendResult(ok=True, message_id=message_id)

    def count(self, kind: str) -> int:
        return sum(1 for op in self.ops if op[0] == kind)

    async def wait_ops(self, count: int) -> None:
        async def enough() -> None:
            while len(self.ops) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), WAIT)


class StoppedClock:
    """Time that only moves when a test says so: `interval` then never elapses by itself."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reply(chat: Chat, **kwargs) -> StreamingReply:
    options = dict(interval=0, length=utf16_len, limit=4096, markup="telegram_html")
    options.update(kwargs)
    return StreamingReply(chat.send, chat.edit, **options)


async def settle(rounds: int = 30) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_a_streamed_reply_is_one_send_then_edits_ending_in_the_rendered_final():
    chat = Chat()
    ids: list[str] = []
    stream = reply(chat, on_message_id=ids.append)
    final = "Here is **the** answer to `x < y` and more words to come."
    for word in final.split():
        stream.feed(word + " ")
        await settle(3)
    assert await stream.finish(final) == "m1"
    assert chat.count("send") == 1 and chat.ops[0][0] == "send"
    assert chat.count("edit") >= 2  # partials, then the final
    assert all(op[0] == "edit" and op[1] == "m1" for op in chat.ops[1:])
    assert chat.ops[-1] == ("edit", "m1", render(final, "telegram_html")[0], "HTML")
    assert ids == ["m1"]


async def test_streamed_partials_are_valid_html_with_a_cursor():
    chat = Chat()
    stream = reply(chat)
    markdown = "Intro **bold\n\n```python\nif a < b:\n    pass\n```\n> quote *it"
    for char in markdown:
        stream.feed(char)
        await settle(2)
    await stream.abort()
    partials = [op[-2] for op in chat.ops]
    assert len(partials) > 3
    for text in partials:
        assert text.endswith(CURSOR)
        assert_telegram_html(text)


async def test_text_arriving_during_a_request_is_coalesced_into_one_edit():
    chat = Chat()
    chat.hold_send = asyncio.Event()
    stream = reply(chat)
    stream.feed("one two three")
    await chat.wait_ops(1)
    for n in range(50):
        stream.feed(f" w{n}")
    chat.hold_send.set()
    await chat.wait_ops(2)
    await settle()
    assert [op[0] for op in chat.ops] == ["send", "edit"]
    assert chat.ops[1][2] == "one two three " + " ".join(f"w{n}" for n in range(50)) + CURSOR
    await stream.finish("done")
    assert [op[0] for op in chat.ops] == ["send", "edit", "edit"]


async def test_edits_wait_for_the_interval():
    chat = Chat()
    clock = StoppedClock()
    stream = reply(chat, interval=5.0, clock=clock)
    stream.feed("one two three")
    clock.now += 5.0  # the reply is taking a while: the first message goes out
    await chat.wait_ops(1)
    stream.feed(" four five")
    await settle()
    assert [op[0] for op in chat.ops] == ["send"]  # the interval has not passed
    clock.now += 5.0
    await stream.finish("one two three four five")
    assert [op[0] for op in chat.ops] == ["send", "edit"]  # only the final edit


async def test_a_quick_reply_is_never_streamed():
    chat = Chat()
    clock = StoppedClock()
    stream = reply(chat, interval=5.0, clock=clock)
    stream.feed("Hi there, my friend, here is the whole answer")
    await settle()
    assert chat.ops == []  # done within the interval: the caller sends it as one message
    assert await stream.finish("Hi there, my friend, here is the whole answer") == ""
    assert chat.ops == []


async def test_the_first_message_goes_out_once_the_reply_takes_longer_than_the_interval():
    chat = Chat()
    clock = StoppedClock()
    stream = reply(chat, interval=5.0, clock=clock)
    stream.feed("Hi")
    await settle()
    assert chat.ops == []
    clock.now += 5.0
    stream.feed(" there")
    await chat.wait_ops(1)
    assert chat.ops[0][1].startswith("Hi there")
    await stream.abort()


async def test_a_final_longer_than_the_limit_replaces_the_stream_then_continues():
    chat = Chat()
    stream = reply(chat, limit=60, markup="plain", length=len)
    stream.feed("Paragraph one is being streamed now")
    await chat.wait_ops(1)
    final = "\n\n".join(f"Paragraph {n} " + "y" * 35 for n in range(4))
    assert await stream.finish(final) == "m1"
    chunks = split_message(final, 60)
    assert len(chunks) > 1
    edits = [op for op in chat.ops if op[0] == "edit"]
    assert edits[-1][2] == chunks[0]
    tail = chat.ops[chat.ops.index(edits[-1]) + 1 :]
    assert [op[1] for op in tail] == chunks[1:] and all(op[0] == "send" for op in tail)


async def test_a_stream_longer_than_the_limit_shows_only_what_fits():
    chat = Chat()
    stream = reply(chat, limit=50, markup="plain", length=utf16_len)
    stream.feed("😀 " * 100)
    await chat.wait_ops(1)
    await stream.abort()
    assert all(utf16_len(op[-2]) <= 50 for op in chat.ops)


async def test_nothing_streamed_means_the_caller_sends_normally():
    chat = Chat()
    stream = reply(chat)
    assert await stream.finish("the whole answer") == ""
    assert chat.ops == []


async def test_an_existing_message_is_edited_instead_of_sending_a_new_one():
    chat = Chat()
    ids: list[str] = []
    stream = reply(chat, existing_message_id="m42", on_message_id=ids.append)
    stream.feed("Resumed after a restart, streaming again")
    await chat.wait_ops(1)
    assert await stream.finish("Resumed and done.") == "m42"
    assert chat.count("send") == 0
    assert all(op[1] == "m42" for op in chat.ops)
    assert chat.ops[-1][2] == "Resumed and done."
    assert ids == []  # already recorded by the run that created it


async def test_an_existing_message_gets_the_final_even_without_new_text():
    chat = Chat()
    stream = reply(chat, existing_message_id="m42")
    assert await stream.finish("final") == "m42"
    assert chat.ops == [("edit", "m42", "final", "HTML")]


async def test_abort_leaves_the_partial_as_it_is():
    chat = Chat()
    stream = reply(chat)
    stream.feed("partial answer so far")
    await chat.wait_ops(1)
    await stream.abort()
    shown = list(chat.ops)
    stream.feed(" and more that arrives late")
    await settle()
    assert chat.ops == shown
    assert chat.ops[-1][1] == "partial answer so far" + CURSOR


async def test_a_final_rejected_as_badly_formatted_is_sent_plain():
    chat = Chat()
    stream = reply(chat)
    stream.feed("streaming some words")
    await chat.wait_ops(1)
    chat.edit_results = [SendResult(ok=False, error="can't parse entities", kind="format")]
    assert await stream.finish("**final**") == "m1"
    assert chat.ops[-2][2:] == ("<b>final</b>", "HTML")
    assert chat.ops[-1][2:] == ("final", "")
    assert chat.count("send") == 1


async def test_a_final_that_changes_nothing_is_fine():
    chat = Chat()
    stream = reply(chat)
    stream.feed("same words here")
    await chat.wait_ops(1)
    chat.edit_results = [SendResult(ok=False, error="not modified", kind="not_modified")]
    assert await stream.finish("same words here") == "m1"
    assert chat.count("send") == 1 and chat.count("edit") == 1


async def test_finish_during_the_first_send_still_edits_that_message():
    chat = Chat()
    chat.hold_send = asyncio.Event()
    stream = reply(chat)
    stream.feed("one two three")
    await chat.wait_ops(1)
    finishing = asyncio.create_task(stream.finish("one two three four"))
    await settle()
    assert not finishing.done()  # waits for the in-flight send, never sends a second message
    chat.hold_send.set()
    assert await asyncio.wait_for(finishing, WAIT) == "m1"
    assert [op[0] for op in chat.ops] == ["send", "edit"]
    assert visible(chat.ops[-1][2]) == "one two three four"


async def test_a_deleted_stream_message_hands_the_final_back_to_the_caller():
    chat = Chat()
    stream = reply(chat)
    stream.feed("one two three")
    await chat.wait_ops(1)
    gone = SendResult(
        ok=False, error="message to edit not found", retryable=False, kind="not_found"
    )
    chat.edit_results = [gone, gone]
    stream.feed(" four")
    await chat.wait_ops(2)
    assert await stream.finish("one two three four") == ""  # the caller sends it normally
    assert chat.count("send") == 1
