"""Cron: jobs in a real SQLite store, driven by tick() with a controllable clock; the `cronjob`
tool and `hermes cron` on top of the same service."""

import argparse
import asyncio
import re

import pytest

from hermes_gateway.agent.services import AgentServices
from hermes_gateway.agent.tools.base import ToolContext, ToolError
from hermes_gateway.agent.tools.cronjob import TOOLS, cronjob
from hermes_gateway.cli_cron import add_cron_parser, cron_command
from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.types import Platform, SessionSource
from hermes_gateway.home import HermesHome
from hermes_gateway.scheduler.cron import CronError, CronOrigin, CronService, CronTarget
from hermes_gateway.scheduler.schedule import EXPECTED
from hermes_gateway.service.lock import EngineLock
from hermes_gateway.storage.migrations import MIGRATIONS
from hermes_gateway.storage.sqlite import SQLiteStore

T0 = 1_800_000_000.0
WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion
ORIGIN = CronOrigin("telegram", "42", "7")


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Harness:
    """A CronService on a real store, recording what it runs and delivers."""

    def __init__(self, path, fail_deliveries: int = 0, fail_run: Exception | None = None):
        self.store = SQLiteStore(path)
        self.clock = Clock()
        self.bus = EventBus()
        self.events = self.bus.subscribe()
        self.runs: list[str] = []
        self.delivered: list[tuple[CronTarget, str]] = []
        self.fail_deliveries = fail_deliveries
        self.fail_run = fail_run
        self.service = self.make_service()

    def make_service(self) -> CronService:
        return CronService(
            self.store,
            run_job=self.run_job,
            deliver=self.deliver,
            bus=self.bus,
            clock=self.clock,
            tick_seconds=0.05,
        )

    async def run_job(self, job) -> str:
        self.runs.append(job.id)
        if self.fail_run:
            raise self.fail_run
        return f"report #{len(self.runs)} for {job.prompt}"

    async def deliver(self, job, text: str) -> None:
        if self.fail_deliveries > 0:
            self.fail_deliveries -= 1
            raise ConnectionError("telegram unreachable")
        self.delivered.append((job.target(), text))

    def statuses(self) -> list[str]:
        out = []
        while (event := self.events.get_nowait()) is not None:
            out.append(event.status)
        return out


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path / "state.db")
    yield harness
    harness.store.close()


