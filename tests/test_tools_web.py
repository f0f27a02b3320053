"""web_fetch against a real aiohttp server on 127.0.0.1 (port 0), started and stopped by each
test. Refusals of non-loopback addresses are proven by the error text only: no test ever sends
traffic anywhere but 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from hermes_gateway.agent.services import AgentServices
from hermes_gateway.agent.tools import web as web_tool
from hermes_gateway.agent.tools.base import ToolContext, ToolError
from hermes_gateway.agent.tools.web import WEB_FETCH, check_url, html_to_text
from hermes_gateway.home import HermesHome

PAGE = """<!doctype html><html><head><title>Hermes  Test</title>
<style>body { color: red }</style><script>var secret = "do not show";</script></head>
<body><h1>Welcome</h1><p>First   paragraph
with &amp; entities.</p><ul><li>one</li><li>two</li></ul>
<noscript>enable js</noscript><pre>line 1
line 2</pre></body></html>"""


@dataclass
class Site:
    base: str
    paths: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    state = Site(base="")

    async def record(request: web.Request, handler):
        state.paths.append(request.path)
        return await handler(request)

    async def slow(request: web.Request) -> web.Response:
        await state.release.wait()  # held until the test ends, never a fixed sleep
        return web.Response(text="late")

    async def large(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        line = b"0123456789abcdef" * 64  # 1 KiB
        try:
            for _ in range(3 * 1024):  # 3 MiB, more than the 2 MB limit
                await response.write(line)
        except (ConnectionResetError, RuntimeError):
            pass  # the client stopped reading, as it should
        return response

    def respond(make):  # aiohttp wants coroutine handlers
        async def handler(request: web.Request) -> web.StreamResponse:
            return make()

        return handler

    html = "text/html"
    routes = {
        "/page": lambda: web.Response(text=PAGE, content_type=html),
        "/data.json": lambda: web.json_response({"ok": True, "n": [1, 2]}),
        "/plain": lambda: web.Response(text="x" * 5000),
        "/logo.png": lambda: web.Response(body=b"\x89PNG" + bytes(3000), content_type="image/png"),
        "/redirect": lambda: _redirect("/page"),
        "/to-private": lambda: _redirect("http://10.0.0.1/secret"),
        "/loop": lambda: _redirect("/loop"),
        "/missing": lambda: web.Response(status=404, text="<p>gone</p>", content_type=html),
    }
    app = web.Application(middlewares=[web.middleware(record)])
    for path, make in routes.items():
        app.router.add_get(path, respond(make))
    app.router.add_get("/large", large)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def make_ctx(tmp_path: Path, **settings) -> ToolContext:
    services = AgentServices(
        home=HermesHome(tmp_path / "home").ensure(), tool_settings={"web_fetch": settings}
    )
    return ToolContext(services=services, session_key="console:dm:local", cwd=tmp_path)


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return make_ctx(tmp_path, allow_private=True)


async def test_tool_metadata() -> None:
    assert web_tool.TOOLS == [WEB_FETCH]
    assert WEB_FETCH.emoji == "🌐" and WEB_FETCH.concurrent
    assert WEB_FETCH.preview({"url": "https://example.com"}) == "https://example.com"


async def test_html_page_becomes_readable_text(site: Site, ctx: ToolContext) -> None:
    out = await WEB_FETCH.run({"url": f"{site.base}/page"}, ctx)
    head, _, body = out.partition("\n\n")
    assert head == f"URL: {site.base}/page (200 OK, text/html)"
    assert body.splitlines()[0] == "Title: Hermes Test"
    assert "# Welcome" in body and "First paragraph with & entities." in body
    assert "- one\n- two" in body and "line 1\nline 2" in body
    for hidden in ("do not show", "color: red", "enable js", "<p>"):
        assert hidden not in out


async def test_json_and_text_pass_through(site: Site, ctx: ToolContext) -> None:
    out = await WEB_FETCH.run({"url": f"{site.base}/data.json"}, ctx)
    assert out == f"URL: {site.base}/data.json (200 OK, application/json)\n\n" + (
        '{"ok": true, "n": [1, 2]}'
    )
    plain = await WEB_FETCH.run({"url": f"{site.base}/plain", "max_chars": 1000}, ctx)
    assert "x" * 1000 in plain and "x" * 1001 not in plain
    assert "showing 1,000 of 5,000 characters" in plain


async def test_binary_content_is_described_in_one_line(site: Site, ctx: ToolContext) -> None:
    out = await WEB_FETCH.run({"url": f"{site.base}/logo.png"}, ctx)
    assert out.splitlines()[-1] == "image/png content, 2.9 KB; not shown as text."
    assert len(out.splitlines()) == 2


async def test_error_status_is_shown_with_its_page(site: Site, ctx: ToolContext) -> None:
    out = await WEB_FETCH.run({"url": f"{site.base}/missing"}, ctx)
    assert out.startswith(f"URL: {site.base}/missing (404 Not Found, text/html)")
    assert out.endswith("gone")


async def test_redirects_are_followed_and_reported(site: Site, ctx: ToolContext) -> None:
    out = await WEB_FETCH.run({"url": f"{site.base}/redirect"}, ctx)
    assert out.startswith(f"URL: {site.base}/page (200 OK")
    assert f"Redirected from: {site.base}/redirect" in out
    with pytest.raises(ToolError, match="more than 5 redirects"):
        await WEB_FETCH.run({"url": f"{site.base}/loop"}, ctx)
    assert site.paths.count("/loop") == 6


async def test_large_body_stops_at_the_size_limit(site: Site, ctx: ToolContext) -> None:
    out = await WEB_FETCH.run({"url": f"{site.base}/large"}, ctx)
    assert "stopped after 2.0 MB; the rest was not downloaded" in out
    assert "showing 20,000 of 2,097,152 characters" in out


async def test_slow_server_hits_the_time_limit(site: Site, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, allow_private=True, timeout=0.5)
    with pytest.raises(ToolError, match=r"timed out after 0.5 s"):
        await WEB_FETCH.run({"url": f"{site.base}/slow"}, ctx)


async def test_private_addresses_are_refused_by_default(site: Site, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match="127.0.0.1, a loopback address"):
        await WEB_FETCH.run({"url": f"{site.base}/page"}, ctx)
    port = site.base.rsplit(":", 1)[1]
    with pytest.raises(ToolError, match="loopback"):
        await WEB_FETCH.run({"url": f"http://localhost:{port}/page"}, ctx)
    assert site.paths == []  # refused before any request


async def test_redirect_to_a_private_address_is_refused_before_connecting(
    site: Site, tmp_path: Path
) -> None:
    # The test server itself is allowed by name; private networks stay off.
    ctx = make_ctx(tmp_path, allow_hosts=["127.0.0.1"])
    with pytest.raises(ToolError) as err:
        await WEB_FETCH.run({"url": f"{site.base}/to-private"}, ctx)
    assert "Refused http://10.0.0.1/secret" in str(err.value)
    assert "10.0.0.1, a private address" in str(err.value)
    assert site.paths == ["/to-private"]


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/file.txt", "gopher://example.com", "javascript:1"],
)
async def test_only_http_and_https_are_fetched(url: str, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="only http and https URLs can be fetched"):
        await WEB_FETCH.run({"url": url}, ctx)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/", "private"),
        ("http://192.168.1.1:8080/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://240.0.0.1/", "reserved"),
        ("http://app.localhost/", "loopback"),
    ],
)
async def test_check_url_refuses_non_public_addresses(url: str, reason: str) -> None:
    # IP literals resolve locally: getaddrinfo sends nothing on the network for them.
    with pytest.raises(ToolError, match=reason):
        await check_url(url, allow_private=False, allow_hosts=frozenset())


async def test_check_url_allow_private_and_allow_hosts() -> None:
    await check_url("http://10.1.2.3/", allow_private=True, allow_hosts=frozenset())
    await check_url("http://10.1.2.3/", allow_private=False, allow_hosts=frozenset({"10.1.2.3"}))
    with pytest.raises(ToolError, match="no host"):
        await check_url("http:///path", allow_private=True, allow_hosts=frozenset())


async def test_connection_failure_is_a_tool_error(ctx: ToolContext) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ToolError, match="Could not fetch"):
        await WEB_FETCH.run({"url": f"http://127.0.0.1:{port}/"}, ctx)


async def test_bad_arguments(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="url"):
        await WEB_FETCH.run({}, ctx)
    with pytest.raises(ToolError, match="must be a string"):
        await WEB_FETCH.run({"url": 42}, ctx)
    with pytest.raises(ToolError, match="at least 100"):
        await WEB_FETCH.run({"url": "https://example.com", "max_chars": 5}, ctx)
    with pytest.raises(ToolError, match="only http and https"):
        await WEB_FETCH.run({"url": "example.com/page"}, ctx)


def test_html_to_text_without_title_and_with_broken_markup() -> None:
    assert html_to_text("<div>a<div>b</div></div><p>c") == "a\nb\nc"
    assert html_to_text("<script>unclosed") == ""
    assert html_to_text("<table><tr><td>x</td><td>y</td></tr></table>") == "x y"
