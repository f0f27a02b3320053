"""Online checks: do these credentials work? One short, bounded call per platform.

Each check takes the platform's settings in environment form (answers over the current
configuration, extras such as TELEGRAM_BASE_URL included) and returns a CheckResult whose
message is safe to print: it names the setting and the server, never a token or password
(exception texts are not shown, since some carry the request URL, and Telegram puts the
token in the URL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..agent.providers import PROVIDERS

TIMEOUT = 10.0  # seconds for one whole check: a wizard must not hang on a dead server
TELEGRAM_BASE_URL = "https://api.telegram.org/bot"
DISCORD_API_URL = "https://discord.com/api/v10"
SLACK_API_URL = "https://slack.com/api"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


Check = Callable[[Mapping[str, str], float], Awaitable[CheckResult]]


class _Failed(Exception):
    """A check's own failure message (already secret-free)."""


def _site(url: str) -> str:
    """scheme://host[:port] of a URL: enough to say where, nothing of its path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else url


async def _http(
    method: str, url: str, *, where: str, timeout: float, **kwargs: Any
) -> tuple[int, Any]:
    """(status, parsed JSON body or None); _Failed with a plain sentence when unreachable."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise _Failed(f"No answer from {_site(where)} within {timeout:g} s.") from None
    except httpx.HTTPError as exc:
        raise _Failed(f"Could not reach {_site(where)} ({_kind(exc)}).") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, body


def _kind(exc: Exception) -> str:
    # The class name says enough ("ConnectError") and, unlike str(exc), holds no URL.
    return type(exc).__name__


def _rejected(setting: str, service: str, status: int, hint: str) -> _Failed:
    reason = "401 Unauthorized" if status == 401 else f"HTTP {status}"
    return _Failed(f"{service} rejected {setting} ({reason}). {hint}")


async def check_telegram(values: Mapping[str, str], timeout: float) -> CheckResult:
    token = values.get("TELEGRAM_BOT_TOKEN", "")
    base = values.get("TELEGRAM_BASE_URL") or TELEGRAM_BASE_URL
    status, body = await _http("GET", f"{base}{token}/getMe", where=base, timeout=timeout)
    if status in (401, 404):
        raise _rejected("TELEGRAM_BOT_TOKEN", "Telegram", status, "Copy it again from @BotFather.")
    if status != 200 or not isinstance(body, dict) or not body.get("ok"):
        raise _Failed(f"Telegram answered HTTP {status} at {_site(base)}; try again later.")
    username = (body.get("result") or {}).get("username", "")
    return CheckResult(True, f"Telegram knows the bot as @{username}.")


async def check_discord(values: Mapping[str, str], timeout: float) -> CheckResult:
    base = (values.get("DISCORD_API_URL") or DISCORD_API_URL).rstrip("/")
    headers = {"Authorization": f"Bot {values.get('DISCORD_BOT_TOKEN', '')}"}
    status, body = await _http(
        "GET", f"{base}/users/@me", where=base, timeout=timeout, headers=headers
    )
    if status in (401, 403):
        raise _rejected(
            "DISCORD_BOT_TOKEN", "Discord", status, "Reset the token and copy it again."
        )
    if status != 200 or not isinstance(body, dict):
        raise _Failed(f"Discord answered HTTP {status} at {_site(base)}; try again later.")
    return CheckResult(True, f"Discord knows the bot as {body.get('username', '?')}.")


async def check_slack(values: Mapping[str, str], timeout: float) -> CheckResult:
    base = (values.get("SLACK_API_URL") or SLACK_API_URL).rstrip("/")
    bot = await _slack_call(base, "auth.test", values.get("SLACK_BOT_TOKEN", ""), timeout)
    if not bot.get("ok"):
        raise _Failed(f"Slack rejected SLACK_BOT_TOKEN ({bot.get('error', 'not ok')}).")
    app = await _slack_call(
        base, "apps.connections.open", values.get("SLACK_APP_TOKEN", ""), timeout
    )
    if not app.get("ok"):
        raise _Failed(
            f"Slack rejected SLACK_APP_TOKEN ({app.get('error', 'not ok')}): it needs the "
            "connections:write scope, and Socket Mode must be on."
        )
    return CheckResult(True, f"Slack: the bot is {bot.get('user', '?')} in {bot.get('team', '?')}.")


async def _slack_call(base: str, method: str, token: str, timeout: float) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    status, body = await _http(
        "POST", f"{base}/{method}", where=base, timeout=timeout, headers=headers
    )
    if status != 200 or not isinstance(body, dict):
        raise _Failed(f"Slack answered HTTP {status} to {method}; try again later.")
    return body


async def check_mattermost(values: Mapping[str, str], timeout: float) -> CheckResult:
    base = values.get("MATTERMOST_URL", "").rstrip("/")
    headers = {"Authorization": f"Bearer {values.get('MATTERMOST_TOKEN', '')}"}
    status, body = await _http(
        "GET", f"{base}/api/v4/users/me", where=base, timeout=timeout, headers=headers
    )
    if status in (401, 403):
        raise _rejected("MATTERMOST_TOKEN", "Mattermost", status, "Create a new bot token.")
    if status != 200 or not isinstance(body, dict):
        raise _Failed(f"Mattermost answered HTTP {status} at {_site(base)}: is the URL right?")
    return CheckResult(True, f"Mattermost knows the bot as @{body.get('username', '?')}.")


