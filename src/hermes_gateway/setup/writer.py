"""Applying a Plan: both files, with the existing round-trip writers, Ctrl-C held off.

Each writer replaces its file atomically; holding SIGINT for the few milliseconds between
the two replacements means an interrupt can never leave `.env` new and config.yaml old.
Both files are parsed before either is touched, so a broken one stops the write whole.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..config.dotenv import read_dotenv, update_dotenv
from ..config.yamlfile import read_yaml, update_yaml
from .plan import Plan, Target


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Defer Ctrl-C until the block is done (only the main thread receives signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def apply_plan(plan: Plan) -> list[str]:
    """Write the plan; returns the paths written. ConfigError leaves both files as they were."""
    home = plan.snapshot.home
    dotenv_changes = plan.for_target(Target.DOTENV)
    yaml_changes = plan.for_target(Target.YAML)
    written = []
    with interrupts_held():
        read_dotenv(home.env_file)  # both parse, or nothing is written
        read_yaml(home.config_yaml)
        home.ensure()
        if dotenv_changes:
            update_dotenv(home.env_file, dotenv_changes)
            written.append(str(home.env_file))
        if yaml_changes:
            update_yaml(home.config_yaml, yaml_changes)
            written.append(str(home.config_yaml))
    return written