def test_migration_2_adds_the_cron_columns(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    assert store.schema_version == len(MIGRATIONS) >= 2
    columns = {r[1] for r in store._db.execute("PRAGMA table_info(cron_jobs)")}
    assert {"kind", "deliver", "pending_output", "delivery_attempts", "last_error"} <= columns
    store.close()


def test_add_stores_the_job_with_its_first_run(h):
    job = h.service.add("news", "every 1h", "summarise the news", origin=ORIGIN)
    assert re.fullmatch(r"cron_[0-9a-f]{6}", job.id)
    assert (job.kind, job.enabled, job.next_run, job.deliver) == (
        "every",
        True,
        T0 + 3600,
        "origin",
    )
    assert job.origin == ORIGIN
    assert [j.id for j in h.service.list()] == [job.id]


async def test_due_jobs_run_on_tick_and_not_due_ones_do_not(h):
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    h.clock.t = T0 + 3599
    assert await h.service.tick() == []
    h.clock.t = T0 + 3600
    assert await h.service.tick() == [job.id]
    assert h.runs == [job.id]
    [(target, text)] = h.delivered
    assert target == CronTarget("telegram", "42", "7")
    assert text == f'⏰ Cron job "news" ({job.id})\n\nreport #1 for summarise'
    after = h.service.get(job.id)
    assert (after.last_status, after.last_run, after.next_run) == ("ok", T0 + 3600, T0 + 7200)
    [run] = h.store.cron_runs(job.id)
    assert (run["status"], run["delivery"], run["output"]) == (
        "ok",
        "sent",
        "report #1 for summarise",
    )
    assert h.statuses() == ["started", "ok"]


async def test_missed_runs_catch_up_with_one_run_then_move_past_now(h):
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    h.clock.t = T0 + 5.5 * 3600  # the gateway was down across five due times
    assert await h.service.tick() == [job.id]
    assert await h.service.tick() == []
    assert h.runs == [job.id]
    assert h.service.get(job.id).next_run == T0 + 6 * 3600


async def test_one_shot_job_runs_once_and_disables_itself(h):
    job = h.service.add("reminder", "30m", "remind me to stretch", origin=ORIGIN)
    h.clock.t = T0 + 1800
    assert await h.service.tick() == [job.id]
    h.clock.t = T0 + 86400
    assert await h.service.tick() == []
    done = h.service.get(job.id)
    assert (done.enabled, done.next_run, len(h.runs)) == (False, None, 1)
    assert "done" in h.service.format_list()
    with pytest.raises(CronError, match="one-shot"):
        h.service.resume(job.id)


async def test_results_go_to_the_given_target(h):
    a = h.service.add("a", "every 1h", "x", deliver="discord:999")
    b = h.service.add("b", "every 1h", "y", deliver="home:slack")
    c = h.service.add("c", "every 1h", "z", deliver="matrix")  # a platform alone: its home
    assert c.deliver == "home:matrix"
    h.clock.t = T0 + 3600
    assert sorted(await h.service.tick()) == sorted([a.id, b.id, c.id])
    targets = {text.split("\n")[0]: target for target, text in h.delivered}
    assert targets[f'⏰ Cron job "a" ({a.id})'] == CronTarget("discord", "999")
    assert targets[f'⏰ Cron job "b" ({b.id})'] == CronTarget("slack", home=True)
    assert targets[f'⏰ Cron job "c" ({c.id})'] == CronTarget("matrix", home=True)


@pytest.mark.parametrize(
    ("deliver", "origin", "message"),
    [
        ("origin", None, "needs the chat that created the job"),
        ("nowhere:1", ORIGIN, "can't deliver to 'nowhere:1'"),
        ("home:", ORIGIN, "can't deliver to"),
    ],
)
def test_bad_delivery_targets_are_refused(h, deliver, origin, message):
    with pytest.raises(CronError, match=message):
        h.service.add("x", "every 1h", "y", deliver=deliver, origin=origin)
    assert h.service.list() == []


def test_bad_schedule_and_empty_prompt_are_refused(h):
    with pytest.raises(CronError, match=re.escape(EXPECTED)):
        h.service.add("x", "whenever", "y", origin=ORIGIN)
    with pytest.raises(CronError, match="needs a prompt"):
        h.service.add("x", "every 1h", "  ", origin=ORIGIN)


async def test_failed_delivery_keeps_the_output_and_retries_on_the_next_tick(h):
    h.fail_deliveries = 1
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    h.clock.t = T0 + 3600
    await h.service.tick()
    failed = h.service.get(job.id)
    assert failed.last_status == "delivery-failed"
    assert failed.pending_output.endswith("report #1 for summarise")
    assert failed.last_error == "telegram unreachable"
    assert h.delivered == []
    h.clock.t = T0 + 3660  # not due again: only the retry happens
    assert await h.service.tick() == []
    assert [text for _, text in h.delivered] == [failed.pending_output]
    ok = h.service.get(job.id)
    assert (ok.last_status, ok.pending_output, h.runs) == ("ok", "", [job.id])
    assert h.store.cron_runs(job.id)[0]["delivery"] == "sent"
    assert h.statuses() == ["started", "ok", "delivery-failed"]


async def test_pending_output_survives_a_restart(h, tmp_path):
    h.fail_deliveries = 1
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    h.clock.t = T0 + 3600
    await h.service.tick()
    h.store.close()
    h.store = SQLiteStore(tmp_path / "state.db")
    h.service = h.make_service()
    await h.service.tick()
    assert len(h.delivered) == 1 and h.service.get(job.id).last_status == "ok"


async def test_delivery_gives_up_after_bounded_attempts_and_says_so(h):
    h.fail_deliveries = 100
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    h.clock.t = T0 + 3600
    for _ in range(7):
        await h.service.tick()
        h.clock.t += 60
    gave_up = h.service.get(job.id)
    assert gave_up.last_status.startswith("failed: not delivered after 5 attempts")
    assert (gave_up.pending_output, gave_up.delivery_attempts) == ("", 5)
    [run] = h.store.cron_runs(job.id)
    assert (run["delivery"], run["output"]) == ("failed", "report #1 for summarise")
    assert h.statuses().count("delivery-failed") == 5


async def test_a_due_run_waits_while_earlier_output_is_undelivered(h):
    h.fail_deliveries = 2
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    h.clock.t = T0 + 3600
    await h.service.tick()  # run 1, delivery fails
    h.clock.t = T0 + 7200
    assert await h.service.tick() == []  # retry fails again: run 2 waits, output is not lost
    h.clock.t = T0 + 7260
    assert await h.service.tick() == [job.id]  # retry succeeds, then the due run goes
    assert [t.split("\n\n")[1] for _, t in h.delivered] == [
        "report #1 for summarise",
        "report #2 for summarise",
    ]


async def test_run_job_error_is_delivered_as_the_output(h):
    h.fail_run = RuntimeError("provider said 500")
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    h.clock.t = T0 + 3600
    await h.service.tick()
    [(_, text)] = h.delivered
    assert text == f'⏰ Cron job "news" ({job.id})\n\n❌ The job failed: provider said 500'
    assert h.service.get(job.id).last_status == "error: provider said 500"
    assert h.store.cron_runs(job.id)[0]["status"] == "error"
    assert h.statuses() == ["started", "error"]


async def test_a_job_still_running_is_not_started_again(h):
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(job):
        h.runs.append(job.id)
        started.set()
        await release.wait()
        return "slow result"

    h.service = CronService(h.store, run_job=slow, deliver=h.deliver, clock=h.clock)
    job = h.service.add("slow", "every 1h", "x", origin=ORIGIN)
    h.clock.t = T0 + 3600
    first = asyncio.create_task(h.service.tick())
    await asyncio.wait_for(started.wait(), WAIT)
    h.clock.t = T0 + 7200  # due again while the first run is still going
    assert await h.service.tick() == []
    with pytest.raises(CronError, match="running already"):
        await h.service.run_now(job.id)
    release.set()
    assert await asyncio.wait_for(first, WAIT) == [job.id]
    assert h.runs == [job.id]


async def test_pause_stops_runs_and_resume_schedules_after_now(h):
    job = h.service.add("news", "every 1h", "x", origin=ORIGIN)
    h.service.pause(job.id)
    h.clock.t = T0 + 3 * 3600
    assert await h.service.tick() == []
    resumed = h.service.resume(job.id)
    assert (resumed.enabled, resumed.next_run) == (True, T0 + 4 * 3600)


async def test_run_now_runs_outside_the_schedule(h):
    job = h.service.add("news", "every 1h", "x", origin=ORIGIN)
    assert await h.service.run_now(job.id) == "report #1 for x"
    assert len(h.delivered) == 1
    assert h.service.get(job.id).next_run == T0 + 3600
    with pytest.raises(CronError, match="no cron job 'cron_000000'"):
        await h.service.run_now("cron_000000")


def test_remove_deletes_the_job_and_its_runs(h):
    job = h.service.add("news", "every 1h", "x", origin=ORIGIN)
    h.store.cron_run_start(job.id, T0)
    assert h.service.remove(job.id) is True
    assert h.service.remove(job.id) is False
    assert h.service.list() == [] and h.store.cron_runs(job.id) == []


async def test_run_forever_ticks_and_marks_runs_cut_off_by_a_restart(h):
    job = h.service.add("news", "every 1h", "x", origin=ORIGIN)
    stale = h.store.cron_run_start(job.id, T0, last_status="running")
    h.clock.t = T0 + 3600
    delivered = asyncio.Event()

    async def deliver(job, text):
        h.delivered.append((job.target(), text))
        delivered.set()

    h.service = CronService(
        h.store, run_job=h.run_job, deliver=deliver, clock=h.clock, tick_seconds=0.05
    )
    loop = asyncio.create_task(h.service.run_forever())
    try:
        await asyncio.wait_for(delivered.wait(), WAIT)
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    statuses = {r["id"]: r["status"] for r in h.store.cron_runs(job.id)}
    assert statuses[stale] == "interrupted"
    assert len(h.runs) == 1


async def test_a_stored_schedule_that_no_longer_parses_stops_the_job_instead_of_looping(h):
    job = h.service.add("news", "every 1h", "x", origin=ORIGIN)
    h.store.cron_job_update(job.id, schedule="every fortnight")
    h.clock.t = T0 + 3600
    await h.service.tick()
    stopped = h.service.get(job.id)
    assert not stopped.enabled and stopped.last_status.startswith("error: can't read interval")
    assert h.runs == []


def test_format_list_shows_schedule_target_and_state(h):
    assert h.service.format_list() == "No cron jobs."
    job = h.service.add("news", "0 9 * * *", "x", deliver="telegram:5")
    h.service.add("other", "every 2h", "y", origin=ORIGIN)
    text = h.service.format_list()
    assert text.startswith("⏰ 2 cron jobs:")
    assert f'{job.id} "news" — every day at 09:00 → telegram:5' in text
    assert "every 2 hours → origin (telegram:42)" in text
    assert "not run yet" in text


# -- the cronjob tool ----------------------------------------------------------------------------
def tool_ctx(tmp_path, cron) -> ToolContext:
    services = AgentServices(home=HermesHome(tmp_path / "home").ensure(), cron=cron)
    source = SessionSource(Platform.TELEGRAM, "42", thread_id="7")
    return ToolContext(services, "telegram:dm:42", tmp_path / "work", source=source)


async def test_tool_creates_a_job_that_reports_to_the_chat_that_asked(h, tmp_path):
    assert [cronjob] == TOOLS and cronjob.emoji == "⏰" and not cronjob.concurrent
    ctx = tool_ctx(tmp_path, h.service)
    args = {"action": "create", "name": "news", "schedule": "every 2h", "prompt": "summarise"}
    result = await cronjob.run(args, ctx)
    [job] = h.service.list()
    assert f'Created cron job {job.id} "news": every 2 hours' in result
    assert "results go to origin (telegram:42)" in result
    assert (job.origin, job.deliver) == (ORIGIN, "origin")
    assert cronjob.preview(args) == "create news (every 2h)"


async def test_tool_bad_schedule_is_a_tool_error_with_the_parse_message(h, tmp_path):
    ctx = tool_ctx(tmp_path, h.service)
    args = {"action": "create", "schedule": "sometimes", "prompt": "x"}
    with pytest.raises(ToolError, match=re.escape(EXPECTED)):
        await cronjob.run(args, ctx)


async def test_tool_lists_pauses_resumes_runs_and_removes(h, tmp_path):
    ctx = tool_ctx(tmp_path, h.service)
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    assert job.id in await cronjob.run({"action": "list"}, ctx)
    assert "Paused" in await cronjob.run({"action": "pause", "job_id": job.id}, ctx)
    assert not h.service.get(job.id).enabled
    assert "Resumed" in await cronjob.run({"action": "resume", "job_id": job.id}, ctx)
    ran = await cronjob.run({"action": "run", "job_id": job.id}, ctx)
    assert "delivered to origin (telegram:42)" in ran and "report #1 for summarise" in ran
    assert len(h.delivered) == 1
    assert "Removed" in await cronjob.run({"action": "remove", "job_id": job.id}, ctx)
    assert h.service.list() == []


async def test_tool_run_says_when_delivery_failed(h, tmp_path):
    h.fail_deliveries = 1
    job = h.service.add("news", "every 1h", "summarise", origin=ORIGIN)
    ran = await cronjob.run({"action": "run", "job_id": job.id}, tool_ctx(tmp_path, h.service))
    assert "NOT delivered to origin (telegram:42) yet (telegram unreachable)" in ran


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"action": "explode"}, "unknown action 'explode'"),
        ({"action": "remove"}, "needs a job_id"),
        ({"action": "pause", "job_id": "cron_ffffff"}, "no cron job 'cron_ffffff'"),
        ({"action": "create", "prompt": "x"}, "needs a schedule"),
    ],
)
async def test_tool_refuses_bad_requests_with_a_readable_error(h, tmp_path, args, message):
    with pytest.raises(ToolError, match=message):
        await cronjob.run(args, tool_ctx(tmp_path, h.service))


