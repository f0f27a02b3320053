"""`send_message`: the agent sends a message to another chat or a platform's home channel."""

from __future__ import annotations

from typing import Any

from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError


async def _send_message(args: dict[str, Any], ctx: ToolContext) -> str:
    send = ctx.services.send_message
    if send is None:
        raise ToolError("sending messages is not available here")
    text = str(args.get("text", "")).strip()
    if not text:
        raise ToolError("send_message needs a non-empty 'text'")
    return await send(str(args.get("target", "")).strip(), text, ctx.source)


send_message = Tool(
    name="send_message",
    description=(
        "Send a message to a chat. target: 'platform:chat_id' (e.g. 'telegram:123456'), a "
        "platform name alone for its home channel (e.g. 'discord'), or empty for this chat."
    ),
    parameters={
        "type": "object",
        "properties": {
            "target": {"type": "string", "description": "platform:chat_id, platform, or ''"},
            "text": {"type": "string", "description": "the message"},
        },
        "required": ["text"],
    },
    emoji="📨",
    run=_send_message,
    preview=lambda args: str(args.get("target") or "this chat"),
)

TOOLS = [send_message]
