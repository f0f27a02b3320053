"""Filesystem checkpoints: what a file held before the agent changed it, so `/rollback` can put it
back.

The store is a bare git repository of its own at `root` (HERMES_HOME/checkpoints). Each checkpoint
is one commit on `refs/heads/checkpoints`, made with plumbing commands only (hash-object, mktree,
commit-tree, update-ref): its tree holds the old content as the blob `content` (no entry when the
file did not exist yet) and its message carries the metadata as JSON-valued lines. The commits form
one chain, newest first, so numbering is a walk from the tip. Every git call names the store with
`--git-dir` and runs with a scrubbed environment, so the user's own repositories are never read or
written, whatever GIT_* variables the gateway was started with."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hermes_gateway.agent.tools.base import ToolError

REF = "refs/heads/checkpoints"
_NAME, _EMAIL = "Hermes Checkpoints", "checkpoints@hermes.invalid"


class CheckpointError(ToolError):
    """The store could not record or restore a checkpoint; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    number: int  # 1 = newest (within the session, when listed for one)
    id: str  # the commit id in the shadow store
    path: Path  # the file, absolute
    created_at: float  # when the snapshot was taken (before the change)
    existed: bool  # False: the change created the file, so restoring deletes it
    session_key: str = ""


def describe(checkpoints: list[Checkpoint]) -> str:
    """The numbered list `/rollback` shows."""
    if not checkpoints:
        return (
            "No checkpoints yet. One is taken automatically each time write_file or patch "
            "changes a file."
        )
    lines = ["Checkpoints (newest first):"]
    for c in checkpoints:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.created_at))
        what = (
            "before it was changed" if c.existed else "before it was created (restore deletes it)"
        )
        lines.append(f"{c.number}. {when}  {c.path}  — {what}")
    lines.append("Restore one with /rollback <number>.")
    return "\n".join(lines)


