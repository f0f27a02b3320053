"""What GatewayHandle does not offer yet: a session's transcript and killing a process.

Each call uses the handle's own method when it has one (`transcript`, `kill_process`), so a
handle that grows them is used as is. Until then the in-process handle is read directly, and
an attached TUI says the call is not available. Delete the fallbacks once the handle has both."""

from __future__ import annotations

from typing import Any

TRANSCRIPT_LIMIT = 200  # newest entries shown: a long session must not stall the screen


def can_read_transcripts(handle: Any) -> bool:
    return hasattr(handle, "transcript") or _engine(handle) is not None


async def transcript(
    handle: Any, session_id: str, limit: int = TRANSCRIPT_LIMIT
) -> list[tuple[str, str]] | None:
    """(role, text) pairs, oldest first; None when this handle cannot read transcripts."""
    method = getattr(handle, "transcript", None)
    if method is not None:
        entries = await method(session_id, limit)
        return [(_get(e, "role"), _text(e)) for e in entries]
    engine = _engine(handle)
    if engine is None:
        return None
    entries = engine.store.transcript(session_id)[-limit:]
    return [(e.role, _text(e)) for e in entries]


def can_kill(handle: Any) -> bool:
    return hasattr(handle, "kill_process") or _engine(handle) is not None


async def kill_process(handle: Any, process_id: str) -> str:
    """A sentence for a toast. Raises RuntimeError when this handle cannot kill processes."""
    method = getattr(handle, "kill_process", None)
    if method is not None:
        killed = await method(process_id)
        return f"Killed {process_id}." if killed else f"{process_id} had already ended."
    engine = _engine(handle)
    if engine is None or engine.services.processes is None:
        raise RuntimeError("Killing a process is not available over the control socket yet.")
    info = await engine.services.processes.kill(process_id)
    return f"{process_id} is {info.state}."


def _engine(handle: Any) -> Any:
    """The in-process handle's engine (LocalHandle.engine); None for a remote handle."""
    return getattr(handle, "engine", None) if handle.mode == "embedded" else None


def _get(entry: Any, name: str) -> str:
    value = entry.get(name, "") if isinstance(entry, dict) else getattr(entry, name, "")
    return value or ""


def _text(entry: Any) -> str:
    content = _get(entry, "content")
    calls = entry.get("tool_calls") if isinstance(entry, dict) else entry.tool_calls
    if calls:
        names = ", ".join(str(c.get("function", c).get("name", "?")) for c in calls)
        content = f"{content}\n→ calls {names}".strip()
    name = _get(entry, "name")
    return f"[{name}] {content}" if name else content
