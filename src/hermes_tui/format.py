"""Short, fixed-width renderings of times and sizes for table cells."""

from __future__ import annotations


def age(seconds: float) -> str:
    """3s, 5m, 2h, 4d."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def ago(at: float, now: float) -> str:
    return age(now - at) if at else "—"


def countdown(until: float, now: float) -> str:
    """m:ss left, or "expired"."""
    left = int(until - now)
    if left <= 0:
        return "expired"
    return f"{left // 60}:{left % 60:02d}"


def in_time(at: float, now: float) -> str:
    """When a scheduled thing happens next: "in 5m", "due", or "—" if never."""
    if not at:
        return "—"
    return f"in {age(at - now)}" if at > now else "due"


def duration(ms: float) -> str:
    if ms <= 0:
        return ""
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    return f"{int(ms // 60_000)}m{int(ms % 60_000 // 1000):02d}s"


def count(n: int) -> str:
    """1234 → 1.2k: token counts stay narrow."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def one_line(text: str, width: int) -> str:
    """The first line, clipped with an ellipsis: commands and previews in narrow cells."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"
