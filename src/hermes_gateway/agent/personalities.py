"""`/personality`: a few built-in voices, plus the user's own from `agent.personalities`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PRESETS: dict[str, str] = {
    "helpful": "Be a warm, helpful assistant.",
    "concise": "Be as brief as possible: short sentences, no preamble, no filler.",
    "technical": "Be precise and technical; show commands and code; assume an expert reader.",
    "creative": "Be imaginative and playful; offer unexpected angles and ideas.",
    "teacher": "Explain step by step like a patient teacher, checking understanding.",
    "pirate": "Talk like a pirate, arr, while still being genuinely helpful.",
    "shakespeare": "Answer in the style of Shakespeare, yet keep the facts right.",
    "noir": "Narrate like a hard-boiled detective in a film noir.",
    "philosopher": "Answer thoughtfully, weighing ideas like a philosopher.",
    "hype": "Be high-energy and encouraging, like an enthusiastic coach!",
}


def available(custom: Mapping[str, Any] | None) -> dict[str, str]:
    """Presets, overridden and extended by `agent.personalities` (name → prompt text, or a
    mapping with a `prompt`/`system_prompt` key as Hermes writes it)."""
    merged = dict(PRESETS)
    for name, value in (custom or {}).items():
        if isinstance(value, Mapping):
            value = value.get("prompt") or value.get("system_prompt") or ""
        if isinstance(value, str) and value.strip():
            merged[str(name).lower()] = value.strip()
    return merged
