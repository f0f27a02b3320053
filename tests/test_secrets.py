"""Secrets never appear in logs, events or errors."""

from tests.gateway_proc import GatewayProcess
from tests.helpers import write_config

API_KEY = "sk-test-0123456789abcdefSECRETSECRET"
BOT_TOKEN = "123456:AAHsecretTELEGRAMtokenVALUE"


def test_keys_and_tokens_stay_out_of_the_headless_log(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(
        home,
        f"model:\n  provider: custom\n  base_url: {openai_peer.base_url}\n"
        f"  default: m\n  api_key: {API_KEY}\n  max_retries: 0\n",
    )
    openai_peer.script([{"text": "fine"}, {"status": 401}])
    gateway = GatewayProcess(home, env={"TELEGRAM_BOT_TOKEN": BOT_TOKEN})
    try:
        gateway.wait_for_log("engine.started")
        gateway.say("first")
        assert gateway.reply()["text"] == "fine"
        gateway.say("second")
        error = gateway.reply()["text"]
        assert "401" in error and API_KEY not in error
        assert gateway.terminate() == 0
    finally:
        gateway.stop()
    assert openai_peer.requests()[0]["headers"]["Authorization"] == f"Bearer {API_KEY}"
    log = "\n".join(gateway.stderr_lines)
    assert API_KEY not in log and BOT_TOKEN not in log and "SECRET" not in log
