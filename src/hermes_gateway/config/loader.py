"""load_settings: defaults < gateway.json < config.yaml < .env < process environment.

Loading only reads: no file is created, migrated or rewritten, so a broken config is
reported without being "fixed" behind the user's back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

from ..home import HermesHome
from .build import build_settings
from .dotenv import read_dotenv
from .errors import ENVIRONMENT
from .jsonfile import read_json
from .merge import Merged
from .schema import Settings
from .yamlfile import read_yaml


def load_settings(home: HermesHome, environ: Mapping[str, str] | None = None) -> Settings:
    """Read HERMES_HOME's files and the environment into validated Settings.

    `environ` defaults to os.environ. Missing files are fine; anything invalid raises
    ConfigError naming the file (or "environment"), the key and what was expected.
    Environment variables: see hermes_gateway.config.envmap (HERMES_MODEL -> model.default,
    HERMES_PROVIDER -> model.provider, <PLATFORM>_ALLOWED_USERS, ...).
    """
    process_env = dict(os.environ if environ is None else environ)
    merged = Merged()
    gateway = read_json(home.gateway_json)
    if gateway is not None:
        merged.add_layer(gateway, str(home.gateway_json))
    config = read_yaml(home.config_yaml)  # imports ruamel.yaml only when the file exists
    if config is not None:
        merged.add_layer(config, str(home.config_yaml))
    dotenv = read_dotenv(home.env_file) or {}
    merged.add_env(dotenv, str(home.env_file))
    merged.add_env(process_env, ENVIRONMENT)
    env = MappingProxyType({**dotenv, **process_env})
    return build_settings(home, merged, env)
