"""Moving between panes: digits focus one (showing it again if hidden), `h` hides the focused
one, `f` maximises it. A mixin for the app, which owns the panes."""

from __future__ import annotations

from textual.app import App
from textual.widget import Widget

from hermes_tui.widgets.pane import Pane


class PaneNavigation(App):
    last_pane: int  # where escape from the console input goes back to
    panes: list[Pane]

    def focused_pane(self) -> Pane | None:
        widget: Widget | None = self.screen.focused
        while widget is not None and not isinstance(widget, Pane):
            widget = widget.parent if isinstance(widget.parent, Widget) else None
        return widget

    def can_navigate(self, action: str) -> bool | None:
        """check_action for the navigation keys (None greys a key out)."""
        pane = self.focused_pane()
        if action == "toggle_maximize":
            return True if pane is not None else None
        if action == "hide_pane":
            visible = sum(bool(p.display) for p in self.panes)
            return True if pane is not None and visible > 1 and not self.screen.maximized else None
        return True

    def action_focus_pane(self, number: int) -> None:
        """Focus pane `number`, showing it again if it was hidden (maximised: switch to it)."""
        pane = self.panes[number - 1]
        screen = self.screen
        if screen.maximized is not None and screen.maximized is not pane:
            screen.maximize(pane, container=False)
        if not pane.display:
            pane.display = True
            self._fit_rows()
        screen.set_focus(pane.focus_target)  # at once: a key typed next must find it focused

    def action_hide_pane(self) -> None:
        """Give the focused pane's room to the others; its digit brings it back."""
        pane = self.focused_pane()
        if pane is not None:
            pane.display = False
            self._fit_rows()
            self.screen.focus_next()

    def action_toggle_maximize(self) -> None:
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        elif (pane := self.focused_pane()) is not None:
            screen.maximize(pane, container=False)

    def pane_focused(self, pane: Pane) -> None:
        if pane.TAKES_TEXT:
            return
        self.last_pane = pane.NUMBER

    def _fit_rows(self) -> None:
        """A row whose panes are all hidden gives its height to the others."""
        for row in self.query(".row"):
            row.display = any(child.display for child in row.children)
