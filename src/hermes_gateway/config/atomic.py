"""Atomic file replacement and the shared "read a config file" step of the writers."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ConfigError


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write cycles on the files of one folder.

    Two quick edits (say /sethome and /approve always) would otherwise both read the old
    file and the second replace would drop the first change. The lock is taken on the
    folder itself, so no lock file appears in HERMES_HOME.
    """
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except FileNotFoundError:
        yield  # a new folder: write_atomic creates it, nothing to race with yet
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def real_path(path: Path) -> Path:
    """Follow a symlink (e.g. a dotfiles-managed .env) so we replace its target, not the link."""
    return Path(os.path.realpath(path))


def read_text(path: Path) -> str | None:
    """The file's text, None when it does not exist; ConfigError when unreadable or not UTF-8."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _unreadable(path, "is a directory") from None
    except OSError as exc:
        raise _unreadable(path, exc.strerror or type(exc).__name__) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = f"not valid UTF-8 (byte {data[exc.start]:#04x})"
        raise ConfigError(str(path), "", "UTF-8 text", problem=problem, line=line) from None


def _unreadable(path: Path, reason: str) -> ConfigError:
    return ConfigError(str(path), "", "a readable file", problem=f"unreadable file ({reason})")


def only_deletions(changes: Mapping[Any, Any]) -> bool:
    """True when every change removes a key: applied to a missing file, nothing to write."""
    return all(value is None for value in changes.values())


def existing_mode(path: Path, default: int = 0o600) -> int:
    """Permission bits of an existing file, or `default` for a new one."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return default


def write_atomic(path: Path, text: str, mode: int) -> None:
    """Replace `path` with `text` so that readers see the old or the new file, never half of one.

    The temporary file lives in the same folder (os.replace is only atomic within one
    file system) and gets its mode before any secret is written into it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, so best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
