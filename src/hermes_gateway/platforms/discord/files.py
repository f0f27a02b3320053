"""Files both ways: the attachments of an addressed message downloaded into
HERMES_HOME/cache/discord (size limit, safe names and notes come from platforms/downloads.py),
and outgoing attachments uploaded as multipart/form-data with the message, as Discord's
"Uploading Files" section describes: a `payload_json` part, then one `files[n]` part per file."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, Route

from hermes_gateway.core.types import Attachment, InboundMessage
from hermes_gateway.platforms.downloads import with_downloads

from .convert import remote_files
from .errors import describe

log = logging.getLogger("hermes.discord")

MAX_FILES = 10  # attachments one Discord message can carry
DOWNLOAD_TIMEOUT = 120.0  # seconds for one attempt at one file
# From the file's URL, then the media proxy's copy, then the URL once more.
SOURCES = (False, True, False)


class DownloadFailed(Exception):
    """Every attempt at one attachment failed; the text says the last reason."""


async def with_files(
    message: InboundMessage,
    attachments: Sequence[discord.Attachment],
    cache_dir: Path,
    max_bytes: int,
) -> InboundMessage:
    """`message` with its attachments saved (or a note for each one that was not)."""
    by_id = {str(a.id): a for a in attachments}

    async def fetch(ref: Any) -> bytes:
        return await read(by_id[ref.id])

    return await with_downloads(
        message,
        remote_files(list(attachments)),
        cache_dir=cache_dir,
        max_bytes=max_bytes,
        fetch=fetch,
        errors=(DownloadFailed,),
    )


async def read(attachment: discord.Attachment) -> bytes:
    last = ""
    for attempt, cached in enumerate(SOURCES):
        if attempt:
            await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        try:
            return await asyncio.wait_for(attachment.read(use_cached=cached), DOWNLOAD_TIMEOUT)
        except TimeoutError:
            last = f"no answer in {DOWNLOAD_TIMEOUT:g} s"
        except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
            last = describe(exc)
        log.info("discord: downloading %s failed (%s)", attachment.filename, last)
    raise DownloadFailed(last)


# -- uploads ---------------------------------------------------------------------------------
def batches(attachments: Sequence[Attachment]) -> list[Sequence[Attachment]]:
    return [attachments[i : i + MAX_FILES] for i in range(0, len(attachments), MAX_FILES)]


class UnreadableFile(Exception):
    """An attachment's path cannot be opened: resending would not help."""


def open_files(attachments: Sequence[Attachment]) -> list[discord.File]:
    opened: list[discord.File] = []
    try:
        for attachment in attachments:
            path = Path(attachment.path)
            opened.append(discord.File(path, filename=path.name))
    except OSError as exc:
        close_all(opened)
        raise UnreadableFile(f"cannot read {attachment.path}: {exc.strerror or exc}") from None
    return opened


def close_all(files: Sequence[discord.File]) -> None:
    for file in files:
        file.close()


async def upload(
    http: HTTPClient,
    channel: str,
    payload: dict[str, Any],
    attachments: Sequence[Attachment],
) -> dict[str, Any]:
    """POST one message carrying `payload` and up to MAX_FILES files; the created message."""
    files = open_files(attachments)
    try:
        body = {**payload, "attachments": [f.to_dict(i) for i, f in enumerate(files)]}
        form: list[dict[str, Any]] = [{"name": "payload_json", "value": json.dumps(body)}]
        for index, (file, attachment) in enumerate(zip(files, attachments, strict=True)):
            form.append(
                {
                    "name": f"files[{index}]",
                    "value": file.fp,
                    "filename": file.filename,
                    "content_type": attachment.mime_type or "application/octet-stream",
                }
            )
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel)
        # discord.py rewinds `files` before each of its own retries (429, 5xx).
        return await http.request(route, files=files, form=form)
    finally:
        close_all(files)
