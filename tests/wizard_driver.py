"""Drive `hermes gateway setup` through a prompt_toolkit pipe input, as a person would:
wait until the screen shows a question, then press keys. The screen is the wizard's real
VT100 output, captured in memory and read without its escape sequences."""

from __future__ import annotations

import argparse
import io
import re
import threading
import time
from collections.abc import Sequence

from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from hermes_tui.wizard import run_setup

WAIT = 20.0  # seconds for one question to appear: an upper bound, never a speed assertion
ENTER, DOWN, UP, SPACE, CTRL_C, CLEAR_LINE = "\r", "\x1b[B", "\x1b[A", " ", "\x03", "\x15"
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|\r")

Step = tuple[str, str]  # (text the screen must show after the last step, keys to press)


def plain(text: str) -> str:
    return _ESCAPES.sub("", text)


class Run:
    """One wizard run: its exit code, its whole screen text, and the first driver error."""

    def __init__(self) -> None:
        self.code: int | None = None
        self.raw = io.StringIO()
        self.error = ""

    @property
    def screen(self) -> str:
        return plain(self.raw.getvalue())


def run_wizard(steps: Sequence[Step], platform: str | None = None) -> Run:
    """Run the wizard in this thread while a feeder thread plays `steps`; each step waits
    for its text to appear after the previous step's keys, then sends its keys."""
    run = Run()
    output = Vt100_Output(
        run.raw, lambda: Size(rows=60, columns=120), term="xterm-256color", enable_cpr=False
    )
    done = threading.Event()
    with create_pipe_input() as pipe:
        feeder = threading.Thread(target=_feed, args=(pipe, steps, run, done), daemon=True)
        feeder.start()
        try:
            with create_app_session(input=pipe, output=output):
                run.code = run_setup(argparse.Namespace(platform=platform), interactive=True)
        finally:
            done.set()
            feeder.join(WAIT)
    return run


def _feed(pipe, steps: Sequence[Step], run: Run, done: threading.Event) -> None:  # noqa: ANN001
    seen = 0
    for expected, keys in steps:
        deadline = time.monotonic() + WAIT
        while True:
            screen = run.screen
            found = screen.find(expected, seen)
            if found >= 0:
                seen = found + len(expected)
                break
            if done.is_set() or time.monotonic() > deadline:
                run.error = f"the screen never showed {expected!r}"
                if not done.is_set():
                    pipe.send_text(CTRL_C)  # end the wizard rather than leave it waiting
                return
            time.sleep(0.02)
        time.sleep(0.05)  # let the question finish drawing, as a person would
        pipe.send_text(keys)
    if not done.wait(WAIT):
        run.error = "the wizard was still waiting for input after the last step"
        pipe.send_text(CTRL_C)
