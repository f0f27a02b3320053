"""config.yaml: a fast read for loading, and round-trip edits that keep comments and order.

ruamel.yaml is imported inside the functions: `hermes --help` and a home without a
config.yaml never pay for it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import existing_mode, locked, only_deletions, read_text, real_path, write_atomic
from .errors import ConfigError, syntax_error
from .tree import apply_change, plain


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """The top-level mapping of a YAML document ({} when empty); ConfigError otherwise."""
    from ruamel.yaml import YAML

    data = _load(YAML(typ="safe"), text, source)
    return _top_mapping(data, source)


def read_yaml(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist."""
    text = read_text(path)
    return None if text is None else parse_yaml(text, str(path))


def update_yaml(path: Path, changes: Mapping[str, Any]) -> None:
    """Set or delete (None) dotted keys, keeping comments, order, quoting and unknown keys.

    The file keeps its permission bits (0600 when new); an invalid file raises
    ConfigError and is left untouched.
    """
    path = real_path(path)
    with locked(path):
        _update(path, changes)


def _update(path: Path, changes: Mapping[str, Any]) -> None:
    from ruamel.yaml.comments import CommentedMap

    source = str(path)
    text = read_text(path)
    if text is None and only_deletions(changes):
        return
    text = text or ""
    yaml = _round_trip(text)
    data = _load(yaml, text, source) if text.strip() else None
    header = ""
    if data is None:  # empty or comments only: keep those comments above the new keys
        header = text if not text or text.endswith("\n") else text + "\n"
        data = CommentedMap()
    root = _top_mapping(data, source)
    for key, value in changes.items():
        value = _keep_style(root, key, plain(value))
        if not _replace_list_in_place(root, key, value):
            apply_change(root, key, value, source, CommentedMap, _keep_blank_lines)
    buffer = io.StringIO()
    yaml.dump(root, buffer)
    write_atomic(path, header + buffer.getvalue(), existing_mode(path))


def _load(yaml: Any, text: str, source: str) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "syntax error"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise syntax_error(source, "YAML", reason, line, column) from None
    except YAMLError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise syntax_error(source, "YAML", reason, None, None) from None


def _top_mapping(data: Any, source: str) -> Any:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", "a mapping of keys at the top level", data)
    return data


def _round_trip(text: str) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip mode
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long strings (tokens, URLs)
    mapping, offset = _detect_indent(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    yaml.explicit_start = first.rstrip() == "---"
    return yaml


def _detect_indent(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset of list items) as the file already uses them.

    ruamel.yaml does not remember indentation, so without this an edit would re-indent
    every list of the user's file.
    """
    mapping: int | None = None
    offset: int | None = None
    previous_indent, previous_opens = 0, False
    for raw in text.splitlines():
        stripped = raw.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(stripped)
        if previous_opens and stripped.startswith("- ") and offset is None:
            offset = max(0, indent - previous_indent)
        elif previous_opens and indent > previous_indent and mapping is None:
            mapping = indent - previous_indent
        previous_indent, previous_opens = indent, stripped.rstrip().endswith(":")
    return mapping or 2, offset if offset is not None else 0


# ruamel.yaml keeps the blank lines after an entry in that entry's comment token, so they
# vanish with it. These helpers hand them to a neighbour instead.


def _lookup(root: Any, key: str) -> Any:
    node: Any = root
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _keep_style(root: Any, key: Any, value: Any) -> Any:
    """A new string for a value the user had quoted stays quoted the same way."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if not isinstance(value, str) or not isinstance(key, str):
        return value
    old = _lookup(root, key)
    for style in (DoubleQuotedScalarString, SingleQuotedScalarString):
        if isinstance(old, style):
            return style(value)
    return value


def _replace_list_in_place(root: Any, key: Any, value: Any) -> bool:
    """Edit an existing list where it is, so its comments and spacing survive an append."""
    from ruamel.yaml.comments import CommentedSeq

    old = _lookup(root, key) if isinstance(key, str) else None
    if not isinstance(old, CommentedSeq) or not isinstance(value, list) or not old or not value:
        return False
    blank = _take_blank_lines(old, len(old) - 1)
    for index, item in enumerate(value):
        if index >= len(old):
            old.append(item)
        elif old[index] != item:  # equal items keep their comments and quoting
            old[index] = item
    while len(old) > len(value):
        del old[len(old) - 1]
    _give_blank_lines(old, len(old) - 1, blank)
    return True


def _keep_blank_lines(mapping: Any, name: Any) -> None:
    keys = list(mapping)
    position = keys.index(name)
    blank = _take_blank_lines(mapping, name)
    if position > 0:
        _give_blank_lines(mapping, keys[position - 1], blank)


def _tail(container: Any, key: Any) -> tuple[Any, Any]:
    """The innermost last entry of container[key]: the one whose token ends the block."""
    value = container[key]
    while isinstance(value, (dict, list)) and value:
        container, key = value, (list(value)[-1] if isinstance(value, dict) else len(value) - 1)
        value = container[key]
    return container, key


def _slot(container: Any) -> int:
    # Position of the "after this entry" comment in ruamel's per-item comment lists.
    return 2 if isinstance(container, dict) else 0


def _take_blank_lines(container: Any, key: Any) -> str:
    container, key = _tail(container, key)
    items = getattr(getattr(container, "ca", None), "items", {})
    token = (items.get(key) or [None] * 4)[_slot(container)]
    if token is None or not isinstance(token.value, str) or "\n" not in token.value:
        return ""
    own_line, blank = token.value.split("\n", 1)
    token.value = own_line + "\n"
    return blank


def _give_blank_lines(container: Any, key: Any, blank: str) -> None:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    if not blank:
        return
    container, key = _tail(container, key)
    if not hasattr(container, "ca"):
        return
    entry = container.ca.items.setdefault(key, [None] * 4)
    slot = _slot(container)
    if entry[slot] is None:
        entry[slot] = CommentToken("\n" + blank, CommentMark(0))
    else:
        entry[slot].value = entry[slot].value.rstrip("\n") + "\n" + blank
