"""4 Tasks: background agent runs (`bg_…`), background processes with their output tail, and
cron jobs with their next run and last status."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from hermes_gateway.control.snapshot import Snapshot, TaskView
from hermes_gateway.core.events import CronRun, Event, ProcessChanged, TaskChanged
from hermes_tui.format import ago, in_time, one_line
from hermes_tui.widgets.table import Column, TablePane

KINDS = {"background": "◇ bg", "process": "▣ proc", "cron": "◷ cron"}
STYLES = {
    "running": "bold green",
    "started": "bold green",
    "done": "green",
    "ok": "green",
    "exited": "grey50",
    "killed": "yellow",
    "failed": "red",
    "error": "red",
    "delivery-failed": "red",
    "paused": "grey50",
}
COLUMNS = [
    Column("kind", "Kind", 6),
    Column("id", "ID", 16),
    Column("title", "Title"),
    Column("state", "State", 9),
    Column("when", "When", 7),
]


class TasksPane(TablePane):
    NUMBER = 4
    TITLE = "Tasks"
    COLUMNS = COLUMNS
    TABLE_ID, DETAIL_ID = "tasks-table", "task-detail"
    BINDINGS = [
        Binding("k", "kill", "Kill process"),
        Binding("c", "run_cron", "Run job now"),
        Binding("p", "pause_cron", "Pause/resume job"),
    ]
    ENGINE_ACTIONS = frozenset({"kill", "run_cron", "pause_cron"})

    def __init__(self) -> None:
        super().__init__()
        self.tasks: dict[str, TaskView] = {}
        self._now = 0.0

    def apply_snapshot(self, snapshot: Snapshot, now: float) -> None:
        self._now = now
        self.tasks = {t.id: t for t in snapshot.tasks}
        self.table.keep_only(self.tasks)
        for task_id in self.tasks:
            self._show(task_id)
        self._after_change()

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        self._now = now
        changed: set[str] = set()
        for event in events:
            if isinstance(event, TaskChanged):
                old = self.tasks.get(event.task_id)
                self.tasks[event.task_id] = TaskView(
                    event.task_id,
                    "background",
                    event.title,
                    event.state,
                    event.session_key,
                    event.detail,
                    old.started_at if old else event.at,
                )
                changed.add(event.task_id)
            elif isinstance(event, ProcessChanged):
                old = self.tasks.get(event.process_id)
                self.tasks[event.process_id] = TaskView(
                    event.process_id,
                    "process",
                    event.command,
                    event.state,
                    event.session_key,
                    old.detail if old else "",
                    old.started_at if old else event.at,
                )
                changed.add(event.process_id)
            elif isinstance(event, CronRun) and event.job_id in self.tasks:
                job = self.tasks[event.job_id]
                self.tasks[event.job_id] = dataclasses.replace(job, state=event.status)
                changed.add(event.job_id)
        for task_id in changed:
            self._show(task_id)
        if changed:
            self._after_change()

    def tick(self, now: float) -> None:
        self._now = now
        for task_id, task in self.tasks.items():
            self.table.upsert(task_id, {"when": self._when(task)})

    def _when(self, task: TaskView) -> str:
        if task.kind == "cron":  # started_at holds the next run
            return in_time(task.started_at, self._now)
        return ago(task.started_at, self._now)

    def _show(self, task_id: str) -> None:
        task = self.tasks[task_id]
        self.table.upsert(
            task_id,
            {
                "kind": KINDS.get(task.kind, task.kind),
                "id": task_id,
                "title": one_line(task.title, 60),
                "state": Text(task.state, style=STYLES.get(task.state, "")),
                "when": self._when(task),
            },
        )

    def _after_change(self) -> None:
        running = sum(t.state == "running" for t in self.tasks.values())
        self.border_subtitle = f"{len(self.tasks)} tasks · {running} running"
        self.show_detail()
        self.refresh_bindings()

    def detail_text(self) -> str:
        """The selected task in full: a process's command and output tail, a job's schedule."""
        task = self.selected
        if task is None:
            return "No background tasks, processes or cron jobs."
        if task.kind == "cron":
            return (
                f"{task.title}\nschedule {task.detail or '—'} · "
                f"next run {in_time(task.started_at, self._now)}"
            )
        if task.kind == "process":
            return f"$ {task.title}\n{task.detail or '(no output yet)'}"
        text = f"{task.title}\nfrom {task.session_key or '—'}"
        return text + (f"\n{task.detail}" if task.detail else "")

    # -- actions -------------------------------------------------------------------
    @property
    def selected(self) -> TaskView | None:
        key = self.table.selected_key
        return self.tasks.get(key) if key else None

    def can(self, action: str) -> bool | None:
        task = self.selected
        if task is None:
            return None
        if action == "kill":
            live = task.kind == "process" and task.state == "running"
            return True if live else None
        return True if task.kind == "cron" else None

    def action_kill(self) -> None:
        task = self.selected
        if task is not None:
            self.command(self._kill(task.id), f"kill {task.id}")

    async def _kill(self, process_id: str) -> str:
        killed = await self.hermes.handle.kill_process(process_id)
        return f"Killed {process_id}." if killed else f"{process_id} had already ended."

    def action_run_cron(self) -> None:
        task = self.selected
        if task is not None:
            handle = self.hermes.handle

            async def run() -> str:
                await handle.run_cron(task.id)
                return f"Ran {task.title}."

            self.notify(f"Running {task.title}…")
            self.command(run(), f"run {task.id}")

    def action_pause_cron(self) -> None:
        task = self.selected
        if task is not None:
            handle = self.hermes.handle
            pause = task.state != "paused"

            async def toggle() -> str:
                await handle.pause_cron(task.id, pause)
                return f"{'Paused' if pause else 'Resumed'} {task.title}."

            self.command(toggle(), f"pause {task.id}")
