"""Files: incoming media downloaded into HERMES_HOME/cache/telegram (with a size limit), and
outgoing attachments uploaded with sendPhoto / sendVoice / sendDocument."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
from pathlib import Path
from typing import Any

from telegram import Bot, Message
from telegram.error import BadRequest, NetworkError, TelegramError

from hermes_gateway.core.types import Attachment, MessageKind

from .convert import MediaRef

log = logging.getLogger("hermes.telegram")

CAPTION_LIMIT = 1024  # UTF-16 code units, like message text
DOWNLOAD_ATTEMPTS = 3
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fits_caption(text: str) -> bool:
    return utf16_len(text) <= CAPTION_LIMIT


def _label(ref: MediaRef) -> str:
    return ref.file_name or ref.kind.value


def too_large_note(ref: MediaRef, size: int, limit: int) -> str:
    return (
        f"[file too large: {_label(ref)} is {size / 1048576:.1f} MB, "
        f"the limit is {limit / 1048576:g} MB; it was not downloaded]"
    )


async def download(
    bot: Bot, ref: MediaRef, folder: Path, stem: str, max_bytes: int
) -> Attachment | str:
    """The cached file as an Attachment, or a short note for the text when it was not fetched.

    Network errors are retried a few times; a file that still cannot be fetched becomes a note
    rather than blocking the chat's later messages."""
    if ref.size and ref.size > max_bytes:
        return too_large_note(ref, ref.size, max_bytes)
    last_error = ""
    for attempt in range(DOWNLOAD_ATTEMPTS):
        try:
            return await _fetch(bot, ref, folder, stem, max_bytes)
        except BadRequest as exc:
            if "too big" in exc.message.lower():  # the cloud Bot API refuses files over 20 MB
                return too_large_note(ref, ref.size or max_bytes + 1, max_bytes)
            last_error = exc.message
            break
        except (NetworkError, TelegramError, OSError) as exc:
            last_error = str(exc) or type(exc).__name__
            await asyncio.sleep(0.5 * 2**attempt)
    log.warning("telegram: downloading a %s failed: %s", ref.kind.value, last_error)
    return f"[file could not be downloaded: {_label(ref)} ({last_error})]"


async def _fetch(
    bot: Bot, ref: MediaRef, folder: Path, stem: str, max_bytes: int
) -> Attachment | str:
    remote = await bot.get_file(ref.file_id)
    size = remote.file_size or ref.size
    if size and size > max_bytes:
        return too_large_note(ref, size, max_bytes)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / _safe_name(stem, ref, remote.file_path or "")
    await remote.download_to_drive(target)
    actual = target.stat().st_size
    if actual > max_bytes:  # the size was unknown beforehand
        target.unlink(missing_ok=True)
        return too_large_note(ref, actual, max_bytes)
    mime = ref.mime_type or mimetypes.guess_type(target.name)[0] or ""
    return Attachment(str(target), ref.kind, mime, actual)


def _safe_name(stem: str, ref: MediaRef, remote_path: str) -> str:
    suffix = Path(ref.file_name).suffix or Path(remote_path).suffix
    if not suffix and ref.mime_type:
        suffix = mimetypes.guess_extension(ref.mime_type) or ""
    name = f"{stem}_{ref.file_unique_id}{suffix}"
    return _UNSAFE.sub("_", name)[:160]


async def upload(
    bot: Bot,
    chat_id: int | str,
    attachment: Attachment,
    caption: str | None,
    parse_mode: str | None,
    **common: Any,
) -> Message:
    """Send one file; `common` carries message_thread_id, reply_parameters and reply_markup."""
    path = Path(attachment.path)
    if attachment.kind is MessageKind.PHOTO:
        return await bot.send_photo(chat_id, path, caption=caption, parse_mode=parse_mode, **common)
    if attachment.kind is MessageKind.VOICE:
        return await bot.send_voice(chat_id, path, caption=caption, parse_mode=parse_mode, **common)
    return await bot.send_document(
        chat_id, path, caption=caption, parse_mode=parse_mode, filename=path.name, **common
    )
