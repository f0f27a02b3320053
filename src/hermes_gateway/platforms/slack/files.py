"""Files both ways. In: the `files` of a message event, downloaded from their url_private with
the bot token (the shared downloads helper saves them and notes what could not be fetched).
Out: an attachment uploaded with Slack's current flow (files.getUploadURLExternal, the bytes to
the upload URL it returns, files.completeUploadExternal into the channel and thread) — what
slack-sdk's files_upload_v2 does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from hermes_gateway.core.types import Attachment
from hermes_gateway.platforms.downloads import RemoteFile, kind_of

log = logging.getLogger("hermes.slack")

# Files the event names but that cannot be downloaded: deleted, or over a free plan's limit.
_GONE_MODES = frozenset({"tombstone", "hidden_by_limit"})
CHUNK = 65536


class DownloadError(Exception):
    """A file that could not be fetched; the text is short, has no token, and ends up in the
    note the model reads."""


@dataclass(frozen=True)
class SlackFile(RemoteFile):
    url: str = ""  # url_private_download (or url_private): needs the bot token
    # Slack Connect and some workspaces send only the id: files.info has the rest.
    needs_info: bool = False


FileInfo = Callable[[str], Awaitable[dict]]  # files.info: a file id -> its file object


def file_refs(event: dict) -> tuple[SlackFile, ...]:
    """The files of a message event (files without an id are skipped: nothing to fetch)."""
    found = event.get("files")
    if not isinstance(found, list):
        return ()
    refs = []
    for info in found:
        if not isinstance(info, dict) or not isinstance(info.get("id"), str):
            continue
        refs.append(_ref(info))
    return tuple(refs)


def _ref(info: dict) -> SlackFile:
    if info.get("file_access") == "check_file_info":
        return SlackFile(info["id"], info["id"], "", 0, needs_info=True)
    mime = str(info.get("mimetype") or "")
    size = info.get("size")
    url = info.get("url_private_download") or info.get("url_private") or ""
    if info.get("mode") in _GONE_MODES:
        url = ""
    return SlackFile(
        id=info["id"],
        name=str(info.get("name") or info.get("title") or info["id"]),
        mime_type=mime,
        size=size if isinstance(size, int) and size > 0 else 0,
        kind=kind_of(mime),
        url=str(url),
    )


class FileDownloader:
    """GETs a file with `Authorization: Bearer <bot token>`, only from Slack's own hosts: the
    token must never go to an address some other party put in an event."""

    def __init__(
        self, http: aiohttp.ClientSession, token: str, api_url: str, info: FileInfo
    ) -> None:
        self._http, self._token, self._info = http, token, info
        api = urlsplit(api_url)
        self._scheme, self._host = api.scheme, (api.hostname or "").lower()

    def trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        same_site = host == self._host or host.endswith("." + self._host.removeprefix("www."))
        return parts.scheme == self._scheme and bool(host) and same_site

    async def complete(self, ref: SlackFile) -> SlackFile:
        """A file the event named by id only, with its name, type, size and address."""
        if not ref.needs_info:
            return ref
        try:
            return _ref(await self._info(ref.id))
        except Exception as exc:  # fetch() says so in the note; the message still goes on
            error = getattr(exc, "response", {}).get("error") or type(exc).__name__
            log.warning("slack: files.info for %s failed: %s", ref.id, error)
            return ref

    async def fetch(self, ref: RemoteFile, max_bytes: int) -> bytes:
        url = ref.url if isinstance(ref, SlackFile) else ""
        if not url and isinstance(ref, SlackFile) and ref.needs_info:
            raise DownloadError("files.info did not tell where it is")
        if not url:
            raise DownloadError("Slack gave no download address; it may be deleted")
        if not self.trusted(url):
            raise DownloadError("not a Slack file address")
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self._http.get(url, headers=headers) as response:
                if response.status in (401, 403):
                    raise DownloadError(f"Slack refused the download ({response.status})")
                if response.status >= 400:
                    raise DownloadError(f"Slack answered HTTP {response.status}")
                if _sign_in_page(response, ref.mime_type):
                    raise DownloadError("Slack sent a sign-in page: the app needs files:read")
                return await _read_bounded(response, max_bytes)
        except TimeoutError:
            raise DownloadError("no answer within the timeout") from None
        except aiohttp.ClientError as exc:
            raise DownloadError(type(exc).__name__) from None  # its text holds the URL


def _sign_in_page(response: aiohttp.ClientResponse, expected: str) -> bool:
    """Without the files:read scope Slack answers 200 with its HTML sign-in page."""
    return response.content_type == "text/html" and not expected.startswith("text/html")


async def _read_bounded(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    data = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        data += chunk
        if len(data) > max_bytes:  # the caller turns this into the too-large note
            return bytes(data)
    return bytes(data)


# -- out -------------------------------------------------------------------------------------
async def upload_args(
    attachments: tuple[Attachment, ...], channel: str, thread_ts: str, comment: str
) -> dict[str, Any]:
    """files_upload_v2's arguments: every file in one message, `comment` as its text."""
    uploads = []
    for attachment in attachments:
        path = Path(attachment.path)
        data = await asyncio.to_thread(path.read_bytes)
        uploads.append({"file": data, "filename": path.name, "title": path.name})
    args: dict[str, Any] = {"file_uploads": uploads, "channel": channel}
    if thread_ts:
        args["thread_ts"] = thread_ts
    if comment:
        args["initial_comment"] = comment
    return args


def shared_ts(completion: Any, channel: str) -> str:
    """The ts of the message that shows the files, when Slack already says (it shares files
    in the background, so the answer may not know it yet)."""
    for info in completion.get("files") or []:
        shares = (info or {}).get("shares") or {}
        for scope in ("public", "private"):
            for share in (shares.get(scope) or {}).get(channel) or []:
                if share.get("ts"):
                    return str(share["ts"])
    return ""
