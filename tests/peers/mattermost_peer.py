"""A loopback Mattermost server (REST API v4 + websocket), run as a subprocess.

    python -m tests.peers.mattermost_peer --port 0 --token TOKEN   # prints "PORT <n>" first

Users: the bot and USERS (ids from user_id()); channels: one DM per user with the bot
(dm_id(user)) and one public channel TOWN. The websocket sends "posted" events the way
Mattermost does: data.post and data.mentions are JSON strings. Control endpoints under /_peer/:
    POST post | malformed | restart | token | fail | reset;  GET posts | typing | reactions
/_peer/restart drops every websocket and answers 503 for `seconds`, keeping all posts."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import time
import uuid

from aiohttp import WSMsgType, web

from tests.peers.serving import serve_app

BOT = "hermes"
USERS = ("alice", "bob", "stranger")
TOWN = hashlib.sha1(b"channel:town").hexdigest()[:26]
MAX_LENGTH = 16383


def user_id(name: str) -> str:
    return hashlib.sha1(f"user:{name}".encode()).hexdigest()[:26]


def dm_id(name: str) -> str:
    return hashlib.sha1(f"dm:{name}".encode()).hexdigest()[:26]


def now_ms() -> int:
    return int(time.time() * 1000)


def error(status: int, error_id: str, message: str) -> web.Response:
    body = {"id": error_id, "message": message, "status_code": status}
    return web.json_response(body, status=status)


class Peer:
    def __init__(self, token: str) -> None:
        self.default_token = token
        self.users = {user_id(n): {"id": user_id(n), "username": n} for n in (BOT, *USERS)}
        self.bot = self.users[user_id(BOT)]
        self.channels = {TOWN: {"id": TOWN, "type": "O", "name": "town-square",
                                "display_name": "Town Square", "team_id": "team1"}}  # fmt: skip
        for name in USERS:
            self.channels[dm_id(name)] = {"id": dm_id(name), "type": "D", "team_id": "",
                "name": f"{self.bot['id']}__{user_id(name)}", "display_name": name}  # fmt: skip
        self.sockets: set[web.WebSocketResponse] = set()
        self.reset()

    def reset(self) -> None:
        self.token = self.default_token
        self.posts: dict[str, dict] = {}
        self.edits: dict[str, int] = {}
        self.files: dict[str, tuple[str, str, bytes]] = {}
        self.typing: list[dict] = []
        self.reactions: list[dict] = []
        self.failures: list[dict] = []
        self.down_until = 0.0

    # -- the websocket ---------------------------------------------------------------------
    async def broadcast(self, event: str, data: dict, channel_id: str) -> None:
        for ws in list(self.sockets):
            ws.seq = getattr(ws, "seq", 0) + 1  # type: ignore[attr-defined]
            frame = {"event": event, "data": data, "seq": ws.seq,  # type: ignore[attr-defined]
                     "broadcast": {"channel_id": channel_id, "user_id": "", "team_id": ""}}  # fmt: skip
            try:
                await ws.send_json(frame)
            except ConnectionError:
                self.sockets.discard(ws)

    async def posted(self, post: dict) -> None:
        channel = self.channels[post["channel_id"]]
        sender = self.users[post["user_id"]]["username"]
        data = {"channel_display_name": channel["display_name"], "channel_name": channel["name"],
                "channel_type": channel["type"], "post": json.dumps(post),
                "sender_name": f"@{sender}", "team_id": channel["team_id"], "set_online": True}  # fmt: skip
        mentioned = [u["id"] for u in self.users.values()
                     if re.search(rf"@{u['username']}\b", post["message"])]  # fmt: skip
        if mentioned:
            data["mentions"] = json.dumps(mentioned)
        await self.broadcast("posted", data, channel["id"])

    def add_post(
        self, user: str, channel_id: str, message: str, root_id: str = "", **extra
    ) -> dict:
        at = max([now_ms(), *(p["create_at"] + 1 for p in self.posts.values())])
        post = {"id": uuid.uuid4().hex[:26], "create_at": at, "update_at": at, "edit_at": 0,
                "delete_at": 0, "user_id": user, "channel_id": channel_id, "root_id": root_id,
                "message": message, "type": "", "props": {}, "hashtags": "", **extra}  # fmt: skip
        self.posts[post["id"]] = post
        self.channels[channel_id]["last_post_at"] = at
        return post


def build_app(peer: Peer) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def gate(request: web.Request, handler):
        path = request.path
        if path.startswith("/_peer/"):
            return await handler(request)
        if time.monotonic() < peer.down_until:
            return web.Response(status=503, text="restarting")
        for rule in peer.failures:
            if (
                rule["times"] > 0
                and rule["method"] == request.method
                and path.endswith(rule["path"])
            ):
                rule["times"] -= 1
                return error(rule["status"], "peer.injected", "injected failure")
        if path != "/api/v4/websocket":
            auth = request.headers.get("Authorization", "")
            if auth != f"Bearer {peer.token}":
                return error(401, "api.context.session_expired.app_error",
                             "Invalid or expired session, please login again.")  # fmt: skip
        return await handler(request)

    def channel_or_404(channel_id: str) -> dict:
        if channel_id not in peer.channels:
            raise web.HTTPNotFound(text=json.dumps({"id": "app.channel.get.existing.app_error",
                "message": "Unable to find the existing channel.", "status_code": 404}),
                content_type="application/json")  # fmt: skip
        return peer.channels[channel_id]

    @routes.get("/api/v4/users/me")
    async def me(request):
        return web.json_response(peer.bot)

    @routes.get("/api/v4/users/{id}")
    async def get_user(request):
        found = peer.users.get(request.match_info["id"])
        return web.json_response(found) if found else error(404, "app.user.missing", "no user")

    @routes.get("/api/v4/users/{id}/channels")
    async def my_channels(request):
        return web.json_response([{"last_post_at": 0, **c} for c in peer.channels.values()])

    @routes.get("/api/v4/channels/{id}")
    async def get_channel(request):
        return web.json_response({"last_post_at": 0, **channel_or_404(request.match_info["id"])})

    @routes.get("/api/v4/channels/{id}/posts")
    async def channel_posts(request):
        channel = channel_or_404(request.match_info["id"])
        since = int(request.query.get("since", "0"))
        found = {i: p for i, p in peer.posts.items()
                 if p["channel_id"] == channel["id"] and p["update_at"] >= since}  # fmt: skip
        order = sorted(found, key=lambda i: -found[i]["create_at"])
        return web.json_response({"order": order, "posts": found})

    @routes.post("/api/v4/posts")
    async def create_post(request):
        body = await request.json()
        channel = channel_or_404(str(body.get("channel_id", "")))
        message = body.get("message", "")
        if not isinstance(message, str) or len(message) > MAX_LENGTH:
            return error(400, "model.post.is_valid.msg.app_error", "Invalid message.")
        root = body.get("root_id") or ""
        if root and root not in peer.posts:
            return error(400, "api.post.create_post.root_id.app_error", "Invalid RootId.")
        files = [f for f in body.get("file_ids") or [] if f in peer.files]
        metadata = {"files": [{"id": f, "name": peer.files[f][0], "mime_type": peer.files[f][1],
                               "size": len(peer.files[f][2])} for f in files]}  # fmt: skip
        post = peer.add_post(peer.bot["id"], channel["id"], message, root, file_ids=files,
                             metadata=metadata, props=body.get("props") or {})  # fmt: skip
        await peer.posted(post)
        return web.json_response(post, status=201)

    @routes.put("/api/v4/posts/{id}/patch")
    async def patch_post(request):
        post = peer.posts.get(request.match_info["id"])
        if post is None:
            return error(404, "app.post.get.app_error", "Unable to get the post.")
        if post["user_id"] != peer.bot["id"]:
            return error(403, "api.context.permissions.app_error", "no permission")
        body = await request.json()
        post["message"] = body.get("message", post["message"])
        post["update_at"] = post["edit_at"] = now_ms()
        peer.edits[post["id"]] = peer.edits.get(post["id"], 0) + 1
        await peer.broadcast("post_edited", {"post": json.dumps(post)}, post["channel_id"])
        return web.json_response(post)

    @routes.post("/api/v4/users/{id}/typing")
    async def typing(request):
        body = await request.json()
        channel_or_404(str(body.get("channel_id", "")))
        peer.typing.append(
            {"channel_id": body["channel_id"], "parent_id": body.get("parent_id", "")}
        )
        return web.json_response({"status": "OK"})

    @routes.post("/api/v4/reactions")
    async def add_reaction(request):
        body = await request.json()
        if body.get("post_id") not in peer.posts:
            return error(400, "api.reaction.save.app_error", "no such post")
        peer.reactions.append({**body, "removed": False})
        return web.json_response(body, status=201)

    @routes.delete("/api/v4/users/{uid}/posts/{pid}/reactions/{emoji}")
    async def remove_reaction(request):
        for r in peer.reactions:
            if (
                r["post_id"] == request.match_info["pid"]
                and r["emoji_name"] == request.match_info["emoji"]
            ):
                r["removed"] = True
        return web.json_response({"status": "OK"})

    @routes.post("/api/v4/files")
    async def upload(request):
        form = await request.post()
        field = form["files"]
        file_id = uuid.uuid4().hex[:26]
        peer.files[file_id] = (field.filename, field.content_type, field.file.read())
        info = {"id": file_id, "name": field.filename, "mime_type": field.content_type,
                "size": len(peer.files[file_id][2])}  # fmt: skip
        return web.json_response({"file_infos": [info]}, status=201)

    @routes.get("/api/v4/files/{id}")
    async def download(request):
        found = peer.files.get(request.match_info["id"])
        if found is None:
            return error(404, "app.file.missing", "no file")
        return web.Response(body=found[2], content_type=found[1])

    @routes.get("/api/v4/websocket")
    async def websocket(request):
        header = request.headers.get("Authorization")
        authed = header == f"Bearer {peer.token}"
        if header and not authed:  # an invalid session is refused before the upgrade
            return error(401, "api.context.session_expired.app_error", "Invalid session.")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            msg = json.loads(frame.data)
            if msg.get("action") == "authentication_challenge":
                if msg.get("data", {}).get("token") != peer.token and not authed:
                    await ws.send_json({"status": "FAIL", "seq_reply": msg.get("seq"),
                        "error": {"id": "api.web_socket_router.not_authenticated.app_error"}})  # fmt: skip
                    break
                await ws.send_json({"status": "OK", "seq_reply": msg.get("seq")})
                ws.seq = 0  # type: ignore[attr-defined]
                await ws.send_json({"event": "hello", "seq": 0, "data": {"server_version": "9.11"},
                    "broadcast": {"user_id": peer.bot["id"]}})  # fmt: skip
                peer.sockets.add(ws)
        peer.sockets.discard(ws)
        return ws

    # -- control ---------------------------------------------------------------------------
    @routes.post("/_peer/post")
    async def user_post(request):
        body = await request.json()
        file = body.get("file")
        extra = {}
        if file:
            file_id = uuid.uuid4().hex[:26]
            peer.files[file_id] = (file["name"], file["mime"], base64.b64decode(file["b64"]))
            extra = {"file_ids": [file_id], "metadata": {"files": [{"id": file_id,
                "name": file["name"], "mime_type": file["mime"],
                "size": len(peer.files[file_id][2])}]}}  # fmt: skip
        post = peer.add_post(user_id(body["user"]) if body["user"] in USERS else body["user"],
                             body["channel"], body.get("message", ""), body.get("root_id", ""),
                             **extra)  # fmt: skip
        if time.monotonic() >= peer.down_until:
            await peer.posted(post)
        return web.json_response(post)

    @routes.post("/_peer/malformed")
    async def malformed(request):
        data = {"channel_type": "D", "post": json.dumps({"message": 42}), "sender_name": "@x"}
        await peer.broadcast("posted", data, "")
        await peer.broadcast("posted", {"post": "{not json"}, "")
        return web.json_response({"ok": True})

    @routes.get("/_peer/posts")
    async def bot_posts(request):
        channel = request.query["channel"]
        found = [{**p, "edits": peer.edits.get(p["id"], 0)} for p in peer.posts.values()
                 if p["channel_id"] == channel and p["user_id"] == peer.bot["id"]]  # fmt: skip
        return web.json_response(sorted(found, key=lambda p: p["create_at"]))

    @routes.get("/_peer/typing")
    async def typing_seen(request):
        return web.json_response(peer.typing)

    @routes.get("/_peer/reactions")
    async def reactions(request):
        return web.json_response(peer.reactions)

    @routes.post("/_peer/restart")
    async def restart(request):
        seconds = float((await request.json()).get("seconds", 1.0))
        peer.down_until = time.monotonic() + seconds
        for ws in list(peer.sockets):
            await ws.close()
        peer.sockets.clear()
        await asyncio.sleep(seconds)
        return web.json_response({"ok": True})

    @routes.post("/_peer/token")
    async def set_token(request):
        peer.token = (await request.json())["token"]
        return web.json_response({"ok": True})

    @routes.post("/_peer/fail")
    async def fail(request):
        peer.failures.append(await request.json())
        return web.json_response({"ok": True})

    @routes.post("/_peer/reset")
    async def reset(request):
        peer.reset()
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[gate], client_max_size=64 * 1024 * 1024)
    app.add_routes(routes)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="mm-test-token")
    args = parser.parse_args()
    asyncio.run(serve_app(build_app(Peer(args.token)), args.port))


if __name__ == "__main__":
    main()
