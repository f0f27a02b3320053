"""Talks to the service manager: systemctl / loginctl on Linux, launchctl on macOS. Each class
answers the same few questions (installed? current? running?) and runs the same few actions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from hermes_gateway.service import launchd
from hermes_gateway.service.spec import ServiceSpec, target_user
from hermes_gateway.service.units import render_unit, unit_path

SYSTEMD_RUNTIME = Path("/run/systemd/system")  # exists only when systemd is PID 1 (sd_booted)
LINGER_DIR = Path("/var/lib/systemd/linger")
COMMAND_TIMEOUT = 60.0  # `systemctl start` waits for READY=1; the unit's own timeouts bound it
NO_SYSTEMD = (
    "systemd is not running here (no /run/systemd/system): run `hermes gateway --headless` "
    "under your own supervisor, or `hermes gateway install --print` to see the unit"
)


class NoServiceManager(RuntimeError):
    """No systemd / launchd to talk to (a container, WSL without systemd, ...)."""


class ServiceError(RuntimeError):
    """A service manager command failed; the message says which and why."""


@dataclass(frozen=True)
class ManagerState:
    active: str  # active | inactive | failed | activating | ... ("" when unknown)
    detail: str = ""  # substate, last exit, restarts: one human line
    pid: int | None = None


def unit_is_current(installed: str, spec: ServiceSpec) -> bool:
    return installed == render_unit(spec)


def _run(argv: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ServiceError(f"`{argv[0]}` is not installed") from None
    except subprocess.TimeoutExpired:
        raise ServiceError(f"`{' '.join(argv)}` did not answer within {timeout:g} s") from None


def _checked(argv: list[str]) -> subprocess.CompletedProcess:
    result = _run(argv)
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        raise ServiceError(f"`{' '.join(argv)}` failed: {why[-1] if why else result.returncode}")
    return result


class Systemd:
    kind = "systemd"

    def __init__(self, spec: ServiceSpec, environ: Mapping[str, str], user_home: Path) -> None:
        self.spec = spec
        self.path = unit_path(spec, environ, user_home)
        self.unit = f"{spec.name}.service"
        self.user = target_user(environ)

    @property
    def description(self) -> str:
        return f"systemd {'system' if self.spec.system else 'user'} unit {self.path}"

    @staticmethod
    def check_available() -> None:
        if not SYSTEMD_RUNTIME.is_dir() or shutil.which("systemctl") is None:
            raise NoServiceManager(NO_SYSTEMD)

    def check_reachable(self) -> None:
        """A user unit needs the user's systemd instance (a login session or linger)."""
        if self.spec.system:
            return
        result = _run(self._systemctl("show-environment"), timeout=15)
        if result.returncode != 0:
            raise NoServiceManager(
                "the systemd user manager is not reachable (no login session for "
                f"{self.user.pw_name}, or XDG_RUNTIME_DIR is unset): log in as that user, or "
                "install a system unit with `sudo hermes gateway install --system`"
            )

    def _systemctl(self, *args: str) -> list[str]:
        return ["systemctl", *([] if self.spec.system else ["--user"]), *args]

    # -- the unit file ----------------------------------------------------------------------
    def installed_text(self) -> str | None:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return None

    def is_current(self) -> bool:
        installed = self.installed_text()
        return installed is not None and unit_is_current(installed, self.spec)

    def render(self) -> str:
        return render_unit(self.spec)

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".service.tmp")
        tmp.write_text(self.render())
        os.replace(tmp, self.path)
        _checked(self._systemctl("daemon-reload"))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        _checked(self._systemctl("daemon-reload"))

    # -- actions ----------------------------------------------------------------------------
    def enable(self) -> None:
        _checked(self._systemctl("enable", self.unit))

    def disable(self) -> None:
        _run(self._systemctl("disable", "--now", self.unit))  # fine if it was never enabled

    def start(self) -> None:
        self._act("start")

    def stop(self) -> None:
        self._act("stop")

    def restart(self) -> None:
        self._act("restart")

    def _act(self, verb: str) -> None:
        result = _run(self._systemctl(verb, self.unit))
        if result.returncode != 0:
            journal = "journalctl" + ("" if self.spec.system else " --user")
            raise ServiceError(
                f"`systemctl {verb}` failed for {self.unit}; "
                f"see `{journal} -u {self.unit} -n 50` or `hermes gateway status`"
            )

    def state(self) -> ManagerState:
        props = "ActiveState,SubState,MainPID,NRestarts,Result,ExecMainStatus"
        result = _run(self._systemctl("show", "-p", props, self.unit), timeout=15)
        values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        pid = int(values.get("MainPID") or 0) or None
        detail = values.get("SubState", "")
        if values.get("Result") not in ("", "success", None):
            detail += f", last result {values['Result']} (exit {values.get('ExecMainStatus')})"
        if values.get("NRestarts") not in ("", "0", None):
            detail += f", restarted {values['NRestarts']} time(s)"
        return ManagerState(values.get("ActiveState", ""), detail, pid)

    # -- linger -----------------------------------------------------------------------------
    def ensure_linger(self) -> str:
        """Keep the user manager (and the gateway) running after logout. Returns what to tell
        the person: done, already on, or the exact command to run themselves."""
        name = self.user.pw_name
        if self.spec.system or (LINGER_DIR / name).exists():
            return ""
        command = ["loginctl", "enable-linger", name]
        try:
            result = _run(command, timeout=15)
        except ServiceError:
            result = None
        if result is not None and result.returncode == 0:
            return f"Enabled linger for {name}: the gateway keeps running after you log out."
        return (
            f"Could not enable linger for {name}, so the gateway stops when you log out. "
            f"Run: sudo loginctl enable-linger {name}"
        )

    def other_scope_path(self, environ: Mapping[str, str], user_home: Path) -> Path:
        """Where the unit of the other scope (system for a user unit, and back) would be."""
        other = replace(self.spec, system=not self.spec.system)
        return unit_path(other, environ, user_home)


