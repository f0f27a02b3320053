"""Numbered schema migrations. Append only: a released migration is never edited."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the initial schema.
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        chat_type TEXT NOT NULL,
        thread_id TEXT NOT NULL DEFAULT '',
        user_id TEXT NOT NULL DEFAULT '',
        user_name TEXT NOT NULL DEFAULT '',
        chat_name TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        last_active REAL NOT NULL,
        ended_at REAL,
        end_reason TEXT NOT NULL DEFAULT '',
        reset_notice TEXT NOT NULL DEFAULT '',
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_by_key ON sessions(key, ended_at);
    CREATE INDEX sessions_by_title ON sessions(key, title);

    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        turn INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '',
        tool_calls TEXT,
        tool_call_id TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_session ON messages(session_id, id);

    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        session_key TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT NOT NULL DEFAULT '',
        received_at REAL NOT NULL,
        done_at REAL,
        UNIQUE (platform, chat_id, message_id)
    );
    CREATE INDEX inbox_pending ON inbox(status) WHERE status = 'pending';
    CREATE INDEX inbox_by_session ON inbox(session_key, done_at);

    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        thread_id TEXT NOT NULL DEFAULT '',
        reply_to TEXT NOT NULL DEFAULT '',
        session_key TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        platform_message_id TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        sent_at REAL
    );
    CREATE INDEX outbox_pending ON outbox(status) WHERE status = 'pending';

    CREATE TABLE pairing (
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_name TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        code_hash TEXT NOT NULL DEFAULT '',
        salt TEXT NOT NULL DEFAULT '',
        requested_at REAL NOT NULL,
        expires_at REAL NOT NULL DEFAULT 0,
        approved_at REAL,
        PRIMARY KEY (platform, user_id)
    );

    CREATE TABLE pairing_failures (
        platform TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX pairing_failures_by_platform ON pairing_failures(platform, at);

    CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        session_key TEXT NOT NULL,
        command TEXT NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL,
        decided_by TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        decided_at REAL
    );

    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX usage_by_session ON usage(session_id);

    CREATE TABLE cron_jobs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        schedule TEXT NOT NULL,
        prompt TEXT NOT NULL,
        platform TEXT NOT NULL DEFAULT '',
        chat_id TEXT NOT NULL DEFAULT '',
        thread_id TEXT NOT NULL DEFAULT '',
        enabled INTEGER NOT NULL DEFAULT 1,
        next_run REAL,
        last_run REAL,
        last_status TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );

    CREATE TABLE cron_runs (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES cron_jobs(id),
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL DEFAULT '',
        output TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: cron — what kind of schedule, where results go, and output kept until it is delivered.
    # The origin chat lives in the existing platform / chat_id / thread_id columns.
    """
    ALTER TABLE cron_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'cron';
    ALTER TABLE cron_jobs ADD COLUMN deliver TEXT NOT NULL DEFAULT 'origin';
    ALTER TABLE cron_jobs ADD COLUMN pending_output TEXT NOT NULL DEFAULT '';
    ALTER TABLE cron_jobs ADD COLUMN pending_status TEXT NOT NULL DEFAULT '';
    ALTER TABLE cron_jobs ADD COLUMN pending_run INTEGER;
    ALTER TABLE cron_jobs ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cron_jobs ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
    ALTER TABLE cron_runs ADD COLUMN delivery TEXT NOT NULL DEFAULT '';
    ALTER TABLE cron_runs ADD COLUMN error TEXT NOT NULL DEFAULT '';
    CREATE INDEX cron_runs_by_job ON cron_runs(job_id, id);
    """,
    # 3: chat preferences that outlive a session (/personality, /reasoning, /voice), and the
    # link from a /compress continuation to the session it summarises.
    """
    CREATE TABLE chat_prefs (
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (key, name)
    );
    ALTER TABLE sessions ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
    """,
    # 4: streaming replies. The message a stream is editing is recorded as soon as it exists, so a
    # turn re-run after a crash edits that message into the final reply instead of sending a
    # second one; the outbox row then edits it too.
    """
    ALTER TABLE inbox ADD COLUMN stream_message_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE outbox ADD COLUMN edit_message_id TEXT NOT NULL DEFAULT '';
    """,
]
