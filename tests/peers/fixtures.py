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
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

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


class PeerHandle(Protocol):
    """What `shared_peer` needs of a peer's test-side handle."""

    peer: Peer

    def close(self) -> None: ...


H = TypeVar("H", bound=PeerHandle)
_shared_peers: dict[str, Any] = {}


def shared_peer(request: pytest.FixtureRequest, key: str, start: Callable[[], H]) -> H:
    """The session's one handle for `key`: started on first use (and again if its process died),
    closed by PID when the session ends. The fixture resets it before each test, so that no
    script or recorded request leaks between tests."""
    handle = _shared_peers.get(key)
    if handle is None or not handle.peer.alive:
        handle = _shared_peers[key] = start()

        def _stop() -> None:
            handle.close()
            if _shared_peers.get(key) is handle:
                del _shared_peers[key]

        request.config.add_cleanup(_stop)
    return handle


def start_openai_peer() -> OpenAIPeerHandle:
    return OpenAIPeerHandle(start_peer("tests.peers.openai_peer"))


@pytest.fixture
def openai_peer(request: pytest.FixtureRequest) -> OpenAIPeerHandle:
    """One peer process per test session, reset before each test."""
    handle = shared_peer(request, "openai", start_openai_peer)
    handle.reset()
    return handle
