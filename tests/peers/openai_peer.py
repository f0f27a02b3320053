"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, run as a subprocess.

    python -m tests.peers.openai_peer --port 0     # prints "PORT <n>" first, then serves

Control endpoints:
    POST /_peer/script    JSON list of steps, queued FIFO, one consumed per chat request
    GET  /_peer/requests  [{"body": <request JSON>, "headers": {"Authorization": ...}}, ...]
    POST /_peer/reset     clears the queue and the recorded requests

Steps (keys combine where it makes sense):
    {"text": "...", "chunks": 3, "usage": [in, out]}     streamed in N content deltas
    {"tool_calls": [{"id", "name", "arguments"}], "usage": [...]}
                                                         argument pieces across several chunks
    {"status": 429, "retry_after": 0, "message": "..."}  an error answer (any status)
    {"delay": 2.0, ...}                                  sleep first (slow-model tests)
    {"text": ..., "chunks": 10, "chunk_delay": 0.3}      a pause after every streamed chunk
    {"non_stream": true, "text": ..., "tool_calls": ...} one chat.completion JSON object
    {"malformed": true}                                  a role chunk, then a broken data line
    {"cut": true, "text": ...}                           some deltas, then the connection drops
With the queue empty, the answer is the offline responder's (hermes_gateway.agent.offline).
Exits cleanly on SIGTERM / SIGINT, and by itself if its parent process dies."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import deque
from typing import Any

from aiohttp import web

from hermes_gateway.agent.offline import offline_chunks, offline_completion
from tests.peers.serving import serve_app

ARG_PIECES = 3  # argument pieces per tool call


class OpenAIPeer:
    def __init__(self) -> None:
        self.steps: deque[dict] = deque()
        self.requests: list[dict] = []
        self.counter = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/_peer/script", self.script)
        app.router.add_get("/_peer/requests", self.recorded)
        app.router.add_post("/_peer/reset", self.reset)
        return app

    # -- control ----------------------------------------------------------------------------------

    async def script(self, request: web.Request) -> web.Response:
        steps = await request.json()
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            return web.json_response({"error": "expected a JSON list of step objects"}, status=400)
        self.steps.extend(steps)
        return web.json_response({"queued": len(self.steps)})

    async def recorded(self, request: web.Request) -> web.Response:
        return web.json_response(self.requests)

    async def reset(self, request: web.Request) -> web.Response:
        self.steps.clear()
        self.requests.clear()
        return web.json_response({"ok": True})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "offline", "object": "model"}]})

    # -- the chat endpoint ------------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        auth = request.headers.get("Authorization")
        self.requests.append({"body": body, "headers": {"Authorization": auth} if auth else {}})
        step = self.steps.popleft() if self.steps else {}
        if step.get("delay"):
            await asyncio.sleep(float(step["delay"]))
        model = str(body.get("model") or "offline") if isinstance(body, dict) else "offline"
        if "status" in step:
            return self.error(step)
        if step.get("malformed"):
            role = self.chunk(model, {"role": "assistant"})
            return await self.stream(request, [role], raw_tail=b"data: {not json\n\n")
        if not any(k in step for k in ("text", "tool_calls")):
            if isinstance(body, dict) and body.get("stream", False) and not step.get("non_stream"):
                return await self.stream(request, offline_chunks(body))
            return web.json_response(offline_completion(body if isinstance(body, dict) else {}))
        if step.get("non_stream"):
            return web.json_response(self.completion(model, step))
        pause = float(step.get("chunk_delay", 0))
        return await self.stream(
            request, self.chunks(model, step), cut=bool(step.get("cut")), pause=pause
        )

    def error(self, step: dict) -> web.Response:
        status = int(step["status"])
        headers = {}
        if "retry_after" in step:
            headers["Retry-After"] = str(step["retry_after"])
        message = step.get("message") or {
            401: "Incorrect API key provided.",
            403: "This key may not use this model.",
            404: "The model does not exist or you do not have access to it.",
            429: "Rate limit reached. Slow down.",
        }.get(status, f"Scripted error {status}.")
        payload = {"error": {"message": message, "type": "scripted_error", "code": status}}
        return web.json_response(payload, status=status, headers=headers)

    def chunk(self, model: str, delta: dict, finish: str | None = None) -> dict:
        return {
            "id": f"chatcmpl-peer-{self.counter}",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def chunks(self, model: str, step: dict) -> list[dict]:
        self.counter += 1
        out = [self.chunk(model, {"role": "assistant", "content": ""})]
        text = str(step.get("text") or "")
        if text:
            n = max(1, int(step.get("chunks", 3)))
            size = -(-len(text) // n)
            pieces = [text[i : i + size] for i in range(0, len(text), size)]
            out += [self.chunk(model, {"content": piece}) for piece in pieces]
        calls = step.get("tool_calls") or []
        for index, call in enumerate(calls):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": ""},
            }
            out.append(self.chunk(model, {"tool_calls": [head]}))
            args = str(call.get("arguments", ""))
            size = max(1, -(-len(args) // ARG_PIECES))
            for i in range(0, len(args), size):
                piece = {"index": index, "function": {"arguments": args[i : i + size]}}
                out.append(self.chunk(model, {"tool_calls": [piece]}))
        if step.get("cut"):
            return out
        finish = step.get("finish_reason") or ("tool_calls" if calls else "stop")
        out.append(self.chunk(model, {}, finish))
        if "usage" in step:
            usage = self.usage(step["usage"])
            out.append({**self.chunk(model, {}), "choices": [], "usage": usage})
        return out

    def completion(self, model: str, step: dict) -> dict:
        self.counter += 1
        calls = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": str(c.get("arguments", ""))},
            }
            for c in step.get("tool_calls") or []
        ]
        message: dict[str, Any] = {"role": "assistant", "content": step.get("text")}
        if calls:
            message["tool_calls"] = calls
        finish = step.get("finish_reason") or ("tool_calls" if calls else "stop")
        out = {
            "id": f"chatcmpl-peer-{self.counter}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": finish,
                }
            ],
        }
        if "usage" in step:
            out["usage"] = self.usage(step["usage"])
        return out

    @staticmethod
    def usage(pair: list[int]) -> dict:
        prompt, completion = int(pair[0]), int(pair[1])
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    async def stream(
        self,
        request: web.Request,
        chunks: list[dict],
        *,
        raw_tail: bytes = b"",
        cut: bool = False,
        pause: float = 0.0,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        for chunk in chunks:
            await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            if pause:  # a slow model: each delta arrives after a pause (streaming tests)
                await asyncio.sleep(pause)
        if cut:
            # Drop the connection mid-stream: no finish_reason, no [DONE], no chunked terminator.
            await asyncio.sleep(0.05)
            if request.transport is not None:
                request.transport.abort()
            return response
        if raw_tail:
            await response.write(raw_tail)
        else:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


async def serve(port: int) -> None:
    await serve_app(OpenAIPeer().app(), port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
