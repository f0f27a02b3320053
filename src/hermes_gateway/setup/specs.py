"""What each platform needs, as one declarative table the wizard walks through.

A `Field` is one environment variable (`<PREFIX>_*`, see config.envmap): its question, its
offline validator and its role (login, access, home). A `PlatformSpec` lists a platform's
fields in the order they are asked, the alternative ways of logging in (Matrix: a token, or
a user and password), and the name of its online check (setup.checks).

Adding a platform to the wizard is one entry in SPECS; nothing else branches on its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..core.types import Platform
from . import validators as v


class Role(StrEnum):
    LOGIN = "login"  # credentials and endpoints: without them the adapter cannot connect
    ACCESS = "access"  # who may talk to the agent (optional: pairing covers the rest)
    HOME = "home"  # where cron results and notifications go (optional)


Suggest = Callable[[Mapping[str, str]], str]


@dataclass(frozen=True)
class Field:
    env: str
    label: str
    validate: v.Validator
    role: Role = Role.LOGIN
    secret: bool = False
    default: str = ""  # offered when nothing is configured yet
    suggest: Suggest | None = None  # a default computed from earlier answers
    help: str = ""  # one line under the question: where to find the value
    is_list: bool = False  # comma-separated ids (a YAML list when config.yaml holds it)

    @property
    def required(self) -> bool:
        return self.role is Role.LOGIN

    def check(self, value: str) -> str | None:
        """None when `value` is acceptable; else one line naming the variable.

        An empty optional answer is fine (it means "none"); an empty required one is not."""
        value = value.strip()
        if not value:
            return f"{self.env} is required" if self.required else None
        return self.validate(self.env, value)

    def default_for(self, answers: Mapping[str, str]) -> str:
        if self.suggest is not None:
            return self.suggest(answers) or self.default
        return self.default


@dataclass(frozen=True)
class Login:
    """One way of logging in; choosing it removes the variables of the others (`clears`)."""

    label: str
    fields: tuple[Field, ...]
    clears: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlatformSpec:
    platform: Platform
    label: str
    intro: tuple[str, ...]  # how to create the bot or account, shown before the questions
    fields: tuple[Field, ...]
    logins: tuple[Login, ...] = ()
    check: str = ""  # the online check's name in setup.checks.CHECKS ("" = none)
    check_label: str = ""  # what the check does, for the question ("call getMe")

    @property
    def name(self) -> str:
        return self.platform.value

    def role(self, role: Role) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.role is role)

    def all_fields(self) -> tuple[Field, ...]:
        login_fields = tuple(f for login in self.logins for f in login.fields)
        return self.role(Role.LOGIN) + login_fields + self.role(Role.ACCESS) + self.role(Role.HOME)

    def field(self, env: str) -> Field:
        for item in self.all_fields():
            if item.env == env:
                return item
        raise KeyError(env)


def _domain_host(service: str) -> Suggest:
    """imap.example.com from EMAIL_ADDRESS=me@example.com: right for most providers."""

    def suggest(answers: Mapping[str, str]) -> str:
        address = answers.get("EMAIL_ADDRESS", "")
        return f"{service}.{address.rpartition('@')[2]}" if "@" in address else ""

    return suggest


_NUMERIC_IDS = v.id_list("numeric")
_PAIRING = "Leave empty to use DM pairing instead."

SPECS: tuple[PlatformSpec, ...] = (
    PlatformSpec(
        Platform.TELEGRAM,
        "Telegram",
        (
            "Open Telegram, message @BotFather, send /newbot and follow the steps.",
            "It answers with the bot's token (123456789:AAE…).",
        ),
        (
            Field("TELEGRAM_BOT_TOKEN", "Bot token", v.telegram_token, secret=True,
                  help="The token @BotFather gave you."),
            Field("TELEGRAM_ALLOWED_USERS", "Allowed user IDs", _NUMERIC_IDS, Role.ACCESS,
                  is_list=True, help=f"Numeric IDs, comma-separated (@userinfobot shows yours). "
                  f"{_PAIRING}"),
            Field("TELEGRAM_HOME_CHANNEL", "Home chat ID", v.numeric_id, Role.HOME,
                  help="Where cron results go; or send /sethome in that chat later."),
        ),
        check="telegram",
        check_label="ask Telegram who the bot is with getMe",
    ),
    PlatformSpec(
        Platform.DISCORD,
        "Discord",
        (
            "discord.com/developers/applications → New Application → Bot → Reset Token.",
            "On the same page turn on the Message Content intent, then invite the bot "
            "(OAuth2 → URL Generator, scope bot).",
        ),
        (
            Field("DISCORD_BOT_TOKEN", "Bot token", v.discord_token, secret=True,
                  help="Bot → Reset Token in the developer portal."),
            Field("DISCORD_ALLOWED_USERS", "Allowed user IDs", _NUMERIC_IDS, Role.ACCESS,
                  is_list=True, help="Settings → Advanced → Developer Mode, then right-click a "
                  f"user → Copy User ID. {_PAIRING}"),
            Field("DISCORD_ALLOWED_ROLES", "Allowed role IDs", _NUMERIC_IDS, Role.ACCESS,
                  is_list=True, help="Members with any of these roles may talk to the agent."),
            Field("DISCORD_HOME_CHANNEL", "Home channel ID", v.numeric_id, Role.HOME,
                  help="Right-click the channel → Copy Channel ID."),
        ),
        check="discord",
        check_label="ask Discord who the bot is",
    ),
    PlatformSpec(
        Platform.SLACK,
        "Slack",
        (
            "api.slack.com/apps → Create New App; turn on Socket Mode; add the bot scopes",
            "app_mentions:read, chat:write, im:history, channels:history; install the app.",
            "Basic Information → App-Level Tokens: add one with connections:write.",
        ),
        (
            Field("SLACK_BOT_TOKEN", "Bot token (xoxb-…)", v.prefixed("xoxb-", "bot token"),
                  secret=True, help="OAuth & Permissions → Bot User OAuth Token."),
            Field("SLACK_APP_TOKEN", "App-level token (xapp-…)", v.prefixed("xapp-", "app-level "
                  "token"), secret=True, help="Basic Information → App-Level Tokens."),
            Field("SLACK_ALLOWED_USERS", "Allowed member IDs", v.id_list("slack"), Role.ACCESS,
                  is_list=True, help=f"Profile → More → Copy member ID (U0123ABCD). {_PAIRING}"),
            Field("SLACK_HOME_CHANNEL", "Home channel ID", v.slack_channel, Role.HOME,
                  help="Channel details → the ID at the bottom (C0123ABCD)."),
        ),
        check="slack",
        check_label="call Slack's auth.test and open a Socket Mode connection",
    ),
    PlatformSpec(
        Platform.EMAIL,
        "Email",
        (
            "Use a mailbox for the agent alone: every mail that reaches it is read.",
            "With Gmail, iCloud or Fastmail create an app password for it.",
        ),
        (
            Field("EMAIL_ADDRESS", "E-mail address", v.email, help="The agent's own mailbox."),
            Field("EMAIL_PASSWORD", "Password", v.password, secret=True,
                  help="An app password where the provider offers them."),
            Field("EMAIL_IMAP_HOST", "IMAP server", v.host, suggest=_domain_host("imap")),
            Field("EMAIL_IMAP_PORT", "IMAP port", v.port, default="993",
                  help="993 is IMAP over TLS."),
            Field("EMAIL_SMTP_HOST", "SMTP server", v.host, suggest=_domain_host("smtp")),
            Field("EMAIL_SMTP_PORT", "SMTP port", v.port, default="587",
                  help="587 is SMTP with STARTTLS; 465 is SMTP over TLS."),
            Field("EMAIL_ALLOWED_USERS", "Allowed senders", v.id_list("email"), Role.ACCESS,
                  is_list=True, help=f"Addresses whose mail the agent answers. {_PAIRING}"),
            Field("EMAIL_HOME_ADDRESS", "Home address", v.email, Role.HOME,
                  help="Where cron results are mailed."),
        ),
        check="email",
        check_label="log in to the IMAP server",
    ),
    PlatformSpec(
        Platform.MATRIX,
        "Matrix",
        (
            "Register a user for the bot on your homeserver (e.g. in Element).",
            "Log in with an access token (Element: Settings → Help & About) or a password.",
        ),
        (
            Field("MATRIX_HOMESERVER", "Homeserver URL", v.url, default="https://matrix.org"),
            Field("MATRIX_ALLOWED_USERS", "Allowed user IDs", v.id_list("matrix"), Role.ACCESS,
                  is_list=True, help=f"Like @alice:example.org, comma-separated. {_PAIRING}"),
            Field("MATRIX_HOME_ROOM", "Home room", v.matrix_room, Role.HOME,
                  help="A room ID (!abc:example.org) or alias (#ops:example.org)."),
        ),
        logins=(
            Login(
                "Access token",
                (Field("MATRIX_ACCESS_TOKEN", "Access token", v.opaque_token, secret=True),),
                clears=("MATRIX_PASSWORD",),
            ),
            Login(
                "User ID and password",
                (
                    Field("MATRIX_USER_ID", "Bot user ID", v.matrix_user,
                          help="Like @hermes:example.org."),
                    Field("MATRIX_PASSWORD", "Password", v.password, secret=True),
                ),
                clears=("MATRIX_ACCESS_TOKEN",),
            ),
        ),
        check="matrix",
        check_label="log in to the homeserver",
    ),
    PlatformSpec(
        Platform.MATTERMOST,
        "Mattermost",
        (
            "System Console → Integrations → Bot Accounts: enable them, then "
            "Integrations → Bot Accounts → Add Bot Account.",
            "Copy the access token it shows once.",
        ),
        (
            Field("MATTERMOST_URL", "Server URL", v.url, help="Like https://chat.example.com."),
            Field("MATTERMOST_TOKEN", "Bot access token", v.opaque_token, secret=True),
            Field("MATTERMOST_ALLOWED_USERS", "Allowed user IDs", v.id_list("word"),
                  Role.ACCESS, is_list=True, help=f"Profile → Copy user ID. {_PAIRING}"),
            Field("MATTERMOST_HOME_CHANNEL", "Home channel ID", v.opaque_token, Role.HOME,
                  help="Channel → View Info → the ID."),
        ),
        check="mattermost",
        check_label="ask Mattermost who the bot is",
    ),
    PlatformSpec(
        Platform.SIGNAL,
        "Signal",
        (
            "Signal needs signal-cli running as a daemon with its HTTP API:",
            "signal-cli -a +4915112345678 daemon --http 127.0.0.1:8080 (register or link "
            "the number first).",
        ),
        (
            Field("SIGNAL_HTTP_URL", "signal-cli HTTP URL", v.url,
                  default="http://127.0.0.1:8080"),
            Field("SIGNAL_ACCOUNT", "Bot phone number", v.phone_number,
                  help="The number signal-cli is registered with, like +4915112345678."),
            Field("SIGNAL_ALLOWED_USERS", "Allowed numbers", v.id_list("signal"), Role.ACCESS,
                  is_list=True, help=f"Phone numbers or UUIDs, comma-separated. {_PAIRING}"),
            Field("SIGNAL_HOME_CHANNEL", "Home recipient", v.signal_recipient, Role.HOME,
                  help="A number, a UUID or group.<id>."),
        ),
        check="signal",
        check_label="ask signal-cli whether it runs and has SIGNAL_ACCOUNT",
    ),
)  # fmt: skip

BY_NAME: dict[str, PlatformSpec] = {spec.name: spec for spec in SPECS}


def spec_for(name: str) -> PlatformSpec:
    """The spec of a platform the wizard can configure; KeyError otherwise."""
    return BY_NAME[name.strip().lower()]