class Launchd:
    kind = "launchd"

    def __init__(self, spec: ServiceSpec, environ: Mapping[str, str], user_home: Path) -> None:
        self.spec = spec
        self.path = launchd.plist_path(spec, user_home)
        self.label = launchd.label(spec)
        self.domain = f"gui/{os.getuid()}"

    @property
    def description(self) -> str:
        return f"launchd agent {self.path}"

    @staticmethod
    def check_available() -> None:
        if shutil.which("launchctl") is None:
            raise NoServiceManager("launchctl is not available here")

    def check_reachable(self) -> None:
        return None

    def installed_text(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def is_current(self) -> bool:
        installed = self.installed_text()
        return installed is not None and launchd.plist_is_current(installed, self.spec)

    def render(self) -> str:
        return launchd.render_plist(self.spec).decode()

    def write(self) -> None:
        (self.spec.home / "logs").mkdir(parents=True, exist_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loaded = self._loaded()
        if loaded:  # launchd keeps the old definition until the job is booted out
            _run(["launchctl", "bootout", f"{self.domain}/{self.label}"])
        tmp = self.path.with_suffix(".plist.tmp")
        tmp.write_bytes(launchd.render_plist(self.spec))
        os.replace(tmp, self.path)
        if loaded:
            self.enable()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def enable(self) -> None:
        if not self._loaded():
            _checked(["launchctl", "bootstrap", self.domain, str(self.path)])

    def disable(self) -> None:
        if self._loaded():
            _run(["launchctl", "bootout", f"{self.domain}/{self.label}"])

    def start(self) -> None:
        self.enable()
        _checked(["launchctl", "kickstart", f"{self.domain}/{self.label}"])

    def stop(self) -> None:
        # A loaded job with KeepAlive would be restarted by launchd; unloading stops it for good.
        self.disable()

    def restart(self) -> None:
        self.enable()
        _checked(["launchctl", "kickstart", "-k", f"{self.domain}/{self.label}"])

    def _loaded(self) -> bool:
        return _run(["launchctl", "print", f"{self.domain}/{self.label}"]).returncode == 0

    def state(self) -> ManagerState:
        result = _run(["launchctl", "print", f"{self.domain}/{self.label}"])
        if result.returncode != 0:
            return ManagerState("inactive", "not loaded")
        fields = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.strip().partition(" = ")
            if sep and key not in fields:
                fields[key] = value
        pid = int(fields["pid"]) if fields.get("pid", "").isdigit() else None
        state = fields.get("state", "")
        detail = f"last exit code {fields['last exit code']}" if "last exit code" in fields else ""
        return ManagerState("active" if state == "running" else state or "inactive", detail, pid)

    def ensure_linger(self) -> str:
        return ""


def service_manager(
    spec: ServiceSpec, environ: Mapping[str, str], user_home: Path
) -> Systemd | Launchd:
    """The manager for this machine; NoServiceManager (with the reason) when there is none."""
    cls = Launchd if sys.platform == "darwin" else Systemd
    cls.check_available()
    return cls(spec, environ, user_home)
