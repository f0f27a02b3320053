"""Shared fixtures. Peers are real loopback servers started as subprocesses and stopped by PID."""

from tests.peers.fixtures import openai_peer  # noqa: F401
from tests.peers.telegram_fixtures import telegram_peer  # noqa: F401
