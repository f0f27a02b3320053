"""Matrix through matrix-nio's AsyncClient, against any homeserver (Synapse, Dendrite, Conduit).

    adapter.py   the Adapter: connect / disconnect / send / edit / typing, invites, reactions
    login.py     access token or password login, and refusals as clear errors
    sync.py      the /sync loop: since-token persisted after delivery, gap fill, invites,
                 reconnect with backoff
    convert.py   room events -> InboundMessage (DM or group, mentions, threads, replies)
    content.py   our replies -> m.room.message content (body + HTML, threads, edits, files)
    media.py     the media repository: bounded downloads, uploads
    files.py     files both ways: inbound media into HERMES_HOME/cache/matrix, attachments out
    dimensions.py  an image's width and height, for m.image's info
    state.py     what survives a restart: the sync token and the device id

This module holds the adapter's options, read from `PlatformSettings` (extra + token).
End-to-end encrypted rooms are not supported (the bot cannot read them; it says so in the log).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hermes_gateway.platforms.extra import ExtraReader

# Events are limited to 64 KiB; a reply carries its text twice (body and formatted_body), so
# 16000 characters leave room for the HTML markup and multi-byte characters.
MAX_LENGTH = 16000
AUTO_JOIN = ("dm", "allowed", "off")


def token_rejected(homeserver: str, code: str) -> str:
    return (
        f"MATRIX_ACCESS_TOKEN was rejected by {homeserver} ({code}). Create a new one (log in "
        "as the bot in Element: Settings > Help & About > Access Token, or use "
        "MATRIX_USER_ID + MATRIX_PASSWORD instead), then restart the gateway."
    )


def login_rejected(homeserver: str, user_id: str, code: str) -> str:
    return (
        f"MATRIX_PASSWORD for {user_id} was rejected by {homeserver} ({code}). Check "
        "MATRIX_USER_ID and MATRIX_PASSWORD in ~/.hermes/.env, then restart the gateway."
    )


@dataclass(frozen=True)
class MatrixOptions:
    homeserver: str  # e.g. https://matrix.example.org (the client-server API's base)
    access_token: str = ""
    user_id: str = ""  # @bot:example.org; needed with a password, checked against a token
    password: str = ""
    device_name: str = "Hermes Gateway"
    home_room: str = ""  # a room id (!abc:example.org) or alias (#ops:example.org)
    require_mention: bool = True
    # Which invites the bot accepts: "dm" = direct chats from anyone (so that strangers can ask
    # for pairing) and group rooms from allowed users; "allowed" = only from allowed users;
    # "off" = none (join by hand).
    auto_join: str = "dm"
    processing_reaction: bool = True
    sync_timeout: float = 30.0  # seconds the server may hold a /sync open
    stall_grace: float = 15.0  # a /sync silent this much longer than that is dead
    timeline_limit: int = 50  # events per room per /sync; older ones are paged in
    # Synapse's default rc_message allows 0.2 messages a second with bursts of 10 per user;
    # ask the server admin to exempt the bot (429s are honoured either way).
    per_chat_rate: float = 1.0
    global_rate: float = 10.0
    max_file_mb: float = 25.0  # inbound files past this are not downloaded (a note says so)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def __repr__(self) -> str:  # never show the token or the password
        return f"MatrixOptions(homeserver={self.homeserver!r}, user_id={self.user_id!r})"


def options_from_settings(settings: Any) -> MatrixOptions:
    """Options from a PlatformSettings; ValueError with a one-line message naming the setting."""
    read = ExtraReader("matrix", getattr(settings, "extra", None))
    homeserver = read.url("homeserver")
    if not homeserver:
        raise ValueError(
            "MATRIX_HOMESERVER is not set: put the bot's homeserver address (e.g. "
            "https://matrix.example.org) in ~/.hermes/.env, then restart the gateway."
        )
    token = read.text("access_token") or (getattr(settings, "token", "") or "").strip()
    user_id = read.text("user_id")
    password = read.text("password")
    if not token and not (user_id and password):
        raise ValueError(
            "Matrix needs MATRIX_ACCESS_TOKEN, or MATRIX_USER_ID and MATRIX_PASSWORD, in "
            "~/.hermes/.env; then restart the gateway."
        )
    if user_id and not (user_id.startswith("@") and ":" in user_id):
        raise ValueError(f"{read.name('user_id')} must look like @bot:example.org, not {user_id!r}")
    auto_join = read.text("auto_join", "dm").lower()
    if auto_join not in AUTO_JOIN:
        raise ValueError(f"{read.name('auto_join')} must be dm, allowed or off, not {auto_join!r}")
    home = read.text("home_room") or (getattr(settings, "home_channel", "") or "").strip()
    return MatrixOptions(
        homeserver=homeserver,
        access_token=token,
        user_id=user_id,
        password=password,
        device_name=read.text("device_name", "Hermes Gateway"),
        home_room=home,
        require_mention=read.flag("require_mention", True),
        auto_join=auto_join,
        processing_reaction=read.flag("processing_reaction", True),
        sync_timeout=read.number("sync_timeout", 30.0, low=0.0),
        stall_grace=read.number("stall_grace", 15.0, low=0.1),
        timeline_limit=int(read.number("timeline_limit", 50, low=1)),
        per_chat_rate=read.number("per_chat_rate", 1.0),
        global_rate=read.number("global_rate", 10.0),
        max_file_mb=read.number("max_file_mb", 25.0),
    )
