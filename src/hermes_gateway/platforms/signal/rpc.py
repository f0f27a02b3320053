"""JSON-RPC 2.0 over signal-cli's POST /api/v1/rpc, and its errors as SendResults."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp

from hermes_gateway.core.types import SendResult

REQUEST_TIMEOUT = 60.0  # a send to a large group can take a while
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


class SignalRpcError(Exception):
    """signal-cli answered with a JSON-RPC error (code), or could not be reached (code None)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message if code is None else f"{message} ({code})")
        self.code, self.message = code, message


class SignalRpc:
    def __init__(self, http_url: str, account: str) -> None:
        self.http_url = http_url
        self.account = account
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def check(self) -> None:
        """GET /api/v1/check: raises SignalRpcError(None) unless the daemon answers 200."""
        try:
            timeout = aiohttp.ClientTimeout(total=10.0)
            async with self.http.get(f"{self.http_url}/api/v1/check", timeout=timeout) as resp:
                if resp.status != 200:
                    raise SignalRpcError(None, f"/api/v1/check answered {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SignalRpcError(None, str(exc) or type(exc).__name__) from None

    async def call(self, method: str, params: dict | None = None, *, account: bool = True) -> Any:
        """The result of one call. The account goes along so that a multi-account daemon
        knows which one we mean (a single-account daemon ignores it)."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": next(self._ids)}
        body["params"] = {**(params or {}), **({"account": self.account} if account else {})}
        try:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
            url = f"{self.http_url}/api/v1/rpc"
            async with self.http.post(url, json=body, timeout=timeout) as resp:
                if resp.status >= 400:
                    raise SignalRpcError(None, f"{url} answered {resp.status}")
                answer = await resp.json(content_type=None) if resp.status != 201 else {}
        except TimeoutError:
            raise SignalRpcError(None, f"timeout after {REQUEST_TIMEOUT:g} s") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise SignalRpcError(None, str(exc) or type(exc).__name__) from None
        if not isinstance(answer, dict):
            raise SignalRpcError(None, "an answer that is not a JSON-RPC response")
        error = answer.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            raise SignalRpcError(code if isinstance(code, int) else -1, str(error.get("message")))
        return answer.get("result")


def result_from_error(exc: SignalRpcError) -> SendResult:
    """Rate limits wait, an unreachable daemon is retried (unless the send may have gone out:
    a timeout), an unknown recipient or group is "not_found", anything else is final."""
    text = str(exc)
    lowered = text.lower()
    if "rate limit" in lowered or "ratelimit" in lowered:
        return SendResult(ok=False, error=text, retry_after=10.0)
    if exc.code is None:
        return SendResult(ok=False, error=text, retryable="timeout" not in lowered)
    if any(k in lowered for k in ("unregistered", "not found", "invalid group", "not a member")):
        return SendResult(ok=False, error=text, retryable=False, kind="not_found")
    if exc.code == INVALID_PARAMS and "account" in lowered:
        return SendResult(ok=False, error=text, retryable=False, kind="auth")
    return SendResult(ok=False, error=text, retryable=False)
