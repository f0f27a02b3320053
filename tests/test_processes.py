"""ProcessManager and run_foreground against real subprocesses.

Shell snippets write their own pid ($$, which is also the process group id) and their children's
pids ($!) to files, so a test can check in /proc that nothing survived a stop."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import ProcessChanged, ProcessOutput
from hermes_gateway.scheduler.processes import ProcessInfo, ProcessManager, ProcessNotFound
from hermes_gateway.scheduler.shell import run_foreground

WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion
SESSION = "console:dm:local"
# Two children that would outlive a careless stop; their pids land in ./kids.
SPAWN_KIDS = "sleep 300 & echo $! >> kids; sleep 300 & echo $! >> kids; echo ready; wait"


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to a signal probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def running_in(folder: Path) -> list[int]:
    """Pids of live processes whose working directory is `folder` (zombies have none)."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.readlink() == folder:
                found.append(int(cwd.parent.name))
        except OSError:
            continue
    return found


def pids_in(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def kids_started(cwd: Path, count: int = 2) -> list[int]:
    await until(lambda: len(pids_in(cwd / "kids")) >= count)
    return pids_in(cwd / "kids")


class Notes:
    """Collects notify(info, text) calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[ProcessInfo, str]] = []

    async def __call__(self, info: ProcessInfo, text: str) -> None:
        self.calls.append((info, text))

    @property
    def texts(self) -> list[str]:
        return [text for _, text in self.calls]


@pytest.fixture
async def manager_factory() -> AsyncIterator[Callable[..., ProcessManager]]:
    made: list[ProcessManager] = []

    def make(**kwargs) -> ProcessManager:
        made.append(ProcessManager(**kwargs))
        return made[-1]

    yield make
    for manager in made:  # every process a test starts, the test stops
        await manager.shutdown()


# ---- foreground ----


async def test_foreground_returns_combined_output_and_exit_code(tmp_path: Path) -> None:
    code, output, timed_out = await run_foreground(
        "echo out; echo err >&2; pwd; exit 3", cwd=tmp_path, timeout=WAIT
    )
    assert (code, timed_out) == (3, False)
    assert output == f"out\nerr\n{tmp_path}\n"


async def test_foreground_timeout_stops_the_whole_group(tmp_path: Path) -> None:
    code, output, timed_out = await run_foreground(SPAWN_KIDS, cwd=tmp_path, timeout=1)
    assert timed_out and code is None
    assert "ready" in output
    kids = pids_in(tmp_path / "kids")
    assert len(kids) == 2 and not any(alive(pid) for pid in kids)


async def test_cancelled_foreground_run_leaves_no_orphans(tmp_path: Path) -> None:
    task = asyncio.create_task(run_foreground(SPAWN_KIDS, cwd=tmp_path, timeout=300))
    kids = await kids_started(tmp_path)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(alive(pid) for pid in kids)


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs Linux /proc")
async def test_cancelling_while_the_shell_starts_leaves_no_orphans(tmp_path: Path) -> None:
    # The shell runs before asyncio has connected its pipes; a cancel in that window used to
    # kill only the shell (and then hang on the pipe its children hold).
    task = asyncio.create_task(run_foreground(SPAWN_KIDS, cwd=tmp_path, timeout=300))
    while not running_in(tmp_path):
        await asyncio.sleep(0)
    # Freeze the loop (deliberately blocking) so the task stays inside its start-up
    # while the shell forks its children.
    deadline = time.monotonic() + WAIT
    while len(pids_in(tmp_path / "kids")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    kids = pids_in(tmp_path / "kids")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, WAIT)
    assert len(kids) == 2 and not any(alive(pid) for pid in kids)
    assert running_in(tmp_path) == []


async def test_foreground_stops_children_the_command_left_running(tmp_path: Path) -> None:
    code, output, _ = await run_foreground(
        "sleep 300 & echo $! > kids; echo done", cwd=tmp_path, timeout=WAIT
    )
    assert code == 0
    assert output.startswith("done\n") and "background=true" in output
    assert not alive(pids_in(tmp_path / "kids")[0])


async def test_foreground_output_keeps_the_tail(tmp_path: Path) -> None:
    _, output, _ = await run_foreground(
        "head -c 200000 /dev/zero | tr '\\0' a; echo; echo END", cwd=tmp_path, timeout=WAIT
    )
    assert output.startswith("[… ") and "omitted" in output.splitlines()[0]
    assert output.endswith("a\nEND\n")
    assert len(output) < 51_000


async def test_foreground_has_no_stdin(tmp_path: Path) -> None:
    code, output, timed_out = await run_foreground("cat; echo after", cwd=tmp_path, timeout=WAIT)
    assert (code, output, timed_out) == (0, "after\n", False)


# ---- background ----


async def test_background_process_reports_output_exit_code_and_events(
    tmp_path: Path, manager_factory
) -> None:
    bus = EventBus()
    events = bus.subscribe()
    manager = manager_factory(bus=bus)
    info = await manager.start(
        "echo one; echo two >&2; exit 4", cwd=tmp_path, session_key=SESSION, origin="chat-1"
    )
    assert info.id.startswith("proc_") and len(info.id) == 11
    assert manager.get(info.id) is info and info.origin == "chat-1"

    done = await manager.wait(info.id, WAIT)
    assert (done.state, done.exit_code, done.lines) == ("exited", 4, 2)
    assert done.finished_at is not None
    assert manager.log(info.id) == "one\ntwo"
    assert manager.log(info.id, lines=1) == "two"
    assert manager.list(SESSION) == [info] and manager.list("other") == []

    seen = []
    while (event := events.get_nowait()) is not None:
        seen.append(event)
    changes = [(e.state, e.exit_code) for e in seen if isinstance(e, ProcessChanged)]
    assert changes == [("running", None), ("exited", 4)]
    assert sum(e.lines for e in seen if isinstance(e, ProcessOutput)) == 2


async def test_kill_stops_the_process_group(tmp_path: Path, manager_factory) -> None:
    manager = manager_factory()
    info = await manager.start(SPAWN_KIDS, cwd=tmp_path, session_key=SESSION)
    kids = await kids_started(tmp_path)
    assert manager.has_live(SESSION)

    killed = await manager.kill(info.id)
    assert killed.state == "killed" and killed.exit_code is not None
    assert not manager.has_live(SESSION)
    assert not any(alive(pid) for pid in kids + [info.pid])
    assert (await manager.kill(info.id)).state == "killed"  # a second kill is harmless


async def test_wait_returns_running_info_when_the_timeout_passes(
    tmp_path: Path, manager_factory
) -> None:
    manager = manager_factory()
    info = await manager.start("sleep 300", cwd=tmp_path, session_key=SESSION)
    assert (await manager.wait(info.id, 0.05)).state == "running"


async def test_unknown_process_ids_raise_not_found(manager_factory) -> None:
    manager = manager_factory()
    assert manager.get("proc_000000") is None
    with pytest.raises(ProcessNotFound):
        manager.log("proc_000000")
    with pytest.raises(ProcessNotFound):
        await manager.wait("proc_000000", 1)
    with pytest.raises(ProcessNotFound):
        await manager.kill("proc_000000")


async def test_ring_buffer_keeps_only_the_newest_lines(tmp_path: Path, manager_factory) -> None:
    manager = manager_factory(ring_lines=50)
    info = await manager.start("seq 1 1000", cwd=tmp_path, session_key=SESSION)
    await manager.wait(info.id, WAIT)
    assert info.lines == 1000
    assert manager.log(info.id, lines=100).split("\n") == [str(n) for n in range(951, 1001)]


async def test_a_long_line_is_capped(tmp_path: Path, manager_factory) -> None:
    manager = manager_factory(max_line=100)
    info = await manager.start(
        "head -c 100000 /dev/zero | tr '\\0' x; echo; echo short", cwd=tmp_path, session_key=SESSION
    )
    await manager.wait(info.id, WAIT)
    long, short = manager.log(info.id).split("\n")
    assert long == "x" * 100 + " … [99900 more bytes]"
    assert short == "short"


async def test_output_events_are_at_most_one_per_second(tmp_path: Path, manager_factory) -> None:
    bus = EventBus()
    events = bus.subscribe()
    manager = manager_factory(bus=bus)
    script = "for i in $(seq 1 30); do echo $i; sleep 0.05; done"
    info = await manager.start(script, cwd=tmp_path, session_key=SESSION)
    await manager.wait(info.id, WAIT)
    outputs = []
    while (event := events.get_nowait()) is not None:
        if isinstance(event, ProcessOutput):
            outputs.append(event)
    assert sum(e.lines for e in outputs) == 30
    gaps = [b.at - a.at for a, b in zip(outputs[:-1], outputs[1:], strict=True)]
    assert all(gap >= 0.9 for gap in gaps[:-1])  # the last one is the flush at exit


async def test_has_live_follows_the_session_processes(tmp_path: Path, manager_factory) -> None:
    manager = manager_factory()
    assert not manager.has_live(SESSION)
    info = await manager.start("sleep 300", cwd=tmp_path, session_key=SESSION)
    assert manager.has_live(SESSION) and not manager.has_live("telegram:dm:1")
    await manager.kill(info.id)
    assert not manager.has_live(SESSION)


async def test_finished_processes_are_pruned_after_keep_finished(
    tmp_path: Path, manager_factory
) -> None:
    now = [1000.0]
    manager = manager_factory(clock=lambda: now[0], keep_finished=60)
    info = await manager.start("true", cwd=tmp_path, session_key=SESSION)
    await manager.wait(info.id, WAIT)
    now[0] += 59
    assert manager.get(info.id) is info
    now[0] += 2
    assert manager.get(info.id) is None and manager.list() == []


async def test_shutdown_stops_every_live_process_quietly(tmp_path: Path, manager_factory) -> None:
    notes = Notes()
    manager = manager_factory(notify=notes, notifications="result")
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    infos = [
        await manager.start(SPAWN_KIDS, cwd=first, session_key=SESSION),
        await manager.start(SPAWN_KIDS, cwd=second, session_key="telegram:dm:1"),
    ]
    kids = await kids_started(first) + await kids_started(second)

    await manager.shutdown()
    assert [i.state for i in infos] == ["killed", "killed"]
    assert not any(alive(pid) for pid in kids + [i.pid for i in infos])
    assert notes.calls == []
    with pytest.raises(RuntimeError, match="shutting down"):
        await manager.start("true", cwd=tmp_path, session_key=SESSION)


# ---- notifications ----


@pytest.mark.parametrize(
    ("mode", "notified"),
    [("all", {"ok", "fail"}), ("result", {"ok", "fail"}), ("error", {"fail"}), ("off", set())],
)
async def test_final_notifications_follow_the_mode(
    tmp_path: Path, manager_factory, mode: str, notified: set[str]
) -> None:
    notes = Notes()
    manager = manager_factory(notify=notes, notifications=mode)
    ok = await manager.start("echo fine", cwd=tmp_path, session_key=SESSION, origin="ok")
    fail = await manager.start(
        "echo broken; exit 2", cwd=tmp_path, session_key=SESSION, origin="fail"
    )
    for info in (ok, fail):
        await manager.wait(info.id, WAIT)
    await asyncio.sleep(0)  # let the watchers deliver

    assert {info.origin for info, _ in notes.calls} == notified
    texts = dict((info.origin, text) for info, text in notes.calls)
    if "ok" in texts:
        assert texts["ok"] == f"✅ Process {ok.id} finished (exit 0): `echo fine`\nfine"
    if "fail" in texts:
        assert texts["fail"].startswith(f"❌ Process {fail.id} exited with code 2: ")
        assert texts["fail"].endswith("\nbroken")


async def test_mode_all_sends_running_output_updates(tmp_path: Path, manager_factory) -> None:
    notes = Notes()
    manager = manager_factory(notify=notes, notifications="all", output_interval=0.05)
    script = "echo first; while [ ! -e go ]; do sleep 0.02; done; echo second"
    info = await manager.start(script, cwd=tmp_path, session_key=SESSION)

    await until(lambda: bool(notes.calls))
    assert notes.texts[0] == f"⏳ Process {info.id} is running: `{script}`\nfirst"
    (tmp_path / "go").touch()
    await manager.wait(info.id, WAIT)
    await until(lambda: notes.texts[-1].startswith("✅"))
    assert notes.texts[-1].endswith("first\nsecond")
    later_updates = [t for t in notes.texts[1:] if t.startswith("⏳")]
    assert not any("first" in t for t in later_updates)  # an update carries only new lines


async def test_killed_process_notifies_as_stopped_except_in_error_mode(
    tmp_path: Path, manager_factory
) -> None:
    for mode, expected in (("result", 1), ("error", 0)):
        notes = Notes()
        manager = manager_factory(notify=notes, notifications=mode)
        info = await manager.start("sleep 300", cwd=tmp_path, session_key=SESSION)
        await manager.kill(info.id)
        await asyncio.sleep(0)
        assert len(notes.calls) == expected
        if expected:
            assert notes.texts[0] == f"🛑 Process {info.id} was stopped: `sleep 300`"


async def test_a_failing_notify_does_not_break_the_watcher(tmp_path: Path, manager_factory) -> None:
    async def broken(info: ProcessInfo, text: str) -> None:
        raise ConnectionError("chat unreachable")

    manager = manager_factory(notify=broken, notifications="result")
    info = await manager.start("echo x", cwd=tmp_path, session_key=SESSION)
    assert (await manager.wait(info.id, WAIT)).state == "exited"


def test_unknown_notification_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="all, result, error, off"):
        ProcessManager(notifications="loud")
