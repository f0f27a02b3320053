"""The provider catalogue: which OpenAI-compatible endpoint a turn talks to, and with which key.

Pure data and string handling: importing this module does not import httpx (``build_client``
imports the client lazily), so config checks and the ``/provider`` command stay cheap.
``ProviderError`` lives here for the same reason; ``agent.client`` re-exports it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hermes_gateway.agent.client import ChatClient

OFFLINE_BASE_URL = "http://offline.invalid/v1"


class ProviderError(Exception):
    """A model provider failed or is misconfigured. ``str(e)`` is a sentence for the user.

    ``status`` is the HTTP status when there was one; ``retryable`` says whether the same request
    may succeed later (rate limits, 5xx, connection errors), unlike a configuration problem."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        provider: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.provider = provider

    def __repr__(self) -> str:
        return f"ProviderError({str(self)!r}, status={self.status!r}, retryable={self.retryable!r})"


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    label: str
    base_url: str
    env_key: str  # "" for offline
    default_model: str
    key_required: bool = True


# Default models: a strong tool-calling model per provider, named the way that provider names it.
PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "openrouter",
            "OpenRouter",
            "https://openrouter.ai/api/v1",
            "OPENROUTER_API_KEY",
            "anthropic/claude-sonnet-4",
        ),
        ProviderSpec(
            "nous",
            "Nous Portal",
            "https://inference-api.nousresearch.com/v1",
            "NOUS_API_KEY",
            "Hermes-4-70B",
        ),
        ProviderSpec(
            "openai",
            "OpenAI",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            "gpt-4.1",
        ),
        ProviderSpec(
            "anthropic",
            "Anthropic",
            "https://api.anthropic.com/v1/",
            "ANTHROPIC_API_KEY",
            "claude-sonnet-4-20250514",
        ),
        ProviderSpec(
            "custom",
            "Custom endpoint",
            "http://127.0.0.1:11434/v1",  # Ollama's default
            "CUSTOM_API_KEY",
            "llama3.1",
            key_required=False,
        ),
        ProviderSpec(
            "offline", "Offline agent", OFFLINE_BASE_URL, "", "offline", key_required=False
        ),
    )
}

# "auto" tries these, in order, by the presence of their key in the environment.
AUTO_ORDER = ("openrouter", "nous", "openai", "anthropic")


@dataclass(frozen=True)
class Resolved:
    provider: str
    label: str
    base_url: str
    api_key: str = field(repr=False)
    model: str
    reason: str  # one short phrase: why this provider was chosen

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def display(self) -> str:
        return f"{self.provider}:{self.model}"


def split_model_name(name: str) -> tuple[str | None, str]:
    """``"openrouter:anthropic/claude-sonnet-4"`` → ("openrouter", "anthropic/…").

    Only a known provider name splits, so Ollama tags such as ``"llama3:8b"`` stay whole."""
    head, sep, tail = name.partition(":")
    if sep and head.strip().lower() in PROVIDERS:
        return head.strip().lower(), tail.strip()
    return None, name.strip()


def _guess_from_key(api_key: str) -> str:
    if api_key.startswith("sk-or-"):
        return "openrouter"
    if api_key.startswith("sk-ant-"):
        return "anthropic"
    if api_key.startswith("sk-"):
        return "openai"
    return "openrouter"


def _auto(base_url: str, api_key: str, env: Mapping[str, str]) -> tuple[str, str]:
    if base_url:
        return "custom", "auto: model.base_url is set"
    if api_key:
        name = _guess_from_key(api_key)
        return name, f"auto: model.api_key looks like a {PROVIDERS[name].label} key"
    for name in AUTO_ORDER:
        if env.get(PROVIDERS[name].env_key, "").strip():
            return name, f"auto: {PROVIDERS[name].env_key} is set"
    return "offline", "auto: no provider is configured"


def _unknown(name: str) -> ProviderError:
    known = ", ".join(PROVIDERS)
    return ProviderError(f"Unknown model provider '{name}'. Known providers: {known}, or auto.")


def resolve(
    provider: str,
    base_url: str,
    model: str,
    api_key: str,
    env: Mapping[str, str],
    override: str = "",
) -> Resolved:
    """Decide provider, endpoint, key and model from config, environment and a ``/model`` override.

    Precedence: the override (``provider:model`` or a bare model name) > a provider prefix in
    ``model`` > ``provider``. The configured ``base_url`` and ``api_key`` belong to the configured
    provider only: switching provider with ``/model`` never sends one provider's key to another."""
    configured = (provider or "auto").strip().lower()
    base_url = (base_url or "").strip()
    api_key = (api_key or "").strip()
    prefix, model_name = split_model_name(model or "")
    # `owner`: the provider that the configured base_url and api_key belong to.
    if configured == "auto":
        if prefix:
            owner, reason = prefix, f"model.default names {prefix}"
        else:
            owner, reason = _auto(base_url, api_key, env)
            if owner == "offline":
                model_name = ""
    elif configured in PROVIDERS:
        owner, reason = configured, f"model.provider is {configured}"
    else:
        raise _unknown(configured)

    name = owner
    if prefix and prefix != owner:
        name, reason = prefix, f"model.default names {prefix}"
    if override.strip():
        o_prefix, o_name = split_model_name(override)
        if o_prefix:
            name, model_name = o_prefix, o_name
        else:
            model_name = o_name
        reason = f"/model {override.strip()}"

    spec = PROVIDERS[name]
    own = name == owner
    if name == "offline":
        url, key = OFFLINE_BASE_URL, ""
    else:
        url = base_url if own and base_url else spec.base_url
        key = api_key if own and api_key else env.get(spec.env_key, "").strip()
    if not url.startswith(("http://", "https://")):
        raise ProviderError(
            f"model.base_url must start with http:// or https:// (got '{url}'). "
            "Fix it in ~/.hermes/config.yaml."
        )
    if spec.key_required and not key:
        raise ProviderError(
            f"{spec.label} needs an API key. Set {spec.env_key} in ~/.hermes/.env "
            "(or model.api_key in ~/.hermes/config.yaml), or run `hermes gateway setup`.",
            provider=name,
        )
    return Resolved(
        provider=name,
        label=spec.label,
        base_url=url,
        api_key=key,
        model=model_name or spec.default_model,
        reason=reason,
    )


def status(
    env: Mapping[str, str], api_key: str, provider: str
) -> list[tuple[str, str, bool, bool]]:
    """Rows for ``/provider``: (name, label, has_key, active). ``provider`` is the active one;
    the explicit ``api_key`` counts for it only. Offline needs no key and always reports True."""
    rows = []
    for spec in PROVIDERS.values():
        active = spec.name == provider
        if spec.name == "offline":
            has_key = True
        else:
            has_key = bool(env.get(spec.env_key, "").strip()) or (active and bool(api_key))
        rows.append((spec.name, spec.label, has_key, active))
    return rows


def build_client(resolved: Resolved, timeout: float = 120.0, max_retries: int = 3) -> ChatClient:
    from hermes_gateway.agent.client import ChatClient

    transport = None
    if resolved.provider == "offline":
        from hermes_gateway.agent.offline import OfflineTransport

        transport = OfflineTransport()
    return ChatClient(
        provider=resolved.provider,
        base_url=resolved.base_url,
        api_key=resolved.api_key,
        transport=transport,
        timeout=timeout,
        max_retries=max_retries,
    )
