"""Platform name → adapter class, imported lazily so unused SDKs are never loaded."""

from __future__ import annotations

import importlib

from hermes_gateway.core.types import Platform
from hermes_gateway.platforms.base import Adapter

# One line per platform: "module:Class" under hermes_gateway.platforms.
ADAPTERS: dict[Platform, str] = {
    Platform.CONSOLE: "console:ConsoleAdapter",
    Platform.TELEGRAM: "telegram.adapter:TelegramAdapter",
    Platform.DISCORD: "discord.adapter:DiscordAdapter",
    Platform.SLACK: "slack.adapter:SlackAdapter",
    Platform.EMAIL: "email.adapter:EmailAdapter",
    Platform.MATRIX: "matrix.adapter:MatrixAdapter",
    Platform.MATTERMOST: "mattermost.adapter:MattermostAdapter",
    Platform.SIGNAL: "signal.adapter:SignalAdapter",
}


def adapter_class(platform: Platform) -> type[Adapter]:
    try:
        target = ADAPTERS[platform]
    except KeyError:
        raise LookupError(f"{platform.value} is not available in this version yet") from None
    module_name, class_name = target.split(":")
    module = importlib.import_module(f"hermes_gateway.platforms.{module_name}")
    return getattr(module, class_name)
