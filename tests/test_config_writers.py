"""Round-trip writers: .env, config.yaml and gateway.json keep what they do not change."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hermes_gateway.config import (
    ConfigError,
    load_settings,
    parse_dotenv,
    update_dotenv,
    update_json,
    update_yaml,
)
from hermes_gateway.home import HermesHome


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def unchanged(path: Path):
    """Context: assert the file's bytes and mtime are the same afterwards."""

    class _Same:
        def __enter__(self) -> None:
            self.before = (
                path.read_bytes(),
                path.stat().st_mtime_ns,
                sorted(os.listdir(path.parent)),
            )

        def __exit__(self, *exc: object) -> None:
            assert (
                path.read_bytes(),
                path.stat().st_mtime_ns,
                sorted(os.listdir(path.parent)),
            ) == self.before

    return _Same()


# --- parse_dotenv ---------------------------------------------------------------------


def test_parse_dotenv_understands_exports_quotes_comments_and_escapes() -> None:
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = padded value  \n"
        "INLINE=abc # trailing comment\n"
        "HASH=abc#def\n"
        "SINGLE='it has # and $HOME and \\n'\n"
        'DOUBLE="line1\\nline2 \\"quoted\\" back\\\\slash"  # note\n'
        "EMPTY=\n"
        "ONLY_COMMENT= # nothing\n"
        'MULTI="first\nsecond"\n'
        "DUP=1\nDUP=2\n"
    )
    assert parse_dotenv(text) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "padded value",
        "INLINE": "abc",
        "HASH": "abc#def",
        "SINGLE": "it has # and $HOME and \\n",
        "DOUBLE": 'line1\nline2 "quoted" back\\slash',
        "EMPTY": "",
        "ONLY_COMMENT": "",
        "MULTI": "first\nsecond",
        "DUP": "2",
    }


def test_parse_dotenv_accepts_crlf_line_endings() -> None:
    assert parse_dotenv("A=1\r\nB='2'\r\n") == {"A": "1", "B": "2"}


def test_parse_dotenv_rejects_text_after_a_closing_quote() -> None:
    with pytest.raises(ConfigError, match="line 2: text after the closing quote"):
        parse_dotenv("A=1\nB='x' y\n", source="/h/.env")


# --- update_dotenv --------------------------------------------------------------------

DOTENV = (
    "# Hermes secrets\n"
    "\n"
    "OPENAI_API_KEY=sk-old   # primary\n"
    "export TELEGRAM_BOT_TOKEN='123:abc'\n"
    "\n"
    "# --- other tools ---\n"
    'SOMETHING_ELSE="keep \\"me\\""\n'
    "REMOVE_ME=1\n"
    "LAST=z"
)


def test_update_dotenv_changes_only_the_named_lines(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(DOTENV)
    update_dotenv(
        path,
        {
            "OPENAI_API_KEY": "sk-new",
            "TELEGRAM_BOT_TOKEN": "456:d e f",
            "REMOVE_ME": None,
            "NEW": "n",
        },
    )
    assert path.read_text() == (
        "# Hermes secrets\n"
        "\n"
        "OPENAI_API_KEY=sk-new\n"
        "export TELEGRAM_BOT_TOKEN='456:d e f'\n"
        "\n"
        "# --- other tools ---\n"
        'SOMETHING_ELSE="keep \\"me\\""\n'
        "LAST=z\n"
        "NEW=n\n"
    )


def test_update_dotenv_with_no_changes_keeps_every_byte(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(DOTENV + "\n")
    update_dotenv(path, {})
    assert path.read_text() == DOTENV + "\n"


def test_update_dotenv_sets_mode_0600_on_an_existing_wider_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\n")
    path.chmod(0o644)
    update_dotenv(path, {"B": "2"})
    assert mode_of(path) == 0o600


def test_update_dotenv_creates_a_new_file_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".env"
    update_dotenv(path, {"TELEGRAM_BOT_TOKEN": "1:x"})
    assert path.read_text() == "TELEGRAM_BOT_TOKEN=1:x\n"
    assert mode_of(path) == 0o600


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        "with space",
        "hash # inside",
        "dollar $HOME ${X}",
        "single ' quote",
        'double " quote',
        "back\\slash",
        "new\nline",
        "tab\tand ' both \"",
        "  padded  ",
        "ünïcödé",
        "a=b=c",
    ],
)
def test_update_dotenv_quotes_values_so_they_read_back_exactly(tmp_path: Path, value: str) -> None:
    path = tmp_path / ".env"
    path.write_text("# keep\nOTHER=1\n")
    update_dotenv(path, {"VALUE": value})
    assert parse_dotenv(path.read_text()) == {"OTHER": "1", "VALUE": value}
    assert path.read_text().startswith("# keep\nOTHER=1\n")


