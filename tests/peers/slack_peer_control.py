"""The user side of the Slack peer: control endpoints under /_peer/ that make people post,
press buttons, and make the server misbehave; and views of what the bot did.

    POST message   {user, channel, text, thread_ts?, mention?, subtype?, bot_id?, files?}
                   -> {ts, envelopes, files}; files [{name, mimetype?, content (base64),
                   size?, mode?, file_access?}] are shared with it (subtype file_share); a channel message that mentions the bot arrives twice,
                   as `message` and `app_mention` events, as Slack sends them to an app that
                   subscribes to both
    POST slash     {user, channel, text, command?} -> {envelope_id} (slash_commands)
    POST press     {user, channel, ts, label? | value?} -> {envelope_id} (block_actions)
    POST envelope  {type, payload} -> {envelope_id}: any envelope, e.g. a malformed one
    POST restart   {seconds}: close every socket, refuse apps.connections.open meanwhile
    POST cut       drop every socket's TCP connection without a close frame
    POST refresh   send a `disconnect` (refresh_requested) message on every socket
    POST fail      {method, error, status?, retry_after?, channel?, times?}
    POST reset
    GET  messages?channel=   the bot's messages there (threads included), as shown now
    GET  ops?method=&since=  the bot's successful Web API calls
    GET  wait?count=&method=&since=&timeout=   like ops, once there are `count` of them
    GET  downloads           every GET of a file: {file_id, authorized, status}
    GET  stats               sockets, pending (unacknowledged) envelopes, opens, last_seq"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiohttp import web

from tests.peers.slack_peer import (
    APP,
    BOT_USER,
    CHANNELS,
    TEAM,
    USERS,
    SlackState,
    channel_type,
)
from tests.peers.slack_peer_files import shared_files


def _state(request: web.Request) -> SlackState:
    return request.app["state"]


def _event_payload(event: dict) -> dict:
    return {
        "token": "verification-token",
        "team_id": TEAM,
        "api_app_id": APP,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


async def post_message(request: web.Request) -> web.Response:
    state, body = _state(request), await request.json()
    user, channel = body["user"], body["channel"]
    if user not in USERS or channel not in CHANNELS:
        raise web.HTTPBadRequest(text=f"unknown user {user} or channel {channel}")
    text = body.get("text", "")
    kind = channel_type(channel)
    mention = bool(body.get("mention")) and kind != "im"
    if mention:
        text = f"<@{BOT_USER}> {text}"
    ts = state.next_ts()
    thread_ts = body.get("thread_ts") or ""
    message = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts}
    if thread_ts:
        root = state.find(channel, thread_ts)
        message["thread_ts"] = thread_ts
        message["parent_user_id"] = root["user"] if root else ""
    state.messages.append({**message, "thread_ts": thread_ts, "edits": 0})
    event = {**message, "event_ts": ts, "channel_type": kind, "team": TEAM}
    event["client_msg_id"] = str(uuid.uuid4())
    for key in ("subtype", "bot_id"):
        if key in body:
            event[key] = body[key]
    files = []
    if body.get("files"):
        files = shared_files(request.app["files"], request.host, user, body["files"])
        shown = [request.app["files"].in_event(f) for f in files]
        event.update(subtype=event.get("subtype", "file_share"), files=shown, upload=False)
        event["display_as_bot"] = False
        state.messages[-1]["files"] = files
    envelopes = [await state.deliver("events_api", _event_payload(event))]
    if mention:
        mentioned = {**message, "type": "app_mention", "event_ts": ts, "team": TEAM}
        if files:
            mentioned["files"] = shown
        envelopes.append(await state.deliver("events_api", _event_payload(mentioned)))
    return web.json_response({"ts": ts, "envelopes": envelopes, "files": files})


async def slash(request: web.Request) -> web.Response:
    state, body = _state(request), await request.json()
    user, channel = body["user"], body["channel"]
    payload = {
        "token": "verification-token",
        "team_id": TEAM,
        "team_domain": "hermes-test",
        "channel_id": channel,
        "channel_name": CHANNELS.get(channel) or "directmessage",
        "user_id": user,
        "user_name": USERS.get(user, ""),
        "command": body.get("command", "/hermes"),
        "text": body.get("text", ""),
        "api_app_id": APP,
        "is_enterprise_install": "false",
        "response_url": f"http://{request.host}/_peer/response/{uuid.uuid4().hex}",
        "trigger_id": uuid.uuid4().hex,
    }
    return web.json_response({"envelope_id": await state.deliver("slash_commands", payload)})


async def press(request: web.Request) -> web.Response:
    state, body = _state(request), await request.json()
    user, channel, ts = body["user"], body["channel"], body["ts"]
    message = state.find(channel, ts)
    if message is None or user not in USERS:
        raise web.HTTPBadRequest(text=f"no message {ts} in {channel}, or unknown user {user}")
    action = _button(message, body.get("label"), body.get("value"))
    if action is None:
        raise web.HTTPBadRequest(text=f"no such button on {ts}")
    shown = {k: v for k, v in message.items() if k not in ("edits", "channel") and v != ""}
    container = {"type": "message", "message_ts": ts, "channel_id": channel}
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": USERS[user], "name": USERS[user], "team_id": TEAM},
        "api_app_id": APP,
        "token": "verification-token",
        "container": container,
        "trigger_id": uuid.uuid4().hex,
        "team": {"id": TEAM, "domain": "hermes-test"},
        "channel": {"id": channel, "name": CHANNELS[channel] or "directmessage"},
        "message": shown,
        "response_url": f"http://{request.host}/_peer/response/{uuid.uuid4().hex}",
        "actions": [{**action, "block_id": "hermes_buttons", "action_ts": state.next_ts()}],
    }
    return web.json_response({"envelope_id": await state.deliver("interactive", payload)})


def _button(message: dict, label: str | None, value: str | None) -> dict | None:
    for block in message.get("blocks") or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            if element.get("type") == "button" and (
                element.get("value") == value or element["text"]["text"] == label
            ):
                return dict(element)
    return None


async def envelope(request: web.Request) -> web.Response:
    body = await request.json()
    envelope_id = await _state(request).deliver(body["type"], body.get("payload"))
    return web.json_response({"envelope_id": envelope_id})


async def restart(request: web.Request) -> web.Response:
    state, body = _state(request), await request.json()
    state.refuse_until = time.monotonic() + float(body.get("seconds", 1.0))
    closed = await state.drop_sockets()
    return web.json_response({"closed": closed})


async def cut(request: web.Request) -> web.Response:
    return web.json_response({"cut": _state(request).cut_sockets()})


async def refresh(request: web.Request) -> web.Response:
    state = _state(request)
    message = {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "p"}}
    for ws in list(state.sockets):
        await ws.send_json(message)
    return web.json_response({"sent": len(state.sockets)})


async def fail(request: web.Request) -> web.Response:
    rule = await request.json()
    rule.setdefault("times", 1)
    _state(request).fails.append(rule)
    return web.json_response({"ok": True})


async def reset(request: web.Request) -> web.Response:
    state = _state(request)
    sockets, transports, changed = state.sockets, state.transports, state.changed
    state.reset()
    request.app["files"].reset()
    state.sockets, state.transports, state.changed = (
        sockets,
        transports,
        changed,
    )  # the bot stays connected across tests
    return web.json_response({"ok": True})


async def messages(request: web.Request) -> web.Response:
    channel = request.query.get("channel")
    found = [
        m
        for m in _state(request).messages
        if m["channel"] == channel and m.get("bot_id") and m["user"] == BOT_USER
    ]
    return web.json_response(found)


def _ops(state: SlackState, query: Any) -> list[dict]:
    since = int(query.get("since", 0))
    methods = set(query["method"].split(",")) if query.get("method") else None
    channel = query.get("channel")
    return [
        op
        for op in state.ops
        if op["seq"] > since
        and (methods is None or op["method"] in methods)
        and (channel is None or _op_channel(op) == channel)
    ]


def _op_channel(op: dict) -> str:
    return (op.get("message") or {}).get("channel") or op.get("channel") or ""


async def ops(request: web.Request) -> web.Response:
    return web.json_response(_ops(_state(request), request.query))


async def wait(request: web.Request) -> web.Response:
    state = _state(request)
    count = int(request.query.get("count", 1))
    deadline = time.monotonic() + float(request.query.get("timeout", 10))
    while True:
        found = _ops(state, request.query)
        left = deadline - time.monotonic()
        if len(found) >= count or left <= 0:
            return web.json_response(found)
        state.changed.clear()
        try:
            await asyncio.wait_for(state.changed.wait(), left)
        except TimeoutError:
            pass


async def stats(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(
        {
            "sockets": len([ws for ws in state.sockets if not ws.closed]),
            "pending": len(state.pending),
            "acked": len(state.acked),
            "opens": state.opens,
            "last_seq": state.seq,
        }
    )


def add_control_routes(app: web.Application) -> None:
    for name, handler in (
        ("message", post_message),
        ("press", press),
        ("slash", slash),
        ("envelope", envelope),
        ("restart", restart),
        ("refresh", refresh),
        ("cut", cut),
        ("fail", fail),
        ("reset", reset),
    ):
        app.router.add_post(f"/_peer/{name}", handler)
    for name, handler in (("messages", messages), ("ops", ops), ("wait", wait), ("stats", stats)):
        app.router.add_get(f"/_peer/{name}", handler)
