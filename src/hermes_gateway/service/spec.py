"""What a service runs: its name, its command line and the environment it snapshots at install
time. systemd units and launchd plists are both rendered from one ServiceSpec, so they agree."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BASE_NAME = "hermes-gateway"
LAUNCHD_BASE = "ai.hermes.gateway"


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a unit file says. Paths are absolute; `user` is set for system units only."""

    name: str  # hermes-gateway or hermes-gateway-<hash>
    command: tuple[str, ...]  # the argv that starts `hermes gateway --headless`
    home: Path  # the resolved HERMES_HOME
    path: str  # PATH, virtualenv bin first
    virtual_env: str = ""
    user: str = ""
    system: bool = False

    @property
    def suffix(self) -> str:
        """ "" for the default home, "-<hash>" for another one."""
        return self.name[len(BASE_NAME) :]

    @property
    def environment(self) -> dict[str, str]:
        env = {"PATH": self.path}
        if self.virtual_env:
            env["VIRTUAL_ENV"] = self.virtual_env
        env["HERMES_HOME"] = str(self.home)
        return env


def service_name(home: Path, default_home: Path) -> str:
    """`hermes-gateway` for the default home, else `hermes-gateway-<8 hex of sha256(home)>`."""
    resolved = home.expanduser().resolve()
    if resolved == default_home.expanduser().resolve():
        return BASE_NAME
    return f"{BASE_NAME}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:8]}"


def target_user(environ: Mapping[str, str]) -> pwd.struct_passwd:
    """The person the service runs as: the one behind `sudo`, else whoever runs this."""
    sudo_user = environ.get("SUDO_USER", "")
    if os.geteuid() == 0 and sudo_user and sudo_user != "root":
        try:
            return pwd.getpwnam(sudo_user)
        except KeyError:
            pass
    return pwd.getpwuid(os.getuid())


def user_home_dir(environ: Mapping[str, str]) -> Path:
    """The default HERMES_HOME's parent: the target user's home (not root's under sudo)."""
    user = target_user(environ)
    if user.pw_uid == os.getuid() and environ.get("HOME"):
        return Path(environ["HOME"])
    return Path(user.pw_dir)


def resolve_service_home(environ: Mapping[str, str]) -> tuple[Path, Path]:
    """(HERMES_HOME, the default home) for the target user, both resolved."""
    default = (user_home_dir(environ) / ".hermes").resolve()
    raw = environ.get("HERMES_HOME", "").strip()
    home = Path(raw).expanduser().resolve() if raw else default
    return home, default


def virtualenv_dir(environ: Mapping[str, str]) -> str:
    """The virtualenv this `hermes` runs from (sys.prefix), or VIRTUAL_ENV, or ""."""
    if sys.prefix != sys.base_prefix:
        return sys.prefix
    return environ.get("VIRTUAL_ENV", "")


def snapshot_path(environ: Mapping[str, str], venv: str) -> str:
    """PATH as it is now, the virtualenv's bin first, without duplicates or empty entries."""
    entries = [f"{venv}/bin"] if venv else []
    for entry in environ.get("PATH", os.defpath).split(os.pathsep):
        if entry and entry not in entries:
            entries.append(entry)
    return os.pathsep.join(entries)


def hermes_command(environ: Mapping[str, str], venv: str) -> tuple[str, ...]:
    """`hermes gateway --headless` as an absolute argv: the `hermes` script of this
    environment when there is one, else this interpreter with `-m hermes_gateway`."""
    candidates = [Path(sys.executable).parent / "hermes"]
    if venv:
        candidates.insert(0, Path(venv) / "bin" / "hermes")
    found = shutil.which("hermes", path=environ.get("PATH"))
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return (str(candidate.absolute()), "gateway", "--headless")
    return (str(Path(sys.executable).absolute()), "-m", "hermes_gateway", "gateway", "--headless")


def current_spec(environ: Mapping[str, str] | None = None, system: bool = False) -> ServiceSpec:
    """The spec `hermes gateway install` would write now, from this process's environment."""
    env = dict(os.environ if environ is None else environ)
    home, default = resolve_service_home(env)
    venv = virtualenv_dir(env)
    return ServiceSpec(
        name=service_name(home, default),
        command=hermes_command(env, venv),
        home=home,
        path=snapshot_path(env, venv),
        virtual_env=venv,
        user=target_user(env).pw_name if system else "",
        system=system,
    )
