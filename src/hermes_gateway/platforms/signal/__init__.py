"""Signal through signal-cli's daemon in HTTP mode (`signal-cli -a +… daemon --http HOST:PORT`):
Server-Sent Events from GET /api/v1/events to receive, JSON-RPC 2.0 on POST /api/v1/rpc to send.

    adapter.py   the Adapter: connect / disconnect / send / typing, reactions, attachments
    rpc.py       the JSON-RPC calls and their errors
    events.py    the SSE stream: parsing, Last-Event-ID, reconnect with backoff
    convert.py   envelopes -> InboundMessage (groups, mentions, quotes, attachments)

This module holds the adapter's options, read from `PlatformSettings.extra`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hermes_gateway.platforms.extra import ExtraReader

# Signal sends a longer text as an attachment ("long message"): keep replies under it.
MAX_MESSAGE_LENGTH = 2000
GROUP_PREFIX = "group:"  # chat ids of groups; a DM's chat id is the user's number or uuid
_PHONE = re.compile(r"\+[1-9]\d{6,14}")


def not_registered(account: str, url: str, detail: str = "") -> str:
    why = f" ({detail})" if detail else ""
    return (
        f"SIGNAL_ACCOUNT {account} is not registered with signal-cli at {url}{why}. Register or "
        "link it (`signal-cli -a ACCOUNT register` / `signal-cli link`), or fix SIGNAL_ACCOUNT, "
        "then restart the gateway."
    )


@dataclass(frozen=True)
class SignalOptions:
    http_url: str  # signal-cli's HTTP daemon, e.g. http://127.0.0.1:8080
    account: str  # the bot's number, +4915…
    require_mention: bool = True
    processing_reaction: bool = True
    # Where signal-cli stores received attachments (its data dir's attachments/); empty: fetch
    # them with the getAttachment call, which also works when signal-cli runs elsewhere.
    attachments_dir: str = ""
    max_file_mb: float = 100.0
    # Signal rate-limits new and busy senders; these keep us well inside it.
    per_chat_rate: float = 1.0
    global_rate: float = 5.0

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def options_from_settings(settings: Any) -> SignalOptions:
    """Options from a PlatformSettings; ValueError with a one-line message naming the setting."""
    read = ExtraReader("signal", getattr(settings, "extra", None))
    url = read.url("http_url")
    if not url:
        raise ValueError(
            "SIGNAL_HTTP_URL is not set: run `signal-cli -a +… daemon --http 127.0.0.1:8080` and "
            "put SIGNAL_HTTP_URL=http://127.0.0.1:8080 in ~/.hermes/.env, then restart."
        )
    account = read.text("account").replace(" ", "")
    if not _PHONE.fullmatch(account):
        shown = f", not {account!r}" if account else " (it is not set)"
        raise ValueError(
            "SIGNAL_ACCOUNT must be the bot's phone number in international format, e.g. "
            f"+4915112345678{shown}"
        )
    return SignalOptions(
        http_url=url,
        account=account,
        require_mention=read.flag("require_mention", True),
        processing_reaction=read.flag("processing_reaction", True),
        attachments_dir=read.text("attachments_dir"),
        max_file_mb=read.number("max_file_mb", 100.0),
        per_chat_rate=read.number("per_chat_rate", 1.0),
        global_rate=read.number("global_rate", 5.0),
    )
