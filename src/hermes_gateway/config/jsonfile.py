"""gateway.json: reading for the loader, and order-preserving edits (2-space indent)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import existing_mode, locked, only_deletions, read_text, real_path, write_atomic
from .errors import ConfigError, syntax_error
from .tree import apply_change, plain


def parse_json(text: str, source: str) -> dict[str, Any]:
    """The top-level object of a JSON document ({} for an empty file); ConfigError otherwise."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise syntax_error(source, "JSON", exc.msg, exc.lineno, exc.colno) from None
    if not isinstance(data, dict):
        raise ConfigError(source, "", "a JSON object at the top level", data)
    return data


def read_json(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist."""
    text = read_text(path)
    return None if text is None else parse_json(text, str(path))


def update_json(path: Path, changes: Mapping[str, Any]) -> None:
    """Set or delete (None) dotted keys; key order is kept, the file keeps its mode (0600 new)."""
    path = real_path(path)
    with locked(path):
        _update(path, changes)


def _update(path: Path, changes: Mapping[str, Any]) -> None:
    source = str(path)
    text = read_text(path)
    if text is None and only_deletions(changes):
        return
    data = parse_json(text or "", source)
    for key, value in changes.items():
        apply_change(data, key, plain(value), source, dict)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, text, existing_mode(path))