async def check_matrix(values: Mapping[str, str], timeout: float) -> CheckResult:
    base = values.get("MATRIX_HOMESERVER", "").rstrip("/")
    api = f"{base}/_matrix/client/v3"
    token = values.get("MATRIX_ACCESS_TOKEN", "")
    setting = "MATRIX_ACCESS_TOKEN"
    if not token:  # password login: log in, then log that new device out again
        setting = "MATRIX_PASSWORD"
        login = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": values.get("MATRIX_USER_ID", "")},
            "password": values.get("MATRIX_PASSWORD", ""),
            "initial_device_display_name": "hermes gateway setup check",
        }
        status, body = await _http("POST", f"{api}/login", where=base, timeout=timeout, json=login)
        if status in (401, 403):
            raise _rejected(setting, "The homeserver", status, "Check MATRIX_USER_ID and it.")
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise _Failed(f"The homeserver answered HTTP {status} at {_site(base)}: is it Matrix?")
        token = body["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    status, body = await _http(
        "GET", f"{api}/account/whoami", where=base, timeout=timeout, headers=headers
    )
    if setting == "MATRIX_PASSWORD":
        await _http("POST", f"{api}/logout", where=base, timeout=timeout, headers=headers)
    if status in (401, 403):
        raise _rejected(setting, "The homeserver", status, "Create a new access token.")
    if status != 200 or not isinstance(body, dict):
        raise _Failed(f"The homeserver answered HTTP {status} at {_site(base)}: is it Matrix?")
    return CheckResult(True, f"The homeserver knows the bot as {body.get('user_id', '?')}.")


async def check_signal(values: Mapping[str, str], timeout: float) -> CheckResult:
    base = values.get("SIGNAL_HTTP_URL", "").rstrip("/")
    status, _ = await _http("GET", f"{base}/api/v1/check", where=base, timeout=timeout)
    if status != 200:
        raise _Failed(
            f"signal-cli answered HTTP {status} at {_site(base)}: start it with "
            "`signal-cli -a <number> daemon --http 127.0.0.1:8080`."
        )
    return CheckResult(True, f"signal-cli is running at {_site(base)}.")


async def check_email(values: Mapping[str, str], timeout: float) -> CheckResult:
    from aioimaplib import IMAP4, IMAP4_SSL

    host = values.get("EMAIL_IMAP_HOST", "")
    port = int(values.get("EMAIL_IMAP_PORT") or 993)
    # Like the adapter: TLS unless EMAIL_IMAP_SSL says otherwise (STARTTLS is not offered).
    tls = (values.get("EMAIL_IMAP_SSL") or "true").strip().lower()
    where = f"{host}:{port}"
    client = (
        IMAP4_SSL(host, port, timeout=timeout)
        if tls in ("true", "1", "yes", "on")
        else IMAP4(host, port, timeout=timeout)
    )
    try:
        await client.wait_hello_from_server()
    except (TimeoutError, OSError) as exc:
        raise _Failed(f"Could not reach the IMAP server {where} ({_kind(exc)}).") from None
    try:
        response = await client.login(
            values.get("EMAIL_ADDRESS", ""), values.get("EMAIL_PASSWORD", "")
        )
        if response.result != "OK":
            raise _Failed(
                f"The IMAP server {where} rejected EMAIL_ADDRESS / EMAIL_PASSWORD. "
                "Many providers need an app password."
            )
        await client.logout()
    except (TimeoutError, OSError) as exc:
        raise _Failed(f"The IMAP server {where} stopped answering ({_kind(exc)}).") from None
    finally:
        _close(client)
    return CheckResult(True, f"Logged in to {where} as {values.get('EMAIL_ADDRESS', '')}.")


def _close(client: Any) -> None:
    transport = getattr(getattr(client, "protocol", None), "transport", None)
    if transport is not None:
        transport.close()


async def check_model(values: Mapping[str, str], timeout: float) -> CheckResult:
    """GET <base_url>/models with the key: the endpoint answers and accepts the key."""
    provider = values.get("provider", "")
    spec = PROVIDERS[provider]
    base = (values.get("base_url") or spec.base_url).rstrip("/")
    key = values.get("api_key", "")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if provider == "anthropic":
        headers.update({"x-api-key": key, "anthropic-version": "2023-06-01"})
    status, _ = await _http("GET", f"{base}/models", where=base, timeout=timeout, headers=headers)
    setting = spec.env_key or "the API key"
    if status in (401, 403):
        raise _rejected(setting, spec.label, status, "Check the key on the provider's site.")
    if status != 200:
        raise _Failed(f"{spec.label} answered HTTP {status} at {_site(base)}/models.")
    return CheckResult(True, f"{spec.label} answered at {_site(base)} and accepted the key.")


CHECKS: dict[str, Check] = {
    "telegram": check_telegram,
    "discord": check_discord,
    "slack": check_slack,
    "mattermost": check_mattermost,
    "matrix": check_matrix,
    "signal": check_signal,
    "email": check_email,
    "model": check_model,
}


async def run_check(name: str, values: Mapping[str, str], timeout: float = TIMEOUT) -> CheckResult:
    """Run one check with an overall deadline; never raises for a failed check."""
    try:
        return await asyncio.wait_for(CHECKS[name](values, timeout), timeout + 1)
    except _Failed as exc:
        return CheckResult(False, str(exc))
    except TimeoutError:
        return CheckResult(False, f"No answer within {timeout:g} s.")
