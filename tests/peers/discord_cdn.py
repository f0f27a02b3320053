"""The Discord peer's files: the CDN that serves attachments (at /cdn/attachments/... and, as the
media proxy, /media/attachments/...), the attachment objects put in MESSAGE_CREATE, and the
multipart/form-data body of a create-message call that uploads files
(https://discord.com/developers/docs/reference#uploading-files: a `payload_json` part and one
`files[n]` part per file, each `attachments[]` entry naming its part by `id` = n)."""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

MAX_FILES = 10
UPLOAD_LIMIT = 10 * 1024 * 1024  # bytes a message may upload (a server without boosts)
_FILE_PART = re.compile(r"files\[(\d+)\]")


class BadForm(Exception):
    """A create-message body Discord would refuse: (status, message, code)."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class StoredFile:
    id: str
    channel_id: str
    filename: str
    content_type: str
    data: bytes

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
            "data": base64.b64encode(self.data).decode(),
        }


@dataclass
class Cdn:
    files: dict[str, StoredFile] = field(default_factory=dict)  # attachment id -> file
    fetches: list[str] = field(default_factory=list)  # paths served, oldest first

    def store(self, ident: str, channel: str, filename: str, content_type: str, data: bytes):
        self.files[ident] = StoredFile(ident, channel, filename, content_type, data)
        return self.files[ident]

    def attachment(
        self, stored: StoredFile, host: str, size: int | None = None, voice: bool = False
    ) -> dict:
        """The attachment object of a message; `size` may differ from the data's (a test of
        a client that trusts it). A voice message (recorded in the app) has a duration and a
        waveform."""
        path = f"attachments/{stored.channel_id}/{stored.id}/{quote(stored.filename, safe='')}"
        data: dict[str, Any] = {
            "id": stored.id,
            "filename": stored.filename,
            "size": len(stored.data) if size is None else size,
            "url": f"http://{host}/cdn/{path}?ex=1&is=2&hm=3",
            "proxy_url": f"http://{host}/media/{path}?ex=1&is=2&hm=3",
            "flags": 0,
        }
        if stored.content_type:
            data["content_type"] = stored.content_type
        if voice:
            data.update(duration_secs=1.5, waveform=base64.b64encode(bytes(32)).decode())
        return data

    async def serve(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["file"])
        if stored is None or stored.channel_id != request.match_info["channel"]:
            return web.Response(status=404, text="Not Found")
        self.fetches.append(request.path)
        kind = stored.content_type or "application/octet-stream"
        return web.Response(body=stored.data, headers={"Content-Type": kind})


async def read_upload(request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(payload_json, [{index, filename, content_type, data}]) of a multipart create-message."""
    payload: dict[str, Any] | None = None
    parts: list[dict[str, Any]] = []
    total = 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        name = part.name or ""
        if name == "payload_json":
            payload = json.loads(await part.text())
            continue
        match = _FILE_PART.fullmatch(name)
        if match is None:
            raise BadForm(400, f"Invalid Form Body: unknown part {name!r}", 50035)
        data = bytes(await part.read())
        total += len(data)
        parts.append(
            {
                "index": int(match.group(1)),
                "filename": part.filename or "",
                "content_type": part.headers.get("Content-Type", ""),
                "data": data,
            }
        )
    if payload is None:
        raise BadForm(400, "Invalid Form Body: payload_json is missing", 50035)
    if len(parts) > MAX_FILES:
        raise BadForm(400, "Invalid Form Body: files: Must be 10 or fewer in length.", 50035)
    if total > UPLOAD_LIMIT:
        raise BadForm(413, "Request entity too large", 40005)
    named = {int(a["id"]): a for a in payload.get("attachments", []) if "id" in a}
    for upload in parts:
        entry = named.get(upload["index"])
        if entry is None:
            raise BadForm(400, f"Invalid Form Body: files[{upload['index']}] is unnamed", 50035)
        upload["filename"] = entry.get("filename") or upload["filename"]
        if upload["content_type"] in ("", "application/octet-stream"):  # Discord sniffs it
            upload["content_type"] = mimetypes.guess_type(upload["filename"])[0] or ""
    return payload, parts
