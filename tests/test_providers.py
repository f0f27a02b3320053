"""The provider catalogue: model-name parsing, resolution precedence, key handling."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hermes_gateway.agent.offline import OfflineTransport
from hermes_gateway.agent.providers import (
    PROVIDERS,
    ProviderError,
    build_client,
    resolve,
    split_model_name,
    status,
)

OR_KEY = "sk-or-v1-aaaaaaaaaaaaaaaa"
OA_KEY = "sk-proj-bbbbbbbbbbbbbbbb"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openrouter:anthropic/claude-sonnet-4", ("openrouter", "anthropic/claude-sonnet-4")),
        ("custom:llama3:8b", ("custom", "llama3:8b")),
        ("OpenAI:gpt-4.1", ("openai", "gpt-4.1")),
        ("llama3:8b", (None, "llama3:8b")),
        ("anthropic/claude-sonnet-4", (None, "anthropic/claude-sonnet-4")),
        ("gpt-4.1", (None, "gpt-4.1")),
        ("nous:", ("nous", "")),
    ],
)
def test_split_model_name_splits_only_known_provider_prefixes(name, expected):
    assert split_model_name(name) == expected


def test_auto_without_any_key_is_offline():
    r = resolve("auto", "", "anthropic/claude-sonnet-4", "", env={})
    assert (r.provider, r.model, r.api_key) == ("offline", "offline", "")
    assert r.reason == "auto: no provider is configured"


def test_auto_picks_the_first_provider_with_a_key_in_order():
    env = {"OPENAI_API_KEY": OA_KEY, "NOUS_API_KEY": "nous-key"}
    r = resolve("auto", "", "", "", env=env)
    assert (r.provider, r.api_key, r.model) == ("nous", "nous-key", PROVIDERS["nous"].default_model)
    r = resolve("auto", "", "", "", env={**env, "OPENROUTER_API_KEY": OR_KEY})
    assert (r.provider, r.api_key) == ("openrouter", OR_KEY)
    assert r.reason == "auto: OPENROUTER_API_KEY is set"


def test_auto_with_base_url_is_custom_and_needs_no_key():
    env = {"OPENAI_API_KEY": OA_KEY}
    r = resolve("auto", "http://127.0.0.1:11434/v1", "llama3:8b", "", env=env)
    assert (r.provider, r.base_url, r.model, r.api_key) == (
        "custom",
        "http://127.0.0.1:11434/v1",
        "llama3:8b",
        "",
    )


def test_auto_with_an_explicit_key_guesses_the_provider_from_its_prefix():
    assert resolve("auto", "", "", "sk-ant-api03-x", env={}).provider == "anthropic"
    assert resolve("auto", "", "", OR_KEY, env={}).provider == "openrouter"
    assert resolve("auto", "", "", OA_KEY, env={}).provider == "openai"


def test_explicit_key_beats_the_environment():
    r = resolve("openrouter", "", "x/y", "explicit-key", env={"OPENROUTER_API_KEY": OR_KEY})
    assert r.api_key == "explicit-key"
    assert r.base_url == "https://openrouter.ai/api/v1"


def test_configured_base_url_applies_to_a_named_provider():
    r = resolve("openrouter", "http://127.0.0.1:9/v1", "", OR_KEY, env={})
    assert r.base_url == "http://127.0.0.1:9/v1"


def test_override_with_provider_prefix_wins_and_does_not_reuse_the_other_key():
    env = {"OPENAI_API_KEY": OA_KEY}
    r = resolve(
        "openrouter", "http://proxy.local/v1", "a/b", OR_KEY, env=env, override="openai:gpt-4o"
    )
    assert (r.provider, r.model, r.api_key, r.base_url) == (
        "openai",
        "gpt-4o",
        OA_KEY,
        "https://api.openai.com/v1",
    )
    assert r.reason == "/model openai:gpt-4o"
    with pytest.raises(ProviderError) as info:
        resolve("openrouter", "", "a/b", OR_KEY, env={}, override="openai:gpt-4o")
    assert OR_KEY not in str(info.value)


def test_bare_model_override_keeps_the_provider():
    r = resolve("openrouter", "", "a/b", OR_KEY, env={}, override="meta-llama/llama-4")
    assert (r.provider, r.model, r.api_key) == ("openrouter", "meta-llama/llama-4", OR_KEY)


def test_override_to_offline_needs_no_key():
    r = resolve("openrouter", "", "a/b", OR_KEY, env={}, override="offline:")
    assert (r.provider, r.api_key, r.model) == ("offline", "", "offline")


def test_provider_prefix_in_model_default_selects_the_provider():
    r = resolve("auto", "", "nous:Hermes-4-405B", "", env={"NOUS_API_KEY": "nk"})
    assert (r.provider, r.model, r.api_key) == ("nous", "Hermes-4-405B", "nk")


def test_missing_key_for_a_named_provider_is_a_clear_error():
    with pytest.raises(ProviderError) as info:
        resolve("anthropic", "", "", "", env={})
    assert str(info.value) == (
        "Anthropic needs an API key. Set ANTHROPIC_API_KEY in ~/.hermes/.env "
        "(or model.api_key in ~/.hermes/config.yaml), or run `hermes gateway setup`."
    )


def test_unknown_provider_is_a_clear_error():
    with pytest.raises(ProviderError, match="Unknown model provider 'openrouterr'"):
        resolve("openrouterr", "", "", "", env={})


def test_resolved_repr_never_shows_the_key():
    r = resolve("openrouter", "", "", OR_KEY, env={})
    assert OR_KEY not in repr(r)
    assert r.has_key and r.display == "openrouter:anthropic/claude-sonnet-4"


def test_status_lists_every_provider_with_key_presence_and_the_active_one():
    rows = status({"OPENAI_API_KEY": OA_KEY}, api_key="explicit", provider="openrouter")
    assert [r[0] for r in rows] == list(PROVIDERS)
    by_name = {name: (has_key, active) for name, _label, has_key, active in rows}
    assert by_name["openrouter"] == (True, True)  # the explicit key counts for the active one
    assert by_name["openai"] == (True, False)
    assert by_name["nous"] == (False, False)
    assert by_name["offline"] == (True, False)


async def test_build_client_uses_the_in_process_transport_for_offline():
    client = build_client(resolve("auto", "", "", "", env={}), timeout=5, max_retries=0)
    assert isinstance(client._http._transport, OfflineTransport)
    assert client.max_retries == 0
    await client.aclose()


def test_importing_the_catalogue_does_not_import_httpx():
    code = (
        "import sys, hermes_gateway.agent.providers as p; "
        "p.resolve('auto', '', '', '', {}); "
        "sys.exit(1 if 'httpx' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
