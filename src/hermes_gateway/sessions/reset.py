"""Automatic session reset policies: daily at an hour, after idle minutes, both, or none."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Protocol


class Policy(Protocol):
    mode: str
    at_hour: int
    idle_minutes: int


def last_daily_boundary(now: float, at_hour: int, tz: tzinfo | None = None) -> float:
    """The most recent moment at `at_hour`:00 local time that is not after `now`."""
    local = datetime.fromtimestamp(now, tz).astimezone(tz)
    boundary = local.replace(hour=at_hour, minute=0, second=0, microsecond=0)
    if boundary > local:
        boundary -= timedelta(days=1)
    return boundary.timestamp()


def reset_reason(
    policy: Policy, last_active: float, now: float, tz: tzinfo | None = None
) -> str | None:
    """Why a session last active at `last_active` has expired by `now`, or None if it has not."""
    mode = policy.mode
    if mode in ("idle", "both") and now - last_active > policy.idle_minutes * 60:
        return f"idle for more than {_duration(policy.idle_minutes)}"
    if mode in ("daily", "both") and last_active < last_daily_boundary(now, policy.at_hour, tz):
        return f"daily reset at {policy.at_hour:02d}:00"
    return None


def _duration(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day" + ("s" if days > 1 else "")
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours > 1 else "")
    return f"{minutes} minutes"
