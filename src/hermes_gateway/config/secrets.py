"""Which keys hold secrets, and how their values are masked wherever they are shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A key is secret when its last dotted part ends with one of these (case-insensitive),
# e.g. token, bot_token, api_key, OPENAI_API_KEY, client_secret, smtp_password.
_SECRET_SUFFIXES = ("token", "key", "secret", "password")


def is_secret_key(key: str) -> bool:
    """True for keys whose value must never be shown (dotted path or env var name)."""
    last = key.rsplit(".", 1)[-1].lower()
    return last.endswith(_SECRET_SUFFIXES)


def mask(value: Any) -> str:
    """`sk-…abcd` for long strings (enough to tell two keys apart), else `****`."""
    text = value if isinstance(value, str) else str(value)
    if not text:
        return ""
    if len(text) >= 12:
        return f"{text[:3]}…{text[-4:]}"
    return "****"


def mask_tree(value: Any, key: str = "") -> Any:
    """A copy of a nested dict/list with the value of every secret key masked."""
    if isinstance(value, Mapping):
        return {k: mask_tree(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_tree(v, key) for v in value]
    if key and is_secret_key(key) and value not in (None, ""):
        return mask(value)
    return value


def redact(text: str, *secrets: str) -> str:
    """`text` with every secret replaced: SDKs and HTTP clients echo URLs and parameters that
    carry tokens into their error messages."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text
