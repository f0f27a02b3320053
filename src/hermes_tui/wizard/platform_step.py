"""One platform's questions: its login, an optional online check, who may talk, home channel.

The answers come back as `<PREFIX>_<NAME> -> value` ("" or None: none); nothing is written
here. Today's values are the defaults, so Enter through the whole step changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from hermes_gateway.setup import Field, PlatformSpec, Role, Snapshot, run_check

from . import prompts as ui

RETRY, KEEP, SKIP = "retry", "keep", "skip"


class Skipped(Exception):
    """The user chose to skip this platform after its check failed."""


def ask_field(field: Field, current: str, answers: dict[str, str | None]) -> str:
    ui.paragraph(field.help)
    if field.secret:
        return ui.secret(field.label, current, field.check)
    default = current or field.default_for({k: v or "" for k, v in answers.items()})
    return ui.text(field.label, default, field.check)


def configure(spec: PlatformSpec, snapshot: Snapshot) -> dict[str, str | None] | None:
    """The answers for `spec`, or None when the user skips it."""
    ui.heading(spec.label)
    for line in spec.intro:
        ui.paragraph(line)
    answers: dict[str, str | None] = {}
    try:
        _login(spec, snapshot, answers)
    except Skipped:
        ui.warn(f"{spec.label} skipped: nothing about it will be written.")
        return None
    _access(spec, snapshot, answers)
    for field in spec.role(Role.HOME):
        answers[field.env] = ask_field(field, snapshot.value(field.env), answers)
    return answers


def _login(spec: PlatformSpec, snapshot: Snapshot, answers: dict[str, str | None]) -> None:
    while True:
        for field in spec.role(Role.LOGIN):
            answers[field.env] = ask_field(field, _current(field, snapshot, answers), answers)
        if spec.logins:
            _choose_login(spec, snapshot, answers)
        if not spec.check or _checked(spec, snapshot, answers):
            return


def _current(field: Field, snapshot: Snapshot, answers: dict[str, str | None]) -> str:
    """An earlier answer (when the user re-enters after a failed check), else the config."""
    earlier = answers.get(field.env)
    return earlier if earlier is not None else snapshot.value(field.env)


def _choose_login(spec: PlatformSpec, snapshot: Snapshot, answers: dict[str, str | None]) -> None:
    def complete(login) -> bool:  # noqa: ANN001 - a setup.Login
        return all(_current(f, snapshot, answers) for f in login.fields)

    current = next((login for login in spec.logins if complete(login)), spec.logins[0])
    login = ui.choose(
        "How does the bot log in?",
        [(login.label, login) for login in spec.logins],
        default=current,
    )
    for field in login.fields:
        answers[field.env] = ask_field(field, _current(field, snapshot, answers), answers)
    for variable in login.clears:
        answers[variable] = None


def values_to_check(
    configured: Mapping[str, str], answers: Mapping[str, str | None]
) -> dict[str, str]:
    """The settings an online check sees: the configuration with this run's answers over it.
    An answer of None clears its setting (the other login was chosen): checking with the old
    MATRIX_ACCESS_TOKEN after switching to a password would test the wrong credentials."""
    values = dict(configured)
    for key, value in answers.items():
        if value is None:
            values.pop(key, None)
        elif value:
            values[key] = value
    return values


def _checked(spec: PlatformSpec, snapshot: Snapshot, answers: dict[str, str | None]) -> bool:
    """True to go on (check passed, skipped or overridden); False to ask the login again."""
    if not ui.confirm(f"Check online now — {spec.check_label}?", default=True):
        return True
    values = values_to_check(snapshot.platform_values(spec.platform), answers)
    ui.dim("Checking…")
    result = asyncio.run(run_check(spec.check, values))
    if result.ok:
        ui.ok(result.message)
        return True
    ui.fail(result.message)
    decision = ui.choose(
        "What now?",
        [
            ("Enter the credentials again", RETRY),
            ("Keep them anyway (the gateway will report the failure)", KEEP),
            (f"Skip {spec.label}", SKIP),
        ],
        default=RETRY,
    )
    if decision == SKIP:
        raise Skipped
    return decision == KEEP


def _access(spec: PlatformSpec, snapshot: Snapshot, answers: dict[str, str | None]) -> None:
    fields = spec.role(Role.ACCESS)
    if not fields:
        return
    ui.say(("heading", "  Who may talk to the agent?"))
    for field in fields:
        answers[field.env] = ask_field(field, snapshot.value(field.env), answers)
    if any(answers.get(field.env) for field in fields):
        return
    if snapshot.settings.allowed_users or snapshot.settings.allow_all_users:
        ui.dim("No list for this platform: GATEWAY_ALLOWED_USERS / GATEWAY_ALLOW_ALL_USERS apply.")
    elif snapshot.settings.unauthorized_dm_behavior == "ignore":
        ui.warn("Nobody is allowed yet, and unauthorized_dm_behavior is `ignore`: strangers get")
        ui.dim("no pairing code. Add IDs here, or set unauthorized_dm_behavior: pair.")
    else:
        ui.dim("No list: people who DM the bot get a one-time pairing code, which you")
        ui.say("  approve with ", ("code", f"hermes pairing approve {spec.name} <CODE>"), ".")
