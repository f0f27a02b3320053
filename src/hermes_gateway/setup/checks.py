"""Online checks: do these credentials work? One short, bounded call per platform.

Each check takes the platform's settings in environment form (answers over the current
configuration, extras such as DISCORD_API_BASE included), reads them with the adapter's own
options parser (so it checks the server and the names the gateway will use), makes the call the
adapter makes when it connects, and returns a CheckResult whose message is safe to print: it
names the setting and the server, never a token or password (exception texts are not shown,
since some carry the request URL, and Telegram puts the token in the URL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..agent.providers import PROVIDERS
from ..config.envmap import env_overrides
from ..config.schema import PlatformSettings
from ..platforms.discord import options_from_settings as discord_options
from ..platforms.email import options_from_settings as email_options
from ..platforms.matrix import options_from_settings as matrix_options
from ..platforms.mattermost import options_from_settings as mattermost_options
from ..platforms.signal import options_from_settings as signal_options
from ..platforms.slack import AUTH_ERRORS as SLACK_AUTH_ERRORS
from ..platforms.slack import options_from_settings as slack_options
from ..platforms.telegram import options_from_settings as telegram_options

TIMEOUT = 10.0  # seconds for one whole check: a wizard must not hang on a dead server
# JSON-RPC 2.0's "method not found": signal-cli's single-account daemon has no listAccounts.
RPC_METHOD_NOT_FOUND = -32601

Options = TypeVar("Options")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


Check = Callable[[Mapping[str, str], float], Awaitable[CheckResult]]


class _Failed(Exception):
    """A check's own failure message (already secret-free)."""


def _options(
    parse: Callable[[PlatformSettings], Options],
    platform: str,
    values: Mapping[str, str],
    token_env: str = "",
) -> Options:
    """The adapter's options from these variables, mapped as the engine maps the environment.

    The token comes from the one variable the wizard asks for (`token_env`): the current
    configuration is also given as <PREFIX>_BOT_TOKEN, which would win over a new
    MATTERMOST_TOKEN answer in the engine's mapping."""
    extra_key = f"platforms.{platform}.extra."
    extra = {
        key[len(extra_key) :]: value
        for key, (value, _) in env_overrides(values).items()
        if key.startswith(extra_key)
    }
    token = values.get(token_env, "").strip() if token_env else ""
    settings = PlatformSettings(name=platform, enabled=True, token=token, extra=extra)
    try:
        return parse(settings)
    except ValueError as exc:  # names the setting; shows URLs and ids, never a secret
        raise _Failed(str(exc)) from None


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


def _rejected(setting: str, service: str, status: int | str, hint: str) -> _Failed:
    reason = "401 Unauthorized" if status == 401 else status
    reason = f"HTTP {reason}" if isinstance(reason, int) else reason
    return _Failed(f"{service} rejected {setting} ({reason}). {hint}")


async def check_telegram(values: Mapping[str, str], timeout: float) -> CheckResult:
    """getMe, as python-telegram-bot's Bot.initialize() does."""
    options = _options(telegram_options, "telegram", values, "TELEGRAM_BOT_TOKEN")
    base = options.base_url
    status, body = await _http("GET", f"{base}{options.token}/getMe", where=base, timeout=timeout)
    if status in (401, 404):
        raise _rejected("TELEGRAM_BOT_TOKEN", "Telegram", status, "Copy it again from @BotFather.")
    if status != 200 or not isinstance(body, dict) or not body.get("ok"):
        raise _Failed(f"Telegram answered HTTP {status} at {_site(base)}; try again later.")
    username = (body.get("result") or {}).get("username", "")
    return CheckResult(True, f"Telegram knows the bot as @{username}.")


async def check_discord(values: Mapping[str, str], timeout: float) -> CheckResult:
    """GET /users/@me with the bot token: discord.py's login makes this call."""
    options = _options(discord_options, "discord", values, "DISCORD_BOT_TOKEN")
    base = options.api_base
    headers = {"Authorization": f"Bot {options.token}"}
    status, body = await _http(
        "GET", f"{base}/users/@me", where=base, timeout=timeout, headers=headers
    )
    if status in (401, 403):
        raise _rejected(
            "DISCORD_BOT_TOKEN",
            "Discord",
            status,
            "Reset the token (your app → Bot → Reset Token) and copy it again.",
        )
    if status != 200 or not isinstance(body, dict):
        raise _Failed(f"Discord answered HTTP {status} at {_site(base)}; try again later.")
    return CheckResult(True, f"Discord knows the bot as {body.get('username', '?')}.")


