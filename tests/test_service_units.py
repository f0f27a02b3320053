"""Service unit files: systemd units (golden text, checked by `systemd-analyze verify` when it is
installed), the launchd plist (parsed with plistlib), service names and staleness."""

import hashlib
import os
import plistlib
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from hermes_gateway.service import launchd
from hermes_gateway.service.spec import ServiceSpec, current_spec, service_name
from hermes_gateway.service.units import render_unit, unit_path

ADA_HOME = Path("/home/ada/.hermes")
VENV = "/opt/hermes/venv"
USER_SPEC = ServiceSpec(
    name="hermes-gateway",
    command=(f"{VENV}/bin/hermes", "gateway", "--headless"),
    home=ADA_HOME,
    path=f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin",
    virtual_env=VENV,
)
SYSTEM_SPEC = replace(USER_SPEC, user="ada", system=True)

USER_UNIT = textwrap.dedent(
    """\
    [Unit]
    Description=Hermes Gateway (HERMES_HOME=/home/ada/.hermes)
    StartLimitIntervalSec=600
    StartLimitBurst=5

    [Service]
    Type=notify
    NotifyAccess=main
    ExecStart=/opt/hermes/venv/bin/hermes gateway --headless
    ExecReload=/bin/kill -HUP $MAINPID
    Environment="PATH=/opt/hermes/venv/bin:/usr/local/bin:/usr/bin:/bin"
    Environment="VIRTUAL_ENV=/opt/hermes/venv"
    Environment="HERMES_HOME=/home/ada/.hermes"
    WorkingDirectory=/home/ada/.hermes
    Restart=on-failure
    RestartSec=5
    RestartPreventExitStatus=78
    WatchdogSec=60
    TimeoutStopSec=30
    KillMode=mixed
    StandardOutput=journal
    StandardError=journal
    SyslogIdentifier=hermes-gateway

    [Install]
    WantedBy=default.target
    """
)

SYSTEM_UNIT = textwrap.dedent(
    """\
    [Unit]
    Description=Hermes Gateway (HERMES_HOME=/home/ada/.hermes)
    Wants=network-online.target
    After=network-online.target
    StartLimitIntervalSec=600
    StartLimitBurst=5

    [Service]
    Type=notify
    NotifyAccess=main
    ExecStart=/opt/hermes/venv/bin/hermes gateway --headless
    ExecReload=/bin/kill -HUP $MAINPID
    Environment="PATH=/opt/hermes/venv/bin:/usr/local/bin:/usr/bin:/bin"
    Environment="VIRTUAL_ENV=/opt/hermes/venv"
    Environment="HERMES_HOME=/home/ada/.hermes"
    User=ada
    WorkingDirectory=/home/ada/.hermes
    Restart=on-failure
    RestartSec=5
    RestartPreventExitStatus=78
    WatchdogSec=60
    TimeoutStopSec=30
    KillMode=mixed
    StandardOutput=journal
    StandardError=journal
    SyslogIdentifier=hermes-gateway

    [Install]
    WantedBy=multi-user.target
    """
)

# A home with a space and a `%` in its path, and no virtualenv: quoting and escaping.
OTHER_HOME = Path("/srv/hermes 100%")
OTHER_NAME = "hermes-gateway-" + hashlib.sha256(b"/srv/hermes 100%").hexdigest()[:8]
OTHER_SPEC = ServiceSpec(
    name=OTHER_NAME,
    command=("/usr/bin/python3", "-m", "hermes_gateway", "gateway", "--headless"),
    home=OTHER_HOME,
    path="/usr/bin:/bin",
)
OTHER_UNIT = textwrap.dedent(
    f"""\
    [Unit]
    Description=Hermes Gateway (HERMES_HOME=/srv/hermes 100%%)
    StartLimitIntervalSec=600
    StartLimitBurst=5

    [Service]
    Type=notify
    NotifyAccess=main
    ExecStart=/usr/bin/python3 -m hermes_gateway gateway --headless
    ExecReload=/bin/kill -HUP $MAINPID
    Environment="PATH=/usr/bin:/bin"
    Environment="HERMES_HOME=/srv/hermes 100%%"
    WorkingDirectory=/srv/hermes 100%%
    Restart=on-failure
    RestartSec=5
    RestartPreventExitStatus=78
    WatchdogSec=60
    TimeoutStopSec=30
    KillMode=mixed
    StandardOutput=journal
    StandardError=journal
    SyslogIdentifier={OTHER_NAME}

    [Install]
    WantedBy=default.target
    """
)


