"""Runs `hermes gateway --headless` as a real subprocess on a temporary HERMES_HOME."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class GatewayProcess:
    def __init__(self, home: Path, *args: str, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        environ.update({"HERMES_HOME": str(home), "PYTHONUNBUFFERED": "1"}, **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hermes_gateway", "gateway", "--headless", *args],
            cwd=REPO,
            env=environ,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        self._stderr_changed = threading.Condition()
        threading.Thread(
            target=self._pump, args=(self.proc.stdout, self.stdout.put), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(self.proc.stderr, self._add_err), daemon=True
        ).start()

    @staticmethod
    def _pump(stream, put) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def _add_err(self, line: str) -> None:
        with self._stderr_changed:
            self.stderr_lines.append(line)
            self._stderr_changed.notify_all()

    def wait_for_log(self, needle: str, timeout: float = 15.0) -> str:
        with self._stderr_changed:
            found = self._stderr_changed.wait_for(
                lambda: (
                    any(needle in line for line in self.stderr_lines)
                    or self.proc.poll() is not None
                ),
                timeout,
            )
            for line in self.stderr_lines:
                if needle in line:
                    return line
        raise AssertionError(
            f"no log line with {needle!r} (exited={self.proc.poll()}, found={found}):\n"
            + "\n".join(self.stderr_lines[-30:])
        )

    def say(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def reply(self, timeout: float = 15.0) -> dict:
        try:
            return json.loads(self.stdout.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError("no reply; log:\n" + "\n".join(self.stderr_lines[-30:])) from None

    def terminate(self, timeout: float = 10.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()
