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
