"""sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET (a path, or `@name` in the
abstract namespace), and the watchdog pings systemd expects every WatchdogSec.

Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so the runner calls it unconditionally."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, MutableMapping

log = logging.getLogger("hermes.service")

NOTIFY_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    def __init__(self, address: str = "", watchdog_usec: int = 0) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """Takes the variables out of the environment (as sd_notify's unset_environment does),
        so the agent's subprocesses never talk to systemd in the gateway's name."""
        env = os.environ if environ is None else environ
        address = env.pop("NOTIFY_SOCKET", "")
        usec_text = env.pop("WATCHDOG_USEC", "")
        watchdog_pid = env.pop("WATCHDOG_PID", "")
        usec = int(usec_text) if usec_text.isdigit() else 0
        if watchdog_pid and watchdog_pid != str(os.getpid()):
            usec = 0  # the watchdog is meant for another process
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half the watchdog timeout (as systemd recommends)."""
        return self.watchdog_usec / 2_000_000 if self.watchdog_usec else None

    def send(self, *assignments: str) -> bool:
        """One datagram of `KEY=value` lines. Never raises: a lost notification must not take
        the gateway down (systemd then restarts it on its own timeouts)."""
        if not self.address:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]
        payload = "\n".join(a.replace("\n", " ") for a in assignments).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, target)
            return True
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def reloading(self) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading the config")

    def stopping(self, status: str = "stopping: finishing sends in flight") -> bool:
        return self.send("STOPPING=1", f"STATUS={status}")

    def failed(self, status: str, errno: int = 0) -> bool:
        fields = [f"STATUS={status}"]
        if errno:
            fields.append(f"ERRNO={errno}")
        return self.send(*fields)

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


async def watchdog_loop(notifier: Notifier, healthy: Callable[[], bool]) -> None:
    """Pings at half of WATCHDOG_USEC while `healthy()`. It runs on the engine's event loop, so
    a blocked loop stops the pings too, and systemd restarts a gateway that hangs."""
    interval = notifier.watchdog_interval
    if not notifier.enabled or interval is None:
        return
    while True:
        if healthy():
            notifier.watchdog()
        else:
            log.warning("watchdog: the engine is not healthy; not pinging systemd")
        await asyncio.sleep(interval)
