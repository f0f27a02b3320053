"""A loopback Telegram Bot API server for python-telegram-bot, run as a subprocess.

    python -m tests.peers.telegram_peer --port 0 --token 123456:TEST-TOKEN \
        [--bot-username hermes_test_bot]                # prints "PORT <n>" first, then serves

Bot API: /bot<token>/<method> (JSON, urlencoded or multipart), /file/bot<token>/<path>.
Control endpoints under /_peer/ (see tests/peers/telegram_fixtures.py for a client):
    POST message | raw | callback | fail | stall | token | reset;  GET sent | wait | messages | stats
A failure rule with status 0 drops the connection without answering (a network error).
Every handler is O(1) apart from the requested slice; long polls wait on events, never sleep.
Exits cleanly on SIGTERM / SIGINT, and by itself if its parent process dies."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
from collections import deque
from itertools import islice
from typing import Any

from aiohttp import web

from tests.peers.serving import serve_app
from tests.peers.telegram_html import EntityParseError, auto_entities, parse_text, utf16_len

BOT_ID = 1000
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
JSON_FIELDS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "commands",
    "reply_parameters",
    "allowed_updates",
    "scope",
    "link_preview_options",
}
MEDIA = {"sendPhoto": "photo", "sendDocument": "document", "sendVoice": "voice"}


def ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def error(status: int, description: str, retry_after: float | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


async def read_params(request: web.Request) -> dict[str, Any]:
    """Bot API parameters from the query, a JSON body, or form / multipart fields (PTB sends
    nested values JSON-encoded inside form fields)."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from None
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update((await request.post()).items())
    for key in JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
    return params


