"""The typed settings the engine reads. Built by loader.load_settings, never by hand-parsing."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..core.types import Platform
from ..home import HermesHome
from .secrets import is_secret_key, mask, mask_tree

MODEL_PROVIDERS = ("auto", "offline", "openrouter", "nous", "openai", "anthropic", "custom")
RESET_MODES = ("daily", "idle", "both", "none")
CHAT_TYPES = ("dm", "group", "channel", "thread")
TOOL_PROGRESS = ("off", "new", "all", "verbose")
NOTIFICATIONS = ("all", "result", "error", "off")
APPROVAL_MODES = ("manual", "off")
UNATTENDED = ("deny", "allow")
DM_BEHAVIORS = ("pair", "ignore")
BUSY_MODES = ("interrupt", "queue")
PLATFORM_NAMES = tuple(p.value for p in Platform)


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _masked_repr(obj: Any) -> str:
    """A dataclass repr in which secret fields and secrets inside mappings are masked."""
    parts = []
    for item in dataclasses.fields(obj):
        if not item.repr:
            continue
        value = getattr(obj, item.name)
        if is_secret_key(item.name) and isinstance(value, str):
            shown = repr(mask(value))
        elif isinstance(value, Mapping):
            shown = repr(mask_tree(value))
        else:
            shown = repr(value)
        parts.append(f"{item.name}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"


@dataclass(frozen=True)
class ModelSettings:
    provider: str = "auto"
    base_url: str = ""
    default: str = ""
    api_key: str = ""
    timeout: float = 120.0
    max_retries: int = 3

    __repr__ = _masked_repr


@dataclass(frozen=True)
class ResetPolicy:
    mode: str = "both"
    at_hour: int = 4
    idle_minutes: int = 1440


@dataclass(frozen=True)
class PlatformSettings:
    name: str
    enabled: bool
    token: str = ""
    api_key: str = ""
    home_channel: str = ""
    allowed_users: tuple[str, ...] = ()
    allow_all_users: bool = False
    tool_progress: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_frozen)

    __repr__ = _masked_repr


@dataclass(frozen=True)
class DisplaySettings:
    tool_progress: str = "all"
    background_process_notifications: str = "all"
    platforms: Mapping[str, Mapping[str, Any]] = field(default_factory=_frozen)


@dataclass(frozen=True)
class StreamingSettings:
    """Replies streamed by editing one message, where the platform can edit."""

    enabled: bool = True
    edit_interval: float = 1.0  # seconds between edits (platforms rate-limit edits)


@dataclass(frozen=True)
class ApprovalSettings:
    timeout: int = 300
    mode: str = "manual"
    unattended: str = "deny"


def default_platforms() -> Mapping[str, PlatformSettings]:
    """One entry per Platform: only the local console is enabled (and open) by default."""
    return _frozen({p.value: _default_platform(p) for p in Platform})


def _default_platform(platform: Platform) -> PlatformSettings:
    console = platform is Platform.CONSOLE
    return PlatformSettings(platform.value, enabled=console, allow_all_users=console)


def _key(name: Any) -> str:
    # Platform / ChatType are str enums whose hash differs from their value's.
    return str(getattr(name, "value", name))


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the gateway reads from HERMES_HOME and the environment.

    `env` is the merged .env < process environment (provider API keys live there), `raw`
    the whole merged tree (keys of other tools included), `sources` dotted key -> the
    file path or "environment" that set it.
    """

    home: HermesHome
    model: ModelSettings = field(default_factory=ModelSettings)
    platforms: Mapping[str, PlatformSettings] = field(default_factory=default_platforms)
    session_reset: ResetPolicy = field(default_factory=ResetPolicy)
    reset_by_platform: Mapping[str, ResetPolicy] = field(default_factory=_frozen)
    reset_by_type: Mapping[str, ResetPolicy] = field(default_factory=_frozen)
    group_sessions_per_user: bool = True
    unauthorized_dm_behavior: str = "pair"
    busy_input_mode: str = "interrupt"
    display: DisplaySettings = field(default_factory=DisplaySettings)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    streaming: StreamingSettings = field(default_factory=StreamingSettings)
    command_allowlist: tuple[str, ...] = ()
    allowed_users: tuple[str, ...] = ()
    allow_all_users: bool = False
    env: Mapping[str, str] = field(default_factory=_frozen, repr=False)
    raw: Mapping[str, Any] = field(default_factory=_frozen, repr=False)
    sources: Mapping[str, str] = field(default_factory=_frozen, repr=False)

    __repr__ = _masked_repr

    def reset_policy_for(self, platform: str, chat_type: str) -> ResetPolicy:
        """Per-platform override, else per chat type, else `session_reset`.

        Overrides were completed from `session_reset` at load time, so a partial one
        (only `idle_minutes`, say) already carries the default mode and hour.
        """
        by_platform = self.reset_by_platform.get(_key(platform))
        if by_platform is not None:
            return by_platform
        return self.reset_by_type.get(_key(chat_type), self.session_reset)

    def tool_progress_for(self, platform: str) -> str:
        """The platform's override (`display.platforms.<p>.tool_progress`, else
        `platforms.<p>.tool_progress`) when set, else `display.tool_progress`."""
        entry = self.platforms.get(_key(platform))
        if entry is not None and entry.tool_progress is not None:
            return entry.tool_progress
        return self.display.tool_progress

    def source_of(self, key: str) -> str:
        """Where a dotted key's value came from: a file path, "environment" or "default"."""
        return self.sources.get(key, "default")

    def effective(self, masked: bool = True) -> dict[str, Any]:
        """The effective configuration as plain nested data (for `hermes config check`)."""
        hidden = ("home", "env", "raw", "sources")  # not configuration, or not ours to show
        names = [f.name for f in dataclasses.fields(self) if f.name not in hidden]
        tree = {name: _plain(getattr(self, name)) for name in names}
        return mask_tree(tree) if masked else tree


def _plain(value: Any) -> Any:
    """Dataclasses, read-only mappings and tuples as dicts and lists (asdict can't copy proxies)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
