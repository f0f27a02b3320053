"""Atomic file replacement and the shared "read a config file" step of the writers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ConfigError


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
        raise ConfigError(str(path), "", "a readable file", problem="unreadable file (is a directory)") from None
    except OSError as exc:
        raise ConfigError(str(path), "", "a readable file", problem=f"unreadable file ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            str(path), "", "UTF-8 text", problem=f"not valid UTF-8 (byte {data[exc.start]:#04x})", line=line
        ) from None


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
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
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