class Checkpoints:
    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.clock = clock
        self._git: str | None = None
        self._ready = False
        self._lock = asyncio.Lock()  # one writer of the chain at a time

    describe = staticmethod(describe)

    async def snapshot(self, path: Path, session_key: str) -> None:
        """Record the file's current content (or that it does not exist) before a change."""
        path = Path(os.path.abspath(path))
        if path.is_dir():
            raise CheckpointError(f"{path} is a directory; only files can be checkpointed.")
        now = self.clock()
        async with self._lock:
            await self._ensure_store()
            existed = path.exists()
            if existed:
                blob = (
                    await self._run("hash-object", "-w", "--no-filters", "--", str(path))
                ).strip()
                mode = "100755" if os.access(path, os.X_OK) else "100644"
                tree_input = f"{mode} blob {blob.decode()}\tcontent\n".encode()
            else:
                tree_input = b""
            tree = (await self._run("mktree", stdin=tree_input)).decode().strip()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            message = (
                f"{stamp} {json.dumps(session_key)} {json.dumps(str(path))}\n\n"
                f"Path: {json.dumps(str(path))}\n"
                f"Session: {json.dumps(session_key)}\n"
                f"Existed: {json.dumps(existed)}\n"
                f"Created: {json.dumps(now)}\n"
            )
            parent = await self._tip()
            args = ["commit-tree", "--no-gpg-sign", tree, "-F", "-"]
            if parent:
                args[3:3] = ["-p", parent]
            date = f"@{int(now)} +0000"
            env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
            commit = (await self._run(*args, stdin=message.encode(), env=env)).decode().strip()
            # The old value makes the update a compare-and-swap against another writer.
            await self._run("update-ref", REF, commit, parent or "0" * 40)

    async def list(self, session_key: str | None = None, limit: int = 20) -> list[Checkpoint]:
        """Newest first, numbered from 1; only the session's own when session_key is given."""
        if limit < 1:
            return []
        await self._ensure_store()
        if not await self._tip():
            return []
        args = ["log", "--format=%H%x1f%B%x1e", f"--max-count={limit}", REF]
        if session_key is not None:
            # JSON quotes make the match exact: "a:b" never matches "a:bc".
            args[2:2] = ["--fixed-strings", f"--grep=Session: {json.dumps(session_key)}"]
        out = (await self._run(*args)).decode()
        found: list[Checkpoint] = []
        for record in out.split("\x1e"):
            if "\x1f" not in record:
                continue
            commit, body = record.strip().split("\x1f", 1)
            meta = _parse_meta(body)
            if session_key is not None and meta.get("Session") != session_key:
                continue
            found.append(
                Checkpoint(
                    number=len(found) + 1,
                    id=commit,
                    path=Path(meta["Path"]),
                    created_at=float(meta["Created"]),
                    existed=bool(meta["Existed"]),
                    session_key=meta["Session"],
                )
            )
        return found

    async def restore(self, number: int, session_key: str | None = None) -> Checkpoint:
        """Put the file of checkpoint `number` back as it was before that change."""
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise CheckpointError(
                f"{number!r} is not a checkpoint number; use /rollback to list them (1 = newest)."
            )
        found = await self.list(session_key, limit=number)
        if len(found) < number:
            have = f"only {len(found)}" if found else "none"
            raise CheckpointError(
                f"There is no checkpoint {number} (there are {have}); use /rollback to list them."
            )
        chosen = found[number - 1]
        if chosen.existed:
            tree = (await self._run("ls-tree", chosen.id, "content")).decode().split()
            data = await self._run("cat-file", "blob", f"{chosen.id}:content")
            new_mode = 0o777 if tree and tree[0] == "100755" else 0o666
            await asyncio.to_thread(write_atomic_bytes, chosen.path, data, new_mode)
        else:
            await asyncio.to_thread(_delete, chosen.path)
        return chosen

    async def _tip(self) -> str | None:
        try:
            return (await self._run("rev-parse", "--verify", "-q", REF)).decode().strip() or None
        except CheckpointError:
            return None

    async def _ensure_store(self) -> None:
        if self._ready:
            return
        if self._git is None:
            self._git = shutil.which("git")
            if self._git is None:
                raise CheckpointError(
                    "Checkpoints need the `git` command, which is not installed (not on PATH). "
                    "Install git (e.g. `apt install git`) to use checkpoints and /rollback."
                )
        if not (self.root / "HEAD").exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            await self._run("init", "--bare", "--quiet")
        await self._run("config", "user.name", _NAME)
        await self._run("config", "user.email", _EMAIL)
        self._ready = True

    async def _run(self, *args: str, stdin: bytes | None = None, env: dict | None = None) -> bytes:
        if self._git is None:
            raise CheckpointError("The checkpoint store is not initialised.")
        full_env = _clean_env()
        full_env.update(env or {})
        proc = await asyncio.create_subprocess_exec(
            self._git,
            f"--git-dir={self.root}",
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.root if self.root.exists() else None,
            env=full_env,
        )
        out, err = await proc.communicate(stdin)
        if proc.returncode != 0:
            reason = err.decode(errors="replace").strip().splitlines()
            raise CheckpointError(
                f"The checkpoint store ({self.root}) failed on `git {args[0]}`: "
                f"{reason[-1] if reason else 'exit ' + str(proc.returncode)}"
            )
        return out


def _clean_env() -> dict[str, str]:
    """The gateway's environment without anything that could point git at another repository or
    pull in the user's git configuration (hooks, signing, templates)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME=_NAME,
        GIT_AUTHOR_EMAIL=_EMAIL,
        GIT_COMMITTER_NAME=_NAME,
        GIT_COMMITTER_EMAIL=_EMAIL,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    return env


def _parse_meta(body: str) -> dict:
    meta: dict = {}
    for line in body.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in ("Path", "Session", "Existed", "Created"):
            meta[key] = json.loads(value)
    return meta


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        raise CheckpointError(f"{path} is now a directory; it was not removed.")
    path.unlink(missing_ok=True)


def write_atomic_bytes(path: Path, data: bytes, new_mode: int = 0o666) -> None:
    """Replace `path` so readers see the old or the new content, never half of it. An existing
    file keeps its permissions; a new one gets `new_mode` minus the umask, like open() would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = new_mode & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hermes-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # os.umask() can only be read by changing it, which races with other threads; /proc cannot.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
