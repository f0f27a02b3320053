"""`hermes gateway setup [platform]`: the arrow-key wizard (questionary).

    prompts.py        questions and output lines, one style
    platform_step.py  one platform: login, online check, access, home channel
    model_step.py     the model provider, key and model
    flow.py           the whole run: pick, ask, summary, write, service, next steps

The engine side (what to ask, validation, checks, the plan and its writer) is
hermes_gateway.setup; this package only talks to the person.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hermes_gateway.home import HermesHome
from hermes_gateway.setup import BY_NAME, unavailable

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def run_setup(args: argparse.Namespace, *, interactive: bool | None = None) -> int:
    """Run the wizard; the exit code. `interactive` None: only when stdin and stdout are TTYs
    (tests pass True with a prompt_toolkit pipe input as the terminal)."""
    only = (getattr(args, "platform", None) or "").strip().lower() or None
    if only is not None and only not in BY_NAME:
        return _unknown_platform(only)
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not interactive:
        print(non_interactive_help(only), file=sys.stderr)
        return EXIT_USAGE

    from .flow import Wizard
    from .prompts import blank, say

    try:
        return Wizard(HermesHome.from_env(), only).run()
    except KeyboardInterrupt:
        blank()
        say(("warn", "Setup cancelled: no file was changed."))
        return EXIT_INTERRUPTED


def shown(path: Path) -> str:
    """~/.hermes/.env rather than /home/ada/.hermes/.env."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _unknown_platform(name: str) -> int:
    if name in {p.value for p in unavailable()}:
        print(f"hermes: {name} is not available in this version yet.", file=sys.stderr)
    else:
        known = ", ".join(BY_NAME)
        print(f"hermes: unknown platform '{name}' (known: {known}).", file=sys.stderr)
    return EXIT_USAGE


def non_interactive_help(only: str | None) -> str:
    """What to set by hand when there is no terminal to ask in."""
    home = HermesHome.from_env()
    names = [only] if only else list(BY_NAME)
    lines = [
        "hermes gateway setup needs an interactive terminal (stdin and stdout must be a TTY).",
        f"Without one, write the settings yourself: secrets in {shown(home.env_file)} "
        f"(mode 0600), the rest there or in {shown(home.config_yaml)}:",
    ]
    for name in names:
        spec = BY_NAME[name]
        variables = " ".join(f"{field.env}=…" for field in spec.all_fields())
        lines.append(f"  {spec.label}: {variables}")
    if not only:
        lines.append(
            "  Model: model.provider (openrouter, nous, openai, anthropic, custom, offline), "
            "model.default, model.base_url in config.yaml; OPENROUTER_API_KEY / NOUS_API_KEY / "
            "OPENAI_API_KEY / ANTHROPIC_API_KEY in .env"
        )
    lines.append("Then run `hermes config check` to validate, and `hermes gateway restart`.")
    return "\n".join(lines)


__all__ = ["non_interactive_help", "run_setup"]
