"""Layered configuration: typed settings, one-line errors, round-trip writers.

    settings = load_settings(HermesHome.from_env())
    settings.reset_policy_for("telegram", "group")

Sources, lowest first: built-in defaults < gateway.json < config.yaml < .env < process
environment. Writers (update_dotenv / update_yaml / update_json) keep every line they do
not change.
"""

from __future__ import annotations

from .dotenv import parse_dotenv, update_dotenv
from .errors import ConfigError
from .jsonfile import update_json
from .loader import load_settings
from .schema import (
    ApprovalSettings,
    DisplaySettings,
    ModelSettings,
    PlatformSettings,
    ResetPolicy,
    Settings,
)
from .secrets import is_secret_key, mask
from .yamlfile import update_yaml

__all__ = [
    "ApprovalSettings",
    "ConfigError",
    "DisplaySettings",
    "ModelSettings",
    "PlatformSettings",
    "ResetPolicy",
    "Settings",
    "is_secret_key",
    "load_settings",
    "mask",
    "parse_dotenv",
    "update_dotenv",
    "update_json",
    "update_yaml",
]
