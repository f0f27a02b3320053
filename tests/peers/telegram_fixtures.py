"""The loopback Telegram Bot API peer, seen from a test: the ``telegram_peer`` fixture and a client
for its control endpoints (sync on the handle, async on ``handle.aio``).

Use the async client from async tests whenever the code under test runs in the same event loop:
a sync ``wait()`` would block the loop that is supposed to produce what it waits for.

    bot = telegram.Bot(peer.token, base_url=peer.base_url, base_file_url=peer.file_url)
    peer.message(chat_id=42, text="hi")              # queue an update from user 42
    sent = await peer.aio.wait(1, method="sendMessage")"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.peers.fixtures import Peer, shared_peer, start_peer

DEFAULT_TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "hermes_test_bot"
GROUP_USER_ID = 4242  # who speaks in a group when the test does not say
HTTP_TIMEOUT = 10.0


def _message_body(
    chat_id: int, text: str | None, user_id: int | None, chat_type: str | None, fields: dict
) -> dict:
    body: dict[str, Any] = {
        "chat_id": chat_id,
        "user_id": user_id if user_id is not None else (chat_id if chat_id > 0 else GROUP_USER_ID),
    }
    if text is not None:
        body["text"] = text
    if chat_type is not None:
        body["chat_type"] = chat_type
    for key, value in fields.items():
        if key in ("photo", "document", "voice") and isinstance(value, bytes):
            body[f"{key}_b64"] = base64.b64encode(value).decode()
        else:
            body[key] = value
    return body


def _strip_none(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None}


def _expect(count: int, timeout: float) -> Callable[[list[dict]], list[dict]]:
    def check(ops: list[dict]) -> list[dict]:
        if len(ops) < count:
            seen = [(op["method"], op["chat_id"], op["text"]) for op in ops]
            raise TimeoutError(
                f"the Telegram peer saw {len(ops)} of {count} expected bot operations within "
                f"{timeout:g} s; got {seen}"
            )
        return ops

    return check


class PeerControlError(RuntimeError):
    """The peer refused a control request (the test asked for something impossible)."""


def _result(response: httpx.Response, then: Callable[[Any], Any] | None) -> Any:
    if response.is_error:
        raise PeerControlError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text}"
        )
    return then(response.json()) if then else response.json()


class _Control:
    """The control calls. ``_call`` performs the request: directly in the sync client, as an
    awaitable in the async one, so both share these bodies."""

    def _call(
        self, method: str, path: str, *, json: Any = None, params: dict | None = None,
        then: Callable[[Any], Any] | None = None, timeout: float = HTTP_TIMEOUT,
    ) -> Any:  # fmt: skip
        raise NotImplementedError

    def message(
        self, chat_id: int, text: str | None = None, *, user_id: int | None = None,
        chat_type: str | None = None, **fields: Any,
    ) -> Any:  # fmt: skip
        """Queue a user's message: {update_id, message_id}. ``fields``: username, first_name,
        message_thread_id, is_topic_message, reply_to_bot_message_id, entities, caption,
        photo / document / voice (bytes), file_name, mime_type."""
        body = _message_body(chat_id, text, user_id, chat_type, fields)
        return self._call("POST", "/_peer/message", json=body)

    def callback(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> Any:
        """Queue a button press on a bot message: {update_id, callback_query_id}."""
        user = user_id if user_id is not None else (chat_id if chat_id > 0 else GROUP_USER_ID)
        body = {"chat_id": chat_id, "user_id": user, "message_id": message_id, "data": data}
        return self._call("POST", "/_peer/callback", json=body)

    def sent(self, chat_id: int | None = None, since: int = 0, method: str | None = None) -> Any:
        """Every successful bot operation after ``since`` (a seq), oldest first."""
        params = _strip_none({"chat_id": chat_id, "since": since, "method": method})
        return self._call("GET", "/_peer/sent", params=params)

    def wait(
        self, count: int, since: int = 0, timeout: float = 10.0, method: str | None = None,
        chat_id: int | None = None,
    ) -> Any:  # fmt: skip
        """At least ``count`` matching operations after ``since``; TimeoutError if they do not
        come within ``timeout`` s. ``method`` may list several, comma-separated."""
        params = _strip_none(
            {"since": since, "count": count, "timeout": timeout, "method": method,
             "chat_id": chat_id}
        )  # fmt: skip
        return self._call(
            "GET", "/_peer/wait", params=params, then=_expect(count, timeout),
            timeout=timeout + HTTP_TIMEOUT,
        )  # fmt: skip

    def messages(self, chat_id: int) -> Any:
        """The bot's messages in a chat as users see them now: {message_id: {text, parse_mode,
        edits, entities, reply_markup}}."""

        def by_int(view: dict) -> dict[int, dict]:
            return {int(k): v for k, v in view.items()}

        return self._call("GET", "/_peer/messages", params={"chat_id": chat_id}, then=by_int)

    def fail(
        self, method: str, status: int = 400, description: str | None = None,
        retry_after: float | None = None, chat_id: int | None = None, times: int = 1,
    ) -> Any:  # fmt: skip
        """The next ``times`` calls of ``method`` fail (status 0: the connection drops)."""
        rule = _strip_none(
            {"method": method, "status": status, "description": description,
             "retry_after": retry_after, "chat_id": chat_id, "times": times}
        )  # fmt: skip
        return self._call("POST", "/_peer/fail", json=rule)

    def stall(self, seconds: float) -> Any:
        """The next getUpdates is accepted and then left unanswered for ``seconds``."""
        return self._call("POST", "/_peer/stall", json={"seconds": seconds})

    def stats(self) -> Any:
        return self._call("GET", "/_peer/stats")

    def last_seq(self) -> Any:
        """The seq of the newest recorded operation: pass it as ``since`` to see only newer."""
        return self._call("GET", "/_peer/stats", then=lambda s: s["last_seq"])

    def reset(self) -> Any:
        return self._call("POST", "/_peer/reset")


class AsyncTelegramPeerClient(_Control):
    """Awaitable control calls, for tests whose code under test shares their event loop."""

    def __init__(self, url: str, owner: TelegramPeerHandle | None = None) -> None:
        self.url = url
        self._owner = owner

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: dict | None = None,
        then: Callable[[Any], Any] | None = None, timeout: float = HTTP_TIMEOUT,
    ) -> Any:  # fmt: skip
        # One short-lived client per call: the handle outlives any single test's event loop.
        # verify=False skips loading CA certificates; this is plain HTTP on loopback.
        async with httpx.AsyncClient(
            base_url=self.url, timeout=timeout, trust_env=False, verify=False
        ) as http:
            response = await http.request(method, path, json=json, params=params)
        return _result(response, then)

    async def set_token(self, token: str) -> None:
        await self._call("POST", "/_peer/token", json={"token": token})
        if self._owner is not None:
            self._owner.token = token


class TelegramPeerHandle(_Control):
    """A running peer process and a sync client for it."""

    def __init__(self, peer: Peer, token: str, bot_username: str) -> None:
        self.peer = peer
        self.port = peer.port
        self.url = peer.url
        self.token = token
        self.default_token = token
        self.bot_username = bot_username
        self.base_url = f"{peer.url}/bot"
        self.file_url = f"{peer.url}/file/bot"
        self.aio = AsyncTelegramPeerClient(peer.url, self)
        self._http = httpx.Client(base_url=peer.url, timeout=HTTP_TIMEOUT, trust_env=False)

    def _call(
        self, method: str, path: str, *, json: Any = None, params: dict | None = None,
        then: Callable[[Any], Any] | None = None, timeout: float = HTTP_TIMEOUT,
    ) -> Any:  # fmt: skip
        response = self._http.request(method, path, json=json, params=params, timeout=timeout)
        return _result(response, then)

    def set_token(self, token: str) -> None:
        """Only ``token`` is valid from now on (the old one behaves as revoked)."""
        self._call("POST", "/_peer/token", json={"token": token})
        self.token = token

    def close(self) -> None:
        self._http.close()
        self.peer.stop()

    def __repr__(self) -> str:  # no token: it is a credential in shape, if not in value
        return f"TelegramPeerHandle(url={self.url!r}, pid={self.peer.pid})"


def start_telegram_peer(
    token: str = DEFAULT_TOKEN, bot_username: str = BOT_USERNAME
) -> TelegramPeerHandle:
    """A peer process of one's own (benchmarks); the caller stops it with ``close()``."""
    peer = start_peer("tests.peers.telegram_peer", "--token", token, "--bot-username", bot_username)
    return TelegramPeerHandle(peer, token, bot_username)


@pytest.fixture
def telegram_peer(request: pytest.FixtureRequest) -> TelegramPeerHandle:
    """One peer process per test session, reset before each test with the default token
    restored, so nothing leaks between tests."""
    handle = shared_peer(request, "telegram", start_telegram_peer)
    if handle.token != handle.default_token:
        handle.set_token(handle.default_token)
    handle.reset()
    return handle
