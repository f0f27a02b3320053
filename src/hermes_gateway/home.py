"""HERMES_HOME and every path under it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def resolve_home(environ: dict[str, str] | None = None) -> Path:
    """HERMES_HOME from the environment, default ~/.hermes (not created here)."""
    env = os.environ if environ is None else environ
    raw = env.get("HERMES_HOME", "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".hermes"


@dataclass(frozen=True)
class HermesHome:
    """The files of one Hermes installation. `ensure()` creates the folder with mode 0700."""

    root: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> HermesHome:
        return cls(resolve_home(environ))

    def ensure(self) -> HermesHome:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is masked by the umask and ignored for an existing folder.
        if (self.root.stat().st_mode & 0o777) != 0o700:
            os.chmod(self.root, 0o700)
        return self

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def config_yaml(self) -> Path:
        return self.root / "config.yaml"

    @property
    def gateway_json(self) -> Path:
        return self.root / "gateway.json"

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def lock_file(self) -> Path:
        return self.root / "gateway.lock"

    @property
    def control_socket(self) -> Path:
        """The running gateway's control socket (the TUI attaches here)."""
        return self.root / "control.sock"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def checkpoints_dir(self) -> Path:
        """The shadow git store of files the agent changed (/rollback)."""
        return self.root / "checkpoints"

    @property
    def skills_dir(self) -> Path:
        return self.root / "skills"

    @property
    def workspace_dir(self) -> Path:
        """Default working directory of agent sessions."""
        return self.root / "workspace"