async def test_tool_without_a_scheduler_says_so(tmp_path):
    with pytest.raises(ToolError, match="not available"):
        await cronjob.run({"action": "list"}, tool_ctx(tmp_path, None))


# -- hermes cron --------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_HOME", str(tmp_path / "home"))
    return HermesHome(tmp_path / "home")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hermes")
    add_cron_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["cron", *argv])


def cli_jobs(home: HermesHome) -> list[dict]:
    store = SQLiteStore(home.state_db)
    try:
        return store.cron_jobs()
    finally:
        store.close()


def test_cli_add_then_list_then_remove(home, capsys):
    args = parse("add", "--name", "news", "--schedule", "0 9 * * *", "--prompt", "summarise",
                 "--deliver", "home:telegram")  # fmt: skip
    assert cron_command(args) == 0
    [job] = cli_jobs(home)
    out = capsys.readouterr().out
    assert f'Added cron job {job["id"]} "news": every day at 09:00' in out
    assert "No gateway is running" in out
    assert cron_command(parse("list")) == 0
    assert f'{job["id"]} "news" — every day at 09:00 → home:telegram' in capsys.readouterr().out
    assert cron_command(parse("remove", job["id"])) == 0
    assert cli_jobs(home) == []


def test_cli_add_without_a_target_or_with_a_bad_schedule_fails_readably(home, capsys):
    namespace = argparse.Namespace(
        action="add", name="", schedule="every 2h", prompt="x", deliver=""
    )
    assert cron_command(namespace) == 1
    assert "pass --deliver home:<platform>" in capsys.readouterr().err
    bad = parse("add", "--schedule", "whenever", "--prompt", "x", "--deliver", "slack:C1")
    assert cron_command(bad) == 1
    assert EXPECTED in capsys.readouterr().err
    assert cli_jobs(home) == []


