"""Offline checks of one answer: the shape of a token, a URL, an address, a port.

Each validator takes the setting's name and the value and returns None when the value is
acceptable, else one line that names the setting and says what was expected. A secret's
value is never repeated in the message (it may be a real token pasted in the wrong place).
Shapes are deliberately a little looser than the services' own formats: rejecting a real
token because a service changed its length would be worse than accepting a typo that the
online check then catches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

Validator = Callable[[str, str], "str | None"]

_TELEGRAM_TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{8,}")
_DISCORD_TOKEN = re.compile(r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{10,}")
_NO_SPACE = re.compile(r"\S+")
_EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,.]+")
_MATRIX_USER = re.compile(r"@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d{1,5})?")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DIGITS = re.compile(r"\d+")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{6,}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{6,}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:.]+\]")


def telegram_token(name: str, value: str) -> str | None:
    if _TELEGRAM_TOKEN.fullmatch(value):
        return None
    return f"{name} should look like 123456789:AAE… (the bot's number, a colon, then the key)"


def discord_token(name: str, value: str) -> str | None:
    if _DISCORD_TOKEN.fullmatch(value):
        return None
    return f"{name} should be the bot token: three parts separated by dots"


def prefixed(prefix: str, what: str) -> Validator:
    """A token that starts with `prefix`, e.g. Slack's xoxb- bot and xapp- app tokens."""

    def check(name: str, value: str) -> str | None:
        if value.startswith(prefix) and len(value) > len(prefix) + 8 and " " not in value:
            return None
        return f"{name} should be the {what}, which starts with {prefix}"

    return check


def opaque_token(name: str, value: str) -> str | None:
    """Any token without whitespace (Matrix, Mattermost) of a plausible length."""
    if _NO_SPACE.fullmatch(value) and len(value) >= 8:
        return None
    return f"{name} should be a token of at least 8 characters without spaces"


def password(name: str, value: str) -> str | None:
    return None if value else f"{name} cannot be empty"


def url(name: str, value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        return f"{name} should be a web address starting with http:// or https:// (got {value!r})"
    try:
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError:
        return f"{name} has an invalid port (got {value!r})"
    return None


def host(name: str, value: str) -> str | None:
    if _HOST.fullmatch(value):
        return None
    return f"{name} should be a host name such as imap.example.com (got {value!r})"


def port(name: str, value: str) -> str | None:
    if _DIGITS.fullmatch(value) and 1 <= int(value) <= 65535:
        return None
    return f"{name} should be a port number from 1 to 65535 (got {value!r})"


def email(name: str, value: str) -> str | None:
    if _EMAIL.fullmatch(value):
        return None
    return f"{name} should be an e-mail address such as hermes@example.com (got {value!r})"


def matrix_user(name: str, value: str) -> str | None:
    if _MATRIX_USER.fullmatch(value):
        return None
    return f"{name} should be a Matrix user ID such as @hermes:example.org (got {value!r})"


def phone_number(name: str, value: str) -> str | None:
    if _E164.fullmatch(value):
        return None
    return f"{name} should be a phone number in international form, e.g. +4915112345678"


def numeric_id(name: str, value: str) -> str | None:
    if re.fullmatch(r"-?\d+", value):
        return None
    return f"{name} should be a number (got {value!r})"


def any_text(name: str, value: str) -> str | None:
    return None if value.strip() else f"{name} cannot be empty"


def matrix_room(name: str, value: str) -> str | None:
    if re.fullmatch(r"[!#][^\s:]+:[A-Za-z0-9.-]+(:\d{1,5})?", value):
        return None
    return f"{name} should be a room ID (!abc:example.org) or alias (#room:example.org)"


def slack_channel(name: str, value: str) -> str | None:
    if _SLACK_CHANNEL.fullmatch(value):
        return None
    return f"{name} should be a Slack channel ID such as C0123456789 (not its #name)"


def signal_recipient(name: str, value: str) -> str | None:
    if _E164.fullmatch(value) or _UUID.fullmatch(value) or value.startswith("group."):
        return None
    return f"{name} should be a phone number (+4915112345678), a UUID or group.<id>"


# -- lists of user ids ---------------------------------------------------------------------------

_ITEM_RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "numeric": (lambda v: bool(_DIGITS.fullmatch(v)), "numeric user IDs"),
    "email": (lambda v: bool(_EMAIL.fullmatch(v)), "e-mail addresses"),
    "matrix": (lambda v: bool(_MATRIX_USER.fullmatch(v)), "Matrix user IDs (@name:server)"),
    "slack": (lambda v: bool(_SLACK_USER.fullmatch(v)), "Slack member IDs (U0123ABCD)"),
    "signal": (
        lambda v: bool(_E164.fullmatch(v) or _UUID.fullmatch(v)),
        "phone numbers (+4915112345678) or UUIDs",
    ),
    "word": (lambda v: bool(_NO_SPACE.fullmatch(v)), "IDs without spaces"),
}


def split_list(value: str) -> list[str]:
    """ "1, 2,,3" -> ["1", "2", "3"]: the comma-separated form <PREFIX>_ALLOWED_USERS uses."""
    return [item.strip() for item in value.split(",") if item.strip()]


def id_list(kind: str) -> Validator:
    """A comma-separated list whose every item has the shape `kind` names (see _ITEM_RULES)."""
    accepts, described = _ITEM_RULES[kind]

    def check(name: str, value: str) -> str | None:
        bad = [item for item in split_list(value) if not accepts(item)]
        if not bad:
            return None
        shown = ", ".join(repr(item) for item in bad[:3])
        return f"{name} should list {described}, separated by commas (not {shown})"

    return check
