"""Our replies as m.room.message content: `body` is the plain text (formatting.plain_text) and
`formatted_body` the same Markdown rendered to HTML (the Telegram HTML subset, which Matrix
clients render too: b, i, s, code, pre, a, blockquote) with line breaks as <br>.

Files go as m.image / m.audio / m.video / m.file with the uploaded mxc:// URL.
Also threads (rel_type m.thread), replies (m.in_reply_to), edits (m.replace with
m.new_content) and reactions (m.annotation). Every message says whom it mentions (nobody), so
a name in a reply never pings anyone."""

from __future__ import annotations

import json
import re
from typing import Any

from hermes_gateway.delivery.formatting import escape_html, plain_text, render

# The homeserver refuses events over 64 KiB; past this we send the plain body alone.
MAX_CONTENT_BYTES = 60_000
_PRE = re.compile(r"(<pre>.*?</pre>)", re.DOTALL)


def html_of(markdown: str) -> str:
    html, _ = render(markdown, "telegram_html")
    # HTML collapses newlines; Telegram's subset relies on them. Inside <pre> they stay.
    parts = _PRE.split(html)
    return "".join(p if p.startswith("<pre>") else p.replace("\n", "<br>") for p in parts)


def text_content(markdown: str) -> dict[str, Any]:
    """msgtype, body and (when the text has formatting) format + formatted_body."""
    body = plain_text(markdown)
    content: dict[str, Any] = {"msgtype": "m.text", "body": body}
    html = html_of(markdown)
    if html != escape_html(body).replace("\n", "<br>"):
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = html
    content["m.mentions"] = {}
    if _size(content) > MAX_CONTENT_BYTES:
        content.pop("format", None)
        content.pop("formatted_body", None)
    return content


def message_content(markdown: str, thread_id: str = "", reply_to: str = "") -> dict[str, Any]:
    return _in_context(text_content(markdown), thread_id, reply_to)


def file_content(
    msgtype: str,
    name: str,
    mxc: str,
    info: dict[str, Any],
    thread_id: str = "",
    reply_to: str = "",
) -> dict[str, Any]:
    """An m.image / m.audio / m.video / m.file event for an uploaded file; `info` holds
    mimetype and size (and w, h for an image). The body is the file name: no caption."""
    content = {"msgtype": msgtype, "body": name, "url": mxc, "info": info, "m.mentions": {}}
    return _in_context(content, thread_id, reply_to)


def _in_context(content: dict[str, Any], thread_id: str, reply_to: str) -> dict[str, Any]:
    if thread_id:
        # is_falling_back: the m.in_reply_to is only for clients that do not show threads.
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread_id,
            "is_falling_back": not reply_to,
            "m.in_reply_to": {"event_id": reply_to or thread_id},
        }
    elif reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


def edit_content(event_id: str, markdown: str) -> dict[str, Any]:
    """An edit of `event_id`: clients show m.new_content; the "* " body is the fallback."""
    new = text_content(markdown)
    content: dict[str, Any] = {"msgtype": "m.text", "body": f"* {new['body']}"}
    if "formatted_body" in new:
        content["format"] = new["format"]
        content["formatted_body"] = f"* {new['formatted_body']}"
    content["m.new_content"] = new
    content["m.mentions"] = {}
    content["m.relates_to"] = {"rel_type": "m.replace", "event_id": event_id}
    if _size(content) > MAX_CONTENT_BYTES:  # the text is in there twice: drop the fallback
        content["body"] = "* (edited)"
        if "formatted_body" in content:
            content["formatted_body"] = "* (edited)"
    return content


def reaction_content(event_id: str, key: str) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}


def _size(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))
