"""The whole gateway on Telegram: the real engine and adapter against the loopback Bot API peer
and the scripted model — pairing, approvals by button, streaming, chunking, formatting fallback,
flood waits, and a SIGKILL in the middle of a streamed reply."""

import asyncio
import html
import json
import os
import re
import subprocess
import sys
import time

from tests.gateway_proc import REPO, GatewayProcess
from tests.helpers import peer_config, running_engine, write_config
from tests.test_agent_runtime_e2e import call

ALICE = 111  # a private chat's id is the user's id
BOB = 222
STRANGER = 333  # on no allowlist


def telegram_env(peer, allowed: str = f"{ALICE},{BOB}") -> dict[str, str]:
    env = {
        "TELEGRAM_BOT_TOKEN": peer.token,
        "TELEGRAM_BASE_URL": peer.base_url,
        "TELEGRAM_BASE_FILE_URL": peer.file_url,
        "CONSOLE_ALLOW_ALL_USERS": "false",
    }
    if allowed:
        env["TELEGRAM_ALLOWED_USERS"] = allowed
    return env


def home_for(tmp_path, openai_peer, extra: str = "display:\n  tool_progress: 'off'\n"):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, extra))
    return home


def bot_messages(telegram_peer, chat_id: int) -> list[dict]:
    return list(telegram_peer.messages(chat_id).values())


def keyboard(telegram_peer, chat_id: int, message_id: int) -> list[dict]:
    """The buttons a bot message shows now."""
    markup = telegram_peer.messages(chat_id)[message_id]["reply_markup"] or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def test_dm_reply_is_sent_as_telegram_html(tmp_path, openai_peer, telegram_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "Here is **bold** and `code <tag>`"}])
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, text="hello")
        [sent] = await telegram_peer.aio.wait(1, method="sendMessage", chat_id=ALICE)
    assert sent["parse_mode"] == "HTML"
    assert "<b>bold</b>" in sent["text"] and "&lt;tag&gt;" in sent["text"]


