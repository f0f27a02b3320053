"""Background tasks and processes, cron, and the agent commands, through the console."""

import asyncio

from tests.helpers import running_engine
from tests.test_agent_runtime_e2e import call, home_with, tool_results


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def say(engine, replies, text: str) -> str:
    await engine.console.inject(text)
    return await replies.next()


async def test_background_task_reports_completion_to_the_chat(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer)
    openai_peer.script([{"delay": 0.3, "text": "all servers are up"}])
    async with running_engine(home) as (engine, replies):
        started = await say(engine, replies, "/background check the servers")
        assert started.startswith("🔄 Background task started: “check the servers”")
        task_id = started.split("Task ID: ")[1]
        assert task_id.startswith("bg_") and len(task_id) == len("bg_143022_a1b2c3")
        # the chat stays usable while it runs, and /status lists the task
        assert f"{task_id} running" in await say(engine, replies, "/status")
        done = await replies.next()
    assert done.startswith(f"✅ Background task complete ({task_id})")
    assert "all servers are up" in done
    first = openai_peer.requests()[0]["body"]["messages"]
    assert [m["role"] for m in first] == ["system", "user"]  # its own history: none


async def test_background_task_failure_is_reported(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer)
    openai_peer.script([{"status": 500}, {"status": 500}])
    async with running_engine(home) as (engine, replies):
        await say(engine, replies, "/background do a thing")
        failed = await replies.next()
    assert failed.startswith("❌ Background task failed:") and "bg_" in failed


async def test_background_process_result_notification(tmp_path, openai_peer):
    home = home_with(
        tmp_path,
        openai_peer,
        "display:\n  tool_progress: 'off'\n  background_process_notifications: result\n",
    )
    openai_peer.script(
        [
            call("terminal", command="echo built; exit 3", background=True),
            {"text": "started the build"},
        ]
    )
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("build in the background")
        texts = await replies.wait_for(2)
    # the process may finish before or after the model's reply
    [notice] = [t for t in texts if t != "started the build"]
    assert "started the build" in texts
    assert "exited with code 3" in notice and "built" in notice


async def test_background_process_notifications_off(tmp_path, openai_peer):
    home = home_with(
        tmp_path,
        openai_peer,
        "display:\n  tool_progress: 'off'\n  background_process_notifications: 'off'\n",
    )
    openai_peer.script(
        [call("terminal", command="echo quiet", background=True), {"text": "started"}]
    )
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("go")
        assert await replies.next() == "started"
        await asyncio.sleep(0.5)
    assert replies.texts == ["started"]


