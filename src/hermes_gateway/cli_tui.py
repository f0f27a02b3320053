"""`hermes tui`: decide how to reach an engine, then run the control center.

Attached when a gateway already runs on this HERMES_HOME and serves its control socket;
embedded (an engine in this process, under the same lock `hermes gateway` takes) otherwise.
Never a second engine on one home. Textual is imported only once the decision is made."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from hermes_gateway.home import HermesHome

log = logging.getLogger("hermes.control")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 78


class TargetError(RuntimeError):
    """Why the TUI cannot reach an engine, written for the operator; `code` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def home_label(root: Path) -> str:
    """~/.hermes rather than /home/me/.hermes: what a person would type."""
    try:
        return "~/" + str(root.expanduser().resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(root)


class EmbeddedTarget:
    """An engine owned by the TUI: built here, started by the app at mount, stopped on exit.
    It serves the control socket like `hermes gateway`, so a second `hermes tui` attaches."""

    mode = "embedded"

    def __init__(self, engine: Any, store: Any, lock: Any, socket: Path | None = None) -> None:
        self.engine = engine
        self._store = store
        self._lock = lock
        self._handle: Any = None
        self._started = False
        self._control: Any = None
        if socket is not None:
            from hermes_gateway.control.server import ControlServer

            self._control = ControlServer(engine, socket)  # before start: it counts events
        self.title = f"Hermes — embedded · {home_label(engine.settings.home.root)}"

    async def connect(self) -> Any:
        from hermes_gateway.control.local import LocalHandle

        if self._handle is None:
            self._handle = LocalHandle(self.engine)
        return self._handle

    async def start(self) -> None:
        """Connects the platforms; the app runs this as a worker so the UI is live meanwhile."""
        if not self._started:
            self._started = True
            await self.engine.start()
            if self._control is not None:
                try:
                    await self._control.start()
                except (OSError, RuntimeError) as exc:  # the TUI works without it
                    log.error("no control socket (another TUI cannot attach): %s", exc)

    async def close(self) -> None:
        if self._control is not None:  # first: attached clients see the engine go
            await self._control.stop()
            self._control = None
        if self._started:
            self._started = False
            await self.engine.stop("tui")
        if self._handle is not None:
            await self._handle.close()
            self._handle = None
        self.release()

    def release(self) -> None:
        """Idempotent and synchronous: the CLI calls it after the app, whatever happened."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class AttachedTarget:
    """A `hermes gateway` that already runs on this home, reached over its control socket."""

    mode = "attached"

    def __init__(self, home: HermesHome, socket: Path, pid: int) -> None:
        self.home = home
        self.socket = socket
        self.pid = pid
        self._handle: Any = None
        self.title = f"Hermes — attached to PID {pid} · {home_label(home.root)}"

    async def connect(self) -> Any:
        """A fresh RemoteHandle; also what "reconnect" calls after the service went away."""
        from hermes_gateway.service.lock import running_pid

        try:
            from hermes_gateway.control.remote import RemoteHandle
        except ImportError:
            raise TargetError(
                "This build cannot attach to a running gateway yet (no control.remote). "
                "Stop the service (`hermes gateway stop`) and run `hermes tui` to embed one."
            ) from None
        pid = running_pid(self.home.lock_file)
        if pid is None or not self.socket.exists():
            raise TargetError(
                f"No gateway runs on {home_label(self.home.root)} now. Start it "
                "(`hermes gateway`), then press r; or quit and run `hermes tui` to embed one."
            )
        if self._handle is not None:
            await self._handle.close()
        self.pid = pid
        self.title = f"Hermes — attached to PID {pid} · {home_label(self.home.root)}"
        self._handle = await RemoteHandle.connect(self.socket)
        return self._handle

    async def start(self) -> None:
        """The service runs its own engine."""

    async def close(self) -> None:
        if self._handle is not None:
            await self._handle.close()
            self._handle = None

    def release(self) -> None:
        """Nothing held in this process."""


def open_target(
    home: HermesHome, environ: dict[str, str] | None = None
) -> EmbeddedTarget | AttachedTarget:
    """Attach to the service running on `home`, or build an engine under its lock.
    Raises TargetError with what to do when neither is possible."""
    from hermes_gateway.service.lock import AlreadyRunning, EngineLock, running_pid

    socket = home.control_socket
    pid = running_pid(home.lock_file)
    if pid is not None:
        if socket.exists():
            return AttachedTarget(home, socket, pid)
        raise TargetError(
            f"A Hermes gateway (PID {pid}) runs on {home_label(home.root)} without a control "
            "socket, so the TUI cannot attach. Restart it with a current `hermes gateway`, "
            "or stop it to run the engine inside the TUI."
        )
    settings = _settings(home, environ)
    try:
        lock = EngineLock(home.lock_file).acquire()
    except AlreadyRunning as exc:  # a gateway started between the check and now
        raise TargetError(str(exc)) from None
    try:
        return EmbeddedTarget(*_engine(home, settings), lock, socket)
    except BaseException:
        lock.release()
        raise


def _settings(home: HermesHome, environ: dict[str, str] | None):
    from hermes_gateway.config import ConfigError, load_settings

    home.ensure()
    try:
        return load_settings(home, environ)
    except ConfigError as exc:
        raise TargetError(str(exc), EXIT_CONFIG) from None


def _engine(home: HermesHome, settings) -> tuple[Any, Any]:
    from hermes_gateway.agent.client import ProviderError
    from hermes_gateway.core.engine import Engine
    from hermes_gateway.storage import open_store

    store = open_store(home.state_db)
    try:
        return Engine(settings, store), store
    except ProviderError as exc:
        store.close()
        raise TargetError(str(exc), EXIT_CONFIG) from None
    except BaseException:
        store.close()
        raise


def tui(args: argparse.Namespace) -> int:
    if not sys.stdout.isatty():
        print(
            "hermes: `hermes tui` needs a terminal. For a service, run `hermes gateway --headless`.",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    home = HermesHome.from_env()
    try:
        target = open_target(home)
    except TargetError as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return exc.code
    try:
        from hermes_tui.app import HermesApp

        result = HermesApp(target).run()
    finally:
        target.release()
    return EXIT_OK if result is None else int(result)
