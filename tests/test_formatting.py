"""Markdown from the model into Telegram HTML and plain text: always balanced, always escaped."""

import html
import random
import re

import pytest

from hermes_gateway.delivery.formatting import (
    length_function,
    plain_text,
    render,
    utf16_len,
)

ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "blockquote"}
_TAG = re.compile(r'<(/?)([a-z]+)((?:\s+[a-z-]+="[^"<>]*")*)>')
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot);")


def assert_telegram_html(text: str) -> None:
    """What Telegram's HTML parser needs: known tags, properly nested, with valid attributes,
    nothing inside <code>, and every & < > outside tags escaped."""
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            tag = _TAG.match(text, i)
            assert tag, f"stray '<' at {i} in {text!r}"
            closing, name, attrs = tag.groups()
            assert name in ALLOWED_TAGS, f"tag {name} in {text!r}"
            if closing:
                assert stack and stack[-1] == name, f"unbalanced </{name}> in {text!r}"
                stack.pop()
            else:
                assert not stack or stack[-1] != "code", f"a tag inside <code>: {text!r}"
                if "pre" in stack:
                    assert name == "code" and stack[-1] == "pre", f"tag inside <pre>: {text!r}"
                if attrs:
                    assert (name, attrs.split("=")[0].strip()) in {("a", "href"), ("code", "class")}
                if name == "a":
                    assert attrs.strip().startswith('href="'), text
                stack.append(name)
            i = tag.end()
        elif char == ">":
            raise AssertionError(f"stray '>' at {i} in {text!r}")
        elif char == "&":
            entity = _ENTITY.match(text, i)
            assert entity, f"unescaped '&' at {i} in {text!r}"
            i = entity.end()
        else:
            i += 1
    assert not stack, f"unclosed {stack} in {text!r}"


def visible(text: str) -> str:
    """The text a user sees once Telegram has parsed the HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def to_html(markdown: str) -> str:
    text, mode = render(markdown, "telegram_html")
    assert mode == "HTML"
    assert_telegram_html(text)
    return text


SAMPLE = """# Deploy report

The **build** passed in *3 min* with ~~two~~ one warning: `x < y && z > 0`.
See [the logs](https://ci.example.com/run?id=7&tab=log) or __ask__ _me_.

- first item with **bold**
* second item
  + nested `code`

> a quote with *style*
> and a second line

```python
if a < b and c > d:
    print("a & b")
```

1. numbered stays
Unfinished **bold and *italic and `code"""


def test_inline_styles_become_telegram_tags():
    assert to_html("**b** __b2__ *i* _i2_ ~~s~~ `c`") == (
        "<b>b</b> <b>b2</b> <i>i</i> <i>i2</i> <s>s</s> <code>c</code>"
    )


def test_special_characters_are_escaped_outside_and_inside_code():
    assert to_html("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert to_html("`if a<b && c>d`") == "<code>if a&lt;b &amp;&amp; c&gt;d</code>"


def test_fenced_code_keeps_its_language_and_escapes_its_body():
    text = to_html('```python\nif a < b:\n    print("x & y")\n```')
    assert text == (
        '<pre><code class="language-python">if a &lt; b:\n    print("x &amp; y")</code></pre>'
    )


def test_fenced_code_without_language_is_a_plain_pre():
    assert to_html("```\n<tag>\n```") == "<pre>&lt;tag&gt;</pre>"


def test_markdown_inside_code_is_left_alone():
    assert to_html("```\n**not bold** _x_\n```") == "<pre>**not bold** _x_</pre>"
    assert to_html("`**x**`") == "<code>**x**</code>"


def test_links_become_anchors_with_escaped_urls():
    text = to_html('[docs](https://e.com/?a=1&b="2") and [wiki](https://w.org/A_(b))')
    assert text == (
        '<a href="https://e.com/?a=1&amp;b=&quot;2&quot;">docs</a> and '
        '<a href="https://w.org/A_(b)">wiki</a>'
    )


def test_links_with_unsafe_schemes_stay_text():
    assert to_html("[x](javascript:alert(1))") == "[x](javascript:alert(1))"


def test_headings_become_bold_lines_without_nested_bold():
    assert to_html("## Setup **now**\ntext") == "<b>Setup now</b>\ntext"


def test_bullets_blockquotes_and_rules():
    assert to_html("- a\n* b\n  + c") == "• a\n• b\n  • c"
    assert to_html("> one **x**\n> two\nafter") == (
        "<blockquote>one <b>x</b>\ntwo</blockquote>\nafter"
    )
    assert to_html("---") == "———"


@pytest.mark.parametrize(
    "markdown",
    ["a * b", "**unclosed", "lone ** double", "`", "``", "~~", "[x](", "__init", "*", "_", "*** x"],
)
def test_unbalanced_markers_stay_literal(markdown):
    assert visible(to_html(markdown)) == markdown


def test_snake_case_and_arithmetic_are_not_emphasis():
    assert to_html("call my_func_name(a_b)") == "call my_func_name(a_b)"
    assert to_html("2*3*4") == "2*3*4"


def test_nested_emphasis():
    assert to_html("*a **b** c*") == "<i>a <b>b</b> c</i>"
    assert to_html("***both***") == "<b><i>both</i></b>"


def test_every_prefix_of_partial_markdown_is_valid_html():
    for end in range(len(SAMPLE) + 1):
        to_html(SAMPLE[:end])


def test_random_markdown_noise_is_always_valid_html():
    rng = random.Random(7)
    alphabet = list("*_~`[]()<>&#>- \nab") + ["```", "**", "~~", "](https://x.y)", "\n> "]
    for _ in range(500):
        to_html("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))))


def test_deep_nesting_does_not_recurse_forever():
    markdown = "".join(f"*a{i} _" for i in range(600)) + "".join("_ b*" for _ in range(600))
    to_html(markdown)


def test_plain_text_removes_markers_and_keeps_content():
    assert plain_text("# Title\n**bold** *it* ~~s~~ `code` [docs](https://e.com)") == (
        "Title\nbold it s code docs (https://e.com)"
    )
    assert plain_text("```sh\nls -l\n```") == "ls -l"
    assert plain_text("- item\n> quoted") == "• item\n> quoted"
    assert plain_text("a < b & c") == "a < b & c"  # plain text is never escaped


def test_render_modes():
    assert render("**x**", "markdown") == ("**x**", "")
    assert render("**x** <y>", "plain") == ("x <y>", "")
    assert render("**x**", "telegram_html") == ("<b>x</b>", "HTML")


def test_visible_html_is_never_longer_than_the_markdown():
    # Chunks are measured on the Markdown; Telegram measures the parsed text.
    for end in range(0, len(SAMPLE) + 1, 7):
        part = SAMPLE[:end]
        assert utf16_len(visible(to_html(part))) <= utf16_len(part)
        assert utf16_len(plain_text(part)) <= utf16_len(part)


def test_utf16_length_counts_astral_characters_twice():
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("é😀👍🏽") == 1 + 2 + 4
    assert length_function("utf16")("😀") == 2
    assert length_function("chars")("😀") == 1
    with pytest.raises(ValueError):
        length_function("bytes")
