"""The bodies of the `hermes` subcommands (imported only when one runs)."""

from __future__ import annotations

import argparse
import sys
import time

from hermes_gateway.home import HermesHome

EXIT_CONFIG = 78


def _load(home: HermesHome):
    """Settings, or None after printing the one-line reason (nothing on disk is changed)."""
    from hermes_gateway.config import ConfigError, load_settings

    try:
        return load_settings(home)
    except ConfigError as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return None


def gateway(args: argparse.Namespace) -> int:
    from hermes_gateway.service.lock import AlreadyRunning
    from hermes_gateway.service.runner import run_gateway

    home = HermesHome.from_env()
    settings = _load(home)
    if settings is None:
        return EXIT_CONFIG
    try:
        return run_gateway(home, args.headless, settings)
    except AlreadyRunning as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return 1


def pairing(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from hermes_gateway.core.types import Platform
    from hermes_gateway.security.pairing import PairingError, PairingManager
    from hermes_gateway.storage import open_store

    platform = getattr(args, "platform", None)
    if platform is not None and platform not in {p.value for p in Platform}:
        names = ", ".join(p.value for p in Platform)
        parser.exit(2, f"hermes: unknown platform {platform!r} (expected one of {names})\n")
    home = HermesHome.from_env().ensure()
    store = open_store(home.state_db)
    try:
        manager = PairingManager(store)
        if args.action == "list":
            _print_pairings(manager)
        elif args.action == "approve":
            try:
                record = manager.approve(platform, args.code)
            except PairingError as exc:
                print(f"hermes: {exc}", file=sys.stderr)
                return 1
            who = f"{record.user_name} ({record.user_id})" if record.user_name else record.user_id
            print(f"Approved {who} on {platform}. They can chat with the agent now.")
        elif args.action == "revoke":
            if not manager.revoke(platform, args.user_id):
                print(f"hermes: {args.user_id} has no pairing on {platform}", file=sys.stderr)
                return 1
            print(f"Revoked {args.user_id} on {platform}.")
        else:
            print(f"Cleared {manager.clear_pending()} pending pairing code(s).")
        return 0
    finally:
        store.close()


def _print_pairings(manager) -> None:
    pending, approved = manager.pending(), manager.approved()
    print("Pending:" if pending else "Pending: none")
    for r in pending:
        minutes = max(0, int((r.expires_at - time.time()) // 60))
        print(f"  {r.platform:<14} {r.user_id:<24} {r.user_name:<20} expires in {minutes} min")
    print("Approved:" if approved else "Approved: none")
    for r in approved:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.approved_at or r.requested_at))
        print(f"  {r.platform:<14} {r.user_id:<24} {r.user_name:<20} since {when}")


def _print_effective(tree: dict) -> None:
    """YAML of the effective configuration; platforms that are off and untouched fold into
    one line so the output stays readable."""
    from ruamel.yaml import YAML

    platforms = tree.get("platforms", {})
    idle = [n for n, p in platforms.items() if not p.get("enabled") and not _configured(p)]
    tree = {**tree, "platforms": {n: p for n, p in platforms.items() if n not in idle}}
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    print("Effective configuration (secrets masked):")
    yaml.dump(tree, sys.stdout)
    if idle:
        print(f"Not configured: {', '.join(idle)}")


def _configured(platform: dict) -> bool:
    return any(
        v not in ("", None, [], {}, False)
        for k, v in platform.items()
        if k not in ("name", "enabled")
    )


def config_check(args: argparse.Namespace) -> int:
    from hermes_gateway.security.access import access_policy

    home = HermesHome.from_env()
    settings = _load(home)
    if settings is None:
        return EXIT_CONFIG
    print(f"HERMES_HOME: {home.root}")
    for path in (home.gateway_json, home.config_yaml, home.env_file):
        print(f"  {path.name:<13} {'found' if path.exists() else 'not present'}")
    _print_effective(settings.effective(masked=True))
    problems = []
    try:
        from hermes_gateway.agent.providers import resolve

        m = settings.model
        target = resolve(m.provider, m.base_url, m.default, m.api_key, settings.env)
        print(f"Model: {target.provider}:{target.model}")
    except Exception as exc:
        problems.append(str(exc))
    if access_policy(settings).is_empty():
        print(
            "Warning: no allowlist is set, so only paired users (and the local console) "
            "can talk to the agent."
        )
    for problem in problems:
        print(f"hermes: {problem}", file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print("Configuration OK.")
    return 0
