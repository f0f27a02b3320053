"""The look of the control center, pinned: SVG snapshots (pytest-textual-snapshot) of the main
screen, the approval dialog, the help screen and a failed platform, rendered from the canned
StaticHandle with a frozen clock at a fixed terminal size.

After an intended change of the look: `pytest tests/test_tui_snapshots.py --snapshot-update`,
then open the SVGs in tests/__snapshots__/ and check them by eye before committing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from textual.widgets import Input

from hermes_tui.screens.approval import ApprovalScreen
from hermes_tui.screens.help import HelpScreen
from hermes_tui.widgets.console import ConsolePane
from hermes_tui.widgets.platforms import PlatformsPane
from tests.tui_static import (
    CONSOLE_ANSWER,
    CONSOLE_QUESTION,
    StaticHandle,
    settle,
    static_app,
    until,
)

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen are local times: pin the zone so every machine draws the same ones."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def live_screen(pilot, handle: StaticHandle) -> None:
    """The steady main screen: canned activity shown, one console exchange, focus back on
    Sessions, no blinking cursor anywhere."""
    app = pilot.app
    for field in app.query(Input):
        field.cursor_blink = False
    await until(pilot, lambda: app.live)
    await pilot.press("6", *CONSOLE_QUESTION, "enter")
    console = app.pane(ConsolePane)
    await until(pilot, lambda: any(CONSOLE_ANSWER in line for line in console.lines))
    await pilot.press("escape")
    await settle(pilot, handle)


class TestControlCenterLook:
    def test_main_screen_shows_every_pane_with_live_activity(self, snap_compare):
        handle = StaticHandle()

        async def run_before(pilot) -> None:
            await live_screen(pilot, handle)

        assert snap_compare(static_app(handle), terminal_size=SIZE, run_before=run_before)
        assert ("send_console", CONSOLE_QUESTION) in handle.commands

    def test_approval_dialog_shows_the_full_command_with_deny_focused(self, snap_compare):
        handle = StaticHandle()

        async def run_before(pilot) -> None:
            await live_screen(pilot, handle)
            await pilot.press("5", "enter")
            await until(pilot, lambda: isinstance(pilot.app.screen, ApprovalScreen))
            await pilot.pause()

        assert snap_compare(static_app(handle), terminal_size=SIZE, run_before=run_before)
        assert not [c for c in handle.commands if c[0] == "resolve_approval"]

    def test_help_screen_lists_the_keys_of_every_pane(self, snap_compare):
        handle = StaticHandle()

        async def run_before(pilot) -> None:
            await live_screen(pilot, handle)
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
            await pilot.pause()

        assert snap_compare(static_app(handle), terminal_size=SIZE, run_before=run_before)

    def test_failed_platform_selected_shows_its_reason_and_platform_keys(self, snap_compare):
        handle = StaticHandle()

        async def run_before(pilot) -> None:
            await live_screen(pilot, handle)
            await pilot.press("1", "down")
            platforms = pilot.app.pane(PlatformsPane)
            await until(pilot, lambda: platforms.selected == "discord")
            await pilot.pause()

        assert snap_compare(static_app(handle), terminal_size=SIZE, run_before=run_before)
