"""`hermes tui` in a real terminal: tmux runs the control center against a running
`hermes gateway --headless` (loopback Telegram peer, scripted model). A Telegram user asks for
a recursive delete, the TUI shows the approval, the operator presses `a`, the command runs and
the chat gets the agent's answer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.gateway_proc import REPO, GatewayProcess
from tests.helpers import peer_config, write_config
from tests.test_agent_runtime_e2e import call
from tests.test_telegram_e2e import ALICE, telegram_env

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed: the real-terminal test of `hermes tui` needs it",
)

WAIT = 20.0  # seconds: an upper bound on a loaded machine, never a speed assertion
WIDTH, HEIGHT = 160, 48
LISTENING = "control socket listening"
FINAL = "Removed old-build."
TOAST_FREE = 80  # columns on the left that toasts never cover


class Tmux:
    """One tmux server of our own (-L: never the user's), one session running one command."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"hermes-e2e-{uuid.uuid4().hex[:8]}"
        self.session = "hermes"
        self.conf = workdir / "tmux.conf"
        # The pane stays after the TUI exits, so a crash leaves its traceback to read.
        self.conf.write_text("set -g remain-on-exit on\nset -g status off\n")

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.conf), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        self.run("new-session", "-d", "-s", self.session, *size, "-c", str(cwd), *command, env=env)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def pane(self, field: str) -> str:
        return self.run("display-message", "-p", "-t", self.session, f"#{{{field}}}").strip()

    def exit_status(self, explain) -> str:  # noqa: ANN001
        """The exit status of the pane's command: what `reporting_exit` printed, or tmux's own
        "Pane is dead (status N, …)" line (a full-screen app may clear the printed one)."""
        found = wait_for(lambda: EXIT_LINE.search(self.screen()), "the command to exit", explain)
        return found.group(1) or found.group(2)

    def kill(self) -> None:
        """Kill our server (and with it the pane's process); make sure that process is gone."""
        try:
            pid = int(self.pane("pane_pid"))
        except (AssertionError, ValueError, subprocess.TimeoutExpired):
            pid = 0
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=WAIT
        )
        if pid:
            _reap(pid)


