"""The wizard's online checks against servers that speak the real protocols: the loopback peers
of Telegram, Discord, Slack, Mattermost and signal-cli, a real Synapse (skipped, naming
tests/setup/synapse.sh, when it is not installed), an IMAP server (LOGIN over a socket, driven
by aioimaplib), and the scripted OpenAI-compatible model peer. Every failure names the setting
and never shows the secret it was given."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket

import httpx
import pytest

from hermes_gateway.setup import run_check
from tests.peers.mattermost_fixtures import mattermost_env, mattermost_peer_fixture  # noqa: F401
from tests.peers.signal_fixtures import ACCOUNT, signal_env, signal_peer_fixture  # noqa: F401
from tests.peers.slack_fixtures import slack_peer_fixture  # noqa: F401
from tests.peers.synapse_server import SynapseUnavailable, shared_synapse

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
        "EMAIL_SMTP_HOST": "127.0.0.1",  # the adapter needs it; the check does not call it
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


async def test_imap_check_logs_in_with_email_username_like_the_adapter():
    async with imap_server("hermes", "s3cret pass") as (port, logins):
        values = {**_email(port, "s3cret pass"), "EMAIL_USERNAME": "hermes"}
        result = await run_check("email", values, timeout=5)
        assert result.ok, result.message
        wrong = await run_check("email", {**values, "EMAIL_PASSWORD": "nope"}, timeout=5)
    assert logins == [("hermes", True), ("hermes", False)]
    assert result.message == f"Logged in to 127.0.0.1:{port} as hermes."
    assert "rejected EMAIL_USERNAME / EMAIL_PASSWORD" in wrong.message


async def test_imap_check_on_a_closed_port_fails_fast_and_clearly():
    result = await run_check("email", _email(_closed_port(), "pw"), timeout=5)
    assert not result.ok
    assert result.message.startswith("Could not reach the IMAP server 127.0.0.1:")


# -- model ---------------------------------------------------------------------------------------


async def test_model_check_lists_models_at_a_custom_endpoint(openai_peer):
    values = {"provider": "custom", "base_url": openai_peer.base_url, "api_key": ""}
    result = await run_check("model", values, timeout=5)
    assert result.ok, result.message
    assert (
        result.message
        == f"Custom endpoint answered at {openai_peer.peer.url} and accepted the key."
    )


# -- Discord -------------------------------------------------------------------------------------


async def test_discord_check_asks_who_the_bot_is(discord_peer):
    values = {"DISCORD_BOT_TOKEN": discord_peer.token, "DISCORD_API_BASE": discord_peer.api_base}
    result = await run_check("discord", values, timeout=5)
    assert result.ok, result.message
    assert result.message == "Discord knows the bot as hermes."


async def test_discord_check_names_a_rejected_token_without_it(discord_peer):
    wrong = "MTIz.WRONG.discord-token-xyz"
    values = {"DISCORD_BOT_TOKEN": wrong, "DISCORD_API_BASE": discord_peer.api_base}
    result = await run_check("discord", values, timeout=5)
    assert not result.ok
    assert result.message.startswith("Discord rejected DISCORD_BOT_TOKEN (401 Unauthorized).")
    assert wrong not in result.message


async def test_discord_check_reads_the_api_base_as_the_adapter_does():
    values = {"DISCORD_BOT_TOKEN": "x", "DISCORD_API_BASE": "discord.example/api"}
    result = await run_check("discord", values, timeout=5)
    assert not result.ok
    assert "(DISCORD_API_BASE) must start with http:// or https://" in result.message


# -- Slack ---------------------------------------------------------------------------------------


def _slack(peer, bot: str = "", app: str = "") -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": bot or peer.bot_token,
        "SLACK_APP_TOKEN": app or peer.app_token,
        "SLACK_API_URL": peer.api_url,
    }


async def test_slack_check_calls_auth_test_and_opens_socket_mode(slack_peer):
    before = (await slack_peer.stats())["opens"]
    result = await run_check("slack", _slack(slack_peer), timeout=5)
    assert result.ok, result.message
    assert result.message == "Slack: the bot is hermes in Hermes Test."
    assert (await slack_peer.stats())["opens"] == before + 1  # apps.connections.open answered


async def test_slack_check_names_a_rejected_bot_token_without_it(slack_peer):
    wrong = "xoxb-0000-0000-WRONGwrongWRONG"
    result = await run_check("slack", _slack(slack_peer, bot=wrong), timeout=5)
    assert not result.ok
    assert result.message.startswith("Slack rejected SLACK_BOT_TOKEN (invalid_auth).")
    assert wrong not in result.message


async def test_slack_check_names_a_rejected_app_token_without_it(slack_peer):
    wrong = "xapp-1-A0APP-0000-WRONGwrong"
    result = await run_check("slack", _slack(slack_peer, app=wrong), timeout=5)
    assert not result.ok
    assert result.message.startswith("Slack rejected SLACK_APP_TOKEN (invalid_auth).")
    assert "connections:write" in result.message and wrong not in result.message


async def test_slack_check_says_when_slack_is_unavailable(slack_peer):
    await slack_peer.fail("apps.connections.open", "service_unavailable", status=503, times=1)
    result = await run_check("slack", _slack(slack_peer), timeout=5)
    assert not result.ok
    assert result.message == "Slack answered HTTP 503 to apps.connections.open; try again later."


# -- Mattermost ----------------------------------------------------------------------------------


async def test_mattermost_check_asks_who_the_bot_is(mattermost_peer):
    values = mattermost_env(mattermost_peer, [])
    result = await run_check("mattermost", values, timeout=5)
    assert result.ok, result.message
    assert result.message == "Mattermost knows the bot as @hermes."


async def test_mattermost_check_uses_the_new_token_over_the_configured_one(mattermost_peer):
    wrong = "mm-WRONG-token-987654321"
    # The wizard passes the current configuration (token as MATTERMOST_BOT_TOKEN) under the
    # answers: the answer is what must be checked.
    values = {**mattermost_env(mattermost_peer, []), "MATTERMOST_BOT_TOKEN": wrong}
    assert (await run_check("mattermost", values, timeout=5)).ok
    values = {**values, "MATTERMOST_TOKEN": wrong, "MATTERMOST_BOT_TOKEN": mattermost_peer.token}
    result = await run_check("mattermost", values, timeout=5)
    assert not result.ok
    assert result.message.startswith("Mattermost rejected MATTERMOST_TOKEN (401 Unauthorized).")
    assert wrong not in result.message and mattermost_peer.token not in result.message


# -- Signal --------------------------------------------------------------------------------------


async def test_signal_check_finds_the_account_in_the_daemon(signal_peer):
    result = await run_check("signal", signal_env(signal_peer, []), timeout=5)
    assert result.ok, result.message
    assert result.message == f"signal-cli at {signal_peer.url} serves {ACCOUNT}."


async def test_signal_check_names_an_account_the_daemon_does_not_serve(signal_peer):
    values = {**signal_env(signal_peer, []), "SIGNAL_ACCOUNT": "+15559999999"}
    result = await run_check("signal", values, timeout=5)
    assert not result.ok
    assert result.message.startswith(
        f"signal-cli at {signal_peer.url} has no account SIGNAL_ACCOUNT +15559999999"
    )


async def test_signal_check_wants_a_phone_number_like_the_adapter(signal_peer):
    values = {**signal_env(signal_peer, []), "SIGNAL_ACCOUNT": "15550000000"}
    result = await run_check("signal", values, timeout=5)
    assert not result.ok
    assert result.message.startswith("SIGNAL_ACCOUNT must be the bot's phone number")


async def test_signal_check_says_how_to_start_a_daemon_that_is_not_running():
    values = {"SIGNAL_HTTP_URL": f"http://127.0.0.1:{_closed_port()}", "SIGNAL_ACCOUNT": ACCOUNT}
    result = await run_check("signal", values, timeout=5)
    assert not result.ok
    assert result.message.startswith("Could not reach http://127.0.0.1:")


# -- Matrix (a real Synapse) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def synapse_account():
    """(server, account): a user of its own, so that counting its devices means something."""
    try:
        server = shared_synapse()
    except SynapseUnavailable as exc:
        pytest.skip(str(exc))
    return server, server.register(f"setupcheck{secrets.token_hex(4)}")


def _devices(server, account) -> list[str]:
    headers = {"Authorization": f"Bearer {account.access_token}"}
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        answer = http.get(f"{server.url}/_matrix/client/v3/devices", headers=headers)
    return sorted(d["device_id"] for d in answer.raise_for_status().json()["devices"])


async def test_matrix_check_accepts_an_access_token(synapse_account):
    server, account = synapse_account
    values = {"MATRIX_HOMESERVER": server.url, "MATRIX_ACCESS_TOKEN": account.access_token}
    result = await run_check("matrix", values, timeout=10)
    assert result.ok, result.message
    assert result.message == f"{server.url} knows the bot as {account.user_id}."


async def test_matrix_check_names_a_rejected_access_token_without_it(synapse_account):
    server, _ = synapse_account
    wrong = "syt_WRONG_matrix_token_xyz"
    values = {"MATRIX_HOMESERVER": server.url, "MATRIX_ACCESS_TOKEN": wrong}
    result = await run_check("matrix", values, timeout=10)
    assert not result.ok
    assert result.message.startswith(
        "The homeserver rejected MATRIX_ACCESS_TOKEN (M_UNKNOWN_TOKEN)."
    )
    assert wrong not in result.message


async def test_matrix_check_says_whose_token_it_is(synapse_account):
    server, account = synapse_account
    values = {
        "MATRIX_HOMESERVER": server.url,
        "MATRIX_ACCESS_TOKEN": account.access_token,
        "MATRIX_USER_ID": "@alice:localhost",
    }
    result = await run_check("matrix", values, timeout=10)
    assert not result.ok
    assert result.message == (
        f"MATRIX_ACCESS_TOKEN belongs to {account.user_id}, not to MATRIX_USER_ID "
        "@alice:localhost: fix one of them."
    )


async def test_matrix_password_check_logs_in_and_leaves_no_device(synapse_account):
    server, account = synapse_account
    before = _devices(server, account)
    values = {
        "MATRIX_HOMESERVER": server.url,
        "MATRIX_USER_ID": account.user_id,
        "MATRIX_PASSWORD": account.password,
    }
    result = await run_check("matrix", values, timeout=10)
    assert result.ok, result.message
    assert result.message == f"Logged in to {server.url} as {account.user_id}."
    assert _devices(server, account) == before


async def test_matrix_check_names_a_rejected_password_without_it(synapse_account):
    server, account = synapse_account
    values = {
        "MATRIX_HOMESERVER": server.url,
        "MATRIX_USER_ID": account.user_id,
        "MATRIX_PASSWORD": "wrong horse battery",
    }
    result = await run_check("matrix", values, timeout=10)
    assert not result.ok
    assert result.message.startswith(
        "The homeserver rejected MATRIX_USER_ID / MATRIX_PASSWORD (M_FORBIDDEN)."
    )
    assert "wrong horse" not in result.message
