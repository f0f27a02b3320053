"""`hermes gateway --headless` under a service manager, as a real subprocess: sd_notify on a
datagram socket bound by the test, SIGTERM drains and exits 0, a fatal error exits 1, SIGHUP
reloads credentials and allowlists without dropping sessions, the log rotates and never holds a
secret."""

import os
import signal
import socket
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import peer_config, write_config
from tests.test_agent_runtime_e2e import call, tool_results

WAIT = 15.0  # an upper bound for a loaded machine, never a speed assertion
ALICE, BOB = 111, 222
NEW_TOKEN = "654321:ROTATED-SECRET-TOKEN"


class NotifyListener:
    """The service manager's end of NOTIFY_SOCKET: a bound AF_UNIX datagram socket."""

    def __init__(self, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"hermes-test-{uuid.uuid4().hex[:12]}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:  # a short directory: sun_path holds ~108 bytes, pytest's tmp_path can be longer
            self._dir = tempfile.TemporaryDirectory(prefix="hn-")
            self.address = os.path.join(self._dir.name, "notify")
            self.sock.bind(self.address)
        self.messages: list[dict[str, str]] = []

    def env(self, watchdog_usec: int = 0) -> dict[str, str]:
        env = {"NOTIFY_SOCKET": self.address}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        return env

    def wait_for(self, key: str, value: str = "1", count: int = 1, timeout: float = WAIT) -> list:
        """Messages received so far once `count` of them carry key=value."""
        deadline = time.monotonic() + timeout
        while self._count(key, value) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {count}× {key}={value} on NOTIFY_SOCKET: {self.messages}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(fields)
        return self.messages

    def _count(self, key: str, value: str) -> int:
        return sum(1 for m in self.messages if m.get(key) == value)

    def index(self, key: str, value: str = "1") -> int:
        return next(i for i, m in enumerate(self.messages) if m.get(key) == value)

    def close(self) -> None:
        self.sock.close()
        if hasattr(self, "_dir"):
            self._dir.cleanup()


@pytest.fixture
def notify_socket():
    listeners = []

    def make(abstract: bool = False) -> NotifyListener:
        listeners.append(NotifyListener(abstract))
        return listeners[-1]

    yield make
    for listener in listeners:
        listener.close()


def log_text(home: Path) -> str:
    return "\n".join(p.read_text() for p in sorted((home / "logs").glob("gateway.log*")))


# -- sd_notify -------------------------------------------------------------------------------


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_watchdog_and_stopping_arrive_on_notify_socket(
    tmp_path, gateways, notify_socket, abstract
):
    listener = notify_socket(abstract)
    gateway = gateways(tmp_path / "home", env=listener.env(watchdog_usec=200_000))
    messages = listener.wait_for("READY")
    ready = messages[listener.index("READY")]
    assert ready["STATUS"].startswith("serving") and "console connected" in ready["STATUS"]
    assert ready["MAINPID"] == str(gateway.proc.pid)
    listener.wait_for("WATCHDOG", count=3)  # pinged every WATCHDOG_USEC / 2
    assert listener.index("WATCHDOG") > listener.index("READY")  # never before it is ready

    gateway.proc.send_signal(signal.SIGTERM)
    listener.wait_for("STOPPING")
    assert gateway.proc.wait(WAIT) == 0
    assert listener.index("STOPPING") > listener.index("READY")


def test_the_agents_commands_do_not_inherit_notify_socket(
    tmp_path, gateways, notify_socket, openai_peer
):
    """The variables are taken out of the environment: a terminal command the agent runs
    must never notify systemd in the gateway's name."""
    listener = notify_socket()
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, "display:\n  tool_progress: 'off'\n"))
    openai_peer.script([call("terminal", command="env"), {"text": "done"}])
    gateway = gateways(home, env=listener.env(watchdog_usec=10_000_000))
    listener.wait_for("READY")
    gateway.say("show me the environment")
    assert gateway.reply()["text"] == "done"
    [output] = tool_results(openai_peer.requests()[-1])
    assert "HERMES_HOME=" in output  # the command ran and printed its environment
    assert "NOTIFY_SOCKET" not in output and "WATCHDOG_USEC" not in output
    assert gateway.terminate() == 0


