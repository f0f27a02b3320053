"""The agent's turn loop: ask the model, run the tools it calls, feed the results back, until it
answers in plain text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hermes_gateway.storage.records import TranscriptEntry

MAX_TOOL_ROUNDS = 25


class ToolSet(Protocol):
    def schemas(self) -> list[dict[str, Any]]: ...

    async def call_many(self, calls: Sequence[Any]) -> list[str]:
        """Run one response's tool calls; results in call order. Errors come back as text the
        model can read, never as exceptions."""


class NoTools:
    def schemas(self) -> list[dict[str, Any]]:
        return []

    async def call_many(self, calls: Sequence[Any]) -> list[str]:
        return [f"error: there is no tool named {c.name!r}" for c in calls]


@dataclass
class LoopResult:
    text: str
    entries: list[TranscriptEntry] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning: list[str] = field(default_factory=list)


async def run_loop(
    client,
    model: str,
    messages: list[dict[str, Any]],
    tools: ToolSet,
    on_text: Callable[[str], Any] | None = None,
    result: LoopResult | None = None,
    options: dict[str, Any] | None = None,
) -> LoopResult:
    """Runs the loop, recording into `result` as it goes so that an interrupted turn can keep
    what was already said and done."""
    result = result if result is not None else LoopResult(text="")
    messages = list(messages)
    schemas = tools.schemas() or None
    for _ in range(MAX_TOOL_ROUNDS):
        completion = await client.complete(
            model=model, messages=messages, tools=schemas, on_text=on_text, options=options
        )
        if completion.reasoning:
            result.reasoning.append(completion.reasoning)
        if completion.usage:
            result.input_tokens += completion.usage.input_tokens
            result.output_tokens += completion.usage.output_tokens
        if not completion.tool_calls:
            result.text = completion.text
            result.entries.append(TranscriptEntry(role="assistant", content=completion.text))
            return result
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in completion.tool_calls
        ]
        step = TranscriptEntry(role="assistant", content=completion.text, tool_calls=calls)
        result.entries.append(step)
        messages.append(step.to_openai())
        outputs = await tools.call_many(completion.tool_calls)
        for call, output in zip(completion.tool_calls, outputs, strict=True):
            entry = TranscriptEntry(
                role="tool", content=output, tool_call_id=call.id, name=call.name
            )
            result.entries.append(entry)
            messages.append(entry.to_openai())
    result.text = f"I stopped after {MAX_TOOL_ROUNDS} rounds of tool calls without a final answer."
    result.entries.append(TranscriptEntry(role="assistant", content=result.text))
    return result
