"""The engine side of `hermes gateway setup` (the questions themselves are hermes_tui.wizard).

    specs.py       what each platform needs: one declarative table of fields
    validators.py  offline checks of one answer (token shapes, URLs, addresses, ports)
    checks.py      online checks (getMe, IMAP login, …): bounded, secret-free messages
    snapshot.py    the configuration as found: effective values and which file holds them
    state.py       configured / not configured / failing, per platform
    plan.py        every change the answers call for, decided before anything is written
    writer.py      applying a plan with the round-trip writers, Ctrl-C held off

No questionary or textual here: the wizard drives these, tests call them directly.
"""

from .checks import CheckResult, run_check
from .plan import Change, ModelChoice, Plan, Target, plan_changes
from .snapshot import Snapshot
from .specs import BY_NAME, SPECS, Field, Login, PlatformSpec, Role, spec_for
from .state import PlatformState, State, all_states, platform_state, unavailable
from .writer import apply_plan

__all__ = [
    "BY_NAME",
    "SPECS",
    "Change",
    "CheckResult",
    "Field",
    "Login",
    "ModelChoice",
    "PlatformSpec",
    "PlatformState",
    "Plan",
    "Role",
    "Snapshot",
    "State",
    "Target",
    "all_states",
    "apply_plan",
    "plan_changes",
    "platform_state",
    "run_check",
    "spec_for",
    "unavailable",
]