def test_reload_with_a_broken_config_keeps_running_and_says_why(tmp_path, gateways, notify_socket):
    listener = notify_socket()
    home = tmp_path / "home"
    gateway = gateways(home, env=listener.env())
    listener.wait_for("READY")
    write_config(home, "session_reset:\n  mode: weekly\n")
    gateway.proc.send_signal(signal.SIGHUP)
    listener.wait_for("RELOADING")
    listener.wait_for("READY", count=2)  # back to ready after a refused reload
    line = gateway.wait_for_log("reload refused")
    assert " ERROR " in line and "session_reset.mode" in line
    gateway.say("still there?")
    assert "still there?" in gateway.reply()["text"]
    assert gateway.terminate() == 0


# -- fatal errors ----------------------------------------------------------------------------


def test_fatal_error_at_start_exits_1_with_one_error_line_and_no_ready(
    tmp_path, gateways, notify_socket
):
    listener = notify_socket()
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.db").write_bytes(b"this is not an sqlite database" * 100)
    gateway = gateways(home, env=listener.env())
    assert gateway.proc.wait(WAIT) == 1  # not 0 (done) and not 78 (config): restart me
    line = gateway.wait_for_log("cannot open")
    assert " ERROR " in line and "state.db" in line
    assert not any("Traceback" in x for x in gateway.stderr_lines)
    listener.wait_for("STATUS", value=listener_status(listener))
    assert not any(m.get("READY") for m in listener.messages)
    assert "cannot open" in (home / "logs" / "gateway.log").read_text()


def listener_status(listener: NotifyListener) -> str:
    """The STATUS= of the failure datagram, once it arrived."""
    listener.sock.settimeout(WAIT)
    data = listener.sock.recv(4096).decode()
    fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
    listener.messages.append(fields)
    assert fields["STATUS"].startswith("failed: cannot open"), fields
    return fields["STATUS"]


# -- SIGTERM drain ---------------------------------------------------------------------------


def telegram_home(tmp_path, openai_peer, telegram_peer, token: str, allowed: str) -> Path:
    home = tmp_path / "home"
    extra = "display:\n  tool_progress: 'off'\nstreaming:\n  enabled: false\n"
    write_config(home, peer_config(openai_peer.base_url, extra))
    write_env(home, telegram_peer, token, allowed)
    return home


def write_env(home: Path, telegram_peer, token: str, allowed: str) -> None:
    """Credentials in HERMES_HOME/.env (not the process environment, which would win over it
    on a reload), as a service has them."""
    (home / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={token}\n"
        f"TELEGRAM_BASE_URL={telegram_peer.base_url}\n"
        f"TELEGRAM_BASE_FILE_URL={telegram_peer.file_url}\n"
        f"TELEGRAM_ALLOWED_USERS={allowed}\n"
        "CONSOLE_ALLOW_ALL_USERS=false\n"
    )


def test_sigterm_finishes_a_send_in_flight_and_exits_0(
    tmp_path, gateways, notify_socket, openai_peer, telegram_peer
):
    listener = notify_socket()
    home = telegram_home(tmp_path, openai_peer, telegram_peer, telegram_peer.token, str(ALICE))
    openai_peer.script([{"text": "the answer that must not be lost"}])
    gateway = gateways(home, env=listener.env())
    listener.wait_for("READY")
    # The reply's first attempt meets a flood wait: the send is in flight (waiting to retry)
    # when SIGTERM arrives, and the drain lets it finish.
    telegram_peer.fail("sendMessage", status=429, retry_after=1, chat_id=ALICE)
    since = telegram_peer.last_seq()
    telegram_peer.message(chat_id=ALICE, text="hello")
    gateway.wait_for_log("turn.finished")
    gateway.proc.send_signal(signal.SIGTERM)
    assert gateway.proc.wait(WAIT) == 0
    listener.wait_for("STOPPING")
    sent = telegram_peer.sent(chat_id=ALICE, since=since, method="sendMessage")
    assert [op["text"] for op in sent] == ["the answer that must not be lost"]
    db = sqlite3.connect(home / "state.db")
    assert db.execute("SELECT status FROM outbox").fetchall() == [("sent",)]
    assert db.execute("SELECT status FROM inbox").fetchall() == [("done",)]
    db.close()


