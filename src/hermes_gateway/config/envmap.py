"""Environment variables -> dotted config keys.

Read from `.env` and from the process environment (the process wins):

    <PREFIX>_ALLOWED_USERS    platforms.<p>.allowed_users   comma-separated user ids
    <PREFIX>_ALLOW_ALL_USERS  platforms.<p>.allow_all_users true/false/1/0/yes/no
    <PREFIX>_HOME_CHANNEL     platforms.<p>.home_channel
    <PREFIX>_HOME_ADDRESS     platforms.<p>.home_channel (when HOME_CHANNEL is unset)
    <PREFIX>_HOME_ROOM        platforms.<p>.home_channel (when neither is set)
    <PREFIX>_BOT_TOKEN        platforms.<p>.token           (wins over <PREFIX>_TOKEN)
    <PREFIX>_TOKEN            platforms.<p>.token
    <PREFIX>_API_KEY          platforms.<p>.api_key
    GATEWAY_ALLOWED_USERS     allowed_users
    GATEWAY_ALLOW_ALL_USERS   allow_all_users
    HERMES_BACKGROUND_NOTIFICATIONS  display.background_process_notifications
    HERMES_MODEL              model.default
    HERMES_PROVIDER           model.provider
    <PREFIX>_<ANY_OTHER>      platforms.<p>.extra.<any_other> (a string, as the adapter reads it),
                              e.g. TELEGRAM_BASE_URL, SLACK_APP_TOKEN, EMAIL_IMAP_HOST

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
}

# Suffix -> platform field. For one field, the earlier suffix wins (BOT_TOKEN over TOKEN).
_PER_PLATFORM = (
    ("ALLOWED_USERS", "allowed_users"),
    ("ALLOW_ALL_USERS", "allow_all_users"),
    ("HOME_CHANNEL", "home_channel"),
    ("HOME_ADDRESS", "home_channel"),  # e-mail's name for it: EMAIL_HOME_ADDRESS
    ("HOME_ROOM", "home_channel"),  # Matrix's name for it: MATRIX_HOME_ROOM
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


# Longest first, so WECOM_CALLBACK_X belongs to wecom_callback and not to wecom.
_PREFIXES = sorted(((f"{p.env_prefix}_", p.value) for p in Platform), key=lambda x: -len(x[0]))
_NAMED = {variable for variable, _ in _VARIABLES}


def _platform_extra(variable: str) -> str | None:
    """platforms.<p>.extra.<rest> for a <PREFIX>_<REST> variable no fixed name claims."""
    if variable in _NAMED:
        return None
    for prefix, name in _PREFIXES:
        if variable.startswith(prefix) and len(variable) > len(prefix):
            return f"platforms.{name}.extra.{variable[len(prefix) :].lower()}"
    return None


def env_overrides(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """dotted key -> (raw string value, variable name) for every mapped variable that is set."""
    found: dict[str, tuple[str, str]] = {}
    for variable, key in _VARIABLES:
        value = environ.get(variable)
        if value is None or not value.strip() or key in found:
            continue
        found[key] = (value.strip(), variable)
    for variable, value in environ.items():
        key = _platform_extra(variable)
        if key is not None and value.strip() and key not in found:
            found[key] = (value.strip(), variable)
    return found
