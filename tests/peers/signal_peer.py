"""A loopback signal-cli daemon in HTTP mode (multi-account), run as a subprocess.

    python -m tests.peers.signal_peer --port 0      # prints "PORT <n>" first, then serves

GET /api/v1/check, GET /api/v1/events (SSE: `id`, `event:receive`, `data:{account, envelope}`;
the last 1000 events are kept and a client that comes back with Last-Event-ID gets the ones
after it), POST /api/v1/rpc (JSON-RPC 2.0: listAccounts, send, sendTyping, sendReaction,
getAttachment, listGroups). Control endpoints under /_peer/:
    POST message | typing_event | malformed | restart | reset;  GET sent | typing | reactions
/_peer/restart drops every stream and answers 503 for `seconds`, keeping its events."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
import uuid
from collections import deque

from aiohttp import web

from tests.peers.serving import serve_app

ACCOUNT = "+15550000000"
USERS = {"alice": "+15550000001", "bob": "+15550000002", "stranger": "+15550000003"}
GROUP_ID = base64.b64encode(b"hermes-test-group-000000000000000").decode()
KEPT_EVENTS = 1000
KEEPALIVE = 15.0
USER_ERROR, METHOD_NOT_FOUND, INVALID_PARAMS = -1, -32601, -32602


def uuid_of(number: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"signal:{number}"))


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Peer:
    def __init__(self) -> None:
        self.next_event = 1
        self.clock = 0
        self.streams: set[asyncio.Queue] = set()
        self.reset()

    def reset(self) -> None:
        self.events: deque[tuple[int, str]] = deque(maxlen=KEPT_EVENTS)
        self.sent: list[dict] = []
        self.typing: list[dict] = []
        self.reactions: list[dict] = []
        self.files: dict[str, tuple[str, str, bytes]] = {}
        self.down_until = 0.0

    def timestamp(self) -> int:
        self.clock = max(self.clock + 1, int(time.time() * 1000))
        return self.clock

    def publish(self, payload: object) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        event = (self.next_event, data)
        self.next_event += 1
        self.events.append(event)
        for queue in self.streams:
            queue.put_nowait(event)

    def envelope(self, number: str, **fields) -> dict:
        name = next((n for n, v in USERS.items() if v == number), "")
        return {"account": ACCOUNT, "envelope": {"source": number, "sourceNumber": number,
                "sourceUuid": uuid_of(number), "sourceName": name.title(), "sourceDevice": 1,
                "timestamp": fields.pop("timestamp"), **fields}}  # fmt: skip

    # -- JSON-RPC ---------------------------------------------------------------------------
    def rpc(self, method: str, params: dict) -> object:
        account = params.pop("account", None)
        if method == "listAccounts":
            return [{"number": ACCOUNT}]
        if account not in (None, ACCOUNT):
            raise RpcError(INVALID_PARAMS, "Specified account does not exist")
        handler = getattr(self, f"rpc_{method}", None)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not implemented")
        return handler(**params)

    def chat_of(self, recipient=None, groupId=None) -> tuple[str, list[str]]:  # noqa: N803
        if groupId is not None:
            if groupId != GROUP_ID:
                raise RpcError(USER_ERROR, f"Invalid group id: {groupId}")
            return f"group:{GROUP_ID}", list(USERS.values())
        recipients = [recipient] if isinstance(recipient, str) else list(recipient or [])
        if len(recipients) != 1:
            raise RpcError(INVALID_PARAMS, "exactly one recipient expected by this peer")
        return recipients[0], recipients

    def rpc_send(self, message="", attachments=(), quoteTimestamp=None, quoteAuthor=None,  # noqa: N803
                 **target) -> dict:  # fmt: skip
        chat, recipients = self.chat_of(**target)
        files = []
        for item in [attachments] if isinstance(attachments, str) else attachments:
            header, _, data = item.partition(",")
            parts = dict(p.split("=", 1) for p in header.split(";")[1:] if "=" in p)
            files.append({"filename": parts.get("filename", ""), "contentType":
                          header[5:].split(";")[0], "size": len(base64.b64decode(data))})  # fmt: skip
        stamp = self.timestamp()
        self.sent.append({"chat": chat, "text": message, "timestamp": stamp,
                          "attachments": files, "quote": quoteTimestamp, "quoteAuthor": quoteAuthor})  # fmt: skip
        results = [{"recipientAddress": {"number": r, "uuid": uuid_of(r)},
                    "type": "SUCCESS" if r in USERS.values() else "UNREGISTERED_FAILURE"}
                   for r in recipients]  # fmt: skip
        return {"timestamp": stamp, "results": results}

    def rpc_sendTyping(self, stop=False, **target) -> dict:  # noqa: N802
        chat, _ = self.chat_of(**target)
        self.typing.append({"chat": chat, "stop": bool(stop)})
        return {"timestamp": self.timestamp(), "results": []}

    def rpc_sendReaction(self, emoji, targetAuthor, targetTimestamp, remove=False, **target):  # noqa: N802, N803
        chat, _ = self.chat_of(**target)
        self.reactions.append({"chat": chat, "emoji": emoji, "targetAuthor": targetAuthor,
                               "targetTimestamp": targetTimestamp, "remove": bool(remove)})  # fmt: skip
        return {"timestamp": self.timestamp(), "results": []}

    def rpc_getAttachment(self, id, recipient=None, groupId=None):  # noqa: A002, N802, N803
        if id not in self.files:
            raise RpcError(USER_ERROR, f"Could not find attachment with ID: {id}")
        return {"data": base64.b64encode(self.files[id][2]).decode()}

    def rpc_listGroups(self, **_) -> list:  # noqa: N802
        members = [{"number": n, "uuid": uuid_of(n)} for n in (ACCOUNT, *USERS.values())]
        return [{"id": GROUP_ID, "name": "Test group", "isMember": True, "members": members}]


def build_app(peer: Peer) -> web.Application:
    routes = web.RouteTableDef()

    def down() -> bool:
        return time.monotonic() < peer.down_until

    @routes.get("/api/v1/check")
    async def check(request):
        return web.Response(status=503 if down() else 200)

    @routes.get("/api/v1/events")
    async def events(request):
        if down():
            return web.Response(status=503)
        if request.query.get("account") not in (None, ACCOUNT):
            return web.Response(status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        last = request.headers.get("Last-Event-ID")
        if last is not None:
            kept = [e for e in peer.events if e[0] > int(last)] if last.isdigit() else []
            known = last.isdigit() and any(e[0] == int(last) for e in peer.events)
            for event in kept if known else list(peer.events):
                queue.put_nowait(event)
        peer.streams.add(queue)
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    await response.write(b":\n")
                    continue
                if event is None:  # a restart: drop the connection
                    break
                await response.write(f"id:{event[0]}\nevent:receive\ndata:{event[1]}\n\n".encode())
        except ConnectionError:
            pass
        finally:
            peer.streams.discard(queue)
        return response

    @routes.post("/api/v1/rpc")
    async def rpc(request):
        if down():
            return web.Response(status=503)
        if not request.content_type.startswith("application/json"):
            return web.Response(status=415)
        body = await request.json()
        try:
            result = peer.rpc(str(body.get("method")), dict(body.get("params") or {}))
            answer = {"jsonrpc": "2.0", "result": result, "id": body.get("id")}
        except RpcError as exc:
            error = {"code": exc.code, "message": exc.message, "data": None}
            answer = {"jsonrpc": "2.0", "error": error, "id": body.get("id")}
        except TypeError as exc:  # unknown or missing params
            error = {"code": -32600, "message": str(exc), "data": None}
            answer = {"jsonrpc": "2.0", "error": error, "id": body.get("id")}
        return web.json_response(answer)

    # -- control -----------------------------------------------------------------------------
    @routes.post("/_peer/message")
    async def message(request):
        body = await request.json()
        number = USERS.get(body["user"], body["user"])
        text = body.get("text", "")
        data: dict = {"timestamp": peer.timestamp(), "message": text, "expiresInSeconds": 0,
                      "viewOnce": False}  # fmt: skip
        if body.get("mention"):
            data["message"] = "\ufffc " + text
            data["mentions"] = [{"name": ACCOUNT, "number": ACCOUNT, "uuid": uuid_of(ACCOUNT),
                                 "start": 0, "length": 1}]  # fmt: skip
        if body.get("group"):
            data["groupInfo"] = {"groupId": GROUP_ID, "groupName": "Test group", "revision": 1,
                                 "type": "DELIVER"}  # fmt: skip
        if body.get("attachment"):
            a = body["attachment"]
            file_id = f"{uuid.uuid4().hex[:20]}.bin"
            peer.files[file_id] = (a["filename"], a["contentType"], base64.b64decode(a["b64"]))
            data["attachments"] = [{"contentType": a["contentType"], "filename": a["filename"],
                                    "id": file_id, "size": len(peer.files[file_id][2])}]  # fmt: skip
        if body.get("quote"):
            data["quote"] = {"id": body["quote"], "author": ACCOUNT, "authorNumber": ACCOUNT,
                             "authorUuid": uuid_of(ACCOUNT), "text": "", "attachments": []}  # fmt: skip
        peer.publish(peer.envelope(number, timestamp=data["timestamp"], dataMessage=data))
        return web.json_response({"timestamp": data["timestamp"], "source": number})

    @routes.post("/_peer/typing_event")
    async def typing_event(request):
        number = USERS[(await request.json())["user"]]
        stamp = peer.timestamp()
        typing = {"action": "STARTED", "timestamp": stamp}
        peer.publish(peer.envelope(number, timestamp=stamp, typingMessage=typing))
        return web.json_response({"ok": True})

    @routes.post("/_peer/malformed")
    async def malformed(request):
        peer.publish({"account": ACCOUNT, "envelope": {"source": None, "timestamp": "soon",
                      "dataMessage": {"message": 42}}})  # fmt: skip
        peer.publish("{not json")
        return web.json_response({"ok": True})

    @routes.get("/_peer/sent")
    async def sent(request):
        chat = request.query.get("chat")
        return web.json_response([s for s in peer.sent if chat in (None, s["chat"])])

    @routes.get("/_peer/typing")
    async def typing(request):
        return web.json_response(peer.typing)

    @routes.get("/_peer/reactions")
    async def reactions(request):
        return web.json_response(peer.reactions)

    @routes.post("/_peer/restart")
    async def restart(request):
        seconds = float((await request.json()).get("seconds", 1.0))
        peer.down_until = time.monotonic() + seconds
        for queue in list(peer.streams):
            queue.put_nowait(None)
        await asyncio.sleep(seconds)
        return web.json_response({"ok": True})

    @routes.post("/_peer/reset")
    async def reset(request):
        peer.reset()
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.add_routes(routes)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve_app(build_app(Peer()), args.port))


if __name__ == "__main__":
    main()