def test_sigterm_during_a_turn_keeps_the_message_for_the_next_start(
    tmp_path, gateways, openai_peer
):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"delay": 60.0, "text": "never"}, {"text": "after the restart"}])
    first = gateways(home)
    first.wait_for_log("engine.started")
    first.say("keep me")
    deadline = time.monotonic() + WAIT
    while not openai_peer.requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.terminate() == 0  # the model call in flight is cancelled, not waited for
    db = sqlite3.connect(home / "state.db")
    assert db.execute("SELECT status FROM inbox").fetchall() == [("pending",)]
    second = gateways(home)
    assert second.reply()["text"] == "after the restart"
    assert second.terminate() == 0
    db.close()


# -- SIGHUP reload ---------------------------------------------------------------------------


def test_sighup_reloads_credentials_and_allowlists_and_keeps_sessions(
    tmp_path, gateways, notify_socket, openai_peer, telegram_peer
):
    listener = notify_socket()
    old_token = telegram_peer.token
    home = telegram_home(tmp_path, openai_peer, telegram_peer, old_token, str(ALICE))
    openai_peer.script([{"text": "one"}, {"text": "two"}, {"text": "three"}])
    gateway = gateways(home, env=listener.env())
    listener.wait_for("READY")

    telegram_peer.message(chat_id=ALICE, text="remember the word banana")
    [first] = telegram_peer.wait(1, method="sendMessage", chat_id=ALICE)
    assert first["text"] == "one"
    telegram_peer.message(chat_id=BOB, text="let me in")
    gateway.wait_for_log("reason=unauthorized")

    # The operator rotates the bot token and lets Bob in, then reloads.
    telegram_peer.set_token(NEW_TOKEN)
    write_env(home, telegram_peer, NEW_TOKEN, f"{ALICE},{BOB}")
    since = telegram_peer.last_seq()
    gateway.proc.send_signal(signal.SIGHUP)
    listener.wait_for("RELOADING")
    listener.wait_for("READY", count=2)
    line = gateway.wait_for_log("configuration reloaded")
    assert "reconnected telegram" in line and "allowlists updated" in line

    telegram_peer.message(chat_id=BOB, text="and now?")
    [to_bob] = telegram_peer.wait(1, since=since, method="sendMessage", chat_id=BOB)
    assert to_bob["text"] == "two"
    telegram_peer.message(chat_id=ALICE, text="which word?")
    [to_alice] = telegram_peer.wait(1, since=since, method="sendMessage", chat_id=ALICE)
    assert to_alice["text"] == "three"
    # Alice's session survived the reload: the model saw her first message as history.
    last_prompt = str(openai_peer.requests()[-1]["body"]["messages"])
    assert "remember the word banana" in last_prompt and "which word?" in last_prompt
    assert gateway.terminate() == 0

    db = sqlite3.connect(home / "state.db")
    keys = [k for (k,) in db.execute("SELECT key FROM sessions") if str(ALICE) in k]
    assert len(keys) == 1
    db.close()
    # Neither token is in any log line, though the old one was refused meanwhile.
    logs = log_text(home) + "\n".join(gateway.stderr_lines)
    for token in (old_token, NEW_TOKEN):
        assert token not in logs
        assert token.split(":")[1] not in logs


# -- logs ------------------------------------------------------------------------------------


def test_gateway_log_rotates_at_its_size_bound(tmp_path, gateways):
    home = tmp_path / "home"
    write_config(home, "logging:\n  max_bytes: 2048\n  backups: 2\n")
    gateway = gateways(home)
    gateway.wait_for_log("engine.started")
    for n in range(30):
        gateway.say(f"message number {n}")
        gateway.reply()
    assert gateway.terminate() == 0
    logs = home / "logs"
    names = sorted(p.name for p in logs.glob("gateway.log*"))
    assert names == ["gateway.log", "gateway.log.1", "gateway.log.2"]
    longest = max(len(line) for line in gateway.stderr_lines) + 1
    for path in logs.glob("gateway.log*"):
        assert path.stat().st_size <= 2048 + longest
        assert path.stat().st_mode & 0o777 == 0o600
    # one line per event, each with a timestamp and a level
    for line in (logs / "gateway.log").read_text().splitlines():
        assert line.split()[1] in ("INFO", "WARN", "ERROR"), line
    assert "engine.stopping" in (logs / "gateway.log").read_text()


