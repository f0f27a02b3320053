"""The setup engine without the prompts: validators, platform state, the plan and its writer."""

from __future__ import annotations

import stat

import pytest

from hermes_gateway.config import load_settings
from hermes_gateway.home import HermesHome
from hermes_gateway.setup import (
    SPECS,
    ModelChoice,
    Snapshot,
    State,
    Target,
    all_states,
    apply_plan,
    plan_changes,
    spec_for,
)
from hermes_gateway.setup import validators as v
from hermes_gateway.setup.state import problems

TOKEN = "123456789:AAEhBP0av18dAs8Xi-zkNfrX0fGe_2Q7aaa"
SECRET_PASSWORD = "correct horse battery staple"


# -- validators ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        (v.telegram_token, TOKEN, "AAEhBP0av18dAs8Xi"),
        (v.telegram_token, "123456:TEST-TOKEN", "123456:short"),
        (v.discord_token, "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz012", "abc"),
        (v.prefixed("xoxb-", "bot token"), "xoxb-1234-5678-abcdef", "xapp-1-A0-123-abc"),
        (v.url, "https://matrix.example.org", "matrix.example.org"),
        (v.url, "http://127.0.0.1:8080", "http://127.0.0.1:99999"),
        (v.email, "hermes@example.com", "hermes.example.com"),
        (v.port, "993", "70000"),
        (v.port, "587", "smtp"),
        (v.host, "imap.example.com", "imap example com"),
        (v.matrix_user, "@hermes:example.org", "hermes"),
        (v.phone_number, "+4915112345678", "015112345678"),
        (v.numeric_id, "-1001822334455", "general"),
        (v.matrix_room, "!abc:example.org", "ops"),
        (v.slack_channel, "C0123456789", "#general"),
        (v.id_list("numeric"), "111, 222,333", "111,alice"),
        (v.id_list("email"), "a@example.com, b@example.org", "a@example.com,bob"),
        (v.id_list("matrix"), "@a:x.org", "a:x.org"),
        (v.id_list("signal"), "+4915112345678,1b4e28ba-2fa1-11d2-883f-0016d3cca427", "bob"),
    ],
)
def test_validator_accepts_the_right_shape_and_names_the_setting_otherwise(validator, good, bad):
    assert validator("SETTING", good) is None
    message = validator("SETTING", bad)
    assert message and message.startswith("SETTING ")
    assert "\n" not in message


def test_a_rejected_secret_is_not_repeated_in_the_message():
    wrong = "AAEhBP0av18dAs8Xi-zkNfrX0fGe_2Q7-no-digits"
    message = spec_for("telegram").field("TELEGRAM_BOT_TOKEN").check(wrong)
    assert message and "TELEGRAM_BOT_TOKEN" in message
    assert wrong not in message


def test_required_fields_refuse_empty_answers_optional_ones_accept_them():
    spec = spec_for("telegram")
    assert spec.field("TELEGRAM_BOT_TOKEN").check("") == "TELEGRAM_BOT_TOKEN is required"
    assert spec.field("TELEGRAM_ALLOWED_USERS").check("") is None
    assert spec.field("TELEGRAM_HOME_CHANNEL").check("  ") is None


def test_every_spec_field_is_a_platform_variable_of_its_own_platform():
    for spec in SPECS:
        for field in spec.all_fields():
            assert field.env.startswith(spec.platform.env_prefix + "_"), field.env


def test_email_suggests_servers_from_the_address():
    spec = spec_for("email")
    answers = {"EMAIL_ADDRESS": "hermes@example.com"}
    assert spec.field("EMAIL_IMAP_HOST").default_for(answers) == "imap.example.com"
    assert spec.field("EMAIL_SMTP_HOST").default_for(answers) == "smtp.example.com"
    assert spec.field("EMAIL_IMAP_PORT").default_for(answers) == "993"


def test_matrix_needs_one_complete_login_of_the_two():
    spec = spec_for("matrix")
    base = {"MATRIX_HOMESERVER": "https://matrix.example.org"}
    assert problems(spec, {**base, "MATRIX_ACCESS_TOKEN": "syt_abcdefghijkl"}) == []
    both = {**base, "MATRIX_USER_ID": "@bot:example.org", "MATRIX_PASSWORD": "pw"}
    assert problems(spec, both) == []
    assert problems(spec, {**base, "MATRIX_USER_ID": "@bot:example.org"}) == [
        "MATRIX_PASSWORD is required"
    ]


# -- platform state ------------------------------------------------------------------------------


def snapshot(root, env_text: str = "", yaml_text: str | None = None, environ=None) -> Snapshot:
    root.mkdir(parents=True, exist_ok=True)
    if env_text:
        (root / ".env").write_text(env_text)
    if yaml_text is not None:
        (root / "config.yaml").write_text(yaml_text)
    return Snapshot.load(HermesHome(root), environ or {})


