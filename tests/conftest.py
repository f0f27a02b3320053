"""Shared fixtures. Peers are real loopback servers started as subprocesses and stopped by PID."""

import pytest

from tests.gateway_proc import GatewayProcess
from tests.peers.discord_fixtures import discord_peer  # noqa: F401
from tests.peers.fixtures import openai_peer  # noqa: F401
from tests.peers.telegram_fixtures import telegram_peer  # noqa: F401


@pytest.fixture
def gateways():
    """start(home, *args, env=...) → a `hermes gateway --headless` subprocess, stopped after."""
    started: list[GatewayProcess] = []

    def start(home, *args, **kwargs) -> GatewayProcess:
        gateway = GatewayProcess(home, *args, **kwargs)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