async def check_slack(values: Mapping[str, str], timeout: float) -> CheckResult:
    """auth.test with the bot token and apps.connections.open with the app-level token: the
    adapter's two calls when it connects (the second opens no websocket here)."""
    options = _options(slack_options, "slack", values, "SLACK_BOT_TOKEN")
    base = options.api_url.rstrip("/")
    bot = await _slack_call(base, "auth.test", options.bot_token, timeout)
    if not bot.get("ok"):
        raise _slack_refusal(
            "SLACK_BOT_TOKEN",
            "auth.test",
            bot,
            "Copy the Bot User OAuth Token (xoxb-…) again from your app's OAuth & Permissions "
            "page at https://api.slack.com/apps.",
        )
    app = await _slack_call(base, "apps.connections.open", options.app_token, timeout)
    if not app.get("ok"):
        raise _slack_refusal(
            "SLACK_APP_TOKEN",
            "apps.connections.open",
            app,
            "It must be an app-level token (xapp-…) with the connections:write scope, and "
            "Socket Mode must be on.",
        )
    return CheckResult(True, f"Slack: the bot is {bot.get('user', '?')} in {bot.get('team', '?')}.")


def _slack_refusal(setting: str, method: str, body: dict, hint: str) -> _Failed:
    error = str(body.get("error") or "not ok")
    if error in SLACK_AUTH_ERRORS or error == "not_allowed_token_type":
        return _rejected(setting, "Slack", error, hint)
    return _Failed(f"Slack answered {method} with {error}; try again later.")


async def _slack_call(base: str, method: str, token: str, timeout: float) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    status, body = await _http(
        "POST", f"{base}/{method}", where=base, timeout=timeout, headers=headers
    )
    if status != 200 or not isinstance(body, dict):
        raise _Failed(f"Slack answered HTTP {status} to {method}; try again later.")
    return body


async def check_mattermost(values: Mapping[str, str], timeout: float) -> CheckResult:
    """GET /api/v4/users/me with the token, the adapter's first call."""
    options = _options(mattermost_options, "mattermost", values, "MATTERMOST_TOKEN")
    headers = {"Authorization": f"Bearer {options.token}"}
    status, body = await _http(
        "GET", f"{options.api}/users/me", where=options.url, timeout=timeout, headers=headers
    )
    if status in (401, 403):
        raise _rejected(
            "MATTERMOST_TOKEN",
            "Mattermost",
            status,
            "Create a new bot token (System Console > Integrations > Bot Accounts).",
        )
    if status != 200 or not isinstance(body, dict):
        raise _Failed(
            f"Mattermost answered HTTP {status} at {_site(options.url)}: is MATTERMOST_URL right?"
        )
    return CheckResult(True, f"Mattermost knows the bot as @{body.get('username', '?')}.")


async def check_matrix(values: Mapping[str, str], timeout: float) -> CheckResult:
    """/account/whoami with an access token; with a password, /login (then /logout, so the
    check leaves no device behind). The adapter's login.py makes the same calls through nio."""
    options = _options(matrix_options, "matrix", values, "MATRIX_TOKEN")
    base = options.homeserver
    api = f"{base}/_matrix/client/v3"
    if not options.access_token:
        user_id = await _matrix_password_login(api, options, timeout)
        return CheckResult(True, f"Logged in to {_site(base)} as {user_id}.")
    headers = {"Authorization": f"Bearer {options.access_token}"}
    status, body = await _http(
        "GET", f"{api}/account/whoami", where=base, timeout=timeout, headers=headers
    )
    if status in (401, 403):
        raise _rejected(
            "MATRIX_ACCESS_TOKEN",
            "The homeserver",
            _errcode(body, status),
            "Create a new one (Element: Settings > Help & About > Access Token), or log in "
            "with MATRIX_USER_ID and MATRIX_PASSWORD instead.",
        )
    if status != 200 or not isinstance(body, dict) or "user_id" not in body:
        raise _Failed(f"{_site(base)} answered HTTP {status}: is MATRIX_HOMESERVER right?")
    user_id = body["user_id"]
    if options.user_id and user_id != options.user_id:
        raise _Failed(
            f"MATRIX_ACCESS_TOKEN belongs to {user_id}, not to MATRIX_USER_ID "
            f"{options.user_id}: fix one of them."
        )
    return CheckResult(True, f"{_site(base)} knows the bot as {user_id}.")


