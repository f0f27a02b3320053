"""The file tools: read_file, write_file, patch, list_directory.

Paths are relative to the session's working directory. Writes are atomic (a temporary file in the
same folder, then os.replace) and take a checkpoint first, so `/rollback` can undo them. Blocking
file work runs in a thread so a large file never stalls the event loop."""

from __future__ import annotations

import asyncio
import difflib
import os
import stat
from pathlib import Path
from typing import Any

from hermes_gateway.agent.checkpoints import write_atomic_bytes
from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError

MAX_READ_BYTES = 5 * 1024 * 1024
SNIFF_BYTES = 8192  # NUL bytes here mean binary, as git and grep decide it
MAX_LINE_CHARS = 2000
MAX_READ_LINES = 2000
MAX_DIFF_LINES = 150
MAX_ENTRIES = 500


# ---- arguments: the registry checks them against the schema too; a direct call (a test, the
# engine) still gets a clear ToolError instead of a crash on a None ----


def arg_str(args: dict[str, Any], name: str, default: str | None = None, empty: bool = True) -> str:
    value = args.get(name)
    if value is None:
        if default is None:
            raise ToolError(f"Missing required argument `{name}`.")
        return default
    if not isinstance(value, str):
        raise ToolError(f"`{name}` must be a string, not {type(value).__name__}.")
    if not empty and not value:
        raise ToolError(f"`{name}` must not be empty.")
    return value


def arg_int(args: dict[str, Any], name: str, default: int, minimum: int | None = None) -> int:
    value = args.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise ToolError(f"`{name}` must be an integer, not {type(value).__name__}.")
    if minimum is not None and value < minimum:
        raise ToolError(f"`{name}` must be at least {minimum} (got {value}).")
    return value


def arg_bool(args: dict[str, Any], name: str, default: bool) -> bool:
    value = args.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ToolError(f"`{name}` must be true or false, not {type(value).__name__}.")
    return value


# ---- shared helpers ----


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}"
    return ""  # unreachable


