"""`MEDIA: /abs/path` lines in a reply: the agent's way to send a file. They become attachments
where the platform can carry that kind of file; elsewhere the path stays in the text so the user
still learns where it is."""

from __future__ import annotations

import mimetypes
import os
import re

from hermes_gateway.core.types import Attachment, Capabilities, MessageKind

MEDIA_LINE = re.compile(r"^[ \t]*MEDIA:[ \t]*(/[^\n]*?)[ \t]*$", re.MULTILINE)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
VOICE_SUFFIXES = frozenset({".ogg", ".oga", ".opus"})
_FENCE = "```"


def attachment_kind(path: str) -> MessageKind:
    suffix = os.path.splitext(path)[1].lower()
    if suffix in IMAGE_SUFFIXES:
        return MessageKind.PHOTO
    if suffix in VOICE_SUFFIXES:
        return MessageKind.VOICE
    return MessageKind.DOCUMENT


def extract_media(text: str, capabilities: Capabilities) -> tuple[str, tuple[Attachment, ...]]:
    """(text without the sendable MEDIA lines, their attachments in order)."""
    if "MEDIA:" not in text:
        return text, ()
    kept: list[str] = []
    attachments: list[Attachment] = []
    in_code = False
    for line in text.split("\n"):
        if line.lstrip().startswith(_FENCE):
            in_code = not in_code
        match = None if in_code else MEDIA_LINE.match(line)
        if match is None:
            kept.append(line)
            continue
        path = match.group(1)
        attachment = _attachment(path, capabilities)
        if attachment is None:
            kept.append(path)  # cannot be sent here (or is missing): the path is still useful
        else:
            attachments.append(attachment)
    if not attachments:
        return "\n".join(kept), ()
    rest = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    return rest, tuple(attachments)


def strip_media_lines(text: str) -> str:
    """The text as it will read once MEDIA lines are gone (what a stream shows meanwhile)."""
    return MEDIA_LINE.sub("", text) if "MEDIA:" in text else text


def _attachment(path: str, capabilities: Capabilities) -> Attachment | None:
    if not os.path.isfile(path):
        return None
    kind = attachment_kind(path)
    can_send = {
        MessageKind.PHOTO: capabilities.images,
        MessageKind.VOICE: capabilities.voice,
        MessageKind.DOCUMENT: capabilities.files,
    }[kind]
    if not can_send and capabilities.files:
        kind = MessageKind.DOCUMENT  # a platform that takes files takes any file as a document
    elif not can_send:
        return None
    mime_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Attachment(path, kind, mime_type, os.path.getsize(path))
