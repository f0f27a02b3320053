"""The `hermes` CLI as a user runs it: a real subprocess on a temporary HERMES_HOME."""

import os
import subprocess
import sys

from hermes_gateway import __version__
from tests.gateway_proc import REPO


def hermes(home, *args, env=None):
    environ = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    environ.update({"HERMES_HOME": str(home)}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "hermes_gateway", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version(tmp_path):
    result = hermes(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"hermes {__version__}"


def test_usage_error_exits_2_with_one_line(tmp_path):
    for args in (["pairing", "approve", "telegram"], ["frobnicate"], ["gateway", "--nope"]):
        result = hermes(tmp_path, *args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unknown_platform_is_a_usage_error(tmp_path):
    result = hermes(tmp_path, "pairing", "approve", "myspace", "ABCDEFGH")
    assert result.returncode == 2 and "unknown platform 'myspace'" in result.stderr


def test_help_imports_no_heavy_library():
    probe = (
        "import sys\n"
        "from hermes_gateway.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = ['httpx', 'rich', 'ruamel', 'textual', 'questionary', 'aiohttp', 'sqlite3']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"


def test_engine_never_imports_ui_libraries():
    probe = (
        "import importlib, pkgutil, sys\n"
        "import hermes_gateway\n"
        "for m in pkgutil.walk_packages(hermes_gateway.__path__, 'hermes_gateway.'):\n"
        "    if m.name != 'hermes_gateway.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('textual', 'questionary', 'hermes_tui')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_config_check_prints_effective_config_with_secrets_masked(tmp_path):
    secret = "sk-or-v1-0123456789abcdef0123456789abcdef"
    (tmp_path / ".env").write_text(
        f"OPENROUTER_API_KEY={secret}\nTELEGRAM_BOT_TOKEN=123:ABCDEFGHIJKLMNOP\n"
    )
    (tmp_path / "config.yaml").write_text(
        "model:\n  provider: openrouter\n  api_key: " + secret + "\n"
    )
    result = hermes(tmp_path, "config", "check")
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    assert "ABCDEFGHIJKLMNOP" not in result.stdout + result.stderr
    assert "openrouter" in result.stdout and "Configuration OK" in result.stdout


def test_config_check_reports_bad_config_in_one_line(tmp_path):
    (tmp_path / "gateway.json").write_text('{"reset_by_platform": {"telegram": {"mode": 5}}}')
    result = hermes(tmp_path, "config", "check")
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and "gateway.json" in lines[0]
        and "reset_by_platform.telegram.mode" in lines[0]
    )


def test_pairing_list_on_a_fresh_home(tmp_path):
    result = hermes(tmp_path, "pairing", "list")
    assert result.returncode == 0
    assert "Pending: none" in result.stdout and "Approved: none" in result.stdout
    assert (tmp_path / "state.db").exists()
    assert oct(tmp_path.stat().st_mode & 0o777) == "0o700"


def test_cron_cli_adds_lists_and_removes_jobs(tmp_path):
    added = hermes(
        tmp_path,
        "cron",
        "add",
        "--name",
        "digest",
        "--schedule",
        "0 9 * * *",
        "--prompt",
        "summarise the news",
        "--deliver",
        "telegram:123",
    )
    assert added.returncode == 0, added.stderr
    job_id = next(word for word in added.stdout.split() if word.startswith("cron_")).strip(".:,()")
    listing = hermes(tmp_path, "cron", "list")
    assert "digest" in listing.stdout and job_id in listing.stdout
    bad = hermes(
        tmp_path,
        "cron",
        "add",
        "--name",
        "x",
        "--schedule",
        "whenever",
        "--prompt",
        "p",
        "--deliver",
        "telegram:1",
    )
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert hermes(tmp_path, "cron", "run", job_id).returncode == 1  # no gateway is running
    assert hermes(tmp_path, "cron", "remove", job_id).returncode == 0
    assert "digest" not in hermes(tmp_path, "cron", "list").stdout
