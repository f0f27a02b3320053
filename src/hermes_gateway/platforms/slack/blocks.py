"""Block Kit: a message with buttons (text sections, then one row of buttons whose value is the
callback data), a press on one of them (a `block_actions` payload) as a ButtonPress, and the
prompt once its buttons are retired."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hermes_gateway.core.types import ButtonPress, Platform
from hermes_gateway.delivery.chunking import split_message
from hermes_gateway.delivery.formatting import escape_html

from .convert import MalformedEvent

SECTION_LIMIT = 3000  # characters in one section block's text
MAX_BLOCKS = 50
MAX_BUTTONS = 25  # elements in one actions block
BUTTON_LABEL_LIMIT = 75


@dataclass(frozen=True)
class Press:
    """A press on one of our buttons, with where it was pressed."""

    press: ButtonPress
    channel: str
    ts: str


def parse_block_actions(payload: Any) -> Press | None:
    """The press in an interactive `block_actions` payload (None for other interactions)."""
    if not isinstance(payload, dict):
        raise MalformedEvent("the payload is not an object")
    if payload.get("type") != "block_actions":
        return None
    user, actions = payload.get("user"), payload.get("actions")
    container = payload.get("container") or {}
    message = payload.get("message") or {}
    channel = (payload.get("channel") or {}).get("id") or container.get("channel_id")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise MalformedEvent("user.id is missing")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise MalformedEvent("actions is missing")
    if not isinstance(channel, str) or not isinstance(message, dict):
        raise MalformedEvent("the channel or the message is missing")
    value = actions[0].get("value")
    ts = message.get("ts") or container.get("message_ts") or ""
    thread = message.get("thread_ts") or container.get("thread_ts") or ""
    if not isinstance(value, str) or not isinstance(ts, str) or not isinstance(thread, str):
        raise MalformedEvent("the action's value or the message ts is not a string")
    press = ButtonPress(
        platform=Platform.SLACK,
        chat_id=channel,
        user_id=user["id"],
        data=value,
        message_id=ts,
        thread_id="" if thread == ts else thread,
        user_name=str(user.get("username") or user.get("name") or ""),
    )
    return Press(press, channel, ts)


def message_blocks(text: str, mrkdwn: bool, buttons: tuple[tuple[str, str], ...]) -> list[dict]:
    """Sections holding `text` (3000 characters each), then one row of buttons whose value is
    the callback data."""
    blocks = _sections(text, mrkdwn)
    elements = [
        {
            "type": "button",
            "action_id": f"hermes_{index}",
            "text": {"type": "plain_text", "text": label[:BUTTON_LABEL_LIMIT]},
            "value": data,
        }
        for index, (label, data) in enumerate(buttons[:MAX_BUTTONS])
    ]
    blocks.append({"type": "actions", "block_id": "hermes_buttons", "elements": elements})
    return blocks


def retired_blocks(text: str, mrkdwn: bool, outcome: str, by: str = "") -> list[dict]:
    """The prompt without its buttons, with how it was settled (and by whom, if a person of
    the chat answered)."""
    note = escape_html(outcome) + (f" (<@{by}>)" if by else "")
    return [*_sections(text, mrkdwn), {"type": "context", "elements": [_mrkdwn(note)]}]


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _sections(text: str, mrkdwn: bool) -> list[dict]:
    """`text` in section blocks (3000 characters each), leaving room for one more block."""
    kind = "mrkdwn" if mrkdwn else "plain_text"
    parts = split_message(text, SECTION_LIMIT) if text.strip() else []
    return [
        {"type": "section", "text": {"type": kind, "text": part}}
        for part in parts[: MAX_BLOCKS - 1]
    ]