async def test_cron_job_created_by_the_agent_runs_and_reports_to_origin(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: 'off'\n")
    clock = Clock(1_800_000_000.0)
    openai_peer.script(
        [
            call(
                "cronjob", action="create", name="digest", schedule="every 1h", prompt="summarise"
            ),
            {"text": "scheduled"},
            {"text": "today's digest"},
        ]
    )
    async with running_engine(home, clock=clock) as (engine, replies):
        assert await say(engine, replies, "every hour, summarise") == "scheduled"
        cron = engine.services.cron
        [job] = cron.list()
        assert job.name == "digest"
        clock.now += 3601
        await cron.tick()  # returns once the run is delivered
        report = (await replies.wait_for(2))[-1]
    assert report.startswith('⏰ Cron job "digest"') and "today's digest" in report
    run_messages = openai_peer.requests()[-1]["body"]["messages"]
    assert [m["role"] for m in run_messages] == ["system", "user"]  # a fresh run, no history
    assert run_messages[-1]["content"] == "summarise"


async def test_cron_delivers_to_the_home_channel(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer)
    clock = Clock(1_800_000_000.0)
    openai_peer.script([{"text": "nightly report"}])
    env = {"CONSOLE_HOME_CHANNEL": "home-room"}
    async with running_engine(home, env, clock=clock) as (engine, replies):
        cron = engine.services.cron
        cron.add("nightly", "every 1d", "report", deliver="home:console")
        clock.now += 86401
        await cron.tick()
        await replies.wait_for(1)
    assert replies.items[-1].chat_id == "home-room"
    assert "nightly report" in replies.items[-1].text


async def test_compress_keeps_tool_calls_with_their_results(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: 'off'\n")
    openai_peer.script(
        [
            {"text": "one"},
            call("list_directory", path="."),
            {"text": "two"},
            {"text": "three"},
            {"text": "SUMMARY-TEXT"},
        ]
    )
    async with running_engine(home) as (engine, replies):
        for text in ("first", "second", "third"):
            await say(engine, replies, text)
        old = engine.store.session_current("console:dm:local")
        reply = await say(engine, replies, "/compress")
        assert reply.startswith("🗜️ Compressed 1 earlier turn")
        new = engine.store.session_current("console:dm:local")
        entries = engine.store.transcript(new.id)
    assert new.parent_id == old.id
    assert "SUMMARY-TEXT" in entries[0].content
    roles = [e.role for e in entries]
    assert roles == [
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]
    call_ids = [c["id"] for e in entries if e.tool_calls for c in e.tool_calls]
    assert call_ids == [e.tool_call_id for e in entries if e.role == "tool"]


async def test_rollback_restores_a_file_the_agent_changed(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: 'off'\n")
    notes = home / "workspace" / "notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("original\n")
    openai_peer.script(
        [call("write_file", path="notes.txt", content="changed\n"), {"text": "rewrote it"}]
    )
    async with running_engine(home) as (engine, replies):
        await say(engine, replies, "rewrite notes")
        assert notes.read_text() == "changed\n"
        listing = await say(engine, replies, "/rollback")
        assert "notes.txt" in listing
        restored = await say(engine, replies, "/rollback 1")
    assert restored.startswith("⏪") and notes.read_text() == "original\n"


async def test_personality_and_reasoning_shape_the_model_request(tmp_path, openai_peer):
    home = home_with(
        tmp_path, openai_peer, "agent:\n  personalities:\n    butler: Speak like a formal butler.\n"
    )
    async with running_engine(home) as (engine, replies):
        assert "butler" in await say(engine, replies, "/personality")
        assert "butler" in await say(engine, replies, "/personality butler")
        assert "high" in await say(engine, replies, "/reasoning high")
        await say(engine, replies, "hello")
        request = openai_peer.requests()[-1]["body"]
        assert "formal butler" in request["messages"][0]["content"]
        assert request["reasoning_effort"] == "high"
        await say(engine, replies, "/personality default")
        await say(engine, replies, "/reasoning default")
        await say(engine, replies, "again")
        request = openai_peer.requests()[-1]["body"]
    assert "butler" not in request["messages"][0]["content"] and "reasoning_effort" not in request


async def test_skill_runs_as_one_turn_with_its_instruction(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer)
    skill = home / "skills" / "weekly-report"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(
        "---\nname: weekly-report\ndescription: Write the weekly "
        "report\n---\nCollect the week's work into a report.\n"
    )
    openai_peer.script([{"text": "report written"}])
    async with running_engine(home) as (engine, replies):
        assert "/weekly_report" in await say(engine, replies, "/help")
        assert await say(engine, replies, "/weekly-report for team A") == "report written"
    prompt = openai_peer.requests()[-1]["body"]["messages"][-1]["content"]
    assert "Collect the week's work" in prompt and "for team A" in prompt


async def test_insights_and_voice(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer)
    openai_peer.script([{"text": "a", "usage": [10, 5]}])
    async with running_engine(home) as (engine, replies):
        assert "No usage" in await say(engine, replies, "/insights")
        await say(engine, replies, "hi")
        text = await say(engine, replies, "/insights 7")
        assert "custom:test-model: 1 turn(s), 10 in / 5 out" in text and "console" in text
        assert "Usage: /insights" in await say(engine, replies, "/insights 0")
        assert "tts" in await say(engine, replies, "/voice tts")
        assert "tts" in await say(engine, replies, "/voice")


async def test_reload_mcp_adds_the_servers_tools(tmp_path, openai_peer):
    import sys
    from pathlib import Path

    server = Path(__file__).parent / "peers" / "mcp_echo_server.py"
    home = home_with(tmp_path, openai_peer)
    async with running_engine(home) as (engine, replies):
        config = (home / "config.yaml").read_text()
        (home / "config.yaml").write_text(
            config
            + f"mcp_servers:\n  echo:\n    command: {sys.executable}\n    args: ['{server}']\n"
        )
        report = await say(engine, replies, "/reload-mcp")
        assert "✅ echo" in report
        openai_peer.script([call("mcp_echo_echo", text="ping"), {"text": "pong received"}])
        assert await say(engine, replies, "use echo") in ("🔌 `ping`…",)
        assert await replies.next() == "pong received"
    assert "ping" in tool_results(openai_peer.requests()[-1])[0]
