"""The configuration as the wizard finds it: effective values, and which file holds each.

The wizard asks with today's values as defaults and writes each answer back where it
already lives, so it needs more than the effective Settings: the `.env` file's own
variables (to rewrite the one the user chose, e.g. HERMES_MODEL) and the source of every
dotted key (config.yaml, .env, the shell environment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..config import Settings, load_settings
from ..config.dotenv import read_dotenv
from ..config.envmap import env_overrides
from ..config.errors import ENVIRONMENT
from ..config.yamlfile import read_yaml
from ..core.types import Platform
from ..home import HermesHome


@cache
def dotted_key(variable: str) -> str | None:
    """TELEGRAM_BOT_TOKEN -> platforms.telegram.token; None for a variable nothing reads."""
    found = env_overrides({variable: "x"})
    return next(iter(found), None)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def lookup(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True)
class Snapshot:
    home: HermesHome
    settings: Settings
    dotenv: Mapping[str, str]  # the variables of HERMES_HOME/.env itself
    yaml: Mapping[str, Any]  # HERMES_HOME/config.yaml as parsed
    environ: Mapping[str, str]  # the process environment (it wins over both files)

    @classmethod
    def load(cls, home: HermesHome, environ: Mapping[str, str] | None = None) -> Snapshot:
        """Read everything once; ConfigError (one line) when a file is invalid."""
        environ = dict(os.environ if environ is None else environ)
        settings = load_settings(home, environ)
        dotenv = read_dotenv(home.env_file) or {}
        return cls(home, settings, dotenv, read_yaml(home.config_yaml) or {}, environ)

    def value(self, variable: str) -> str:
        """The effective value of an environment-style setting ("" when unset)."""
        dotted = dotted_key(variable)
        if dotted is None:  # a provider key such as OPENAI_API_KEY
            return self.settings.env.get(variable, "").strip()
        return _as_text(lookup(self.settings.raw, dotted))

    def yaml_value(self, dotted: str) -> Any:
        return lookup(self.yaml, dotted)

    def dotenv_variables_for(self, dotted: str) -> list[str]:
        """The `.env` variables that set `dotted` (TELEGRAM_BOT_TOKEN and TELEGRAM_TOKEN may)."""
        return [name for name in self.dotenv if dotted_key(name) == dotted]

    def from_environment(self, dotted: str) -> bool:
        """True when the shell environment sets `dotted`, above anything the files say."""
        return self.settings.source_of(dotted) == ENVIRONMENT

    def platform_values(self, platform: Platform) -> dict[str, str]:
        """Every setting of a platform in its environment form (<PREFIX>_<NAME>) -> value,
        extras included (TELEGRAM_BASE_URL): what an online check needs besides the answers."""
        entry = self.settings.platforms[platform.value]
        prefix = platform.env_prefix
        values = {f"{prefix}_{key.upper()}": _as_text(value) for key, value in entry.extra.items()}
        values.update(
            {
                f"{prefix}_TOKEN": entry.token,
                f"{prefix}_API_KEY": entry.api_key,
                f"{prefix}_HOME_CHANNEL": entry.home_channel,
                f"{prefix}_ALLOWED_USERS": ",".join(entry.allowed_users),
            }
        )
        values[f"{prefix}_BOT_TOKEN"] = entry.token
        return {key: value for key, value in values.items() if value}
