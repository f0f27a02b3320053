"""search_files: a regular-expression search over a folder tree, in pure Python.

The walk runs in a thread and is bounded three ways (matches, files looked at, file size), so a
search started at `/` answers in bounded time instead of hanging the turn; when the turn is
interrupted the walk stops at the next file."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError
from hermes_gateway.agent.tools.files import SNIFF_BYTES, arg_int, arg_str

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".tox"}
)  # fmt: skip
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILES = 20_000
MAX_RESULTS = 1000
MAX_TEXT = 300  # characters of a matching line shown


@dataclass
class _Search:
    regex: re.Pattern[str]
    glob: str | None
    max_results: int
    cwd: Path
    max_files: int = MAX_FILES
    stop: threading.Event = field(default_factory=threading.Event)
    hits: list[str] = field(default_factory=list)
    files: int = 0  # files searched
    seen: int = 0  # file names walked past, searched or not
    capped_files: bool = False

    def run(self, root: Path) -> None:
        if root.is_file():
            self._file(root)
            return
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(names):
                if self.stop.is_set() or len(self.hits) >= self.max_results:
                    return
                # Every name counts toward the cap, so a glob that matches little cannot
                # make the walk of a huge tree unbounded.
                self.seen += 1
                if self.seen > self.max_files:
                    self.capped_files = True
                    return
                if not self.glob or fnmatch.fnmatch(name, self.glob):
                    self._file(Path(folder) / name)

    def _file(self, path: Path) -> None:
        self.files += 1
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                return
            data = path.read_bytes()
        except OSError:
            return  # unreadable files are skipped, like grep -s
        if b"\0" in data[:SNIFF_BYTES]:
            return
        shown = self._display(path)
        for number, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), 1):
            if self.regex.search(line):
                text = line.strip()
                if len(text) > MAX_TEXT:
                    text = text[:MAX_TEXT] + "…"
                self.hits.append(f"{shown}:{number}: {text}")
                if len(self.hits) >= self.max_results:
                    return

    def _display(self, path: Path) -> str:
        # Relative to the working directory when inside it, so read_file takes it as is.
        try:
            return str(path.relative_to(self.cwd))
        except ValueError:
            return str(path)


async def search_files(args: dict[str, Any], ctx: ToolContext) -> str:
    pattern = arg_str(args, "pattern", empty=False)
    root = ctx.resolve_path(arg_str(args, "path", default="."))
    glob = arg_str(args, "glob", default="") or None
    max_results = min(arg_int(args, "max_results", 100, minimum=1), MAX_RESULTS)
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ToolError(f"Invalid regular expression {pattern!r}: {exc}.") from None
    if not root.exists():
        raise ToolError(f"No such file or directory: {root}.")
    search = _Search(regex, glob, max_results, ctx.cwd, max_files=MAX_FILES)
    worker = asyncio.ensure_future(asyncio.to_thread(search.run, root))
    try:
        await asyncio.shield(worker)
    except asyncio.CancelledError:
        search.stop.set()  # the thread cannot be cancelled; tell it to stop at the next file
        raise
    return _report(search, pattern, root)


def _report(search: _Search, pattern: str, root: Path) -> str:
    where = f"{root}" + (f" (files matching {search.glob})" if search.glob else "")
    if not search.hits:
        head = f"No matches for /{pattern}/ in {where}; {search.files} files searched."
        lines = [head]
    else:
        lines = [*search.hits]
        if len(search.hits) >= search.max_results:
            lines.append(
                f"[stopped at max_results={search.max_results}; narrow the pattern, path or "
                "glob, or raise max_results]"
            )
    if search.capped_files:
        lines.append(f"[stopped after walking {search.max_files:,} files; narrow the path or glob]")
    return "\n".join(lines)


SEARCH_FILES = Tool(
    name="search_files",
    description=(
        "Search file contents with a Python regular expression; returns `path:line: text`. "
        "Skips .git, node_modules, virtualenvs, binary files and files over 2 MB. Narrow it "
        "with `path` and `glob` (a file-name pattern like *.py)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Regular expression (Python syntax)"},
            "path": {"type": "string", "description": "Folder or file (default: working dir)"},
            "glob": {"type": "string", "description": "Only file names matching this, e.g. *.py"},
            "max_results": {"type": "integer", "minimum": 1, "description": "Default 100"},
        },
        "required": ["pattern"],
    },
    emoji="🔍",
    run=search_files,
    preview=lambda args: str(args.get("pattern", "")),
    concurrent=True,
)

TOOLS: list[Tool] = [SEARCH_FILES]
