"""What a chat completion produced, and how streamed chunks fold into it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as streamed


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Completion:
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage | None
    finish_reason: str
    model: str
    reasoning: str = ""  # the model's visible reasoning, when the provider streams it


class Accumulator:
    """Folds chat.completion chunks (or one chat.completion) into a Completion."""

    def __init__(self, model: str) -> None:
        self.parts: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage: Usage | None = None
        self.finish_reason = ""
        self.model = model

    def add_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
            completion = usage.get("completion_tokens", usage.get("output_tokens"))
            if isinstance(prompt, int) or isinstance(completion, int):
                self.usage = Usage(int(prompt or 0), int(completion or 0))

    def add_tool_delta(self, delta: dict) -> None:
        index = delta.get("index")
        if not isinstance(index, int):
            # Servers that omit `index`: a new id opens a slot, pieces without one extend the last.
            known = {slot["id"] for slot in self.calls.values()}
            new_id = delta.get("id") and delta["id"] not in known
            index = len(self.calls) if new_id or not self.calls else max(self.calls)
        slot = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if delta.get("id") and not slot["id"]:
            slot["id"] = str(delta["id"])
        function = delta.get("function") or {}
        name = function.get("name")
        if name and name != slot["name"]:
            slot["name"] += name
        arguments = function.get("arguments")
        if isinstance(arguments, (dict, list)):
            arguments = json.dumps(arguments, ensure_ascii=False)
        if arguments:
            slot["arguments"] += arguments

    def result(self) -> Completion:
        calls = tuple(
            ToolCall(
                id=slot["id"] or f"call_{index}",
                name=slot["name"],
                arguments=slot["arguments"] or "{}",
            )
            for index, slot in sorted(self.calls.items())
        )
        finish = self.finish_reason or ("tool_calls" if calls else "stop")
        return Completion(
            "".join(self.parts), calls, self.usage, finish, self.model, "".join(self.reasoning)
        )

    def add_reasoning(self, message: dict) -> None:
        # DeepSeek/vLLM say `reasoning_content`, OpenRouter says `reasoning`.
        text = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(text, str) and text:
            self.reasoning.append(text)


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