def test_states_configured_not_configured_and_failing_with_the_reason(tmp_path):
    snap = snapshot(
        tmp_path,
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nSLACK_BOT_TOKEN=xoxb-1234-5678-abcdef\n"
        "EMAIL_ADDRESS=not-an-address\n",
    )
    states = {s.spec.name: s for s in all_states(snap)}
    assert states["telegram"].state is State.CONFIGURED
    assert states["telegram"].marker == "✓"
    assert states["discord"].state is State.NOT_CONFIGURED
    assert states["discord"].marker == "·"
    assert states["slack"].state is State.FAILING
    assert states["slack"].text == "failing: SLACK_APP_TOKEN is required"
    assert states["email"].state is State.FAILING
    assert "EMAIL_ADDRESS should be an e-mail address" in states["email"].reason


def test_a_platform_turned_off_in_config_yaml_is_not_configured_and_says_why(tmp_path):
    snap = snapshot(
        tmp_path, f"TELEGRAM_BOT_TOKEN={TOKEN}\n", "platforms:\n  telegram:\n    enabled: false\n"
    )
    state = next(s for s in all_states(snap) if s.spec.name == "telegram")
    assert state.state is State.NOT_CONFIGURED
    assert "platforms.telegram.enabled" in state.reason


def test_state_reads_the_process_environment_too(tmp_path):
    snap = snapshot(tmp_path, environ={"TELEGRAM_BOT_TOKEN": "wrong"})
    state = next(s for s in all_states(snap) if s.spec.name == "telegram")
    assert state.state is State.FAILING
    assert "wrong" not in state.text


# -- plan and writer -----------------------------------------------------------------------------

EXISTING_ENV = """\
# Hermes secrets — keep this file private
export OPENAI_API_KEY=sk-old-0123456789abcdef
TELEGRAM_TOKEN=111:OLDOLDOLDOLD   # set by hand
SOMETHING_ELSE=kept   # a key we know nothing about
"""

EXISTING_YAML = """\
# my gateway
model:
  provider: openai   # the paid one
  default: gpt-4.1
  api_key: sk-inline-0123456789abcdef
platforms:
  telegram:
    allowed_users: [111, 222]  # the family
    home_channel: '-100123'
    token: 999:SHOULD-MOVE-TO-ENV
custom_tool_settings:
  keep: me
"""


def test_plan_writes_where_values_live_moves_secrets_and_keeps_everything_else(tmp_path):
    snap = snapshot(tmp_path, EXISTING_ENV, EXISTING_YAML)
    answers = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_ALLOWED_USERS": "111, 222, 333",
        "TELEGRAM_HOME_CHANNEL": "-100123",  # unchanged: no write
    }
    model = ModelChoice("openrouter", "anthropic/claude-sonnet-4", api_key="sk-or-v1-abcdef0123456")
    plan = plan_changes(snap, answers, model, platforms=["telegram"])
    env = plan.for_target(Target.DOTENV)
    yaml = plan.for_target(Target.YAML)
    assert env == {
        "TELEGRAM_TOKEN": None,  # the other variable for the same setting goes
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "OPENROUTER_API_KEY": "sk-or-v1-abcdef0123456",
    }
    assert yaml == {
        "platforms.telegram.token": None,  # a secret leaves config.yaml for .env
        "platforms.telegram.allowed_users": ["111", "222", "333"],
        "model.provider": "openrouter",
        "model.default": "anthropic/claude-sonnet-4",
        "model.api_key": None,
    }
    lines = [line for group in plan.summary().values() for line in group]
    assert TOKEN not in "\n".join(lines) and "sk-or-v1-abcdef0123456" not in "\n".join(lines)

    apply_plan(plan)
    env_text = (tmp_path / ".env").read_text()
    assert env_text.startswith("# Hermes secrets — keep this file private\n")
    assert "export OPENAI_API_KEY=sk-old-0123456789abcdef\n" in env_text
    assert "SOMETHING_ELSE=kept   # a key we know nothing about\n" in env_text
    assert "TELEGRAM_TOKEN" not in env_text
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    yaml_text = (tmp_path / "config.yaml").read_text()
    assert "# my gateway" in yaml_text and "# the paid one" in yaml_text
    assert "custom_tool_settings:\n  keep: me" in yaml_text
    assert "SHOULD-MOVE" not in yaml_text and "sk-inline" not in yaml_text

    settings = load_settings(HermesHome(tmp_path), {})
    telegram = settings.platforms["telegram"]
    assert telegram.token == TOKEN
    assert telegram.allowed_users == ("111", "222", "333")
    assert telegram.home_channel == "-100123"
    assert settings.model.provider == "openrouter"
    assert settings.env["OPENROUTER_API_KEY"] == "sk-or-v1-abcdef0123456"


