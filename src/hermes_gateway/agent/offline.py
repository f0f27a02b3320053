"""The ``offline`` provider: the embedded default when no model provider is configured.

A deterministic responder that speaks the chat-completions wire format, served in-process by
``OfflineTransport`` so that the offline agent runs through exactly the same ``ChatClient`` code
path as a real provider. ``tests/peers/openai_peer.py`` serves the same chunks over loopback HTTP.
It never calls tools and never sleeps."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

OFFLINE_MODEL = "offline"
GUIDANCE = (
    "No model provider is configured, so this is a built-in echo. Run `hermes gateway setup`, "
    "or set model.provider and model.api_key in ~/.hermes/config.yaml "
    "(or OPENROUTER_API_KEY in ~/.hermes/.env), then restart the gateway."
)
MAX_ECHO = 4000  # characters of the user's message quoted back
_PIECES = 3  # content deltas per answer


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, {"type": ...}]
        return "\n".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def offline_reply(messages: list[dict]) -> str:
    """The answer to the last user message: its whole content quoted, then the guidance."""
    last = next(
        (m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), None
    )
    if last is None:
        first = "Offline agent: there was no message to answer."
    else:
        said = _text(last.get("content")).strip()
        if len(said) > MAX_ECHO:
            said = said[: MAX_ECHO - 1] + "…"
        first = (
            f"Offline agent: you said “{said}”."
            if said
            else "Offline agent: your message had no text."
        )
    return f"{first}\n{GUIDANCE}"


def _tokens(text: str) -> int:
    """A deterministic estimate: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


def offline_usage(messages: list[dict], reply: str) -> tuple[int, int]:
    prompt = sum(4 + _tokens(_text(m.get("content"))) for m in messages if isinstance(m, dict))
    return prompt, _tokens(reply)


def _split(text: str, pieces: int) -> list[str]:
    size = -(-len(text) // pieces) or 1
    return [text[i : i + size] for i in range(0, len(text), size)]


def offline_chunks(body: dict) -> list[dict]:
    """chat.completion.chunk dicts: a role delta, the content in a few deltas, a final chunk with
    finish_reason "stop", then a usage chunk (as OpenAI sends with include_usage)."""
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    reply = offline_reply(messages)
    prompt_tokens, completion_tokens = offline_usage(messages, reply)
    base = {
        "id": "chatcmpl-offline-" + hashlib.sha1(reply.encode()).hexdigest()[:16],
        "object": "chat.completion.chunk",
        "created": 0,
        "model": str(body.get("model") or OFFLINE_MODEL),
    }

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in _split(reply, _PIECES)]
    chunks.append(chunk({}, "stop"))
    chunks.append(
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )
    return chunks


def offline_completion(body: dict) -> dict:
    """The same answer as one non-streaming chat.completion object."""
    chunks = offline_chunks(body)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    return {
        "id": chunks[0]["id"],
        "object": "chat.completion",
        "created": 0,
        "model": chunks[0]["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": chunks[-1]["usage"],
    }


def sse_bytes(chunks: list[dict]) -> bytes:
    """Chunks as a text/event-stream body, ending with ``data: [DONE]``."""
    events = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks]
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


class OfflineTransport(httpx.AsyncBaseTransport):
    """Answers ``POST …/chat/completions`` (and ``GET …/models``) in-process."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if request.method == "POST" and path.endswith("/chat/completions"):
            try:
                body = json.loads(await request.aread())
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                return _error(400, "The request body is not a JSON object.")
            if body.get("stream"):
                return httpx.Response(
                    200,
                    headers={"content-type": "text/event-stream"},
                    content=sse_bytes(offline_chunks(body)),
                )
            return httpx.Response(200, json=offline_completion(body))
        if request.method == "GET" and path.endswith("/models"):
            return httpx.Response(
                200, json={"object": "list", "data": [{"id": OFFLINE_MODEL, "object": "model"}]}
            )
        return _error(404, f"The offline agent has no {request.method} {path}.")


def _error(status: int, message: str) -> httpx.Response:
    payload = {"error": {"message": message, "type": "invalid_request_error"}}
    return httpx.Response(status, json=payload)
