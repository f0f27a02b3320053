"""Cron jobs: stored in SQLite, run by a tick, their results delivered to a chat.

A run's output is written to the job row before it is delivered, so a failed send (or a crash)
leaves it pending; later ticks retry it a bounded number of times and then mark the job failed.
A gateway that was down across several due times makes ONE catch-up run, not a burst."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from hermes_gateway.agent.tools.base import first_line
from hermes_gateway.core.events import CronRun
from hermes_gateway.scheduler.cron_job import (
    CronError,
    CronJob,
    CronOrigin,
    CronTarget,
    describe_job,
    format_jobs,
    header,
    job_from_row,
    normalize_deliver,
)
from hermes_gateway.scheduler.schedule import parse_schedule
from hermes_gateway.storage.base import Store

log = logging.getLogger("hermes.cron")

__all__ = [  # the job record types live in cron_job; importing them from here works too
    "CronError",
    "CronJob",
    "CronOrigin",
    "CronService",
    "CronTarget",
    "describe_job",
]


class CronService:
    def __init__(
        self,
        store: Store,
        *,
        run_job: Callable[[CronJob], Awaitable[str]],
        deliver: Callable[[CronJob, str], Awaitable[None]],
        bus=None,
        clock: Callable[[], float] = time.time,
        tick_seconds: float = 60,
        max_delivery_attempts: int = 5,
        deliver_timeout: float = 120.0,
    ) -> None:
        self._store = store
        self._run_job = run_job
        self._deliver = deliver
        self._bus = bus
        self._clock = clock
        self.tick_seconds = tick_seconds
        self.max_delivery_attempts = max_delivery_attempts
        self._deliver_timeout = deliver_timeout
        self._running: dict[str, asyncio.Task[str]] = {}

    # -- managing jobs ------------------------------------------------------------------------
    def add(
        self,
        name: str,
        schedule: str,
        prompt: str,
        deliver: str = "origin",
        origin: CronOrigin | None = None,
    ) -> CronJob:
        prompt = (prompt or "").strip()
        if not prompt:
            raise CronError("a cron job needs a prompt: the instructions the agent runs each time")
        now = self._clock()
        try:
            parsed = parse_schedule(schedule, now)
        except ValueError as exc:
            raise CronError(str(exc)) from None
        deliver = normalize_deliver(deliver, origin)
        job_id = _new_id(self._store)
        self._store.cron_job_add(
            {
                "id": job_id,
                "name": (name or "").strip() or first_line(prompt, 40),
                "schedule": parsed.expr,
                "prompt": prompt,
                "kind": parsed.kind,
                "deliver": deliver,
                "platform": origin.platform if origin else "",
                "chat_id": origin.chat_id if origin else "",
                "thread_id": origin.thread_id if origin else "",
                "enabled": 1,
                "next_run": parsed.next_after(now),
                "created_at": now,
            }
        )
        return self.get(job_id)

    def get(self, job_id: str) -> CronJob:
        row = self._store.cron_job_get((job_id or "").strip())
        if row is None:
            raise CronError(f"no cron job {job_id!r}: list the jobs to see their ids")
        return job_from_row(row)

    def list(self) -> list[CronJob]:
        return [job_from_row(r) for r in self._store.cron_jobs()]

    def remove(self, job_id: str) -> bool:
        task = self._running.get(job_id)
        if task:  # a removed job must not deliver afterwards
            task.cancel()
        return self._store.cron_job_remove(job_id)

    def pause(self, job_id: str) -> CronJob:
        job = self.get(job_id)
        self._store.cron_job_update(job.id, enabled=0, next_run=None)
        return self.get(job.id)

    def resume(self, job_id: str) -> CronJob:
        job = self.get(job_id)
        now = self._clock()
        next_run = job.parsed().next_after(now)
        if job.kind == "once":
            if job.last_run is not None:
                raise CronError(f"{job.id} was a one-shot job and has run; create a new job")
            next_run = next_run or now  # its time passed while paused: run at the next tick
        self._store.cron_job_update(job.id, enabled=1, next_run=next_run)
        return self.get(job.id)

    def mark_due(self, job_id: str) -> CronJob:
        """Make an enabled job due now (the running gateway's next tick runs it)."""
        job = self.get(job_id)
        if not job.enabled:
            raise CronError(f"{job.id} is paused or finished; resume it first")
        self._store.cron_job_update(job.id, next_run=self._clock())
        return self.get(job.id)

    # -- running --------------------------------------------------------------------------------
    async def run_now(self, job_id: str) -> str:
        """Run a job at once, outside its schedule (next_run is unchanged); returns its output."""
        job = self.get(job_id)
        if job.id in self._running:
            raise CronError(f"{job.id} is running already; its result will be delivered")
        # Shielded: if the caller gives up (an interrupted turn), the run still delivers.
        return await asyncio.shield(self._start(job, self._clock(), scheduled=False))

    async def tick(self, wait: bool = True) -> list[str]:
        """Retry pending deliveries, then start every due job that is not running. Returns the
        ids started; with wait, returns after they finish (tests), else they run on."""
        now = self._clock()
        started: list[asyncio.Task[str]] = []
        ids: list[str] = []
        for job in self.list():
            if job.id in self._running:
                continue
            if job.pending_output and not await self._deliver_pending(job):
                continue  # its next run waits until this output is delivered or given up
            if job.enabled and job.next_run is not None and job.next_run <= now:
                started.append(self._start(job, now, scheduled=True))
                ids.append(job.id)
        if wait and started:
            await asyncio.gather(*started, return_exceptions=True)
        return ids

    async def run_forever(self) -> None:
        """Tick every tick_seconds (aligned to the clock, so '0 9 * * *' runs near 09:00:00)
        until cancelled; then running jobs are cancelled too."""
        self._store.cron_runs_interrupted(self._clock())
        try:
            while True:
                try:
                    await self.tick(wait=False)
                except Exception:  # one bad tick must not stop the scheduler
                    log.exception("cron tick failed")
                delay = self.tick_seconds - (self._clock() % self.tick_seconds)
                await asyncio.sleep(min(max(delay, 1.0), self.tick_seconds))
        finally:
            tasks = list(self._running.values())
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=5)

    def _start(self, job: CronJob, now: float, scheduled: bool) -> asyncio.Task[str]:
        task = asyncio.ensure_future(self._run(job, now, scheduled))
        self._running[job.id] = task
        task.add_done_callback(lambda t: self._finished(job.id, t))
        return task

    def _finished(self, job_id: str, task: asyncio.Task[str]) -> None:
        if self._running.get(job_id) is task:
            del self._running[job_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("cron job %s failed inside the scheduler", job_id, exc_info=task.exception())

    async def _run(self, job: CronJob, now: float, scheduled: bool) -> str:
        fields: dict = {"last_run": now, "last_status": "running"}
        if scheduled:  # fast-forward: the next slot after now, however many were missed
            try:
                fields["next_run"] = job.parsed().next_after(now)
            except ValueError as exc:  # a stored schedule that no longer parses: stop, not loop
                self._store.cron_job_update(job.id, enabled=0, last_status=f"error: {exc}")
                return ""
            if job.kind == "once":
                fields.update(enabled=0, next_run=None)
        run_id = self._store.cron_run_start(job.id, now, **fields)
        self._publish(job, "started")
        try:
            output, error = (await self._run_job(job)) or "(no output)", ""
        except asyncio.CancelledError:
            self._store.cron_run_update(
                run_id,
                job={"last_status": "interrupted"},
                status="interrupted",
                finished_at=self._clock(),
            )
            raise
        except Exception as exc:
            error = first_line(str(exc) or type(exc).__name__, 200)
            output = f"❌ The job failed: {error}"
        status = f"error: {error}" if error else "ok"
        self._store.cron_run_update(
            run_id,
            job={
                "last_status": "delivering",
                "pending_output": header(job) + output,
                "pending_status": status,
                "pending_run": run_id,
                "delivery_attempts": 0,
                "last_error": error,
            },
            status="error" if error else "ok",
            output=output,
            error=error,
            delivery="pending",
            finished_at=self._clock(),
        )
        self._publish(job, "error" if error else "ok", error)
        row = self._store.cron_job_get(job.id)  # None if the job was removed meanwhile
        if row is not None:
            await self._deliver_pending(job_from_row(row))
        return output

    async def _deliver_pending(self, job: CronJob) -> bool:
        """Send a job's pending output; True once delivered (or given up, and said so)."""
        try:
            await asyncio.wait_for(self._deliver(job, job.pending_output), self._deliver_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = first_line(str(exc) or type(exc).__name__, 200)
            attempts = job.delivery_attempts + 1
            final = attempts >= self.max_delivery_attempts
            fields: dict = {"delivery_attempts": attempts, "last_error": reason}
            if final:  # the output stays in cron_runs.output
                fields.update(
                    pending_output="",
                    last_status=f"failed: not delivered after {attempts} attempts: {reason}",
                )
            else:
                fields["last_status"] = "delivery-failed"
            self._settle(job, fields, "failed" if final else "retrying")
            self._publish(job, "delivery-failed", f"attempt {attempts}: {reason}")
            return final
        self._settle(job, {"pending_output": "", "last_status": job.pending_status or "ok"}, "sent")
        return True

    def _settle(self, job: CronJob, fields: dict, delivery: str) -> None:
        if job.pending_run is None:
            self._store.cron_job_update(job.id, **fields)
        else:
            self._store.cron_run_update(job.pending_run, job=fields, delivery=delivery)

    def _publish(self, job: CronJob, status: str, detail: str = "") -> None:
        if self._bus is not None:
            self._bus.publish(
                CronRun(job_id=job.id, job_name=job.name, status=status, detail=detail)
            )

    def format_list(self) -> str:
        return format_jobs(self.list())


def _new_id(store: Store) -> str:
    while True:
        job_id = "cron_" + secrets.token_hex(3)
        if store.cron_job_get(job_id) is None:
            return job_id
