"""An OpenAI-compatible chat-completions client: httpx plus a small SSE reader.

One ``httpx.AsyncClient`` per ``ChatClient`` (keep-alive across turns). Requests are retried with
exponential backoff and jitter on 429, 500/502/503/504 and connection errors, but only before any
byte of the answer was read: a partial stream is never replayed (text may already be on screen).
The API key never appears in an exception or a repr."""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from hermes_gateway.agent.completion import (
    Accumulator,
    Completion,
    ToolCall,
    Usage,
    content_text,
)
from hermes_gateway.agent.providers import ProviderError

__all__ = ["ChatClient", "Completion", "ProviderError", "ToolCall", "Usage"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
_MAX_ERROR_TEXT = 300


class _Retry(Exception):
    """Internal: the attempt failed before any answer byte; try again after ``delay`` (if set)."""

    def __init__(self, status: int | None, delay: float | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.delay = delay
        self.detail = detail


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class ChatClient:
    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        api_key: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.timeout = timeout
        self._api_key = api_key
        headers = {"Accept": "text/event-stream, application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        )

    def __repr__(self) -> str:
        return f"ChatClient(provider={self.provider!r}, base_url={self.base_url!r})"

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- errors ---------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        if self._api_key and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "***")
        return text

    def _error(
        self, message: str, *, status: int | None = None, retryable: bool = False
    ) -> ProviderError:
        return ProviderError(
            self._scrub(message), status=status, retryable=retryable, provider=self.provider
        )

    def _status_error(self, status: int, body: bytes, model: str) -> ProviderError:
        p = self.provider
        if status in (401, 403):
            env_key = f"{p.upper()}_API_KEY"
            if not self._api_key:
                return self._error(
                    f"{p} requires an API key ({status}). "
                    f"Set model.api_key or {env_key} in ~/.hermes/.env.",
                    status=status,
                )
            return self._error(
                f"{p} rejected the API key ({status}). "
                f"Check model.api_key or {env_key} in ~/.hermes/.env.",
                status=status,
            )
        if status == 404:
            return self._error(
                f"{p} has no model '{model}' at {self.url} (404). Check model.default / `/model`.",
                status=status,
            )
        detail = _body_message(body)
        if len(detail) > _MAX_ERROR_TEXT:
            detail = detail[: _MAX_ERROR_TEXT - 1] + "…"
        return self._error(
            f"{p} refused the request ({status}): {detail}"
            if detail
            else f"{p} refused the request ({status}).",
            status=status,
        )

    def _exhausted(self, last: _Retry, attempts: int) -> ProviderError:
        p, tries = self.provider, f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if last.status == 429:
            msg = f"{p} is rate-limiting requests (429) after {tries}. Try again in a minute."
        elif last.status is not None:
            msg = f"{p} failed with HTTP {last.status} after {tries}. Try again shortly."
        else:
            msg = f"Could not reach {p} at {self.base_url} after {tries}: {last.detail}."
        return self._error(msg, status=last.status, retryable=True)

    # -- the request ----------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        delay = self.backoff_base * (2**attempt)
        return min(delay + random.uniform(0, delay / 2), MAX_RETRY_AFTER)

    async def complete(
        self,
        *,
        model: str,
        messages: list[dict],
        tools: list[dict] | None = None,
        on_text: Callable[[str], Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> Completion:
        """`options` are extra request fields, e.g. {"reasoning_effort": "high"}."""
        body: dict[str, Any] = {
            **(options or {}),
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
        payload = json.dumps(body, ensure_ascii=False).encode()
        attempt = 0
        while True:
            try:
                return await self._attempt(payload, model, on_text)
            except _Retry as retry:
                if attempt >= self.max_retries:
                    raise self._exhausted(retry, attempt + 1) from None
                delay = retry.delay if retry.delay is not None else self._backoff(attempt)
                attempt += 1
                await asyncio.sleep(delay)

    async def _attempt(
        self, payload: bytes, model: str, on_text: Callable[[str], Any] | None
    ) -> Completion:
        request = self._http.build_request(
            "POST", self.url, content=payload, headers={"Content-Type": "application/json"}
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
                raise _Retry(None, None, "connection timed out") from None
            raise self._error(
                f"{self.provider} did not answer within {self.timeout:g} s.", retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise _Retry(None, None, _describe(exc)) from None
        try:
            status = response.status_code
            if status in RETRY_STATUSES:
                await response.aclose()
                delay = _retry_after(response.headers.get("retry-after"))  # 429, and 503 too
                raise _Retry(status, delay, f"HTTP {status}")
            if status >= 400:
                try:
                    body = await response.aread()
                except httpx.HTTPError:
                    body = b""
                raise self._status_error(status, body, model)
            content_type = response.headers.get("content-type", "")
            if "json" in content_type and "event-stream" not in content_type:
                return await self._read_json(response, model, on_text)
            return await self._read_stream(response, model, on_text)
        finally:
            await response.aclose()

    async def _read_json(
        self, response: httpx.Response, model: str, on_text: Callable[[str], Any] | None
    ) -> Completion:
        try:
            raw = await response.aread()
        except httpx.TransportError as exc:
            raise _Retry(None, None, _describe(exc)) from None
        data = _try_json(raw)
        if isinstance(data, dict) and data.get("error"):
            raise self._error(f"{self.provider} said: {_body_message(raw)}")
        try:
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._error(f"{self.provider} sent a malformed response.") from None
        if not isinstance(message, dict):
            raise self._error(f"{self.provider} sent a malformed response.")
        acc = Accumulator(str(data.get("model") or model))
        text = content_text(message.get("content"))
        if text:
            acc.parts.append(text)
            await _emit(on_text, text)
        acc.add_reasoning(message)
        for position, call in enumerate(message.get("tool_calls") or []):
            if isinstance(call, dict):
                acc.add_tool_delta({"index": position, **call})
        acc.add_usage(data.get("usage"))
        acc.finish_reason = str(choice.get("finish_reason") or "")
        return acc.result()

    async def _read_stream(
        self, response: httpx.Response, model: str, on_text: Callable[[str], Any] | None
    ) -> Completion:
        acc = Accumulator(model)
        done = False
        consumed = False
        try:
            async for data in _sse_events(response.aiter_lines()):
                consumed = True
                if data == "[DONE]":
                    done = True
                    break
                if not isinstance(data, dict):
                    raise self._error(f"{self.provider} sent a malformed stream chunk.")
                await self._fold_chunk(acc, data, on_text)
        except httpx.TimeoutException:
            raise self._error(
                f"{self.provider} sent nothing for {self.timeout:g} s; the answer was abandoned.",
                retryable=True,
            ) from None
        except httpx.TransportError as exc:
            if not consumed:
                raise _Retry(None, None, _describe(exc)) from None
            raise self._error(
                f"The connection to {self.provider} broke in the middle of the answer "
                f"({_describe(exc)}).",
                retryable=True,
            ) from None
        if not done and not acc.finish_reason:
            if not consumed:
                raise self._error(f"{self.provider} sent an empty answer.", retryable=True)
            raise self._error(
                f"{self.provider} ended the stream before the answer was complete.",
                retryable=True,
            )
        return acc.result()

    async def _fold_chunk(
        self, acc: Accumulator, chunk: dict, on_text: Callable[[str], Any] | None
    ) -> None:
        if chunk.get("error"):
            raise self._error(f"{self.provider} said: {_body_message(json.dumps(chunk).encode())}")
        if chunk.get("model"):
            acc.model = str(chunk["model"])
        acc.add_usage(chunk.get("usage"))
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            if not isinstance(delta, dict):
                raise self._error(f"{self.provider} sent a malformed stream chunk.")
            text = content_text(delta.get("content"))
            if text:
                acc.parts.append(text)
                await _emit(on_text, text)
            acc.add_reasoning(delta)
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                for call in tool_calls:
                    if isinstance(call, dict):
                        acc.add_tool_delta(call)
            if choice.get("finish_reason"):
                acc.finish_reason = str(choice["finish_reason"])


async def _emit(on_text: Callable[[str], Any] | None, text: str) -> None:
    if on_text is not None:
        result = on_text(text)
        if inspect.isawaitable(result):
            await result


_MALFORMED = object()


async def _sse_events(lines: AsyncIterator[str]) -> AsyncIterator[Any]:
    """Yield each server-sent event's data: "[DONE]", a parsed JSON value, or _MALFORMED.

    Tolerates servers that omit the blank line between events when each `data:` line holds a
    complete JSON value; otherwise `data:` lines accumulate until the blank line, per the spec."""
    buffer: list[str] = []
    async for line in lines:
        if not line:
            if buffer:
                yield _parse_event("\n".join(buffer))
                buffer = []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive (OpenRouter sends ": OPENROUTER PROCESSING")
        name, _, value = line.partition(":")
        if name != "data":
            continue  # event:, id:, retry:
        value = value.removeprefix(" ")
        if not buffer:
            parsed = _parse_event(value)
            if parsed is not _MALFORMED:
                yield parsed
                continue
        buffer.append(value)
    if buffer:
        yield _parse_event("\n".join(buffer))


def _parse_event(data: str) -> Any:
    if data == "[DONE]":
        return data
    try:
        return json.loads(data)
    except ValueError:
        return _MALFORMED


def _try_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _body_message(body: bytes) -> str:
    data = _try_json(body)
    if isinstance(data, dict):
        error = data.get("error", data.get("message", data.get("detail")))
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or ""
            # OpenRouter wraps the upstream provider's error in metadata.raw.
            metadata = error.get("metadata")
            raw = metadata.get("raw") if isinstance(metadata, dict) else None
            if raw and isinstance(raw, str) and raw not in message:
                message = f"{message} ({raw})" if message else raw
            return str(message).strip()
        if isinstance(error, str):
            return error.strip()
    text = body.decode("utf-8", "replace").strip()
    return " ".join(text.split())


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
