"""The tool list, and one turn's view of it: argument checks, progress, concurrency.

Several calls in one model response run concurrently when every one of a consecutive run is
marked `concurrent` (reads); anything else runs alone, in order. Results always come back in
call order. An interrupt cancels what runs and skips what has not started."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError, first_line

log = logging.getLogger("hermes.tools")

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


@dataclass(frozen=True)
class ProgressUpdate:
    tool: str
    emoji: str
    preview: str
    status: str  # started | ok | error
    duration_ms: float = 0.0
    detail: str = ""  # for verbose progress: the full arguments or the error


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._schemas: list[dict[str, Any]] | None = None
        self.replace(tools)

    def replace(self, tools: Iterable[Tool], prefix: str = "") -> None:
        """Add tools; with `prefix`, first drop the tools whose names start with it (MCP reload)."""
        if prefix:
            self._tools = {n: t for n, t in self._tools.items() if not n.startswith(prefix)}
        for tool in tools:
            self._tools[tool.name] = tool
        self._schemas = None

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        if self._schemas is None:  # built once per change, not per turn
            self._schemas = [t.schema() for t in self._tools.values()]
        return self._schemas

    def bind(
        self,
        context: ToolContext,
        on_progress: Callable[[ProgressUpdate], None] | None = None,
    ) -> BoundTools:
        return BoundTools(self, context, on_progress)


class BoundTools:
    """The tools as one turn sees them (the loop's ToolSet)."""

    def __init__(self, registry: ToolRegistry, context: ToolContext, on_progress) -> None:
        self.registry = registry
        self.context = context
        self.on_progress = on_progress or (lambda update: None)

    def schemas(self) -> list[dict[str, Any]]:
        return self.registry.schemas()

    async def call_many(self, calls: Sequence[Any]) -> list[str]:
        results: list[str] = []
        batch: list[Any] = []
        for call in calls:
            tool = self.registry.get(call.name)
            if tool is not None and tool.concurrent:
                batch.append(call)
                continue
            results += await self._run_batch(batch)
            batch = []
            results.append(await self.call(call.name, call.arguments))
        results += await self._run_batch(batch)
        return results

    async def _run_batch(self, batch: list[Any]) -> list[str]:
        if not batch:
            return []
        return list(await asyncio.gather(*(self.call(c.name, c.arguments) for c in batch)))

    async def call(self, name: str, arguments: str) -> str:
        tool = self.registry.get(name)
        if tool is None:
            return f"error: there is no tool named {name!r}"
        try:
            args = parse_arguments(arguments)
            check_arguments(tool, args)
        except ToolError as exc:
            return f"error: {exc}"
        preview = _safe_preview(tool, args)
        detail = first_line(json.dumps(args, ensure_ascii=False), 300)
        self.on_progress(ProgressUpdate(tool.name, tool.emoji, preview, "started", 0.0, detail))
        started = time.perf_counter()
        status, result = "ok", ""
        try:
            result = await tool.run(args, self.context)
        except ToolError as exc:
            status, result = "error", f"error: {exc}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a tool bug is a result the model reads, never a dead turn
            log.exception("tool %s failed", tool.name)
            status, result = "error", f"error: {tool.name} failed unexpectedly: {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        detail = first_line(result, 300) if status == "error" else ""
        self.on_progress(ProgressUpdate(tool.name, tool.emoji, preview, status, elapsed, detail))
        return result


def parse_arguments(arguments: str | dict | None) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not arguments or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise ToolError(f"the arguments are not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, dict):
        raise ToolError("the arguments must be a JSON object")
    return value


def check_arguments(tool: Tool, args: dict[str, Any]) -> None:
    """Required keys present and top-level types right: enough to give the model a clear
    error instead of a tool crashing on a None."""
    schema = tool.parameters or {}
    for key in schema.get("required", []):
        if key not in args:
            raise ToolError(f"{tool.name} needs the argument {key!r}")
    for key, spec in (schema.get("properties") or {}).items():
        if key not in args or not isinstance(spec, dict) or "type" not in spec:
            continue
        wanted = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        value = args[key]
        if value is None and "null" in wanted:
            continue
        types = tuple(t for name in wanted for t in _JSON_TYPES.get(name, ()))
        if types and (not isinstance(value, types) or (bool not in types and value is True)):
            raise ToolError(f"{tool.name}: {key!r} must be {' or '.join(wanted)}")
        if "enum" in spec and value not in spec["enum"]:
            choices = ", ".join(map(str, spec["enum"]))
            raise ToolError(f"{tool.name}: {key!r} must be one of {choices}")


def _safe_preview(tool: Tool, args: dict[str, Any]) -> str:
    try:
        return first_line(tool.preview(args) or "", 80)
    except Exception:
        return ""
