"""Files that come with an inbound message, fetched into HERMES_HOME/cache/<platform>: the size
limit is checked before the download, the file name is made safe, and a file that cannot be
fetched becomes a note in the text (the message is delivered anyway)."""

from __future__ import annotations

import asyncio
import dataclasses
import mimetypes
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hermes_gateway.agent.checkpoints import write_atomic_bytes
from hermes_gateway.core.types import Attachment, InboundMessage, MessageKind

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RemoteFile:
    """A file the platform holds for an inbound message, not downloaded yet."""

    id: str
    name: str
    mime_type: str
    size: int  # 0 when the platform did not say
    kind: MessageKind | None = None  # None: the message's kind


async def with_downloads(
    message: InboundMessage,
    files: Sequence[RemoteFile],
    *,
    cache_dir: Path,
    max_bytes: int,
    fetch: Callable[[RemoteFile], Awaitable[bytes]],
    errors: tuple[type[Exception], ...],
) -> InboundMessage:
    """`message` with its files saved as attachments. Only a message addressed to the bot is
    worth the downloads; `errors` are what `fetch` raises for a file it could not get."""
    if not files or not message.addressed:
        return message
    attachments, notes = [], []
    for ref in files:
        if ref.size > max_bytes:
            notes.append(too_large_note(ref.name, ref.size))
            continue
        try:
            data = await fetch(ref)
        except errors as exc:
            notes.append(f"[file not downloaded: {ref.name} ({exc})]")
            continue
        if len(data) > max_bytes:  # the platform had not said, or said less
            notes.append(too_large_note(ref.name, len(data)))
            continue
        path = cache_dir / f"{ref.id}_{_UNSAFE.sub('_', ref.name)[-80:]}"
        await asyncio.to_thread(write_atomic_bytes, path, data)
        mime = ref.mime_type or (mimetypes.guess_type(ref.name)[0] or "")
        attachments.append(Attachment(str(path), ref.kind or message.kind, mime, len(data)))
    text = "\n".join([message.text, *notes]).strip()
    return dataclasses.replace(message, text=text, attachments=tuple(attachments))


def too_large_note(name: str, size: int) -> str:
    return f"[file too large: {name} ({size / 1048576:.1f} MB); it was not downloaded]"


def kind_of(mime_type: str) -> MessageKind:
    """A file's kind from its MIME type (anything unknown is a document)."""
    major = mime_type.split("/", 1)[0]
    kinds = {"image": MessageKind.PHOTO, "audio": MessageKind.AUDIO, "video": MessageKind.VIDEO}
    return kinds.get(major, MessageKind.DOCUMENT)
