"""`hermes …` — argument parsing only. Everything heavy is imported inside the command that
needs it, so `hermes --help` stays fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hermes_gateway import __version__

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage block)
        self.exit(EXIT_USAGE, f"hermes: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hermes", description="Hermes Gateway: your AI agent in every chat app.")
    parser.add_argument("--version", action="version", version=f"hermes {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    gateway = commands.add_parser(
        "gateway", help="run the gateway in the foreground; set it up; manage its service"
    )
    gateway.add_argument(
        "--headless",
        action="store_true",
        help="plain one-line-per-event log for a service manager (no colours, no TTY)",
    )
    gateway_actions = gateway.add_subparsers(
        dest="gateway_action", metavar="ACTION", parser_class=_Parser
    )
    setup = gateway_actions.add_parser(
        "setup", help="the arrow-key wizard: platforms, model provider, access, service"
    )
    setup.add_argument("platform", nargs="?", help="configure only this platform")
    from hermes_gateway.service.cli import add_service_parsers

    add_service_parsers(gateway_actions)

    commands.add_parser(
        "tui",
        help="the terminal control center (attaches to a running gateway, or embeds one)",
        description="The terminal control center: live panes for platforms, sessions, tool calls, tasks and approvals, and a "
        "local chat with the agent. Attaches to the gateway running on HERMES_HOME when there "
        "is one; otherwise runs the engine inside the TUI.",
    )

    pairing = commands.add_parser("pairing", help="approve or revoke users who paired by DM")
    actions = pairing.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    actions.add_parser("list", help="pending codes and approved users")
    approve = actions.add_parser("approve", help="approve a pairing code")
    approve.add_argument("platform")
    approve.add_argument("code")
    revoke = actions.add_parser("revoke", help="remove a user's access")
    revoke.add_argument("platform")
    revoke.add_argument("user_id")
    actions.add_parser("clear-pending", help="drop every pending pairing code")

    from hermes_gateway.cli_cron import add_cron_parser

    add_cron_parser(commands)

    config = commands.add_parser("config", help="inspect the configuration")
    config_actions = config.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    config_actions.required = True
    config_actions.add_parser("check", help="validate and print the effective configuration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "gateway" and args.gateway_action == "setup":
        from hermes_tui.wizard import run_setup

        return run_setup(args)
    if args.command == "gateway" and args.gateway_action:
        from hermes_gateway.service.cli import service_command

        return service_command(args)
    if args.command == "gateway":
        from hermes_gateway.cli_commands import gateway

        return gateway(args)
    if args.command == "tui":
        from hermes_gateway.cli_tui import tui

        return tui(args)
    if args.command == "pairing":
        from hermes_gateway.cli_commands import pairing

        return pairing(args, parser)
    if args.command == "cron":
        from hermes_gateway.cli_cron import cron_command

        return cron_command(args)
    from hermes_gateway.cli_commands import config_check

    return config_check(args)


if __name__ == "__main__":
    sys.exit(main())
