"""The REST API v4 calls the adapter makes, on one aiohttp session with a Bearer token, and
Mattermost's errors turned into SendResults the delivery layer can act on."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from hermes_gateway.config.secrets import redact
from hermes_gateway.core.types import SendResult

from . import MattermostOptions

REQUEST_TIMEOUT = 30.0
CACHE_LIMIT = 1024  # users and channels remembered (their type and name rarely change)


class MattermostError(Exception):
    """Mattermost answered with an error status (or could not be reached: status 0)."""

    def __init__(self, status: int, message: str, error_id: str = "", retry_after=None) -> None:
        super().__init__(f"{status} {message}".strip() if status else message)
        self.status, self.message, self.error_id = status, message, error_id
        self.retry_after: float | None = retry_after


class MattermostClient:
    def __init__(self, options: MattermostOptions) -> None:
        self.options = options
        self._http: aiohttp.ClientSession | None = None
        self._channels: dict[str, dict] = {}
        self._users: dict[str, dict] = {}

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.options.token}"},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with self.http.request(method, self.options.api + path, **kwargs) as response:
                body = await response.read()
                if response.status >= 400:
                    raise _error(response, body)
                if not body:
                    return None
                return await response.json(content_type=None)
        except TimeoutError:
            raise MattermostError(0, f"timeout after {REQUEST_TIMEOUT:g} s") from None
        except aiohttp.ClientError as exc:
            raise MattermostError(0, self._clean(exc)) from None

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A file's bytes; MattermostError(413) when it is larger than max_bytes."""
        try:
            async with self.http.get(f"{self.options.api}/files/{file_id}") as response:
                if response.status >= 400:
                    raise _error(response, await response.read())
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > max_bytes:
                        raise MattermostError(413, "file too large")
                return bytes(data)
        except TimeoutError:
            raise MattermostError(0, f"timeout after {REQUEST_TIMEOUT:g} s") from None
        except aiohttp.ClientError as exc:
            raise MattermostError(0, self._clean(exc)) from None

    # -- the calls -------------------------------------------------------------------------
    async def me(self) -> dict:
        return await self.call("GET", "/users/me")

    async def user(self, user_id: str) -> dict:
        if user_id not in self._users:
            _remember(self._users, user_id, await self.call("GET", f"/users/{user_id}"))
        return self._users[user_id]

    async def channel(self, channel_id: str) -> dict:
        if channel_id not in self._channels:
            _remember(self._channels, channel_id, await self.call("GET", f"/channels/{channel_id}"))
        return self._channels[channel_id]

    async def my_channels(self, user_id: str) -> list[dict]:
        channels = await self.call("GET", f"/users/{user_id}/channels") or []
        for channel in channels:
            _remember(self._channels, channel["id"], channel)
        return channels

    async def posts_since(self, channel_id: str, since_ms: int) -> list[dict]:
        """Posts created or changed since `since_ms`, oldest first."""
        found = await self.call("GET", f"/channels/{channel_id}/posts", params={"since": since_ms})
        posts = (found or {}).get("posts") or {}
        return sorted(posts.values(), key=lambda p: p.get("create_at", 0))

    async def create_post(self, body: dict) -> dict:
        return await self.call("POST", "/posts", json=body)

    async def patch_post(self, post_id: str, message: str) -> dict:
        return await self.call("PUT", f"/posts/{post_id}/patch", json={"message": message})

    async def typing(self, user_id: str, channel_id: str, parent_id: str = "") -> None:
        body = {"channel_id": channel_id, "parent_id": parent_id}
        await self.call("POST", f"/users/{user_id}/typing", json=body)

    async def add_reaction(self, user_id: str, post_id: str, emoji: str) -> None:
        body = {"user_id": user_id, "post_id": post_id, "emoji_name": emoji}
        await self.call("POST", "/reactions", json=body)

    async def remove_reaction(self, user_id: str, post_id: str, emoji: str) -> None:
        await self.call("DELETE", f"/users/{user_id}/posts/{post_id}/reactions/{emoji}")

    async def upload(self, channel_id: str, name: str, data: bytes, mime: str) -> str:
        form = aiohttp.FormData()
        form.add_field("channel_id", channel_id)
        form.add_field("files", data, filename=name, content_type=mime or None)
        found = await self.call("POST", "/files", data=form)
        return found["file_infos"][0]["id"]

    def _clean(self, exc: BaseException) -> str:
        return redact(str(exc) or type(exc).__name__, self.options.token)


def _remember(cache: dict[str, dict], key: str, value: dict) -> None:
    if len(cache) >= CACHE_LIMIT:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _error(response: aiohttp.ClientResponse, body: bytes) -> MattermostError:
    try:
        found = json.loads(body or b"{}")
    except ValueError:
        found = {}
    found = found if isinstance(found, dict) else {}
    retry_after = None
    if response.status == 429:
        retry_after = _seconds(response.headers.get("Retry-After")) or _seconds(
            response.headers.get("X-RateLimit-Reset")
        )
        retry_after = retry_after if retry_after is not None else 1.0
    message = str(found.get("message") or response.reason or "")
    return MattermostError(response.status, message, str(found.get("id") or ""), retry_after)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def result_from_error(exc: MattermostError) -> SendResult:
    """A failed call as a SendResult: 429 waits, 5xx and network errors are retried, 401 is
    "auth", 404/403 "not_found", 413 "too_long"; a timeout may have posted: never resent."""
    status = exc.status
    if status == 429:
        return SendResult(ok=False, error=str(exc), retry_after=exc.retry_after)
    if status == 0:
        timeout = "timeout" in exc.message.lower()
        return SendResult(ok=False, error=str(exc), retryable=not timeout)
    if status >= 500:
        return SendResult(ok=False, error=str(exc), retryable=True)
    kind = {401: "auth", 403: "not_found", 404: "not_found", 413: "too_long"}.get(status, "")
    return SendResult(ok=False, error=str(exc), retryable=False, kind=kind)