@pytest.mark.parametrize(
    "spec, golden",
    [(USER_SPEC, USER_UNIT), (SYSTEM_SPEC, SYSTEM_UNIT), (OTHER_SPEC, OTHER_UNIT)],
    ids=["user", "system", "non-default-home"],
)
def test_unit_text_matches_golden(spec, golden):
    assert render_unit(spec) == golden


def test_default_home_is_named_hermes_gateway_and_others_by_hash():
    assert service_name(ADA_HOME, ADA_HOME) == "hermes-gateway"
    assert service_name(OTHER_HOME, ADA_HOME) == OTHER_NAME
    assert service_name(Path("/home/ada/.hermes/"), ADA_HOME) == "hermes-gateway"


def test_unit_paths_for_user_and_system_units():
    home = Path("/home/ada")
    assert unit_path(USER_SPEC, {}, home) == home / ".config/systemd/user/hermes-gateway.service"
    xdg = {"XDG_CONFIG_HOME": "/cfg"}
    assert unit_path(USER_SPEC, xdg, home) == Path("/cfg/systemd/user/hermes-gateway.service")
    assert unit_path(SYSTEM_SPEC, {}, home) == Path("/etc/systemd/system/hermes-gateway.service")


def test_exec_start_quotes_spaces_and_escapes_dollar_and_percent():
    spec = replace(OTHER_SPEC, command=("/opt/my env/bin/hermes", "a$b", "50%", "gateway"))
    [line] = [x for x in render_unit(spec).splitlines() if x.startswith("ExecStart=")]
    assert line == 'ExecStart="/opt/my env/bin/hermes" a$$b 50%% gateway'


def test_current_spec_snapshots_path_with_the_virtualenv_first(tmp_path):
    environ = {
        "HOME": str(tmp_path),
        "HERMES_HOME": str(tmp_path / "elsewhere"),
        "PATH": f"/usr/bin::/bin:/usr/bin:{sys.prefix}/bin",
    }
    spec = current_spec(environ)
    assert sys.prefix != sys.base_prefix, "the tests run from the project virtualenv"
    assert spec.virtual_env == sys.prefix
    assert spec.path == f"{sys.prefix}/bin:/usr/bin:/bin"
    assert spec.home == (tmp_path / "elsewhere").resolve()
    assert spec.name == service_name(tmp_path / "elsewhere", tmp_path / ".hermes")
    assert spec.name.startswith("hermes-gateway-")
    # runs `hermes gateway --headless` of this very environment
    assert spec.command == (str(Path(sys.prefix) / "bin" / "hermes"), "gateway", "--headless")
    assert spec.environment == {
        "PATH": spec.path,
        "VIRTUAL_ENV": sys.prefix,
        "HERMES_HOME": str(spec.home),
    }
    default = current_spec({"HOME": str(tmp_path), "PATH": "/bin"})
    assert default.name == "hermes-gateway" and default.home == (tmp_path / ".hermes").resolve()


def test_installed_unit_compared_with_what_would_be_generated_now():
    from hermes_gateway.service.manager import unit_is_current

    assert unit_is_current(USER_UNIT, USER_SPEC)
    moved = replace(USER_SPEC, path="/new/venv/bin:/usr/bin:/bin")
    assert not unit_is_current(USER_UNIT, moved)
    assert not unit_is_current(USER_UNIT.replace("WatchdogSec=60", "WatchdogSec=5"), USER_SPEC)


# -- systemd-analyze verify ------------------------------------------------------------------

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None,
    reason="systemd-analyze is not installed (tests/setup/systemd-analyze.sh installs it)",
)


