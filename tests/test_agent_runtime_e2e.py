"""The agent acting on the machine, end to end through the console and a scripted model:
tools, approvals, interrupts and tool progress."""

import asyncio
import json

from hermes_gateway.core.events import ApprovalRequested, ApprovalResolved
from tests.helpers import peer_config, running_engine, write_config


def call(tool: str, call_id: str = "", /, **args) -> dict:
    """One scripted model response calling `tool` with `args`."""
    return {
        "tool_calls": [
            {"id": call_id or f"call_{tool}", "name": tool, "arguments": json.dumps(args)}
        ]
    }


def tool_results(request: dict) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


async def until(predicate, timeout: float = 10.0) -> None:
    async def poll():
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def home_with(tmp_path, peer, extra: str = ""):
    home = tmp_path / "home"
    write_config(home, peer_config(peer.base_url, extra))
    return home


async def test_terminal_tool_runs_in_the_workspace_and_reports_progress(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer)
    openai_peer.script(
        [call("terminal", command="echo hello-from-shell && pwd"), {"text": "ran it"}]
    )
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("run something")
        texts = await replies.wait_for(2)
    assert texts == ["💻 `echo hello-from-shell && pwd`…", "ran it"]
    result = tool_results(openai_peer.requests()[1])[0]
    assert "hello-from-shell" in result and str(home / "workspace") in result


