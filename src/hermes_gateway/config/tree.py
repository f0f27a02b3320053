"""Dotted-path edits on nested mappings, shared by the YAML and JSON writers."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from .errors import ConfigError

# A scalar found where a mapping is needed is promoted instead of refused for these keys:
# Hermes users write `model: "anthropic/claude-…"`, which means `model.default`.
_PROMOTE = {"model": "default"}


def split_key(key: str | tuple[str, ...]) -> tuple[str, ...]:
    """ "a.b.c" -> ("a", "b", "c"); a tuple passes through (for keys that contain dots)."""
    parts = tuple(key) if isinstance(key, tuple) else tuple(key.split("."))
    if not parts or any(not part for part in parts):
        raise ValueError(f"not a valid dotted key: {key!r}")
    return parts


def plain(value: Any) -> Any:
    """Tuples become lists so that every writer can serialise the value."""
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def apply_change(
    root: MutableMapping[Any, Any],
    key: str | tuple[str, ...],
    value: Any,
    source: str,
    new_map: Callable[[], MutableMapping[Any, Any]],
    before_delete: Callable[[MutableMapping[Any, Any], Any], None] | None = None,
) -> None:
    """Set `key` to `value`, or delete it when `value` is None (pruning emptied parents).

    `before_delete(mapping, name)` runs before each deletion (the YAML writer uses it to
    keep the blank lines that followed the deleted entry).
    """
    parts = split_key(key)
    if value is None:
        _delete(root, parts, before_delete or (lambda mapping, name: None))
        return
    node = root
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = new_map()
        elif not isinstance(child, MutableMapping):
            child = _promote(node, parts[: depth + 1], child, source, new_map)
        node = child
    node[parts[-1]] = value


def _promote(
    node: MutableMapping[Any, Any],
    parts: tuple[str, ...],
    child: Any,
    source: str,
    new_map: Callable[[], MutableMapping[Any, Any]],
) -> MutableMapping[Any, Any]:
    dotted = ".".join(parts)
    inner = _PROMOTE.get(dotted)
    if inner is None or isinstance(child, list):
        raise ConfigError(source, dotted, "a mapping", child)
    promoted = new_map()
    promoted[inner] = child
    node[parts[-1]] = promoted
    return promoted


def _delete(
    root: MutableMapping[Any, Any],
    parts: tuple[str, ...],
    before_delete: Callable[[MutableMapping[Any, Any], Any], None],
) -> None:
    chain = [root]
    for part in parts[:-1]:
        child = chain[-1].get(part)
        if not isinstance(child, MutableMapping):
            return  # nothing there to delete
        chain.append(child)
    if parts[-1] not in chain[-1]:
        return
    before_delete(chain[-1], parts[-1])
    del chain[-1][parts[-1]]
    # Drop parents that this deletion left empty, e.g. `platforms: {telegram: {}}`.
    for depth in range(len(chain) - 1, 0, -1):
        if chain[depth]:
            break
        before_delete(chain[depth - 1], parts[depth - 1])
        del chain[depth - 1][parts[depth - 1]]
