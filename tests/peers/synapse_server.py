"""A real Synapse homeserver (from PyPI, in .venv-synapse) on 127.0.0.1 for the Matrix tests.

`tests/setup/synapse.sh` installs it. One server per test session: `shared_synapse()` starts it
on first use (a few seconds) with a fresh sqlite database in a temporary folder, registers the
bot and the users alice, bob and stranger through the shared-secret admin API, and stops it by
PID when the session ends. `restart_async()` stops and starts the same configuration on the same
port, so rooms, users and tokens survive it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import hashlib
import hmac
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
SYNAPSE_PYTHON = REPO_ROOT / ".venv-synapse" / "bin" / "python"
SERVER_NAME = "localhost"
START_TIMEOUT = 90.0  # first start creates the sqlite schema: slow on a loaded 2-core machine
STOP_TIMEOUT = 10.0
PASSWORD = "correct horse battery staple"
USERS = ("hermes", "alice", "bob", "stranger")

# Every rate limit high: tests send bursts and log in often; a 429 would only slow them down.
_LIMIT = {"per_second": 1000, "burst_count": 1000}
_CONFIG = """\
server_name: "{server_name}"
pid_file: "{data}/homeserver.pid"
public_baseurl: "http://127.0.0.1:{port}/"
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{data}/homeserver.db"
log_config: "{data}/log.yaml"
media_store_path: "{data}/media"
signing_key_path: "{data}/signing.key"
registration_shared_secret: "{shared_secret}"
macaroon_secret_key: "{macaroon}"
form_secret: "{form}"
report_stats: false
enable_registration: false
enable_metrics: false
url_preview_enabled: false
presence:
  enabled: false
# Synapse answers an identical /sync from a 2-minute cache; each test's gateway starts afresh
# with the same token, and must see the server as it is now.
caches:
  sync_response_cache_duration: 0
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
rc_message: {limit}
rc_registration: {limit}
rc_login:
  address: {limit}
  account: {limit}
  failed_attempts: {limit}
rc_joins:
  local: {limit}
  remote: {limit}
rc_joins_per_room: {limit}
rc_invites:
  per_room: {limit}
  per_user: {limit}
  per_issuer: {limit}
rc_admin_redaction: {limit}
rc_3pid_validation: {limit}
rc_room_creation: {limit}
rc_reports: {limit}
rc_delayed_event_mgmt: {limit}
"""
_LOG_CONFIG = """\
version: 1
formatters:
  plain:
    format: "%(asctime)s %(name)s %(levelname)s %(message)s"