def test_cli_remove_unknown_job_exits_1(home, capsys):
    assert cron_command(parse("remove", "cron_abcdef")) == 1
    assert "no cron job 'cron_abcdef'" in capsys.readouterr().err


def test_cli_run_without_a_gateway_says_so_and_changes_nothing(home, capsys):
    cron_command(parse("add", "--schedule", "every 1d", "--prompt", "x", "--deliver", "slack:C1"))
    [job] = cli_jobs(home)
    assert cron_command(parse("run", job["id"])) == 1
    assert "no gateway is running" in capsys.readouterr().err
    assert cli_jobs(home)[0]["next_run"] == job["next_run"]


def test_cli_run_with_a_gateway_marks_the_job_due_now(home, capsys):
    cron_command(parse("add", "--schedule", "every 1d", "--prompt", "x", "--deliver", "slack:C1"))
    [job] = cli_jobs(home)
    with EngineLock(home.lock_file):  # what a running gateway holds
        assert cron_command(parse("run", job["id"])) == 0
    assert "runs it" in capsys.readouterr().out
    assert cli_jobs(home)[0]["next_run"] < job["next_run"]


def test_cli_pause_and_resume(home):
    cron_command(parse("add", "--schedule", "every 1d", "--prompt", "x", "--deliver", "slack:C1"))
    [job] = cli_jobs(home)
    assert cron_command(parse("pause", job["id"])) == 0
    assert cli_jobs(home)[0]["enabled"] == 0
    assert cron_command(parse("resume", job["id"])) == 0
    assert cli_jobs(home)[0]["enabled"] == 1
