"""The Hermes control center: seven live panes over one GatewayHandle.

The app owns the connection (a worker that opens the handle, loads a snapshot and starts the
bridge), the embedded engine's lifetime (started in a worker at mount, stopped at unmount), and
the keys that work everywhere. Panes own their rows; they change only in the handlers below."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from hermes_gateway.control.handle import GatewayHandle
from hermes_gateway.control.snapshot import Snapshot
from hermes_gateway.core.events import (
    ApprovalRequested,
    ApprovalResolved,
    ConsoleReply,
    ToolProgress,
)
from hermes_tui.bridge import Bridge, LogCapture
from hermes_tui.commands import HermesCommands
from hermes_tui.messages import Connected, Disconnected, EngineBatch, LogLine, SnapshotLoaded
from hermes_tui.navigation import PaneNavigation
from hermes_tui.screens.approval import ApprovalScreen
from hermes_tui.screens.confirm_quit import ConfirmQuit
from hermes_tui.screens.help import HelpScreen
from hermes_tui.target import Target
from hermes_tui.toasts import ApprovalToasts
from hermes_tui.widgets.approvals import ApprovalsPane
from hermes_tui.widgets.console import ConsolePane
from hermes_tui.widgets.log_pane import LogPane
from hermes_tui.widgets.pane import Pane
from hermes_tui.widgets.platforms import PlatformsPane
from hermes_tui.widgets.sessions import BUSY, SessionsPane
from hermes_tui.widgets.tasks import TasksPane
from hermes_tui.widgets.titlebar import TitleBar
from hermes_tui.widgets.tool_log import ToolLogPane

PANES: tuple[type[Pane], ...] = (
    PlatformsPane,
    SessionsPane,
    ToolLogPane,
    TasksPane,
    ApprovalsPane,
    ConsolePane,
    LogPane,
)
ROWS = (
    (PlatformsPane, SessionsPane),
    (ToolLogPane, TasksPane),
    (ApprovalsPane, ConsolePane, LogPane),
)
REFRESH_EVERY = 5.0  # seconds between snapshots when nothing asked for one (heals drift)
QUIET_EVENTS = (ToolProgress, ConsoleReply)  # change nothing a snapshot would show


class HermesApp(PaneNavigation, App[int]):
    CSS_PATH = "hermes.tcss"
    TITLE = "Hermes"
    COMMANDS = App.COMMANDS | {HermesCommands}
    ALLOW_IN_MAXIMIZED_VIEW = "TitleBar, #banner, Footer"  # the badge stays in sight
    BINDINGS = [
        Binding("1", "focus_pane(1)", "Panes", key_display="1-7"),
        *(
            Binding(str(p.NUMBER), f"focus_pane({p.NUMBER})", p.TITLE, show=False)
            for p in PANES[1:]
        ),
        Binding("f", "toggle_maximize", "Maximise"),
        Binding("h", "hide_pane", "Hide pane"),
        Binding("r", "reconnect", "Reconnect to the service"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, target: Target, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.target = target
        self.clock = clock
        self.handle: GatewayHandle | None = None
        self.live = False
        self.snapshot: Snapshot | None = None
        self._dirty = False
        self._refreshing = False
        self._last_refresh = 0.0
        self._log_capture: LogCapture | None = None
        self._panes: list[Pane] = []
        self._title_bar: TitleBar | None = None
        self.last_pane = SessionsPane.NUMBER  # where escape from the console input goes back to
        self.title = target.title
        self.approval_toasts = ApprovalToasts(self)

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title-bar")
        yield Static("", id="banner", markup=False)
        for index, row in enumerate(ROWS):
            with Horizontal(id=f"row-{index + 1}", classes="row"):
                for pane in row:
                    yield pane()
        yield Footer()

    @property
    def panes(self) -> list[Pane]:
        return self._panes

    def pane(self, cls: type[Pane]) -> Pane:
        return self._panes[PANES.index(cls)]

    @property
    def title_bar(self) -> TitleBar:
        return self._title_bar

    @property
    def showing(self) -> bool:
        """False once the main screen is gone (shutting down): late messages change nothing."""
        return bool(self._panes) and self._panes[0].is_attached

    # -- lifetime -------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._panes = [self.query_one(f"#{cls.pane_id()}", cls) for cls in PANES]
        self._title_bar = self.query_one(TitleBar)
        self.title_bar.show_title(self.target.title)
        self.title_bar.show_link("connecting")
        if self.target.mode == "embedded":  # stderr would tear the screen
            self._log_capture = LogCapture(self).start()
        self.set_interval(1.0, self._tick)
        self.pane(SessionsPane).focus_target.focus()
        self.connect()

    async def on_unmount(self) -> None:
        try:
            await self.target.close()  # embedded: stops the engine, frees the lock
        finally:
            if self._log_capture is not None:
                self._log_capture.stop()

    @work(group="connect", exclusive=True, exit_on_error=False)
    async def connect(self) -> None:
        """Open the handle, subscribe before the first snapshot (so nothing falls between),
        then pump events; embedded, start the engine alongside."""
        handle = await self.target.connect()
        stream = handle.events()
        snapshot = await handle.snapshot()
        self.handle, self.live, self._last_refresh = handle, True, time.monotonic()
        self.post_message(Connected())
        self.post_message(SnapshotLoaded(snapshot))
        self.run_worker(
            Bridge(self).pump(stream),
            name="bridge",
            group="bridge",
            exclusive=True,  # a reconnect replaces the old stream's reader
            exit_on_error=False,
        )
        lost = getattr(handle, "disconnected", None)
        if lost is not None:
            self.run_worker(self._watch(lost), group="watch", exclusive=True, exit_on_error=False)
        if self.target.mode == "embedded":
            self.run_worker(
                self._start_engine(), name="engine", group="engine", exit_on_error=False
            )

    async def _start_engine(self) -> None:
        await self.target.start()
        self._dirty = True

    async def _watch(self, lost) -> None:
        await lost.wait()
        self.post_message(Disconnected("the gateway service went away"))

    def _tick(self) -> None:
        if not self.showing:
            return
        now = self.clock()
        with self.batch_update():
            for pane in self.panes:
                pane.tick(now)
        stale = time.monotonic() - self._last_refresh >= REFRESH_EVERY
        if self.live and not self._refreshing and (self._dirty or stale):
            self._refreshing, self._dirty = True, False
            self.refresh_snapshot()

    @work(group="snapshot", exit_on_error=False)
    async def refresh_snapshot(self) -> None:
        try:
            snapshot = await self.handle.snapshot()
        finally:
            self._refreshing, self._last_refresh = False, time.monotonic()
        self.post_message(SnapshotLoaded(snapshot))

    def run_command(self, work: Awaitable[str | None], label: str) -> None:
        """One handle call as a worker; its sentence becomes a toast, its error a red one."""

        async def run() -> None:
            message = await work
            self._dirty = True
            if message:
                self.notify(message, markup=False)

        self.run_worker(run(), name=label, group="commands", exit_on_error=False)

    # -- messages from the bridge and the workers ---------------------------------------------
    def on_connected(self, _: Connected) -> None:
        if not self.showing:
            return
        self.title_bar.show_title(self.target.title)
        self.title_bar.show_link("live")
        self._banner("")
        self.refresh_bindings()

    def on_snapshot_loaded(self, message: SnapshotLoaded) -> None:
        if not self.showing:
            return
        self.snapshot = message.snapshot
        now = self.clock()
        with self.batch_update():
            for pane in self.panes:
                pane.apply_snapshot(message.snapshot, now)
        self.title_bar.show_model(message.snapshot.provider, message.snapshot.model)
        self._update_badge()

    def on_engine_batch(self, message: EngineBatch) -> None:
        if not self.showing:
            return
        now = self.clock()
        with self.batch_update():
            for pane in self.panes:
                pane.apply_events(message.events, now)
        for event in message.events:
            if isinstance(event, ApprovalRequested):
                self.approval_toasts.raise_for(event)
            elif isinstance(event, ApprovalResolved):
                self.approval_toasts.withdraw(event.approval_id)
                screen = self.screen
                if isinstance(screen, ApprovalScreen) and screen.view.id == event.approval_id:
                    screen.dismiss(None)  # decided elsewhere (chat, timeout)
            if not isinstance(event, QUIET_EVENTS):
                self._dirty = True
        self._update_badge()

    def on_log_line(self, message: LogLine) -> None:
        if not self.showing:
            return
        self.pane(LogPane).line(message.at, message.level, message.logger, message.text)

    def on_disconnected(self, message: Disconnected) -> None:
        if not self.live or not self.showing:
            return
        self.live = False
        self.title_bar.show_link("lost")
        self._banner(
            f"The gateway service stopped ({message.reason}). Press r to reconnect, q to quit."
        )
        self.notify("Lost the gateway service.", severity="error", markup=False)
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR or not self.showing:
            return
        error = event.worker.error
        reason = str(error) or type(error).__name__
        if event.worker.group == "connect":
            self.title_bar.show_link("lost")
            self._banner(f"Could not reach the engine: {reason}")
            self.refresh_bindings()
        elif event.worker.group == "engine":
            self._banner(f"The engine failed to start: {reason}")
        elif event.worker.group == "snapshot":
            pass  # a lost service shows as Disconnected; the next tick tries again
        else:
            what = event.worker.name or "that"
            self.notify(f"{what} failed: {reason}", severity="error", markup=False)

    def _banner(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.set_class(bool(text), "-shown")

    def _update_badge(self) -> None:
        self.title_bar.badge.count = self.pane(ApprovalsPane).count

    # -- keys that work everywhere ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reconnect":  # only offered once an attached service went away
            return self.target.mode == "attached" and not self.live
        return self.can_navigate(action)

    def action_help(self) -> None:
        groups = [("Everywhere", [*self.BINDINGS[:1], *self.BINDINGS[len(PANES) :]])]
        groups.append(("Command palette", [Binding("ctrl+p", "command_palette", "Commands")]))
        groups += [(f"{p.NUMBER} {p.TITLE}", p.BINDINGS) for p in PANES]
        groups.append(("Approval dialog", ApprovalScreen.BINDINGS))
        self.push_screen(HelpScreen(groups))

    def action_reconnect(self) -> None:
        self._banner("Reconnecting…")
        self.title_bar.show_link("connecting")
        self.connect()

    async def action_quit(self) -> None:
        reason = await self._work_in_flight()
        if not reason:
            self.exit()
            return

        def answered(quit_: bool | None) -> None:
            if quit_:
                self.exit()

        self.push_screen(ConfirmQuit(reason), answered)

    async def _work_in_flight(self) -> str:
        """What quitting would interrupt (embedded only: an attached service keeps running)."""
        if self.target.mode != "embedded" or not self.live or self.handle is None:
            return ""
        try:
            snapshot = await self.handle.snapshot()
        except Exception:  # cannot tell: ask rather than guess
            return "The engine did not say whether it is working."
        busy = [s for s in snapshot.sessions if s.state in BUSY]
        running = [t for t in snapshot.tasks if t.kind != "cron" and t.state == "running"]
        parts = []
        if busy:
            parts.append(f"{len(busy)} session{'s' if len(busy) > 1 else ''} still working")
        if running:
            parts.append(f"{len(running)} background task{'s' if len(running) > 1 else ''}")
        return " and ".join(parts) + "." if parts else ""
