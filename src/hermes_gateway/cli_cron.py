"""`hermes cron list|add|remove|pause|resume|run`: manage cron jobs in HERMES_HOME/state.db.

The CLI never runs the agent itself: `run` marks a job due, and the gateway running on this home
runs it at its next tick."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a cron command runs, not for `hermes --help`
    from hermes_gateway.home import HermesHome


def add_cron_parser(subparsers) -> None:
    """Add `cron` and its actions to the `hermes` subcommands."""
    cron = subparsers.add_parser("cron", help="list, add, remove and run scheduled agent jobs")
    actions = cron.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="every job with its schedule, next run and last result")
    add = actions.add_parser("add", help="schedule a prompt")
    add.add_argument("--name", default="", help="a short name (default: from the prompt)")
    add.add_argument(
        "--schedule",
        required=True,
        help="'0 9 * * *' (cron, local time), 'every 2h', '30m' (once) or '2026-12-01T09:00'",
    )
    add.add_argument("--prompt", required=True, help="what the agent does on each run")
    add.add_argument(
        "--deliver",
        default="",
        help="where results go (required): 'home:<platform>' or '<platform>:<chat_id>'",
    )
    for name, text in (
        ("remove", "delete a job and its run history"),
        ("pause", "stop a job's schedule without deleting it"),
        ("resume", "restart a paused job's schedule"),
        ("run", "have the running gateway run a job now"),
    ):
        actions.add_parser(name, help=text).add_argument("job_id")


def cron_command(args: argparse.Namespace) -> int:
    from hermes_gateway.home import HermesHome
    from hermes_gateway.scheduler.cron import CronError, CronService
    from hermes_gateway.storage import open_store

    home = HermesHome.from_env().ensure()
    store = open_store(home.state_db)
    service = CronService(store, run_job=_not_here, deliver=_not_here)
    try:
        return _dispatch(args, service, home)
    except CronError as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _dispatch(args: argparse.Namespace, service, home: HermesHome) -> int:
    from hermes_gateway.scheduler.cron_job import describe_job, when
    from hermes_gateway.service.lock import running_pid

    if args.action == "list":
        print(service.format_list())
        return 0
    if args.action == "add":
        if not getattr(args, "deliver", ""):
            print(
                "hermes: a job added here has no chat to report to: pass --deliver "
                "home:<platform> (its home channel) or --deliver <platform>:<chat_id>",
                file=sys.stderr,
            )
            return 1
        job = service.add(args.name or "", args.schedule, args.prompt, deliver=args.deliver)
        print(
            f'Added cron job {job.id} "{job.name}": {describe_job(job)}; '
            f"next run {when(job.next_run)}; results go to {job.deliver}."
        )
        if running_pid(home.lock_file) is None:
            print("No gateway is running on this home; start one (`hermes gateway`) to run it.")
        return 0
    if args.action == "remove":
        job = service.get(args.job_id)
        service.remove(job.id)
        print(f'Removed cron job {job.id} "{job.name}".')
        return 0
    if args.action == "pause":
        job = service.pause(args.job_id)
        print(f'Paused cron job {job.id} "{job.name}".')
        return 0
    if args.action == "resume":
        job = service.resume(args.job_id)
        print(f'Resumed cron job {job.id} "{job.name}".')
        return 0
    job = service.get(args.job_id)
    pid = running_pid(home.lock_file)
    if pid is None:
        print(
            f"hermes: no gateway is running on {home.root}, and the CLI does not run the agent "
            "itself. Start one (`hermes gateway`); a due job runs at its first tick.",
            file=sys.stderr,
        )
        return 1
    service.mark_due(job.id)
    print(f'Cron job {job.id} "{job.name}" is due now: the running gateway (PID {pid}) runs it')
    print("within a minute and delivers the result to " + job.describe_target() + ".")
    return 0


async def _not_here(*_args) -> str:  # the CLI only edits jobs; the gateway runs them
    raise RuntimeError("cron jobs run in the gateway, not in the CLI")
