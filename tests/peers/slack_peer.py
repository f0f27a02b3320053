"""A loopback Slack server for slack-sdk: the Web API methods the adapter calls and a Socket
Mode websocket, run as a subprocess.

    python -m tests.peers.slack_peer --port 0 [--bot-token xoxb-…] [--app-token xapp-…]
                                                # prints "PORT <n>" first, then serves

Web API: POST/GET /api/<method> with `Authorization: Bearer <token>` (JSON, form or query
parameters), answering as Slack does: HTTP 200 with {"ok": false, "error": "invalid_auth"} for a
wrong token, 429 + Retry-After when rate limited. apps.connections.open (app token only) hands
out a one-use ws:// address; the socket sends `hello`, then `events_api` and `interactive`
envelopes, and forgets an envelope only when the client acknowledges its envelope_id: every
unacknowledged envelope is sent again (retry_attempt + 1) on the next connection.

Files (people's, served with the bot token; the bot's uploads): slack_peer_files.py.
Control endpoints under /_peer/ (the user side; see slack_peer_control.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from tests.peers.serving import serve_app

BOT_USER, BOT_ID, TEAM, APP = "U0BOT", "B0BOT", "T0TEAM", "A0APP"
TEXT_LIMIT = 40000
SECTION_LIMIT = 3000
USERS = {"U0ALICE": "alice", "U0BOB": "bob", "U0STRANGER": "stranger"}
CHANNELS = {"C0GENERAL": "general", "D0ALICE": "", "D0BOB": "", "D0STRANGER": ""}


class ApiError(Exception):
    def __init__(self, error: str, status: int = 200, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.retry_after = error, status, retry_after


def channel_type(channel: str) -> str:
    return {"D": "im", "G": "group"}.get(channel[:1], "channel")


class SlackState:
    """Everything the peer knows; it survives restart() (only the sockets go)."""

    def __init__(self, bot_token: str, app_token: str) -> None:
        self.bot_token, self.app_token = bot_token, app_token
        self.reset()

    def reset(self) -> None:
        self.clock = 0
        self.seq = 0
        self.messages: list[dict] = []  # users' and the bot's, in order
        self.ops: list[dict] = []  # every successful Web API call the bot made
        self.pending: dict[str, dict] = {}  # envelope_id -> envelope, until acknowledged
        self.acked: list[str] = []
        self.fails: list[dict] = []
        self.tickets: set[str] = set()
        self.sockets: list[web.WebSocketResponse] = []
        self.transports: dict[web.WebSocketResponse, Any] = {}
        self.refuse_until = 0.0
        self.opens = 0
        self.changed = asyncio.Event()

    def next_ts(self) -> str:
        self.clock += 1
        return f"{1700000000 + self.clock}.{self.clock:06d}"

    def record(self, method: str, params: dict) -> dict:
        self.seq += 1
        op = {"seq": self.seq, "method": method, **params}
        self.ops.append(op)
        self.changed.set()
        return op

    def find(self, channel: str, ts: str) -> dict | None:
        for message in self.messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        return None

    # -- envelopes ----------------------------------------------------------------------
    async def deliver(self, kind: str, payload: Any) -> str:
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": False,
        }
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        self.pending[envelope_id] = envelope
        await self._send(envelope)
        return envelope_id

    async def _send(self, envelope: dict) -> None:
        for ws in list(self.sockets):  # Slack hands an envelope to one of the connections
            if not ws.closed:
                try:
                    await ws.send_str(json.dumps(envelope))
                    return
                except ConnectionError:
                    continue

    async def redeliver(self, ws: web.WebSocketResponse) -> None:
        for envelope in list(self.pending.values()):
            if "retry_attempt" in envelope:
                envelope["retry_attempt"] += 1
                envelope["retry_reason"] = "timeout"
            await ws.send_str(json.dumps(envelope))

    def cut_sockets(self) -> int:
        """Drop every connection without a close frame, as a dead network does."""
        sockets, self.sockets = self.sockets, []
        for ws in sockets:
            transport = self.transports.pop(ws, None)
            if transport is not None:
                transport.abort()
        return len(sockets)

    async def drop_sockets(self, message: dict | None = None) -> int:
        sockets, self.sockets = self.sockets, []
        for ws in sockets:
            if message is not None and not ws.closed:
                await ws.send_str(json.dumps(message))
            await ws.close(code=1001, message=b"server restart")
        return len(sockets)


# -- Web API ------------------------------------------------------------------------------


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update(dict(await request.post()))
    for key in ("blocks",):  # form-encoded clients send these JSON-encoded
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def token_of(request: web.Request, params: dict) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :]
    return params.pop("token", None)


def check_blocks(blocks: Any) -> None:
    if blocks is None:
        return
    if not isinstance(blocks, list) or len(blocks) > 50:
        raise ApiError("invalid_blocks")
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            raise ApiError("invalid_blocks")
        text = (block.get("text") or {}).get("text", "")
        if block["type"] == "section" and not (0 < len(text) <= SECTION_LIMIT):
            raise ApiError("invalid_blocks")
        if block["type"] == "actions":
            for element in block.get("elements") or []:
                if len(element.get("value", "")) > 2000 or not element.get("action_id"):
                    raise ApiError("invalid_blocks")


def check_text(params: dict) -> str:
    text = params.get("text")
    if not text and not params.get("blocks"):
        raise ApiError("no_text")
    if text and len(text) > TEXT_LIMIT:
        raise ApiError("msg_too_long")
    return text or ""


class WebApi:
    def __init__(self, state: SlackState) -> None:
        from tests.peers.slack_peer_files import PeerFiles

        self.state = state
        self.files = PeerFiles(state)
        self.host = ""  # where the websocket is served: this server, as the client reached it

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            self.host = request.host
            params = await read_params(request)
            token = token_of(request, params)
            self._failure(method, params)
            body = await self._call(method, token, params)
        except ApiError as exc:
            headers = {"Retry-After": f"{exc.retry_after:g}"} if exc.retry_after else None
            payload = {"ok": False, "error": exc.error}
            return web.json_response(payload, status=exc.status, headers=headers)
        except (ValueError, KeyError):
            return web.json_response({"ok": False, "error": "invalid_arguments"})
        return web.json_response({"ok": True, **body})

    def _failure(self, method: str, params: dict) -> None:
        for rule in self.state.fails:
            if rule["method"] == method and rule.get("channel") in (None, params.get("channel")):
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self.state.fails.remove(rule)
                raise ApiError(rule["error"], rule.get("status", 200), rule.get("retry_after"))

    async def _call(self, method: str, token: str | None, params: dict) -> dict:
        state = self.state
        if method == "apps.connections.open":
            return self.connections_open(token)
        if token is None:
            raise ApiError("not_authed")
        if token == state.app_token:
            raise ApiError("not_allowed_token_type")
        if token != state.bot_token:
            raise ApiError("invalid_auth")
        handler = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.postEphemeral": self.post_ephemeral,
            "reactions.add": self.reactions_add,
            "reactions.remove": self.reactions_remove,
            "users.info": self.users_info,
            "conversations.info": self.conversations_info,
            "files.getUploadURLExternal": lambda p: self.files.get_upload_url(self.host, p),
            "files.completeUploadExternal": lambda p: self.files.complete(p, self._thread),
            "files.info": self.files.info,
        }.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        return handler(params)

    def connections_open(self, token: str | None) -> dict:
        state = self.state
        if token is None:
            raise ApiError("not_authed")
        if token != state.app_token:
            raise ApiError("invalid_auth")
        if time.monotonic() < state.refuse_until:
            raise ApiError("service_unavailable", status=503)
        ticket = uuid.uuid4().hex
        state.tickets.add(ticket)
        state.opens += 1
        return {"url": f"ws://{self.host}/link/?ticket={ticket}&app_id={APP}"}

    def auth_test(self, params: dict) -> dict:
        return {
            "url": "https://hermes-test.slack.com/",
            "team": "Hermes Test",
            "user": "hermes",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _channel(self, params: dict) -> str:
        channel = params.get("channel")
        if channel not in CHANNELS:
            raise ApiError("channel_not_found")
        return channel

    def _thread(self, channel: str, thread_ts: str) -> None:
        self._channel({"channel": channel})
        if thread_ts and self.state.find(channel, thread_ts) is None:
            raise ApiError("thread_not_found")

    def post_message(self, params: dict) -> dict:
        state, channel = self.state, self._channel(params)
        text = check_text(params)
        check_blocks(params.get("blocks"))
        thread_ts = params.get("thread_ts") or ""
        if thread_ts and state.find(channel, thread_ts) is None:
            raise ApiError("thread_not_found")
        message = {
            "type": "message",
            "channel": channel,
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "ts": state.next_ts(),
            "text": text,
            "thread_ts": thread_ts,
            "blocks": params.get("blocks") or [],
            "mrkdwn": params.get("mrkdwn", True) not in (False, "false", "0"),
            "edits": 0,
        }
        state.messages.append(message)
        state.record("chat.postMessage", {"message": message})
        shown = {k: v for k, v in message.items() if k not in ("edits", "channel") and v != ""}
        return {"channel": channel, "ts": message["ts"], "message": shown}

    def update(self, params: dict) -> dict:
        state, channel = self.state, self._channel(params)
        message = state.find(channel, str(params.get("ts") or ""))
        if message is None:
            raise ApiError("message_not_found")
        if message.get("bot_id") != BOT_ID:
            raise ApiError("cant_update_message")
        text = check_text(params)
        check_blocks(params.get("blocks"))
        message["text"] = text
        if "blocks" in params:
            message["blocks"] = params["blocks"] or []
        message["edits"] += 1
        state.record("chat.update", {"message": dict(message)})
        return {"channel": channel, "ts": message["ts"], "text": text}

    def post_ephemeral(self, params: dict) -> dict:
        channel = self._channel(params)
        if params.get("user") not in USERS:
            raise ApiError("user_not_found")
        check_text(params)
        ts = self.state.next_ts()
        self.state.record("chat.postEphemeral", {"channel": channel, "ts": ts, **params})
        return {"message_ts": ts}

    def _reactions(self, params: dict) -> list[str]:
        message = self.state.find(self._channel(params), str(params.get("timestamp")))
        if message is None:
            raise ApiError("message_not_found")
        if not params.get("name"):
            raise ApiError("invalid_name")
        return message.setdefault("reactions", [])

    def reactions_add(self, params: dict) -> dict:
        reactions = self._reactions(params)
        if params["name"] in reactions:
            raise ApiError("already_reacted")
        reactions.append(params["name"])
        self.state.record("reactions.add", params)
        return {}

    def reactions_remove(self, params: dict) -> dict:
        reactions = self._reactions(params)
        if params["name"] not in reactions:
            raise ApiError("no_reaction")
        reactions.remove(params["name"])
        self.state.record("reactions.remove", params)
        return {}

    def users_info(self, params: dict) -> dict:
        user = params.get("user")
        if user not in USERS:
            raise ApiError("user_not_found")
        name = USERS[user]
        profile = {"display_name": name, "real_name": name.title()}
        return {"user": {"id": user, "team_id": TEAM, "name": name, "profile": profile}}

    def conversations_info(self, params: dict) -> dict:
        channel = self._channel(params)
        kind = channel_type(channel)
        info = {"id": channel, "is_channel": kind == "channel", "is_im": kind == "im"}
        if CHANNELS[channel]:
            info["name"] = CHANNELS[channel]
        return {"channel": info}


# -- Socket Mode --------------------------------------------------------------------------


async def socket_mode(request: web.Request) -> web.StreamResponse:
    state: SlackState = request.app["state"]
    ticket = request.query.get("ticket", "")
    if ticket not in state.tickets:
        return web.Response(status=401, text="invalid ticket")
    state.tickets.discard(ticket)
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    state.sockets.append(ws)
    state.transports[ws] = request.transport
    hello = {
        "type": "hello",
        "num_connections": len(state.sockets),
        "debug_info": {"host": "applink-peer", "build_number": 1},
        "connection_info": {"app_id": APP},
    }
    await ws.send_str(json.dumps(hello))
    await state.redeliver(ws)
    state.changed.set()
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                ack = json.loads(frame.data)
            except ValueError:
                continue
            envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
            if envelope_id in state.pending:
                del state.pending[envelope_id]
                state.acked.append(envelope_id)
                state.changed.set()
    finally:
        state.transports.pop(ws, None)
        if ws in state.sockets:
            state.sockets.remove(ws)
    return ws


def build_app(bot_token: str, app_token: str) -> web.Application:
    from tests.peers.slack_peer_control import add_control_routes
    from tests.peers.slack_peer_files import add_file_routes

    state = SlackState(bot_token, app_token)
    api = WebApi(state)
    app = web.Application()
    app["state"], app["api"], app["files"] = state, api, api.files

    async def on_startup(app: web.Application) -> None:
        state.changed = asyncio.Event()  # bound to the serving loop

    async def on_shutdown(app: web.Application) -> None:
        await state.drop_sockets()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.router.add_route("*", "/api/{method}", api.handle)
    app.router.add_get("/link/", socket_mode)
    add_control_routes(app)
    add_file_routes(app, api.files)
    return app


async def serve(port: int, bot_token: str, app_token: str) -> None:
    await serve_app(build_app(bot_token, app_token), port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bot-token", default="xoxb-peer-bot-token")
    parser.add_argument("--app-token", default="xapp-peer-app-token")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.bot_token, args.app_token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
