"""Environment variables -> dotted config keys.

Read from `.env` and from the process environment (the process wins):

    <PREFIX>_ALLOWED_USERS    platforms.<p>.allowed_users   comma-separated user ids
    <PREFIX>_ALLOW_ALL_USERS  platforms.<p>.allow_all_users true/false/1/0/yes/no
    <PREFIX>_HOME_CHANNEL     platforms.<p>.home_channel
    <PREFIX>_BOT_TOKEN        platforms.<p>.token           (wins over <PREFIX>_TOKEN)
    <PREFIX>_TOKEN            platforms.<p>.token
    <PREFIX>_API_KEY          platforms.<p>.api_key
    GATEWAY_ALLOWED_USERS     allowed_users
    GATEWAY_ALLOW_ALL_USERS   allow_all_users
    HERMES_BACKGROUND_NOTIFICATIONS  display.background_process_notifications
    HERMES_MODEL              model.default
    HERMES_PROVIDER           model.provider
    TELEGRAM_BASE_URL, TELEGRAM_BASE_FILE_URL, TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET,
    TELEGRAM_WEBHOOK_PORT, TELEGRAM_WEBHOOK_HOST, TELEGRAM_REQUIRE_MENTION,
    TELEGRAM_MAX_FILE_MB, TELEGRAM_LONG_POLL_TIMEOUT
                              platforms.telegram.extra.*    (strings, as the adapter reads them)

<PREFIX> is a Platform's env_prefix (TELEGRAM, WECOM_CALLBACK, ...). Model API keys such as
OPENAI_API_KEY are not platforms; they stay in `Settings.env` for the providers.
An empty variable counts as unset: `.env` templates ship `TELEGRAM_BOT_TOKEN=`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.types import Platform

_GLOBAL = {
    "GATEWAY_ALLOWED_USERS": "allowed_users",
    "GATEWAY_ALLOW_ALL_USERS": "allow_all_users",
    "HERMES_BACKGROUND_NOTIFICATIONS": "display.background_process_notifications",
    "HERMES_MODEL": "model.default",
    "HERMES_PROVIDER": "model.provider",
    # Telegram's own settings (the adapter reads them from platforms.telegram.extra).
    "TELEGRAM_BASE_URL": "platforms.telegram.extra.base_url",
    "TELEGRAM_BASE_FILE_URL": "platforms.telegram.extra.base_file_url",
    "TELEGRAM_WEBHOOK_URL": "platforms.telegram.extra.webhook_url",
    "TELEGRAM_WEBHOOK_SECRET": "platforms.telegram.extra.webhook_secret",
    "TELEGRAM_WEBHOOK_PORT": "platforms.telegram.extra.webhook_port",
    "TELEGRAM_WEBHOOK_HOST": "platforms.telegram.extra.webhook_host",
    "TELEGRAM_REQUIRE_MENTION": "platforms.telegram.extra.require_mention",
    "TELEGRAM_MAX_FILE_MB": "platforms.telegram.extra.max_file_mb",
    "TELEGRAM_LONG_POLL_TIMEOUT": "platforms.telegram.extra.long_poll_timeout",
}

# Suffix -> platform field. For one field, the earlier suffix wins (BOT_TOKEN over TOKEN).
_PER_PLATFORM = (
    ("ALLOWED_USERS", "allowed_users"),
    ("ALLOW_ALL_USERS", "allow_all_users"),
    ("HOME_CHANNEL", "home_channel"),
    ("BOT_TOKEN", "token"),
    ("TOKEN", "token"),
    ("API_KEY", "api_key"),
)


def _variables() -> list[tuple[str, str]]:
    pairs = list(_GLOBAL.items())
    for platform in Platform:
        for suffix, name in _PER_PLATFORM:
            pairs.append((f"{platform.env_prefix}_{suffix}", f"platforms.{platform.value}.{name}"))
    return pairs


_VARIABLES = _variables()


def env_overrides(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """dotted key -> (raw string value, variable name) for every mapped variable that is set."""
    found: dict[str, tuple[str, str]] = {}
    for variable, key in _VARIABLES:
        value = environ.get(variable)
        if value is None or not value.strip() or key in found:
            continue
        found[key] = (value.strip(), variable)
    return found
