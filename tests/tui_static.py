"""A GatewayHandle with a canned picture of a busy gateway and a frozen clock.

The snapshot tests and the screenshots render the control center from it, so the screen is
the same on every machine and every run: several platforms (one failed, with its reason),
sessions on telegram / discord / console in different states, tool calls in flight, a pending
approval, background tasks, processes and cron jobs. Every command the app sends is recorded
in `commands`; `push()` feeds more engine events to the open streams."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterable
from typing import Any

from hermes_gateway.control.snapshot import (
    ApprovalView,
    PlatformView,
    SessionView,
    Snapshot,
    TaskView,
)
from hermes_gateway.core.events import (
    ApprovalResolved,
    ConsoleReply,
    EngineStarted,
    EngineWarning,
    Event,
    MessageReceived,
    MessageSent,
    PlatformStatusChanged,
    SendFailed,
    SessionChanged,
    ToolProgress,
    TurnFinished,
    TurnStarted,
)
from hermes_tui.app import HermesApp
from hermes_tui.target import HandleTarget
from hermes_tui.widgets.tool_log import ToolLogPane

NOW = 1_781_257_260.0  # 2026-06-12 09:41:00 UTC: the app's clock and every timestamp below
TITLE = "Hermes — attached to PID 48213 · ~/.hermes"
PROVIDER, MODEL = "anthropic", "claude-sonnet-4-5"

ALICE = "telegram:dm:111"
TEAM = "telegram:group:-1001822334455:-:222"
CAROL = "discord:dm:904173355120"
DAVE = "telegram:dm:333"
CONSOLE = "console:dm:local"
APPROVAL_ID = "ap_3f9c1e"
DANGEROUS = "rm -rf ~/projects/site/build && git clean -fdx"
DISCORD_ERROR = (
    "DISCORD_BOT_TOKEN was rejected by Discord (401). Reset the token in the Developer "
    "Portal, then `hermes gateway restart`."
)
CONSOLE_QUESTION = "how much disk is left on the build box?"
CONSOLE_ANSWER = "41 GB free of 256 GB (84 % used). The biggest directory is ~/projects/site/build."


def clock() -> float:
    return NOW


MAIN_MODEL = f"{PROVIDER}:{MODEL}"
# One row per line: (what, …) as the panes show it; times are seconds before NOW.
PLATFORMS = [  # name, state, since, messages in, out, last error
    ("telegram", "connected", 8_040, 184, 211, ""),
    ("discord", "failed", 240, 37, 35, DISCORD_ERROR),
    ("slack", "connecting", 3, 12, 12, "timed out"),
    ("email", "disabled", 8_040, 0, 0, ""),
    ("console", "connected", 8_040, 6, 6, ""),
]
SESSIONS = [  # key, session id, chat, user, state, last active, tokens in, out, model
    (ALICE, "s_7c21", "111", "alice", "running", 2, 48_213, 3_127, MAIN_MODEL),
    (TEAM, "s_7c19", "-1001822334455", "bob", "waiting-approval", 47, 12_904, 841, MAIN_MODEL),
    (DAVE, "s_7c24", "333", "dave", "queued", 1, 2_310, 0, MAIN_MODEL),
    (CAROL, "s_7b90", "904173355120", "carol", "idle", 372, 6_020, 1_488, "openai:gpt-4.1-mini"),
    (CONSOLE, "s_7a02", "local", "operator", "idle", 720, 1_204, 310, MAIN_MODEL),
]
TASKS = [  # id, kind, title, state, session, detail, started (cron: next run, negative = ahead)
    ("bg_093802_a1b2c3", "background", "Summarise this week's support tickets", "running",
     ALICE, "", 178),
    ("proc_4e7a21", "process", "npm run dev -- --port 5173", "running", ALICE,
     "  VITE v5.4.2  ready in 412 ms\n  ➜  Local:   http://localhost:5173/", 1_080),
    ("proc_9c0d55", "process", "pytest -x tests/", "exited", ALICE,
     "==== 212 passed in 9.81s ====", 1_500),
    ("cron_7f3a90", "cron", "Morning briefing", "ok", "", "0 8 * * *", -80_340),
    ("cron_b81c02", "cron", "Back up notes to S3", "paused", "", "0 */6 * * *", None),
]  # fmt: skip


def canned_snapshot(mode: str = "attached") -> Snapshot:
    return Snapshot(
        mode=mode,
        home="/home/ops/.hermes",
        provider=PROVIDER,
        model=MODEL,
        platforms=[
            PlatformView(name, state, error if state == "failed" else "", NOW - ago, i, o, error)
            for name, state, ago, i, o, error in PLATFORMS
        ],
        sessions=[
            SessionView(key, sid, key.split(":", 1)[0], chat, user, state, model, NOW - ago, i, o)
            for key, sid, chat, user, state, ago, i, o, model in SESSIONS
        ],
        approvals=[
            ApprovalView(
                APPROVAL_ID,
                TEAM,
                "telegram",
                "-1001822334455",
                DANGEROUS,
                "recursive delete; git clean removes untracked files",
                NOW - 47,
                NOW + 253,
            )
        ],
        tasks=[
            TaskView(id_, kind, title, state, key, detail, 0.0 if ago is None else NOW - ago)
            for id_, kind, title, state, key, detail, ago in TASKS
        ],
    )


def _tool(at: float, key: str, emoji: str, tool: str, preview: str, status: str, ms: float = 0):
    return ToolProgress(key, tool, emoji, preview, status, ms, at=NOW - at)


def canned_events() -> list[Event]:
    """What the engine said in the last minutes, oldest first: these fill the Tool progress,
    Log and Console panes (a snapshot carries no history)."""
    events = [
        EngineStarted("/home/ops/.hermes", ("telegram", "discord", "slack", "console"),
                      PROVIDER, MODEL, at=NOW - 8_041),
        TurnFinished(CONSOLE, "s_7a02", "ok", 2_310, 1_204, 310, at=NOW - 720),
        PlatformStatusChanged("discord", "failed", DISCORD_ERROR, at=NOW - 240),
        MessageReceived("telegram", "111", "111", "5120", ALICE, 64, at=NOW - 96),
        TurnStarted(ALICE, "s_7c21", 1, at=NOW - 96),
        _tool(95, ALICE, "🔍", "search_files", "TODO|FIXME", "started"),
        _tool(94.9, ALICE, "🔍", "search_files", "TODO|FIXME", "ok", 84),
        _tool(93, ALICE, "📖", "read_file", "src/app/routes.py", "ok", 12),
        MessageReceived("telegram", "-1001822334455", "222", "771", TEAM, 31, at=NOW - 90),
        TurnStarted(TEAM, "s_7c19", 1, at=NOW - 90),
        _tool(88, TEAM, "💻", "terminal", "git status --short", "ok", 210),
        _tool(80, ALICE, "🌐", "web_fetch", "https://docs.python.org/3/library/asyncio-task.html",
              "ok", 1_432),
        _tool(62, ALICE, "🩹", "patch", "src/app/routes.py", "error", 31),
        _tool(55, ALICE, "🩹", "patch", "src/app/routes.py", "ok", 27),
        _tool(50, ALICE, "✍️", "write_file", "notes/summary.md", "ok", 8),
        _tool(48, TEAM, "💻", "terminal", DANGEROUS, "started"),
        SessionChanged(TEAM, "s_7c19", "waiting-approval", at=NOW - 47),
        ApprovalResolved("ap_19d0aa", ALICE, "once", "111", at=NOW - 40),
        SendFailed("slack", "C04TEAM", "timed out", at=NOW - 30),
        PlatformStatusChanged("slack", "connecting", "retry 3 in 4s", at=NOW - 3),
        _tool(20, CONSOLE, "⚙️", "process", "poll proc_4e7a21", "ok", 3),
        MessageSent("telegram", "111", "5123", 412, at=NOW - 12),
        _tool(6, ALICE, "💻", "terminal", "pytest -q tests/test_routes.py", "started"),
        EngineWarning("slack: no answer from the websocket for 30 s; reconnecting", at=NOW - 4),
        MessageReceived("telegram", "333", "333", "88", DAVE, 12, at=NOW - 1),
    ]  # fmt: skip
    return sorted(events, key=lambda e: e.at)


def tool_calls_in(events: Iterable[Event]) -> int:
    """How many rows the Tool progress pane shows for `events` (a finish joins its start)."""
    open_calls: dict[tuple[str, str], int] = {}
    rows = 0
    for event in events:
        if not isinstance(event, ToolProgress):
            continue
        key = (event.session_key, event.tool)
        if event.status != "started" and open_calls.get(key):
            open_calls[key] -= 1
            continue
        rows += 1
        if event.status == "started":
            open_calls[key] = open_calls.get(key, 0) + 1
    return rows


class StaticHandle:
    """GatewayHandle over canned data. Commands change nothing; they are recorded as
    (method, *args) tuples in `commands`. A console message is answered with `console_reply`."""

    def __init__(
        self,
        snapshot: Snapshot | None = None,
        events: Iterable[Event] | None = None,
        *,
        mode: str = "attached",
        console_reply: str = CONSOLE_ANSWER,
    ) -> None:
        self.mode = mode
        self._snapshot = snapshot or canned_snapshot(mode)
        self._events = list(canned_events() if events is None else events)
        self.console_reply = console_reply
        self.commands: list[tuple[Any, ...]] = []
        self.served = 0  # snapshots handed out
        self.last_served: Snapshot | None = None
        self._streams: list[asyncio.Queue[Event | None]] = []

    # -- queries ----------------------------------------------------------------------------
    async def snapshot(self) -> Snapshot:
        # A new object each time, so that `settle` can tell which one the app shows.
        self.served += 1
        self.last_served = dataclasses.replace(self._snapshot)
        return self.last_served

    def events(self) -> AsyncIterator[Event]:
        """Every stream starts with the canned events, then carries what `push()` adds."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        for event in self._events:
            queue.put_nowait(event)
        self._streams.append(queue)
        return self._stream(queue)

    async def _stream(self, queue: asyncio.Queue[Event | None]) -> AsyncIterator[Event]:
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            if queue in self._streams:
                self._streams.remove(queue)

    def push(self, event: Event) -> None:
        for queue in self._streams:
            queue.put_nowait(event)

    async def transcript(self, session_id: str, limit: int = 200) -> list[dict[str, Any]]:
        self.commands.append(("transcript", session_id, limit))
        return [
            {"role": "user", "content": "the routes test fails since yesterday, can you look?"},
            {"role": "assistant", "content": "Running it now.", "tool_calls": [
                {"function": {"name": "terminal"}}]},
            {"role": "tool", "name": "terminal", "content": "1 failed, 11 passed"},
        ][-limit:]  # fmt: skip

    # -- commands ---------------------------------------------------------------------------
    def _pending(self, approval_id: str) -> bool:
        return any(a.id == approval_id for a in self._snapshot.approvals)

    async def resolve_approval(self, approval_id: str, choice: str) -> bool:
        self.commands.append(("resolve_approval", approval_id, choice))
        return self._pending(approval_id)

    async def stop_session(self, key: str) -> bool:
        self.commands.append(("stop_session", key))
        return any(s.key == key and s.state != "idle" for s in self._snapshot.sessions)

    async def reset_session(self, key: str) -> bool:
        self.commands.append(("reset_session", key))
        return any(s.key == key for s in self._snapshot.sessions)

    async def reconnect_platform(self, name: str) -> None:
        self.commands.append(("reconnect_platform", name))

    async def disable_platform(self, name: str) -> None:
        self.commands.append(("disable_platform", name))

    async def approve_pairing(self, platform: str, code: str) -> str:
        self.commands.append(("approve_pairing", platform, code))
        return f"Approved erin on {platform}."

    async def revoke_pairing(self, platform: str, user_id: str) -> bool:
        self.commands.append(("revoke_pairing", platform, user_id))
        return True

    async def run_cron(self, job_id: str) -> None:
        self.commands.append(("run_cron", job_id))

    async def pause_cron(self, job_id: str, paused: bool = True) -> None:
        self.commands.append(("pause_cron", job_id, paused))

    async def kill_process(self, process_id: str) -> bool:
        self.commands.append(("kill_process", process_id))
        return True

    async def send_console(self, text: str) -> None:
        self.commands.append(("send_console", text))
        if self.console_reply:
            self.push(ConsoleReply("local", self.console_reply, at=NOW))

    async def close(self) -> None:
        self.commands.append(("close",))
        for queue in self._streams:
            queue.put_nowait(None)


def static_app(handle: StaticHandle, title: str = TITLE) -> HermesApp:
    """The control center on `handle`, with the frozen clock."""
    return HermesApp(HandleTarget(handle, title), clock=clock)


async def settle(pilot: Any, handle: StaticHandle, timeout: float = 10.0) -> None:
    """Wait until the app shows the canned events, then a snapshot taken after them.

    Events bump counters (messages in, tokens) that the next snapshot replaces: asking for that
    snapshot makes the screen the same whichever of the two reached the app first."""
    app = pilot.app
    calls = tool_calls_in(handle._events)
    await until(pilot, lambda: app.live and len(app.pane(ToolLogPane).calls) >= calls, timeout)
    mark = handle.served
    app.refresh_snapshot()
    await until(pilot, lambda: handle.served > mark and app.snapshot is handle.last_served, timeout)
    await pilot.pause()


async def until(pilot: Any, predicate: Any, timeout: float = 10.0) -> None:
    """Poll `predicate` between pauses of the app; AssertionError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"the control center did not settle within {timeout:g} s")
        await pilot.pause(0.05)