def _verify(unit_dir: Path, name: str, user: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "notice"}
    args = [ANALYZE, "verify"]
    if user:  # the user manager wants a runtime dir; a private one is enough to verify
        runtime = unit_dir / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        args.append("--user")
    return subprocess.run(
        [*args, str(unit_dir / f"{name}.service")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_analyze
@pytest.mark.parametrize("kind", ["user", "system", "non-default-home"])
def test_systemd_analyze_verify_accepts_the_unit(tmp_path, kind):
    home = tmp_path / ("home with space" if kind == "non-default-home" else ".hermes")
    home.mkdir()
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "HERMES_HOME": str(home)}
    spec = current_spec(env, system=kind == "system")
    if kind == "system":
        spec = replace(spec, user="root")  # User= must name an account that exists here
    assert Path(spec.command[0]).is_file()  # verify checks that ExecStart's binary exists
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    (unit_dir / f"{spec.name}.service").write_text(render_unit(spec))
    result = _verify(unit_dir, spec.name, user=kind != "system")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"{spec.name}.service" not in output, output  # no warning about our unit


@needs_analyze
def test_systemd_analyze_verify_rejects_a_broken_unit(tmp_path):
    """The check above can fail: a unit whose ExecStart does not exist is refused."""
    spec = replace(USER_SPEC, command=(str(tmp_path / "missing" / "hermes"), "gateway"))
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    (unit_dir / "hermes-gateway.service").write_text(render_unit(spec))
    result = _verify(unit_dir, "hermes-gateway", user=False)
    assert result.returncode != 0
    assert "missing/hermes" in result.stdout + result.stderr


# -- launchd ---------------------------------------------------------------------------------


def test_launchd_plist_parses_and_carries_the_same_environment():
    data = plistlib.loads(launchd.render_plist(USER_SPEC))
    assert data["Label"] == "ai.hermes.gateway"
    assert data["ProgramArguments"] == [f"{VENV}/bin/hermes", "gateway", "--headless"]
    assert data["EnvironmentVariables"] == {
        "PATH": USER_SPEC.path,
        "VIRTUAL_ENV": VENV,
        "HERMES_HOME": str(ADA_HOME),
    }
    assert data["RunAtLoad"] is True
    assert data["KeepAlive"] == {"SuccessfulExit": False}  # restart on failure only
    assert data["StandardErrorPath"] == f"{ADA_HOME}/logs/launchd.err.log"
    assert data["StandardOutPath"] == f"{ADA_HOME}/logs/launchd.out.log"
    assert data["WorkingDirectory"] == str(ADA_HOME)


def test_launchd_label_and_path_for_a_non_default_home():
    suffix = OTHER_NAME.removeprefix("hermes-gateway")
    assert launchd.label(OTHER_SPEC) == f"ai.hermes.gateway{suffix}"
    path = launchd.plist_path(OTHER_SPEC, Path("/Users/ada"))
    assert path == Path(f"/Users/ada/Library/LaunchAgents/ai.hermes.gateway{suffix}.plist")
    data = plistlib.loads(launchd.render_plist(OTHER_SPEC))
    assert "VIRTUAL_ENV" not in data["EnvironmentVariables"]
    assert data["EnvironmentVariables"]["HERMES_HOME"] == "/srv/hermes 100%"


def test_launchd_plist_staleness_is_judged_on_the_data():
    installed = launchd.render_plist(USER_SPEC)
    assert launchd.plist_is_current(installed, USER_SPEC)
    binary = plistlib.dumps(plistlib.loads(installed), fmt=plistlib.FMT_BINARY)
    assert launchd.plist_is_current(binary, USER_SPEC)
    assert not launchd.plist_is_current(installed, replace(USER_SPEC, path="/usr/bin"))
    assert not launchd.plist_is_current(b"not a plist", USER_SPEC)


def test_installed_unit_on_disk_is_judged_current_or_stale(tmp_path):
    from hermes_gateway.service.manager import Systemd

    environ = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path)}
    manager = Systemd(USER_SPEC, environ, tmp_path)
    assert manager.path == tmp_path / "cfg/systemd/user/hermes-gateway.service"
    assert manager.installed_text() is None and not manager.is_current()
    manager.path.parent.mkdir(parents=True)
    manager.path.write_text(USER_UNIT)
    assert manager.is_current()
    manager.path.write_text(USER_UNIT.replace("/opt/hermes/venv", "/old/venv"))
    assert manager.installed_text() is not None and not manager.is_current()


def test_a_user_and_a_system_unit_at_once_is_warned_about(tmp_path, monkeypatch, capsys):
    from hermes_gateway.service import cli, units
    from hermes_gateway.service.manager import Systemd

    monkeypatch.setattr(units, "SYSTEM_UNIT_DIR", tmp_path / "etc")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path)}
    manager = Systemd(USER_SPEC, environ, tmp_path)
    manager.path.parent.mkdir(parents=True)
    manager.path.write_text(USER_UNIT)
    cli._warn_both_scopes(manager, environ, tmp_path)
    assert capsys.readouterr().err == ""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hermes-gateway.service").write_text(SYSTEM_UNIT)
    cli._warn_both_scopes(manager, environ, tmp_path)
    warning = capsys.readouterr().err
    assert warning.startswith("warning: both a user unit and a system unit are installed")
    assert str(tmp_path / "etc" / "hermes-gateway.service") in warning
