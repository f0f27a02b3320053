"""The wizard's online checks against loopback servers that speak the real protocols: the
Telegram Bot API peer, an IMAP server (LOGIN over a socket, driven by aioimaplib), the scripted
OpenAI-compatible model peer."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from hermes_gateway.setup import run_check

WRONG = "999999:WRONG-TOKEN-XYZ"


async def test_telegram_check_accepts_the_peers_token(telegram_peer):
    values = {
        "TELEGRAM_BOT_TOKEN": telegram_peer.token,
        "TELEGRAM_BASE_URL": telegram_peer.base_url,
    }
    result = await run_check("telegram", values, timeout=5)
    assert result.ok, result.message
    assert result.message == f"Telegram knows the bot as @{telegram_peer.bot_username}."


async def test_telegram_check_names_the_rejected_setting_without_the_token(telegram_peer):
    values = {"TELEGRAM_BOT_TOKEN": WRONG, "TELEGRAM_BASE_URL": telegram_peer.base_url}
    result = await run_check("telegram", values, timeout=5)
    assert not result.ok
    assert result.message.startswith("Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized)")
    assert WRONG not in result.message


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_unreachable_server_is_a_clear_failure_without_the_token():
    url = f"http://127.0.0.1:{_closed_port()}/bot"
    result = await run_check("telegram", {"TELEGRAM_BOT_TOKEN": WRONG, "TELEGRAM_BASE_URL": url}, 5)
    assert not result.ok
    assert result.message.startswith("Could not reach http://127.0.0.1:")
    assert "WRONG" not in result.message and "/bot" not in result.message


# -- IMAP ----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def imap_server(user: str, password: str):
    """A minimal IMAP4rev1 server: greeting, CAPABILITY, LOGIN (checked), LOGOUT."""
    logins: list[tuple[str, bool]] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1] loopback ready\r\n")
        while line := await reader.readline():
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                writer.write(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
            elif command == "LOGIN":
                name, _, secret = args.partition(" ")
                ok = name.strip('"') == user and secret.strip('"') == password
                logins.append((name.strip('"'), ok))
                reply = "OK LOGIN completed" if ok else "NO [AUTHENTICATIONFAILED] bad login"
                writer.write(f"{tag} {reply}\r\n".encode())
            elif command == "LOGOUT":
                writer.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
                await writer.drain()
                break
            else:
                writer.write(f"{tag} BAD unknown\r\n".encode())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], logins
    finally:
        server.close()
        await server.wait_closed()


def _email(port: int, password: str) -> dict[str, str]:
    return {
        "EMAIL_ADDRESS": "hermes@example.com",
        "EMAIL_PASSWORD": password,
        "EMAIL_IMAP_HOST": "127.0.0.1",
        "EMAIL_IMAP_PORT": str(port),
        "EMAIL_IMAP_SSL": "false",  # the loopback server speaks plain IMAP
    }


async def test_imap_check_logs_in_and_out():
    async with imap_server("hermes@example.com", "s3cret pass") as (port, logins):
        result = await run_check("email", _email(port, "s3cret pass"), timeout=5)
    assert result.ok, result.message
    assert logins == [("hermes@example.com", True)]
    assert result.message == f"Logged in to 127.0.0.1:{port} as hermes@example.com."


async def test_imap_check_reports_a_rejected_login_without_the_password():
    async with imap_server("hermes@example.com", "s3cret pass") as (port, logins):
        result = await run_check("email", _email(port, "wrong-password"), timeout=5)
    assert not result.ok
    assert logins == [("hermes@example.com", False)]
    assert "rejected EMAIL_ADDRESS / EMAIL_PASSWORD" in result.message
    assert "wrong-password" not in result.message


async def test_imap_check_on_a_closed_port_fails_fast_and_clearly():
    result = await run_check("email", _email(_closed_port(), "pw"), timeout=5)
    assert not result.ok
    assert result.message.startswith("Could not reach the IMAP server 127.0.0.1:")


# -- model ---------------------------------------------------------------------------------------


async def test_model_check_lists_models_at_a_custom_endpoint(openai_peer):
    values = {"provider": "custom", "base_url": openai_peer.base_url, "api_key": ""}
    result = await run_check("model", values, timeout=5)
    assert result.ok, result.message
