"""`make screenshots` (`python -m tests.screenshots`): the README's pictures of the control
center, as SVG (Textual's own export) and PNG (cairosvg) in screenshots/.

What they show is real: the engine `hermes tui` embeds (cli_tui.open_target) on a temporary
HERMES_HOME, loopback Telegram, Discord and Slack peers and the scripted model as subprocesses,
and chats that make the agent search, read, start a server, run a background task and a slow
build, and ask for approval of a recursive delete. Only the model's words are scripted. The canned
StaticHandle (tests/tui_static.py) is for the snapshot tests: it shows platforms this version
does not have yet, so it would be a less true picture here."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hermes_gateway.cli_tui import open_target
from hermes_gateway.core.events import ConsoleReply
from hermes_gateway.home import HermesHome
from hermes_tui.app import HermesApp
from hermes_tui.screens.approval import ApprovalScreen
from hermes_tui.screens.help import HelpScreen
from hermes_tui.widgets.approvals import ApprovalsPane
from hermes_tui.widgets.platforms import PlatformsPane
from hermes_tui.widgets.sessions import SessionsPane
from hermes_tui.widgets.tasks import TasksPane
from hermes_tui.widgets.tool_log import ToolLogPane
from tests.conformance.drivers.discord import Driver as DiscordDriver
from tests.conformance.drivers.slack import Driver as SlackDriver
from tests.helpers import write_config
from tests.peers.fixtures import OpenAIPeerHandle, start_peer
from tests.peers.telegram_fixtures import TelegramPeerHandle, start_telegram_peer
from tests.wizard_screens import wizard_shots

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "screenshots"
SIZE = (160, 48)
WAIT = 30.0  # seconds: an upper bound for each step on a loaded machine
TITLE = "Hermes — embedded · ~/.hermes"  # what a user's own home reads as (not /tmp/…)
ALICE, BOB, DAVE, TEAM = 111, 222, 333, -1001822334455
FIRST_REPLY = "Two TODOs are left in src/app/routes.py: validate /orders input; 404 unknown ids."


def call(tool: str, usage: tuple[int, int] = (0, 0), **args: Any) -> dict:
    calls = [{"id": f"call_{tool}", "name": tool, "arguments": json.dumps(args)}]
    return {"tool_calls": calls, "usage": list(usage)}


# The model's side, in the order the chats below ask (the peer answers strictly FIFO). Token
# counts as a real model reports them, so the Sessions pane has something to add up.
SCRIPT = [
    {"text": "Deploy finished: 3 services healthy.", "usage": [2_311, 19]},  # Discord
    {"text": "The standup notes are in #team, thread 'Tuesday'.", "usage": [2_540, 23]},  # Slack
    call("search_files", (3_912, 41), pattern="TODO", path="src"),
    call("read_file", (4_270, 38), path="src/app/routes.py"),
    {"text": FIRST_REPLY, "usage": [4_688, 97]},
    {"delay": 600, "text": "Support summary: 14 tickets, 3 still open."},  # the /background run
    call("terminal", (3_840, 62), command="python3 -u -m http.server 0 --bind 127.0.0.1",
         background=True),
    {"text": "The docs server is up in the background; the Tasks pane shows its output.",
     "usage": [4_102, 55]},
    call("cronjob", (3_701, 24), action="list"),
    {"text": "One job: the Morning briefing, every day at 08:00, sent to Alice on Telegram.",
     "usage": [3_955, 61]},
    call("terminal", (3_977, 58), command="rm -rf site/build && rm -rf .cache"),
    call("terminal", (9_406, 44), command="make test"),
]  # fmt: skip


def prepare_home(root: Path, model_url: str) -> Path:
    home = root / ".hermes"
    write_config(
        home,
        f"model:\n  provider: custom\n  base_url: {model_url}\n  default: claude-sonnet-4-5\n"
        "  max_retries: 1\ndisplay:\n  tool_progress: 'off'\n",
    )
    work = home / "workspace"
    (work / "src" / "app").mkdir(parents=True)
    (work / "src" / "app" / "routes.py").write_text("# TODO validate input\n# TODO 404\n")
    (work / "site" / "build").mkdir(parents=True)
    (work / "Makefile").write_text("test:\n\tsleep 600\n")  # a build that is still running
    return home


async def until(pilot: Any, check: Callable[[], object], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not check():
        if loop.time() > deadline:
            raise RuntimeError(f"screenshots: timed out after {WAIT:g} s waiting for {what}")
        await pilot.pause(0.05)


async def activity(
    pilot: Any, model: OpenAIPeerHandle, telegram: TelegramPeerHandle, others: list
) -> None:
    """Real chats, one at a time so that each takes the next scripted answer."""
    app = pilot.app
    aio = telegram.aio
    questions = ("how did the deploy go?", "where are the standup notes?")
    for driver, text in zip(others, questions, strict=True):
        alice = driver.users.alice
        await driver.send(alice, text)
        await driver.wait_messages(driver.dm(alice), 1, timeout=WAIT)

    async def tell(chat_id: int, text: str, **who: Any) -> None:
        await aio.message(chat_id, text, **who)

    await tell(ALICE, "any TODOs left in the routes?", username="alice")
    await aio.wait(1, method="sendMessage", chat_id=ALICE, timeout=WAIT)
    await tell(ALICE, "/background summarise this week's support tickets", username="alice")
    await until(pilot, lambda: len(model.requests()) >= 4, "the background task's model call")
    await tell(DAVE, "start the docs server", username="dave")
    await aio.wait(1, method="sendMessage", chat_id=DAVE, timeout=WAIT)

    replies = []
    app.target.engine.bus.listen(lambda e: isinstance(e, ConsoleReply) and replies.append(e))
    await pilot.press("6", *"what is on the schedule?", "enter", "escape")
    await until(pilot, lambda: replies, "the console reply")

    bot = telegram.bot_username
    group = {"user_id": BOB, "chat_type": "supergroup", "username": "bob"}
    await tell(TEAM, f"@{bot} clean the site build, it is stale", **group)
    await until(pilot, lambda: app.pane(ApprovalsPane).count == 1, "the approval")
    await tell(ALICE, "run the tests again please", username="alice")
    tools = app.pane(ToolLogPane)
    await until(pilot, lambda: any(c.preview == "make test" for c in tools.calls), "make test")

    # A fresh snapshot brings the new sessions, users and tasks.
    def settled() -> bool:
        sessions, tasks = app.pane(SessionsPane).sessions, app.pane(TasksPane).tasks
        return len(sessions) >= 6 and {t.kind for t in tasks.values()} >= {"background", "process"}

    await until(pilot, settled, "the sessions and tasks to show")
    await pilot.pause(1.2)  # one tick: ages and counters as a person would see them


async def render(root: Path, model: OpenAIPeerHandle, telegram: TelegramPeerHandle) -> dict:
    """The main screen, the approval dialog and help, with Discord and Slack connected beside
    Telegram (their loopback peers, driven through the conformance drivers)."""
    others = [DiscordDriver(), SlackDriver()]
    for driver in others:
        await driver.start()
    try:
        return await render_with(root, model, telegram, others)
    finally:
        for driver in others:
            await driver.stop()


async def render_with(
    root: Path, model: OpenAIPeerHandle, telegram: TelegramPeerHandle, others: list
) -> dict:
    home = prepare_home(root, model.base_url)
    model.script(SCRIPT)
    env = {
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_BASE_URL": telegram.base_url,
        "TELEGRAM_BASE_FILE_URL": telegram.file_url,
        "TELEGRAM_ALLOWED_USERS": f"{ALICE},{BOB},{DAVE}",
    }
    for driver in others:
        env.update(driver.env([driver.users.alice]))
    target = open_target(HermesHome(home), env)
    target.title = TITLE
    target.engine.services.cron.add(
        "Morning briefing", "0 8 * * *", "Summarise my calendar and unread mail.", "telegram:111"
    )
    app = HermesApp(target)
    shots: dict[str, str] = {}
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            platforms = app.pane(PlatformsPane)

            def connected() -> bool:
                names = ["telegram", *(d.platform for d in others)]
                rows = [platforms.rows.get(name) for name in names]
                return app.live and all(r is not None and r.state == "connected" for r in rows)

            await until(pilot, connected, "the engine to connect")
            await activity(pilot, model, telegram, others)
            app.clear_notifications()  # toasts cover the Log pane; the badge tells the same
            await pilot.pause()
            shots["main"] = app.export_screenshot()
            await pilot.press("5", "enter")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the dialog")
            await pilot.pause()
            shots["approval"] = app.export_screenshot()
            await pilot.press("escape", "question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
            await pilot.pause()
            shots["help"] = app.export_screenshot()
            await pilot.press("escape")
    finally:
        target.release()
    return shots


def for_png(svg: str) -> str:
    """cairosvg cannot fetch the web font the SVG names and would fall back to a proportional
    one, so the PNG asks for the system's monospace font (the grid stays aligned)."""
    return svg.replace("font-family: Fira Code, monospace;", "font-family: monospace;")


def main() -> int:
    try:
        import cairosvg
    except (ImportError, OSError) as exc:  # OSError: the cairo library itself is missing
        print(
            f"screenshots: PNGs need cairosvg ({exc}); run pip install -e '.[screenshots]'.",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="hermes-shots-") as tmp:
        model = OpenAIPeerHandle(start_peer("tests.peers.openai_peer"))
        try:
            telegram = start_telegram_peer()
            try:
                shots = asyncio.run(render(Path(tmp), model, telegram))
                shots.update(wizard_shots(Path(tmp), telegram))  # hermes gateway setup, in tmux
            finally:
                telegram.close()
        finally:
            model.close()
    OUT.mkdir(exist_ok=True)
    for name, svg in shots.items():
        (OUT / f"{name}.svg").write_text(svg)
        cairosvg.svg2png(bytestring=for_png(svg).encode(), write_to=str(OUT / f"{name}.png"))
        print(f"screenshots/{name}.svg  screenshots/{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
