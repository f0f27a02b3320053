"""Logging in: an access token is checked with /whoami, a password logs in on the device the
last run used (kept in the state file) so the bot's account does not fill up with devices.
Refused credentials raise MatrixAuthError with a message that names the setting and never
contains the secret; anything else (5xx, network) is worth retrying."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nio import AsyncClient, LoginResponse, WhoamiResponse

from hermes_gateway.core.types import SendResult

from . import MatrixOptions, login_rejected, token_rejected
from .convert import BotIdentity
from .state import StateFile
from .sync import SyncFailed

_REJECTED = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN", "M_USER_DEACTIVATED")


class MatrixAuthError(RuntimeError):
    """The homeserver refused our credentials; the message never contains them."""


async def log_in(client: AsyncClient, options: MatrixOptions, folder: Path) -> BotIdentity:
    """Who we are once logged in (user id and display name, for mentions)."""
    hs = options.homeserver
    if options.access_token:
        client.access_token = options.access_token
        answer = await client.whoami()
        if not isinstance(answer, WhoamiResponse):
            raise _rejection(answer, token_rejected(hs, error_code(answer)))
        if options.user_id and answer.user_id != options.user_id:
            raise MatrixAuthError(
                f"MATRIX_ACCESS_TOKEN belongs to {answer.user_id}, not to MATRIX_USER_ID "
                f"{options.user_id}: fix one of them, then restart the gateway."
            )
        client.restore_login(answer.user_id, answer.device_id or "", options.access_token)
    else:
        client.device_id = StateFile(folder, hs, options.user_id).load().device_id or None
        answer = await client.login(options.password, options.device_name)
        if not isinstance(answer, LoginResponse):
            raise _rejection(answer, login_rejected(hs, options.user_id, error_code(answer)))
    name = await client.get_displayname(client.user_id)
    display = getattr(name, "displayname", None)
    return BotIdentity(client.user_id, display if isinstance(display, str) else "")


def _rejection(answer: Any, reason: str) -> Exception:
    if error_code(answer) in _REJECTED:
        return MatrixAuthError(reason)
    return SyncFailed(f"{error_code(answer)} from the homeserver: {getattr(answer, 'message', '')}")


def error_code(answer: Any) -> str:
    return str(getattr(answer, "status_code", "") or "error")


def result_from_error(answer: Any) -> SendResult:
    """A refused room_send as a SendResult the delivery layer can act on."""
    code = error_code(answer)
    error = f"{code}: {getattr(answer, 'message', '')}"
    if code == "M_LIMIT_EXCEEDED":
        retry_ms = getattr(answer, "retry_after_ms", None) or 1000
        return SendResult(ok=False, error=error, retry_after=retry_ms / 1000)
    if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
        return SendResult(ok=False, error=error, retryable=False, kind="auth")
    if code in ("M_FORBIDDEN", "M_NOT_FOUND"):  # not in that room, or it is gone
        return SendResult(ok=False, error=error, retryable=False, kind="not_found")
    if code == "M_TOO_LARGE":
        return SendResult(ok=False, error=error, retryable=False, kind="too_long")
    return SendResult(ok=False, error=error, retryable=False)
