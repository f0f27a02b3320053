"""The macOS launchd agent: a pure function from ServiceSpec to a plist (launchd.plist(5))."""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from hermes_gateway.service.spec import LAUNCHD_BASE, ServiceSpec
from hermes_gateway.service.units import RESTART_SEC, TIMEOUT_STOP_SEC

# What launchd writes from the process's own stdout/stderr: the gateway's event log goes to
# the rotating logs/gateway.log instead, so these hold only what escapes it (a crash).
STDOUT_LOG = "launchd.out.log"
STDERR_LOG = "launchd.err.log"


def label(spec: ServiceSpec) -> str:
    """`ai.hermes.gateway`, or `ai.hermes.gateway-<hash>` for a non-default HERMES_HOME."""
    return LAUNCHD_BASE + spec.suffix


def plist_path(spec: ServiceSpec, user_home: Path) -> Path:
    return user_home / "Library" / "LaunchAgents" / f"{label(spec)}.plist"


def plist_data(spec: ServiceSpec) -> dict[str, Any]:
    logs = spec.home / "logs"
    return {
        "Label": label(spec),
        "ProgramArguments": list(spec.command),
        "EnvironmentVariables": spec.environment,
        "WorkingDirectory": str(spec.home),
        "RunAtLoad": True,
        # Restart after a crash or a non-zero exit; a clean exit (stop) stays stopped.
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_SEC,
        "ExitTimeOut": TIMEOUT_STOP_SEC,
        "ProcessType": "Background",
        "StandardOutPath": str(logs / STDOUT_LOG),
        "StandardErrorPath": str(logs / STDERR_LOG),
    }


def render_plist(spec: ServiceSpec) -> bytes:
    return plistlib.dumps(plist_data(spec), sort_keys=True)


def plist_is_current(installed: bytes, spec: ServiceSpec) -> bool:
    """Compared as data, so a plist rewritten by another tool (binary, reordered) still matches."""
    try:
        return plistlib.loads(installed) == plist_data(spec)
    except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError):
        return False