def _reap(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    terminal = Tmux(tmp_path)
    try:
        yield terminal
    finally:
        terminal.kill()


def wait_for(check: Callable[[], object], what: str, explain: Callable[[], str]) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {WAIT:g} s waiting for {what}\n{explain()}")


def approvals_pane(screen: str) -> str:
    """The Approvals pane's text: the bottom row's left pane, from its title down."""
    lines = screen.splitlines()
    top = next((i for i, line in enumerate(lines) if "5 Approvals" in line), None)
    if top is None:
        return ""
    left = lines[top].index("5 Approvals") - 3  # "╭─ " (or "┏━ " focused) before the title
    corners = (lines[top].find(c, left) for c in "╮┓")
    right = min((i for i in corners if i > 0), default=len(lines[top]))
    return "\n".join(line[left : right + 1] for line in lines[top:])


def footer(screen: str) -> str:
    lines = screen.rstrip("\n").splitlines()
    return lines[-1] if lines else ""


EXIT_LINE = re.compile(r"\[exit (\d+)\]|Pane is dead \(status (\d+)")


def reporting_exit(command: list[str]) -> list[str]:
    """`command` under a shell that prints its exit status on the screen: tmux records a dead
    pane's status only once it has reaped the process, which is not reliable."""
    return ["sh", "-c", '"$@"; echo "[exit $?]"', "sh", *command]


def hermes_command() -> list[str]:
    """The installed `hermes` script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("hermes")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hermes_gateway"]


def test_tui_in_tmux_attaches_shows_a_telegram_approval_and_a_runs_it(
    tmp_path, tmux, openai_peer, telegram_peer
):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, "display:\n  tool_progress: 'off'\n"))
    doomed = home / "workspace" / "old-build"
    doomed.mkdir(parents=True)
    (doomed / "bundle.js").write_text("// stale\n")
    openai_peer.script([call("terminal", command="rm -r old-build"), {"text": FINAL}])

    gateway = GatewayProcess(home, env=telegram_env(telegram_peer))
    try:
        gateway.wait_for_log(LISTENING)
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update(HERMES_HOME=str(home), PYTHONUNBUFFERED="1")
        tmux.start(reporting_exit([*hermes_command(), "tui"]), env, REPO)

        def explain() -> str:
            try:
                screen = tmux.screen()
            except AssertionError as exc:
                screen = str(exc)
            return f"--- screen ---\n{screen}\n--- gateway log ---\n" + "\n".join(
                gateway.stderr_lines[-20:]
            )

        title = f"attached to PID {gateway.proc.pid}"
        wait_for(lambda: title in tmux.screen() and "● live" in tmux.screen(), title, explain)

        telegram_peer.message(chat_id=ALICE, text="please delete old-build")
        # The badge may trail the pane by a refresh (see the report); both must show.
        pending = wait_for(
            lambda: (
                "1 approval waiting" in (screen := tmux.screen())
                and "rm -r" in (pane := approvals_pane(screen))
                and pane
            ),
            "the approval in the Approvals pane and the badge in the title bar",
            explain,
        )
        assert "telegram" in pending, explain()
        assert doomed.exists()  # nothing runs before the operator decides

        # One key at a time, each once the screen shows the last: a digit's focus lands a
        # moment later, and an `f` typed before it maximises the old pane (see the report).
        tmux.keys("5")
        wait_for(lambda: "a Approve once" in footer(tmux.screen()), "Approvals focused", explain)
        tmux.keys("f")  # maximised: nothing of the command is cut
        wait_for(
            lambda: "rm -r old-build" in approvals_pane(tmux.screen()),
            "the full command in the maximised Approvals pane",
            explain,
        )
        tmux.keys("a")
        wait_for(lambda: not doomed.exists(), "the approved rm -r to remove the directory", explain)
        decision = gateway.wait_for_log("approval.resolved")
        assert "decision=once" in decision and "by=operator" in decision  # the TUI's `a`

        def final_reply() -> bool:
            return any(m["text"] == FINAL for m in telegram_peer.messages(ALICE).values())

        wait_for(final_reply, "the agent's final reply in the Telegram chat", explain)

        def decided() -> bool:
            # Toasts cover the pane's right part for a while: read its left part only.
            screen = tmux.screen()
            pane = "\n".join(line[:TOAST_FREE] for line in approvals_pane(screen).splitlines())
            return "approval waiting" not in screen.splitlines()[0] and "old-build" not in pane

        wait_for(decided, "the approval to leave the pane and the badge", explain)

        tmux.keys("q")  # attached: quitting leaves the service running, so no question
        assert tmux.exit_status(explain) == "0", explain()
        assert gateway.proc.poll() is None  # the service outlives the TUI attached to it
        assert gateway.terminate() == 0
    finally:
        gateway.stop()


# -- the look in a real terminal ----------------------------------------------------------------
STATIC_APP = (
    "from tests.tui_static import StaticHandle, static_app; static_app(StaticHandle()).run()"
)
VERTICAL = "│┃"
CORNERS = "╭╰┏┗"


def cell_width(char: str) -> int:
    """Cells a terminal gives `char`: wide emoji two, a variation selector or combining mark
    none (as tmux counts them)."""
    if char == "\ufe0f" or unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def border_columns(line: str) -> tuple[int, ...]:
    column, found = 0, []
    for char in line:
        if char in VERTICAL:
            found.append(column)
        column += cell_width(char)
    return tuple(found)


def misaligned_rows(screen: str) -> list[str]:
    """Rows whose pane borders are not where the row above has them (inside one band of
    panes every row has its borders in the same columns)."""
    lines = screen.splitlines()[1:-1]  # between the title bar and the footer
    bad = []
    for above, line in zip(lines, lines[1:], strict=False):
        if any(c in above for c in CORNERS) or any(c in line for c in CORNERS):
            continue  # a band starts or ends here
        if border_columns(line) != border_columns(above):
            bad.append(line)
    return bad


def test_canned_screen_in_tmux_keeps_every_pane_border_in_its_column(tmux):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    tmux.start([sys.executable, "-c", STATIC_APP], env, REPO)

    def explain() -> str:
        return "--- screen ---\n" + tmux.screen()

    wait_for(lambda: "pytest -q tests/test_ro" in tmux.screen(), "the canned activity", explain)
    # Partial updates position each changed span, which can hide a shifted row; after a
    # resize Textual paints every row whole, as a terminal that was just opened sees it.
    tmux.run("resize-window", "-t", tmux.session, "-x", str(WIDTH - 10))
    wait_for(lambda: "● live" in tmux.screen().splitlines()[0], "the narrower screen", explain)
    tmux.run("resize-window", "-t", tmux.session, "-x", str(WIDTH))
    screen = wait_for(lambda: steady(tmux), "the screen to stop changing", explain)
    bad = misaligned_rows(screen)
    assert not bad, "borders out of their columns in:\n" + "\n".join(bad)


def steady(tmux: Tmux) -> str:
    """The screen, once two looks a moment apart agree (else "")."""
    first = tmux.screen()
    time.sleep(0.3)
    return first if tmux.screen() == first else ""