async def test_unknown_user_pairs_through_the_cli_and_groups_stay_silent(
    tmp_path, openai_peer, telegram_peer
):
    home = home_for(tmp_path, openai_peer)
    stranger = 333
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(
            chat_id=-500,
            user_id=stranger,
            chat_type="group",
            text=f"@{telegram_peer.bot_username} hi",
        )
        telegram_peer.message(chat_id=stranger, text="let me in")
        [offer] = await telegram_peer.aio.wait(1, method="sendMessage")
        assert offer["chat_id"] == stranger  # the group got nothing
        code = re.search(r"pairing code is: ([A-Z2-9]{8})", offer["text"]).group(1)
        approve = subprocess.run(
            [sys.executable, "-m", "hermes_gateway", "pairing", "approve", "telegram", code],
            cwd=REPO,
            env={**os.environ, "HERMES_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert approve.returncode == 0, approve.stderr
        since = telegram_peer.last_seq()
        telegram_peer.message(chat_id=stranger, text="now?")
        [answer] = await telegram_peer.aio.wait(1, since=since, method="sendMessage")
    assert answer["chat_id"] == stranger and "now?" in answer["text"]


async def test_approval_buttons_answered_by_callback(tmp_path, openai_peer, telegram_peer):
    home = home_for(tmp_path, openai_peer)
    build = home / "workspace" / "build"
    build.mkdir(parents=True)
    group = -600
    openai_peer.script([call("terminal", command="rm -rf build"), {"text": "cleaned"}])
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(
            chat_id=group,
            user_id=ALICE,
            chat_type="supergroup",
            text=f"@{telegram_peer.bot_username} clean up",
        )
        [prompt] = await telegram_peer.aio.wait(1, method="sendMessage")
        buttons = [b for row in prompt["reply_markup"]["inline_keyboard"] for b in row]
        assert [b["text"] for b in buttons] == ["Allow once", "Allow session", "Always", "Deny"]
        allow = buttons[0]["callback_data"]
        # Bob may use the bot, but in this group each user has a session: this one is Alice's
        telegram_peer.callback(
            chat_id=group, message_id=prompt["message_id"], data=allow, user_id=BOB
        )
        [refused] = await telegram_peer.aio.wait(1, method="answerCallbackQuery")
        # A stranger (not on the allowlist) is refused too.
        telegram_peer.callback(
            chat_id=group, message_id=prompt["message_id"], data=allow, user_id=STRANGER
        )
        [stranger] = await telegram_peer.aio.wait(
            1, since=refused["seq"], method="answerCallbackQuery"
        )
        assert build.exists()
        assert keyboard(telegram_peer, group, prompt["message_id"]), "refusals keep the buttons"
        telegram_peer.callback(
            chat_id=group, message_id=prompt["message_id"], data=allow, user_id=ALICE
        )
        [answered] = await telegram_peer.aio.wait(
            1, since=stranger["seq"], method="answerCallbackQuery"
        )
        ops = await telegram_peer.aio.wait(1, since=stranger["seq"], method="sendMessage")
        await telegram_peer.aio.wait(1, method="editMessageReplyMarkup")
    assert "Only someone in that conversation" in refused["text"]
    assert stranger["text"] == "You are not allowed to do that."
    assert answered["text"].startswith("✅ Approved once")
    assert ops[-1]["text"] == "cleaned" and not build.exists()
    # The buttons went once, after the answer, and for good.
    [removed] = telegram_peer.sent(method="editMessageReplyMarkup")
    assert removed["seq"] > answered["seq"] and removed["message_id"] == prompt["message_id"]
    assert not keyboard(telegram_peer, group, prompt["message_id"])


async def test_approval_answered_by_typing_loses_its_buttons(tmp_path, openai_peer, telegram_peer):
    home = home_for(tmp_path, openai_peer)
    build = home / "workspace" / "build"
    build.mkdir(parents=True)
    openai_peer.script([call("terminal", command="rm -rf build"), {"text": "cleaned"}])
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, text="clean up")
        [prompt] = await telegram_peer.aio.wait(1, method="sendMessage")
        assert keyboard(telegram_peer, ALICE, prompt["message_id"])
        telegram_peer.message(chat_id=ALICE, text="/approve")
        [removed] = await telegram_peer.aio.wait(1, method="editMessageReplyMarkup")
        ops = await telegram_peer.aio.wait(3, method="sendMessage")
    assert removed["message_id"] == prompt["message_id"]
    assert not keyboard(telegram_peer, ALICE, prompt["message_id"])
    texts = sorted(op["text"] for op in ops[1:])
    assert texts[0] == "cleaned" and texts[1].startswith("✅ Approved once")
    assert not build.exists()


async def test_unanswered_approval_loses_its_buttons_at_the_timeout(
    tmp_path, openai_peer, telegram_peer
):
    extra = "display:\n  tool_progress: 'off'\napprovals:\n  timeout: 1\n"
    home = home_for(tmp_path, openai_peer, extra)
    build = home / "workspace" / "build"
    build.mkdir(parents=True)
    openai_peer.script([call("terminal", command="rm -rf build"), {"text": "not deleted"}])
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, text="clean up")
        [prompt] = await telegram_peer.aio.wait(1, method="sendMessage")
        [removed] = await telegram_peer.aio.wait(1, method="editMessageReplyMarkup")
        ops = await telegram_peer.aio.wait(2, method="sendMessage")
    assert removed["message_id"] == prompt["message_id"]
    assert not keyboard(telegram_peer, ALICE, prompt["message_id"])
    assert ops[-1]["text"] == "not deleted" and build.exists()


async def test_streamed_reply_ends_as_exactly_one_message(tmp_path, openai_peer, telegram_peer):
    home = home_for(
        tmp_path,
        openai_peer,
        "display:\n  tool_progress: 'off'\nstreaming:\n  edit_interval: 0.2\n",
    )
    words = " ".join(f"word{i}" for i in range(40))
    openai_peer.script([{"text": words, "chunks": 10, "chunk_delay": 0.15}])
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, text="talk to me")
        await telegram_peer.aio.wait(1, method="sendMessage")
        for _ in range(200):
            shown = bot_messages(telegram_peer, ALICE)
            if shown and shown[-1]["text"] == words:
                break
            await asyncio.sleep(0.05)
    sends = telegram_peer.sent(chat_id=ALICE, method="sendMessage")
    edits = telegram_peer.sent(chat_id=ALICE, method="editMessageText")
    assert len(sends) == 1 and len(edits) >= 2  # one message, edited in place
    assert [m["text"] for m in bot_messages(telegram_peer, ALICE)] == [words]


