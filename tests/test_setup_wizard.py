"""`hermes gateway setup` driven key by key through a prompt_toolkit pipe input, writing a real
HERMES_HOME; online checks go to the loopback Telegram peer and the scripted model peer."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from hermes_gateway.config import load_settings
from hermes_gateway.home import HermesHome
from tests.wizard_driver import CLEAR_LINE, CTRL_C, DOWN, ENTER, SPACE, run_wizard

BAD_SHAPE = "not-a-token"
WRONG = "999999:WRONG-TOKEN-XYZ"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A temporary HERMES_HOME and an environment without anyone's real keys."""
    root = tmp_path / "hermes"
    monkeypatch.setenv("HERMES_HOME", str(root))
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_TOKEN")) or name.startswith(("TELEGRAM_", "HERMES_M")):
            monkeypatch.delenv(name)
    return root


def test_new_setup_writes_env_0600_and_config_yaml(home, monkeypatch, telegram_peer, openai_peer):
    monkeypatch.setenv("TELEGRAM_BASE_URL", telegram_peer.base_url)
    token = telegram_peer.token
    run = run_wizard(
        [
            ("· Telegram", SPACE + ENTER),
            ("Bot token", token + ENTER),
            ("Check online now — ask Telegram who the bot is", "y"),
            ("Allowed user IDs", "111, 222" + ENTER),
            ("Home chat ID", "-1001234" + ENTER),
            ("Which model provider?", DOWN * 4 + ENTER),  # the local server
            ("Server URL", CLEAR_LINE + openai_peer.base_url + ENTER),
            ("API key (optional)", ENTER),
            ("Model", CLEAR_LINE + "qwen3:8b" + ENTER),
            ("Check online now — ask the server", "y"),
            ("Write these changes?", "y"),
            ("Install and start the gateway service now?", "n"),
        ]
    )
    assert not run.error, run.error + "\n" + run.screen
    assert run.code == 0, run.screen
    screen = run.screen
    assert "Telegram knows the bot as @hermes_test_bot." in screen
    assert "accepted the key" in screen
    assert "+ TELEGRAM_BOT_TOKEN = 123…OKEN" in screen  # the summary masks the token
    assert token not in screen  # never echoed: not while typing, not in the summary
    assert "hermes gateway restart" in screen and "Next steps" in screen

    env_file = home / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text() == (
        f"TELEGRAM_BOT_TOKEN={token}\nTELEGRAM_ALLOWED_USERS=111,222\n"
        "TELEGRAM_HOME_CHANNEL=-1001234\n"
    )
    settings = load_settings(HermesHome(home), {})
    assert settings.model.provider == "custom"
    assert settings.model.base_url == openai_peer.base_url
    assert settings.model.default == "qwen3:8b"
    assert settings.platforms["telegram"].allowed_users == ("111", "222")


ENV_BEFORE = """\
# my secrets, by hand
TELEGRAM_BOT_TOKEN=123456:TEST-TOKEN   # from BotFather, March
TELEGRAM_ALLOWED_USERS=111
UNRELATED_TOOL_KEY=keep-me
export OPENAI_API_KEY=sk-test-0123456789abcdef
"""

YAML_BEFORE = """\
# gateway config
model:
  provider: openai  # paid
  default: gpt-4.1
session_reset:
  mode: idle
my_other_tool:
  colour: blue   # not ours
"""


def write_home(home) -> None:
    home.mkdir(parents=True)
    (home / ".env").write_text(ENV_BEFORE)
    (home / "config.yaml").write_text(YAML_BEFORE)


