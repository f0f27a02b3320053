"""web_fetch: fetch one http(s) URL and return it as text the model can read.

Guard rails, because the model chooses the URL: only http and https; every hop of a redirect is
checked before it is requested, and a host whose name resolves to any private, loopback,
link-local or reserved address is refused (unless `tools.web_fetch.allow_private`, or the host is
listed in `tools.web_fetch.allow_hosts`); the whole fetch has a time limit and the body a size
limit. Settings (`tool_settings["web_fetch"]`): allow_private, allow_hosts, timeout, max_bytes."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from hermes_gateway import __version__
from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError
from hermes_gateway.agent.tools.files import arg_int, arg_str, human_size

MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_CHARS = 20_000
TEXT_TYPES = ("json", "xml", "javascript", "yaml", "csv", "x-www-form-urlencoded")
_ssl_context: ssl.SSLContext | None = None  # built once: it costs more than a local request


async def check_url(url: str, allow_private: bool, allow_hosts: frozenset[str]) -> None:
    """Refuse a URL the tool must not fetch; raises ToolError saying why."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ToolError(f"Refused {url}: only http and https URLs can be fetched.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ToolError(f"Refused {url}: the URL has no host.")
    if allow_private or host in allow_hosts:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise ToolError(f"Refused {url}: {host} is this machine (a loopback address).")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise ToolError(f"Refused {url}: the port is not a number from 0 to 65535.") from None
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"Could not resolve {host}: {exc.strerror}. Check the URL.") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])  # drop an IPv6 scope id
        reason = _not_public(address)
        if reason:
            raise ToolError(
                f"Refused {url}: {host} resolves to {address}, a {reason} address. "
                "Fetching private networks is off (tools.web_fetch.allow_private)."
            )


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    for reason, flag in (
        # Most specific first: Python counts many special ranges as is_private too.
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return reason
    return ""


async def web_fetch(args: dict[str, Any], ctx: ToolContext) -> str:
    url = arg_str(args, "url", empty=False).strip()
    max_chars = arg_int(args, "max_chars", DEFAULT_MAX_CHARS, minimum=100)
    settings = ctx.services.tool_settings.get("web_fetch", {}) or {}
    timeout = float(settings.get("timeout") or DEFAULT_TIMEOUT)
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(url, max_chars, settings)
    except TimeoutError:
        raise ToolError(f"Fetching {url} timed out after {timeout:g} s.") from None


async def _fetch(url: str, max_chars: int, settings: dict[str, Any]) -> str:
    import httpx  # lazy: the HTTP stack is loaded only when a fetch happens

    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    allow_private = bool(settings.get("allow_private"))
    allow_hosts = frozenset(str(h).lower() for h in settings.get("allow_hosts") or ())
    max_bytes = int(settings.get("max_bytes") or DEFAULT_MAX_BYTES)
    headers = {"User-Agent": f"HermesGateway/{__version__} (web_fetch)", "Accept": "*/*"}
    start = url
    async with httpx.AsyncClient(
        follow_redirects=False, verify=_ssl_context, headers=headers, timeout=None
    ) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            await check_url(url, allow_private, allow_hosts)
            try:
                async with client.stream("GET", url) as response:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        url = str(response.url.join(location))
                        continue
                    body, complete = await _read_body(response, max_bytes)
            except httpx.InvalidURL as exc:
                raise ToolError(f"Refused {url}: {exc}.") from None
            except httpx.HTTPError as exc:
                raise ToolError(
                    f"Could not fetch {url}: {str(exc) or type(exc).__name__}."
                ) from None
            # Parsing a large page is CPU work; a thread keeps other sessions answering meanwhile.
            return await asyncio.to_thread(
                _render, response, start, body, complete, max_bytes, max_chars
            )
    raise ToolError(f"Gave up on {start}: more than {MAX_REDIRECTS} redirects.")


async def _read_body(response: Any, max_bytes: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], False
    return b"".join(chunks), True


def _render(
    response: Any, start: str, body: bytes, complete: bool, max_bytes: int, max_chars: int
) -> str:
    ctype = response.headers.get("content-type", "")
    mime = ctype.split(";")[0].strip().lower()
    head = f"URL: {response.url} ({response.status_code} {response.reason_phrase}, {mime or '?'})"
    if str(response.url) != start:
        head += f"\nRedirected from: {start}"
    if not complete:
        head += f"\nNote: stopped after {human_size(max_bytes)}; the rest was not downloaded."
    encoding = response.charset_encoding or "utf-8"
    if mime in ("text/html", "application/xhtml+xml"):
        text = html_to_text(_decode(body, encoding))
    elif _is_text(mime, body):
        text = _decode(body, encoding)
    else:
        size = human_size(len(body)) + ("" if complete else "+")
        return f"{head}\n{mime or 'binary'} content, {size}; not shown as text."
    if len(text) > max_chars:
        text = (
            text[:max_chars] + f"\n… [truncated: showing {max_chars:,} of {len(text):,} "
            "characters; call again with a larger max_chars to see more]"
        )
    return f"{head}\n\n{text}"


def _is_text(mime: str, body: bytes) -> bool:
    if mime.startswith("text/") or any(t in mime for t in TEXT_TYPES):
        return True
    return not mime and b"\0" not in body[:8192]  # no type given: sniff like git does


def _decode(body: bytes, encoding: str) -> str:
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


class _Readable(HTMLParser):
    """HTML to plain text: drops scripts and styles, keeps paragraphs, headings, list items and
    the lines of <pre> blocks on lines of their own."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "canvas"})
    BLOCK = frozenset(
        {"p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "thead",
         "tbody", "section", "article", "header", "footer", "nav", "aside", "main", "pre",
         "blockquote", "form", "figure", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.skip = 0
        self.pre = 0
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "title":
            self.in_title = True
        elif tag in self.BLOCK:
            self.parts.append("\n")
            if tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.parts.append("- ")
            elif tag[0] == "h" and tag[1:].isdigit():
                self.parts.append("#" * int(tag[1:]) + " ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "title":
            self.in_title = False
        elif tag in self.BLOCK:
            self.parts.append("\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.in_title:
            self.title.append(data)
        elif self.pre:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text of an HTML page (stdlib parser only), the title on the first line."""
    parser = _Readable()
    parser.feed(html)
    parser.close()
    # Every block boundary is a newline; empty lines between blocks carry nothing.
    # (<pre> keeps its lines, not their indentation.)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    text = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title).split())
    return f"Title: {title}\n\n{text}" if title else text


WEB_FETCH = Tool(
    name="web_fetch",
    description=(
        "Fetch a web page or API URL (http/https) and return its text: HTML is converted to "
        "readable text, JSON and plain text are returned as is. Private network addresses are "
        "refused."
    ),
    parameters={
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "http:// or https:// URL"},
            "max_chars": {
                "type": "integer",
                "minimum": 100,
                "description": f"Longest text returned (default {DEFAULT_MAX_CHARS})",
            },
        },
        "required": ["url"],
    },
    emoji="🌐",
    run=web_fetch,
    preview=lambda args: str(args.get("url", "")),
    concurrent=True,
)

TOOLS: list[Tool] = [WEB_FETCH]
