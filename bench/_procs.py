"""Process helpers for the benchmarks: a process tree's CPU time and RSS from /proc (Linux),
a background peak-RSS sampler, and stopping a process by PID with the time it took."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Direct children of pid. /proc/<pid>/task/<tid>/children is cheap where the kernel has
    it; otherwise scan every /proc/<n>/stat for its parent id."""
    tasks = Path(f"/proc/{pid}/task")
    try:
        files = [t / "children" for t in tasks.iterdir()]
    except OSError:
        return []
    if files and files[0].exists():
        out: list[int] = []
        for f in files:
            try:
                out += [int(x) for x in f.read_text().split()]
            except OSError:
                continue
        return out
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat and int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def tree_pids(root: int) -> list[int]:
    """root and all its live descendants."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo += _children(pid)
    return seen


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] is the
    state, [1] the parent id, [11..14] utime stime cutime cstime in clock ticks."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of root and its live descendants, plus what root's reaped children
    used (cutime/cstime), so a helper that exited during the load still counts."""
    ticks = 0
    for pid in tree_pids(root):
        stat = _stat(pid)
        if stat is None:
            continue
        ticks += int(stat[11]) + int(stat[12])
        if pid == root:
            ticks += int(stat[13]) + int(stat[14])
    return ticks / CLK_TCK


def tree_rss_kib(root: int) -> int:
    total = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


class RssSampler:
    """Samples the tree's summed VmRSS every `interval` seconds in a daemon thread; `peak_kib`
    is the highest sum seen."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=2.0)
        return self.peak_kib


def terminate_timed(proc: subprocess.Popen, timeout: float) -> tuple[float, int, bool]:
    """SIGTERM by PID and wait up to `timeout` s: (seconds until exit, exit code, killed).
    A process that overstays is SIGKILLed and reported as killed."""
    if proc.poll() is not None:
        return 0.0, proc.returncode, False
    started = time.monotonic()
    try:
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=timeout)
        return time.monotonic() - started, code, False
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        return time.monotonic() - started, proc.returncode, True
    except ProcessLookupError:
        return time.monotonic() - started, proc.wait(), False


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the process and its descendants by PID (the error path: nothing left behind)."""
    if proc.poll() is None:
        for pid in reversed(tree_pids(proc.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    proc.wait()


class Child:
    """A benchmarked process: started by `start()`, its stdout+stderr kept in a temporary file
    so that a failure can show the end of its log."""

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path, hint: str = ""
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self.hint = hint  # what to check when it never starts polling
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(), outlives start()

    def start(self) -> subprocess.Popen:
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self.proc

    def log_tail(self, lines: int = 15) -> str:
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").rstrip().splitlines()[-lines:]
        return f"--- last lines of {self.name}'s output ---\n" + ("\n".join(text) or "(empty)")

    def close(self) -> None:
        if self.proc is not None:
            kill_tree(self.proc)
        self._log.close()
