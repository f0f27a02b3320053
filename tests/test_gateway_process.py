"""`hermes gateway --headless` as a subprocess: round trip, SIGTERM, one engine per home,
refusing bad config, and exactly-once answers across a SIGKILL."""

import sqlite3
import time

from tests.helpers import peer_config, write_config


def test_headless_console_round_trip_and_sigterm_exits_zero(tmp_path, gateways):
    gateway = gateways(tmp_path / "home")
    gateway.wait_for_log("platform.status_changed platform=console state=connected")
    gateway.say("hello from a pipe")
    reply = gateway.reply()
    assert reply["chat"] == "local" and "hello from a pipe" in reply["text"]
    assert gateway.terminate() == 0
    assert any("engine.stopping" in line for line in gateway.stderr_lines)
    # one plain line per event, no colour codes
    assert not any("\x1b[" in line for line in gateway.stderr_lines)


def test_second_gateway_on_the_same_home_names_the_running_pid(tmp_path, gateways):
    first = gateways(tmp_path / "home")
    first.wait_for_log("engine.started")
    second = gateways(tmp_path / "home")
    assert second.proc.wait(15) == 1
    assert f"PID {first.proc.pid}" in "\n".join(second.stderr_lines)


def test_bad_config_refuses_to_start_with_one_line_and_changes_nothing(tmp_path, gateways):
    home = tmp_path / "home"
    write_config(home, "session_reset:\n  mode: weekly\n")
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    gateway = gateways(home)
    assert gateway.proc.wait(15) == 78
    gateway.wait_for_log("session_reset.mode")
    message = [line for line in gateway.stderr_lines if line.strip()]
    assert len(message) == 1
    assert "config.yaml" in message[0] and "session_reset.mode" in message[0]
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before


def test_kill_between_inbox_write_and_reply_answers_exactly_once(tmp_path, gateways, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"delay": 60.0, "text": "from the dead process"}, {"text": "answer"}])
    first = gateways(home)
    first.wait_for_log("engine.started")
    first.say("do not lose me")
    deadline = time.monotonic() + 15
    while not openai_peer.requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert openai_peer.requests(), "the turn never reached the model"
    first.kill()  # SIGKILL: no chance to clean up
    db = sqlite3.connect(home / "state.db")
    assert db.execute("SELECT status FROM inbox").fetchall() == [("pending",)]

    second = gateways(home)
    assert second.reply()["text"] == "answer"
    assert second.terminate() == 0
    third = gateways(home)
    third.wait_for_log("engine.started")
    assert third.terminate() == 0
    assert third.stdout.empty()  # nothing answered twice

    assert db.execute("SELECT status FROM inbox").fetchall() == [("done",)]
    assert db.execute("SELECT status FROM outbox").fetchall() == [("sent",)]
    roles = db.execute("SELECT role FROM messages ORDER BY id").fetchall()
    assert roles == [("user",), ("assistant",)]
    assert len(openai_peer.requests()) == 2


def test_provider_without_its_key_refuses_to_start_with_a_clear_message(tmp_path, gateways):
    home = tmp_path / "home"
    write_config(home, "model:\n  provider: openrouter\n")
    gateway = gateways(home)
    assert gateway.proc.wait(15) == 78
    line = gateway.wait_for_log("OPENROUTER_API_KEY")
    assert line.startswith("hermes: ")
