"""The control center driven by keys (Textual Pilot) against a real embedded engine on a
temporary HERMES_HOME, built by the same code path as `hermes tui` (cli_tui.open_target)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hermes_gateway.cli_tui import AttachedTarget, EmbeddedTarget, TargetError, open_target
from hermes_gateway.core.events import (
    ApprovalRequested,
    ApprovalResolved,
    CronRun,
    EngineWarning,
    Event,
    PlatformStatusChanged,
    ProcessChanged,
    ProcessOutput,
    SessionChanged,
    ToolProgress,
    TurnFinished,
)
from hermes_gateway.home import HermesHome
from hermes_gateway.service.lock import EngineLock
from hermes_tui.app import HermesApp
from hermes_tui.bridge import MAX_PROGRESS, Bridge
from hermes_tui.messages import EngineBatch
from hermes_tui.screens.approval import ApprovalScreen
from hermes_tui.screens.confirm_quit import ConfirmQuit
from hermes_tui.screens.help import HelpScreen
from hermes_tui.screens.transcript import TranscriptScreen
from hermes_tui.widgets.approvals import ApprovalsPane
from hermes_tui.widgets.console import ConsolePane
from hermes_tui.widgets.log_pane import LIMIT as LOG_LIMIT
from hermes_tui.widgets.log_pane import LogPane
from hermes_tui.widgets.platforms import PlatformsPane
from hermes_tui.widgets.sessions import SessionsPane
from hermes_tui.widgets.tasks import TasksPane
from hermes_tui.widgets.tool_log import LIMIT as TOOL_LIMIT
from hermes_tui.widgets.tool_log import SLACK as TOOL_SLACK
from hermes_tui.widgets.tool_log import ToolLogPane
from tests.gateway_proc import GatewayProcess
from tests.helpers import peer_config, write_config

WAIT = 10.0  # seconds: an upper bound on a loaded machine, never a speed assertion
SIZE = (160, 48)
CONSOLE_KEY = "console:dm:local"


async def until(pilot, predicate: Callable[[], object], what: str, timeout: float = WAIT):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            app = pilot.app
            toasts = [n.message for n in app._notifications]  # what the operator was told
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what} "
                f"(focused: {app.focused!r}, screen: {app.screen!r}, toasts: {toasts})"
            )
        await pilot.pause(0.02)


@contextlib.asynccontextmanager
async def control_center(
    home: Path, prepare: Callable[[object], object] | None = None
) -> AsyncIterator[tuple[HermesApp, object, object, list]]:
    """The app on an embedded engine, started and live; yields (app, pilot, engine, events).
    `prepare(engine)` runs before the app starts (e.g. to add a cron job)."""
    target = open_target(HermesHome(home), {})
    assert isinstance(target, EmbeddedTarget)
    if prepare is not None:
        prepare(target.engine)
    seen: list[Event] = []
    target.engine.bus.listen(seen.append)
    app = HermesApp(target)
    try:
        async with app.run_test(size=SIZE) as pilot:
            platforms = app.pane(PlatformsPane)
            await until(
                pilot,
                lambda: (
                    app.live
                    and platforms.rows.get("console", None) is not None
                    and platforms.rows["console"].state == "connected"
                ),
                "the embedded engine to start",
            )
            yield app, pilot, target.engine, seen
    finally:
        target.release()


async def say(pilot, text: str) -> None:
    """Type into the console, send, and hand the keys back to the panes (escape)."""
    await pilot.press("6")
    await pilot.press(*text)
    await pilot.press("enter", "escape")


def scripted_home(tmp_path: Path, peer, steps: list[dict]) -> Path:
    home = tmp_path / "home"
    write_config(home, peer_config(peer.base_url, "display:\n  tool_progress: all\n"))
    (home / "workspace" / "x").mkdir(parents=True)
    (home / "workspace" / "x" / "f.txt").write_text("x")
    peer.script(steps)
    return home


def rm_x() -> list[dict]:
    call = {"id": "call_1", "name": "terminal", "arguments": json.dumps({"command": "rm -r x"})}
    return [{"tool_calls": [call]}, {"text": "done with x"}]


async def pending_approval(app, pilot) -> ApprovalsPane:
    await say(pilot, "delete x")
    approvals = app.pane(ApprovalsPane)
    await until(pilot, lambda: approvals.count == 1, "the approval to show in its pane")
    return approvals


def console_text(app) -> str:
    return "\n".join(app.pane(ConsolePane).lines)


# -- console ---------------------------------------------------------------------------------
async def test_console_send_reaches_the_engine_and_the_offline_reply_appears(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        await say(pilot, "hello tui")
        await until(pilot, lambda: "Offline agent" in console_text(app), "the reply")
        assert "› hello tui" in console_text(app)
        assert "you said “hello tui”" in console_text(app)
        assert engine.store.session_current(CONSOLE_KEY) is not None
        sessions = app.pane(SessionsPane)
        await until(pilot, lambda: CONSOLE_KEY in sessions.sessions, "the session row")
        await until(pilot, lambda: app.pane(LogPane).events_seen > 0, "log lines")
        assert app.target.title.startswith("Hermes — embedded")


# -- approvals -------------------------------------------------------------------------------
async def test_pending_approval_shows_with_a_badge_and_a_approves_it(tmp_path, openai_peer):
    home = scripted_home(tmp_path, openai_peer, rm_x())
    async with control_center(home) as (app, pilot, engine, seen):
        approvals = await pending_approval(app, pilot)
        assert app.title_bar.badge.count == 1
        assert "1 approval waiting" in str(app.title_bar.badge.render())
        view = next(iter(approvals.pending.values()))
        assert view.command == "rm -r x"
        assert any(n.title == "Approval needed" for n in app._notifications)
        await pilot.press("5", "a")
        await until(pilot, lambda: not (home / "workspace" / "x").exists(), "rm -r x to run")
        await until(pilot, lambda: "done with x" in console_text(app), "the agent's answer")
        decided = [e for e in seen if isinstance(e, ApprovalResolved)]
        assert decided[0].decision == "once" and decided[0].by == "operator"
        await until(pilot, lambda: approvals.count == 0, "the row to go")
        assert app.title_bar.badge.count == 0
        # The toast goes with the decision, not 15 s later.
        assert not any(n.title == "Approval needed" for n in app._notifications)


async def test_d_denies_and_the_command_never_runs(tmp_path, openai_peer):
    home = scripted_home(tmp_path, openai_peer, [*rm_x()[:1], {"text": "left x alone"}])
    async with control_center(home) as (app, pilot, engine, seen):
        await pending_approval(app, pilot)
        await pilot.press("5", "d")
        await until(pilot, lambda: "left x alone" in console_text(app), "the agent's answer")
        assert (home / "workspace" / "x").exists()
        decided = [e for e in seen if isinstance(e, ApprovalResolved)]
        assert decided[0].decision == "deny"


async def test_enter_opens_the_modal_with_the_command_and_deny_focused(tmp_path, openai_peer):
    home = scripted_home(tmp_path, openai_peer, [*rm_x()[:1], {"text": "left x alone"}])
    async with control_center(home) as (app, pilot, engine, seen):
        await pending_approval(app, pilot)
        await pilot.press("5", "enter")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the modal")
        modal = app.screen
        assert modal.view.command == "rm -r x" and modal.view.reason
        assert app.focused is not None and app.focused.id == "deny"
        await pilot.press("enter")  # a reflexive enter denies
        await until(pilot, lambda: "left x alone" in console_text(app), "the denial")
        assert not isinstance(app.screen, ApprovalScreen)
        assert (home / "workspace" / "x").exists()


# -- sessions --------------------------------------------------------------------------------
async def test_s_stops_a_running_session(tmp_path, openai_peer):
    home = scripted_home(tmp_path, openai_peer, rm_x())
    async with control_center(home) as (app, pilot, engine, seen):
        await pending_approval(app, pilot)
        sessions = app.pane(SessionsPane)
        await until(pilot, lambda: CONSOLE_KEY in sessions.sessions, "the session row")
        await until(
            pilot, lambda: sessions.sessions[CONSOLE_KEY].state == "waiting-approval", "busy"
        )
        await pilot.press("2", "s")
        await until(
            pilot,
            lambda: any(isinstance(e, TurnFinished) and e.status == "stopped" for e in seen),
            "the turn to stop",
        )
        await until(pilot, lambda: sessions.sessions[CONSOLE_KEY].state == "idle", "idle row")
        assert (home / "workspace" / "x").exists()


async def test_n_starts_a_new_session(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        await say(pilot, "first")
        await until(pilot, lambda: "Offline agent" in console_text(app), "the reply")
        before = engine.store.session_current(CONSOLE_KEY).id
        sessions = app.pane(SessionsPane)
        await until(pilot, lambda: CONSOLE_KEY in sessions.sessions, "the session row")
        await pilot.press("2", "n")
        await until(
            pilot,
            lambda: engine.store.session_current(CONSOLE_KEY).id != before,
            "a new session",
        )
        await until(
            pilot,
            lambda: sessions.sessions[CONSOLE_KEY].session_id != before,
            "the row to show the new session",
        )


async def test_enter_on_a_session_shows_its_info_and_transcript(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        await say(pilot, "remember this line")
        await until(pilot, lambda: "Offline agent" in console_text(app), "the reply")
        sessions = app.pane(SessionsPane)
        await until(pilot, lambda: CONSOLE_KEY in sessions.sessions, "the session row")
        await pilot.press("2", "enter")
        await until(pilot, lambda: isinstance(app.screen, TranscriptScreen), "the transcript")
        log = app.screen.query_one("#transcript")
        await until(
            pilot,
            lambda: any("remember this line" in line.text for line in log.lines),
            "the transcript lines",
        )
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0], "the main screen")


# -- platforms -------------------------------------------------------------------------------
async def test_r_reconnects_the_console_platform(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        platforms = app.pane(PlatformsPane)
        first = platforms.rows["console"].since
        seen.clear()
        await pilot.press("1", "r")
        await until(
            pilot,
            lambda: (
                [e.state for e in seen if isinstance(e, PlatformStatusChanged)][-1:]
                == ["connected"]
            ),
            "the platform to reconnect",
        )
        states = [e.state for e in seen if isinstance(e, PlatformStatusChanged)]
        assert states[0] == "stopped" and "connecting" in states
        await until(
            pilot,
            lambda: (
                platforms.rows["console"].state == "connected"
                and platforms.rows["console"].since > first
            ),
            "the row to update",
        )


# -- tool progress -------------------------------------------------------------------------
async def test_tool_log_stays_bounded_follows_and_counts_new_lines_when_scrolled_away(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        tools = app.pane(ToolLogPane)
        total = TOOL_LIMIT + 500  # a long run: far more calls than the pane keeps
        for start in range(0, total, 100):  # batches, as the bridge posts them
            batch = [
                ToolProgress(f"s{i % 3}", "terminal", "💻", f"#{i}", status)
                for i in range(start, min(start + 100, total))
                for status in ("started", "ok")
            ]
            app.post_message(EngineBatch(tuple(batch)))
        await until(
            pilot, lambda: tools.calls and tools.calls[-1].preview == f"#{total - 1}", "the end"
        )
        assert len(tools.calls) == TOOL_LIMIT
        assert tools.table.row_count <= TOOL_LIMIT + TOOL_SLACK
        assert tools.calls[-1].status == "ok"  # the finish updated the started row by key
        assert tools.following and tools.table.cursor_row == tools.table.row_count - 1

        await pilot.press("3", "up")
        await until(pilot, lambda: not tools.following, "reading mode")
        for i in range(5):
            engine.bus.publish(ToolProgress("s0", "read_file", "📖", f"late {i}", "started"))
        await until(pilot, lambda: tools.unseen == 5, "5 new")
        assert "5 new" in str(tools.border_subtitle)
        await pilot.press("e")
        await until(pilot, lambda: tools.following and tools.unseen == 0, "following again")

        await pilot.press("s")  # filter: the first session
        assert tools.session_filter == "s0"
        assert all(row[1] == "s0" for row in (tools.table.get_row(k) for k in tools.table.rows))


async def test_log_pane_stays_bounded(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        log = app.pane(LogPane)
        for i in range(LOG_LIMIT + 300):
            engine.bus.publish(EngineWarning(f"warning {i}"))
        await until(pilot, lambda: log.events_seen >= LOG_LIMIT + 300, "every line")
        assert len(log.log_view.lines) <= LOG_LIMIT


class Posted:
    """Where a bridge under test posts its messages."""

    def __init__(self) -> None:
        self.messages: list[EngineBatch] = []

    def post_message(self, message) -> bool:
        self.messages.append(message)
        return True


def test_bridge_coalesces_process_output_and_sheds_the_oldest_progress_of_a_burst():
    posted = Posted()
    bridge = Bridge(posted)
    bridge.add(ProcessOutput("proc_1", "k", 3))
    for i in range(3 * MAX_PROGRESS):
        bridge.add(ToolProgress("k", "terminal", "💻", f"#{i}", "started"))
    bridge.add(ProcessOutput("proc_1", "k", 4))
    bridge.add(SessionChanged("k", "s", "running"))
    assert posted.messages == []  # nothing urgent yet: it waits for the flush
    bridge.add(ApprovalRequested("ap_1", "k", "console", "local", "rm -r x", "why", 0.0))
    (batch,) = posted.messages  # an approval is never held back
    outputs = [e for e in batch.events if isinstance(e, ProcessOutput)]
    progress = [e for e in batch.events if isinstance(e, ToolProgress)]
    assert [o.lines for o in outputs] == [7]
    assert len(progress) <= 2 * MAX_PROGRESS and progress[-1].preview == f"#{3 * MAX_PROGRESS - 1}"
    assert batch.dropped == 3 * MAX_PROGRESS - len(progress)
    assert isinstance(batch.events[-1], ApprovalRequested)
    bridge.flush()
    assert len(posted.messages) == 1  # an empty buffer posts nothing


# -- tasks -----------------------------------------------------------------------------------
def background_sleep() -> list[dict]:
    args = {"command": "echo started-output; sleep 60", "background": True}
    call = {"id": "call_bg", "name": "terminal", "arguments": json.dumps(args)}
    return [{"tool_calls": [call]}, {"text": "it runs in the background"}]


async def test_k_kills_a_background_process_whose_tail_shows(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script(background_sleep())
    async with control_center(home) as (app, pilot, engine, seen):
        await say(pilot, "start something slow")
        tasks = app.pane(TasksPane)
        await until(
            pilot,
            lambda: any(t.kind == "process" and t.state == "running" for t in tasks.tasks.values()),
            "the process row",
        )
        await until(
            pilot,
            lambda: "started-output" in str(tasks.query_one("#task-detail").render()),
            "its output tail",
        )
        await pilot.press("4", "k")
        await until(
            pilot,
            lambda: any(isinstance(e, ProcessChanged) and e.state == "killed" for e in seen),
            "the kill",
        )
        await until(pilot, lambda: [t.state for t in tasks.tasks.values()] == ["killed"], "the row")


def nightly(engine) -> None:
    engine.services.cron.add("nightly", "every 1h", "say hi", deliver="console:local")


async def test_c_runs_a_cron_job_now_and_p_pauses_it(tmp_path):
    async with control_center(tmp_path / "home", prepare=nightly) as (app, pilot, engine, seen):
        tasks = app.pane(TasksPane)
        await until(pilot, lambda: len(tasks.tasks) == 1, "the cron row")
        job = next(iter(tasks.tasks.values()))
        assert job.kind == "cron"
        await pilot.press("4", "c")
        await until(
            pilot,
            lambda: any(isinstance(e, CronRun) and e.status == "ok" for e in seen),
            "the run",
        )
        await until(pilot, lambda: "Offline agent" in console_text(app), "its delivery")
        await pilot.press("p")
        await until(pilot, lambda: tasks.tasks[job.id].state == "paused", "the paused row")
        assert not engine.services.cron.get(job.id).enabled


# -- app keys --------------------------------------------------------------------------------
async def test_q_asks_first_while_a_turn_runs_and_n_stays(tmp_path, openai_peer):
    home = scripted_home(tmp_path, openai_peer, rm_x())
    async with control_center(home) as (app, pilot, engine, seen):
        await pending_approval(app, pilot)
        await pilot.press("5", "q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmQuit), "the confirmation")
        assert app.focused is not None and app.focused.id == "stay"
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmQuit), "the dialog to go")
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmQuit), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "the app to exit")


async def test_q_quits_at_once_when_nothing_runs(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        await pilot.press("2", "q")
        await until(pilot, lambda: not app.is_running, "the app to exit")


async def test_question_mark_shows_every_panes_keys(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        titles = [title for title, _ in app.screen.groups]
        assert "5 Approvals" in titles and "Everywhere" in titles
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")


async def test_digits_focus_panes_h_hides_one_and_f_maximises(tmp_path):
    async with control_center(tmp_path / "home") as (app, pilot, engine, seen):
        for pane in app.panes:
            if pane.NUMBER == 6:
                continue  # the console's input takes digits; escape leaves it (below)
            await pilot.press(str(pane.NUMBER))
            assert pane.has_focus_within, pane.TITLE
        await pilot.press("6")
        assert app.pane(ConsolePane).has_focus_within
        await pilot.press("escape")
        assert app.pane(LogPane).has_focus_within  # back where the keys were
        tools = app.pane(ToolLogPane)
        await pilot.press("3", "3", "h")
        assert not tools.display and not tools.has_focus_within
        await pilot.press("3")
        assert tools.display and tools.has_focus_within
        await pilot.press("f")
        assert app.screen.maximized is tools
        await pilot.press("f")
        assert app.screen.maximized is None


async def test_command_palette_runs_the_same_pane_actions(tmp_path, openai_peer):
    home = scripted_home(tmp_path, openai_peer, rm_x())
    async with control_center(home) as (app, pilot, engine, seen):
        await pending_approval(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"approve once")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: not (home / "workspace" / "x").exists(), "rm -r x to run")


# -- one engine per home ---------------------------------------------------------------------
async def test_a_second_tui_on_the_same_home_attaches_to_the_first_instead_of_a_second_engine(
    tmp_path,
):
    home = tmp_path / "home"
    async with control_center(home) as (first, pilot, engine, seen):
        await until(pilot, lambda: (home / "control.sock").exists(), "the control socket")
        second_target = open_target(HermesHome(home), {})
        assert isinstance(second_target, AttachedTarget)
        handle = await second_target.connect()
        try:
            await handle.send_console("from the second tui")
            await until(pilot, lambda: "from the second tui" in console_text(first), "the reply")
        finally:
            await second_target.close()
    assert not (home / "control.sock").exists()
    target = open_target(HermesHome(home), {})  # the lock was released on exit
    assert isinstance(target, EmbeddedTarget)
    target.release()


def test_a_gateway_without_a_control_socket_is_refused_with_what_to_do(tmp_path):
    home = HermesHome(tmp_path / "home").ensure()
    with EngineLock(home.lock_file), pytest.raises(TargetError, match="without a control socket"):
        open_target(home, {})


async def test_attached_tui_whose_service_cannot_be_reached_says_so_and_offers_r(tmp_path):
    home = HermesHome(tmp_path / "home").ensure()
    with EngineLock(home.lock_file):  # "a gateway runs here" (this process holds the lock)
        (home.root / "control.sock").touch()  # a socket nobody serves
        target = open_target(home, {})
        assert isinstance(target, AttachedTarget)
        assert "attached to PID" in target.title
        app = HermesApp(target)
        async with app.run_test(size=SIZE) as pilot:
            banner = app.query_one("#banner")
            await until(pilot, lambda: banner.has_class("-shown"), "the banner")
            assert not app.live
            assert app.check_action("reconnect", ()) is True
            await pilot.press("r")
            await pilot.pause(0.1)
            assert app.is_running


# -- attached to a running `hermes gateway --headless` ----------------------------------------
@pytest.fixture
def gateways():
    started: list[GatewayProcess] = []

    def start(home: Path) -> GatewayProcess:
        gateway = GatewayProcess(home)
        started.append(gateway)
        gateway.wait_for_log("control socket listening")
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


async def test_attached_tui_chats_and_survives_the_service_stopping_then_reconnects(
    tmp_path, gateways
):
    home = tmp_path / "home"
    first = gateways(home)
    target = open_target(HermesHome(home), {})
    assert isinstance(target, AttachedTarget) and target.pid == first.proc.pid
    app = HermesApp(target)
    async with app.run_test(size=SIZE) as pilot:
        platforms = app.pane(PlatformsPane)
        await until(pilot, lambda: app.live and "console" in platforms.rows, "the snapshot")
        assert f"attached to PID {first.proc.pid}" in app.target.title
        await say(pilot, "hello over the socket")
        await until(pilot, lambda: "hello over the socket”" in console_text(app), "the reply")

        assert await asyncio.to_thread(first.terminate) == 0
        banner = app.query_one("#banner")
        await until(pilot, lambda: not app.live and banner.has_class("-shown"), "the banner")
        assert app.check_action("reconnect", ()) is True
        await pilot.press("r")  # nothing runs there now: it says so, and stays up
        await until(pilot, lambda: "No gateway runs" in str(banner.render()), "the reason")
        assert app.is_running and not app.live

        second = gateways(home)
        await pilot.press("r")
        await until(pilot, lambda: app.live, "the reconnect")
        assert f"attached to PID {second.proc.pid}" in app.target.title
        assert not banner.has_class("-shown")
        await pilot.press("q")  # attached: quitting never asks (the service keeps running)
        await until(pilot, lambda: not app.is_running, "the app to exit")
    assert second.proc.poll() is None  # the TUI never stops the service it attached to


def test_tui_help_imports_no_textual():
    probe = (
        "import sys, contextlib, io\n"
        "from hermes_gateway.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['tui', '--help'])\n"
        "print('control center' in out.getvalue(), 'textual' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.split() == ["True", "False"]
