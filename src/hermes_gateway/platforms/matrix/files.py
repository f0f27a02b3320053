"""Files both ways. Inbound: the file of an m.image / m.file / m.audio / m.video the bot will
answer is downloaded into HERMES_HOME/cache/matrix (platforms.downloads: the size limit, safe
names, a note instead of a file that was too large or could not be fetched). Outbound: an
attachment is uploaded to the media repository and becomes a file event's content."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Any

from hermes_gateway.core.types import Attachment, InboundMessage, MessageKind, SendResult
from hermes_gateway.platforms.downloads import with_downloads

from .content import file_content
from .convert import media_of
from .dimensions import image_size
from .login import result_from_error
from .media import MediaError, MediaRepo

_MSGTYPES = {
    MessageKind.PHOTO: "m.image",
    MessageKind.VOICE: "m.audio",
    MessageKind.AUDIO: "m.audio",
    MessageKind.VIDEO: "m.video",
}


class MatrixFiles:
    def __init__(self, repo: MediaRepo, cache_dir: Path, max_bytes: int) -> None:
        self.repo = repo
        self.cache_dir = cache_dir
        self.max_bytes = max_bytes

    async def attach(self, message: InboundMessage, event: dict[str, Any]) -> InboundMessage:
        """`message` with the event's file saved as its attachment (or a note in the text)."""
        ref = media_of(event)
        if ref is None:
            return message
        return await with_downloads(
            message,
            [ref.file],
            cache_dir=self.cache_dir,
            max_bytes=self.max_bytes,
            fetch=lambda _: self.repo.download(ref.mxc, self.max_bytes),
            errors=(MediaError,),
        )

    async def content(
        self, attachment: Attachment, thread_id: str = "", reply_to: str = ""
    ) -> dict[str, Any]:
        """Uploads the file; the m.room.message content that shows it. Raises MediaError."""
        path = Path(attachment.path)
        if not path.is_file():
            raise MediaError("M_NOT_FOUND", f"the file to send is gone: {path}")
        mime = (
            attachment.mime_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        mxc = await self.repo.upload(path, mime)
        info: dict[str, Any] = {"mimetype": mime, "size": path.stat().st_size}
        msgtype = msgtype_for(attachment.kind, mime)
        if msgtype == "m.image":
            size = await asyncio.to_thread(image_size, path)
            if size and size[0] > 0 and size[1] > 0:
                info["w"], info["h"] = size
        return file_content(msgtype, path.name, mxc, info, thread_id, reply_to)


def msgtype_for(kind: MessageKind, mime: str) -> str:
    """The event type a client shows best: a "document" that is audio or video plays inline."""
    if kind in _MSGTYPES:
        return _MSGTYPES[kind]
    if mime.startswith("video/"):
        return "m.video"
    if mime.startswith("audio/"):
        return "m.audio"
    return "m.file"


def upload_failure(exc: MediaError) -> SendResult:
    """A failed upload as a SendResult: nothing reached the room, so a network error or a
    server error (already retried here) may be tried again by the delivery layer."""
    if exc.transient and exc.status_code != "M_LIMIT_EXCEEDED":
        return SendResult(ok=False, error=f"uploading the file failed: {exc}")
    result = result_from_error(exc)
    return SendResult(
        ok=False,
        error=f"uploading the file failed: {result.error}",
        retry_after=result.retry_after,
        retryable=result.retryable,
        kind=result.kind,
    )
