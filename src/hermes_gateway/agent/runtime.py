"""The agent as the engine sees it: the configured provider resolved once, one HTTP client per
provider reused across turns, and `/model` overrides per session."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hermes_gateway.agent.loop import LoopResult, NoTools, ToolSet, run_loop
from hermes_gateway.agent.providers import Resolved, build_client, resolve


class AgentRuntime:
    def __init__(self, model_settings, env: Mapping[str, str]):
        self.model_settings = model_settings
        self.env = env
        self._resolved: dict[str, Resolved] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self.default = self.resolved("")  # fail at start-up, not on the first message

    def resolved(self, override: str) -> Resolved:
        """The provider and model for a session's `/model` override ("" = configured default).
        Raises ProviderError with a user-facing sentence when it cannot be used."""
        if override not in self._resolved:
            m = self.model_settings
            self._resolved[override] = resolve(
                m.provider, m.base_url, m.default, m.api_key, self.env, override
            )
        return self._resolved[override]

    def _client(self, target: Resolved):
        key = (target.provider, target.base_url)
        if key not in self._clients:
            m = self.model_settings
            self._clients[key] = build_client(target, m.timeout, m.max_retries)
        return self._clients[key]

    async def run(
        self,
        messages: list[dict[str, Any]],
        override: str = "",
        on_text: Callable[[str], Any] | None = None,
        result: LoopResult | None = None,
        tools: ToolSet | None = None,
        options: dict[str, Any] | None = None,
    ) -> LoopResult:
        target = self.resolved(override)
        client = self._client(target)
        tools = tools or NoTools()
        return await run_loop(client, target.model, messages, tools, on_text, result, options)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