def test_new_home_gets_env_with_mode_0600_and_a_config_yaml(tmp_path):
    root = tmp_path / "fresh"
    snap = Snapshot.load(HermesHome(root), {})
    answers = {"EMAIL_ADDRESS": "bot@example.com", "EMAIL_PASSWORD": SECRET_PASSWORD,
               "EMAIL_IMAP_HOST": "imap.example.com", "EMAIL_IMAP_PORT": "993",
               "EMAIL_SMTP_HOST": "smtp.example.com", "EMAIL_SMTP_PORT": "587",
               "EMAIL_ALLOWED_USERS": "", "EMAIL_HOME_ADDRESS": ""}  # fmt: skip
    plan = plan_changes(snap, answers, ModelChoice("offline"), platforms=["email"])
    assert "EMAIL_ALLOWED_USERS" not in plan.for_target(Target.DOTENV)  # empty: nothing
    written = apply_plan(plan)
    assert written == [str(root / ".env"), str(root / "config.yaml")]
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    assert f"EMAIL_PASSWORD='{SECRET_PASSWORD}'" in (root / ".env").read_text()
    settings = load_settings(HermesHome(root), {})
    assert settings.platforms["email"].extra["imap_port"] == "993"
    assert settings.platforms["email"].enabled
    assert settings.model.provider == "offline"


def test_answers_equal_to_the_files_plan_nothing(tmp_path):
    snap = snapshot(tmp_path, f"TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_ALLOWED_USERS=1,2\n",
                    "model:\n  provider: openai\n")  # fmt: skip
    answers = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_USERS": "1, 2"}
    plan = plan_changes(snap, answers, ModelChoice("openai"), platforms=["telegram"])
    assert plan.empty, plan.changes


def test_model_stays_in_dotenv_when_the_user_keeps_it_there(tmp_path):
    snap = snapshot(tmp_path, "HERMES_PROVIDER=openai\nHERMES_MODEL=gpt-4.1\n")
    plan = plan_changes(snap, {}, ModelChoice("custom", "llama3.1", "http://127.0.0.1:11434/v1"))
    assert plan.for_target(Target.DOTENV) == {
        "HERMES_PROVIDER": "custom",
        "HERMES_MODEL": "llama3.1",
    }
    assert plan.for_target(Target.YAML) == {"model.base_url": "http://127.0.0.1:11434/v1"}


def test_switching_matrix_login_removes_the_other_secret(tmp_path):
    snap = snapshot(tmp_path, "MATRIX_HOMESERVER=https://m.example.org\nMATRIX_PASSWORD=pw\n"
                    "MATRIX_USER_ID=@bot:example.org\n")  # fmt: skip
    answers = {"MATRIX_HOMESERVER": "https://m.example.org", "MATRIX_ACCESS_TOKEN": "syt_abcdefgh",
               "MATRIX_PASSWORD": None}  # fmt: skip
    plan = plan_changes(snap, answers, platforms=["matrix"])
    assert plan.for_target(Target.DOTENV) == {
        "MATRIX_ACCESS_TOKEN": "syt_abcdefgh",
        "MATRIX_PASSWORD": None,
    }


def test_a_shell_variable_that_would_shadow_the_answer_is_a_warning(tmp_path):
    snap = snapshot(tmp_path, environ={"TELEGRAM_BOT_TOKEN": "555:SHELLSHELLSHELL"})
    plan = plan_changes(snap, {"TELEGRAM_BOT_TOKEN": TOKEN}, platforms=["telegram"])
    assert len(plan.warnings) == 1 and "TELEGRAM_BOT_TOKEN" in plan.warnings[0]
    assert "SHELL" not in plan.warnings[0]


def test_platform_turned_off_is_turned_on_when_chosen(tmp_path):
    snap = snapshot(tmp_path, yaml_text="platforms:\n  telegram:\n    enabled: false  # later\n")
    plan = plan_changes(snap, {"TELEGRAM_BOT_TOKEN": TOKEN}, platforms=["telegram"])
    apply_plan(plan)
    assert load_settings(HermesHome(tmp_path), {}).platforms["telegram"].enabled
    assert "# later" in (tmp_path / "config.yaml").read_text()


def test_invalid_config_file_stops_the_write_before_any_file_changes(tmp_path):
    snap = snapshot(tmp_path, "A=1\n", "model: {}\n")
    plan = plan_changes(snap, {"TELEGRAM_BOT_TOKEN": TOKEN}, ModelChoice("openai"), ["telegram"])
    (tmp_path / "config.yaml").write_text("model: [unclosed\n")  # broken meanwhile
    before = (tmp_path / ".env").read_bytes()
    with pytest.raises(ValueError, match="config.yaml"):
        apply_plan(plan)
    assert (tmp_path / ".env").read_bytes() == before


def test_an_online_check_sees_the_answers_and_not_what_they_cleared():
    from hermes_tui.wizard.platform_step import values_to_check

    configured = {"MATRIX_ACCESS_TOKEN": "syt_old", "MATRIX_HOMESERVER": "http://hs"}
    answers = {"MATRIX_USER_ID": "@bot:hs", "MATRIX_PASSWORD": "pw", "MATRIX_ACCESS_TOKEN": None}
    assert values_to_check(configured, answers) == {
        "MATRIX_HOMESERVER": "http://hs",
        "MATRIX_USER_ID": "@bot:hs",
        "MATRIX_PASSWORD": "pw",
    }
    assert values_to_check(configured, {"MATRIX_HOMESERVER": ""}) == configured  # "" keeps