def test_update_dotenv_replaces_a_multiline_value_and_drops_duplicates(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text('A="one\ntwo"\nB=1\nA=3\n')
    update_dotenv(path, {"A": "x"})
    assert path.read_text() == "A=x\nB=1\n"


def test_update_dotenv_keeps_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"# c\r\nA=1\r\n")
    update_dotenv(path, {"A": "2", "B": "3"})
    assert path.read_bytes() == b"# c\r\nA=2\r\nB=3\r\n"


def test_update_dotenv_follows_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles.env"
    target.write_text("A=1\n")
    link = tmp_path / ".env"
    link.symlink_to(target)
    update_dotenv(link, {"A": "2"})
    assert link.is_symlink() and target.read_text() == "A=2\n"


def test_update_dotenv_on_an_invalid_file_raises_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("GOOD=1\nthis is not an assignment\n")
    with unchanged(path), pytest.raises(ConfigError, match=r"\.env: line 2: not an assignment"):
        update_dotenv(path, {"GOOD": "2"})


def test_update_dotenv_rejects_an_invalid_variable_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        update_dotenv(tmp_path / ".env", {"NOT VALID": "x"})
    assert not (tmp_path / ".env").exists()


def test_writers_leave_no_temporary_files(tmp_path: Path) -> None:
    update_dotenv(tmp_path / ".env", {"A": "1"})
    update_yaml(tmp_path / "config.yaml", {"a.b": 1})
    update_json(tmp_path / "gateway.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "config.yaml", "gateway.json"]


# --- update_yaml ----------------------------------------------------------------------

CONFIG = """\
# Hermes config -- shared with the hermes CLI
model:
  default: "anthropic/claude-opus-4.6"   # main model
  provider: auto

terminal:            # not ours: must survive
  backend: docker
  timeout: 180

command_allowlist:
  - git status   # safe

platforms:
  telegram:
    home_channel: '111'
    allowed_users: [1, 2]
"""


def test_update_yaml_keeps_comments_order_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    update_yaml(
        path, {"platforms.telegram.home_channel": "222", "platforms.discord.home_channel": "chan"}
    )
    assert (
        path.read_text()
        == CONFIG.replace("'111'", "'222'") + "  discord:\n    home_channel: chan\n"
    )


def test_update_yaml_deletes_keys_and_keeps_the_blank_line_that_followed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    update_yaml(path, {"model.provider": None, "missing.key": None})
    assert path.read_text() == CONFIG.replace("  provider: auto\n", "")


def test_update_yaml_deleting_the_last_key_of_a_section_removes_the_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("a:\n  b: 1\nc: 2\n")
    update_yaml(path, {"a.b": None})
    assert path.read_text() == "c: 2\n"


def test_update_yaml_appends_to_a_list_keeping_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    update_yaml(path, {"command_allowlist": ("git status", "rm -rf ./build")})
    assert path.read_text() == CONFIG.replace(
        "  - git status   # safe\n", "  - git status   # safe\n  - rm -rf ./build\n"
    )
    assert load_settings(HermesHome(tmp_path), environ={}).command_allowlist == (
        "git status",
        "rm -rf ./build",
    )


def test_update_yaml_promotes_a_model_string_to_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# mine\nmodel: some/model\n")
    update_yaml(path, {"model.provider": "openrouter"})
    settings = load_settings(HermesHome(tmp_path), environ={})
    assert (settings.model.default, settings.model.provider) == ("some/model", "openrouter")
    assert path.read_text().startswith("# mine\n")


def test_update_yaml_refuses_to_replace_a_scalar_with_a_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("display: fancy\n")
    with unchanged(path), pytest.raises(ConfigError, match="display: expected a mapping"):
        update_yaml(path, {"display.tool_progress": "all"})


def test_update_yaml_keeps_the_existing_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("a: 1\n")
    path.chmod(0o640)
    update_yaml(path, {"a": 2})
    assert mode_of(path) == 0o640 and path.read_text() == "a: 2\n"


def test_update_yaml_creates_a_new_file_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    update_yaml(path, {"platforms.telegram.home_channel": "-100123"})
    assert mode_of(path) == 0o600
    assert (
        load_settings(HermesHome(tmp_path), environ={}).platforms["telegram"].home_channel
        == "-100123"
    )


def test_update_yaml_keeps_a_comment_only_file_above_new_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# nothing yet\n")
    update_yaml(path, {"busy_input_mode": "queue"})
    assert path.read_text() == "# nothing yet\nbusy_input_mode: queue\n"


def test_update_yaml_keeps_the_files_list_indentation(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("toolsets:\n- all\nother:\n    deep: 1\n")
    update_yaml(path, {"other.deep": 2})
    assert path.read_text() == "toolsets:\n- all\nother:\n    deep: 2\n"


def test_update_yaml_on_an_invalid_file_raises_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("a: [1\nb: 2\n")
    with (
        unchanged(path),
        pytest.raises(ConfigError, match=r"config\.yaml: line 2, column 2: invalid YAML"),
    ):
        update_yaml(path, {"a": 1})


def test_update_yaml_on_a_non_mapping_file_raises_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("- a\n")
    with (
        unchanged(path),
        pytest.raises(ConfigError, match="expected a mapping of keys at the top level"),
    ):
        update_yaml(path, {"a": 1})


# --- update_json ----------------------------------------------------------------------


def test_update_json_keeps_key_order_and_uses_two_space_indent(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text('{"z": 1, "reset_by_platform": {"telegram": {"mode": "idle"}}, "a": [1]}')
    update_json(path, {"reset_by_platform.telegram.idle_minutes": 240, "z": None, "b.c": "d"})
    assert path.read_text() == (
        "{\n"
        '  "reset_by_platform": {\n'
        '    "telegram": {\n'
        '      "mode": "idle",\n'
        '      "idle_minutes": 240\n'
        "    }\n"
        "  },\n"
        '  "a": [\n'
        "    1\n"
        "  ],\n"
        '  "b": {\n'
        '    "c": "d"\n'
        "  }\n"
        "}\n"
    )


def test_update_json_keeps_mode_and_creates_new_files_0600(tmp_path: Path) -> None:
    existing = tmp_path / "gateway.json"
    existing.write_text("{}")
    existing.chmod(0o644)
    update_json(existing, {"a": 1})
    assert mode_of(existing) == 0o644
    fresh = tmp_path / "sub" / "gateway.json"
    update_json(fresh, {"a": 1})
    assert mode_of(fresh) == 0o600 and json.loads(fresh.read_text()) == {"a": 1}


def test_update_json_on_an_invalid_file_raises_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text('{"a": 1,}')
    with (
        unchanged(path),
        pytest.raises(ConfigError, match=r"gateway\.json: line 1, column 9: invalid JSON"),
    ):
        update_json(path, {"a": 2})


# --- concurrency ----------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["dotenv", "yaml", "json"])
def test_concurrent_updates_to_one_file_lose_no_change(tmp_path: Path, writer: str) -> None:
    import threading

    name, update = {
        "dotenv": (".env", update_dotenv),
        "yaml": ("config.yaml", update_yaml),
        "json": ("gateway.json", update_json),
    }[writer]
    path = tmp_path / name
    keys = [f"K{index}" for index in range(16)]
    threads = [threading.Thread(target=update, args=(path, {key: "v"})) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if writer == "dotenv":
        assert set(parse_dotenv(path.read_text())) == set(keys)
    elif writer == "yaml":
        assert set(load_settings(HermesHome(tmp_path), environ={}).raw) == set(keys)
    else:
        assert set(json.loads(path.read_text())) == set(keys)
