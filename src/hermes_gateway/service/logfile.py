"""Where a running gateway's log lines go: the terminal / journal and HERMES_HOME/logs/gateway.log
(size-bounded, rotated), each line passed through a Redactor so no configured secret is written,
whoever logged it (the engine, an event, or a third-party library's warning)."""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterable, Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from hermes_gateway.config import is_secret_key, mask
from hermes_gateway.config.errors import ConfigError
from hermes_gateway.service.runlog import PlainLog, RichLog, SinkHandler, plain_line

LOG_NAME = "gateway.log"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_BACKUPS = 3
MIN_SECRET = 6  # shorter values are too likely to be ordinary words to be replaced


class Redactor:
    """Replaces every known secret value in a text with its mask (`123…OKEN`)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        values = set(self._secrets) | {s for s in secrets if len(s) >= MIN_SECRET}
        self._secrets = sorted(values, key=len, reverse=True)  # longest first: no partial leak

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, mask(secret))
        return text


def secrets_of(settings) -> set[str]:
    """Every secret value the settings hold: tokens, API keys, passwords (env and config)."""
    found = {settings.model.api_key}
    found.update(v for k, v in settings.env.items() if is_secret_key(k) and isinstance(v, str))
    for platform in settings.platforms.values():
        found.update((platform.token, platform.api_key))
        found.update(_secret_values(platform.extra))
    found.update(_secret_values(settings.raw))
    return {s for s in found if s}


def _secret_values(tree: Any, key: str = "") -> set[str]:
    if isinstance(tree, Mapping):
        out: set[str] = set()
        for k, v in tree.items():
            out |= _secret_values(v, f"{key}.{k}" if key else str(k))
        return out
    if isinstance(tree, (list, tuple)):
        return set().union(*(_secret_values(v, key) for v in tree)) if tree else set()
    if key and is_secret_key(key) and isinstance(tree, str):
        return {tree}
    return set()


class Redacting:
    """A sink (PlainLog, RichLog, FileLog) whose lines pass through a Redactor first."""

    def __init__(self, sink, redactor: Redactor) -> None:
        self.sink = sink
        self.redactor = redactor
        self.render = sink.render
        self.quiet_events = getattr(sink, "quiet_events", frozenset())
        self.quiet_fields = getattr(sink, "quiet_fields", frozenset())

    def line(self, at: float, level: str, name: str, fields: str) -> None:
        self.sink.line(at, level, name, self.redactor(fields))


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """Every file it creates (the log, and the new one after each rotation) is mode 0600."""

    def _open(self):
        return open(  # noqa: SIM115 - the handler owns and closes the stream
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=lambda path, flags: os.open(path, flags, 0o600),
        )


class FileLog:
    """Plain lines into a size-bounded file with a few rotated backups (gateway.log.1 …)."""

    render = staticmethod(PlainLog.render)

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.handler = _PrivateRotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        os.chmod(path, 0o600)

    def line(self, at: float, level: str, name: str, fields: str) -> None:
        text = plain_line(at, level, name, fields)
        self.handler.handle(logging.makeLogRecord({"msg": text, "levelname": level}))

    def close(self) -> None:
        self.handler.close()


def rotation_settings(settings) -> tuple[int, int]:
    """config.yaml `logging.max_bytes` / `logging.backups` (defaults 5 MiB, 3)."""
    section = settings.raw.get("logging") or {}
    if not isinstance(section, Mapping):
        raise ConfigError(settings.source_of("logging"), "logging", "a mapping", section)
    values = []
    for key, default, least in (
        ("max_bytes", DEFAULT_MAX_BYTES, 1024),
        ("backups", DEFAULT_BACKUPS, 1),
    ):
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            dotted = f"logging.{key}"
            expected = f"a whole number of at least {least}"
            raise ConfigError(settings.source_of(dotted), dotted, expected, value)
        values.append(value)
    return values[0], values[1]


def stderr_is_a_file() -> bool:
    """launchd (and `nohup … >file`) hand us a plain file as stderr: the event log then goes
    only to the rotating gateway.log, so that file never grows without bound."""
    try:
        return stat.S_ISREG(os.fstat(sys.stderr.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def log_sinks(home, headless: bool, settings, redactor: Redactor) -> tuple[list, FileLog]:
    """The sinks every event and log record goes to, and the file sink (to close at exit)."""
    max_bytes, backups = rotation_settings(settings)
    file_log = FileLog(home.logs_dir / LOG_NAME, max_bytes, backups)
    sinks = [Redacting(file_log, redactor)]
    if not stderr_is_a_file():
        sinks.insert(0, Redacting(PlainLog() if headless else RichLog(), redactor))
    return sinks, file_log


def route_logging(sinks: list) -> None:
    """The engine's `hermes.*` records from INFO, everyone else's from WARNING, one line each,
    through the same redacting sinks (so a library never prints a token or a traceback)."""
    ours = logging.getLogger("hermes")
    ours.handlers[:] = [SinkHandler(sink) for sink in sinks]
    ours.setLevel(logging.INFO)
    ours.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [SinkHandler(sink) for sink in sinks]
    for handler in root.handlers:
        handler.setLevel(logging.WARNING)
