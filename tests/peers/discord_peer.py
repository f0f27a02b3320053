"""A loopback Discord: the REST API under /api/v10 (the calls discord.py makes for a bot that
logs in, sends (with files), edits, types, reacts, starts threads, syncs slash commands and
answers interactions), the gateway websocket at /gateway (discord_gateway.py), the CDN that
serves attachments (discord_cdn.py), plus a /_peer/... control API through which a test acts as
users and reads what the bot did.

    python -m tests.peers.discord_peer --port 0 [--token T]   prints "PORT <n>" first
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.peers.discord_cdn import UPLOAD_LIMIT, BadForm, read_upload
from tests.peers.discord_gateway import Gateway
from tests.peers.discord_world import (
    APP_ID,
    BOT_ID,
    GUILD_ID,
    USERS,
    World,
    member,
    user,
)
from tests.peers.serving import serve_app

DEFAULT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.peer.test-token"
API = "/api/v10"


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json", as Discord sends it: discord.py parses nothing else.
    body = json.dumps(data).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def _error(status: int, message: str, code: int = 0) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


class DiscordPeer:
    def __init__(self, token: str) -> None:
        self.world = World(token)
        self.gateway = Gateway(self.world)
        self.failures: list[dict[str, Any]] = []  # {route, status, times}
        self.interactions: dict[str, str] = {}  # open interaction id -> its token

    # -- REST ------------------------------------------------------------------------------
    @web.middleware
    async def authorize(self, request: web.Request, handler):
        files = request.path.startswith(("/cdn/", "/media/"))  # no token: signed URLs
        if not files and (
            not request.path.startswith(API) or request.path.startswith(f"{API}/interactions/")
        ):
            return await handler(request)  # interaction callbacks carry their own token
        if not files and request.headers.get("Authorization") != f"Bot {self.world.token}":
            return _error(401, "401: Unauthorized")
        for rule in self.failures:
            if rule["times"] > 0 and rule["route"] in f"{request.method} {request.path}":
                rule["times"] -= 1
                return _error(rule["status"], rule.get("message", "injected failure"))
        return await handler(request)

    async def me(self, request: web.Request) -> web.Response:
        return _json({**user(BOT_ID), "verified": True, "flags": 0})

    async def application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": APP_ID,
                "name": "hermes",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user("111"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def gateway_bot(self, request: web.Request) -> web.Response:
        self.gateway.url = f"ws://{request.host}/gateway"
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": self.gateway.url, "shards": 1, "session_start_limit": limit})

    async def create_message(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        if not self.world.knows_channel(channel):
            return _error(404, "Unknown Channel", 10003)
        uploads: list[dict[str, Any]] = []
        try:
            if request.content_type == "multipart/form-data":
                body, uploads = await read_upload(request)
            else:
                body = await request.json()
        except BadForm as exc:
            return _error(exc.status, str(exc), exc.code)
        content = body.get("content") or ""
        if len(content) > 2000:
            return _error(
                400, "Invalid Form Body: content: Must be 2000 or fewer in length.", 50035
            )
        if not content and not uploads and not body.get("components"):
            return _error(400, "Cannot send an empty message", 50006)
        attachments = [
            self._attachment(request.host, channel, u["filename"], u["content_type"], u["data"])
            for u in uploads
        ]
        reference = (body.get("message_reference") or {}).get("message_id", "")
        data = self.world.message(
            channel,
            BOT_ID,
            content,
            reply_to=str(reference),
            components=body.get("components"),
            attachments=attachments,
        )
        files = [{k: u[k] for k in ("filename", "content_type")} for u in uploads]
        self.world.record("message", channel_id=channel, id=data["id"], body=body, files=files)
        await self.gateway.dispatch("MESSAGE_CREATE", data)  # Discord echoes the bot's own too
        return _json(data)

    async def edit_message(self, request: web.Request) -> web.Response:
        channel, ident = request.match_info["channel"], request.match_info["message"]
        data = self.world.messages.get(ident)
        if data is None or data["channel_id"] != channel:
            return _error(404, "Unknown Message", 10008)
        if data["author"]["id"] != BOT_ID:
            return _error(403, "Cannot edit a message authored by another user", 50005)
        body = await request.json()
        if "content" in body:
            if len(body["content"] or "") > 2000:
                return _error(400, "Invalid Form Body: content: Must be 2000 or fewer in length.")
            data["content"] = body["content"]
            self.world.edits[ident] = self.world.edits.get(ident, 0) + 1
        if "components" in body:
            data["components"] = body["components"]
        self.world.record("edit", channel_id=channel, id=ident, body=body)
        return _json(data)

    async def typing(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        if not self.world.knows_channel(channel):
            return _error(404, "Unknown Channel", 10003)
        self.world.record("typing", channel_id=channel)
        return web.Response(status=204)

    async def reaction(self, request: web.Request) -> web.Response:
        ident = request.match_info["message"]
        emoji = unquote(request.match_info["emoji"])
        if ident not in self.world.messages:
            return _error(404, "Unknown Message", 10008)
        mine = self.world.reactions.setdefault(ident, [])
        if request.method == "PUT" and emoji not in mine:
            mine.append(emoji)
        elif request.method == "DELETE" and emoji in mine:
            mine.remove(emoji)
        kind = "react" if request.method == "PUT" else "unreact"
        self.world.record(kind, channel_id=request.match_info["channel"], id=ident, emoji=emoji)
        return web.Response(status=204)

    async def start_thread(self, request: web.Request) -> web.Response:
        channel, ident = request.match_info["channel"], request.match_info["message"]
        if ident not in self.world.messages or ident in self.world.threads:
            return _error(400, "A thread has already been created for this message", 160004)
        body = await request.json()
        # A thread started on a message has the message's id.
        thread = self.world.new_thread(channel, BOT_ID, str(body.get("name") or "thread"), ident)
        self.world.record("thread", channel_id=channel, id=thread.id, body=body)
        await self.gateway.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return _json(thread.payload(), status=201)

    async def put_commands(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != APP_ID:
            return _error(403, "Missing Access", 50001)
        body = await request.json()
        self.world.commands = [
            {**c, "id": self.world.ids.next(), "application_id": APP_ID, "version": "1"}
            for c in body
        ]
        self.world.record("commands", count=len(body))
        return _json(self.world.commands)

    async def get_member(self, request: web.Request) -> web.Response:
        who = request.match_info["user"]
        if request.match_info["guild"] != GUILD_ID or (who not in USERS and who != BOT_ID):
            return _error(404, "Unknown Member", 10007)
        self.world.record("member", user=who)
        return _json(member(who))

    async def interaction_callback(self, request: web.Request) -> web.Response:
        ident = request.match_info["interaction"]
        expected = self.interactions.get(ident)
        if expected is None or expected != request.match_info["token"]:
            return _error(404, "Unknown interaction", 10062)
        del self.interactions[ident]  # one response per interaction
        body = await request.json()
        self.world.record("callback", id=ident, body=body)
        return web.Response(status=204)

    # -- control -----------------------------------------------------------------------------

    async def control_message(self, request: web.Request) -> web.Response:
        """A user posts: {user, channel, content, mention?, thread?, reply_to?, attachments?}
        with attachments as [{filename, content_type?, data (base64), size? (what to claim),
        voice? (a voice message)}]."""
        body = await request.json()
        author, channel = str(body["user"]), str(body["channel"])
        content = str(body.get("content", ""))
        if body.get("thread"):
            thread = str(body["thread"])
            if thread not in self.world.threads:
                await self._thread_by(author, channel, "thread", thread)
            channel = thread
        mentions: tuple[str, ...] = ()
        if body.get("mention"):
            content, mentions = f"<@{BOT_ID}> {content}", (BOT_ID,)
        attachments = [
            self._attachment(
                request.host,
                channel,
                str(f["filename"]),
                str(f.get("content_type") or ""),
                base64.b64decode(f.get("data") or ""),
                f.get("size"),
                bool(f.get("voice")),
            )
            for f in body.get("attachments") or []
        ]
        data = self.world.message(
            channel,
            author,
            content,
            mentions=mentions,
            reply_to=str(body.get("reply_to") or ""),
            attachments=attachments,
        )
        await self.gateway.dispatch("MESSAGE_CREATE", data)
        return _json({"id": data["id"], "channel_id": channel, "attachments": attachments})

    def _attachment(
        self,
        host: str,
        channel: str,
        filename: str,
        content_type: str,
        data: bytes,
        size: int | None = None,
        voice: bool = False,
    ) -> dict[str, Any]:
        stored = self.world.cdn.store(self.world.ids.next(), channel, filename, content_type, data)
        return self.world.cdn.attachment(stored, host, size, voice)

    async def cdn(self, request: web.Request) -> web.Response:
        return await self.world.cdn.serve(request)

    async def control_files(self, request: web.Request) -> web.Response:
        """The files of a message ({message}), bytes in base64, and every CDN path fetched."""
        message = self.world.messages.get(request.query.get("message", ""), {})
        stored = [self.world.cdn.files[a["id"]] for a in message.get("attachments", [])]
        return _json({"files": [s.describe() for s in stored], "fetches": self.world.cdn.fetches})

    async def control_thread(self, request: web.Request) -> web.Response:
        body = await request.json()
        thread = await self._thread_by(
            str(body["user"]), str(body["channel"]), str(body.get("name") or "a thread")
        )
        return _json({"id": thread.id})

    async def _thread_by(self, owner: str, parent: str, name: str, ident: str = ""):
        thread = self.world.new_thread(parent, owner, name, ident)
        await self.gateway.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return thread

    async def control_press(self, request: web.Request) -> web.Response:
        """A user presses a button: {user, message, custom_id} -> INTERACTION_CREATE type 3."""
        body = await request.json()
        message = self.world.messages[str(body["message"])]
        data = {"custom_id": str(body["custom_id"]), "component_type": 2}
        ident = await self._interaction(str(body["user"]), message["channel_id"], 3, data, message)
        return _json({"id": ident})

    async def control_slash(self, request: web.Request) -> web.Response:
        """A user runs a slash command: {user, channel, name, input?} -> type 2."""
        body = await request.json()
        options = (
            [{"name": "input", "type": 3, "value": body["input"]}] if body.get("input") else []
        )
        data = {"id": "1", "name": str(body["name"]), "type": 1, "options": options}
        ident = await self._interaction(str(body["user"]), str(body["channel"]), 2, data)
        return _json({"id": ident})

    async def _interaction(
        self, who: str, channel: str, kind: int, data: dict, message: dict | None = None
    ) -> str:
        ident, token = self.world.ids.next(), secrets.token_urlsafe(24)
        self.interactions[ident] = token
        guild = self.world.guild_of(channel)
        payload: dict[str, Any] = {
            "id": ident,
            "application_id": APP_ID,
            "type": kind,
            "data": data,
            "channel": self.world.channel(channel),
            "channel_id": channel,
            "token": token,
            "version": 1,
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10485760,
            "authorizing_integration_owners": {"0": GUILD_ID} if guild else {"1": who},
            "context": 0 if guild else 1,
        }
        if guild:
            payload.update(guild_id=guild, guild_locale="en-US")
            payload["member"] = {**member(who), "permissions": "2248473465835073"}
        else:
            payload["user"] = user(who)
        if message is not None:
            payload["message"] = message
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return ident

    async def control_raw(self, request: web.Request) -> web.Response:
        """Dispatch any event as is: {t, d} (a malformed one, say)."""
        body = await request.json()
        await self.gateway.dispatch(str(body["t"]), body["d"])
        return _json({"ok": True})

    async def control_outage(self, request: web.Request) -> web.Response:
        """Drop every gateway connection and refuse new ones for {seconds}; state is kept.
        Answers once the gateway serves again."""
        seconds = float((await request.json()).get("seconds", 1.0))
        await self.gateway.outage(seconds)
        await asyncio.sleep(seconds)
        return _json({"ok": True})

    async def control_state(self, request: web.Request) -> web.Response:
        return _json(
            {
                "connected": self.gateway.connected(),
                "sessions": len(self.gateway.sessions),
                **self.gateway.stats,
                "commands": self.world.commands,
            }
        )

    async def control_messages(self, request: web.Request) -> web.Response:
        return _json(self.world.bot_messages(request.query["channel"]))

    async def control_log(self, request: web.Request) -> web.Response:
        kind = request.query.get("kind")
        since = int(request.query.get("since", 0))
        entries = [
            e for e in self.world.log if e["seq"] > since and (not kind or e["kind"] == kind)
        ]
        return _json(entries)

    async def control_reactions(self, request: web.Request) -> web.Response:
        return _json(self.world.reactions.get(request.query["message"], []))

    async def control_token(self, request: web.Request) -> web.Response:
        self.world.token = str((await request.json())["token"])
        return _json({"ok": True})

    async def control_fail(self, request: web.Request) -> web.Response:
        """The next {times} REST calls whose "METHOD /path" contains {route} fail with {status}."""
        body = await request.json()
        self.failures.append({"times": 1, "status": 500, **body})
        return _json({"ok": True})

    async def control_reset(self, request: web.Request) -> web.Response:
        token = self.world.token
        self.world = World(token)
        self.gateway.world = self.world
        self.gateway.reset()
        self.failures.clear()
        self.interactions.clear()
        return _json({"ok": True})

    def app(self) -> web.Application:
        # Room for uploads past Discord's limit, so that the peer (not aiohttp) refuses them.
        app = web.Application(middlewares=[self.authorize], client_max_size=4 * UPLOAD_LIMIT)
        channel = f"{API}/channels/{{channel}}"
        message = f"{channel}/messages/{{message}}"
        app.add_routes(
            [
                web.get("/gateway", self.gateway_socket),
                web.get("/cdn/attachments/{channel}/{file}/{name}", self.cdn),
                web.get("/media/attachments/{channel}/{file}/{name}", self.cdn),
                web.get(f"{API}/users/@me", self.me),
                web.get(f"{API}/oauth2/applications/@me", self.application),
                web.get(f"{API}/gateway/bot", self.gateway_bot),
                web.post(f"{channel}/messages", self.create_message),
                web.patch(message, self.edit_message),
                web.post(f"{channel}/typing", self.typing),
                web.put(f"{message}/reactions/{{emoji}}/@me", self.reaction),
                web.delete(f"{message}/reactions/{{emoji}}/@me", self.reaction),
                web.post(f"{message}/threads", self.start_thread),
                web.put(f"{API}/applications/{{app}}/commands", self.put_commands),
                web.get(f"{API}/guilds/{{guild}}/members/{{user}}", self.get_member),
                web.post(
                    f"{API}/interactions/{{interaction}}/{{token}}/callback",
                    self.interaction_callback,
                ),
                web.post("/_peer/message", self.control_message),
                web.post("/_peer/thread", self.control_thread),
                web.post("/_peer/press", self.control_press),
                web.post("/_peer/slash", self.control_slash),
                web.post("/_peer/raw", self.control_raw),
                web.post("/_peer/outage", self.control_outage),
                web.post("/_peer/token", self.control_token),
                web.post("/_peer/fail", self.control_fail),
                web.post("/_peer/reset", self.control_reset),
                web.get("/_peer/state", self.control_state),
                web.get("/_peer/messages", self.control_messages),
                web.get("/_peer/log", self.control_log),
                web.get("/_peer/reactions", self.control_reactions),
                web.get("/_peer/files", self.control_files),
            ]
        )
        return app

    async def gateway_socket(self, request: web.Request) -> web.StreamResponse:
        self.gateway.url = f"ws://{request.host}/gateway"
        return await self.gateway.handle(request)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args()
    await serve_app(DiscordPeer(args.token).app(), args.port)


if __name__ == "__main__":
    asyncio.run(main())