handlers:
  file:
    class: logging.FileHandler
    filename: "{data}/homeserver.log"
    formatter: plain
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
"""


class SynapseUnavailable(RuntimeError):
    """Synapse is not installed here (the tests that need it skip with this reason)."""


def unavailable_reason() -> str:
    """Why Synapse cannot run here, or "" when it can."""
    if not SYNAPSE_PYTHON.exists():
        return f"Synapse is not installed: run `bash tests/setup/synapse.sh` ({SYNAPSE_PYTHON})"
    return ""


@dataclass(frozen=True)
class Account:
    user_id: str
    access_token: str
    device_id: str
    password: str = PASSWORD

    def __repr__(self) -> str:  # tests print accounts in failures: never the token
        return f"Account({self.user_id!r})"


class SynapseServer:
    """One Synapse process and its data folder."""

    def __init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="hermes-synapse-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.accounts: dict[str, Account] = {}
        self._write_config()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _write_config(self) -> None:
        limit = f"{{per_second: {_LIMIT['per_second']}, burst_count: {_LIMIT['burst_count']}}}"
        config = _CONFIG.format(
            server_name=SERVER_NAME,
            data=self.data,
            port=self.port,
            shared_secret=self.shared_secret,
            macaroon=secrets.token_hex(16),
            form=secrets.token_hex(16),
            limit=limit,
        )
        (self.data / "homeserver.yaml").write_text(config)
        (self.data / "log.yaml").write_text(_LOG_CONFIG.format(data=self.data))
        subprocess.run(
            [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "--generate-keys"]
            + ["--config-path", str(self.data / "homeserver.yaml")],
            cwd=self.data,
            check=True,
            capture_output=True,
            timeout=120,
        )

    # -- process ----------------------------------------------------------------------
    # Spawned from the calling thread, which should be the main one: the child's
    # PR_SET_PDEATHSIG fires when the thread that started it ends. The async variants keep
    # the event loop (and the adapter under test on it) running while Synapse stops/starts.
    def _spawn(self) -> None:
        self.proc = subprocess.Popen(
            [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver"]
            + ["--config-path", str(self.data / "homeserver.yaml")],
            cwd=self.data,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.data / "stderr.log", "ab"),  # noqa: SIM115 - the child owns it
            preexec_fn=_die_with_parent,
        )
        self._deadline = time.monotonic() + START_TIMEOUT

    def _ready(self, answer: httpx.Response | None) -> bool:
        """True once Synapse serves; raises when it died or is too slow."""
        if answer is not None and answer.status_code == 200:
            return True
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"Synapse exited at start:\n{self.log_tail()}")
        if time.monotonic() > self._deadline:
            self.stop()
            raise RuntimeError(f"Synapse did not answer within {START_TIMEOUT:g} s")
        return False

    def start(self) -> None:
        self._spawn()
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while not self._ready(_get(http, f"{self.url}/_matrix/client/versions")):
                time.sleep(0.1)

    async def start_async(self) -> None:
        self._spawn()
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
            while True:
                try:
                    answer = await http.get(f"{self.url}/_matrix/client/versions")
                except httpx.HTTPError:
                    answer = None
                if self._ready(answer):
                    return
                await asyncio.sleep(0.1)

    def _terminate(self) -> subprocess.Popen | None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return None
        os.kill(proc.pid, signal.SIGTERM)
        return proc

    def stop(self) -> None:
        proc = self._terminate()
        if proc is None:
            return
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)

    async def stop_async(self) -> None:
        proc = self._terminate()
        if proc is None:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)

    async def restart_async(self) -> None:
        """Stop and start again with the same configuration and data (state persists)."""
        await self.stop_async()
        await self.start_async()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for name in ("stderr.log", "homeserver.log"):
            path = self.data / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- users --------------------------------------------------------------------------
    def register(self, localpart: str, password: str = PASSWORD, admin: bool = False) -> Account:
        """A new user through the shared-secret registration API (no login needed)."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        with httpx.Client(timeout=30.0, trust_env=False) as http:
            nonce = http.get(endpoint).raise_for_status().json()["nonce"]
            mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
            mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode()]))
            mac.update(b"\x00admin" if admin else b"\x00notadmin")
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            answer = http.post(endpoint, json=body).raise_for_status().json()
        account = Account(answer["user_id"], answer["access_token"], answer["device_id"], password)
        self.accounts[localpart] = account
        return account


def _get(http: httpx.Client, url: str) -> httpx.Response | None:
    try:
        return http.get(url)
    except httpx.HTTPError:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # Linux: Synapse gets SIGTERM when the test process dies, so no server outlives a killed run.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_shared: SynapseServer | None = None


def shared_synapse() -> SynapseServer:
    """The session's Synapse, started (and its users registered) on first use; stopped by PID
    when the interpreter exits. Raises SynapseUnavailable when it is not installed."""
    global _shared
    reason = unavailable_reason()
    if reason:
        raise SynapseUnavailable(reason)
    if _shared is None:
        server = SynapseServer()
        try:
            server.start()
            for name in USERS:
                server.register(name)
        except BaseException:
            server.close()
            raise
        atexit.register(server.close)
        _shared = server
    elif _shared.proc is None or _shared.proc.poll() is not None:
        _shared.start()  # a test stopped it (an outage test) and did not bring it back
    return _shared
