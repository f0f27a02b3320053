"""The /sync loop and its connection health.

A batch is acknowledged by persisting its next_batch token, and only after every message in it
is in the inbox (deliver returned): a crash or an outage replays the batch from the old token
(the inbox drops what it already has), never skips it. A room whose timeline came back
`limited` (more events than the filter's limit arrived while we were away) is paged back to
the previous token with /messages, so nothing in the gap is lost. The first sync of a new
account only learns the rooms' state: history from before the bot ran is never answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, ErrorResponse, MessageDirection, SyncResponse

from hermes_gateway.platforms.connection import Backoff, StatusLatch, StoreRetries, sleep_unless

from . import MatrixOptions
from .state import StateFile, SyncState

log = logging.getLogger("hermes.matrix")

MAX_GAP_PAGES = 10  # /messages pages (of GAP_PAGE events) per room when filling a gap
GAP_PAGE = 100
# An event whose delivery keeps failing (the inbox is unwritable) is skipped after this many
# tries, so that one poison event cannot hold up every room forever.
MAX_DELIVERY_FAILURES = 5
STALLED = "/sync stalled; reconnecting"
FIRST_SYNC_BUDGET = 300.0  # seconds for the first (full-state) sync of a run

Deliver = Callable[[str, dict[str, Any]], Awaitable[None]]  # (room_id, raw event)
Invited = Callable[[str, list[dict[str, Any]]], Awaitable[None]]  # (room_id, invite_state)


class SyncRejected(RuntimeError):
    """The homeserver refused our credentials during /sync (M_UNKNOWN_TOKEN, M_FORBIDDEN)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SyncFailed(RuntimeError):
    """A /sync that did not work this time (network, 5xx, 429): try again after a while."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class SyncLoop:
    def __init__(
        self,
        client: AsyncClient,
        options: MatrixOptions,
        status: StatusLatch,
        store: StateFile,
        state: SyncState,
        deliver: Deliver,
        invited: Invited,
        relogin: Callable[[str], Awaitable[str]],
    ) -> None:
        self.client = client
        self.options = options
        self._status = status
        self._store = store
        self.state = state
        self._deliver = deliver
        self._invited = invited
        # After M_UNKNOWN_TOKEN (code): log in again with the password and return "", or
        # return why the platform failed.
        self._relogin = relogin
        self._stopping = asyncio.Event()
        self._stored = StoreRetries(log, "matrix", "event", MAX_DELIVERY_FAILURES)
        self.synced_once = False

    def stop(self) -> None:
        self._stopping.set()

    # -- one sync -----------------------------------------------------------------------
    async def sync_once(self, timeout: float) -> None:
        """One /sync and everything in it; raises SyncRejected or SyncFailed."""
        since = self.state.next_batch or None
        first = not self.synced_once
        # The first sync of a run asks for the rooms' full state (nio keeps it in memory:
        # members, names), continuing from the saved token when there is one.
        timeout_ms = 0 if first else int(timeout * 1000)
        # A first sync on a big account can take minutes on a busy server: it is not a stall.
        budget = FIRST_SYNC_BUDGET if first else timeout + self.options.stall_grace
        try:
            response = await asyncio.wait_for(
                self.client.sync(
                    timeout=timeout_ms,
                    sync_filter=self._filter(),
                    since=since,
                    full_state=first or None,
                ),
                budget,
            )
        except TimeoutError:
            raise SyncFailed(STALLED) from None
        except (ClientError, OSError) as exc:
            raise SyncFailed(f"cannot reach {self.options.homeserver}: {_describe(exc)}") from None
        if isinstance(response, ErrorResponse):
            if since is not None and _status(response) == 400:
                await self._forget_position(response)
            raise _error(response)
        if not isinstance(response, SyncResponse):
            raise SyncFailed(f"unexpected /sync answer {type(response).__name__}")
        self.synced_once = True
        for room_id, info in response.rooms.invite.items():
            await self._invited(room_id, [_invite_source(e) for e in info.invite_state])
        if since is not None and not await self._deliver_rooms(response, since):
            raise SyncFailed("a message could not be stored; retrying")
        self.state.next_batch = response.next_batch
        await self._store.save(self.state)

    async def _forget_position(self, response: ErrorResponse) -> None:
        """The server refuses our saved token (its database was reset, or the file is damaged):
        start again from now. Whatever was sent while we were away cannot be found."""
        log.warning(
            "matrix: the homeserver refused the saved sync position (%s); starting from now, "
            "so messages sent while the gateway was down may be missed",
            response.message,
        )
        self.state.next_batch = ""
        self.synced_once = False
        await self._store.save(self.state)

    def _filter(self) -> dict[str, Any]:
        return {
            "room": {
                "timeline": {"limit": self.options.timeline_limit},
                # Members only as far as they speak: the room summary still counts them all.
                "state": {"lazy_load_members": True},
                "ephemeral": {"types": []},  # typing and receipts: nothing we act on
            },
            "presence": {"types": []},
        }

    async def _deliver_rooms(self, response: SyncResponse, since: str) -> bool:
        """Deliver every room's new events in order; False when one could not be stored."""
        for room_id, info in response.rooms.join.items():
            events = [_source(e) for e in info.timeline.events]
            joined_now = any(_arrived(e, self.client.user_id) for e in events)
            if info.timeline.limited and info.timeline.prev_batch and not joined_now:
                events = await self._gap(room_id, info.timeline.prev_batch, since) + events
            for event in after_our_arrival(events, self.client.user_id):
                if not await self._deliver_one(room_id, event):
                    return False
        return True

    async def _deliver_one(self, room_id: str, event: dict[str, Any]) -> bool:
        event_id = str(event.get("event_id", ""))
        return await self._stored.store(event_id, lambda: self._deliver(room_id, event))

    async def _gap(self, room_id: str, prev_batch: str, since: str) -> list[dict[str, Any]]:
        """The events between our last token and the limited timeline, oldest first."""
        found: list[dict[str, Any]] = []
        start = prev_batch
        for _ in range(MAX_GAP_PAGES):
            page = await self.client.room_messages(
                room_id, start=start, end=since, direction=MessageDirection.back, limit=GAP_PAGE
            )
            if isinstance(page, ErrorResponse):
                log.warning("matrix: cannot page back in %s: %s", room_id, page)
                break
            found.extend(_source(e) for e in page.chunk)
            if not page.chunk or not page.end or page.end == start:
                break
            start = page.end
        else:
            log.warning("matrix: more than %s missed events in %s", len(found), room_id)
        found.reverse()
        return found

    # -- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must show up as a failed platform, not silence
            log.exception("matrix: the sync loop crashed")
            self._status("failed", f"the Matrix sync loop stopped: {_describe(exc)}")

    async def _loop(self) -> None:
        backoff = Backoff()
        relogged = False  # one new login per rejection: a second one in a row means stop
        while not self._stopping.is_set():
            try:
                await self.sync_once(self.options.sync_timeout)
            except SyncRejected as exc:
                reason = "" if relogged else await self._relogin(exc.code)
                if not reason:
                    relogged = True
                    continue
                self._status("failed", reason)
                return  # a revoked token never fixes itself: no spinning
            except SyncFailed as exc:
                self._status("connecting", str(exc))
                delay = backoff.next() if exc.retry_after is None else exc.retry_after
                await sleep_unless(self._stopping, delay)
                continue
            self._status("connected", "")
            backoff.reset()
            relogged = False


