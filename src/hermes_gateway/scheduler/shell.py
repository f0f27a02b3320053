"""Running one shell command in its own process group.

A command runs under a shell started with start_new_session, so the shell's pid is also the id of
a new process group holding everything the command forks. Stopping the command means stopping
that group: SIGTERM to all of it, SIGKILL to whatever is left after a grace second, then reaping
the shell. Every path that gives up on a command (timeout, cancellation, an exit that leaves
children behind) goes through terminate_group, so no process outlives its caller as an orphan.

run_foreground runs one command to completion and returns the tail of its output; the process
manager (scheduler.processes) uses spawn, wait_exit and terminate_group for background ones."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

FOREGROUND_CAP = 50_000  # bytes of foreground output returned (the tail)
DRAIN = 1.0  # seconds to collect output still in the pipe once a command has exited
# Tools run without a terminal: pagers and credential prompts would only hang or garble output.
_NON_INTERACTIVE = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


@functools.cache
def _shell() -> str:
    return shutil.which("bash") or "/bin/sh"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


async def spawn(command: str, cwd: Path, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    """Start `command` under the shell in a new process group, output merged into one pipe."""
    starting = asyncio.ensure_future(_spawn(command, cwd, env))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        # The shell may already run (and fork) before the pipes are connected; asyncio's own
        # cleanup would kill only the shell, so stop its whole group here.
        await asyncio.shield(_stop_starting(starting))
        raise


async def _spawn(command: str, cwd: Path, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    child_env = {**os.environ, **_NON_INTERACTIVE, **(env or {})}
    return await asyncio.create_subprocess_exec(
        _shell(),
        "-c",
        command,
        cwd=str(cwd),
        env=child_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def _stop_starting(starting: asyncio.Future) -> None:
    try:
        proc = await starting
    except Exception:
        return  # it never started
    await terminate_group(proc)
    with contextlib.suppress(TimeoutError):  # read to EOF so the transport closes
        await asyncio.wait_for(proc.stdout.read(), DRAIN)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_alive(pgid: int) -> bool:
    """True while a process of the group still runs (zombies left to init do not count)."""
    if not _signal_group(pgid, 0):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        if int(pgrp) == pgid and state not in ("Z", "X"):
            return True
    return False


async def wait_exit(proc: asyncio.subprocess.Process, timeout: float | None = None) -> int | None:
    """The shell's exit code once it has exited, or None when `timeout` passes first.

    Process.wait() (Python 3.11) also waits for the output pipe to close, which children that
    outlive the shell keep open; returncode is set as soon as the shell is reaped, so poll it
    (the waiter makes the common case, exit and pipe closing together, immediate)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    waiter = asyncio.ensure_future(proc.wait())
    delay = 0.01
    try:
        while proc.returncode is None:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return None
            await asyncio.wait({waiter}, timeout=delay if left is None else min(delay, left))
            delay = min(delay * 2, 0.2)
    finally:
        waiter.cancel()
    return proc.returncode


async def terminate_group(proc: asyncio.subprocess.Process, grace: float = 1.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace` seconds, reap the shell."""
    pgid = proc.pid  # start_new_session made the shell's pid the group id
    if _signal_group(pgid, signal.SIGTERM):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await wait_exit(proc, grace)
        # Children that ignore SIGTERM outlive their shell; give them the rest of the grace.
        while group_alive(pgid) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
    await wait_exit(proc)


class Lines:
    """Splits a byte stream into lines, each capped at `max_line` bytes."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._partial = bytearray()
        self._overflow = 0

    def feed(self, chunk: bytes) -> list[str]:
        out: list[str] = []
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            self._add(piece)
            out.append(self._take())
        self._add(rest)
        return out

    def flush(self) -> list[str]:
        return [self._take()] if self._partial or self._overflow else []

    def _add(self, piece: bytes) -> None:
        room = self.max_line - len(self._partial)
        self._partial += piece[:room]
        self._overflow += max(0, len(piece) - room)

    def _take(self) -> str:
        line = self._partial.decode(errors="replace").rstrip("\r")
        if self._overflow:
            line += f" … [{self._overflow} more bytes]"
        self._partial, self._overflow = bytearray(), 0
        return line


class _Tail:
    """The last `cap` bytes of a stream, and how many came before them."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.omitted = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.cap:  # trim in batches, not on every chunk
            self._trim()

    def _trim(self) -> None:
        extra = len(self.data) - self.cap
        if extra > 0:
            self.omitted += extra
            del self.data[:extra]

    def text(self) -> str:
        self._trim()
        body = self.data.decode(errors="replace")
        if self.omitted:
            note = f"[… {self.omitted} bytes of earlier output omitted; showing the last "
            return f"{note}{self.cap // 1000} KB]\n{body}"
        return body


async def pump(stream: asyncio.StreamReader, sink: Callable[[bytes], None]) -> None:
    while chunk := await stream.read(65536):
        sink(chunk)


async def _stop_reader(reader: asyncio.Task, wait: float) -> None:
    # A process that escaped the group (setsid) may hold the pipe open forever.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader), wait)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader


async def run_foreground(
    command: str, *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> tuple[int | None, str, bool]:
    """Run to completion: (exit code or None on timeout, output tail, timed_out).

    The whole group is stopped on timeout, on cancellation (an interrupt) and when the command
    exits leaving children behind, so nothing outlives the call."""
    proc = await spawn(command, cwd, env)
    tail = _Tail(FOREGROUND_CAP)
    reader = asyncio.create_task(pump(proc.stdout, tail.add))
    try:
        timed_out = await wait_exit(proc, timeout) is None
        if not timed_out:
            await asyncio.wait({reader}, timeout=DRAIN)  # output still in the pipe
        leftovers = not timed_out and group_alive(proc.pid)
        if timed_out or leftovers:
            await terminate_group(proc)
        await _stop_reader(reader, DRAIN)
    except BaseException:  # CancelledError above all: the interrupt must not orphan the group
        await asyncio.shield(_abandon(proc, reader))
        raise
    output = tail.text()
    if leftovers:
        output += (
            "\n[processes the command left running were stopped; "
            "use background=true for long-running commands]"
        )
    return (None if timed_out else proc.returncode), output, timed_out


async def _abandon(proc: asyncio.subprocess.Process, reader: asyncio.Task) -> None:
    await terminate_group(proc)
    await _stop_reader(reader, 0)