def load_bytes(path: Path) -> bytes:
    """A regular text file's bytes, or a ToolError that says why it cannot be read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ToolError(f"No such file: {path}. Check the path with list_directory.") from None
    except OSError as exc:
        raise ToolError(f"Cannot open {path}: {exc.strerror}.") from None
    if stat.S_ISDIR(st.st_mode):
        raise ToolError(f"{path} is a directory, not a file; use list_directory to see inside.")
    if not stat.S_ISREG(st.st_mode):
        raise ToolError(f"{path} is not a regular file (a device, socket or pipe).")
    if st.st_size > MAX_READ_BYTES:
        raise ToolError(
            f"{path} is {human_size(st.st_size)}, over the 5 MB limit of the file tools. "
            "Use search_files to find the lines you need, or the terminal (head, sed -n)."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ToolError(f"Cannot read {path}: {exc.strerror}.") from None
    if b"\0" in data[:SNIFF_BYTES]:
        raise ToolError(
            f"{path} is a binary file (it contains NUL bytes); the file tools handle text only."
        )
    return data


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return lines


async def _checkpoint(ctx: ToolContext, path: Path) -> str:
    """Snapshot before a change; a store failure is reported with the result, not fatal."""
    store = ctx.services.checkpoints
    if store is None:
        return ""
    try:
        await store.snapshot(path, ctx.session_key)
    except ToolError as exc:
        return f"\nWarning: no checkpoint was taken, so /rollback cannot undo this. {exc}"
    return ""


async def _write(path: Path, data: bytes) -> None:
    try:
        await asyncio.to_thread(write_atomic_bytes, path, data)
    except OSError as exc:
        raise ToolError(f"Could not write {path}: {exc.strerror or exc}.") from None


def _target(ctx: ToolContext, args: dict[str, Any]) -> Path:
    # Through a symlink to the file it names: replacing the link itself would break it.
    return Path(os.path.realpath(ctx.resolve_path(arg_str(args, "path", empty=False))))


# ---- read_file ----


async def read_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.resolve_path(arg_str(args, "path", empty=False))
    offset = arg_int(args, "offset", 1, minimum=1)
    limit = min(arg_int(args, "limit", 500, minimum=1), MAX_READ_LINES)
    data = await asyncio.to_thread(load_bytes, path)
    lines = _split_lines(data.decode("utf-8", errors="replace"))
    total = len(lines)
    if total == 0:
        return f"{path} — empty file (0 lines)"
    if offset > total:
        raise ToolError(f"offset {offset} is past the end of {path}, which has {total} lines.")
    end = min(total, offset + limit - 1)
    width = max(4, len(str(end)))
    out = [f"{path} — {total} lines (showing {offset}-{end})"]
    for number in range(offset, end + 1):
        text = lines[number - 1].rstrip("\r")
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + f"… [line cut at {MAX_LINE_CHARS} characters]"
        out.append(f"{number:>{width}}│{text}")
    if end < total:
        out.append(
            f"[truncated: {total - end} more lines; call read_file with offset={end + 1} to go on]"
        )
    return "\n".join(out)


# ---- write_file ----


async def write_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = _target(ctx, args)
    data = arg_str(args, "content").encode("utf-8")
    if path.is_dir():
        raise ToolError(f"{path} is a directory; give the path of a file to write.")
    existed = path.exists()
    note = await _checkpoint(ctx, path)
    await _write(path, data)
    return f"Wrote {len(data)} bytes to {path}" + ("" if existed else " (new file)") + note


# ---- patch ----


async def patch(args: dict[str, Any], ctx: ToolContext) -> str:
    path = _target(ctx, args)
    old = arg_str(args, "old", empty=False)
    new = arg_str(args, "new")
    count = arg_int(args, "count", 1, minimum=1)
    if old == new:
        raise ToolError("`old` and `new` are the same; there is nothing to change.")
    raw = await asyncio.to_thread(load_bytes, path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{path} is not UTF-8 text; patch cannot edit it safely.") from None
    if "\r\n" in text and "\r\n" not in old:
        # A CRLF file edited with the model's LF text: match and write in the file's own style.
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    found = text.count(old)
    if found == 0:
        raise ToolError(f"`old` was not found in {path}. {_closest_hint(text, old)}")
    if found != count:
        if count == 1:
            raise ToolError(
                f"`old` occurs {found} times in {path}. Add surrounding lines to `old` so it "
                f"matches exactly once, or pass count={found} to replace every occurrence."
            )
        raise ToolError(f"`old` occurs {found} times in {path}, not {count}; fix `count`.")
    updated = text.replace(old, new)
    note = await _checkpoint(ctx, path)
    await _write(path, updated.encode("utf-8"))
    diff = await asyncio.to_thread(_diff, text, updated, str(path))
    plural = "s" if found > 1 else ""
    return f"Patched {path} ({found} replacement{plural}).\n{diff}{note}"


def _closest_hint(text: str, old: str) -> str:
    advice = "Read the file again and copy the text exactly, including whitespace."
    needle = next((line.strip() for line in old.split("\n") if line.strip()), "")
    numbered: dict[str, int] = {}
    for number, line in enumerate(text.split("\n")[:20_000], 1):
        numbered.setdefault(line.strip(), number)
    match = difflib.get_close_matches(needle, list(numbered), n=1, cutoff=0.5) if needle else []
    if not match:
        return f"Nothing similar is in the file. {advice}"
    number = numbered[match[0]]
    line = text.split("\n")[number - 1].rstrip("\r")[:200]
    return f"The closest line is {number}: {line!r}. {advice}"


def _diff(before: str, after: str, name: str) -> str:
    lines = list(
        difflib.unified_diff(
            before.split("\n"), after.split("\n"), f"a/{name}", f"b/{name}", lineterm=""
        )
    )
    shown = [line.rstrip("\r")[:500] for line in lines[:MAX_DIFF_LINES]]
    if len(lines) > MAX_DIFF_LINES:
        shown.append(f"… diff truncated: {len(lines) - MAX_DIFF_LINES} more lines")
    return "\n".join(shown)


# ---- list_directory ----


async def list_directory(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.resolve_path(arg_str(args, "path", default="."))
    show_hidden = arg_bool(args, "all", False)
    return await asyncio.to_thread(_listing, path, show_hidden)


def _listing(path: Path, show_hidden: bool) -> str:
    if not path.exists():
        raise ToolError(f"No such directory: {path}.")
    if not path.is_dir():
        raise ToolError(f"{path} is a file, not a directory; use read_file to read it.")
    hidden, entries = 0, []
    try:
        with os.scandir(path) as scan:
            for entry in scan:
                if entry.name.startswith(".") and not show_hidden:
                    hidden += 1
                    continue
                entries.append((not _is_dir(entry), entry.name.lower(), entry))
    except OSError as exc:
        raise ToolError(f"Cannot list {path}: {exc.strerror}.") from None
    entries.sort(key=lambda e: e[:2])
    folders = sum(1 for e in entries if not e[0])
    head = f"{path}: {folders} folders, {len(entries) - folders} files"
    if hidden:
        head += f" ({hidden} hidden; pass all=true to show them)"
    out = [head] + [_describe(entry) for _, _, entry in entries[:MAX_ENTRIES]]
    if len(entries) > MAX_ENTRIES:
        out.append(
            f"… {len(entries) - MAX_ENTRIES} more entries not shown (the list stops at "
            f"{MAX_ENTRIES}); use search_files with a glob to narrow it down."
        )
    return "\n".join(out)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _describe(entry: os.DirEntry) -> str:
    if _is_dir(entry):
        return entry.name + "/"
    try:
        return f"{entry.name}  {human_size(entry.stat().st_size)}"
    except OSError:
        return f"{entry.name}  (broken link)"


def _path_preview(args: dict[str, Any]) -> str:
    return str(args.get("path") or ".")


READ_FILE = Tool(
    name="read_file",
    description=(
        "Read a text file with line numbers. Relative paths start at the working directory. "
        "Reads `limit` lines (default 500, at most 2000) from line `offset` (1-based)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File to read"},
            "offset": {"type": "integer", "minimum": 1, "description": "First line (1-based)"},
            "limit": {"type": "integer", "minimum": 1, "description": "How many lines"},
        },
        "required": ["path"],
    },
    emoji="📖",
    run=read_file,
    preview=_path_preview,
    concurrent=True,
)

WRITE_FILE = Tool(
    name="write_file",
    description=(
        "Create or overwrite a file with `content` (folders are created). Replaces the whole "
        "file; for small edits use patch. The old version is kept for /rollback."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File to write"},
            "content": {"type": "string", "description": "The complete new content"},
        },
        "required": ["path", "content"],
    },
    emoji="✍️",
    run=write_file,
    preview=_path_preview,
)

PATCH = Tool(
    name="patch",
    description=(
        "Edit a file by replacing the exact text `old` with `new`. `old` must occur exactly "
        "`count` times (default 1): include enough surrounding lines to make it unique. "
        "Returns a diff; the old version is kept for /rollback."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File to edit"},
            "old": {"type": "string", "description": "Exact text to replace, with whitespace"},
            "new": {"type": "string", "description": "Replacement text"},
            "count": {
                "type": "integer",
                "minimum": 1,
                "description": "How many occurrences `old` has and all are replaced (default 1)",
            },
        },
        "required": ["path", "old", "new"],
    },
    emoji="🩹",
    run=patch,
    preview=_path_preview,
)

LIST_DIRECTORY = Tool(
    name="list_directory",
    description=(
        "List a folder: folders first (ending in /), then files with sizes. Hidden entries "
        "only with all=true. At most 500 entries."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Folder (default: working directory)"},
            "all": {"type": "boolean", "description": "Include hidden entries"},
        },
    },
    emoji="📁",
    run=list_directory,
    preview=_path_preview,
    concurrent=True,
)

TOOLS: list[Tool] = [READ_FILE, WRITE_FILE, PATCH, LIST_DIRECTORY]
