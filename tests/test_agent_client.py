"""ChatClient against the scripted OpenAI-compatible peer: real HTTP on 127.0.0.1, no mocks."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from hermes_gateway.agent.client import ChatClient, Completion, ProviderError, ToolCall, Usage
from hermes_gateway.agent.offline import GUIDANCE, OfflineTransport, offline_usage
from hermes_gateway.agent.providers import build_client, resolve

KEY = "sk-or-v1-test-secret-0123456789abcdef"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
async def client(openai_peer):
    c = ChatClient(
        provider="openrouter", base_url=openai_peer.base_url, api_key=KEY, backoff_base=0.01
    )
    yield c
    await c.aclose()


async def test_text_streams_delta_by_delta_and_assembles_full_text(client, openai_peer):
    openai_peer.script([{"text": "The quick brown fox", "chunks": 3}])
    deltas: list[str] = []
    result = await client.complete(model="m1", messages=HELLO, on_text=deltas.append)
    assert len(deltas) == 3
    assert "".join(deltas) == result.text == "The quick brown fox"
    assert result.finish_reason == "stop"
    assert result.tool_calls == ()
    assert result.model == "m1"
    [seen] = openai_peer.requests()
    assert seen["body"]["stream"] is True
    assert seen["body"]["stream_options"] == {"include_usage": True}
    assert seen["body"]["messages"] == HELLO
    assert "tools" not in seen["body"]
    assert seen["headers"]["Authorization"] == f"Bearer {KEY}"


async def test_async_on_text_callback_is_awaited(client, openai_peer):
    openai_peer.script([{"text": "abcdef", "chunks": 2}])
    seen: list[str] = []

    async def on_text(delta: str) -> None:
        await asyncio.sleep(0)
        seen.append(delta)

    result = await client.complete(model="m", messages=HELLO, on_text=on_text)
    assert seen == ["abc", "def"] and result.text == "abcdef"


async def test_two_tool_calls_are_assembled_from_argument_pieces(client, openai_peer):
    calls = [
        {"id": "call_a", "name": "terminal", "arguments": '{"command": "ls -la /tmp"}'},
        {"id": "call_b", "name": "web_fetch", "arguments": '{"url": "https://example.org/x"}'},
    ]
    openai_peer.script([{"text": "Let me look.", "tool_calls": calls, "usage": [50, 20]}])
    tools = [{"type": "function", "function": {"name": "terminal", "parameters": {}}}]
    result = await client.complete(model="m", messages=HELLO, tools=tools)
    assert result.tool_calls == (
        ToolCall("call_a", "terminal", '{"command": "ls -la /tmp"}'),
        ToolCall("call_b", "web_fetch", '{"url": "https://example.org/x"}'),
    )
    assert result.text == "Let me look."
    assert result.finish_reason == "tool_calls"
    assert openai_peer.requests()[0]["body"]["tools"] == tools


async def test_usage_counts_come_from_the_usage_chunk(client, openai_peer):
    openai_peer.script([{"text": "hi", "usage": [123, 45]}, {"text": "no usage"}])
    assert (await client.complete(model="m", messages=HELLO)).usage == Usage(123, 45)
    assert (await client.complete(model="m", messages=HELLO)).usage is None


async def test_429_is_retried_and_retry_after_is_honoured(client, openai_peer):
    openai_peer.script([{"status": 429, "retry_after": 1}, {"text": "after the wait"}])
    started = time.monotonic()
    result = await client.complete(model="m", messages=HELLO)
    elapsed = time.monotonic() - started
    assert result.text == "after the wait"
    assert elapsed >= 0.95  # backoff_base is 0.01: only Retry-After explains the wait
    assert len(openai_peer.requests()) == 2


async def test_500_then_success_is_retried(client, openai_peer):
    openai_peer.script([{"status": 500}, {"status": 503}, {"text": "recovered"}])
    result = await client.complete(model="m", messages=HELLO)
    assert result.text == "recovered"
    assert len(openai_peer.requests()) == 3


async def test_persistent_500_raises_after_max_retries(openai_peer):
    client = ChatClient(
        provider="openrouter",
        base_url=openai_peer.base_url,
        api_key=KEY,
        max_retries=2,
        backoff_base=0.01,
    )
    openai_peer.script([{"status": 500}] * 3 + [{"text": "too late"}])
    with pytest.raises(ProviderError) as info:
        await client.complete(model="m", messages=HELLO)
    await client.aclose()
    assert info.value.status == 500 and info.value.retryable
    assert "openrouter" in str(info.value) and "500" in str(info.value)
    assert len(openai_peer.requests()) == 3  # 1 + max_retries


async def test_401_is_not_retried_and_never_shows_the_key(client, openai_peer):
    openai_peer.script([{"status": 401, "message": f"Incorrect API key provided: {KEY}"}])
    with pytest.raises(ProviderError) as info:
        await client.complete(model="m", messages=HELLO)
    err = info.value
    assert str(err) == (
        "openrouter rejected the API key (401). "
        "Check model.api_key or OPENROUTER_API_KEY in ~/.hermes/.env."
    )
    assert err.status == 401 and not err.retryable
    assert len(openai_peer.requests()) == 1
    for text in (str(err), repr(err), repr(client), str(err.args)):
        assert KEY not in text


async def test_other_4xx_shows_the_providers_message_truncated_and_scrubbed(client, openai_peer):
    message = f"context too long for key {KEY}: " + "x" * 1000
    openai_peer.script([{"status": 400, "message": message}])
    with pytest.raises(ProviderError) as info:
        await client.complete(model="m", messages=HELLO)
    text = str(info.value)
    assert text.startswith("openrouter refused the request (400): context too long for key ***")
    assert KEY not in text and KEY not in repr(info.value)
    assert len(text) < 360
    assert len(openai_peer.requests()) == 1


async def test_404_names_the_model_and_the_url(client, openai_peer):
    openai_peer.script([{"status": 404}])
    with pytest.raises(ProviderError) as info:
        await client.complete(model="vendor/nonexistent-9b", messages=HELLO)
    assert str(info.value) == (
        f"openrouter has no model 'vendor/nonexistent-9b' at {openai_peer.base_url}"
        "/chat/completions (404). Check model.default / `/model`."
    )
    assert len(openai_peer.requests()) == 1


async def test_non_streaming_json_answer_is_accepted(client, openai_peer):
    call = {"id": "call_1", "name": "terminal", "arguments": '{"command": "date"}'}
    openai_peer.script(
        [{"non_stream": True, "text": "plain JSON", "tool_calls": [call], "usage": [7, 3]}]
    )
    deltas: list[str] = []
    result = await client.complete(model="m", messages=HELLO, on_text=deltas.append)
    assert result == Completion(
        text="plain JSON",
        tool_calls=(ToolCall("call_1", "terminal", '{"command": "date"}'),),
        usage=Usage(7, 3),
        finish_reason="tool_calls",
        model="m",
    )
    assert deltas == ["plain JSON"]


async def test_malformed_stream_chunk_raises_provider_error(client, openai_peer):
    openai_peer.script([{"malformed": True}, {"text": "must not be used"}])
    with pytest.raises(ProviderError, match="sent a malformed stream chunk"):
        await client.complete(model="m", messages=HELLO)
    assert len(openai_peer.requests()) == 1


async def test_connection_drop_mid_stream_is_not_retried(client, openai_peer):
    openai_peer.script([{"text": "partial answer", "chunks": 2, "cut": True}, {"text": "again"}])
    deltas: list[str] = []
    with pytest.raises(ProviderError) as info:
        await client.complete(model="m", messages=HELLO, on_text=deltas.append)
    assert "".join(deltas) == "partial answer"  # already shown, so a replay would duplicate it
    assert "openrouter" in str(info.value)
    assert len(openai_peer.requests()) == 1


async def test_unreachable_server_is_retried_then_reported():
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ChatClient(
        provider="custom", base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, backoff_base=0.01
    )
    with pytest.raises(ProviderError) as info:
        await client.complete(model="m", messages=HELLO)
    await client.aclose()
    assert str(info.value).startswith(
        f"Could not reach custom at http://127.0.0.1:{port}/v1 after 3 attempts"
    )
    assert info.value.status is None and info.value.retryable


async def test_slow_model_beyond_timeout_is_reported_without_retry(openai_peer):
    client = ChatClient(provider="nous", base_url=openai_peer.base_url, api_key=KEY, timeout=0.3)
    openai_peer.script([{"delay": 1.0, "text": "too slow"}, {"text": "must not be used"}])
    with pytest.raises(ProviderError, match="nous did not answer within 0.3 s"):
        await client.complete(model="m", messages=HELLO)
    await client.aclose()
    assert len(openai_peer.requests()) == 1


async def test_delayed_answer_within_timeout_arrives(client, openai_peer):
    openai_peer.script([{"delay": 0.2, "text": "slow but fine"}])
    assert (await client.complete(model="m", messages=HELLO)).text == "slow but fine"


def _offline_expected(said: str) -> str:
    return f"Offline agent: you said “{said}”.\n{GUIDANCE}"


async def test_offline_provider_answers_deterministically_through_the_same_client():
    resolved = resolve("auto", "", "", "", env={})
    assert resolved.provider == "offline"
    client = build_client(resolved)
    tools = [{"type": "function", "function": {"name": "terminal", "parameters": {}}}]
    deltas: list[str] = []
    first = await client.complete(
        model=resolved.model, messages=HELLO, tools=tools, on_text=deltas.append
    )
    second = await client.complete(model=resolved.model, messages=HELLO, tools=tools)
    await client.aclose()
    assert first == second
    assert first.text == _offline_expected("hello")
    assert "".join(deltas) == first.text and len(deltas) > 1
    assert first.tool_calls == () and first.finish_reason == "stop"
    assert first.usage == Usage(*offline_usage(HELLO, first.text))


async def test_offline_echoes_every_merged_user_line():
    merged = "first thing\nsecond thing\nthird thing"
    messages = [
        {"role": "system", "content": "You are Hermes."},
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": merged},
    ]
    client = ChatClient(
        provider="offline", base_url="http://offline.invalid/v1", transport=OfflineTransport()
    )
    result = await client.complete(model="offline", messages=messages)
    await client.aclose()
    assert result.text == _offline_expected(merged)


async def test_peer_fallback_answer_equals_the_in_process_offline_answer(client, openai_peer):
    messages = [{"role": "user", "content": "same answer\nfrom both"}]
    offline = build_client(resolve("offline", "", "", "", env={}))
    expected = await offline.complete(model="offline", messages=messages)
    await offline.aclose()
    over_http = await client.complete(model="offline", messages=messages)  # empty script
    assert over_http == expected
    assert len(openai_peer.requests()) == 1
