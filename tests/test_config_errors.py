"""Bad configuration: one-line errors naming file, key and expectation; nothing on disk changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_gateway.config import ConfigError, load_settings
from hermes_gateway.config.secrets import is_secret_key, mask
from hermes_gateway.home import HermesHome

SECRET = "sk-live-0123456789abcdefSECRET"


@pytest.fixture
def home(tmp_path: Path) -> HermesHome:
    return HermesHome(tmp_path / ".hermes").ensure()


def snapshot(root: Path) -> dict[str, tuple[bytes, int] | str]:
    """Every entry under root with its bytes and mtime (directories by name)."""
    state: dict[str, tuple[bytes, int] | str] = {}
    for path in sorted(root.rglob("*")):
        state[str(path)] = "dir" if path.is_dir() else (path.read_bytes(), path.stat().st_mtime_ns)
    return state


def load_error(home: HermesHome, environ: dict[str, str] | None = None) -> ConfigError:
    """Load, expect ConfigError, and check that loading left every file as it was."""
    before = snapshot(home.root)
    with pytest.raises(ConfigError) as caught:
        load_settings(home, environ=environ or {})
    assert snapshot(home.root) == before
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    assert SECRET not in message and SECRET not in repr(caught.value)
    return caught.value


def yaml_error(home: HermesHome, text: str) -> ConfigError:
    home.config_yaml.write_text(text)
    return load_error(home)


# --- syntax and unreadable files ------------------------------------------------------


def test_invalid_yaml_names_file_line_and_column(home: HermesHome) -> None:
    error = yaml_error(home, "platforms:\n  telegram:\n   token: x\n  bad: : :\n")
    assert str(error).startswith(f"{home.config_yaml}: line ")
    assert "invalid YAML (" in str(error)
    assert error.source == str(home.config_yaml)


def test_yaml_syntax_error_matches_the_documented_format(home: HermesHome) -> None:
    error = yaml_error(home, "a:\n  b: 1\n  c: d: e\n")
    assert (
        str(error)
        == f"{home.config_yaml}: line 3, column 7: invalid YAML (mapping values are not allowed here)"
    )
    assert (error.line, error.column) == (3, 7)


def test_yaml_syntax_error_does_not_echo_a_secret_on_the_bad_line(home: HermesHome) -> None:
    yaml_error(home, f"platforms:\n  telegram:\n    token: {SECRET}: oops\n")


def test_invalid_json_names_file_line_and_column(home: HermesHome) -> None:
    home.gateway_json.write_text('{\n  "busy_input_mode": "queue",\n  "x" 1\n}\n')
    error = load_error(home)
    assert (
        str(error)
        == f"{home.gateway_json}: line 3, column 7: invalid JSON (Expecting ':' delimiter)"
    )


def test_json_top_level_must_be_an_object(home: HermesHome) -> None:
    home.gateway_json.write_text("[1, 2]")
    error = load_error(home)
    assert str(error).startswith(f"{home.gateway_json}: expected a JSON object at the top level")


def test_yaml_top_level_must_be_a_mapping(home: HermesHome) -> None:
    error = yaml_error(home, "- a\n- b\n")
    assert (
        str(error)
        == f"{home.config_yaml}: expected a mapping of keys at the top level (got a list)"
    )


def test_a_directory_in_place_of_config_yaml_is_unreadable(home: HermesHome) -> None:
    home.config_yaml.mkdir()
    error = load_error(home)
    assert (
        str(error)
        == f"{home.config_yaml}: unreadable file (is a directory); expected a readable file"
    )


def test_invalid_utf8_in_gateway_json_names_the_line(home: HermesHome) -> None:
    home.gateway_json.write_bytes(b'{\n  "a": "\xff\xfe"\n}\n')
    error = load_error(home)
    assert (
        str(error)
        == f"{home.gateway_json}: line 2: not valid UTF-8 (byte 0xff); expected UTF-8 text"
    )


def test_invalid_utf8_in_dotenv_is_reported_against_dotenv(home: HermesHome) -> None:
    home.env_file.write_bytes(b"A=1\nB=\xc3\x28\n")
    error = load_error(home)
    assert error.source == str(home.env_file) and error.line == 2


def test_dotenv_line_without_assignment_is_reported_without_its_content(home: HermesHome) -> None:
    home.env_file.write_text(f"# tokens\nTELEGRAM_BOT_TOKEN {SECRET}\n")
    error = load_error(home)
    assert str(error) == f"{home.env_file}: line 2: not an assignment; expected KEY=VALUE"


def test_dotenv_unterminated_quote_is_an_error(home: HermesHome) -> None:
    home.env_file.write_text('A="never closed\nB=2\n')
    error = load_error(home)
    assert "line 1" in str(error) and "unterminated quoted value" in str(error)


# --- wrong types, enums, ranges -------------------------------------------------------


def test_unknown_enum_value_matches_the_documented_format(home: HermesHome) -> None:
    error = yaml_error(home, "session_reset:\n  mode: weekly\n")
    assert str(error) == (
        f"{home.config_yaml}: session_reset.mode: expected one of daily, idle, both, none (got 'weekly')"
    )
    assert (error.source, error.key, error.expected) == (
        str(home.config_yaml),
        "session_reset.mode",
        "one of daily, idle, both, none",
    )


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            "session_reset:\n  at_hour: '4'\n",
            "session_reset.at_hour",
            "expected an integer from 0 to 23 (got '4')",
        ),
        (
            "approvals:\n  timeout: '300'\n",
            "approvals.timeout",
            "expected an integer >= 1 (got '300')",
        ),
        (
            "group_sessions_per_user: 'yes'\n",
            "group_sessions_per_user",
            "expected true or false (got 'yes')",
        ),
        ("model:\n  timeout: fast\n", "model.timeout", "expected a number > 0 (got 'fast')"),
        ("model: [a, b]\n", "model", "expected a mapping or a model name (got a list)"),
        ("platforms: [telegram]\n", "platforms", "expected a mapping (got a list)"),
        (
            "platforms:\n  telegram:\n    home_channel: [1]\n",
            "platforms.telegram.home_channel",
            "expected a string (got a list)",
        ),
        (
            "platforms:\n  slack:\n    allowed_users: {a: 1}\n",
            "platforms.slack.allowed_users",
            "expected a list of strings or a comma-separated string (got a mapping)",
        ),
        (
            "command_allowlist: 'ls, rm'\n",
            "command_allowlist",
            "expected a list of strings (got 'ls, rm')",
        ),
        (
            "session_reset:\n  at_hour: true\n",
            "session_reset.at_hour",
            "expected an integer from 0 to 23 (got True)",
        ),
    ],
)
def test_wrong_types_name_file_key_and_expected_type(
    home: HermesHome, text: str, key: str, expected: str
) -> None:
    error = yaml_error(home, text)
    assert str(error) == f"{home.config_yaml}: {key}: {expected}"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            "model:\n  provider: gemini\n",
            "model.provider",
            "one of auto, offline, openrouter, nous, openai, anthropic, custom",
        ),
        (
            "display:\n  tool_progress: loud\n",
            "display.tool_progress",
            "one of off, new, all, verbose",
        ),
        (
            "display:\n  background_process_notifications: some\n",
            "display.background_process_notifications",
            "one of all, result, error, off",
        ),
        (
            "display:\n  platforms:\n    slack:\n      tool_progress: lots\n",
            "display.platforms.slack.tool_progress",
            "one of off, new, all, verbose",
        ),
        ("approvals:\n  mode: smart\n", "approvals.mode", "one of manual, off"),
        ("approvals:\n  unattended: maybe\n", "approvals.unattended", "one of deny, allow"),
        ("unauthorized_dm_behavior: reply\n", "unauthorized_dm_behavior", "one of pair, ignore"),
        ("busy_input_mode: steer\n", "busy_input_mode", "one of interrupt, queue"),
        (
            "reset_by_type:\n  dm:\n    mode: hourly\n",
            "reset_by_type.dm.mode",
            "one of daily, idle, both, none",
        ),
    ],
)
def test_unknown_enum_values_list_the_valid_ones(
    home: HermesHome, text: str, key: str, expected: str
) -> None:
    error = yaml_error(home, text)
    assert (error.key, error.expected) == (key, expected)
    assert str(error).startswith(f"{home.config_yaml}: {key}: expected {expected} (got ")


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            "session_reset:\n  at_hour: 24\n",
            "session_reset.at_hour",
            "expected an integer from 0 to 23 (got 24)",
        ),
        (
            "session_reset:\n  at_hour: -1\n",
            "session_reset.at_hour",
            "expected an integer from 0 to 23 (got -1)",
        ),
        (
            "session_reset:\n  idle_minutes: 0\n",
            "session_reset.idle_minutes",
            "expected an integer >= 1 (got 0)",
        ),
        ("approvals:\n  timeout: 0\n", "approvals.timeout", "expected an integer >= 1 (got 0)"),
        ("model:\n  max_retries: -2\n", "model.max_retries", "expected an integer >= 0 (got -2)"),
        ("model:\n  timeout: 0\n", "model.timeout", "expected a number > 0 (got 0)"),
    ],
)
def test_out_of_range_numbers_state_the_range(
    home: HermesHome, text: str, key: str, expected: str
) -> None:
    assert str(yaml_error(home, text)) == f"{home.config_yaml}: {key}: {expected}"


def test_errors_in_gateway_json_name_gateway_json(home: HermesHome) -> None:
    home.gateway_json.write_text(
        json.dumps({"reset_by_platform": {"telegram": {"idle_minutes": "240"}}})
    )
    error = load_error(home)
    assert str(error) == (
        f"{home.gateway_json}: reset_by_platform.telegram.idle_minutes: expected an integer >= 1 (got '240')"
    )


# --- unknown names --------------------------------------------------------------------


def test_unknown_platform_lists_the_known_names(home: HermesHome) -> None:
    error = yaml_error(home, "platforms:\n  telgram:\n    token: x\n")
    message = str(error)
    assert message.startswith(
        f"{home.config_yaml}: platforms.telgram: unknown platform; expected one of telegram, "
    )
    assert "wecom_callback" in message and "console" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("reset_by_platform:\n  telegrm:\n    mode: idle\n", "reset_by_platform.telegrm"),
        ("reset_by_type:\n  private:\n    mode: idle\n", "reset_by_type.private"),
        ("display:\n  platforms:\n    slak:\n      tool_progress: all\n", "display.platforms.slak"),
    ],
)
def test_unknown_names_in_per_platform_and_per_type_tables(
    home: HermesHome, text: str, key: str
) -> None:
    error = yaml_error(home, text)
    assert error.key == key and "unknown" in str(error) and "expected one of" in str(error)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            "session_reset:\n  idle_minute: 5\n",
            "session_reset.idle_minute",
            "one of mode, at_hour, idle_minutes",
        ),
        (
            "reset_by_platform:\n  telegram:\n    hour: 5\n",
            "reset_by_platform.telegram.hour",
            "one of mode, at_hour, idle_minutes",
        ),
        ("approvals:\n  timout: 5\n", "approvals.timout", "one of timeout, mode, unattended"),
        (
            "display:\n  tool_progres: all\n",
            "display.tool_progres",
            "one of tool_progress, background_process_notifications, platforms",
        ),
    ],
)
def test_unknown_keys_in_owned_sections_are_typos(
    home: HermesHome, text: str, key: str, expected: str
) -> None:
    error = yaml_error(home, text)
    assert str(error) == f"{home.config_yaml}: {key}: unknown key; expected {expected}"


def test_unknown_keys_elsewhere_are_not_errors(home: HermesHome) -> None:
    home.config_yaml.write_text(
        "memory:\n  enabled: true\nplatforms:\n  telegram:\n    require_mention: true\n"
    )
    settings = load_settings(home, environ={})
    assert settings.raw["platforms"]["telegram"]["require_mention"] is True


# --- environment ----------------------------------------------------------------------


def test_bad_boolean_in_process_environment_names_the_variable(home: HermesHome) -> None:
    error = load_error(home, {"TELEGRAM_ALLOW_ALL_USERS": "maybe"})
    assert (
        str(error)
        == "environment: TELEGRAM_ALLOW_ALL_USERS: expected true, false, 1, 0, yes or no (got 'maybe')"
    )
    assert error.source == "environment"


def test_bad_boolean_in_dotenv_names_the_dotenv_file(home: HermesHome) -> None:
    home.env_file.write_text("GATEWAY_ALLOW_ALL_USERS=sometimes\n")
    error = load_error(home)
    assert (
        str(error)
        == f"{home.env_file}: GATEWAY_ALLOW_ALL_USERS: expected true, false, 1, 0, yes or no (got 'sometimes')"
    )


def test_bad_enum_in_environment_names_the_variable(home: HermesHome) -> None:
    error = load_error(
        home, {"HERMES_BACKGROUND_NOTIFICATIONS": "loud", "HERMES_PROVIDER": "openai"}
    )
    assert (
        str(error)
        == "environment: HERMES_BACKGROUND_NOTIFICATIONS: expected one of all, result, error, off (got 'loud')"
    )


# --- secrets --------------------------------------------------------------------------


def test_secret_of_the_wrong_type_is_never_echoed(home: HermesHome) -> None:
    error = yaml_error(home, f"platforms:\n  telegram:\n    token: [{SECRET}]\n")
    assert (
        str(error)
        == f"{home.config_yaml}: platforms.telegram.token: expected a string (got a list)"
    )


def test_secret_string_in_an_error_is_masked(home: HermesHome) -> None:
    error = ConfigError("environment", "OPENAI_API_KEY", "something else", SECRET)
    assert (
        str(error) == f"environment: OPENAI_API_KEY: expected something else (got {mask(SECRET)})"
    )
    assert mask(SECRET) == "sk-…CRET"


def test_masks_show_a_prefix_and_last_four_only_for_long_values() -> None:
    assert mask("sk-abcdefghijkl") == "sk-…ijkl"
    assert mask("short-token") == "****"
    assert mask("") == ""


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "platforms.x.bot_token",
        "model.api_key",
        "OPENAI_API_KEY",
        "extra.client_secret",
        "smtp_password",
        "extra.app_token",
    ],
)
def test_secret_keys_are_recognised_by_their_last_part(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["home_channel", "token.home", "tool_progress", "allowed_users", "keys"]
)
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_secrets_never_appear_in_effective_or_repr(home: HermesHome) -> None:
    home.config_yaml.write_text(
        f"model:\n  api_key: {SECRET}1\nplatforms:\n  slack:\n    extra:\n      app_token: {SECRET}2\n"
    )
    home.env_file.write_text(f"TELEGRAM_BOT_TOKEN={SECRET}3\nOPENAI_API_KEY={SECRET}4\n")
    settings = load_settings(home, environ={"WEBHOOK_API_KEY": f"{SECRET}5"})
    effective = settings.effective()
    shown = (
        repr(effective)
        + repr(settings)
        + repr(settings.platforms["telegram"])
        + repr(settings.model)
    )
    assert SECRET not in shown
    assert effective["platforms"]["telegram"]["token"] == mask(f"{SECRET}3")
    assert effective["platforms"]["slack"]["extra"]["app_token"] == mask(f"{SECRET}2")
    assert effective["model"]["api_key"] == mask(f"{SECRET}1")
    assert settings.effective(masked=False)["platforms"]["telegram"]["token"] == f"{SECRET}3"


def test_effective_is_plain_nested_data(home: HermesHome) -> None:
    effective = load_settings(home, environ={"GATEWAY_ALLOWED_USERS": "a"}).effective()
    assert effective["allowed_users"] == ["a"]
    assert effective["session_reset"] == {"mode": "both", "at_hour": 4, "idle_minutes": 1440}
    assert json.loads(json.dumps(effective)) == effective