async def test_tool_error_is_a_result_and_the_turn_goes_on(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: off\n")
    openai_peer.script([call("read_file", path="missing.txt"), {"text": "it is missing"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("read it")
        assert await replies.next() == "it is missing"
    assert tool_results(openai_peer.requests()[1])[0].startswith("error:")


async def test_concurrent_calls_return_results_in_call_order(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: off\n")
    work = home / "workspace"
    work.mkdir(parents=True)
    (work / "a.txt").write_text("alpha\n")
    (work / "b.txt").write_text("beta\n")
    both = {
        "tool_calls": [
            {"id": "1", "name": "read_file", "arguments": '{"path": "a.txt"}'},
            {"id": "2", "name": "read_file", "arguments": '{"path": "b.txt"}'},
        ]
    }
    openai_peer.script([both, {"text": "read both"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("read a and b")
        assert await replies.next() == "read both"
    messages = openai_peer.requests()[1]["body"]["messages"]
    tools = [m for m in messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tools] == ["1", "2"]
    assert "alpha" in tools[0]["content"] and "beta" in tools[1]["content"]


async def test_dangerous_command_waits_for_approve_then_runs(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: off\n")
    target = home / "workspace" / "build"
    target.mkdir(parents=True)
    (target / "x.o").write_text("x")
    openai_peer.script([call("terminal", command="rm -rf build"), {"text": "cleaned"}])
    async with running_engine(home) as (engine, replies):
        seen = engine.bus.subscribe()
        await engine.console.inject("clean the build")
        prompt = await replies.next()
        assert "rm -rf build" in prompt and "/approve" in prompt and "/deny" in prompt
        assert engine.is_protected("console:dm:local")  # never auto-reset while it waits
        assert target.exists()
        await engine.console.inject("/approve")
        texts = await replies.wait_for(3)
        events = [seen.get_nowait() for _ in range(200)]
        audit = engine.store.approvals_recent()
    assert texts[1].startswith("✅ Approved once") and texts[2] == "cleaned"
    assert not target.exists()
    assert any(isinstance(e, ApprovalRequested) for e in events if e)
    decided = [e for e in events if isinstance(e, ApprovalResolved)]
    assert decided and decided[0].decision == "once"
    assert audit[0]["status"] == "once" and audit[0]["command"] == "rm -rf build"


async def test_denied_command_never_runs_and_the_model_is_told(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: off\n")
    keep = home / "workspace" / "keep"
    keep.mkdir(parents=True)
    openai_peer.script([call("terminal", command="rm -r keep"), {"text": "ok, not deleting"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("delete keep")
        await replies.next()
        await engine.console.inject("/deny too risky")
        texts = await replies.wait_for(3)
    assert texts[1].startswith("🚫 Denied") and texts[2] == "ok, not deleting"
    assert keep.exists()
    assert "too risky" in tool_results(openai_peer.requests()[1])[0]


async def test_unanswered_approval_times_out_as_deny(tmp_path, openai_peer):
    home = home_with(
        tmp_path, openai_peer, "display:\n  tool_progress: off\napprovals:\n  timeout: 1\n"
    )
    openai_peer.script([call("terminal", command="chmod -R 777 ."), {"text": "gave up"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("open permissions")
        texts = await replies.wait_for(2)
        audit = engine.store.approvals_recent()
    assert texts[1] == "gave up"
    assert "within" in tool_results(openai_peer.requests()[1])[0]
    assert audit[0]["status"] == "timeout"


async def test_hardline_command_is_blocked_without_asking(tmp_path, openai_peer):
    home = home_with(
        tmp_path, openai_peer, "display:\n  tool_progress: off\napprovals:\n  mode: 'off'\n"
    )
    openai_peer.script([call("terminal", command="sudo rm -rf /"), {"text": "refused"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("wipe it")
        assert await replies.next() == "refused"
    assert "never" in tool_results(openai_peer.requests()[1])[0].lower()


async def test_approve_always_persists_to_the_allowlist(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: off\n")
    (home / "workspace" / "tmpdir").mkdir(parents=True)
    openai_peer.script([call("terminal", command="rm -r tmpdir"), {"text": "done"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("remove tmpdir")
        await replies.next()
        await engine.console.inject("/approve always")
        await replies.wait_for(3)
    assert "rm -r tmpdir" in (home / "config.yaml").read_text()
    assert "provider: custom" in (home / "config.yaml").read_text()  # the rest is kept


async def test_interrupt_kills_the_running_command_and_its_children(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer)
    pidfile = tmp_path / "pids"
    command = f"sh -c 'sleep 300 & echo $! >> {pidfile}; sleep 300 & echo $! >> {pidfile}; wait'"
    openai_peer.script([call("terminal", command=command), {"text": "follow-up answer"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("start a long job")
        await until(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
        pids = [int(p) for p in pidfile.read_text().split()]
        await engine.console.inject("never mind, do this instead")
        texts = await replies.wait_for(3)
        await until(lambda: not any(_alive(p) for p in pids), timeout=5)
    assert texts[1].startswith("⚡ Interrupted")
    assert texts[2] == "follow-up answer"
    assert openai_peer.requests()[-1]["body"]["messages"][-1]["content"] == (
        "never mind, do this instead"
    )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_progress_mode_new_collapses_and_verbose_shows_arguments(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: new\n")
    (home / "workspace").mkdir(parents=True)
    steps = [
        call("list_directory", "1", path="."),
        call("list_directory", "2", path="."),
        call("search_files", "3", pattern="x"),
        {"text": "done"},
    ]
    openai_peer.script(steps)
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("look around")
        texts = await replies.wait_for(3)
    assert texts == ["📁 `.`…", "🔍 `x`…", "done"]

    openai_peer.reset()
    home2 = tmp_path / "home2"
    write_config(home2, peer_config(openai_peer.base_url, "display:\n  tool_progress: verbose\n"))
    openai_peer.script([call("read_file", path="nope.txt"), {"text": "done"}])
    async with running_engine(home2) as (engine, replies):
        await engine.console.inject("read")
        texts = await replies.wait_for(3)
    assert texts[0].startswith("📖 read_file") and '"nope.txt"' in texts[0]
    assert texts[1].startswith("❌ read_file:")


async def test_progress_off_per_platform_override(tmp_path, openai_peer):
    extra = (
        "display:\n  tool_progress: all\n  platforms:\n    console:\n      tool_progress: 'off'\n"
    )
    home = home_with(tmp_path, openai_peer, extra)
    openai_peer.script([call("list_directory", path="."), {"text": "quiet"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("list")
        assert await replies.next() == "quiet"


async def test_send_message_reaches_another_chat_and_the_home_channel(tmp_path, openai_peer):
    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: off\n")
    steps = [
        call("send_message", "1", target="console:ops-room", text="deploy finished"),
        call("send_message", "2", target="console", text="to home"),
        {"text": "sent both"},
    ]
    openai_peer.script(steps)
    async with running_engine(home, {"CONSOLE_HOME_CHANNEL": "home-room"}) as (engine, replies):
        await engine.console.inject("tell ops")
        await replies.wait_for(3)
    by_chat = {m.chat_id: m.text for m in replies.items}
    assert by_chat["ops-room"] == "deploy finished"
    assert by_chat["home-room"] == "to home"
    assert by_chat["local"] == "sent both"


async def test_only_a_user_of_that_session_can_resolve_its_approval(tmp_path, openai_peer):
    from hermes_gateway.core.types import ChatType, InboundMessage, Platform, SessionSource

    home = home_with(tmp_path, openai_peer, "display:\n  tool_progress: 'off'\n")
    (home / "workspace" / "old").mkdir(parents=True)
    openai_peer.script([call("terminal", command="rm -r old"), {"text": "removed"}])
    env = {"CONSOLE_ALLOW_ALL_USERS": "false", "CONSOLE_ALLOWED_USERS": "alice,bob"}

    def said(user: str, text: str, n: int) -> InboundMessage:
        source = SessionSource(Platform.CONSOLE, "team", ChatType.GROUP, user_id=user)
        return InboundMessage(source, f"{user}-{n}", text)

    async with running_engine(home, env) as (engine, replies):
        await engine.ingest(said("alice", "clean up old", 1))
        await replies.next()  # the approval prompt
        await engine.ingest(said("bob", "/approve", 2))  # bob's own session has nothing pending
        assert await replies.next() == "There is no pending approval in this chat."
        await engine.ingest(said("mallory", "/approve", 3))  # not allowed at all: ignored
        await asyncio.sleep(0.1)
        assert (home / "workspace" / "old").exists() and len(replies.items) == 2
        await engine.ingest(said("alice", "/approve", 4))
        texts = await replies.wait_for(4)
    assert texts[-1] == "removed" and not (home / "workspace" / "old").exists()
