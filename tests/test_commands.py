"""Chat slash commands through the console, as a user types them."""

import asyncio

from hermes_gateway.commands import build_registry
from hermes_gateway.config import load_settings
from hermes_gateway.home import HermesHome
from tests.helpers import peer_config, running_engine, write_config


def test_every_command_is_in_help_once_with_its_aliases():
    registry = build_registry()
    help_text = registry.help_text()
    for name in (
        "help",
        "status",
        "new",
        "stop",
        "title",
        "resume",
        "undo",
        "retry",
        "sethome",
        "usage",
        "model",
        "provider",
        "approve",
        "deny",
    ):
        assert help_text.count(f"/{name} ") + help_text.count(f"/{name},") >= 1, name
    assert "/new, /reset" in help_text


def test_parse_handles_bot_suffix_arguments_and_plain_text():
    registry = build_registry()
    parsed = registry.parse("/title@hermes_bot  My  plan ")
    assert parsed.command.name == "title" and parsed.args == "My  plan"
    assert registry.parse("/reset").command.name == "new"
    assert registry.parse("hello /new") is None
    assert registry.parse("/") is None
    assert registry.parse("/etc/passwd is a file") is None
    unknown = registry.parse("/frobnicate now")
    assert unknown.command is None and unknown.name == "frobnicate"


async def say(engine, replies, text: str) -> str:
    await engine.console.inject(text)
    return await replies.next()


async def test_help_status_title_and_unknown_command(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, replies):
        assert "/retry" in await say(engine, replies, "/help")
        assert "No session yet" in await say(engine, replies, "/status")
        await say(engine, replies, "hi")
        status = await say(engine, replies, "/status")
        assert "State: idle" in status and "offline:offline" in status and "Turns: 1" in status
        assert "Title set: Trip plans" in await say(engine, replies, "/title Trip plans")
        assert "Trip plans" in await say(engine, replies, "/title")
        assert "Unknown command /frobnicate" in await say(engine, replies, "/frobnicate")


async def test_new_then_resume_by_title_brings_the_history_back(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, replies):
        await say(engine, replies, "first topic")
        await say(engine, replies, "/title topic one")
        old = engine.store.session_current("console:dm:local").id
        assert "New session" in await say(engine, replies, "/new")
        assert engine.store.session_current("console:dm:local").id != old
        await say(engine, replies, "second topic")
        assert "Resumed" in await say(engine, replies, "/resume topic one")
        session = engine.store.session_current("console:dm:local")
        assert session.id == old
        assert [e.content for e in engine.store.transcript(old)][0] == "first topic"


async def test_undo_removes_the_last_exchange(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, replies):
        await say(engine, replies, "keep this")
        await say(engine, replies, "drop this")
        assert "drop this" in await say(engine, replies, "/undo")
        session = engine.store.session_current("console:dm:local")
        assert [e.content for e in engine.store.transcript(session.id) if e.role == "user"] == [
            "keep this"
        ]
        await say(engine, replies, "/undo")
        assert await say(engine, replies, "/undo") == "Nothing to undo."


async def test_retry_without_a_failure_reruns_the_last_message(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"text": "first answer"}, {"text": "second answer"}])
    async with running_engine(home) as (engine, replies):
        assert await say(engine, replies, "question") == "first answer"
        assert await say(engine, replies, "/retry") == "second answer"
        session = engine.store.session_current("console:dm:local")
        contents = [e.content for e in engine.store.transcript(session.id)]
    assert contents == ["question", "second answer"]


async def test_usage_reports_stored_token_counts(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"text": "a", "usage": [100, 7]}, {"text": "b", "usage": [150, 9]}])
    async with running_engine(home) as (engine, replies):
        await say(engine, replies, "one")
        await say(engine, replies, "two")
        usage = await say(engine, replies, "/usage")
    assert "250 in, 16 out" in usage and "2 model turn" in usage
    assert "custom:test-model" in usage


async def test_model_switches_per_chat_and_rejects_a_provider_without_key(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    async with running_engine(home) as (engine, replies):
        assert "custom:test-model" in await say(engine, replies, "/model")
        assert "custom:other-model" in await say(engine, replies, "/model custom:other-model")
        await say(engine, replies, "hi")
        assert openai_peer.requests()[-1]["body"]["model"] == "other-model"
        refused = await say(engine, replies, "/model openai:gpt-4.1")
        assert "OPENAI_API_KEY" in refused
        assert "custom:test-model" in await say(engine, replies, "/model default")


async def test_provider_lists_providers_and_key_state(tmp_path):
    env = {"OPENROUTER_API_KEY": "sk-or-v1-" + "x" * 40}
    async with running_engine(tmp_path / "home", env) as (engine, replies):
        listing = await say(engine, replies, "/provider")
    assert "● openrouter" in listing and "key set" in listing and "x" * 20 not in listing


async def test_sethome_writes_env_and_keeps_what_was_there(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text("# my settings\nSOMETHING_ELSE=1\n")
    async with running_engine(home) as (engine, replies):
        assert "home channel" in await say(engine, replies, "/sethome")
        assert engine.home_channel("console") == "local"
    text = (home / ".env").read_text()
    assert (
        text.startswith("# my settings\nSOMETHING_ELSE=1\n")
        and "CONSOLE_HOME_CHANNEL=local" in text
    )
    assert oct((home / ".env").stat().st_mode & 0o777) == "0o600"
    settings = load_settings(HermesHome(home), {})
    assert settings.platforms["console"].home_channel == "local"


async def test_control_commands_answer_at_once_while_a_turn_runs(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"delay": 3.0, "text": "slow"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("slow question")
        while not openai_peer.requests():
            await asyncio.sleep(0.02)
        assert "State: running" in await say(engine, replies, "/status")
        assert "/stop first" in await say(engine, replies, "/undo")
        assert await say(engine, replies, "/stop") == "⏹ Stopped."
