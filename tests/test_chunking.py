from hermes_gateway.delivery.chunking import split_message


def test_short_text_is_one_chunk():
    assert split_message("hello", 100) == ["hello"]


def test_splits_at_paragraphs_under_the_limit():
    text = "\n\n".join(["a" * 40, "b" * 40, "c" * 40])
    chunks = split_message(text, 90)
    assert all(len(c) <= 90 for c in chunks)
    assert chunks[0] == "a" * 40 + "\n\n" + "b" * 40 or chunks[0] == "a" * 40
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")


def test_code_block_cut_in_two_is_closed_and_reopened():
    code = "```python\n" + "\n".join(f"x = {i}" for i in range(60)) + "\n```"
    chunks = split_message(code, 120)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.count("```") % 2 == 0 and len(chunk) <= 120
    assert chunks[1].startswith("```python\n")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_custom_length_counts_utf16_units():
    text = "😀" * 100  # 200 UTF-16 units
    chunks = split_message(text, 64, utf16)
    assert all(utf16(c) <= 64 for c in chunks) and "".join(chunks) == text


def test_emoji_and_code_blocks_at_the_utf16_limit_render_to_valid_html():
    from hermes_gateway.delivery.formatting import render, utf16_len
    from tests.test_formatting import assert_telegram_html, visible

    text = (
        "Intro 😀😀😀 with emoji 👍🏽 everywhere.\n\n"
        + "```python\n"
        + "\n".join(f"emoji_{i} = '😀' * {i}  # <&>" for i in range(40))
        + "\n```\n\n"
        + "Outro 🎉 " * 30
    )
    limit = 200
    chunks = split_message(text, limit, utf16_len)
    assert len(chunks) > 3
    for chunk in chunks:
        assert utf16_len(chunk) <= limit
        assert chunk.count("```") % 2 == 0
        html, _ = render(chunk, "telegram_html")
        assert_telegram_html(html)
        assert utf16_len(visible(html)) <= limit  # what Telegram counts
    assert "".join(chunks).count("😀") == text.count("😀")


def test_a_chunk_exactly_at_the_limit_is_not_split():
    text = "😀" * 50  # exactly 100 UTF-16 units
    assert split_message(text, 100, utf16) == [text]
    assert len(split_message(text + "x", 100, utf16)) == 2


def test_a_very_long_text_is_split_completely():
    text = ("word " * 200 + "\n\n") * 500  # ~500k characters
    chunks = split_message(text, 4096, utf16)
    assert all(utf16(c) <= 4096 for c in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )


def test_a_reopened_fence_with_a_huge_language_name_still_terminates():
    code = "```" + "x" * 40 + "\n" + "line\n" * 50 + "```"
    chunks = split_message(code, 30)
    assert all(len(c) <= 30 for c in chunks)


def test_numbered_parts_say_where_they_are_and_stay_under_the_limit():
    from hermes_gateway.delivery.chunking import split_numbered

    words = " ".join(f"w{i}" for i in range(400))
    parts = split_numbered(words, 200)
    total = len(parts)
    assert total > 1 and all(len(p) <= 200 for p in parts)
    assert [p.rsplit("\n", 1)[1] for p in parts] == [f"({i}/{total})" for i in range(1, total + 1)]
    assert " ".join(p.rsplit("\n", 1)[0] for p in parts).split() == words.split()
    assert split_numbered("short", 200) == ["short"]  # one part: no marker
