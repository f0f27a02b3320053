"""Attachments of incoming mail, saved into HERMES_HOME/cache/email (with a size limit)."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from pathlib import Path

from hermes_gateway.core.types import Attachment
from hermes_gateway.platforms.downloads import kind_of

from .convert import Part

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_parts(
    parts: tuple[Part, ...], folder: Path, message_id: str, max_bytes: int
) -> tuple[list[Attachment], list[str]]:
    """(saved attachments, notes for the text about the ones that were not saved)."""
    saved: list[Attachment] = []
    notes: list[str] = []
    stem = hashlib.sha256(message_id.encode()).hexdigest()[:12]
    for index, part in enumerate(parts):
        label = part.filename or f"attachment {index + 1}"
        if len(part.data) > max_bytes:
            notes.append(
                f"[file too large: {label} is {len(part.data) / 1048576:.1f} MB, the limit is "
                f"{max_bytes / 1048576:g} MB; it was not saved]"
            )
            continue
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = folder / _safe_name(stem, index, part)
        target.write_bytes(part.data)
        saved.append(
            Attachment(str(target), kind_of(part.mime_type), part.mime_type, len(part.data))
        )
    return saved, notes


def _safe_name(stem: str, index: int, part: Part) -> str:
    name = Path(part.filename).name if part.filename else ""
    if not name:
        name = "attachment" + (mimetypes.guess_extension(part.mime_type) or ".bin")
    return _UNSAFE.sub("_", f"{stem}_{index}_{name}")[:160]
