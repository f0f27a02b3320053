"""`hermes gateway install|start|stop|restart|uninstall|status` where no service manager runs
(a container): a clear one-line message and a non-zero exit; `install --print` shows the unit;
`status` still reports a gateway running under another supervisor."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hermes_gateway.service.units import render_unit
from tests.gateway_proc import REPO

NO_SYSTEMD = not Path("/run/systemd/system").is_dir()
needs_no_systemd = pytest.mark.skipif(
    not NO_SYSTEMD or sys.platform == "darwin",
    reason="systemd (or launchd) runs here: these tests are about a machine without one",
)


def hermes(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HERMES_HOME": str(home), "HOME": str(home.parent), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hermes_gateway", "gateway", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_no_systemd
@pytest.mark.parametrize(
    "action", ["install", "start", "stop", "restart", "uninstall", "install --system"]
)
def test_without_systemd_each_command_says_so_and_exits_non_zero(tmp_path, action):
    result = hermes(tmp_path / "home", *action.split())
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "systemd is not running here (no /run/systemd/system)" in lines[0]
    assert "hermes gateway --headless" in lines[0] and "install --print" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".config").exists()  # nothing was written


def test_install_print_shows_the_unit_and_installs_nothing(tmp_path):
    home = tmp_path / "home"
    result = hermes(home, "install", "--print")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    if sys.platform == "darwin":
        assert "<key>Label</key>" in text
        return
    assert text.startswith("[Unit]\n")
    assert f'Environment="HERMES_HOME={home.resolve()}"' in text
    assert "Type=notify" in text and "WatchdogSec=" in text and "Restart=on-failure" in text
    [exec_start] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert exec_start.endswith(" gateway --headless")
    assert not (tmp_path / ".config").exists() and not home.exists()


def test_install_print_matches_the_pure_renderer(tmp_path):
    """What --print shows is exactly what install would write (the same function)."""
    from hermes_gateway.service.spec import current_spec

    home = tmp_path / "home"
    env = {**os.environ, "HERMES_HOME": str(home), "HOME": str(tmp_path)}
    result = hermes(home, "install", "--system", "--print")
    assert result.returncode == 0, result.stderr
    # The subprocess runs the same interpreter, so its spec is ours with the same environment.
    assert result.stdout == render_unit(current_spec(env, system=True))
    assert "User=" in result.stdout and "WantedBy=multi-user.target" in result.stdout


@needs_no_systemd
def test_status_without_a_service_manager_reports_no_gateway(tmp_path):
    result = hermes(tmp_path / "home", "status")
    assert result.returncode == 1
    assert "Service:   none — systemd is not running here" in result.stdout
    assert "Gateway:   not running" in result.stdout


@needs_no_systemd
def test_status_of_a_gateway_under_another_supervisor(tmp_path, gateways):
    """No systemd, but a gateway runs (docker, tmux …): status shows its PID, uptime and the
    platforms it reports over the control socket, and exits 0."""
    home = tmp_path / "home"
    gateway = gateways(home)
    gateway.wait_for_log("platform.status_changed platform=console state=connected")
    gateway.wait_for_log("control socket listening")
    result = hermes(home, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Gateway:   running, PID {gateway.proc.pid}, up " in result.stdout
    assert "console" in result.stdout and "connected" in result.stdout
    assert gateway.terminate() == 0
