"""The file tools (read_file, write_file, patch, list_directory) and search_files, on real files
under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hermes_gateway.agent.services import AgentServices
from hermes_gateway.agent.tools import files, search
from hermes_gateway.agent.tools.base import ToolContext, ToolError
from hermes_gateway.agent.tools.files import LIST_DIRECTORY, PATCH, READ_FILE, WRITE_FILE
from hermes_gateway.agent.tools.search import SEARCH_FILES
from hermes_gateway.home import HermesHome


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    work = tmp_path / "work"
    work.mkdir()
    work = work.resolve()  # results name real paths (a symlinked /tmp would differ)
    services = AgentServices(home=HermesHome(tmp_path / "home").ensure())
    return ToolContext(services=services, session_key="console:dm:local", cwd=work)


def test_every_tool_is_exported_with_emoji_and_preview() -> None:
    assert [t.name for t in files.TOOLS] == ["read_file", "write_file", "patch", "list_directory"]
    assert [t.name for t in search.TOOLS] == ["search_files"]
    for tool in [*files.TOOLS, *search.TOOLS]:
        assert tool.emoji
        assert tool.schema()["function"]["parameters"]["type"] == "object"
    assert READ_FILE.concurrent and LIST_DIRECTORY.concurrent and SEARCH_FILES.concurrent
    assert not WRITE_FILE.concurrent and not PATCH.concurrent
    assert READ_FILE.preview({"path": "a.txt"}) == "a.txt"
    assert SEARCH_FILES.preview({"pattern": "TODO"}) == "TODO"


# ---- read_file ----


async def test_read_file_numbers_lines_and_states_the_total(ctx: ToolContext) -> None:
    (ctx.cwd / "notes.txt").write_text("alpha\nbeta\ngamma\n")
    out = await READ_FILE.run({"path": "notes.txt"}, ctx)
    lines = out.splitlines()
    assert "3 lines" in lines[0] and str(ctx.cwd / "notes.txt") in lines[0]
    assert lines[1:] == ["   1│alpha", "   2│beta", "   3│gamma"]
    assert "truncated" not in out


async def test_read_file_window_says_how_to_continue(ctx: ToolContext) -> None:
    (ctx.cwd / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    out = await READ_FILE.run({"path": "long.txt", "offset": 10, "limit": 5}, ctx)
    assert "1000 lines" in out
    assert "  10│line 10" in out and "  14│line 14" in out and "line 15" not in out
    assert "offset=15" in out.splitlines()[-1]
    default = await READ_FILE.run({"path": "long.txt"}, ctx)
    assert " 500│line 500" in default and "line 501" not in default and "offset=501" in default


async def test_read_file_handles_empty_files_and_crlf(ctx: ToolContext) -> None:
    (ctx.cwd / "empty.txt").write_text("")
    assert "empty file" in await READ_FILE.run({"path": "empty.txt"}, ctx)
    (ctx.cwd / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    out = await READ_FILE.run({"path": "dos.txt"}, ctx)
    assert out.splitlines()[1:] == ["   1│one", "   2│two"]


async def test_read_file_missing_file_names_the_path(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="No such file") as err:
        await READ_FILE.run({"path": "nope.txt"}, ctx)
    assert str(ctx.cwd / "nope.txt") in str(err.value)


async def test_read_file_refuses_directories_binaries_and_huge_files(ctx: ToolContext) -> None:
    (ctx.cwd / "sub").mkdir()
    with pytest.raises(ToolError, match="is a directory"):
        await READ_FILE.run({"path": "sub"}, ctx)
    (ctx.cwd / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ToolError, match="binary"):
        await READ_FILE.run({"path": "image.bin"}, ctx)
    with open(ctx.cwd / "huge.log", "wb") as handle:  # sparse: 6 MB without writing 6 MB
        handle.truncate(6 * 1024 * 1024)
    with pytest.raises(ToolError, match="5 MB"):
        await READ_FILE.run({"path": "huge.log"}, ctx)


async def test_read_file_rejects_bad_arguments(ctx: ToolContext) -> None:
    (ctx.cwd / "a.txt").write_text("x\n")
    with pytest.raises(ToolError, match="path"):
        await READ_FILE.run({}, ctx)
    with pytest.raises(ToolError, match="must be a string"):
        await READ_FILE.run({"path": 7}, ctx)
    with pytest.raises(ToolError, match="at least 1"):
        await READ_FILE.run({"path": "a.txt", "offset": 0}, ctx)
    with pytest.raises(ToolError, match="integer"):
        await READ_FILE.run({"path": "a.txt", "limit": "ten"}, ctx)
    with pytest.raises(ToolError, match="past the end"):
        await READ_FILE.run({"path": "a.txt", "offset": 5}, ctx)


# ---- write_file ----


async def test_write_file_creates_folders_and_says_new_file(ctx: ToolContext) -> None:
    out = await WRITE_FILE.run({"path": "deep/er/hello.txt", "content": "héllo\n"}, ctx)
    target = ctx.cwd / "deep" / "er" / "hello.txt"
    assert target.read_text() == "héllo\n"
    assert out == f"Wrote 7 bytes to {target} (new file)"


async def test_write_file_replaces_atomically_and_keeps_permissions(ctx: ToolContext) -> None:
    target = ctx.cwd / "secret.env"
    target.write_text("OLD=1\n")
    target.chmod(0o600)
    out = await WRITE_FILE.run({"path": "secret.env", "content": "NEW=2\n"}, ctx)
    assert out == f"Wrote 6 bytes to {target}"
    assert target.read_text() == "NEW=2\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in ctx.cwd.iterdir()) == ["secret.env"]  # no temp file left


async def test_write_file_writes_through_a_symlink(ctx: ToolContext) -> None:
    real = ctx.cwd / "real.txt"
    real.write_text("a")
    (ctx.cwd / "link.txt").symlink_to(real)
    await WRITE_FILE.run({"path": "link.txt", "content": "b"}, ctx)
    assert (ctx.cwd / "link.txt").is_symlink()
    assert real.read_text() == "b"


async def test_write_file_rejects_bad_input(ctx: ToolContext) -> None:
    (ctx.cwd / "folder").mkdir()
    with pytest.raises(ToolError, match="is a directory"):
        await WRITE_FILE.run({"path": "folder", "content": "x"}, ctx)
    with pytest.raises(ToolError, match="content"):
        await WRITE_FILE.run({"path": "a.txt"}, ctx)
    with pytest.raises(ToolError, match="must be a string"):
        await WRITE_FILE.run({"path": "a.txt", "content": ["x"]}, ctx)
    with pytest.raises(ToolError, match="must not be empty"):
        await WRITE_FILE.run({"path": "", "content": "x"}, ctx)
    (ctx.cwd / "plain").write_text("a file, not a folder")
    with pytest.raises(ToolError, match="Could not write"):
        await WRITE_FILE.run({"path": "plain/child.txt", "content": "x"}, ctx)


# ---- patch ----


async def test_patch_replaces_once_and_returns_a_diff(ctx: ToolContext) -> None:
    target = ctx.cwd / "app.py"
    target.write_text("def main():\n    print('hi')\n    return 0\n")
    out = await PATCH.run({"path": "app.py", "old": "print('hi')", "new": "print('bye')"}, ctx)
    assert target.read_text() == "def main():\n    print('bye')\n    return 0\n"
    assert out.startswith(f"Patched {target} (1 replacement).")
    assert "-    print('hi')" in out and "+    print('bye')" in out
    assert f"--- a/{target}" in out


async def test_patch_not_found_points_at_the_closest_line(ctx: ToolContext) -> None:
    (ctx.cwd / "app.py").write_text("import os\n\ndef handler(event, context):\n    pass\n")
    with pytest.raises(ToolError, match="not found") as err:
        await PATCH.run({"path": "app.py", "old": "def handler(evt, context):", "new": "x"}, ctx)
    assert "closest line is 3" in str(err.value)
    assert "def handler(event, context):" in str(err.value)


async def test_patch_with_several_matches_asks_for_context(ctx: ToolContext) -> None:
    target = ctx.cwd / "cfg.ini"
    target.write_text("debug = false\nx = 1\ndebug = false\ny = 2\ndebug = false\n")
    with pytest.raises(ToolError, match="occurs 3 times") as err:
        await PATCH.run({"path": "cfg.ini", "old": "debug = false", "new": "debug = true"}, ctx)
    assert "surrounding lines" in str(err.value) and "count=3" in str(err.value)
    with pytest.raises(ToolError, match="not 2"):
        await PATCH.run({"path": "cfg.ini", "old": "debug = false", "new": "d", "count": 2}, ctx)
    out = await PATCH.run(
        {"path": "cfg.ini", "old": "debug = false", "new": "debug = true", "count": 3}, ctx
    )
    assert "3 replacements" in out
    assert target.read_text().count("debug = true") == 3


async def test_patch_keeps_crlf_line_endings(ctx: ToolContext) -> None:
    target = ctx.cwd / "win.txt"
    target.write_bytes(b"first\r\nsecond\r\nthird\r\n")
    await PATCH.run({"path": "win.txt", "old": "first\nsecond", "new": "1st\n2nd"}, ctx)
    assert target.read_bytes() == b"1st\r\n2nd\r\nthird\r\n"


async def test_patch_rejects_bad_input(ctx: ToolContext) -> None:
    (ctx.cwd / "a.txt").write_text("hello\n")
    (ctx.cwd / "dir").mkdir()
    (ctx.cwd / "blob.bin").write_bytes(b"hello\x00world")
    (ctx.cwd / "latin1.txt").write_bytes(b"caf\xe9 hello\n")
    cases = [
        ({"path": "missing.txt", "old": "a", "new": "b"}, "No such file"),
        ({"path": "dir", "old": "a", "new": "b"}, "is a directory"),
        ({"path": "blob.bin", "old": "hello", "new": "b"}, "binary"),
        ({"path": "latin1.txt", "old": "hello", "new": "b"}, "not UTF-8"),
        ({"path": "a.txt", "old": "", "new": "b"}, "must not be empty"),
        ({"path": "a.txt", "new": "b"}, "old"),
        ({"path": "a.txt", "old": "hello", "new": "hello"}, "nothing to change"),
        ({"path": "a.txt", "old": "hello", "new": 5}, "must be a string"),
        ({"path": "a.txt", "old": "hello", "new": "x", "count": 0}, "at least 1"),
        ({"path": "a.txt", "old": "hello", "new": "x", "count": True}, "integer"),
    ]
    for args, message in cases:
        with pytest.raises(ToolError, match=message):
            await PATCH.run(args, ctx)
    assert (ctx.cwd / "a.txt").read_text() == "hello\n"


async def test_patch_diff_is_truncated_for_large_changes(ctx: ToolContext) -> None:
    body = "".join(f"row {i}\n" for i in range(400))
    (ctx.cwd / "big.txt").write_text(f"START\n{body}END\n")
    out = await PATCH.run({"path": "big.txt", "old": f"START\n{body}END", "new": body.upper()}, ctx)
    assert "diff truncated" in out
    assert len(out.splitlines()) < 160


# ---- list_directory ----


async def test_list_directory_folders_first_with_sizes(ctx: ToolContext) -> None:
    (ctx.cwd / "src").mkdir()
    (ctx.cwd / "Docs").mkdir()
    (ctx.cwd / "b.txt").write_text("x" * 2048)
    (ctx.cwd / "a.txt").write_text("hi")
    (ctx.cwd / ".env").write_text("SECRET=1")
    out = await LIST_DIRECTORY.run({}, ctx)
    lines = out.splitlines()
    assert "2 folders, 2 files" in lines[0] and "1 hidden" in lines[0]
    assert lines[1:] == ["Docs/", "src/", "a.txt  2 B", "b.txt  2.0 KB"]
    shown = await LIST_DIRECTORY.run({"path": ".", "all": True}, ctx)
    assert ".env  8 B" in shown.splitlines()


async def test_list_directory_caps_the_listing(ctx: ToolContext) -> None:
    for i in range(510):
        (ctx.cwd / f"f{i:04d}.txt").touch()
    out = await LIST_DIRECTORY.run({"path": str(ctx.cwd)}, ctx)
    assert len(out.splitlines()) == 1 + 500 + 1
    assert "10 more entries not shown" in out


async def test_list_directory_rejects_files_and_missing_paths(ctx: ToolContext) -> None:
    (ctx.cwd / "a.txt").write_text("x")
    with pytest.raises(ToolError, match="is a file"):
        await LIST_DIRECTORY.run({"path": "a.txt"}, ctx)
    with pytest.raises(ToolError, match="No such directory"):
        await LIST_DIRECTORY.run({"path": "ghost"}, ctx)
    with pytest.raises(ToolError, match="true or false"):
        await LIST_DIRECTORY.run({"all": "yes"}, ctx)


# ---- search_files ----


def _tree(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "core.py").write_text("import os\n# TODO: split\ndef run():\n    pass\n")
    (root / "pkg" / "notes.md").write_text("TODO list\n")
    for skipped in (".git", "node_modules", ".venv", "__pycache__"):
        (root / skipped).mkdir()
        (root / skipped / "x.py").write_text("# TODO hidden\n")
    (root / "data.bin").write_bytes(b"\x00TODO binary")


async def test_search_files_reports_path_line_and_text(ctx: ToolContext) -> None:
    _tree(ctx.cwd)
    out = await SEARCH_FILES.run({"pattern": r"TODO"}, ctx)
    assert out.splitlines() == ["pkg/core.py:2: # TODO: split", "pkg/notes.md:1: TODO list"]


async def test_search_files_glob_path_and_single_file(ctx: ToolContext) -> None:
    _tree(ctx.cwd)
    out = await SEARCH_FILES.run({"pattern": "TODO", "glob": "*.py"}, ctx)
    assert out == "pkg/core.py:2: # TODO: split"
    out = await SEARCH_FILES.run({"pattern": r"^def \w+", "path": "pkg/core.py"}, ctx)
    assert out == "pkg/core.py:3: def run():"
    outside = ctx.cwd.parent / "elsewhere"
    outside.mkdir()
    (outside / "f.txt").write_text("needle\n")
    out = await SEARCH_FILES.run({"pattern": "needle", "path": str(outside)}, ctx)
    assert out == f"{outside / 'f.txt'}:1: needle"


async def test_search_files_skips_files_over_2_mb(ctx: ToolContext) -> None:
    (ctx.cwd / "big.log").write_text("needle\n" * (2 * 1024 * 1024 // 7 + 10))
    (ctx.cwd / "small.log").write_text("needle\n")
    out = await SEARCH_FILES.run({"pattern": "needle"}, ctx)
    assert out == "small.log:1: needle"


async def test_search_files_stops_at_max_results(ctx: ToolContext) -> None:
    (ctx.cwd / "many.txt").write_text("hit\n" * 50)
    out = await SEARCH_FILES.run({"pattern": "hit", "max_results": 5}, ctx)
    lines = out.splitlines()
    assert lines[:5] == [f"many.txt:{i}: hit" for i in range(1, 6)]
    assert "max_results=5" in lines[5] and len(lines) == 6


async def test_search_files_caps_the_walk(ctx: ToolContext, monkeypatch) -> None:
    monkeypatch.setattr(search, "MAX_FILES", 10)
    for i in range(30):
        (ctx.cwd / f"f{i:02d}.txt").write_text("nothing\n")
    out = await SEARCH_FILES.run({"pattern": "needle"}, ctx)
    assert "No matches" in out and "10 files searched" in out
    assert "stopped after walking 10 files" in out


async def test_search_files_no_match_and_bad_input(ctx: ToolContext) -> None:
    (ctx.cwd / "a.txt").write_text("hello\n")
    assert "No matches for /absent/" in await SEARCH_FILES.run({"pattern": "absent"}, ctx)
    with pytest.raises(ToolError, match="Invalid regular expression") as err:
        await SEARCH_FILES.run({"pattern": "foo("}, ctx)
    assert "missing )" in str(err.value)
    with pytest.raises(ToolError, match="pattern"):
        await SEARCH_FILES.run({}, ctx)
    with pytest.raises(ToolError, match="must be a string"):
        await SEARCH_FILES.run({"pattern": 3}, ctx)
    with pytest.raises(ToolError, match="No such file or directory"):
        await SEARCH_FILES.run({"pattern": "x", "path": "ghost"}, ctx)
    with pytest.raises(ToolError, match="integer"):
        await SEARCH_FILES.run({"pattern": "x", "max_results": 2.5}, ctx)


async def test_unreadable_files_are_reported_or_skipped(ctx: ToolContext) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    locked = ctx.cwd / "locked.txt"
    locked.write_text("needle\n")
    locked.chmod(0)
    try:
        with pytest.raises(ToolError, match="Cannot read"):
            await READ_FILE.run({"path": "locked.txt"}, ctx)
        assert "No matches" in await SEARCH_FILES.run({"pattern": "needle"}, ctx)
    finally:
        locked.chmod(0o644)
