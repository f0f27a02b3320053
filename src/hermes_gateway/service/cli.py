"""`hermes gateway install|uninstall|start|stop|restart|status`: the service commands."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
STALE = (
    "the installed unit differs from what `hermes gateway install` would write now "
    "(moved virtualenv, PATH or HERMES_HOME?)"
)


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
    uninstall.add_argument("--system", action="store_true", help="the system unit")
    for name, text in (
        ("start", "start the service (refreshing a stale unit first)"),
        ("stop", "stop the service"),
        ("restart", "restart the service (refreshing a stale unit first)"),
        ("status", "installed? running? PID, uptime, platforms, last errors"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--system", action="store_true", help="the system unit")


def service_command(args: argparse.Namespace) -> int:
    from hermes_gateway.service.manager import NoServiceManager, ServiceError

    environ = dict(os.environ)
    action = args.gateway_action
    try:
        if action == "install" and args.print:
            return _print_unit(environ, args.system)
        if action == "status":
            return _status(environ, args.system)
        manager = _manager(environ, args.system)
        return ACTIONS[action](manager, args)
    except NoServiceManager as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (ServiceError, OSError) as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return EXIT_FAILED


# -- choosing the unit -----------------------------------------------------------------------
def _manager(environ: dict[str, str], system: bool):
    """The manager for the unit this command is about: --system, else the installed user unit,
    else an installed system unit, else a (new) user unit."""
    from hermes_gateway.service.manager import Launchd, service_manager
    from hermes_gateway.service.spec import current_spec, user_home_dir

    user_home = user_home_dir(environ)
    if system and sys.platform == "darwin":
        raise_usage("--system is for systemd; on macOS the gateway runs as a LaunchAgent")
    manager = service_manager(current_spec(environ, system=system), environ, user_home)
    only_system_installed = (
        not system
        and not isinstance(manager, Launchd)
        and manager.installed_text() is None
        and manager.other_scope_path(environ, user_home).exists()
    )
    if only_system_installed:
        manager = type(manager)(current_spec(environ, system=True), environ, user_home)
    _warn_both_scopes(manager, environ, user_home)
    return manager


def _warn_both_scopes(manager, environ: dict[str, str], user_home) -> None:
    if manager.kind != "systemd":
        return
    other = manager.other_scope_path(environ, user_home)
    if manager.path.exists() and other.exists():
        _warn(
            f"both a user unit and a system unit are installed for {manager.spec.home} "
            f"({manager.path} and {other}); two gateways on one HERMES_HOME cannot both run. "
            "Remove one: `hermes gateway uninstall` or `sudo hermes gateway uninstall --system`"
        )


def raise_usage(message: str):
    print(f"hermes: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _print_unit(environ: dict[str, str], system: bool) -> int:
    from hermes_gateway.service.launchd import render_plist
    from hermes_gateway.service.spec import current_spec
    from hermes_gateway.service.units import render_unit

    spec = current_spec(environ, system=system)
    if sys.platform == "darwin" and not system:
        sys.stdout.write(render_plist(spec).decode())
    else:
        sys.stdout.write(render_unit(spec))
    return EXIT_OK


# -- actions ---------------------------------------------------------------------------------
def _install(manager, args: argparse.Namespace) -> int:
    if manager.spec.system and os.geteuid() != 0:
        print(
            "hermes: a system unit is written to /etc/systemd/system, which needs root: "
            f"sudo {sys.argv[0]} gateway install --system",
            file=sys.stderr,
        )
        return EXIT_FAILED
    manager.check_reachable()
    installed = manager.installed_text()
    if installed is not None and manager.is_current() and not args.force:
        manager.enable()
        print(f"Already installed and up to date: {manager.description}")
        return EXIT_OK
    if installed is not None and not args.force:
        print(
            f"hermes: {manager.path} differs from what `hermes gateway install` would write "
            "now. "
            "Replace it with `hermes gateway install --force` (or `hermes gateway restart` "
            "refreshes it and restarts).",
            file=sys.stderr,
        )
        return EXIT_FAILED
    manager.spec.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    manager.write()
    manager.enable()
    print(f"Installed {manager.description}")
    linger = manager.ensure_linger()
    if linger:
        print(linger)
    scope = " --system" if manager.spec.system else ""
    print(f"Start it: hermes gateway start{scope}    Check it: hermes gateway status{scope}")
    return EXIT_OK


def _uninstall(manager, args: argparse.Namespace) -> int:
    if manager.installed_text() is None:
        print(f"hermes: nothing to uninstall: no {manager.description}", file=sys.stderr)
        return EXIT_FAILED
    manager.disable()
    manager.remove()
    print(f"Stopped and removed {manager.description}")
    return EXIT_OK


def _start_or_restart(manager, args: argparse.Namespace) -> int:
    if not _require_installed(manager):
        return EXIT_FAILED
    if not manager.is_current():
        manager.write()
        print(f"Refreshed the stale unit: {manager.path}")
    if args.gateway_action == "start":
        manager.start()
    else:
        manager.restart()
    state = manager.state()
    pid = f", PID {state.pid}" if state.pid else ""
    print(f"{manager.spec.name}: {state.active or 'unknown'} ({state.detail}){pid}")
    return EXIT_OK if state.active in ("active", "activating", "reloading") else EXIT_FAILED


def _stop(manager, args: argparse.Namespace) -> int:
    if not _require_installed(manager):
        return EXIT_FAILED
    manager.stop()
    print(f"Stopped {manager.spec.name}")
    return EXIT_OK


def _require_installed(manager) -> bool:
    if manager.installed_text() is not None:
        return True
    print(
        f"hermes: {manager.spec.name} is not installed ({manager.path} does not exist); "
        "run `hermes gateway install` first",
        file=sys.stderr,
    )
    return False


ACTIONS = {
    "install": _install,
    "uninstall": _uninstall,
    "start": _start_or_restart,
    "restart": _start_or_restart,
    "stop": _stop,
}


# -- status ----------------------------------------------------------------------------------
def _status(environ: dict[str, str], system: bool) -> int:
    """What the service manager says (when there is one), then what the gateway says."""
    from hermes_gateway.home import HermesHome
    from hermes_gateway.service.manager import NoServiceManager
    from hermes_gateway.service.spec import current_spec
    from hermes_gateway.service.status import format_duration, gateway_status

    manager = None
    try:
        manager = _manager(environ, system)
    except NoServiceManager as exc:
        print(f"Service:   none — {exc}")
    spec = manager.spec if manager else current_spec(environ, system)
    if manager is not None:
        _print_manager(manager)
    gateway = gateway_status(HermesHome(spec.home))
    if gateway.pid is None:
        print(f"Gateway:   not running on {spec.home}")
    else:
        uptime = f", up {format_duration(gateway.uptime)}" if gateway.uptime is not None else ""
        print(f"Gateway:   running, PID {gateway.pid}{uptime}, HERMES_HOME {spec.home}")
    if gateway.platforms:
        print("Platforms:")
        for name, state, detail in gateway.platforms:
            print(f"  {name:<16} {state}{f' — {detail}' if detail else ''}")
    elif gateway.platforms_error:
        print(f"Platforms: unknown ({gateway.platforms_error})")
    if gateway.errors:
        print("Last errors (logs/gateway.log):")
        for line in gateway.errors:
            print(f"  {line}")
    return EXIT_OK if gateway.pid is not None else EXIT_FAILED


def _print_manager(manager) -> None:
    installed = manager.installed_text() is not None
    print(f"Service:   {manager.spec.name} ({manager.description})")
    if not installed:
        print("Installed: no (hermes gateway install)")
        return
    if manager.is_current():
        print("Installed: yes, up to date")
    else:
        print("Installed: yes, STALE")
        _warn(f"{STALE}; `hermes gateway restart` rewrites it and restarts")
    state = manager.state()
    pid = f", PID {state.pid}" if state.pid else ""
    print(
        f"Manager:   {state.active or 'unknown'}{f' ({state.detail})' if state.detail else ''}{pid}"
    )