def as_int(params: dict, key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {key} specified") from None


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: CONFLICT,
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def fail_description(rule: dict) -> str:
    if rule.get("description"):
        return str(rule["description"])
    if rule["status"] == 429:
        return f"Too Many Requests: retry after {rule.get('retry_after')}"
    return DEFAULT_DESCRIPTIONS.get(rule["status"], f"Error {rule['status']}")


class Chat:
    """One chat: its message-id counter (shared by user and bot messages, as in Telegram) and the
    current state of the bot's messages."""

    def __init__(self, chat_id: int, kind: str) -> None:
        self.id, self.type = chat_id, kind
        self.last_id = 0
        self.messages: dict[int, dict] = {}
        self.user: dict | None = None
        self.forum = False

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def remember_user(self, user: dict) -> None:
        if self.type == "private":
            self.user = user

    def as_dict(self) -> dict:
        if self.type == "private":
            user = self.user or {"first_name": "User"}
            extra = {"username": user["username"]} if user.get("username") else {}
            return {"id": self.id, "type": "private", "first_name": user["first_name"], **extra}
        out = {"id": self.id, "type": self.type, "title": f"Test {self.type} {self.id}"}
        if self.forum:
            out["is_forum"] = True
        return out

    def add_bot_message(
        self,
        text: str,
        entities: list,
        parse_mode: Any,
        markup: Any,
        thread: int | None,
        media: dict | None = None,
    ) -> dict:
        msg = {
            "message_id": self.next_id(),
            "date": int(time.time()),
            "text": text,
            "entities": entities,
            "parse_mode": parse_mode,
            "reply_markup": markup,
            "thread": thread,
            "media": media or {},
            "edits": 0,
        }
        self.messages[msg["message_id"]] = msg
        return msg

    def bot_message(self, message_id: int | None, verb: str) -> dict:
        msg = self.messages.get(message_id) if message_id is not None else None
        if msg is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return msg


class PeerState:
    """Everything a reset clears. Update ids keep growing across resets, so an offset left over
    from an earlier test can never swallow a new update."""

    def __init__(self) -> None:
        self.next_update_id = 1
        self.started_at = time.monotonic()
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        for name in ("updates_changed", "ops_changed", "reset_event"):
            previous = getattr(self, name, None)
            setattr(self, name, asyncio.Event())
            if previous is not None:
                previous.set()  # wake long polls and waits: their world just vanished
        self.updates: deque[tuple[int, dict]] = deque()
        self.ops: list[dict] = []
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, dict] = {}
        self.files: dict[str, dict] = {}
        self.files_by_path: dict[str, dict] = {}
        self.callbacks: dict[str, dict] = {}
        self.failures: list[dict] = []
        self.webhook: dict = {}
        self.commands: dict[str, list] = {}
        self.stall_next = 0.0
        self.get_updates_calls = 0
        self.first_get_updates_at: float | None = None
        self.calls.clear()

    def stats(self) -> dict:
        return {
            "get_updates_calls": self.get_updates_calls,
            "first_get_updates_at": self.first_get_updates_at,
            "started_at": self.started_at,
            "in_flight_get_updates": self.in_flight,
            "webhook": self.webhook,
            "calls": self.calls,
            "pending_updates": len(self.updates),
            "last_seq": len(self.ops),
        }

    async def wait_reset(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.reset_event.wait(), seconds)
        except TimeoutError:
            pass

    # -- chats, users, files ----------------------------------------------------------------------

    def chat(self, chat_id: int, kind: str | None = None) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(chat_id, kind or ("private" if chat_id > 0 else "supergroup"))
            self.chats[chat_id] = chat
        elif kind:
            chat.type = kind
        return chat

    def user(self, user_id: int, username: str | None, first_name: str | None) -> dict:
        user = self.users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        return user

    def store_bytes(self, data: bytes, kind: str, name: str | None, mime: str | None) -> dict:
        n = len(self.files) + 1
        ext = os.path.splitext(name or "")[1] or {"photo": ".jpg", "voice": ".oga"}.get(kind, "")
        stored = {
            "file_id": f"{kind}-{n}-{len(data)}",
            "file_unique_id": f"u{kind}{n}",
            "file_size": len(data),
            "file_path": f"{kind}s/file_{n}{ext}",
            "data": data,
            "file_name": name or f"file_{n}{ext}",
            "mime_type": mime,
        }
        self.files[stored["file_id"]] = stored
        self.files_by_path[stored["file_path"]] = stored
        return stored

    def store_media(self, value: Any, kind: str) -> dict:
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if isinstance(value, str):  # a file_id sent again
            if value not in self.files:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return self.files[value]
        return self.store_bytes(value.file.read(), kind, value.filename, value.content_type)

    @staticmethod
    def media_json(stored: dict, kind: str) -> dict:
        ids = {k: stored[k] for k in ("file_id", "file_unique_id", "file_size")}
        if kind == "photo":
            return {"photo": [{**ids, "width": 1, "height": 1}]}
        if kind == "voice":
            return {
                "voice": {**ids, "duration": 1, "mime_type": stored["mime_type"] or "audio/ogg"}
            }
        mime = stored["mime_type"] or "application/octet-stream"
        return {"document": {**ids, "file_name": stored["file_name"], "mime_type": mime}}

    # -- updates ----------------------------------------------------------------------------------

    def push_update(self, kind: str, payload: dict) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append((update_id, {"update_id": update_id, kind: payload}))
        self.updates_changed, changed = asyncio.Event(), self.updates_changed
        changed.set()
        return update_id

    def confirm(self, offset: int) -> None:
        """An offset confirms every earlier update; a negative one keeps only the last -offset."""
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
        while self.updates and offset > 0 and self.updates[0][0] < offset:
            self.updates.popleft()

    def new_callback(self, chat_id: int, message_id: int) -> str:
        query_id = f"cbq-{self.next_update_id}"
        self.callbacks[query_id] = {"chat_id": chat_id, "message_id": message_id}
        return query_id

    # -- failures ---------------------------------------------------------------------------------

    def add_failure(self, rule: dict) -> None:
        self.failures.append(
            {
                "method": str(rule["method"]).lower(),
                "status": int(rule.get("status", 400)),
                "description": rule.get("description"),
                "retry_after": rule.get("retry_after"),
                "chat_id": None if rule.get("chat_id") is None else str(rule["chat_id"]),
                "times": int(rule.get("times", 1)),
            }
        )

    def take_failure(self, method: str, chat_id: Any) -> dict | None:
        for rule in self.failures:
            if rule["method"] == method.lower() and rule["chat_id"] in (None, str(chat_id)):
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self.failures.remove(rule)
                return rule
        return None

    # -- recorded operations ----------------------------------------------------------------------

    def record(
        self,
        method: str,
        chat_id: int | None,
        message_id: int | None,
        p: dict,
        thread: int | None,
        reply_to: int | None,
        **extra: Any,
    ) -> None:
        self.ops.append(
            {
                "seq": len(self.ops) + 1,
                "method": method,
                "chat_id": chat_id,
                "message_id": message_id,
                "text": p.get("text", p.get("caption")),
                "parse_mode": p.get("parse_mode"),
                "reply_markup": p.get("reply_markup"),
                "message_thread_id": thread,
                "reply_to_message_id": reply_to,
                "at": time.monotonic(),
                **extra,
            }
        )
        self.ops_changed, changed = asyncio.Event(), self.ops_changed
        changed.set()

    @staticmethod
    def _matcher(chat_id: int | None, method: str | None) -> Any:
        methods = set(method.split(",")) if method else None
        return lambda op: (
            (chat_id is None or op["chat_id"] == chat_id)
            and (methods is None or op["method"] in methods)
        )

    def ops_since(self, since: int, chat_id: int | None, method: str | None) -> list[dict]:
        match = self._matcher(chat_id, method)
        return [op for op in islice(self.ops, max(since, 0), None) if match(op)]

    async def wait_ops(
        self, since: int, count: int, timeout: float, chat_id: int | None, method: str | None
    ) -> list[dict]:
        """Matching operations after ``since``, once at least ``count`` exist or at the timeout.
        Each wake-up scans only what is new, so many waiters stay cheap."""
        match = self._matcher(chat_id, method)
        found: list[dict] = []
        pos = max(since, 0)
        deadline = time.monotonic() + timeout
        while True:
            if len(self.ops) < pos:  # reset under us
                return found
            found.extend(op for op in islice(self.ops, pos, None) if match(op))
            pos = len(self.ops)
            remaining = deadline - time.monotonic()
            if len(found) >= count or remaining <= 0:
                return found
            try:
                await asyncio.wait_for(self.ops_changed.wait(), remaining)
            except TimeoutError:
                pass


