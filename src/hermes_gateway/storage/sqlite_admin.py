"""SQLite store, admin side: pairing and its failure log, usage insights, chat preferences
and the approvals audit trail. A mixin of SQLiteStore (sqlite.py), which supplies `_db`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import fields

from hermes_gateway.storage.records import PairingRecord
from hermes_gateway.storage.rows import _insert

_PAIRING_COLUMNS = [f.name for f in fields(PairingRecord)]


class SQLiteAdminMixin:
    _db: sqlite3.Connection
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # -- pairing ----------------------------------------------------------------------
    def pairing_get(self, platform, user_id):
        row = self._db.execute(
            "SELECT * FROM pairing WHERE platform = ? AND user_id = ?", (platform, user_id)
        ).fetchone()
        return _pairing(row) if row else None

    def pairing_put(self, record):
        _insert(self._db, "INSERT OR REPLACE", "pairing", _PAIRING_COLUMNS, record)

    def pairing_delete(self, platform, user_id):
        cur = self._db.execute(
            "DELETE FROM pairing WHERE platform = ? AND user_id = ?", (platform, user_id)
        )
        return cur.rowcount > 0

    def pairing_list(self, platform=None):
        sql, args = "SELECT * FROM pairing", ()
        if platform:
            sql, args = sql + " WHERE platform = ?", (platform,)
        rows = self._db.execute(sql + " ORDER BY platform, requested_at", args).fetchall()
        return [_pairing(r) for r in rows]

    def pairing_clear_pending(self):
        return self._db.execute("DELETE FROM pairing WHERE state = 'pending'").rowcount

    def pairing_failure_add(self, platform, now):
        self._db.execute(
            "INSERT INTO pairing_failures(platform, at) VALUES (?, ?)", (platform, now)
        )

    def pairing_failures_since(self, platform, since):
        return self._db.execute(
            "SELECT COUNT(*) FROM pairing_failures WHERE platform = ? AND at >= ?",
            (platform, since),
        ).fetchone()[0]

    def pairing_failure_times(self, platform, since):
        rows = self._db.execute(
            "SELECT at FROM pairing_failures WHERE platform = ? AND at >= ? ORDER BY at",
            (platform, since),
        ).fetchall()
        return [r[0] for r in rows]

    def pairing_failures_clear(self, platform):
        self._db.execute("DELETE FROM pairing_failures WHERE platform = ?", (platform,))

    def insights(self, since):
        usage = (
            "SELECT {group} AS name, COUNT(*), SUM(u.input_tokens), SUM(u.output_tokens)"
            " FROM usage u JOIN sessions s ON s.id = u.session_id WHERE u.at >= ?"
            " GROUP BY name ORDER BY SUM(u.input_tokens + u.output_tokens) DESC"
        )
        groups = {
            "model": "u.provider || ':' || u.model",
            "platform": "s.platform",
            "day": "date(u.at, 'unixepoch', 'localtime')",
        }
        result = {
            name: [tuple(r) for r in self._db.execute(usage.format(group=g), (since,))]
            for name, g in groups.items()
        }
        result["tool"] = [
            (r[0], r[1], 0, 0)
            for r in self._db.execute(
                "SELECT name, COUNT(*) FROM messages WHERE role = 'tool' AND created_at >= ?"
                " GROUP BY name ORDER BY COUNT(*) DESC",
                (since,),
            )
        ]
        return result

    # -- chat preferences ---------------------------------------------------------------
    def prefs(self, key):
        rows = self._db.execute("SELECT name, value FROM chat_prefs WHERE key = ?", (key,))
        return dict(rows.fetchall())

    def pref_set(self, key, name, value):
        if value is None:
            self._db.execute("DELETE FROM chat_prefs WHERE key = ? AND name = ?", (key, name))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO chat_prefs(key, name, value) VALUES (?, ?, ?)",
                (key, name, value),
            )

    # -- approvals audit ------------------------------------------------------------------
    def approval_add(self, approval_id, session_key, command, reason, now):
        self._db.execute(
            "INSERT INTO approvals(id, session_key, command, reason, status, created_at)"
            " VALUES (?, ?, ?, ?, 'pending', ?)",
            (approval_id, session_key, command, reason, now),
        )

    def approval_decide(self, approval_id, status, by, now):
        self._db.execute(
            "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
            (status, by, now, approval_id),
        )

    def approvals_recent(self, limit=50):
        rows = self._db.execute(
            "SELECT * FROM approvals ORDER BY created_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [dict(r) for r in rows]


def _pairing(r: sqlite3.Row) -> PairingRecord:
    return PairingRecord(**{c: r[c] for c in _PAIRING_COLUMNS})
