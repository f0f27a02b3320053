"""The Discord peer's gateway websocket (https://discord.com/developers/docs/events/gateway):
HELLO (op 10), IDENTIFY (op 2) -> READY + GUILD_CREATE, heartbeats (op 1 -> op 11), RESUME
(op 6) replaying what the session missed, INVALID_SESSION (op 9) for an unknown one. JSON text
frames, no compression (the client's zlib-stream query is ignored; discord.py reads text too).

A session outlives its socket until the client closes with 1000 (which ends a session, as on
Discord): events meanwhile are kept and replayed on RESUME. An outage closes every socket with
1001 and answers the websocket upgrade with 503 until it is over."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.peers.discord_world import APP_ID, BOT_ID, GUILD_ID, World, user

HEARTBEAT_MS = 41250
KEEP = 1000  # events a session keeps for a RESUME


@dataclass
class Session:
    id: str
    seq: int = 0
    frames: list[dict[str, Any]] = field(default_factory=list)
    socket: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def dispatch(self, event: str, data: Any) -> None:
        async with self.lock:
            self.seq += 1
            frame = {"op": 0, "t": event, "s": self.seq, "d": data}
            self.frames = [*self.frames[-KEEP + 1 :], frame]
            await self._send(frame)

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.socket is not None and not self.socket.closed:
            try:
                await self.socket.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                self.socket = None  # gone: the frame waits for a RESUME

    async def resume(self, socket: web.WebSocketResponse, seq: int) -> None:
        async with self.lock:
            self.socket = socket
            for frame in self.frames:
                if frame["s"] > seq:
                    await self._send(frame)
            self.seq += 1
            await self._send({"op": 0, "t": "RESUMED", "s": self.seq, "d": {}})


@dataclass
class Gateway:
    world: World
    url: str = ""  # ws://127.0.0.1:<port>/gateway, set once the port is known
    sessions: dict[str, Session] = field(default_factory=dict)
    outage_until: float = 0.0
    stats: dict[str, int] = field(
        default_factory=lambda: {"identify": 0, "resume": 0, "heartbeat": 0, "invalid": 0}
    )

    async def dispatch(self, event: str, data: Any) -> None:
        for session in list(self.sessions.values()):
            await session.dispatch(event, data)

    async def outage(self, seconds: float) -> None:
        self.outage_until = time.monotonic() + seconds
        for session in self.sessions.values():
            socket, session.socket = session.socket, None
            if socket is not None and not socket.closed:
                await socket.close(code=1001, message=b"restarting")

    def connected(self) -> int:
        return sum(1 for s in self.sessions.values() if s.socket and not s.socket.closed)

    def reset(self) -> None:
        self.sessions.clear()
        self.outage_until = 0.0
        for key in self.stats:
            self.stats[key] = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if time.monotonic() < self.outage_until:
            return web.Response(status=503, text="gateway restarting")
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        await socket.send_str(json.dumps(_frame(10, {"heartbeat_interval": HEARTBEAT_MS})))
        session: Session | None = None
        async for message in socket:
            if message.type is not WSMsgType.TEXT:
                continue
            try:
                payload = json.loads(message.data)
                op, data = payload["op"], payload.get("d")
            except (ValueError, KeyError, TypeError):
                await socket.close(code=4002, message=b"Error while decoding payload.")
                break
            if op == 1:
                self.stats["heartbeat"] += 1
                await socket.send_str(json.dumps(_frame(11, None)))
            elif op == 2:
                session = await self._identify(socket, data)
                if session is None:
                    break
            elif op == 6:
                session = await self._resume(socket, data)
        if session is not None and session.socket is socket:
            session.socket = None
            if socket.close_code == 1000:  # the client ended its session
                self.sessions.pop(session.id, None)
        return socket

    async def _identify(self, socket: web.WebSocketResponse, data: Any) -> Session | None:
        if not isinstance(data, dict) or data.get("token") != self.world.token:
            await socket.close(code=4004, message=b"Authentication failed.")
            return None
        self.stats["identify"] += 1
        session = Session(secrets.token_hex(16), socket=socket)
        self.sessions[session.id] = session
        ready = {
            "v": 10,
            "user": {**user(BOT_ID), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": GUILD_ID, "unavailable": True}],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "application": {"id": APP_ID, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "auth": {},
            "shard": [0, 1],
        }
        await session.dispatch("READY", ready)
        await session.dispatch("GUILD_CREATE", self.world.guild())
        return session

    async def _resume(self, socket: web.WebSocketResponse, data: Any) -> Session | None:
        data = data if isinstance(data, dict) else {}
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.world.token or session is None:
            self.stats["invalid"] += 1
            await socket.send_str(json.dumps(_frame(9, False)))
            return None
        self.stats["resume"] += 1
        await session.resume(socket, int(data.get("seq") or 0))
        return session


def _frame(op: int, data: Any) -> dict[str, Any]:
    return {"op": op, "d": data, "s": None, "t": None}