def test_editing_keeps_unknown_keys_comments_and_unchanged_values(home):
    write_home(home)
    run = run_wizard(
        [
            ("✓ Telegram", SPACE + ENTER),
            ("Bot token (Enter keeps 123…OKEN)", ENTER),
            ("Check online now", "n"),
            ("Allowed user IDs", ",333" + ENTER),  # pre-filled with 111
            ("Home chat ID", ENTER),
            ("Which model provider?", ENTER),  # OpenAI, as configured
            ("OpenAI API key (Enter keeps sk-…cdef)", ENTER),
            ("Model", ENTER),
            ("Check online now", "n"),
            ("Write these changes?", "y"),
            ("Install and start the gateway service now?", "n"),
        ]
    )
    assert not run.error, run.error + "\n" + run.screen
    assert run.code == 0, run.screen
    assert "~ TELEGRAM_ALLOWED_USERS = 111,333" in run.screen
    assert "model.provider" not in run.screen.split("Summary")[1]  # unchanged: not written
    assert (home / ".env").read_text() == ENV_BEFORE.replace("=111\n", "=111,333\n")
    assert (home / "config.yaml").read_text() == YAML_BEFORE  # nothing for it to change
    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "steps",
    [
        [("Which platforms", CTRL_C)],
        [("✓ Telegram", SPACE + ENTER), ("Bot token", "123456:NEW-TOKEN-ABC" + CTRL_C)],
        [
            ("✓ Telegram", SPACE + ENTER),
            ("Bot token", "123456:NEW-TOKEN-ABC" + ENTER),
            ("Check online now", "n"),
            ("Allowed user IDs", "9" + ENTER),
            ("Home chat ID", ENTER),
            ("Which model provider?", DOWN * 3 + ENTER),  # offline (from OpenAI)
            ("Write these changes?", CTRL_C),
        ],
    ],
    ids=["at-the-platform-list", "while-typing-the-token", "at-the-summary"],
)
def test_ctrl_c_anywhere_leaves_every_file_byte_identical(home, steps):
    write_home(home)
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    modes = {p.name: p.stat().st_mode for p in home.iterdir()}
    run = run_wizard(steps)
    assert not run.error, run.error + "\n" + run.screen
    assert run.code == 130
    assert "Setup cancelled: no file was changed." in run.screen
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before  # no temp file either
    assert {p.name: p.stat().st_mode for p in home.iterdir()} == modes


def test_setup_telegram_jumps_there_rejects_bad_tokens_and_asks_again(
    home, monkeypatch, telegram_peer
):
    monkeypatch.setenv("TELEGRAM_BASE_URL", telegram_peer.base_url)
    run = run_wizard(
        [
            ("Bot token", BAD_SHAPE + ENTER),
            ("TELEGRAM_BOT_TOKEN should look like 123456789:AAE…", CLEAR_LINE + WRONG + ENTER),
            ("Check online now", "y"),
            ("Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized)", ""),
            ("What now?", ENTER),  # enter the credentials again
            ("Bot token (Enter keeps", CLEAR_LINE + telegram_peer.token + ENTER),
            ("Check online now", "y"),
            ("Telegram knows the bot as @hermes_test_bot.", ""),
            ("Allowed user IDs", ENTER),
            ("Home chat ID", ENTER),
            ("Write these changes?", "y"),
        ],
        platform="telegram",
    )
    assert not run.error, run.error + "\n" + run.screen
    assert run.code == 0, run.screen
    screen = run.screen
    assert "Which platforms" not in screen and "Which model provider" not in screen
    assert "hermes pairing approve telegram <CODE>" in screen  # no allowlist: pairing explained
    assert WRONG not in screen and telegram_peer.token not in screen
    assert (home / ".env").read_text() == f"TELEGRAM_BOT_TOKEN={telegram_peer.token}\n"
    assert not (home / "config.yaml").exists()  # the model was not part of this run


def test_pressing_enter_throughout_an_existing_setup_writes_nothing(home):
    write_home(home)
    run = run_wizard(
        [
            ("Bot token (Enter keeps", ENTER),
            ("Check online now", "n"),
            ("Allowed user IDs", ENTER),
            ("Home chat ID", ENTER),
        ],
        platform="telegram",
    )
    assert not run.error, run.error + "\n" + run.screen
    assert run.code == 0
    assert "Nothing to change" in run.screen
    assert (home / ".env").read_text() == ENV_BEFORE


def hermes(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HERMES_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "hermes_gateway", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_without_a_terminal_setup_fails_fast_and_names_the_settings(tmp_path):
    result = hermes(tmp_path / "h", "gateway", "setup")
    assert result.returncode == 2
    assert "needs an interactive terminal" in result.stderr
    assert "TELEGRAM_BOT_TOKEN=…" in result.stderr and "model.provider" in result.stderr
    only = hermes(tmp_path / "h", "gateway", "setup", "email")
    assert only.returncode == 2
    assert "EMAIL_IMAP_HOST=…" in only.stderr and "TELEGRAM" not in only.stderr
    assert not (tmp_path / "h").exists()  # nothing created


def test_unknown_and_unavailable_platforms_are_refused(tmp_path):
    unknown = hermes(tmp_path, "gateway", "setup", "myspace")
    assert unknown.returncode == 2 and "unknown platform 'myspace'" in unknown.stderr
    later = hermes(tmp_path, "gateway", "setup", "whatsapp")
    assert later.returncode == 2 and "not available in this version yet" in later.stderr
