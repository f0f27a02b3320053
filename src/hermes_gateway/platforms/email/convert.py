"""A raw RFC 5322 message -> what the adapter delivers, or the reason it is ignored.

Every mail is a DM: the chat is the sender's address. Mail that must never be answered is
ignored here (RFC 3834 auto-replies, bulk and list mail, bounces, no-reply senders, our own
mail), so the bot cannot loop with a vacation responder or answer a newsletter."""

from __future__ import annotations

import email
import email.policy
import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from hermes_gateway.core.types import ChatType, InboundMessage, Platform, SessionSource

from .threads import Thread

_NO_REPLY = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster|bounces?|notifications?)"
    r"([+.\-_].*)?$",
    re.IGNORECASE,
)
_BULK = {"bulk", "junk", "list", "auto_reply"}
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "List-Id", "List-Unsubscribe")
_ATTRIBUTION = re.compile(r"^(On .+ wrote:|-----\s*Original Message\s*-----)\s*$", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw)\s*:\s*)+", re.IGNORECASE)


class Malformed(ValueError):
    """A mail we cannot read (no sender, an unknown charset...): logged and skipped."""


@dataclass(frozen=True)
class Part:
    """An attachment, not saved yet."""

    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Converted:
    message: InboundMessage
    thread: Thread
    parts: tuple[Part, ...] = field(default=())


@dataclass(frozen=True)
class Ignored:
    reason: str


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def convert(raw: bytes, own_address: str, fallback_id: str) -> Converted | Ignored:
    """The message to deliver, or why it is ignored. Raises Malformed for unreadable mail."""
    mail = parse(raw)
    sender, name = _sender(mail)
    if sender == own_address.lower():
        return Ignored("own mail")
    reason = auto_reply_reason(mail, sender)
    if reason:
        return Ignored(reason)
    body, parts = _content(mail)
    subject = _header(mail, "Subject")
    text = strip_quoted(body)
    if not text and subject:
        text = _REPLY_PREFIX.sub("", subject).strip()
    message_id = _header(mail, "Message-ID") or fallback_id
    source = SessionSource(
        platform=Platform.EMAIL,
        chat_id=sender,
        chat_type=ChatType.DM,
        user_id=sender,
        user_name=name or sender,
        chat_name=subject,
    )
    inbound = InboundMessage(
        source=source,
        message_id=message_id,
        text=text,
        reply_to=_header(mail, "In-Reply-To"),
        timestamp=_timestamp(mail),
    )
    references = tuple(_header(mail, "References").split())
    thread = Thread(message_id=message_id, subject=subject, references=references)
    return Converted(inbound, thread, tuple(parts))


def _header(mail: EmailMessage, name: str) -> str:
    try:
        value = mail.get(name)
    except (ValueError, IndexError, TypeError) as exc:  # a header the parser cannot fold
        raise Malformed(f"unreadable {name} header: {exc}") from None
    return " ".join(str(value).split()) if value is not None else ""


def _sender(mail: EmailMessage) -> tuple[str, str]:
    """(address lowercased, display name) of From; Malformed when there is none."""
    raw = _header(mail, "From")
    pairs = [(n, a) for n, a in getaddresses([raw]) if "@" in a]
    if not pairs:
        raise Malformed("no From address")
    name, address = pairs[0]
    return address.strip().lower(), name.strip()


def auto_reply_reason(mail: EmailMessage, sender: str) -> str:
    """Why this mail must not be answered, or "" (RFC 3834 and common practice)."""
    auto = _header(mail, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"auto-submitted ({auto})"
    precedence = _header(mail, "Precedence").lower()
    if precedence in _BULK:
        return f"precedence {precedence}"
    for name in _AUTO_HEADERS:
        if mail.get(name) is not None:
            return f"{name} header"
    if mail.get_content_type() == "multipart/report":
        return "delivery report"
    if _header(mail, "Return-Path") == "<>":
        return "bounce (empty Return-Path)"
    local = sender.split("@", 1)[0]
    if _NO_REPLY.match(local):
        return f"no-reply sender ({local})"
    return ""


def _content(mail: EmailMessage) -> tuple[str, list[Part]]:
    """The body as text (plain preferred, else HTML turned into text) and the attachments."""
    try:
        body_part = mail.get_body(preferencelist=("plain", "html"))
        body = ""
        if body_part is not None:
            body = body_part.get_content()
            if body_part.get_content_type() == "text/html":
                body = html_to_text(body)
        parts = []
        for part in mail.iter_attachments():
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue  # an attached message/rfc822: its text is not a file
            parts.append(Part(part.get_filename() or "", part.get_content_type(), data))
    except (LookupError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # LookupError: an unknown charset; the others: structure the parser cannot walk.
        raise Malformed(f"unreadable body: {exc}") from None
    return body.replace("\r\n", "\n"), parts


def strip_quoted(text: str) -> str:
    """The new text of a reply: without the quoted mail below it and without the signature."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.rstrip() == "--" or line == "-- ":
            lines = lines[:index]
            break
        if _ATTRIBUTION.match(line.strip()) and _only_quotes_after(lines[index + 1 :]):
            lines = lines[:index]
            break
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def _only_quotes_after(lines: list[str]) -> bool:
    return all(not line.strip() or line.startswith(">") for line in lines)


def _timestamp(mail: EmailMessage) -> float:
    try:
        return parsedate_to_datetime(_header(mail, "Date")).timestamp()
    except (TypeError, ValueError, IndexError):
        return time.time()


class _TextFromHtml(HTMLParser):
    _BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag in self._BREAKS:
            self.out.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in ("style", "script", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("p", "div"):
            self.out.append("\n")

    def handle_data(self, data) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
