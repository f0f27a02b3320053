"""What we need to thread a reply: each received mail's Message-ID, Subject and References, and
each sender's latest mail. Kept in HERMES_HOME/cache/email/threads.json (bounded), so a reply
sent after a restart (from the outbox, or a re-run turn) still threads onto its mail.

Sessions are per sender, not per e-mail thread: one person talks to one agent session, as on
every other platform, and a new subject does not forget the conversation. Each reply goes to
the mail it answers (reply_to) or else to the sender's latest mail, so clients still thread."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from hermes_gateway.config.atomic import write_atomic

log = logging.getLogger("hermes.email")

MAX_THREADS = 1000
MAX_REFERENCES = 20  # RFC 5322 lets References grow; clients keep the first and the last ones
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Thread:
    message_id: str  # the mail a reply answers
    subject: str = ""
    references: tuple[str, ...] = ()

    def reply_subject(self) -> str:
        subject = self.subject.strip()
        if not subject:
            return "Re: your message"
        return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"

    def reply_references(self) -> tuple[str, ...]:
        chain = [r for r in self.references if r != self.message_id] + [self.message_id]
        if len(chain) > MAX_REFERENCES:
            chain = chain[:1] + chain[-(MAX_REFERENCES - 1) :]
        return tuple(chain)


class ThreadBook:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads: dict[str, Thread] = {}
        self._latest: dict[str, str] = {}  # chat -> message id
        self._load()

    def remember(self, chat: str, thread: Thread) -> None:
        self._threads.pop(thread.message_id, None)  # re-inserted last: newest at the end
        self._threads[thread.message_id] = thread
        self._latest.pop(chat, None)
        self._latest[chat] = thread.message_id
        while len(self._threads) > MAX_THREADS:
            del self._threads[next(iter(self._threads))]
        while len(self._latest) > MAX_THREADS:
            del self._latest[next(iter(self._latest))]

    def for_reply(self, chat: str, reply_to: str = "") -> Thread | None:
        """The mail a message to `chat` answers: `reply_to` when known, else the latest."""
        if reply_to and reply_to in self._threads:
            return self._threads[reply_to]
        latest = self._latest.get(chat)
        if latest is not None and latest in self._threads:
            return self._threads[latest]
        if reply_to:
            return Thread(message_id=reply_to)
        return None

    def save(self) -> None:
        data = {
            "latest": self._latest,
            "threads": {
                mid: {"subject": t.subject, "references": list(t.references)}
                for mid, t in self._threads.items()
            },
        }
        try:
            write_atomic(self.path, json.dumps(data), 0o600)
        except OSError as exc:  # threading is a nicety: never a reason to fail a message
            log.warning("email: could not save %s: %s", self.path, exc)

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            threads = {
                mid: Thread(mid, str(t.get("subject", "")), tuple(t.get("references", ())))
                for mid, t in data.get("threads", {}).items()
            }
            latest = {str(c): str(m) for c, m in data.get("latest", {}).items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.warning("email: ignoring unreadable %s: %s", self.path, exc)
            return
        self._threads, self._latest = threads, latest
