"""The setup wizard's screenshots for `make screenshots`: a real `hermes gateway setup` in tmux
(an existing home with Telegram configured and Slack half done, the loopback Telegram peer for
the online check), captured with its colours (capture-pane -e) and rendered by rich as SVG.

    wizard          the platform list with each platform's state, two of them selected
    wizard-summary  the questions answered and the summary of what would be written
The run ends with Ctrl-C at the summary, so it writes nothing."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from tests.gateway_proc import REPO
from tests.peers.telegram_fixtures import TelegramPeerHandle
from tests.test_tui_tmux import Tmux, hermes_command

SIZE = (104, 50)
WAIT = 30.0  # seconds for each screen: an upper bound on a loaded machine
TITLE = "hermes gateway setup"


def prepare(root: Path, telegram: TelegramPeerHandle) -> Path:
    """~/.hermes of a user who set up Telegram before and gave up halfway through Slack."""
    home = root / ".hermes"
    home.mkdir(parents=True)
    (home / ".env").write_text(
        "# Hermes secrets\n"
        f"TELEGRAM_BOT_TOKEN={telegram.token}\n"
        "TELEGRAM_ALLOWED_USERS=111\n"
        "SLACK_BOT_TOKEN=xoxb-2841-5577-Qk3vTnY0aLpX\n"
        "OPENROUTER_API_KEY=sk-or-v1-4f1d0c2b9e8a7d6c5b4a\n"
    )
    (home / "config.yaml").write_text(
        "model:\n  provider: openrouter\n  default: anthropic/claude-sonnet-4\n"
    )
    return home


def until(tmux: Tmux, text: str) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if text in screen:
            time.sleep(0.2)  # the rest of the frame
            return screen
        time.sleep(0.05)
    raise RuntimeError(f"screenshots: the wizard never showed {text!r}:\n{tmux.screen()}")


def svg_of(tmux: Tmux) -> str:
    """The pane with its colours as SVG (trailing empty rows dropped)."""
    ansi = tmux.run("capture-pane", "-e", "-p", "-t", tmux.session).rstrip("\n")
    lines = ansi.split("\n")
    while lines and not Text.from_ansi(lines[-1]).plain.strip():
        lines.pop()
    console = Console(
        record=True, width=SIZE[0], file=io.StringIO(), force_terminal=True,
        color_system="truecolor",
    )  # fmt: skip
    console.print(Text.from_ansi("\n".join(lines)), end="")
    return console.export_svg(title=TITLE)


def wizard_shots(root: Path, telegram: TelegramPeerHandle) -> dict[str, str]:
    user = root / "wizard-user"
    home = prepare(user, telegram)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    env.update(
        HOME=str(user), HERMES_HOME=str(home), TELEGRAM_BASE_URL=telegram.base_url,
        TERM="xterm-256color", COLORTERM="truecolor",
    )  # fmt: skip
    tmux = Tmux(root)
    shots: dict[str, str] = {}
    try:
        size = ["-x", str(SIZE[0]), "-y", str(SIZE[1])]
        command = [*hermes_command(), "gateway", "setup"]
        tmux.run("new-session", "-d", "-s", tmux.session, *size, "-c", str(REPO), *command, env=env)
        until(tmux, "Which platforms do you want to set up?")
        tmux.keys("Space", "Down", "Down")
        until(tmux, "● ✓ Telegram")
        tmux.keys("Space")
        until(tmux, "● ✗ Slack")
        shots["wizard"] = svg_of(tmux)
        tmux.keys("Enter")
        answers = [
            ("Enter keeps 123…", ["Enter"]),  # Telegram's token stays
            ("Check online now", ["y"]),
            ("? Allowed user IDs", ["End", ",222", "Enter"]),
            ("? Home chat ID", ["Enter"]),
            ("Bot token (xoxb-…) (Enter keeps", ["Enter"]),
            ("? App-level token (xapp-…)", ["xapp-1-A07Q3HSK2-7781-c0ffee5a1d", "Enter"]),
            ("Check online now", ["n"]),
            ("? Allowed member IDs", ["U04ADA1LOV", "Enter"]),
            ("? Home channel ID", ["C05HERMES01", "Enter"]),
            ("? Which model provider?", ["Enter"]),
            ("(Enter keeps sk-…", ["Enter"]),
            ("? Model", ["Enter"]),
            ("Check online now — ask OpenRouter", ["n"]),
        ]
        for text, keys in answers:
            until(tmux, text)
            tmux.keys(*keys)
            if keys == ["y"]:
                until(tmux, "✓ Telegram knows the bot")
        until(tmux, "Write these changes?")
        shots["wizard-summary"] = svg_of(tmux)
        tmux.keys("C-c")
        until(tmux, "no file was changed")
    finally:
        tmux.kill()
    return shots