def test_bad_rotation_setting_refuses_to_start_naming_it(tmp_path, gateways):
    home = tmp_path / "home"
    write_config(home, "logging:\n  max_bytes: lots\n")
    gateway = gateways(home)
    assert gateway.proc.wait(WAIT) == 78
    line = gateway.wait_for_log("logging.max_bytes")
    assert line.startswith("hermes: ") and "config.yaml" in line


def test_log_lines_from_any_library_are_redacted_one_line_each(tmp_path):
    """The redacting route itself: a third-party warning that carries a token (a URL, say)
    and an engine record with a password reach gateway.log masked, each on one line."""
    import logging

    from hermes_gateway.config import load_settings, mask
    from hermes_gateway.home import HermesHome
    from hermes_gateway.service.logfile import Redactor, log_sinks, route_logging, secrets_of

    home = HermesHome(tmp_path / "home").ensure()
    token, password = "123456:SECRET-BOT-TOKEN", "hunter2-imap-password"
    environ = {"TELEGRAM_BOT_TOKEN": token, "EMAIL_PASSWORD": password}
    settings = load_settings(home, environ)
    assert {token, password} <= secrets_of(settings)
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name, lg in (("", logging.getLogger()), ("hermes", logging.getLogger("hermes")))
    }
    sinks, file_log = log_sinks(home, True, settings, Redactor(secrets_of(settings)))
    try:
        route_logging([s for s in sinks if s.sink is file_log])  # not stderr: keep it clean
        logging.getLogger("httpx").warning("POST https://api.telegram.org/bot%s/getMe", token)
        logging.getLogger("httpx").info("below WARNING: not ours to log (%s)", token)
        logging.getLogger("hermes.email").error("login as bob with %s\nfailed", password)
    finally:
        file_log.close()
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name or None)
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate
    text = (home.logs_dir / "gateway.log").read_text()
    assert token not in text and password not in text
    assert f"/bot{mask(token)}/getMe" in text and mask(password) in text
    assert "below WARNING" not in text
    lines = text.splitlines()
    assert len(lines) == 2 and lines[0].split()[1] == "WARN" and lines[1].split()[1] == "ERROR"


async def test_watchdog_pings_only_while_healthy(notify_socket):
    import asyncio

    from hermes_gateway.service.notify import Notifier, watchdog_loop

    listener = notify_socket()
    notifier = Notifier(listener.address, watchdog_usec=20_000)
    healthy = True
    task = asyncio.create_task(watchdog_loop(notifier, lambda: healthy))
    await asyncio.to_thread(listener.wait_for, "WATCHDOG", "1", 2)
    healthy = False
    await asyncio.sleep(0.05)  # let a ping already in the socket buffer arrive
    listener.sock.setblocking(False)
    while True:
        try:
            listener.sock.recv(4096)
        except BlockingIOError:
            break
    await asyncio.sleep(0.1)  # several intervals: an unhealthy engine is not pinged for
    try:
        silent = listener.sock.recv(4096)
    except BlockingIOError:
        silent = None
    task.cancel()
    notifier.close()
    assert silent is None


def test_notifier_takes_its_variables_out_of_the_environment(notify_socket):
    from hermes_gateway.service.notify import Notifier

    environ = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1", "A": "b"}
    notifier = Notifier.from_environ(environ)
    assert environ == {"A": "b"}
    assert notifier.enabled and notifier.watchdog_interval is None  # WATCHDOG_PID: not us
    environ = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_environ(environ).watchdog_interval == 2.0
    assert not Notifier.from_environ({}).send("READY=1")  # outside systemd: a no-op


async def test_reload_with_only_allowlist_changes_reconnects_nothing(tmp_path):
    from hermes_gateway.config import load_settings
    from hermes_gateway.core.reload import reload_engine
    from hermes_gateway.home import HermesHome
    from tests.helpers import running_engine

    home = tmp_path / "home"
    async with running_engine(home, {"GATEWAY_ALLOWED_USERS": "alice"}) as (engine, _):
        console = engine.console
        assert not engine.authorizer.check("telegram", "bob").allowed
        fresh = load_settings(HermesHome(home), {"GATEWAY_ALLOWED_USERS": "alice,bob"})
        result = await reload_engine(engine, fresh)
        assert result.reconnected == () and result.stopped == ()
        assert result.allowlists_changed
        assert engine.authorizer.check("telegram", "bob").allowed
        assert engine.console is console  # the same connection: nothing was dropped
        again = await reload_engine(engine, fresh)
        assert not again.allowlists_changed
