"""`hermes gateway install|uninstall|start|stop|restart|status`: the service commands."""

from __future__ import annotations

import argparse


def add_service_parsers(actions: argparse._SubParsersAction) -> None:
    install = actions.add_parser(
        "install", help="install the gateway as a systemd / launchd service"
    )
    install.add_argument("--system", action="store_true", help="a system unit (root) with User=")
    install.add_argument("--force", action="store_true", help="replace an installed unit")
    install.add_argument(
        "--print", action="store_true", help="print the unit text, install nothing"
    )
    uninstall = actions.add_parser("uninstall", help="stop and remove the service")
    uninstall.add_argument("--system", action="store_true")
    for name, text in (
        ("start", "start the service (refreshing a stale unit first)"),
        ("stop", "stop the service"),
        ("restart", "restart the service (refreshing a stale unit first)"),
        ("status", "installed? running? PID, uptime, platforms, last errors"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--system", action="store_true")


def service_command(args: argparse.Namespace) -> int:
    raise NotImplementedError(args.gateway_action)  # the service helper replaces this
