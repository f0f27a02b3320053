"""Slack's pure parts: Markdown -> mrkdwn, Slack markup -> text, events -> InboundMessages,
Block Kit for buttons, Web API errors -> SendResults, and the options with their errors."""

import random

import pytest

from hermes_gateway.config.schema import PlatformSettings
from hermes_gateway.core.types import ChatType
from hermes_gateway.delivery.formatting import render
from hermes_gateway.platforms.slack import DEFAULT_API_URL, options_from_settings
from hermes_gateway.platforms.slack.blocks import (
    SECTION_LIMIT,
    message_blocks,
    parse_block_actions,
    retired_blocks,
)
from hermes_gateway.platforms.slack.convert import (
    BotIdentity,
    MalformedEvent,
    parse_message_event,
    plain_from_slack,
    to_inbound,
)

BOT = BotIdentity("U0BOT", "B0BOT", "hermes")


def mrkdwn(markdown: str) -> str:
    text, mode = render(markdown, "slack_mrkdwn")
    assert mode == "mrkdwn"
    return text


# -- Markdown -> mrkdwn --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**bold** and *italic* and _also_", "*bold* and _italic_ and _also_"),
        ("~~gone~~", "~gone~"),
        ("`a < b && c`", "`a &lt; b &amp;&amp; c`"),
        ("[docs](https://x.io/a?b=1&c=2)", "<https://x.io/a?b=1&amp;c=2|docs>"),
        ("[a|b](https://x.io/a|b)", "<https://x.io/a%7Cb|a|b>"),
        ("# Title with **bold**", "*Title with bold*"),
        ("- item\n* other", "• item\n• other"),
        ("> quoted *x*", "> quoted _x_"),
        ("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        (
            "<@U123> is not a mention from the model",
            "&lt;@U123&gt; is not a mention from the model",
        ),
    ],
)
def test_markdown_becomes_mrkdwn(markdown, expected):
    assert mrkdwn(markdown) == expected


def test_code_block_keeps_its_text_and_drops_the_language():
    assert mrkdwn("```python\nif a < b:\n    pass\n```") == "```\nif a &lt; b:\n    pass\n```"


def test_a_half_streamed_reply_never_leaves_a_raw_angle_bracket():
    reply = "Some **bold** text, a [link](https://e.com/?q=<x>) and `code <b>` with & more"
    for end in range(len(reply) + 1):
        shown = mrkdwn(reply[:end])
        # Only our own <url|text> links may open an angle bracket.
        stripped = shown.replace("<https://e.com/?q=&lt;x&gt;|link>", "")
        assert "<" not in stripped and ">" not in stripped, shown


def test_random_text_is_always_escaped():
    rng = random.Random(7)
    alphabet = "ab *_~`[]()<>&|#->\n"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        shown = mrkdwn(text)
        # No link can form from this alphabet, so a raw < never appears, a raw > only as a
        # quote marker at the start of a line, and every & starts an entity.
        assert "<" not in shown, (text, shown)
        unquoted = "\n".join(line.removeprefix("> ") for line in shown.split("\n"))
        assert ">" not in unquoted, (text, shown)
        assert "&" not in shown.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")


# -- Slack markup -> text --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("slack", "expected"),
    [
        ("<@U123> hi", "@U123 hi"),
        ("<@U123|ann> hi", "@ann hi"),
        ("see <#C1|general>", "see #general"),
        ("<!here> look", "@here look"),
        ("<https://a.io|the site>", "the site (https://a.io)"),
        ("<https://a.io>", "https://a.io"),
        ("<mailto:a@b.io|a@b.io>", "a@b.io"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
    ],
)
def test_slack_markup_becomes_what_the_person_meant(slack, expected):
    assert plain_from_slack(slack) == expected


# -- events -> InboundMessage ---------------------------------------------------------------------
def event(**fields):
    return {"type": "message", "channel": "C1", "user": "U1", "ts": "10.000100", "text": "hi"} | (
        fields
    )


def inbound(ev, followed=(), require_mention=True, reply_in_thread=True):
    msg = parse_message_event(ev, BOT)
    assert msg is not None
    return to_inbound(
        msg,
        BOT,
        require_mention=require_mention,
        reply_in_thread=reply_in_thread,
        followed=set(followed),
    )


def test_dm_is_addressed_and_stays_in_the_timeline():
    message = inbound(event(channel="D1", channel_type="im"))
    assert message.source.chat_type is ChatType.DM and message.source.thread_id == ""
    assert message.addressed and message.message_id == "10.000100"
    assert message.timestamp == pytest.approx(10.0001)
    typed = inbound(event(channel="D1", channel_type="im", text="<@U0BOT> /approve"))
    assert typed.text == "/approve"  # Slack swallows a leading "/": people mention instead


def test_channel_mention_starts_a_thread_on_the_message_and_loses_the_mention():
    message = inbound(event(text="<@U0BOT> /status", channel_type="channel"))
    assert message.source.chat_type is ChatType.GROUP
    assert message.source.thread_id == "10.000100" and message.addressed
    assert message.text == "/status"


