"""The wizard from the first heading to the next steps.

Answers are only collected until the summary; the one write happens after the user says
yes to it. Ctrl-C anywhere before that raises KeyboardInterrupt out of here, with every
file as it was (the caller says so).
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from hermes_gateway.config import ConfigError
from hermes_gateway.home import HermesHome
from hermes_gateway.setup import (
    ModelChoice,
    Plan,
    PlatformState,
    Snapshot,
    State,
    Target,
    all_states,
    apply_plan,
    plan_changes,
    unavailable,
)

from . import model_step, platform_step, shown
from . import prompts as ui

EXIT_OK, EXIT_ERROR = 0, 1


class Wizard:
    def __init__(self, home: HermesHome, only: str | None = None) -> None:
        self.home = home
        self.only = only  # `hermes gateway setup <platform>`: that platform alone
        self.snapshot: Snapshot | None = None

    def run(self) -> int:
        self._welcome()
        try:
            self.snapshot = Snapshot.load(self.home)
        except ConfigError as exc:
            ui.fail(str(exc))
            ui.dim("Fix that file first: setup changes nothing while it cannot be read.")
            return EXIT_ERROR
        states = all_states(self.snapshot)
        chosen = (
            [s for s in states if s.spec.name == self.only] if self.only else self._pick(states)
        )
        answers: dict[str, str | None] = {}
        configured: list[str] = []
        for state in chosen:
            result = platform_step.configure(state.spec, self.snapshot)
            if result is not None:
                answers.update(result)
                configured.append(state.spec.name)
        model = None if self.only else model_step.configure(self.snapshot)
        plan = plan_changes(self.snapshot, answers, model, configured)
        if not self._confirmed(plan):
            return EXIT_OK
        self._write(plan)
        installed = False if self.only else self._offer_service()
        self._next_steps(configured, answers, model, installed)
        return EXIT_OK

    # -- steps -------------------------------------------------------------------------------

    def _welcome(self) -> None:
        ui.say(("title", "Hermes Gateway setup"))
        ui.dim(
            f"Settings live in {shown(self.home.root)}: secrets in .env, the rest in config.yaml."
        )
        ui.dim("Nothing is written until you confirm the summary; Ctrl-C leaves without changes.")

    def _pick(self, states: list[PlatformState]) -> list[PlatformState]:
        ui.heading("Platforms")
        later = ", ".join(p.value for p in unavailable())
        if later:
            for line in textwrap.wrap(f"Not available in this version yet: {later}.", 86):
                ui.dim(line)
        width = max(len(s.spec.label) for s in states) + 2
        style = {State.CONFIGURED: "ok", State.FAILING: "fail", State.NOT_CONFIGURED: "dim"}
        choices = [
            (
                [
                    (f"class:{style[s.state]}", f"{s.marker} "),
                    ("", s.spec.label.ljust(width)),
                    (f"class:{style[s.state]}", s.text),
                ],
                s,
            )
            for s in states
        ]
        picked = ui.pick_many("Which platforms do you want to set up?", choices)
        if not picked:
            ui.dim("No platform chosen: only the model is set up this time.")
        return picked

    def _confirmed(self, plan: Plan) -> bool:
        ui.heading("Summary")
        if plan.empty:
            ui.ok("Nothing to change: the configuration already says all that.")
            return False
        for target, lines in plan.summary().items():
            path = self.home.env_file if target is Target.DOTENV else self.home.config_yaml
            note = "  (mode 0600)" if target is Target.DOTENV else ""
            ui.say("  ", ("code", shown(path)), ("dim", note))
            for line in lines:
                ui.say(f"    {line}")
        for warning in plan.warnings:
            ui.warn(warning)
        ui.dim("Every other line of both files stays as it is, comments included.")
        if ui.confirm("Write these changes?", default=True):
            return True
        ui.dim("Nothing was written.")
        return False

    def _write(self, plan: Plan) -> None:
        written = apply_plan(plan)
        ui.ok("Saved " + " and ".join(shown(Path(p)) for p in written) + ".")

    def _offer_service(self) -> bool:
        ui.heading("Service")
        ui.dim(
            "As a service (systemd / launchd) the gateway starts at boot and restarts if it fails."
        )
        if not ui.confirm("Install and start the gateway service now?", default=False):
            return False
        from hermes_gateway.service.cli import service_command

        for action in ("install", "start"):
            args = argparse.Namespace(gateway_action=action, system=False, force=False, print=False)
            try:
                code = service_command(args)
            except Exception as exc:  # the service layer speaks in exceptions too
                ui.fail(f"`hermes gateway {action}` failed: {exc or type(exc).__name__}")
                return False
            if code:
                ui.fail(f"`hermes gateway {action}` failed (exit {code}); see above.")
                return False
        ui.ok("The gateway service is installed and running.")
        return True

    def _next_steps(
        self,
        configured: list[str],
        answers: dict[str, str | None],
        model: ModelChoice | None,
        installed: bool,
    ) -> None:
        ui.heading("Next steps")
        steps = []
        if installed:
            steps.append(("hermes gateway status", "check the service and its platforms"))
        else:
            steps.append(("hermes gateway", "run the gateway in this terminal"))
            steps.append(("hermes gateway restart", "or apply the changes to a running service"))
        steps.append(("hermes tui", "watch platforms, sessions and approvals live"))
        if any(not answers.get(f"{name.upper()}_ALLOWED_USERS") for name in configured):
            steps.append(("hermes pairing list", "see who asked for access, then approve"))
        steps.append(("hermes config check", "print the effective configuration"))
        width = max(len(command) for command, _ in steps) + 2
        for command, what in steps:
            ui.say("  ", ("code", command.ljust(width)), ("dim", what))
        if model is not None and model.provider == "offline":
            ui.dim("The agent is offline until a model provider is set: run setup again.")
