"""`/compress`: older turns are summarised by the model into a new, linked session that carries
the summary plus the latest turns verbatim. Whole turns move together, so a tool call is never
separated from its result."""

from __future__ import annotations

from itertools import groupby

from hermes_gateway.storage.records import TranscriptEntry

KEEP_TURNS = 2
MAX_TOOL_TEXT = 500

SUMMARY_PROMPT = (
    "Summarise the conversation below for your own future reference: the user's goals, facts "
    "and decisions, files and commands involved, and anything still open. Be complete but "
    "compact; write plain prose or bullet points."
)


def split_turns(entries: list[TranscriptEntry]) -> list[list[TranscriptEntry]]:
    return [list(turn) for _, turn in groupby(entries, key=lambda e: e.turn)]


def render(turns: list[list[TranscriptEntry]]) -> str:
    lines = []
    for turn in turns:
        for e in turn:
            if e.role == "tool":
                lines.append(f"Tool {e.name} returned: {e.content[:MAX_TOOL_TEXT]}")
            elif e.tool_calls:
                names = ", ".join(c["function"]["name"] for c in e.tool_calls)
                lines.append(f"Assistant called {names}. {e.content}".rstrip())
            else:
                lines.append(f"{e.role.capitalize()}: {e.content}")
    return "\n".join(lines)


async def compress(engine, key: str, source) -> str:
    store = engine.store
    session = store.session_current(key)
    turns = split_turns(store.transcript(session.id)) if session else []
    if len(turns) <= KEEP_TURNS:
        return "Nothing to compress yet: the conversation is still short."
    older, recent = turns[:-KEEP_TURNS], turns[-KEEP_TURNS:]
    messages = [
        {"role": "system", "content": SUMMARY_PROMPT},
        {"role": "user", "content": render(older)},
    ]
    result = await engine.runtime.run(messages, session.model)
    summary = result.text.strip()
    successor = engine.sessions.start_new(source, key, "compressed", parent_id=session.id)
    store.session_update(successor.id, title=session.title)
    now = engine.clock()
    opening = [
        TranscriptEntry("user", f"[Summary of our earlier conversation]\n{summary}"),
        TranscriptEntry("assistant", "Thanks — I have the summary and will continue from it."),
    ]
    target = engine.runtime.resolved(session.model)
    usage = (target.provider, target.model, result.input_tokens, result.output_tokens)
    store.commit_turn(successor.id, opening, [], "done", [], usage, now)
    for turn in recent:
        store.commit_turn(successor.id, turn, [], "done", [], None, now)
    return (
        f"🗜️ Compressed {len(older)} earlier turn(s) into a summary; the last {len(recent)} are "
        f"kept as they were. Continuing in session {successor.id} (from {session.id})."
    )
