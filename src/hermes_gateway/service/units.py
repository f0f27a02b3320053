"""The systemd unit: a pure function from ServiceSpec to text, so tests compare it byte for byte
and `start` can tell whether the installed unit is stale."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hermes_gateway.service.runner import EXIT_CONFIG
from hermes_gateway.service.spec import ServiceSpec

WATCHDOG_SEC = 60  # the gateway pings every WATCHDOG_SEC / 2 while its event loop is healthy
TIMEOUT_STOP_SEC = 30  # SIGTERM drains within DRAIN_TIMEOUT phases; SIGKILL after this
RESTART_SEC = 5
START_LIMIT_BURST = 5  # at most this many starts ...
START_LIMIT_INTERVAL_SEC = 600  # ... in this window, then systemd gives up (see `status`)
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


def unit_path(spec: ServiceSpec, environ: Mapping[str, str], user_home: Path) -> Path:
    if spec.system:
        return SYSTEM_UNIT_DIR / f"{spec.name}.service"
    config = environ.get("XDG_CONFIG_HOME") or str(user_home / ".config")
    return Path(config) / "systemd" / "user" / f"{spec.name}.service"


def render_unit(spec: ServiceSpec) -> str:
    """The unit file text for this spec (systemd.unit(5), systemd.service(5))."""
    unit = [
        "[Unit]",
        f"Description={_specifiers(f'Hermes Gateway (HERMES_HOME={spec.home})')}",
    ]
    if spec.system:  # the user manager has no network-online.target
        unit += ["Wants=network-online.target", "After=network-online.target"]
    unit += [
        f"StartLimitIntervalSec={START_LIMIT_INTERVAL_SEC}",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={exec_line(spec.command)}",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ]
    unit += [f"Environment={_quoted(f'{k}={v}')}" for k, v in spec.environment.items()]
    if spec.system:
        unit.append(f"User={spec.user}")
    unit += [
        f"WorkingDirectory={_specifiers(str(spec.home))}",
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
        f"RestartPreventExitStatus={EXIT_CONFIG}",  # a bad config stays bad: fix, then restart
        f"WatchdogSec={WATCHDOG_SEC}",
        f"TimeoutStopSec={TIMEOUT_STOP_SEC}",
        "KillMode=mixed",  # SIGTERM to the gateway (it stops its own children), SIGKILL to all
        "StandardOutput=journal",
        "StandardError=journal",
        f"SyslogIdentifier={spec.name}",
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if spec.system else 'default.target'}",
        "",
    ]
    return "\n".join(unit)


def exec_line(argv: tuple[str, ...]) -> str:
    """An ExecStart= command line: words with spaces or quotes quoted, `%` and `$` escaped."""
    words = []
    for word in argv:
        word = _specifiers(word).replace("$", "$$")
        if not word or any(c.isspace() or c in "\"'\\;" for c in word):
            word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words.append(word)
    return " ".join(words)


def _quoted(assignment: str) -> str:
    escaped = _specifiers(assignment).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _specifiers(text: str) -> str:
    return text.replace("%", "%%")  # `%` starts a specifier (%h, %u, ...) in every setting
