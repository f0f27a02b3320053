"""Start loopback peers as subprocesses, and the pytest fixtures that expose them.

A peer module runs as ``python -m <module> --port 0 [args]``, binds 127.0.0.1, and prints
``PORT <n>`` as its first stdout line. ``Peer.stop()`` ends it by PID: SIGTERM, then SIGKILL."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 10.0
STOP_TIMEOUT = 3.0


class PeerStartError(RuntimeError):
    pass


class Peer:
    def __init__(self, module: str, proc: subprocess.Popen, port: int, stderr: IO[bytes]) -> None:
        self.module = module
        self.proc = proc
        self.pid = proc.pid
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._stderr = stderr

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except ProcessLookupError:
                pass
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def __repr__(self) -> str:
        return f"Peer({self.module!r}, pid={self.pid}, url={self.url!r})"


def _pump(stream: IO[bytes], lines: queue.Queue) -> None:
    """Hand stdout lines to the starter, then keep draining so the peer never blocks on a pipe."""
    for line in iter(stream.readline, b""):
        lines.put(line)
    lines.put(None)


def start_peer(module: str, *args: str, timeout: float = START_TIMEOUT) -> Peer:
    stderr = tempfile.TemporaryFile()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    try:
        first = lines.get(timeout=timeout)
    except queue.Empty:
        first = None
        reason = f"did not print PORT within {timeout:g} s"
    else:
        reason = "exited before printing PORT" if first is None else f"printed {first!r} first"
    text = (first or b"").decode("utf-8", "replace").strip()
    if text.startswith("PORT ") and text[5:].isdigit():
        return Peer(module, proc, int(text[5:]), stderr)
    _kill(proc)
    stderr.seek(0)
    err = stderr.read().decode("utf-8", "replace").strip()
    stderr.close()
    raise PeerStartError(f"peer {module} {reason}.\n--- its stderr ---\n{err or '(empty)'}")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class OpenAIPeerHandle:
    """The scripted OpenAI-compatible peer, seen from a test."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.base_url = f"{peer.url}/v1"
        self._http = httpx.Client(base_url=peer.url, timeout=10.0, trust_env=False)

    def script(self, steps: list[dict[str, Any]]) -> None:
        self._http.post("/_peer/script", json=steps).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        response = self._http.get("/_peer/requests")
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._http.post("/_peer/reset").raise_for_status()

    def close(self) -> None:
        self._http.close()
        self.peer.stop()


_openai_peer: OpenAIPeerHandle | None = None


@pytest.fixture
def openai_peer(request: pytest.FixtureRequest) -> OpenAIPeerHandle:
    """One peer process per test session (started on first use, stopped by PID at the end),
    reset before each test so that no script or recorded request leaks between tests."""
    global _openai_peer
    if _openai_peer is None or not _openai_peer.peer.alive:
        _openai_peer = OpenAIPeerHandle(start_peer("tests.peers.openai_peer"))
        handle = _openai_peer

        def _stop() -> None:
            global _openai_peer
            handle.close()
            if _openai_peer is handle:
                _openai_peer = None

        request.config.add_cleanup(_stop)
    _openai_peer.reset()
    return _openai_peer
