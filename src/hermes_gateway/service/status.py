"""`hermes gateway status`: is the service installed and current, is a gateway running (PID,
uptime), how are its platforms (asked over the control socket), and its last error lines."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from hermes_gateway.home import HermesHome
from hermes_gateway.service.lock import running_pid

LOG_NAME = "gateway.log"
ERROR_LINES = 5
TAIL_BYTES = 256 * 1024  # the last errors are near the end; never read a whole big log
SNAPSHOT_TIMEOUT = 5.0


@dataclass
class GatewayStatus:
    pid: int | None
    uptime: float | None = None
    platforms: list[tuple[str, str, str]] = field(default_factory=list)  # name, state, detail
    platforms_error: str = ""
    errors: list[str] = field(default_factory=list)


def gateway_status(home: HermesHome) -> GatewayStatus:
    pid = running_pid(home.lock_file)
    status = GatewayStatus(pid, process_uptime(pid) if pid else None)
    if pid:
        try:
            status.platforms = asyncio.run(_platforms(home.control_socket))
        except (ConnectionError, OSError, TimeoutError, ValueError) as exc:
            status.platforms_error = str(exc) or type(exc).__name__
    status.errors = last_errors(home.logs_dir / LOG_NAME)
    return status


async def _platforms(socket: Path) -> list[tuple[str, str, str]]:
    from hermes_gateway.control.remote import RemoteHandle

    handle = await asyncio.wait_for(RemoteHandle.connect(socket), SNAPSHOT_TIMEOUT)
    try:
        snapshot = await asyncio.wait_for(handle.snapshot(), SNAPSHOT_TIMEOUT)
    finally:
        await handle.close()
    return [(p.name, p.state, p.detail or p.last_error) for p in snapshot.platforms]


def process_uptime(pid: int) -> float | None:
    """Seconds since the process started: /proc on Linux, `ps` elsewhere; None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        since_boot = float(Path("/proc/uptime").read_text().split()[0])
        # Field 22 (starttime, in clock ticks); fields after the ")" of comm, which may hold spaces.
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return max(0.0, since_boot - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        out = subprocess.run(
            ["ps", "-o", "etime=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_etime(out)


def parse_etime(text: str) -> float | None:
    """`ps -o etime` ([[dd-]hh:]mm:ss) → seconds."""
    if not text:
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return float(seconds + (int(days) * 86400 if days else 0))


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def last_errors(log: Path, count: int = ERROR_LINES) -> list[str]:
    """The last ERROR lines of the gateway's log (the rotated one too, if the current one has
    fewer)."""
    found: deque[str] = deque(maxlen=count)
    for path in (log.with_name(log.name + ".1"), log):
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - TAIL_BYTES))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        found.extend(line for line in text.splitlines() if " ERROR " in line)
    return list(found)