async def test_long_reply_is_split_under_the_utf16_limit(tmp_path, openai_peer, telegram_peer):
    home = home_for(
        tmp_path, openai_peer, "display:\n  tool_progress: 'off'\nstreaming:\n  enabled: false\n"
    )
    code = "```python\n" + "\n".join(f"print('😀 {i}')" for i in range(400)) + "\n```"
    reply = "Intro 😀 " * 200 + "\n\n" + code
    openai_peer.script([{"text": reply}])
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, text="long please")
        await asyncio.sleep(0.5)
        sends = await telegram_peer.aio.wait(3, method="sendMessage")
    for sent in sends:  # Telegram counts the text after entity parsing, in UTF-16 units
        visible = html.unescape(re.sub(r"<[^>]+>", "", sent["text"]))
        assert len(visible.encode("utf-16-le")) // 2 <= 4096
        assert sent["text"].count("<pre>") == sent["text"].count("</pre>")


async def test_rejected_formatting_falls_back_to_plain_text(tmp_path, openai_peer, telegram_peer):
    home = home_for(
        tmp_path, openai_peer, "display:\n  tool_progress: 'off'\nstreaming:\n  enabled: false\n"
    )
    openai_peer.script([{"text": "a **bold** claim"}])
    telegram_peer.fail("sendMessage", 400, "Bad Request: can't parse entities: test", times=1)
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, text="x")
        [sent] = await telegram_peer.aio.wait(1, method="sendMessage")
    assert sent["parse_mode"] in (None, "") and sent["text"] == "a bold claim"


async def test_flood_wait_on_one_chat_does_not_delay_another(tmp_path, openai_peer, telegram_peer):
    home = home_for(
        tmp_path, openai_peer, "display:\n  tool_progress: 'off'\nstreaming:\n  enabled: false\n"
    )
    openai_peer.script([{"text": "for alice"}, {"text": "for bob"}])
    telegram_peer.fail(
        "sendMessage",
        429,
        "Too Many Requests: retry after 3",
        retry_after=3,
        chat_id=ALICE,
        times=1,
    )
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, text="first")
        await asyncio.sleep(0.3)
        telegram_peer.message(chat_id=BOB, text="second")
        sends = await telegram_peer.aio.wait(2, method="sendMessage", timeout=15)
    assert [s["chat_id"] for s in sends] == [BOB, ALICE]  # bob went first; alice was retried


def test_sigkill_mid_stream_then_restart_delivers_the_final_reply_once(
    tmp_path, openai_peer, telegram_peer
):
    home = home_for(
        tmp_path,
        openai_peer,
        "display:\n  tool_progress: 'off'\nstreaming:\n  edit_interval: 0.2\n",
    )
    final = " ".join(f"part{i}" for i in range(30))
    openai_peer.script(
        [
            {"text": "partial text that never finishes " * 3, "chunks": 30, "chunk_delay": 1.0},
            {"text": final},
        ]
    )
    env = telegram_env(telegram_peer)
    first = GatewayProcess(home, env=env)
    try:
        telegram_peer.message(chat_id=ALICE, text="stream then crash")
        telegram_peer.wait(1, method="editMessageText", timeout=20)  # mid-stream
        first.kill()
    finally:
        first.stop()
    second = GatewayProcess(home, env=env)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if [m["text"] for m in bot_messages(telegram_peer, ALICE)] == [final]:
                break
            time.sleep(0.1)
        assert second.terminate() == 0
    finally:
        second.stop()
    assert [m["text"] for m in bot_messages(telegram_peer, ALICE)] == [final]
    assert len(telegram_peer.sent(chat_id=ALICE, method="sendMessage")) == 1
    assert (
        json.loads(json.dumps(openai_peer.requests()[-1]["body"]))["messages"][-1]["content"]
        == "stream then crash"
    )


async def test_a_photo_without_caption_reaches_the_model_as_a_saved_file(
    tmp_path, openai_peer, telegram_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "nice picture"}])
    async with running_engine(home, telegram_env(telegram_peer)):
        telegram_peer.message(chat_id=ALICE, photo=b"\xff\xd8jpeg-bytes")
        [sent] = await telegram_peer.aio.wait(1, method="sendMessage", chat_id=ALICE)
    assert sent["text"] == "nice picture"
    prompt = openai_peer.requests()[0]["body"]["messages"][-1]["content"]
    [saved] = (home / "cache" / "telegram").iterdir()
    assert f"[attached photo: {saved.name} (image/jpeg, 12 bytes) saved at {saved}]" in prompt
