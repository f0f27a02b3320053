"""ctrl+p: the command palette offers the same actions as the keys (each pane's bindings, on
that pane's selected row, and the app's), greyed-out ones left off."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.actions import parse
from textual.command import DiscoveryHit, Hit, Hits, Provider

from hermes_tui.screens.help import key_label

if TYPE_CHECKING:
    from hermes_tui.app import HermesApp

Command = tuple[str, str, Callable[[], object]]  # title, help, callback


class HermesCommands(Provider):
    def commands(self) -> list[Command]:
        app: HermesApp = self.app  # type: ignore[assignment]
        found: list[Command] = []
        for pane in app.panes:
            found.append(
                (
                    f"Focus {pane.TITLE}",
                    f"key {pane.NUMBER}",
                    partial(app.action_focus_pane, pane.NUMBER),
                )
            )
            for binding in pane.BINDINGS:
                _, name, params = parse(binding.action)
                if pane.check_action(name, params):
                    found.append(
                        (
                            f"{pane.TITLE}: {binding.description}",
                            f"key {key_label(binding)}",
                            partial(app.run_action, binding.action, pane),
                        )
                    )
        for binding in app.BINDINGS:
            _, name, params = parse(binding.action)
            if binding.description and name != "focus_pane" and app.check_action(name, params):
                found.append(
                    (
                        binding.description,
                        f"key {key_label(binding)}",
                        partial(app.run_action, binding.action),
                    )
                )
        return found

    async def discover(self) -> Hits:
        for title, help_text, callback in self.commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
