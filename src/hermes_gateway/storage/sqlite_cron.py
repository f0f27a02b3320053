"""SQLite store, cron side: scheduled jobs and their run history (rows are plain dicts).
A mixin of SQLiteStore (sqlite.py), which supplies `_db` and `_tx()`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager


class SQLiteCronMixin:
    _db: sqlite3.Connection
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # -- cron ---------------------------------------------------------------------------------
    def cron_job_add(self, job):
        _check_columns(job, _CRON_JOB_COLUMNS, "cron job")
        names = list(job)
        self._db.execute(
            f"INSERT INTO cron_jobs({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [job[n] for n in names],
        )

    def cron_job_get(self, job_id):
        row = self._db.execute("SELECT * FROM cron_jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def cron_jobs(self):
        rows = self._db.execute("SELECT * FROM cron_jobs ORDER BY created_at, id").fetchall()
        return [dict(r) for r in rows]

    def cron_job_update(self, job_id, **fields):
        return _cron_update(self._db, "cron_jobs", _CRON_JOB_COLUMNS, job_id, fields) > 0

    def cron_job_remove(self, job_id):
        with self._tx() as db:
            db.execute("DELETE FROM cron_runs WHERE job_id = ?", (job_id,))
            return db.execute("DELETE FROM cron_jobs WHERE id = ?", (job_id,)).rowcount > 0

    def cron_run_start(self, job_id, now, **job_fields):
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO cron_runs(job_id, started_at, status) VALUES (?, ?, 'running')",
                (job_id, now),
            )
            _cron_update(db, "cron_jobs", _CRON_JOB_COLUMNS, job_id, job_fields)
            return cur.lastrowid

    def cron_run_update(self, run_id, job=None, **fields):
        with self._tx() as db:
            _cron_update(db, "cron_runs", _CRON_RUN_COLUMNS, run_id, fields)
            if job:
                row = db.execute("SELECT job_id FROM cron_runs WHERE id = ?", (run_id,)).fetchone()
                if row:
                    _cron_update(db, "cron_jobs", _CRON_JOB_COLUMNS, row[0], job)

    def cron_runs(self, job_id, limit=20):
        rows = self._db.execute(
            "SELECT * FROM cron_runs WHERE job_id = ? ORDER BY id DESC LIMIT ?", (job_id, limit)
        ).fetchall()
        return [dict(r) for r in rows]

    def cron_runs_interrupted(self, now):
        with self._tx() as db:
            db.execute(
                "UPDATE cron_jobs SET last_status = 'interrupted' WHERE id IN ("
                " SELECT job_id FROM cron_runs WHERE status = 'running')"
            )
            return db.execute(
                "UPDATE cron_runs SET status = 'interrupted', finished_at = ?"
                " WHERE status = 'running'",
                (now,),
            ).rowcount


# -- cron rows ------------------------------------------------------------------------------
_CRON_JOB_COLUMNS = frozenset(
    {
        "id",
        "name",
        "schedule",
        "prompt",
        "platform",
        "chat_id",
        "thread_id",
        "enabled",
        "next_run",
        "last_run",
        "last_status",
        "created_at",
        "kind",
        "deliver",
        "pending_output",
        "pending_status",
        "pending_run",
        "delivery_attempts",
        "last_error",
    }
)
_CRON_RUN_COLUMNS = frozenset(
    {"status", "output", "error", "delivery", "started_at", "finished_at"}
)


def _check_columns(values: dict, allowed: frozenset[str], what: str) -> None:
    # Column names go into SQL text, so only known names are accepted.
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"unknown {what} fields: {sorted(unknown)}")


def _cron_update(
    db: sqlite3.Connection, table: str, allowed: frozenset[str], key, values: dict
) -> int:
    if not values:
        return 0
    _check_columns(values, allowed, table)
    assignments = ", ".join(f"{name} = ?" for name in values)
    cur = db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*values.values(), key])
    return cur.rowcount
