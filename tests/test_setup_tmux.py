"""`hermes gateway setup` in a real terminal (tmux): arrow keys, masked input, the inline error
for a malformed token, the online check against the loopback Telegram peer, the summary, and
the files it leaves."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from hermes_gateway.config import load_settings
from hermes_gateway.home import HermesHome
from tests.gateway_proc import REPO
from tests.test_tui_tmux import hermes_command, reporting_exit, tmux, wait_for  # noqa: F401

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed: the real-terminal test of `hermes gateway setup` needs it",
)


def wizard_command(*args: str) -> list[str]:
    return reporting_exit([*hermes_command(), "gateway", "setup", *args])


def test_setup_wizard_in_tmux(tmp_path, tmux, telegram_peer):  # noqa: F811 - the fixture
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    env.update(HERMES_HOME=str(home), TELEGRAM_BASE_URL=telegram_peer.base_url)
    tmux.start(wizard_command(), env, REPO)

    def explain() -> str:
        return "--- screen ---\n" + tmux.screen()

    def shows(text: str) -> str:
        return str(wait_for(lambda: text in (s := tmux.screen()) and s, repr(text), explain))

    listing = shows("Which platforms do you want to set up?")
    assert "· Telegram    not configured" in listing
    assert "Not available in this version yet: whatsapp" in listing
    tmux.keys("Space", "Enter")
    shows("? Bot token")
    tmux.keys("not-a-token", "Enter")
    screen = shows("TELEGRAM_BOT_TOKEN should look like 123456789:AAE…")
    assert "not-a-token" not in screen  # masked while typing
    tmux.keys("C-u", telegram_peer.token, "Enter")
    shows("Check online now — ask Telegram who the bot is")
    tmux.keys("y")
    shows("✓ Telegram knows the bot as @hermes_test_bot.")
    shows("? Allowed user IDs")
    tmux.keys("111", "Enter")
    shows("? Home chat ID")
    tmux.keys("Enter")
    shows("? Which model provider?")
    tmux.keys("Down", "Down", "Down", "Down", "Down", "Enter")  # Offline
    summary = shows("? Write these changes?")
    assert "+ TELEGRAM_BOT_TOKEN = 123…OKEN" in summary
    assert "+ model.provider = offline" in summary
    assert telegram_peer.token not in summary
    tmux.keys("y")
    shows("? Install and start the gateway service now?")
    tmux.keys("n")
    shows("Next steps")
    assert tmux.exit_status(explain) == "0", explain()

    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    settings = load_settings(HermesHome(home), {})
    assert settings.platforms["telegram"].token == telegram_peer.token
    assert settings.platforms["telegram"].allowed_users == ("111",)
    assert settings.model.provider == "offline"


def test_ctrl_c_in_tmux_changes_nothing(tmp_path, tmux):  # noqa: F811 - the fixture
    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text("# mine\nTELEGRAM_BOT_TOKEN=123456:TEST-TOKEN\n")
    before = (home / ".env").read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    env["HERMES_HOME"] = str(home)
    tmux.start(wizard_command("telegram"), env, REPO)

    def explain() -> str:
        return "--- screen ---\n" + tmux.screen()

    wait_for(lambda: "Enter keeps 123…OKEN" in tmux.screen(), "the token question", explain)
    tmux.keys("123456:HALF-TYPED", "C-c")
    wait_for(lambda: "no file was changed" in tmux.screen(), "the cancel message", explain)
    assert tmux.exit_status(explain) == "130", explain()
    assert (home / ".env").read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == [".env"]