@web.middleware
async def control_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """A malformed control request is the test's mistake: say which, instead of a bare 500."""
    if not request.path.startswith("/_peer/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response({"error": exc.description}, status=exc.status)
    except (KeyError, ValueError, TypeError) as exc:
        problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        return web.json_response({"error": f"bad control request: {problem}"}, status=400)


class TelegramPeer:
    def __init__(self, token: str, bot_username: str) -> None:
        self.token = token
        self.bot_username = bot_username
        self.state = PeerState()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[control_errors])
        app.router.add_route("*", "/bot{token}/{method}", self.bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self.download)
        for name in ("message", "raw", "callback", "fail", "stall", "token", "reset"):
            app.router.add_post(f"/_peer/{name}", getattr(self, f"control_{name}"))
        for name in ("sent", "wait", "messages", "stats"):
            app.router.add_get(f"/_peer/{name}", getattr(self, f"control_{name}"))
        return app

    @property
    def bot_user(self) -> dict:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Hermes", "username": self.bot_username}

    # -- Bot API ----------------------------------------------------------------------------------

    async def bot_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return error(401, "Unauthorized")
        method = METHODS.get(request.match_info["method"].lower())
        if method is None:
            return error(404, "Not Found")
        st = self.state
        st.calls[method] = st.calls.get(method, 0) + 1
        try:
            params = await read_params(request)
            rule = st.take_failure(method, params.get("chat_id"))
            if rule is not None:
                if rule["status"] == 0:
                    if request.transport is not None:
                        request.transport.abort()
                    return web.Response(status=500)
                retry = rule.get("retry_after")
                return error(rule["status"], fail_description(rule), retry)
            return ok(await getattr(self, "m_" + method)(params))
        except ApiError as exc:
            return error(exc.status, exc.description, exc.retry_after)

    async def download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error(401, "Unauthorized")
        stored = self.state.files_by_path.get(request.match_info["path"])
        if stored is None:
            return error(404, "Not Found")
        return web.Response(body=stored["data"], content_type="application/octet-stream")

    async def m_getMe(self, p: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def m_getUpdates(self, p: dict) -> list:
        st = self.state
        st.get_updates_calls += 1
        if st.first_get_updates_at is None:
            st.first_get_updates_at = time.monotonic()
        if st.webhook.get("url"):
            raise ApiError(409, WEBHOOK_CONFLICT)
        if st.stall_next:  # a dead connection: no answer, and no claim on the poll slot
            seconds, st.stall_next = st.stall_next, 0.0
            await st.wait_reset(seconds)
            return []
        if st.in_flight:
            raise ApiError(409, CONFLICT)
        st.in_flight += 1
        try:
            offset = as_int(p, "offset", 0)
            limit = min(max(as_int(p, "limit", 100), 1), 100)
            st.confirm(offset)
            deadline = time.monotonic() + max(float(p.get("timeout") or 0), 0.0)
            while not st.updates:
                changed = st.updates_changed
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    break
            return [update for _, update in islice(st.updates, limit)]
        finally:
            st.in_flight -= 1

    async def m_deleteWebhook(self, p: dict) -> bool:
        if str(p.get("drop_pending_updates", "")).lower() in ("true", "1"):
            self.state.updates.clear()
        self.state.webhook = {}
        return True

    async def m_setWebhook(self, p: dict) -> bool:
        self.state.webhook = {"url": str(p.get("url") or ""), "secret_token": p.get("secret_token")}
        return True

    async def m_getWebhookInfo(self, p: dict) -> dict:
        return {
            "url": self.state.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.updates),
        }

    async def m_sendMessage(self, p: dict) -> dict:
        chat = self.state.chat(self.chat_id(p))
        text, entities = self.parse(p, "text", "parse_mode", TEXT_LIMIT)
        thread = as_int(p, "message_thread_id")
        reply_to = self.reply_to(p)
        markup = p.get("reply_markup")
        msg = chat.add_bot_message(text, entities, p.get("parse_mode"), markup, thread)
        self.state.record("sendMessage", chat.id, msg["message_id"], p, thread, reply_to)
        return self.render(chat, msg, reply_to)

    async def m_editMessageText(self, p: dict) -> dict:
        chat = self.state.chat(self.chat_id(p))
        msg = chat.bot_message(as_int(p, "message_id"), "edit")
        text, entities = self.parse(p, "text", "parse_mode", TEXT_LIMIT)
        markup = p.get("reply_markup")
        if (text, entities, markup) == (msg["text"], msg["entities"], msg["reply_markup"]):
            raise ApiError(400, NOT_MODIFIED)
        msg.update(
            text=text,
            entities=entities,
            parse_mode=p.get("parse_mode"),
            reply_markup=markup,
            edits=msg["edits"] + 1,
            edit_date=int(time.time()),
        )
        self.state.record("editMessageText", chat.id, msg["message_id"], p, msg["thread"], None)
        return self.render(chat, msg)

    async def m_editMessageReplyMarkup(self, p: dict) -> dict:
        chat = self.state.chat(self.chat_id(p))
        msg = chat.bot_message(as_int(p, "message_id"), "edit")
        markup = p.get("reply_markup")
        if markup == msg["reply_markup"] or (not markup and not msg["reply_markup"]):
            raise ApiError(400, NOT_MODIFIED)
        msg.update(reply_markup=markup, edit_date=int(time.time()))
        self.state.record(
            "editMessageReplyMarkup", chat.id, msg["message_id"], p, msg["thread"], None
        )
        return self.render(chat, msg)

    async def m_deleteMessage(self, p: dict) -> bool:
        chat = self.state.chat(self.chat_id(p))
        message_id = as_int(p, "message_id")
        if chat.messages.pop(message_id, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self.state.record("deleteMessage", chat.id, message_id, p, None, None)
        return True

    async def m_sendChatAction(self, p: dict) -> bool:
        chat = self.state.chat(self.chat_id(p))
        thread = as_int(p, "message_thread_id")
        self.state.record("sendChatAction", chat.id, None, p, thread, None, action=p.get("action"))
        return True

    async def m_setMyCommands(self, p: dict) -> bool:
        commands = p.get("commands") or []
        for c in commands:
            name, about = str(c.get("command", "")), str(c.get("description", ""))
            if not (1 <= len(name) <= 32 and name.replace("_", "a").isalnum() and name.islower()):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(about) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.state.commands[self.scope_key(p)] = commands
        self.state.record("setMyCommands", None, None, p, None, None, commands=commands)
        return True

    async def m_getMyCommands(self, p: dict) -> list:
        return self.state.commands.get(self.scope_key(p), [])

    async def m_answerCallbackQuery(self, p: dict) -> bool:
        query = self.state.callbacks.pop(str(p.get("callback_query_id")), None)
        if query is None:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.state.record(
            "answerCallbackQuery",
            query["chat_id"],
            query["message_id"],
            p,
            None,
            None,
            callback_query_id=str(p.get("callback_query_id")),
            show_alert=p.get("show_alert"),
        )
        return True

    async def m_sendPhoto(self, p: dict) -> dict:
        return await self.send_media(p, "sendPhoto")

    async def m_sendDocument(self, p: dict) -> dict:
        return await self.send_media(p, "sendDocument")

    async def m_sendVoice(self, p: dict) -> dict:
        return await self.send_media(p, "sendVoice")

    async def send_media(self, p: dict, method: str) -> dict:
        field = MEDIA[method]
        chat = self.state.chat(self.chat_id(p))
        text, entities = self.parse(p, "caption", "parse_mode", CAPTION_LIMIT, required=False)
        stored = self.state.store_media(p.get(field), field)
        thread = as_int(p, "message_thread_id")
        reply_to = self.reply_to(p)
        msg = chat.add_bot_message(
            text,
            entities,
            p.get("parse_mode"),
            p.get("reply_markup"),
            thread,
            media=self.state.media_json(stored, field),
        )
        self.state.record(
            method, chat.id, msg["message_id"], p, thread, reply_to, file_id=stored["file_id"]
        )
        return self.render(chat, msg, reply_to)

    async def m_getFile(self, p: dict) -> dict:
        stored = self.state.files.get(str(p.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {k: stored[k] for k in ("file_id", "file_unique_id", "file_size", "file_path")}

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def chat_id(p: dict) -> int:
        if p.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            return int(p["chat_id"])
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    @staticmethod
    def parse(p: dict, key: str, mode_key: str, limit: int, required: bool = True) -> tuple:
        raw = str(p.get(key) or "")
        try:
            text, entities = parse_text(raw, p.get(mode_key))
        except EntityParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if required and not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > limit:
            what = "message is too long" if required else "message caption is too long"
            raise ApiError(400, f"Bad Request: {what}")
        return text, entities

    @staticmethod
    def reply_to(p: dict) -> int | None:
        params = p.get("reply_parameters")
        if isinstance(params, dict) and params.get("message_id") is not None:
            return int(params["message_id"])
        return as_int(p, "reply_to_message_id")

    @staticmethod
    def scope_key(p: dict) -> str:
        scope = p.get("scope") or {}
        return f"{json.dumps(scope, sort_keys=True)}|{p.get('language_code') or ''}"

    def render(self, chat: Any, msg: dict, reply_to: int | None = None) -> dict:
        """A bot message as the Bot API returns it."""
        out: dict[str, Any] = {
            "message_id": msg["message_id"],
            "date": msg["date"],
            "chat": chat.as_dict(),
            "from": self.bot_user,
        }
        body_key = "caption" if msg["media"] else "text"
        if msg["text"] or body_key == "text":
            out[body_key] = msg["text"]
        if msg["entities"]:
            out["caption_entities" if msg["media"] else "entities"] = msg["entities"]
        out.update(msg["media"])
        if msg["thread"] is not None:
            out.update(message_thread_id=msg["thread"], is_topic_message=True)
        if isinstance(msg["reply_markup"], dict) and "inline_keyboard" in msg["reply_markup"]:
            out["reply_markup"] = msg["reply_markup"]
        if msg.get("edit_date"):
            out["edit_date"] = msg["edit_date"]
        if reply_to is not None and reply_to in chat.messages:
            out["reply_to_message"] = self.render(chat, chat.messages[reply_to])
        return out

    # -- control ----------------------------------------------------------------------------------

    async def control_message(self, request: web.Request) -> web.Response:
        b = await request.json()
        st = self.state
        chat = st.chat(int(b["chat_id"]), b.get("chat_type"))
        user = st.user(int(b["user_id"]), b.get("username"), b.get("first_name"))
        chat.remember_user(user)
        if b.get("message_thread_id") is not None and chat.type == "supergroup":
            chat.forum = True
        message_id = chat.next_id()
        msg: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "from": user,
            "chat": chat.as_dict(),
        }
        for key, body in (("text", "entities"), ("caption", "caption_entities")):
            if b.get(key) is not None:
                msg[key] = str(b[key])
                found = b.get(body) if b.get(body) is not None else auto_entities(msg[key])
                if found:
                    msg[body] = found
        for field in ("photo", "document", "voice"):
            if b.get(f"{field}_b64") is not None:
                data = base64.b64decode(b[f"{field}_b64"])
                stored = st.store_bytes(data, field, b.get("file_name"), b.get("mime_type"))
                msg.update(st.media_json(stored, field))
        if b.get("message_thread_id") is not None:
            msg["message_thread_id"] = int(b["message_thread_id"])
            msg["is_topic_message"] = bool(b.get("is_topic_message", True))
        reply = b.get("reply_to_bot_message_id")
        if reply is not None:
            msg["reply_to_message"] = self.render(chat, chat.bot_message(int(reply), "reply to"))
        update_id = st.push_update("message", msg)
        return web.json_response({"update_id": update_id, "message_id": message_id})

    async def control_raw(self, request: web.Request) -> web.Response:
        """Queue an update exactly as given (``{"kind": "message", "payload": {...}}``): how a
        test delivers something malformed."""
        b = await request.json()
        update_id = self.state.push_update(str(b["kind"]), b["payload"])
        return web.json_response({"update_id": update_id})

    async def control_callback(self, request: web.Request) -> web.Response:
        b = await request.json()
        st = self.state
        chat = st.chat(int(b["chat_id"]))
        user = st.user(int(b["user_id"]), b.get("username"), b.get("first_name"))
        message_id = int(b["message_id"])
        if message_id not in chat.messages:
            return web.json_response({"error": f"no bot message {message_id} here"}, status=404)
        query_id = st.new_callback(chat.id, message_id)
        query = {
            "id": query_id,
            "from": user,
            "chat_instance": str(chat.id),
            "message": self.render(chat, chat.messages[message_id]),
            "data": str(b.get("data", "")),
        }
        update_id = st.push_update("callback_query", query)
        return web.json_response({"update_id": update_id, "callback_query_id": query_id})

    async def control_sent(self, request: web.Request) -> web.Response:
        q = request.query
        chat_id = int(q["chat_id"]) if q.get("chat_id") else None
        ops = self.state.ops_since(int(q.get("since", 0)), chat_id, q.get("method"))
        return web.json_response(ops)

    async def control_wait(self, request: web.Request) -> web.Response:
        q = request.query
        chat_id = int(q["chat_id"]) if q.get("chat_id") else None
        ops = await self.state.wait_ops(
            int(q.get("since", 0)),
            int(q.get("count", 1)),
            float(q.get("timeout", 10)),
            chat_id,
            q.get("method"),
        )
        return web.json_response(ops)

    async def control_messages(self, request: web.Request) -> web.Response:
        chat = self.state.chats.get(int(request.query["chat_id"]))
        keep = ("text", "parse_mode", "edits", "entities", "reply_markup", "thread")
        view = {mid: {k: m[k] for k in keep} for mid, m in (chat.messages if chat else {}).items()}
        return web.json_response(view)

    async def control_fail(self, request: web.Request) -> web.Response:
        rule = await request.json()
        self.state.add_failure(rule)
        return web.json_response({"ok": True})

    async def control_stall(self, request: web.Request) -> web.Response:
        self.state.stall_next = float((await request.json())["seconds"])
        return web.json_response({"ok": True})

    async def control_token(self, request: web.Request) -> web.Response:
        self.token = str((await request.json())["token"])
        return web.json_response({"ok": True})

    async def control_reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        return web.json_response({"ok": True})

    async def control_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.stats())


METHODS = {m[2:].lower(): m[2:] for m in dir(TelegramPeer) if m.startswith("m_")}


async def serve(port: int, token: str, bot_username: str) -> None:
    # handler_cancellation: a client that hangs up (a timed-out long poll) frees its poll slot.
    await serve_app(TelegramPeer(token, bot_username).app(), port, handler_cancellation=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--bot-username", default="hermes_test_bot")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.token, args.bot_username))
    return 0


if __name__ == "__main__":
    sys.exit(main())
