"""The floor for bench/telegram_bench.py: the least a Telegram bot that talks to a model can do.

A python-telegram-bot Application (long polling, concurrent_updates=True) that answers every
text message with ONE chat-completions call (non-streaming, a single shared httpx.AsyncClient)
and sends the model's text back. No storage, no sessions, no history, no formatting.

    FLOOR_BOT_TOKEN=… python bench/floor_bot.py --telegram http://127.0.0.1:<p> \
        --openai http://127.0.0.1:<q>/v1 [--model bench-model]

Stops cleanly on SIGTERM/SIGINT (run_polling's own handling), and by itself if its parent dies."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import httpx
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

PARENT_CHECK = 1.0  # seconds between "is my parent still alive" checks


def build(token: str, telegram: str, openai: str, model: str) -> Application:
    client: dict[str, httpx.AsyncClient] = {}

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        body = {"model": model, "messages": [{"role": "user", "content": message.text}]}
        response = await client["http"].post("/chat/completions", json=body)
        response.raise_for_status()
        text = response.json()["choices"][0]["message"]["content"] or "(empty answer)"
        await context.bot.send_message(message.chat_id, text)

    async def post_init(app: Application) -> None:
        # trust_env=False: a proxy from the environment must never sit between loopback peers.
        client["http"] = httpx.AsyncClient(base_url=openai, timeout=30.0, trust_env=False)
        app.bot_data["watch"] = asyncio.create_task(_watch_parent(os.getppid()))

    async def post_shutdown(app: Application) -> None:
        app.bot_data["watch"].cancel()
        await client["http"].aclose()

    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{telegram}/bot")
        .base_file_url(f"{telegram}/file/bot")
        .concurrent_updates(True)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, answer))
    return app


async def _watch_parent(parent: int) -> None:
    """An orphaned floor bot (the bench was killed) stops itself the normal way."""
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_CHECK)
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--telegram", required=True, help="the Bot API server, http://host:port")
    parser.add_argument("--openai", required=True, help="the chat-completions base URL (…/v1)")
    parser.add_argument("--model", default="bench-model")
    args = parser.parse_args(argv)
    token = os.environ.get("FLOOR_BOT_TOKEN", "")
    if not token:
        print("floor_bot: set FLOOR_BOT_TOKEN to the bot token", file=sys.stderr)
        return 2
    build(token, args.telegram.rstrip("/"), args.openai.rstrip("/"), args.model).run_polling(
        allowed_updates=Update.ALL_TYPES
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
