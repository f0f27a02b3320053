"""Files on the Slack peer: people's files served at url_private(_download) only with the bot
token (401 otherwise), and the bot's uploads through Slack's current flow —
files.getUploadURLExternal (filename, length -> upload_url, file_id), a POST of the bytes to
upload_url ("OK - <length>"), files.completeUploadExternal (files=[{id, title}], channel_id,
thread_ts, initial_comment -> {"files": [{id, title}]}), which shares them as one message;
files.info for a file an event named by id only."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from aiohttp import web

from tests.peers.slack_peer import BOT_ID, BOT_USER, TEAM, ApiError, SlackState

MAX_UPLOAD = 1024 * 1024 * 1024  # Slack's 1 GB per file


class PeerFiles:
    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.reset()

    def reset(self) -> None:
        self.stored: dict[str, dict] = {}  # file id -> {"info": file object, "data": bytes}
        self.uploads: dict[str, dict] = {}  # upload key -> {"file_id", "filename", "length"}
        self.downloads: list[dict] = []  # every GET of a file: {file_id, authorized, status}

    # -- people's files ----------------------------------------------------------------------
    def add(self, host: str, user: str, spec: dict) -> dict:
        """A file a person shares: spec {name, mimetype?, content (base64), size?}; `size`
        may claim another size than the bytes served (what an event says is not checked)."""
        data = base64.b64decode(spec.get("content", ""))
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        name = spec["name"]
        base = f"http://{host}/files-pri/{TEAM}-{file_id}"
        info = {
            "id": file_id,
            "created": 1700000000,
            "timestamp": 1700000000,
            "name": name,
            "title": name,
            "mimetype": spec.get("mimetype", "application/octet-stream"),
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "user": user,
            "mode": spec.get("mode", "hosted"),
            "is_external": False,
            "is_public": False,
            "size": int(spec.get("size", len(data))),
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://hermes-test.slack.com/files/{user}/{file_id}/{name}",
        }
        stub = spec.get("file_access") == "check_file_info"
        self.stored[file_id] = {"info": info, "data": data, "stub": stub}
        return info

    def in_event(self, info: dict) -> dict:
        """The file as a message event shows it: whole, or (Slack Connect, some workspaces)
        only its id, to be completed with files.info."""
        if not self.stored[info["id"]]["stub"]:
            return info
        keep = ("id", "created", "timestamp", "user")
        return {
            **{k: info[k] for k in keep},
            "mode": "file_access",
            "file_access": "check_file_info",
        }

    def info(self, params: dict) -> dict:
        found = self.stored.get(str(params.get("file") or ""))
        if found is None:
            raise ApiError("file_not_found")
        self.state.record("files.info", {"file": found["info"]["id"]})
        return {"file": found["info"], "comments": [], "response_metadata": {"next_cursor": ""}}

    async def serve(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["team_file"].removeprefix(f"{TEAM}-")
        header = request.headers.get("Authorization", "")
        authorized = header == f"Bearer {self.state.bot_token}"
        found = self.stored.get(file_id)
        status = 200 if authorized and found else 401 if not authorized else 404
        self.downloads.append({"file_id": file_id, "authorized": authorized, "status": status})
        self.state.changed.set()
        if status != 200:
            return web.Response(status=status, text="not allowed" if status == 401 else "gone")
        mime = found["info"]["mimetype"]
        return web.Response(body=found["data"], content_type=mime.split(";")[0])

    # -- the bot's uploads -------------------------------------------------------------------
    def get_upload_url(self, host: str, params: dict) -> dict:
        filename, length = params.get("filename"), params.get("length")
        if not filename:
            raise ApiError("invalid_arguments")
        try:
            size = int(length)
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None
        if not 0 < size <= MAX_UPLOAD:
            raise ApiError("invalid_arguments")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        key = uuid.uuid4().hex
        self.uploads[key] = {"file_id": file_id, "filename": filename, "length": size}
        return {"upload_url": f"http://{host}/upload/v1/{key}", "file_id": file_id}

    async def receive(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["key"])
        if upload is None:
            return web.Response(status=404, text="upload URL unknown or used")
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            field = form.get("file") or form.get("filename")
            data = field.file.read() if hasattr(field, "file") else b""
        else:
            data = await request.read()
        upload["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    def complete(self, params: dict, find_thread) -> dict:
        try:
            wanted = json.loads(params.get("files") or "")
        except ValueError:
            raise ApiError("invalid_arguments") from None
        if not isinstance(wanted, list) or not wanted:
            raise ApiError("invalid_arguments")
        by_file = {u["file_id"]: (key, u) for key, u in self.uploads.items() if "data" in u}
        if any(not isinstance(f, dict) or f.get("id") not in by_file for f in wanted):
            raise ApiError("file_not_found")
        channel = params.get("channel_id") or ""
        thread_ts = params.get("thread_ts") or ""
        if channel:
            find_thread(channel, thread_ts)  # raises channel_not_found / thread_not_found
        files = []
        for f in wanted:
            key, upload = by_file[f["id"]]
            del self.uploads[key]
            files.append(
                {
                    "id": f["id"],
                    "name": upload["filename"],
                    "title": f.get("title") or upload["filename"],
                    "length": upload["length"],
                    "data_b64": base64.b64encode(upload["data"]).decode(),
                }
            )
        shown = [{"id": f["id"], "title": f["title"]} for f in files]
        if not channel:  # uploaded, shared nowhere
            self.state.record("files.completeUploadExternal", {"files": files})
            return {"files": shown}
        message = {
            "type": "message",
            "channel": channel,
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "ts": self.state.next_ts(),
            "text": params.get("initial_comment") or "",
            "thread_ts": thread_ts,
            "files": [{k: v for k, v in f.items() if k != "data_b64"} for f in files],
            "blocks": [],
            "edits": 0,
        }
        self.state.messages.append(message)
        self.state.record("files.completeUploadExternal", {"message": message, "files": files})
        return {"files": shown}  # Slack shares in the background: no ts in the answer


def add_file_routes(app: web.Application, files: PeerFiles) -> None:
    app.router.add_get("/files-pri/{team_file}/download/{name}", files.serve)
    app.router.add_get("/files-pri/{team_file}/{name}", files.serve)
    app.router.add_post("/upload/v1/{key}", files.receive)

    async def downloads(request: web.Request) -> web.Response:
        return web.json_response(files.downloads)

    app.router.add_get("/_peer/downloads", downloads)


def shared_files(files: PeerFiles, host: str, user: str, specs: Any) -> list[dict]:
    if not isinstance(specs, list):
        raise web.HTTPBadRequest(text="files must be a list")
    return [files.add(host, user, spec) for spec in specs]
