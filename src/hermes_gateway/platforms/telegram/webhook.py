"""Webhook mode: Telegram POSTs each update to our URL with a secret header.

A request without the right secret is refused (401) before its body is read; a body that is
not an update is refused (400); otherwise the update is stored and only then answered 200, so
Telegram re-sends anything we could not store. Stopping the server leaves the webhook set, so
updates queue at Telegram until we are back."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot

from . import ALLOWED_UPDATES, TelegramOptions

log = logging.getLogger("hermes.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SHUTDOWN_TIMEOUT = 0.5  # seconds given to requests in flight when the gateway stops


class WebhookServer:
    def __init__(
        self,
        options: TelegramOptions,
        secret: str,
        handle: Callable[[dict], Awaitable[None]],
    ) -> None:
        self._options = options
        self._secret = secret
        self._handle = handle
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.path = urlsplit(options.webhook_url).path or "/"

    def __repr__(self) -> str:  # the secret stays out of logs
        return f"WebhookServer(path={self.path!r}, port={self.port})"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._receive)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self._options.webhook_host, self._options.webhook_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self._options.webhook_host}:{self._options.webhook_port}"
            raise RuntimeError(
                f"the Telegram webhook server cannot listen on {where} ({exc.strerror}): "
                "free the port or set platforms.telegram.extra.webhook_port"
            ) from None
        self._runner = runner
        self.port = runner.addresses[0][1]  # the real port when 0 was asked for
        log.info("telegram: webhook listening on %s:%s%s", site.name, self.port, self.path)

    async def register(self, bot: Bot) -> None:
        """Point Telegram at our URL (after the server listens: deliveries start at once)."""
        await bot.set_webhook(
            self._options.webhook_url,
            secret_token=self._secret,
            allowed_updates=list(ALLOWED_UPDATES),
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            log.warning("telegram: webhook request from %s without the secret", request.remote)
            return web.Response(status=401, text="wrong or missing secret token")
        try:
            update = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("telegram: webhook body is not JSON: %s", exc)
            return web.Response(status=400, text="body is not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            log.warning("telegram: webhook body is not an update")
            return web.Response(status=400, text="body is not a Telegram update")
        try:
            await self._handle(update)
        except Exception as exc:  # not stored: a 500 makes Telegram deliver it again later
            log.error("telegram: webhook update %s not stored: %s", update["update_id"], exc)
            return web.Response(status=500, text="not stored; retry later")
        return web.Response(status=200)
