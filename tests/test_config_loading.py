"""Loading: layer order, environment mapping, defaults and reset-policy resolution."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hermes_gateway.config import (
    ModelSettings,
    PlatformSettings,
    ResetPolicy,
    Settings,
    load_settings,
)
from hermes_gateway.core.types import ChatType, Platform
from hermes_gateway.home import HermesHome


@pytest.fixture
def home(tmp_path: Path) -> HermesHome:
    return HermesHome(tmp_path)


def write(
    home: HermesHome,
    *,
    gateway: dict | None = None,
    yaml: str | None = None,
    env: str | None = None,
) -> None:
    if gateway is not None:
        home.gateway_json.write_text(json.dumps(gateway))
    if yaml is not None:
        home.config_yaml.write_text(yaml)
    if env is not None:
        home.env_file.write_text(env)


def test_empty_home_gives_defaults_and_creates_nothing(home: HermesHome) -> None:
    settings = load_settings(home, environ={})
    assert settings.model == ModelSettings()
    assert settings.session_reset == ResetPolicy(mode="both", at_hour=4, idle_minutes=1440)
    assert settings.display.tool_progress == "all"
    assert settings.display.background_process_notifications == "all"
    assert settings.approvals.timeout == 300 and settings.approvals.mode == "manual"
    assert settings.approvals.unattended == "deny"
    assert settings.group_sessions_per_user is True
    assert settings.unauthorized_dm_behavior == "pair"
    assert settings.busy_input_mode == "interrupt"
    assert settings.allowed_users == () and settings.allow_all_users is False
    assert settings.sources == {}
    assert list(home.root.iterdir()) == []


def test_missing_home_folder_is_fine_and_not_created(tmp_path: Path) -> None:
    home = HermesHome(tmp_path / "nowhere")
    load_settings(home, environ={})
    assert not home.root.exists()


def test_every_platform_has_an_entry_and_only_console_is_enabled_by_default(
    home: HermesHome,
) -> None:
    settings = load_settings(home, environ={})
    assert set(settings.platforms) == {p.value for p in Platform}
    enabled = {name for name, entry in settings.platforms.items() if entry.enabled}
    assert enabled == {"console"}
    assert isinstance(settings.platforms["telegram"], PlatformSettings)


def test_console_lets_its_user_in_by_default_and_config_can_close_it(home: HermesHome) -> None:
    assert load_settings(home, environ={}).platforms["console"].allow_all_users is True
    assert load_settings(home, environ={}).platforms["telegram"].allow_all_users is False
    assert Settings(home=home).platforms["console"].allow_all_users is True
    closed = load_settings(home, environ={"CONSOLE_ALLOW_ALL_USERS": "false"})
    assert closed.platforms["console"].allow_all_users is False


def test_a_token_enables_a_platform_and_an_explicit_enabled_wins(home: HermesHome) -> None:
    write(home, yaml="platforms:\n  discord:\n    enabled: false\n  console:\n    enabled: false\n")
    settings = load_settings(
        home, environ={"TELEGRAM_BOT_TOKEN": "123:abc", "DISCORD_BOT_TOKEN": "d-tok"}
    )
    assert settings.platforms["telegram"].enabled is True
    assert settings.platforms["discord"].enabled is False
    assert settings.platforms["discord"].token == "d-tok"
    assert settings.platforms["console"].enabled is False


def test_an_api_key_enables_a_platform(home: HermesHome) -> None:
    settings = load_settings(home, environ={"API_SERVER_API_KEY": "srv-key"})
    assert settings.platforms["api_server"].enabled is True
    assert settings.platforms["api_server"].api_key == "srv-key"


# --- layering -------------------------------------------------------------------------

LAYERS = ["gateway", "yaml", "dotenv", "process"]


@pytest.mark.parametrize("top", range(len(LAYERS)))
def test_each_layer_overrides_the_ones_below_and_is_recorded_as_source(
    home: HermesHome, top: int
) -> None:
    present = LAYERS[: top + 1]
    if "gateway" in present:
        write(home, gateway={"model": {"default": "from-json"}, "busy_input_mode": "queue"})
    if "yaml" in present:
        write(home, yaml="model:\n  default: from-yaml\nbusy_input_mode: interrupt\n")
    if "dotenv" in present:
        write(home, env="HERMES_MODEL=from-dotenv\n")
    environ = {"HERMES_MODEL": "from-process"} if "process" in present else {}
    settings = load_settings(home, environ=environ)
    expected_value, expected_source = {
        "gateway": ("from-json", str(home.gateway_json)),
        "yaml": ("from-yaml", str(home.config_yaml)),
        "dotenv": ("from-dotenv", str(home.env_file)),
        "process": ("from-process", "environment"),
    }[LAYERS[top]]
    assert settings.model.default == expected_value
    assert settings.sources["model.default"] == expected_source
    assert settings.source_of("model.default") == expected_source


def test_yaml_overrides_json_key_by_key_and_keeps_the_rest(home: HermesHome) -> None:
    write(
        home,
        gateway={
            "platforms": {"telegram": {"home_channel": "42", "allowed_users": ["1"]}},
            "busy_input_mode": "queue",
        },
        yaml="platforms:\n  telegram:\n    allowed_users: [7, 8]\n",
    )
    settings = load_settings(home, environ={})
    telegram = settings.platforms["telegram"]
    assert telegram.home_channel == "42"
    assert telegram.allowed_users == ("7", "8")
    assert settings.busy_input_mode == "queue"
    assert settings.sources["platforms.telegram.home_channel"] == str(home.gateway_json)
    assert settings.sources["platforms.telegram.allowed_users"] == str(home.config_yaml)
    assert settings.source_of("session_reset.mode") == "default"


def test_process_environment_wins_over_dotenv_for_the_same_variable(home: HermesHome) -> None:
    write(home, env="TELEGRAM_HOME_CHANNEL=from-file\nOPENAI_API_KEY=file-key\n")
    settings = load_settings(home, environ={"TELEGRAM_HOME_CHANNEL": "from-process"})
    assert settings.platforms["telegram"].home_channel == "from-process"
    assert settings.sources["platforms.telegram.home_channel"] == "environment"
    assert settings.env["OPENAI_API_KEY"] == "file-key"


def test_env_is_dotenv_merged_under_the_process_environment(home: HermesHome) -> None:
    write(home, env="A=1\nB=2\n")
    settings = load_settings(home, environ={"B": "3", "C": "4"})
    assert dict(settings.env) == {"A": "1", "B": "3", "C": "4"}


def test_environ_defaults_to_os_environ(home: HermesHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMES_MODEL", "from-os-environ")
    assert load_settings(home).model.default == "from-os-environ"


def test_gateway_json_reset_by_platform_example_from_the_docs(home: HermesHome) -> None:
    write(home, gateway={"reset_by_platform": {"telegram": {"mode": "idle", "idle_minutes": 240}}})
    settings = load_settings(home, environ={})
    assert settings.reset_by_platform["telegram"] == ResetPolicy(
        mode="idle", at_hour=4, idle_minutes=240
    )


def test_session_settings_are_accepted_in_both_files(home: HermesHome) -> None:
    write(
        home,
        gateway={"group_sessions_per_user": False, "unauthorized_dm_behavior": "ignore"},
        yaml="session_reset:\n  mode: daily\n  at_hour: 6\nreset_by_type:\n  group:\n    mode: none\n",
    )
    settings = load_settings(home, environ={})
    assert settings.group_sessions_per_user is False
    assert settings.unauthorized_dm_behavior == "ignore"
    assert settings.session_reset == ResetPolicy(mode="daily", at_hour=6, idle_minutes=1440)
    assert settings.reset_by_type["group"] == ResetPolicy(mode="none", at_hour=6, idle_minutes=1440)


def test_model_given_as_a_plain_string_is_the_default_model(home: HermesHome) -> None:
    write(home, yaml='model: "anthropic/claude-opus-4.6"\n')
    settings = load_settings(home, environ={})
    assert settings.model.default == "anthropic/claude-opus-4.6"
    assert settings.model.provider == "auto"


def test_model_string_in_yaml_composes_with_a_provider_from_json(home: HermesHome) -> None:
    write(home, gateway={"model": {"provider": "openrouter"}}, yaml="model: some/model\n")
    settings = load_settings(home, environ={})
    assert (settings.model.provider, settings.model.default) == ("openrouter", "some/model")


def test_model_section_is_fully_typed(home: HermesHome) -> None:
    write(
        home,
        yaml="model:\n  provider: custom\n  base_url: http://127.0.0.1:8080/v1\n  api_key: local-key\n"
        "  timeout: 30\n  max_retries: 0\n",
    )
    model = load_settings(home, environ={}).model
    assert model == ModelSettings("custom", "http://127.0.0.1:8080/v1", "", "local-key", 30.0, 0)


# --- environment mapping --------------------------------------------------------------


def test_platform_allowed_users_are_split_on_commas_and_trimmed(home: HermesHome) -> None:
    settings = load_settings(home, environ={"TELEGRAM_ALLOWED_USERS": " 1, 2 ,,3 ,"})
    assert settings.platforms["telegram"].allowed_users == ("1", "2", "3")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("Yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("NO", False),
    ],
)
def test_allow_all_users_variables_accept_the_usual_booleans(
    home: HermesHome, raw: str, expected: bool
) -> None:
    settings = load_settings(
        home, environ={"SLACK_ALLOW_ALL_USERS": raw, "GATEWAY_ALLOW_ALL_USERS": raw}
    )
    assert settings.platforms["slack"].allow_all_users is expected
    assert settings.allow_all_users is expected


def test_home_channel_token_and_api_key_variables_map_to_the_platform(home: HermesHome) -> None:
    environ = {
        "WECOM_CALLBACK_HOME_CHANNEL": "room-1",
        "WECOM_CALLBACK_TOKEN": "cb-token",
        "WECOM_CALLBACK_API_KEY": "cb-key",
        "MATRIX_HOME_CHANNEL": "!abc:example.org",
    }
    settings = load_settings(home, environ=environ)
    callback = settings.platforms["wecom_callback"]
    assert (callback.home_channel, callback.token, callback.api_key) == (
        "room-1",
        "cb-token",
        "cb-key",
    )
    assert settings.platforms["wecom"].token == ""  # WECOM_ is a different prefix
    assert settings.platforms["matrix"].home_channel == "!abc:example.org"


def test_bot_token_wins_over_token_for_the_same_platform(home: HermesHome) -> None:
    settings = load_settings(home, environ={"DISCORD_BOT_TOKEN": "bot", "DISCORD_TOKEN": "plain"})
    assert settings.platforms["discord"].token == "bot"
    assert (
        load_settings(home, environ={"DISCORD_TOKEN": "plain"}).platforms["discord"].token
        == "plain"
    )


def test_model_provider_keys_are_not_platform_keys(home: HermesHome) -> None:
    settings = load_settings(
        home, environ={"OPENAI_API_KEY": "sk-openai", "OPENROUTER_API_KEY": "sk-or"}
    )
    assert all(entry.api_key == "" for entry in settings.platforms.values())
    assert settings.env["OPENAI_API_KEY"] == "sk-openai"


def test_gateway_allowed_users_maps_to_the_global_allowlist(home: HermesHome) -> None:
    settings = load_settings(home, environ={"GATEWAY_ALLOWED_USERS": "alice, bob"})
    assert settings.allowed_users == ("alice", "bob")


def test_hermes_variables_map_to_notifications_model_and_provider(home: HermesHome) -> None:
    environ = {
        "HERMES_BACKGROUND_NOTIFICATIONS": "result",
        "HERMES_MODEL": "m",
        "HERMES_PROVIDER": "nous",
    }
    settings = load_settings(home, environ=environ)
    assert settings.display.background_process_notifications == "result"
    assert (settings.model.default, settings.model.provider) == ("m", "nous")


def test_empty_variables_count_as_unset(home: HermesHome) -> None:
    write(home, yaml="platforms:\n  telegram:\n    token: from-yaml\n")
    settings = load_settings(home, environ={"TELEGRAM_BOT_TOKEN": "", "TELEGRAM_TOKEN": "  "})
    assert settings.platforms["telegram"].token == "from-yaml"


def test_allowed_users_in_yaml_may_be_a_list_or_a_comma_string(home: HermesHome) -> None:
    write(
        home,
        yaml="platforms:\n  slack:\n    allowed_users: 'U1, U2'\n  signal:\n    allowed_users: [15551234, 'x']\n",
    )
    settings = load_settings(home, environ={})
    assert settings.platforms["slack"].allowed_users == ("U1", "U2")
    assert settings.platforms["signal"].allowed_users == ("15551234", "x")


# --- resolution helpers ---------------------------------------------------------------


@pytest.fixture
def reset_settings(home: HermesHome) -> Settings:
    write(
        home,
        gateway={"reset_by_platform": {"telegram": {"mode": "idle", "idle_minutes": 240}}},
        yaml="session_reset:\n  mode: daily\n  at_hour: 3\nreset_by_type:\n  group:\n    idle_minutes: 60\n",
    )
    return load_settings(home, environ={})


def test_reset_policy_prefers_the_platform_override(reset_settings: Settings) -> None:
    assert reset_settings.reset_policy_for("telegram", "group") == ResetPolicy("idle", 3, 240)


def test_reset_policy_falls_back_to_the_chat_type_then_the_default(
    reset_settings: Settings,
) -> None:
    assert reset_settings.reset_policy_for("discord", "group") == ResetPolicy("daily", 3, 60)
    assert reset_settings.reset_policy_for("discord", "dm") == ResetPolicy("daily", 3, 1440)


def test_reset_policy_accepts_the_enum_members(reset_settings: Settings) -> None:
    assert reset_settings.reset_policy_for(Platform.TELEGRAM, ChatType.DM).mode == "idle"
    assert reset_settings.reset_policy_for(Platform.SLACK, ChatType.GROUP).idle_minutes == 60


def test_tool_progress_per_platform_overrides_the_global_setting(home: HermesHome) -> None:
    write(
        home,
        yaml="display:\n  tool_progress: new\n  platforms:\n    signal:\n      tool_progress: 'off'\n",
    )
    settings = load_settings(home, environ={})
    assert settings.tool_progress_for("signal") == "off"
    assert settings.tool_progress_for(Platform.SIGNAL) == "off"
    assert settings.tool_progress_for("telegram") == "new"
    assert settings.platforms["signal"].tool_progress == "off"
    assert settings.display.platforms["signal"]["tool_progress"] == "off"


def test_unknown_keys_are_kept_in_raw_and_hermes_display_keys_are_accepted(
    home: HermesHome,
) -> None:
    write(
        home,
        yaml="terminal:\n  backend: docker\ndisplay:\n  skin: slate\n  compact: true\n"
        "platforms:\n  telegram:\n    extra:\n      base_url: http://127.0.0.1:9\n",
    )
    settings = load_settings(home, environ={})
    assert settings.raw["terminal"] == {"backend": "docker"}
    assert settings.raw["display"]["skin"] == "slate"
    assert settings.platforms["telegram"].extra == {"base_url": "http://127.0.0.1:9"}


def test_command_allowlist_and_approvals_are_read(home: HermesHome) -> None:
    write(
        home,
        yaml="command_allowlist: ['rm -rf ./build', 'git push']\napprovals:\n  timeout: 60\n  mode: 'off'\n",
    )
    settings = load_settings(home, environ={})
    assert settings.command_allowlist == ("rm -rf ./build", "git push")
    assert (settings.approvals.timeout, settings.approvals.mode) == (60, "off")


def test_settings_are_frozen(home: HermesHome) -> None:
    settings = load_settings(home, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.busy_input_mode = "queue"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.platforms["x"] = None  # type: ignore[index]


def test_settings_can_be_built_directly_with_defaults(home: HermesHome) -> None:
    settings = Settings(home=home)
    assert settings.platforms["console"].enabled is True
    assert settings.reset_policy_for("telegram", "dm") == ResetPolicy()


def test_loading_without_config_yaml_does_not_import_ruamel(home: HermesHome) -> None:
    write(home, gateway={"busy_input_mode": "queue"}, env="A=1\n")
    code = (
        "import sys; from pathlib import Path\n"
        "from hermes_gateway.config import load_settings\n"
        "from hermes_gateway.home import HermesHome\n"
        f"load_settings(HermesHome(Path({str(home.root)!r})), environ={{}})\n"
        "assert not [m for m in sys.modules if m.startswith('ruamel')], 'ruamel imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}
    )
    assert result.returncode == 0, result.stderr


def test_loading_a_full_home_changes_no_file(home: HermesHome) -> None:
    write(home, gateway={"busy_input_mode": "queue"}, yaml="model: x\n", env="A=1\n")
    home.env_file.chmod(0o644)  # even a too-open .env is reported elsewhere, never fixed here
    files = sorted(home.root.iterdir())
    before = [(p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in files]
    load_settings(home, environ={"TELEGRAM_BOT_TOKEN": "t"})
    assert sorted(home.root.iterdir()) == files
    assert [(p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in files] == before


def test_other_platform_variables_become_extras_and_switch_the_platform_on(
    home: HermesHome,
) -> None:
    settings = load_settings(
        home,
        environ={
            "EMAIL_ADDRESS": "bot@example.org",
            "EMAIL_IMAP_HOST": "imap.example.org",
            "EMAIL_PASSWORD": "hunter2hunter2",
            "WECOM_CALLBACK_CORP_ID": "ww1",
            "SLACK_APP_TOKEN": "xapp-1-abc",
            "SLACK_BOT_TOKEN": "xoxb-1-abc",
        },
    )
    email = settings.platforms["email"]
    assert email.enabled and email.token == ""
    assert email.extra == {
        "address": "bot@example.org",
        "imap_host": "imap.example.org",
        "password": "hunter2hunter2",
    }
    # The longest prefix wins: WECOM_CALLBACK_* is not WeCom's.
    assert settings.platforms["wecom_callback"].extra == {"corp_id": "ww1"}
    assert settings.platforms["wecom"].extra == {}
    assert settings.platforms["slack"].token == "xoxb-1-abc"
    assert settings.platforms["slack"].extra == {"app_token": "xapp-1-abc"}
    assert "hunter2hunter2" not in repr(settings)
    assert settings.source_of("platforms.email.extra.imap_host") == "environment"
    assert not settings.platforms["discord"].enabled