def test_channel_message_without_mention_is_not_addressed_unless_the_thread_is_followed():
    assert not inbound(event(text="hello all")).addressed
    assert not inbound(event(thread_ts="5.0")).addressed
    followed = inbound(event(thread_ts="5.0"), followed={"5.0"})
    assert followed.addressed and followed.source.thread_id == "5.0"
    assert inbound(event(), require_mention=False).addressed
    assert inbound(event(thread_ts="5.0", parent_user_id="U0BOT")).addressed  # the bot's thread


def test_app_mention_event_is_addressed_without_channel_type():
    ev = {"type": "app_mention", "channel": "C1", "user": "U1", "ts": "1.0", "text": "hey"}
    assert inbound(ev).addressed


def test_ours_edits_joins_and_other_bots_are_skipped():
    for skipped in (
        event(user="U0BOT"),
        event(bot_id="B9"),
        event(subtype="message_changed"),
        event(subtype="channel_join"),
        {"type": "reaction_added", "user": "U1"},
    ):
        assert parse_message_event(skipped, BOT) is None
    assert parse_message_event(event(subtype="thread_broadcast"), BOT) is not None


@pytest.mark.parametrize(
    "broken",
    [
        "not an object",
        event(channel=42),
        event(user=None),
        {"type": "message", "channel": "C1", "ts": "1.0"},
        event(text=["x"]),
        event(thread_ts=5),
    ],
)
def test_malformed_events_raise(broken):
    with pytest.raises(MalformedEvent):
        parse_message_event(broken, BOT)


# -- Block Kit ------------------------------------------------------------------------------------
BUTTONS = (("Allow once", "approval:ap_1:once"), ("Deny", "approval:ap_1:deny"))


def test_buttons_carry_their_callback_data_as_value():
    blocks = message_blocks("Run *this*?", True, BUTTONS)
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "Run *this*?"}}
    elements = blocks[-1]["elements"]
    assert [e["value"] for e in elements] == ["approval:ap_1:once", "approval:ap_1:deny"]
    assert len({e["action_id"] for e in elements}) == 2


def test_a_long_prompt_is_spread_over_sections_within_slacks_limit():
    text = "\n".join(f"line {i} " + "x" * 80 for i in range(100))
    blocks = message_blocks(text, False, BUTTONS)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) >= 3 and all(len(s) <= SECTION_LIMIT for s in sections)
    assert all(b["text"]["type"] == "plain_text" for b in blocks if b["type"] == "section")


def test_retired_prompt_keeps_its_text_and_says_how_it_was_settled():
    retired = retired_blocks("Run <it>?", False, "✅ Approved once", "U1")
    assert retired[0] == message_blocks("Run <it>?", False, BUTTONS)[0]
    assert [b["type"] for b in retired] == ["section", "context"]
    assert retired[-1]["elements"][0]["text"] == "✅ Approved once (<@U1>)"
    timed_out = retired_blocks("Run it?", False, "⌛ No answer in time: denied")
    assert timed_out[-1]["elements"][0]["text"] == "⌛ No answer in time: denied"


def test_block_actions_payload_becomes_a_button_press():
    payload = {
        "type": "block_actions",
        "user": {"id": "U1", "username": "ann"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": "7.0", "channel_id": "C1"},
        "message": {"ts": "7.0", "thread_ts": "5.0", "text": "Run it?", "blocks": []},
        "actions": [{"action_id": "hermes_0", "value": "approval:ap_1:once"}],
    }
    press = parse_block_actions(payload)
    assert press.press.data == "approval:ap_1:once" and press.press.thread_id == "5.0"
    assert (press.channel, press.ts, press.press.user_name) == ("C1", "7.0", "ann")
    assert parse_block_actions({"type": "view_submission"}) is None
    with pytest.raises(MalformedEvent):
        parse_block_actions({"type": "block_actions", "user": {"id": "U1"}, "actions": []})


# -- options --------------------------------------------------------------------------------------
def settings(token="xoxb-1", **extra):
    return PlatformSettings(name="slack", enabled=True, token=token, extra=extra)


def test_options_defaults_and_repr_without_tokens():
    options = options_from_settings(settings(app_token="xapp-secret-value"))
    assert options.api_url == DEFAULT_API_URL and options.require_mention
    assert "xapp-secret-value" not in repr(options) and "xoxb-1" not in repr(options)
    custom = options_from_settings(
        settings(app_token="xapp-1", api_url="http://127.0.0.1:9/api", require_mention="no")
    )
    assert custom.api_url == "http://127.0.0.1:9/api/" and not custom.require_mention


@pytest.mark.parametrize(
    ("token", "extra", "named"),
    [
        ("", {"app_token": "xapp-1"}, "SLACK_BOT_TOKEN is not set"),
        ("xoxb-1", {}, "SLACK_APP_TOKEN is not set"),
        ("xoxb-1", {"app_token": "x", "api_url": "slack.com"}, "platforms.slack.extra.api_url"),
        ("xoxb-1", {"app_token": "x", "reply_in_thread": "maybe"}, "extra.reply_in_thread"),
        ("xoxb-1", {"app_token": "x", "per_chat_rate": "-1"}, "extra.per_chat_rate"),
    ],
)
def test_bad_options_name_the_setting(token, extra, named):
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        options_from_settings(settings(token, **extra))
