"""The SQLite store: WAL, numbered migrations, atomic turns, outbox recovery."""

import asyncio
import sqlite3

from hermes_gateway.storage.migrations import MIGRATIONS
from hermes_gateway.storage.records import NewOutbox, TranscriptEntry
from hermes_gateway.storage.sqlite import SQLiteStore
from tests.helpers import running_engine


def test_new_database_is_wal_private_and_fully_migrated(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    assert store.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "sessions",
        "messages",
        "inbox",
        "outbox",
        "pairing",
        "approvals",
        "usage",
        "cron_jobs",
        "cron_runs",
    } <= tables
    assert oct((tmp_path / "state.db").stat().st_mode & 0o777) == "0o600"
    store.close()


def test_reopening_does_not_rerun_migrations(tmp_path):
    SQLiteStore(tmp_path / "state.db").close()
    store = SQLiteStore(tmp_path / "state.db")
    assert store.schema_version == len(MIGRATIONS)
    store.close()


def test_inbox_dedupes_on_platform_chat_and_message_id(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    assert store.inbox_add("telegram", "1", "10", {"x": 1}, 1.0) is not None
    assert store.inbox_add("telegram", "1", "10", {"x": 1}, 2.0) is None
    assert store.inbox_add("telegram", "2", "10", {"x": 1}, 2.0) is not None
    assert store.inbox_add("discord", "1", "10", {"x": 1}, 2.0) is not None
    store.close()


def test_commit_turn_is_all_or_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    inbox_id = store.inbox_add("console", "local", "1", {}, 1.0)
    bad_outbox = [NewOutbox("console", "local", None)]  # NOT NULL violation mid-transaction
    try:
        store.commit_turn(
            "no-such-session",
            [TranscriptEntry("user", "q")],
            [inbox_id],
            "done",
            bad_outbox,
            ("p", "m", 1, 1),
            2.0,
        )
    except sqlite3.IntegrityError:
        pass
    assert [r.id for r in store.inbox_pending()] == [inbox_id]
    assert store.outbox_pending() == []
    assert store.transcript("no-such-session") == []
    store.close()


async def test_unsent_outbox_rows_are_delivered_after_a_restart(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = SQLiteStore(home / "state.db")
    store.outbox_add(NewOutbox("console", "local", "queued before the crash"), 1.0)
    store.close()
    async with running_engine(home) as (engine, replies):
        assert (await replies.wait_for(1)) == ["queued before the crash"]
        await asyncio.sleep(0.05)
        assert engine.store.outbox_pending() == []
