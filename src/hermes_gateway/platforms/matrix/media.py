"""The homeserver's media repository: download an mxc:// URI (bounded in size, streamed) and
upload a file (streamed from disk) for an mxc:// URI to send.

Downloads use the authenticated endpoint (/_matrix/client/v1/media/download, Matrix 1.11):
Synapse refuses unauthenticated media by default since 1.120, and the legacy path answers
404 for new files. A server too old for it (404/405 M_UNRECOGNIZED) gets the legacy
/_matrix/media/v3/download. The access token always travels in the Authorization header,
never in a URL (URLs end up in logs and error messages)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from hermes_gateway.platforms.connection import Backoff

AUTHENTICATED = "/_matrix/client/v1/media/download"
LEGACY = "/_matrix/media/v3/download"
UPLOAD = "/_matrix/media/v3/upload"  # still the spec's upload endpoint
ATTEMPTS = 3  # a download or upload after a network error or a 5xx / 429
CHUNK = 64 * 1024
# Whole transfers may take minutes on a slow link; a server silent this long is gone.
TIMEOUT = aiohttp.ClientTimeout(total=600, sock_connect=15, sock_read=60)
# mxc://<server name>/<media id>: a host (or [IPv6]) with an optional port, and an opaque id
# of URL-safe characters (the spec's grammar), so neither can change the request's path.
_MXC = re.compile(
    r"^mxc://((?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?)/([A-Za-z0-9_-]+)$"
)


class MediaError(Exception):
    """A transfer that did not work. `status_code` (the Matrix errcode), `message` and
    `retry_after_ms` read like a nio ErrorResponse, so login.result_from_error maps it."""

    def __init__(self, code: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status_code = code
        self.message = message
        self.retry_after_ms = retry_after_ms

    @property
    def transient(self) -> bool:
        return self.status_code in ("M_LIMIT_EXCEEDED", "network") or self.status_code.startswith(
            "HTTP 5"
        )


class MediaTooLarge(MediaError):
    def __init__(self, limit: int) -> None:
        super().__init__("M_TOO_LARGE", f"larger than the {limit / 1048576:g} MB limit")


def parse_mxc(uri: str) -> tuple[str, str] | None:
    """(server name, media id) of a well-formed mxc:// URI, else None."""
    match = _MXC.match(uri) if isinstance(uri, str) else None
    return (match.group(1), match.group(2)) if match else None


class MediaRepo:
    def __init__(self, homeserver: str, access_token: Callable[[], str]) -> None:
        self.homeserver = homeserver
        self._token = access_token  # read per request: a password session may log in again
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}", **extra}

    # -- download ----------------------------------------------------------------------------
    async def download(self, mxc: str, max_bytes: int) -> bytes:
        """The file's bytes; MediaTooLarge past max_bytes (checked while streaming, so a
        server that did not say the size cannot fill memory), MediaError otherwise."""
        parts = parse_mxc(mxc)
        if parts is None:
            raise MediaError("M_INVALID_PARAM", "the event has no usable mxc:// URL")
        path = "/".join(quote(part, safe="") for part in parts)
        return await _retrying(lambda: self._download(path, max_bytes))

    async def _download(self, path: str, max_bytes: int) -> bytes:
        try:
            return await self._get(f"{AUTHENTICATED}/{path}", max_bytes)
        except MediaError as exc:
            if exc.status_code != "M_UNRECOGNIZED":
                raise
        return await self._get(f"{LEGACY}/{path}", max_bytes)  # a server before Matrix 1.11

    async def _get(self, path: str, max_bytes: int) -> bytes:
        try:
            async with self._http().get(
                self.homeserver + path, headers=self._headers(), allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise await _refusal(response)
                if (response.content_length or 0) > max_bytes:
                    raise MediaTooLarge(max_bytes)
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        raise MediaTooLarge(max_bytes)
                return bytes(data)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise MediaError("network", _describe(exc)) from None

    # -- upload --------------------------------------------------------------------------------
    async def upload(self, path: Path, mime_type: str) -> str:
        """The mxc:// URI of the uploaded file."""
        return await _retrying(lambda: self._upload(path, mime_type))

    async def _upload(self, path: Path, mime_type: str) -> str:
        headers = self._headers(**{"Content-Type": mime_type or "application/octet-stream"})
        try:
            with path.open("rb") as handle:  # aiohttp streams it, reading off the event loop
                async with self._http().post(
                    self.homeserver + UPLOAD,
                    params={"filename": path.name},
                    data=handle,
                    headers=headers,
                ) as response:
                    if response.status != 200:
                        raise await _refusal(response)
                    answer = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise MediaError("network", _describe(exc)) from None
        uri = answer.get("content_uri") if isinstance(answer, dict) else None
        if not isinstance(uri, str) or parse_mxc(uri) is None:
            raise MediaError("M_UNKNOWN", "the upload answer has no content_uri")
        return uri


async def _retrying(call: Callable[[], Any]) -> Any:
    backoff = Backoff(start=0.5, cap=5.0)
    for attempt in range(ATTEMPTS):
        try:
            return await call()
        except MediaError as exc:
            if not exc.transient or attempt == ATTEMPTS - 1:
                raise
            wait = exc.retry_after_ms / 1000 if exc.retry_after_ms else backoff.next()
            await asyncio.sleep(min(wait, 30.0))
    raise AssertionError("unreachable")


async def _refusal(response: aiohttp.ClientResponse) -> MediaError:
    """The Matrix error in a non-200 answer; an endpoint the server lacks is M_UNRECOGNIZED."""
    try:
        body = await response.json(content_type=None)
    except (aiohttp.ClientError, ValueError):
        body = None
    body = body if isinstance(body, dict) else {}
    code = body.get("errcode")
    if not isinstance(code, str) or not code:
        code = "M_UNRECOGNIZED" if response.status in (404, 405) else f"HTTP {response.status}"
    elif response.status >= 500:  # worth another try whatever the body says
        code = f"HTTP {response.status} {code}"
    retry = body.get("retry_after_ms")
    retry_ms = int(retry) if isinstance(retry, (int, float)) and retry > 0 else None
    message = body.get("error") if isinstance(body.get("error"), str) else ""
    return MediaError(code, message[:200], retry_ms)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
