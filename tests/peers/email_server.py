"""A real IMAP server for the e-mail tests: Debian's dovecot, started per test session with a
generated config (loopback, a free port, no TLS, a passwd-file with the bot's account, maildirs
in a temp dir) and stopped by PID. tests/setup/dovecot.sh installs it; without it, tests skip.

Written for dovecot 2.3 (Debian 12). Dovecot 2.4 renamed much of the config language; `start`
refuses it with a clear message rather than failing obscurely."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None
    )


def missing_reason() -> str | None:
    """Why the e-mail server tests cannot run here, or None when they can."""
    binary = dovecot_binary()
    if binary is None:
        return "dovecot is not installed (run `make test` as root, or tests/setup/dovecot.sh)"
    version = dovecot_version(binary)
    if not version.startswith("2.3"):
        return f"dovecot {version} found; the test config is written for dovecot 2.3"
    return None


def dovecot_version(binary: str) -> str:
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    return result.stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _accounts() -> tuple[str, str, str]:
    """(internal user, login user, mail user) that exist and fit who runs the tests."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me
    internal = "dovecot" if _user_exists("dovecot") else "nobody"
    login = "dovenull" if _user_exists("dovenull") else "nobody"
    return internal, login, "nobody"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _config(root: Path, port: int, internal: str, login: str, uid: int, gid: int) -> str:
    return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
mail_location = maildir:{root}/mail/%u
# Changes from other sessions (a test's APPEND) reach an IDLE client at once.
mailbox_idle_check_interval = 1 secs
imap_idle_notify_interval = 1 mins
protocol imap {{
  mail_max_userip_connections = 100
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: after a wrong-password test, the next login would wait seconds.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class Dovecot:
    """One dovecot master process with its own config, mail and port (kept across restarts)."""

    def __init__(self, accounts: dict[str, str]) -> None:
        reason = missing_reason()
        if reason is not None:
            raise RuntimeError(reason)
        self.binary = dovecot_binary() or "dovecot"
        self.root = Path(tempfile.mkdtemp(prefix="hermes-dovecot-"))
        self.root.chmod(0o755)  # dovecot's unprivileged processes read the passwd file
        self.port = free_port()
        self.accounts = dict(accounts)
        internal, login, mail_user = _accounts()
        record = pwd.getpwnam(mail_user)
        self.uid, self.gid = record.pw_uid, record.pw_gid
        (self.root / "mail").mkdir(mode=0o755)
        os.chown(self.root / "mail", self.uid, self.gid)
        self.config = self.root / "dovecot.conf"
        self.config.write_text(_config(self.root, self.port, internal, login, self.uid, self.gid))
        self._write_passwd()
        self.proc: subprocess.Popen | None = None

    def _write_passwd(self) -> None:
        lines = [
            f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{self.root}/mail/{user}::"
            for user, password in self.accounts.items()
        ]
        path = self.root / "passwd"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o644)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        log = open(self.root / "stderr.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: stop() ends its children too
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log_text()}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}:\n{self.log_text()}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                return conn.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        # The whole group (master, imap, auth...): a lone master would leave its imap
        # processes serving their clients for up to 10 s, unlike a crashed server.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop and start again with the same port and mail (after `down_for` seconds)."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def log_text(self) -> str:
        parts = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts) or "(no log)"

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
