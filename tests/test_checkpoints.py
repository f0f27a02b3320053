"""Filesystem checkpoints: a shadow git store under HERMES_HOME that /rollback restores from,
driven through the real write_file and patch tools and the real git CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hermes_gateway.agent.checkpoints import Checkpoint, CheckpointError, Checkpoints, describe
from hermes_gateway.agent.services import AgentServices
from hermes_gateway.agent.tools.base import ToolContext, ToolError
from hermes_gateway.agent.tools.files import PATCH, WRITE_FILE
from hermes_gateway.home import HermesHome

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

SESSION = "console:dm:local"
GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=User", "-c", "user.email=u@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
        env=GIT_ENV,
    ).stdout


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 60
        return self.now


@pytest.fixture
def home(tmp_path: Path) -> HermesHome:
    return HermesHome(tmp_path / "home").ensure()


@pytest.fixture
def store(home: HermesHome) -> Checkpoints:
    return Checkpoints(home.root / "checkpoints", clock=Clock())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The user's own git repository, used as the session's working directory."""
    repo = tmp_path / "work"
    repo.mkdir()
    repo = repo.resolve()  # checkpoints name real paths (a symlinked /tmp would differ)
    git(repo, "init", "-q")
    (repo / "app.txt").write_text("original\n")
    git(repo, "add", "app.txt")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def context(home: HermesHome, store: Checkpoints | None, cwd: Path, session=SESSION):
    services = AgentServices(home=home, checkpoints=store)
    return ToolContext(services=services, session_key=session, cwd=cwd)


async def test_restore_walks_back_through_write_and_patch(home, store, project) -> None:
    ctx = context(home, store, project)
    target = project / "app.txt"
    await WRITE_FILE.run({"path": "app.txt", "content": "written\n"}, ctx)
    await PATCH.run({"path": "app.txt", "old": "written", "new": "patched"}, ctx)
    assert target.read_text() == "patched\n"

    restored = await store.restore(1, SESSION)
    assert target.read_text() == "written\n"
    assert restored.path == target and restored.existed

    await store.restore(2, SESSION)
    assert target.read_text() == "original\n"


async def test_user_repository_is_untouched(home, store, project, monkeypatch) -> None:
    # Even a GIT_DIR in the gateway's environment must not lead the store into the user's repo.
    monkeypatch.setenv("GIT_DIR", str(project / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(project))
    head = git(project, "rev-parse", "HEAD")
    ctx = context(home, store, project)
    await WRITE_FILE.run({"path": "app.txt", "content": "changed\n"}, ctx)
    await WRITE_FILE.run({"path": "new.txt", "content": "new\n"}, ctx)
    assert len(await store.list()) == 2
    await store.restore(1)
    await store.restore(2)

    assert git(project, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "rev-list", "--all", "--count").strip() == "1"
    assert git(project, "stash", "list") == ""
    assert not (project / ".git" / "refs" / "heads" / "checkpoints").exists()
    assert (home.root / "checkpoints" / "HEAD").is_file()  # the store is a bare repo of its own


async def test_rolling_back_a_new_file_deletes_it(home, store, project) -> None:
    ctx = context(home, store, project)
    await WRITE_FILE.run({"path": "notes/todo.md", "content": "- one\n"}, ctx)
    [checkpoint] = await store.list(SESSION)
    assert not checkpoint.existed
    await store.restore(1, SESSION)
    assert not (project / "notes" / "todo.md").exists()


async def test_restore_recreates_a_deleted_file_with_its_mode(home, store, project) -> None:
    script = project / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    await store.snapshot(script, SESSION)
    script.unlink()
    await store.restore(1)
    assert script.read_text() == "#!/bin/sh\necho hi\n"
    assert os.access(script, os.X_OK)


async def test_list_numbers_newest_first_and_filters_by_session(home, store, project) -> None:
    await store.snapshot(project / "app.txt", "telegram:dm:1")
    await store.snapshot(project / "b.txt", SESSION)
    await store.snapshot(project / "c.txt", "telegram:dm:10")  # "…:1" must not match "…:10"
    everything = await store.list()
    assert [c.path.name for c in everything] == ["c.txt", "b.txt", "app.txt"]
    assert [c.number for c in everything] == [1, 2, 3]
    assert everything[0].created_at > everything[2].created_at
    mine = await store.list("telegram:dm:1")
    assert [(c.number, c.path.name, c.session_key) for c in mine] == [
        (1, "app.txt", "telegram:dm:1")
    ]
    assert len(await store.list(limit=2)) == 2
    # Restore numbers count within the session, like the list the user saw.
    (project / "app.txt").write_text("edited\n")
    await store.restore(1, "telegram:dm:1")
    assert (project / "app.txt").read_text() == "original\n"


async def test_describe_lists_numbered_checkpoints() -> None:
    items = [
        Checkpoint(1, "a" * 40, Path("/w/new.txt"), 1_700_000_000.0, False, SESSION),
        Checkpoint(2, "b" * 40, Path("/w/app.txt"), 1_699_999_000.0, True, SESSION),
    ]
    text = describe(items)
    lines = text.splitlines()
    assert lines[1].startswith("1. ") and "/w/new.txt" in lines[1] and "deletes" in lines[1]
    assert lines[2].startswith("2. ") and "/w/app.txt" in lines[2]
    assert "/rollback <number>" in lines[-1]
    assert "No checkpoints yet" in describe([])
    assert Checkpoints.describe(items) == text


async def test_restore_with_a_bad_number_says_so(store, project) -> None:
    with pytest.raises(ToolError, match="no checkpoint 1"):
        await store.restore(1)
    await store.snapshot(project / "app.txt", SESSION)
    with pytest.raises(ToolError, match=r"no checkpoint 3 \(there are only 1\)"):
        await store.restore(3, SESSION)
    with pytest.raises(ToolError, match="no checkpoint 1"):
        await store.restore(1, "another:session")
    for bad in (0, -2, "1", True):
        with pytest.raises(ToolError, match="not a checkpoint number"):
            await store.restore(bad)
    with pytest.raises(CheckpointError, match="directory"):
        await store.snapshot(project, SESSION)


async def test_missing_git_is_a_clear_error_and_writes_still_happen(
    home, project, tmp_path, monkeypatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    store = Checkpoints(home.root / "checkpoints")
    with pytest.raises(CheckpointError, match="need the `git` command"):
        await store.snapshot(project / "app.txt", SESSION)
    with pytest.raises(CheckpointError, match="need the `git` command"):
        await store.list()
    out = await WRITE_FILE.run({"path": "app.txt", "content": "x\n"}, context(home, store, project))
    assert (project / "app.txt").read_text() == "x\n"
    assert "no checkpoint was taken" in out and "git" in out
