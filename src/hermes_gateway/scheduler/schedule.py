"""Cron job schedules: a cron expression, a fixed interval, or one run at a given time.

A schedule is parsed from the text the user gave and the job's creation time, so re-parsing a
stored job (text + created_at) gives the same schedule after a restart. All times are Unix
timestamps; cron expressions and ISO times without a zone are read in local time."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime

EXPECTED = "expected a cron expression like '0 9 * * *', 'every 2h', '30m' or an ISO time"

_UNITS = {"m": 60, "h": 3600, "d": 86400}
_UNIT = r"(m|mins?|minutes?|h|hrs?|hours?|d|days?)"
_EVERY = re.compile(rf"every\s+(\d+)?\s*{_UNIT}")
_RELATIVE = re.compile(rf"(?:in\s+)?(\d+)\s*{_UNIT}")
_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass(frozen=True)
class Schedule:
    kind: str  # cron | every | once
    expr: str  # the text as given, whitespace normalised
    interval: float = 0.0  # every: seconds between runs
    anchor: float = 0.0  # every: the job's creation (runs align to it); once: the run time

    def next_after(self, t: float) -> float | None:
        """The first run time strictly after t; None when nothing is left (a past one-shot)."""
        if self.kind == "once":
            return self.anchor if self.anchor > t else None
        if self.kind == "every":
            steps = math.floor((t - self.anchor) / self.interval) + 1 if t >= self.anchor else 1
            return self.anchor + steps * self.interval
        # Naive local datetimes keep "0 9 * * *" at 09:00 wall-clock time across DST changes.
        after = _croniter()(self.expr, datetime.fromtimestamp(t)).get_next(datetime)
        return after.timestamp()


def parse_schedule(text: str, now: float) -> Schedule:
    """Read a schedule; `now` is the job's creation time. Raises ValueError with one line."""
    expr = " ".join(str(text).split())
    low = expr.lower()
    if not expr:
        raise ValueError(f"the schedule is empty: {EXPECTED}")
    if low.startswith("every"):
        return _every(expr, low, now)
    match = _RELATIVE.fullmatch(low)
    if match:
        seconds = _seconds(match.group(1), match.group(2), expr)
        return Schedule("once", expr, anchor=now + seconds)
    if re.match(r"\d{4}-\d{2}-\d{2}", expr):
        return _iso(expr, now)
    return _cron(expr, low)


def _every(expr: str, low: str, now: float) -> Schedule:
    match = _EVERY.fullmatch(low)
    if not match:
        raise ValueError(
            f"can't read interval {expr!r}: expected 'every 30m', 'every 2h' or 'every 1d'"
        )
    seconds = _seconds(match.group(1) or "1", match.group(2), expr)
    return Schedule("every", expr, interval=seconds, anchor=now)


def _seconds(number: str, unit: str, expr: str) -> float:
    seconds = int(number) * _UNITS[unit[0]]
    if seconds < 60:
        raise ValueError(f"{expr!r} is too short: cron jobs run at most once a minute")
    return float(seconds)


def _iso(expr: str, now: float) -> Schedule:
    try:
        when = datetime.fromisoformat(expr)
    except ValueError:
        raise ValueError(
            f"can't read time {expr!r}: expected an ISO time like 2026-12-01T09:00"
        ) from None
    at = when.timestamp()  # a naive datetime is local time
    if at <= now:
        shown = time.strftime("%Y-%m-%d %H:%M", time.localtime(now))
        raise ValueError(f"{expr!r} is in the past (it is now {shown}): give a future time")
    return Schedule("once", expr, anchor=at)


def _cron(expr: str, low: str) -> Schedule:
    if low in _ALIASES:
        return Schedule("cron", low)
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"can't read schedule {expr!r}: {EXPECTED} "
            "(cron has 5 fields: minute hour day-of-month month day-of-week)"
        )
    if not _croniter().is_valid(expr):
        raise ValueError(f"invalid cron expression {expr!r}: {EXPECTED}")
    return Schedule("cron", expr)


def describe(schedule: Schedule) -> str:
    """A short human description, e.g. "every day at 09:00", "every 2 hours", "once at …"."""
    if schedule.kind == "once":
        return "once at " + time.strftime("%Y-%m-%d %H:%M", time.localtime(schedule.anchor))
    if schedule.kind == "every":
        return "every " + _duration(schedule.interval)
    return _describe_cron(schedule.expr)


def _duration(seconds: float) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{int(seconds)} seconds"


def _describe_cron(expr: str) -> str:
    if expr.startswith("@"):
        names = {"@annually": "yearly", "@midnight": "daily"}
        return f"{names.get(expr, expr[1:])} (cron {expr})"
    minute, hour, dom, month, dow = expr.split()
    plain = f"cron '{expr}' (local time)"
    if dom != "*" or month != "*":
        return plain
    if minute.startswith("*/") and hour == "*" and dow == "*" and minute[2:].isdigit():
        return f"every {minute[2:]} minutes"
    if not minute.isdigit():
        return plain
    if hour == "*" and dow == "*":
        return f"every hour at :{int(minute):02d}"
    if not hour.isdigit():
        return plain
    at = f"{int(hour):02d}:{int(minute):02d}"
    if dow == "*":
        return f"every day at {at}"
    if dow == "1-5":
        return f"weekdays at {at}"
    if dow.isdigit() and int(dow) <= 7:
        return f"every {_DAYS[int(dow) % 7]} at {at}"
    return plain


def _croniter():
    # croniter (with dateutil) costs ~20 ms to import: only load it when a cron job needs it,
    # not on every gateway start.
    from croniter import croniter

    return croniter
