"""Split a reply into messages under a platform's length limit, at the most natural boundary:
a blank line, then a line break, then a space; a code block cut in two is closed and reopened.

`length` measures what the platform counts (code points, or UTF-16 units on Telegram). Every
such measure counts at least one per character, which bounds the search to `limit` characters."""

from __future__ import annotations

from collections.abc import Callable

FENCE = "```"


def split_message(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    if limit <= len(FENCE) * 2 + 2:
        raise ValueError("limit too small to split a message")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit or length(rest) > limit:
        cut = _best_cut(rest, limit - len(FENCE) - 1, length)
        head, rest = rest[:cut].rstrip("\n"), rest[cut:].lstrip("\n")
        if head.count(FENCE) % 2 == 1:  # inside a code block: close it here, reopen in the next
            language = _open_fence_language(head)
            if len(language) > limit // 4:  # a reopened fence must leave room for the code
                language = ""
            head += "\n" + FENCE
            rest = f"{FENCE}{language}\n{rest}"
        chunks.append(head)
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks


def split_numbered(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    """Like split_message, but with "(i/n)" on its own line under each part when there is more
    than one; the room for the marker is kept inside `limit`."""
    parts = split_message(text, limit, length)
    while len(parts) > 1:
        room = len(f"\n({len(parts)}/{len(parts)})")  # ASCII: one unit per character anywhere
        numbered = split_message(text, limit - room, length)
        if len(f"\n({len(numbered)}/{len(numbered)})") <= room:
            total = len(numbered)
            return [f"{part}\n({i}/{total})" for i, part in enumerate(numbered, 1)]
        parts = numbered  # more parts needed a wider marker: measure again
    return parts


def _best_cut(text: str, limit: int, length: Callable[[str], int]) -> int:
    # Longest prefix within the limit (binary search: `length` may count UTF-16 units).
    lo, hi = 1, min(len(text), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if length(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    window = text[:lo]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > lo // 3:  # never leave a uselessly short first chunk
            return at + len(separator)
    return lo


def _open_fence_language(head: str) -> str:
    line = head[head.rfind(FENCE) + len(FENCE) :].split("\n", 1)[0]
    return line.strip()