def after_our_arrival(events: list[dict[str, Any]], bot_id: str) -> list[dict[str, Any]]:
    """In a room we joined within this batch, only what was said after we were invited (or,
    without an invite, after we joined): older history is not addressed to us."""
    for i in range(len(events) - 1, -1, -1):
        if _arrived(events[i], bot_id):
            for j in range(i - 1, -1, -1):
                if _membership(events[j], bot_id) == "invite":
                    return events[j + 1 :]
            return events[i + 1 :]
    return events


def _arrived(event: dict[str, Any], user_id: str) -> bool:
    """Our own join (not a profile change, which is a join after a join)."""
    return _membership(event, user_id) == "join" and _previous(event) != "join"


def _membership(event: dict[str, Any], user_id: str) -> str:
    if event.get("type") != "m.room.member" or event.get("state_key") != user_id:
        return ""
    content = event.get("content")
    return str(content.get("membership", "")) if isinstance(content, dict) else ""


def _previous(event: dict[str, Any]) -> str:
    unsigned = event.get("unsigned")
    prev = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
    return str(prev.get("membership", "")) if isinstance(prev, dict) else ""


def _source(event: Any) -> dict[str, Any]:
    source = getattr(event, "source", None)
    return source if isinstance(source, dict) else {}


def _invite_source(event: Any) -> dict[str, Any]:
    # nio keeps an invite's member content beside its source, not in it.
    content = getattr(event, "content", None)
    source = _source(event)
    return {**source, "content": content} if isinstance(content, dict) else source


def _error(response: ErrorResponse) -> Exception:
    code = response.status_code or ""
    if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN"):
        return SyncRejected(code)
    retry = response.retry_after_ms / 1000 if response.retry_after_ms else None
    return SyncFailed(f"{code or 'error'} from the homeserver: {response.message}", retry)


def _status(response: ErrorResponse) -> int:
    transport = getattr(response, "transport_response", None)
    return getattr(transport, "status", 0) or 0


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
