"""Merging configuration layers while remembering where every key came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .envmap import env_overrides


@dataclass
class Merged:
    """The merged tree and, per dotted key, where its value came from."""

    tree: dict[str, Any] = field(default_factory=dict)
    leaves: dict[str, str] = field(default_factory=dict)  # dotted leaf key -> source
    containers: dict[str, str] = field(default_factory=dict)  # dotted mapping key -> last source
    env_names: dict[str, str] = field(default_factory=dict)  # dotted key -> variable name

    def source(self, key: str) -> str:
        """The source of a key, or of its nearest recorded parent."""
        while key:
            found = self.leaves.get(key) or self.containers.get(key)
            if found:
                return found
            key = key.rpartition(".")[0]
        return "default"

    def add_layer(self, layer: Mapping[Any, Any], source: str) -> None:
        _merge(self.tree, _normalise(layer), "", source, self)

    def add_env(self, environ: Mapping[str, str], source: str) -> None:
        for key, (value, variable) in env_overrides(environ).items():
            _forget(self, key)
            if _set_leaf(self.tree, key.split("."), value):
                self.leaves[key] = source
                self.env_names[key] = variable


def _normalise(layer: Mapping[Any, Any]) -> Mapping[Any, Any]:
    # `model: "anthropic/claude-…"` (the Hermes shorthand) means model.default, so that a
    # provider set in another layer still composes with it.
    model = layer.get("model")
    if isinstance(model, str):
        return {**layer, "model": {"default": model}}
    return layer


def _merge(
    dst: dict[Any, Any], src: Mapping[Any, Any], prefix: str, source: str, merged: Merged
) -> None:
    for name, value in src.items():
        key = f"{prefix}{name}"
        current = dst.get(name)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merged.containers[key] = source
            _merge(current, value, key + ".", source, merged)
            continue
        _forget(merged, key)  # a lower layer's keys under this one no longer apply
        dst[name] = _record(value, key, source, merged)


def _record(value: Any, key: str, source: str, merged: Merged) -> Any:
    """A private copy of `value`, recording the source of every key inside it."""
    if isinstance(value, Mapping):
        merged.containers[key] = source
        return {name: _record(v, f"{key}.{name}", source, merged) for name, v in value.items()}
    merged.leaves[key] = source
    return list(value) if isinstance(value, list) else value


def _forget(merged: Merged, key: str) -> None:
    prefix = key + "."
    for table in (merged.leaves, merged.containers):
        for stale in [k for k in table if k == key or k.startswith(prefix)]:
            del table[stale]


def _set_leaf(tree: dict[str, Any], parts: list[str], value: str) -> bool:
    """Set a nested value; False (and nothing set) when a non-mapping is in the way,
    which validation then reports against the file that put it there."""
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return False
        node = child
    node[parts[-1]] = value
    return True