async def _matrix_password_login(api: str, options: Any, timeout: float) -> str:
    base = options.homeserver
    login = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": options.user_id},
        "password": options.password,
        "initial_device_display_name": "hermes gateway setup check",
    }
    status, body = await _http("POST", f"{api}/login", where=base, timeout=timeout, json=login)
    if status in (401, 403):
        raise _rejected(
            "MATRIX_USER_ID / MATRIX_PASSWORD",
            "The homeserver",
            _errcode(body, status),
            "Check both (the password is the bot account's own).",
        )
    if status != 200 or not isinstance(body, dict) or "access_token" not in body:
        raise _Failed(f"{_site(base)} answered HTTP {status}: is MATRIX_HOMESERVER right?")
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    await _http("POST", f"{api}/logout", where=base, timeout=timeout, headers=headers)
    return str(body.get("user_id") or options.user_id)


def _errcode(body: Any, status: int) -> str | int:
    """Matrix's error code (M_FORBIDDEN, M_UNKNOWN_TOKEN), else the HTTP status."""
    code = body.get("errcode") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code else status


async def check_signal(values: Mapping[str, str], timeout: float) -> CheckResult:
    """GET /api/v1/check, then listAccounts: the adapter's checks when it connects (a
    single-account daemon has no listAccounts and serves the number it was started with)."""
    options = _options(signal_options, "signal", values)
    base, account = options.http_url, options.account
    status, _ = await _http("GET", f"{base}/api/v1/check", where=base, timeout=timeout)
    if status != 200:
        raise _Failed(
            f"signal-cli answered HTTP {status} at {_site(base)}: start it with "
            f"`signal-cli -a {account} daemon --http 127.0.0.1:8080`."
        )
    call = {"jsonrpc": "2.0", "method": "listAccounts", "id": 1, "params": {}}
    status, body = await _http("POST", f"{base}/api/v1/rpc", where=base, timeout=timeout, json=call)
    if status != 200 or not isinstance(body, dict):
        raise _Failed(f"signal-cli answered HTTP {status} to listAccounts at {_site(base)}.")
    error = body.get("error")
    if isinstance(error, dict) and error.get("code") == RPC_METHOD_NOT_FOUND:
        return CheckResult(True, f"signal-cli is running at {_site(base)}.")
    result = body.get("result")
    if error or not isinstance(result, list):
        raise _Failed(f"signal-cli gave no account list at {_site(base)}; try again later.")
    if account not in {item.get("number") for item in result if isinstance(item, dict)}:
        raise _Failed(
            f"signal-cli at {_site(base)} has no account SIGNAL_ACCOUNT {account}: register or "
            "link it (`signal-cli -a ACCOUNT register` / `signal-cli link`), or fix the number."
        )
    return CheckResult(True, f"signal-cli at {_site(base)} serves {account}.")


async def check_email(values: Mapping[str, str], timeout: float) -> CheckResult:
    """IMAP LOGIN and LOGOUT with the adapter's server, TLS choice and login name."""
    from aioimaplib import IMAP4, IMAP4_SSL

    options = _options(email_options, "email", values)
    host, port, where = options.imap_host, options.imap_port, options.imap
    # Like the adapter: TLS unless EMAIL_IMAP_SSL says otherwise (STARTTLS is not offered).
    if options.imap_ssl:
        client = IMAP4_SSL(host, port, timeout=timeout)
    else:
        client = IMAP4(host, port, timeout=timeout)
    try:
        await client.wait_hello_from_server()
    except (TimeoutError, OSError) as exc:
        raise _Failed(f"Could not reach the IMAP server {where} ({_kind(exc)}).") from None
    login = "EMAIL_USERNAME" if values.get("EMAIL_USERNAME") else "EMAIL_ADDRESS"
    try:
        response = await client.login(options.username, options.password)
        if response.result != "OK":
            raise _Failed(
                f"The IMAP server {where} rejected {login} / EMAIL_PASSWORD. "
                "Many providers need an app password."
            )
        await client.logout()
    except (TimeoutError, OSError) as exc:
        raise _Failed(f"The IMAP server {where} stopped answering ({_kind(exc)}).") from None
    finally:
        _close(client)
    return CheckResult(True, f"Logged in to {where} as {options.username}.")


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
