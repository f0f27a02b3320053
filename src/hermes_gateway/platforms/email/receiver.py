"""The IMAP side: one logged-in session on the mailbox, UNSEEN mail handed over one by one and
marked \\Seen only after the handler returned (the mail is durable in our inbox), then IDLE until
the server says something changed (or a poll interval when it has no IDLE). A dropped
connection is reopened with a jittered backoff; a rejected login stops the loop as "failed"."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable

import aioimaplib

from hermes_gateway.config.secrets import redact
from hermes_gateway.platforms.connection import Backoff, StatusLatch, StoreRetries, sleep_unless

from . import EmailOptions, login_rejected

log = logging.getLogger("hermes.email")

# A mail whose handler keeps failing (the inbox is unwritable) is given up on after this many
# tries, so that one poison mail cannot hold up every later one forever.
MAX_HANDLER_FAILURES = 5
NETWORK_ERRORS = (OSError, TimeoutError, aioimaplib.AioImapException, ConnectionError)


class _HidePassword(logging.Filter):
    """aioimaplib logs the LOGIN line at DEBUG with the password starred out, but only in its
    raw form: a password that needed quoting (a quote or a backslash in it) would show."""

    def __init__(self, password: str) -> None:
        super().__init__()
        escaped = password.replace("\\", "\\\\").replace('"', '\\"')  # as aioimaplib quotes
        # The line is logged as a bytes repr, which escapes backslashes once more.
        forms = {password, escaped, *(repr(f.encode())[2:-1] for f in (password, escaped))}
        self.secrets = tuple(sorted(forms, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = redact(text, *self.secrets)
        if cleaned != text:
            record.msg, record.args = cleaned, None
        return True


def protect_logs(password: str) -> None:
    logger = logging.getLogger("aioimaplib.aioimaplib")
    hider = _HidePassword(password)
    if not any(getattr(f, "secrets", None) == hider.secrets for f in logger.filters):
        logger.addFilter(hider)


class LoginRejected(RuntimeError):
    """The server refused the credentials; the message never contains the password."""


class ConnectionLost(ConnectionError):
    pass


class Session:
    """One IMAP connection: logged in, the mailbox selected."""

    def __init__(self, options: EmailOptions) -> None:
        self.options = options
        protect_logs(options.password)
        self.lost = asyncio.Event()
        self.idling = False
        context = ssl.create_default_context() if options.imap_ssl else None
        self.client = aioimaplib.IMAP4(
            host=options.imap_host,
            port=options.imap_port,
            timeout=options.timeout,
            conn_lost_cb=lambda exc: self.lost.set(),
            ssl_context=context,
        )

    async def open(self) -> None:
        options = self.options
        # Each step also ends when the connection drops (a server going down mid-greeting).
        await self._until(self.client.wait_hello_from_server())
        response = await self._until(self.client.login(options.username, options.password))
        if response.result != "OK":
            detail = "LOGIN failed: " + (_text(response.lines) or "no reason given")
            raise LoginRejected(
                login_rejected("IMAP", options.imap, redact(detail, options.password))
            )
        response = await self._until(self.client.select(options.mailbox))
        if response.result != "OK":
            raise aioimaplib.Abort(f"cannot select {options.mailbox}: {_text(response.lines)}")

    @property
    def has_idle(self) -> bool:
        return self.client.has_capability("IDLE")

    async def unseen(self) -> list[str]:
        response = await self._checked(self.client.uid_search("UNSEEN", charset=None))
        return _text(response.lines[:1]).split() if response.lines else []

    async def fetch(self, uid: str) -> bytes | None:
        """The whole message without setting \\Seen (BODY.PEEK); None when it is gone."""
        response = await self._checked(self.client.uid("fetch", uid, "(BODY.PEEK[])"))
        for line in response.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def mark_seen(self, uid: str) -> None:
        await self._checked(self.client.uid("store", uid, "+FLAGS.SILENT", r"(\Seen)"))

    async def wait_for_news(self, stopping: asyncio.Event) -> None:
        """Until the server reports a change (IDLE), the refresh time passes, or we stop."""
        refresh = self.options.idle_refresh
        self.idling = True  # until the server closed the IDLE: no LOGOUT can pass it
        idle = await self._until(self.client.idle_start(timeout=refresh), stopping)
        if idle is None:
            return
        push = self.client.wait_server_push(refresh + self.options.timeout)
        try:
            await self._until(push, stopping)
        finally:
            if not self.lost.is_set():
                if self.client.has_pending_idle():
                    self.client.idle_done()
                await self._until(asyncio.wait_for(idle, self.options.timeout))
                self.idling = False

    async def poll_wait(self, stopping: asyncio.Event) -> None:
        await sleep_unless(stopping, self.options.poll_interval)
        if not stopping.is_set():
            await self._checked(self.client.noop())

    async def _checked(self, call: Awaitable[aioimaplib.Response]) -> aioimaplib.Response:
        response = await self._until(call)
        if response.result != "OK":
            raise aioimaplib.Abort(f"IMAP said {response.result}: {_text(response.lines)}")
        return response

    async def _until(self, call: Awaitable, stopping: asyncio.Event | None = None):
        """The call's result; ConnectionLost as soon as the connection drops (a command
        in flight would otherwise wait for its timeout, an IDLE start forever); None when
        `stopping` is set first."""
        task = asyncio.ensure_future(call)
        watchers = [asyncio.ensure_future(self.lost.wait())]
        if stopping is not None:
            watchers.append(asyncio.ensure_future(stopping.wait()))
        try:
            await asyncio.wait([task, *watchers], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            for watcher in watchers:
                watcher.cancel()
        if task.done():
            return task.result()
        task.cancel()
        if self.lost.is_set():
            raise ConnectionLost("the IMAP connection was closed")
        return None

    async def close(self) -> None:
        try:
            if not self.lost.is_set() and not self.idling:
                await asyncio.wait_for(self.client.logout(), 2.0)
        except Exception as exc:  # a dead connection may fail to log out: nothing to do
            log.debug("email: IMAP logout failed: %s", exc)
        transport = self.client.protocol.transport if self.client.protocol else None
        if transport is not None:
            transport.close()


def _text(lines: list) -> str:
    return " ".join(
        bytes(line).decode("utf-8", "replace") for line in lines if isinstance(line, bytes)
    ).strip()


class Receiver:
    def __init__(
        self,
        options: EmailOptions,
        handle: Callable[[str, bytes], Awaitable[None]],
        status: StatusLatch,
    ) -> None:
        self.options = options
        self._handle = handle  # returns once the mail may be marked seen; raises if not stored
        self._status = status
        self._stopping = asyncio.Event()
        self._stored = StoreRetries(log, "email", "mail", MAX_HANDLER_FAILURES)
        self.session: Session | None = None

    async def open(self) -> Session:
        """A new logged-in session (LoginRejected, or a network error, when that fails)."""
        session = Session(self.options)
        try:
            await session.open()
        except BaseException:
            await session.close()
            raise
        return session

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, session: Session | None) -> None:
        """The loop; `session` is the one connect() opened (None when that failed)."""
        try:
            await self._loop(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must show up as a failed platform, not silence
            log.exception("email: the IMAP loop crashed")
            self._status("failed", f"the IMAP loop stopped: {self._clean(exc)}")
        finally:
            if self.session is not None:
                await self.session.close()
                self.session = None

    async def _loop(self, session: Session | None) -> None:
        backoff = Backoff(start=0.5, cap=60.0)
        self.session = session
        while not self._stopping.is_set():
            try:
                if self.session is None:
                    self.session = await self.open()
                self._status("connected", "")
                backoff.reset()
                await self._serve(self.session)
            except LoginRejected as exc:
                self._status("failed", str(exc))
                return  # a wrong password never fixes itself: no spinning
            except NETWORK_ERRORS as exc:
                if self._stopping.is_set():
                    return
                reason = f"IMAP {self.options.imap}: {self._clean(exc)}"
                log.warning("email: %s; reconnecting", reason)
                self._status("connecting", reason)
            if self.session is not None:
                await self.session.close()
                self.session = None
            await sleep_unless(self._stopping, backoff.next())

    async def _serve(self, session: Session) -> None:
        use_idle = self.options.idle and session.has_idle
        while not self._stopping.is_set():
            if not await self._drain(session):
                await sleep_unless(self._stopping, 1.0)  # the inbox is not writable: retry soon
                continue
            if use_idle:
                await session.wait_for_news(self._stopping)
            else:
                await session.poll_wait(self._stopping)

    async def _drain(self, session: Session) -> bool:
        """Hand over every unseen mail in order. False: a mail could not be stored yet."""
        for uid in await session.unseen():
            if self._stopping.is_set():
                return True
            raw = await session.fetch(uid)
            if raw is not None and not await self._stored.store(
                uid, lambda uid=uid, raw=raw: self._handle(uid, raw)
            ):
                return False
            await session.mark_seen(uid)
        return True

    def _clean(self, exc: BaseException) -> str:
        return redact(str(exc) or type(exc).__name__, self.options.password)
