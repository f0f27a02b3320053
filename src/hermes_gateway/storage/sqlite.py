"""SQLite backend: one file in HERMES_HOME, WAL, synchronous=NORMAL.

Each call is a short transaction of a few statements (tens of microseconds), so the engine calls
it on the event loop; WAL lets the `hermes pairing` CLI write while a gateway runs.

This module holds the connection, pragmas, migrations and the message path (inbox, outbox,
sessions, transcripts, commit_turn, usage); cron lives in sqlite_cron.py and pairing, insights,
chat preferences and approvals in sqlite_admin.py, as mixins of SQLiteStore."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from hermes_gateway.storage.base import Store
from hermes_gateway.storage.migrations import MIGRATIONS
from hermes_gateway.storage.records import (
    InboxRow,
    NewOutbox,
    OutboxRow,
    SessionRecord,
    TranscriptEntry,
    UsageTotals,
)
from hermes_gateway.storage.rows import _insert
from hermes_gateway.storage.sqlite_admin import SQLiteAdminMixin
from hermes_gateway.storage.sqlite_cron import SQLiteCronMixin

_SESSION_COLUMNS = [f.name for f in fields(SessionRecord)]
_SESSION_UPDATABLE = {"title", "model", "last_active", "reset_notice"}


class SQLiteStore(SQLiteAdminMixin, SQLiteCronMixin, Store):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        new = not self.path.exists()
        self._db = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
        )
        if new:
            os.chmod(self.path, 0o600)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # -- plumbing ---------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    # -- inbox ------------------------------------------------------------------
    def inbox_add(self, platform, chat_id, message_id, payload, now, session_key=""):
        cur = self._db.execute(
            "INSERT OR IGNORE INTO inbox(platform, chat_id, message_id, session_key, payload,"
            " received_at) VALUES (?, ?, ?, ?, ?, ?)",
            (platform, chat_id, message_id, session_key, json.dumps(payload), now),
        )
        return cur.lastrowid if cur.rowcount else None

    def inbox_pending(self):
        rows = self._db.execute(
            "SELECT * FROM inbox WHERE status = 'pending' ORDER BY id"
        ).fetchall()
        return [_inbox(r) for r in rows]

    def inbox_get(self, inbox_id):
        row = self._db.execute("SELECT * FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
        return _inbox(row) if row else None

    def inbox_failed_batch(self, session_key):
        rows = self._db.execute(
            "SELECT * FROM inbox WHERE session_key = ? AND status = 'failed' AND done_at = ("
            " SELECT MAX(done_at) FROM inbox WHERE session_key = ?"
            " AND status NOT IN ('pending', 'ignored', 'command')) ORDER BY id",
            (session_key, session_key),
        ).fetchall()
        return [_inbox(r) for r in rows]

    def inbox_finish(self, ids, status, now, error=""):
        with self._tx() as db:
            _finish_inbox(db, ids, status, now, error)

    # -- outbox -----------------------------------------------------------------
    def outbox_add(self, row, now):
        return _add_outbox(self._db, row, now)

    def inbox_set_stream(self, inbox_ids, message_id):
        self._db.executemany(
            "UPDATE inbox SET stream_message_id = ? WHERE id = ?",
            [(message_id, i) for i in inbox_ids],
        )

    def inbox_stream(self, inbox_ids):
        for inbox_id in inbox_ids:
            row = self._db.execute(
                "SELECT stream_message_id FROM inbox WHERE id = ?", (inbox_id,)
            ).fetchone()
            if row and row[0]:
                return row[0]
        return ""

    def outbox_pending(self, platform=None):
        sql = "SELECT * FROM outbox WHERE status = 'pending'"
        args: tuple = ()
        if platform:
            sql += " AND platform = ?"
            args = (platform,)
        return [_outbox(r) for r in self._db.execute(sql + " ORDER BY id", args).fetchall()]

    def outbox_status(self, outbox_id):
        row = self._db.execute("SELECT status FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        return row[0] if row else ""

    def outbox_mark_sent(self, outbox_id, platform_message_id, now):
        self._db.execute(
            "UPDATE outbox SET status = 'sent', platform_message_id = ?, sent_at = ?,"
            " attempts = attempts + 1 WHERE id = ?",
            (platform_message_id, now, outbox_id),
        )

    def outbox_mark_failed(self, outbox_id, error, final):
        self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, error = ?, status = ? WHERE id = ?",
            (error, "failed" if final else "pending", outbox_id),
        )

    # -- sessions -----------------------------------------------------------------
    def session_current(self, key):
        row = self._db.execute(
            "SELECT * FROM sessions WHERE key = ? AND ended_at IS NULL"
            " ORDER BY created_at DESC LIMIT 1",
            (key,),
        ).fetchone()
        return _session(row) if row else None

    def session_get(self, session_id):
        row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return _session(row) if row else None

    def session_create(self, record):
        _insert(self._db, "INSERT", "sessions", _SESSION_COLUMNS, record)

    def session_end(self, session_id, reason, now):
        self._db.execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
            (now, reason, session_id),
        )

    def session_reopen(self, session_id, now):
        with self._tx() as db:
            key = db.execute("SELECT key FROM sessions WHERE id = ?", (session_id,)).fetchone()[0]
            db.execute(
                "UPDATE sessions SET ended_at = ?, end_reason = 'switched'"
                " WHERE key = ? AND ended_at IS NULL",
                (now, key),
            )
            db.execute(
                "UPDATE sessions SET ended_at = NULL, end_reason = '', last_active = ?"
                " WHERE id = ?",
                (now, session_id),
            )

    def session_update(self, session_id, **values):
        unknown = set(values) - _SESSION_UPDATABLE
        if unknown:
            raise ValueError(f"session fields not updatable: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in values)
        self._db.execute(
            f"UPDATE sessions SET {assignments} WHERE id = ?", [*values.values(), session_id]
        )

    def sessions_for_key(self, key, limit=20):
        rows = self._db.execute(
            "SELECT * FROM sessions WHERE key = ? ORDER BY last_active DESC LIMIT ?", (key, limit)
        ).fetchall()
        return [_session(r) for r in rows]

    def sessions_active(self, limit=200):
        rows = self._db.execute(
            "SELECT * FROM sessions WHERE ended_at IS NULL ORDER BY last_active DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_session(r) for r in rows]

    # -- transcripts ------------------------------------------------------------------
    def transcript(self, session_id):
        rows = self._db.execute(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
        return [_entry(r) for r in rows]

    def transcript_drop_last_turn(self, session_id):
        with self._tx() as db:
            row = db.execute(
                "SELECT MAX(turn) FROM messages WHERE session_id = ?", (session_id,)
            ).fetchone()
            if row[0] is None:
                return []
            rows = db.execute(
                "SELECT * FROM messages WHERE session_id = ? AND turn = ? ORDER BY id",
                (session_id, row[0]),
            ).fetchall()
            db.execute(
                "DELETE FROM messages WHERE session_id = ? AND turn = ?", (session_id, row[0])
            )
            return [_entry(r) for r in rows]

    def commit_turn(self, session_id, entries, inbox_ids, inbox_status, outbox, usage, now):
        with self._tx() as db:
            turn = db.execute(
                "SELECT COALESCE(MAX(turn), 0) + 1 FROM messages WHERE session_id = ?",
                (session_id,),
            ).fetchone()[0]
            db.executemany(
                "INSERT INTO messages(session_id, turn, role, content, tool_calls, tool_call_id,"
                " name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        turn,
                        e.role,
                        e.content,
                        json.dumps(e.tool_calls) if e.tool_calls else None,
                        e.tool_call_id,
                        e.name,
                        now,
                    )
                    for e in entries
                ],
            )
            _finish_inbox(db, inbox_ids, inbox_status, now, "")
            outbox_ids = [_add_outbox(db, row, now) for row in outbox]
            if usage:
                provider, model, tokens_in, tokens_out = usage
                db.execute(
                    "INSERT INTO usage(session_id, provider, model, input_tokens, output_tokens, at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, provider, model, tokens_in, tokens_out, now),
                )
                db.execute(
                    "UPDATE sessions SET input_tokens = input_tokens + ?,"
                    " output_tokens = output_tokens + ? WHERE id = ?",
                    (tokens_in, tokens_out, session_id),
                )
            db.execute("UPDATE sessions SET last_active = ? WHERE id = ?", (now, session_id))
            return outbox_ids

    # -- usage ------------------------------------------------------------------------
    def usage_for_session(self, session_id):
        rows = self._db.execute(
            "SELECT provider, model, SUM(input_tokens), SUM(output_tokens), COUNT(*)"
            " FROM usage WHERE session_id = ? GROUP BY provider, model",
            (session_id,),
        ).fetchall()
        by_model = {f"{r[0]}:{r[1]}": (r[2], r[3]) for r in rows}
        return UsageTotals(
            input_tokens=sum(r[2] for r in rows),
            output_tokens=sum(r[3] for r in rows),
            turns=sum(r[4] for r in rows),
            by_model=by_model,
        )


# -- row mapping ----------------------------------------------------------------------------
def _finish_inbox(db: sqlite3.Connection, ids: list[int], status: str, now: float, error: str):
    db.executemany(
        "UPDATE inbox SET status = ?, done_at = ?, error = ? WHERE id = ?",
        [(status, now, error, i) for i in ids],
    )


def _add_outbox(db: sqlite3.Connection, row: NewOutbox, now: float) -> int:
    cur = db.execute(
        "INSERT INTO outbox(platform, chat_id, thread_id, reply_to, session_key, text,"
        " edit_message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.platform,
            row.chat_id,
            row.thread_id,
            row.reply_to,
            row.session_key,
            row.text,
            row.edit_message_id,
            now,
        ),
    )
    return cur.lastrowid


def _inbox(r: sqlite3.Row) -> InboxRow:
    return InboxRow(
        id=r["id"],
        platform=r["platform"],
        chat_id=r["chat_id"],
        message_id=r["message_id"],
        payload=json.loads(r["payload"]),
        status=r["status"],
        received_at=r["received_at"],
    )


def _outbox(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=r["id"],
        platform=r["platform"],
        chat_id=r["chat_id"],
        text=r["text"],
        thread_id=r["thread_id"],
        reply_to=r["reply_to"],
        session_key=r["session_key"],
        status=r["status"],
        attempts=r["attempts"],
        edit_message_id=r["edit_message_id"],
    )


def _session(r: sqlite3.Row) -> SessionRecord:
    return SessionRecord(**{c: r[c] for c in _SESSION_COLUMNS})


def _entry(r: sqlite3.Row) -> TranscriptEntry:
    return TranscriptEntry(
        role=r["role"],
        content=r["content"],
        tool_calls=json.loads(r["tool_calls"]) if r["tool_calls"] else None,
        tool_call_id=r["tool_call_id"],
        name=r["name"],
        turn=r["turn"],
    )
