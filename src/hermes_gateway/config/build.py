"""Validation of the merged tree into typed Settings, one ConfigError per problem."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..home import HermesHome
from .merge import Merged
from .reader import Reader
from .schema import (
    APPROVAL_MODES,
    BUSY_MODES,
    CHAT_TYPES,
    DM_BEHAVIORS,
    MODEL_PROVIDERS,
    NOTIFICATIONS,
    PLATFORM_NAMES,
    RESET_MODES,
    TOOL_PROGRESS,
    UNATTENDED,
    ApprovalSettings,
    DisplaySettings,
    ModelSettings,
    PlatformSettings,
    ResetPolicy,
    Settings,
    StreamingSettings,
)

_RESET_KEYS = ("mode", "at_hour", "idle_minutes")
_APPROVAL_KEYS = ("timeout", "mode", "unattended")
_DISPLAY_KEYS = ("tool_progress", "background_process_notifications", "platforms")
# Keys the Hermes CLI keeps under `display:` in the config.yaml it shares with us: valid,
# not ours, never an "unknown key" error.
_HERMES_DISPLAY_KEYS = (
    "compact",
    "personality",
    "resume_display",
    "busy_input_mode",
    "busy_ack_enabled",
    "bell_on_complete",
    "show_reasoning",
    "streaming",
    "inline_diffs",
    "show_cost",
    "skin",
    "interim_assistant_messages",
    "tool_progress_command",
    "tool_preview_length",
    "tool_progress_overrides",
    "show_commentary",
    "timestamps",
    "runtime_footer",
    "runtime_metadata_footer",
    "file_mutation_verifier",
    "credits_notices",
    "language",
)


def build_settings(home: HermesHome, merged: Merged, env: Mapping[str, str]) -> Settings:
    """Typed, validated Settings from the merged layers."""
    read = Reader(merged)
    session_reset = _reset(read, "session_reset", ResetPolicy())
    display = _display(read)
    return Settings(
        home=home,
        model=_model(read),
        platforms=_platforms(read, display),
        session_reset=session_reset,
        reset_by_platform=_reset_table(
            read, "reset_by_platform", PLATFORM_NAMES, session_reset, "unknown platform"
        ),
        reset_by_type=_reset_table(
            read, "reset_by_type", CHAT_TYPES, session_reset, "unknown chat type"
        ),
        group_sessions_per_user=read.boolean("group_sessions_per_user", True),
        unauthorized_dm_behavior=read.choice("unauthorized_dm_behavior", "pair", DM_BEHAVIORS),
        busy_input_mode=read.choice("busy_input_mode", "interrupt", BUSY_MODES),
        display=display,
        approvals=_approvals(read),
        streaming=_streaming(read),
        command_allowlist=read.strings("command_allowlist", split_commas=False),
        allowed_users=read.strings("allowed_users"),
        allow_all_users=read.boolean("allow_all_users", False),
        env=env,
        raw=MappingProxyType(merged.tree),
        sources=MappingProxyType(dict(merged.leaves)),
    )


def _model(read: Reader) -> ModelSettings:
    if read.get("model") is not None and not isinstance(read.get("model"), dict):
        raise read.error("model", "a mapping or a model name", read.get("model"))
    return ModelSettings(
        provider=read.choice("model.provider", "auto", MODEL_PROVIDERS),
        base_url=read.text("model.base_url"),
        default=read.text("model.default"),
        api_key=read.text("model.api_key"),
        timeout=read.number("model.timeout", 120.0, above=0),
        max_retries=read.integer("model.max_retries", 3, low=0),
    )


def _reset(read: Reader, key: str, base: ResetPolicy) -> ResetPolicy:
    """A policy from `key`; fields it leaves out come from `base`."""
    read.known_keys(key, _RESET_KEYS)
    return ResetPolicy(
        mode=read.choice(f"{key}.mode", base.mode, RESET_MODES),
        at_hour=read.integer(f"{key}.at_hour", base.at_hour, low=0, high=23),
        idle_minutes=read.integer(f"{key}.idle_minutes", base.idle_minutes, low=1),
    )


def _reset_table(
    read: Reader, key: str, names: tuple[str, ...], base: ResetPolicy, problem: str
) -> Mapping[str, ResetPolicy]:
    table = read.mapping(key)
    read.known_names(key, table, names, problem)
    return MappingProxyType({str(name): _reset(read, f"{key}.{name}", base) for name in table})


def _platforms(read: Reader, display: DisplaySettings) -> Mapping[str, PlatformSettings]:
    read.known_names("platforms", read.mapping("platforms"), PLATFORM_NAMES, "unknown platform")
    return MappingProxyType({name: _platform(read, name, display) for name in PLATFORM_NAMES})


def _platform(read: Reader, name: str, display: DisplaySettings) -> PlatformSettings:
    key = f"platforms.{name}"
    read.mapping(key)
    token = read.text(f"{key}.token")
    api_key = read.text(f"{key}.api_key")
    extra = read.mapping(f"{key}.extra")
    # Configured credentials (or any platform setting: e-mail and Signal have no token) switch
    # a platform on. The console needs none, and it is the operator's own terminal, so it lets
    # its user in unless the config says otherwise.
    console = name == "console"
    default_enabled = console or bool(token or api_key or extra)
    own_progress = read.choice(f"{key}.tool_progress", None, TOOL_PROGRESS)
    # `display.platforms.<p>.tool_progress` is the documented Hermes name, so it wins.
    tool_progress = display.platforms.get(name, {}).get("tool_progress") or own_progress
    return PlatformSettings(
        name=name,
        enabled=read.boolean(f"{key}.enabled", default_enabled),
        token=token,
        api_key=api_key,
        home_channel=read.text(f"{key}.home_channel"),
        allowed_users=read.strings(f"{key}.allowed_users"),
        allow_all_users=read.boolean(f"{key}.allow_all_users", console),
        tool_progress=tool_progress,
        extra=MappingProxyType(dict(extra)),
    )


def _display(read: Reader) -> DisplaySettings:
    read.known_keys("display", _DISPLAY_KEYS + _HERMES_DISPLAY_KEYS, shown=_DISPLAY_KEYS)
    overrides = read.mapping("display.platforms")
    read.known_names("display.platforms", overrides, PLATFORM_NAMES, "unknown platform")
    per_platform: dict[str, Mapping[str, Any]] = {}
    for name in overrides:
        key = f"display.platforms.{name}"
        entry = dict(read.mapping(key))
        if "tool_progress" in entry:
            entry["tool_progress"] = read.choice(f"{key}.tool_progress", None, TOOL_PROGRESS)
        per_platform[str(name)] = MappingProxyType(entry)
    return DisplaySettings(
        tool_progress=read.choice("display.tool_progress", "all", TOOL_PROGRESS),
        background_process_notifications=read.choice(
            "display.background_process_notifications", "all", NOTIFICATIONS
        ),
        platforms=MappingProxyType(per_platform),
    )


def _approvals(read: Reader) -> ApprovalSettings:
    read.known_keys("approvals", _APPROVAL_KEYS)
    return ApprovalSettings(
        timeout=read.integer("approvals.timeout", 300, low=1),
        mode=read.choice("approvals.mode", "manual", APPROVAL_MODES),
        unattended=read.choice("approvals.unattended", "deny", UNATTENDED),
    )


def _streaming(read: Reader) -> StreamingSettings:
    read.known_keys("streaming", ("enabled", "edit_interval"))
    return StreamingSettings(
        enabled=read.boolean("streaming.enabled", True),
        edit_interval=read.number("streaming.edit_interval", 1.0, above=0),
    )
