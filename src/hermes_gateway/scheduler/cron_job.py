"""A cron job as the rest of the gateway sees it: the record, where its results go, and how it
reads in a list. scheduler.cron runs jobs; this module only describes them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hermes_gateway.core.types import Platform
from hermes_gateway.scheduler.schedule import Schedule, describe, parse_schedule


class CronError(ValueError):
    """A request the user can fix (unknown job, bad schedule or target); str(e) says how."""


@dataclass(frozen=True)
class CronOrigin:
    """The chat that created a job."""

    platform: str
    chat_id: str
    thread_id: str = ""


@dataclass(frozen=True)
class CronTarget:
    """Where a result goes. `home` means the platform's home channel (chat_id is empty)."""

    platform: str
    chat_id: str = ""
    thread_id: str = ""
    home: bool = False


@dataclass(frozen=True)
class CronJob:
    id: str
    name: str
    schedule: str
    prompt: str
    deliver: str  # origin | home:<platform> | <platform>:<chat_id>
    origin: CronOrigin | None
    enabled: bool
    next_run: float | None
    last_run: float | None
    last_status: str
    kind: str  # cron | every | once
    created_at: float
    pending_output: str = ""  # a result (with its header) not yet delivered
    pending_status: str = ""  # the last_status it earns once delivered: ok | error: …
    pending_run: int | None = None  # the cron_runs row it came from
    delivery_attempts: int = 0
    last_error: str = ""

    def parsed(self) -> Schedule:
        return parse_schedule(self.schedule, self.created_at)

    def target(self) -> CronTarget:
        if self.deliver == "origin":
            o = self.origin or CronOrigin("", "")
            return CronTarget(o.platform, o.chat_id, o.thread_id)
        platform, _, chat_id = self.deliver.partition(":")
        if platform == "home":
            return CronTarget(chat_id, home=True)
        return CronTarget(platform, chat_id)

    def describe_target(self) -> str:
        if self.deliver == "origin" and self.origin:
            return f"origin ({self.origin.platform}:{self.origin.chat_id})"
        return self.deliver


def normalize_deliver(deliver: str, origin: CronOrigin | None) -> str:
    """'origin', 'home:<platform>' (also given as '<platform>') or '<platform>:<chat_id>'."""
    text = (deliver or "origin").strip()
    platforms = {p.value for p in Platform}
    if text == "origin":
        if origin is None:
            raise CronError(
                "deliver 'origin' needs the chat that created the job; "
                "use 'home:<platform>' or '<platform>:<chat_id>'"
            )
        return text
    if text in platforms:
        text = f"home:{text}"
    head, _, rest = text.partition(":")
    platform = rest if head == "home" else head
    if platform not in platforms or not rest:
        raise CronError(
            f"can't deliver to {deliver!r}: expected 'origin', 'home:<platform>' or "
            f"'<platform>:<chat_id>' with a platform among {', '.join(sorted(platforms))}"
        )
    return text


def header(job: CronJob) -> str:
    return f'⏰ Cron job "{job.name}" ({job.id})\n\n'


def format_jobs(jobs: list[CronJob]) -> str:
    """The job list for a chat or a terminal: schedule, target, next run and last result."""
    if not jobs:
        return "No cron jobs."
    lines = [f"⏰ {len(jobs)} cron job{'s' if len(jobs) != 1 else ''}:"]
    for job in jobs:
        lines.append(f'• {job.id} "{job.name}" — {describe_job(job)} → {job.describe_target()}')
        state = f"next {when(job.next_run)}" if job.enabled else "paused"
        if job.kind == "once" and not job.enabled and job.last_run is not None:
            state = "done"
        last = "not run yet"
        if job.last_run is not None:
            last = f"last {when(job.last_run)}: {job.last_status}"
        lines.append(f"  {state} · {last}")
    return "\n".join(lines)


def describe_job(job: CronJob) -> str:
    try:
        return describe(job.parsed())
    except ValueError:
        return job.schedule


def when(t: float | None) -> str:
    return "—" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def job_from_row(row: dict[str, Any]) -> CronJob:
    """A store row (a dict of cron_jobs columns) as a CronJob."""
    origin = None
    if row["platform"]:
        origin = CronOrigin(row["platform"], row["chat_id"], row["thread_id"])
    return CronJob(
        id=row["id"],
        name=row["name"],
        schedule=row["schedule"],
        prompt=row["prompt"],
        deliver=row["deliver"],
        origin=origin,
        enabled=bool(row["enabled"]),
        next_run=row["next_run"],
        last_run=row["last_run"],
        last_status=row["last_status"],
        kind=row["kind"],
        created_at=row["created_at"],
        pending_output=row["pending_output"],
        pending_status=row["pending_status"],
        pending_run=row["pending_run"],
        delivery_attempts=row["delivery_attempts"],
        last_error=row["last_error"],
    )
