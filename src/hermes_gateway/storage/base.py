"""The store interface. Callers depend on this, never on a backend; a PostgreSQL backend
implements the same methods (claiming rows with SELECT … FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from hermes_gateway.storage.records import (
    InboxRow,
    NewOutbox,
    OutboxRow,
    PairingRecord,
    SessionRecord,
    TranscriptEntry,
    UsageTotals,
)


class Store(ABC):
    # -- lifecycle -----------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    # -- inbox: persisted before the platform is acknowledged ----------------
    @abstractmethod
    def inbox_add(
        self,
        platform: str,
        chat_id: str,
        message_id: str,
        payload: dict[str, Any],
        now: float,
        session_key: str = "",
    ) -> int | None:
        """Insert a received message; None if (platform, chat, message id) was seen before."""

    @abstractmethod
    def inbox_pending(self) -> list[InboxRow]:
        """Messages received but not yet answered, oldest first (replayed after a restart)."""

    @abstractmethod
    def inbox_finish(self, ids: list[int], status: str, now: float, error: str = "") -> None:
        """Mark inbox rows done | interrupted | stopped | failed | ignored | command (a chat
        command, answered at once), or back to pending (re-run by /retry)."""

    @abstractmethod
    def inbox_get(self, inbox_id: int) -> InboxRow | None: ...

    @abstractmethod
    def inbox_failed_batch(self, session_key: str) -> list[InboxRow]:
        """The messages of the session's last turn if that turn failed (for /retry), else []."""

    @abstractmethod
    def inbox_set_stream(self, inbox_ids: list[int], message_id: str) -> None:
        """Remember the message a streamed reply to these inbox rows is editing."""

    @abstractmethod
    def inbox_stream(self, inbox_ids: list[int]) -> str:
        """The streamed message of an earlier, interrupted attempt at these rows, or ""."""

    # -- outbox: written before a send, marked sent with the platform's id ---
    @abstractmethod
    def outbox_add(self, row: NewOutbox, now: float) -> int: ...

    @abstractmethod
    def outbox_pending(self, platform: str | None = None) -> list[OutboxRow]: ...

    @abstractmethod
    def outbox_status(self, outbox_id: int) -> str:
        """pending | sent | failed, or "" for an unknown row."""

    @abstractmethod
    def outbox_mark_sent(self, outbox_id: int, platform_message_id: str, now: float) -> None: ...

    @abstractmethod
    def outbox_mark_failed(self, outbox_id: int, error: str, final: bool) -> None:
        """Record a failed attempt; `final` gives the row up (status failed)."""

    # -- sessions and transcripts -------------------------------------------
    @abstractmethod
    def session_current(self, key: str) -> SessionRecord | None:
        """The open session for a key, if any."""

    @abstractmethod
    def session_get(self, session_id: str) -> SessionRecord | None: ...

    @abstractmethod
    def session_create(self, record: SessionRecord) -> None: ...

    @abstractmethod
    def session_end(self, session_id: str, reason: str, now: float) -> None: ...

    @abstractmethod
    def session_reopen(self, session_id: str, now: float) -> None:
        """Make an ended session the open one again (/resume)."""

    @abstractmethod
    def session_update(self, session_id: str, **fields: Any) -> None:
        """Set title, model, last_active, reset_notice."""

    @abstractmethod
    def sessions_for_key(self, key: str, limit: int = 20) -> list[SessionRecord]:
        """Most recent first, open and ended."""

    @abstractmethod
    def sessions_active(self, limit: int = 200) -> list[SessionRecord]: ...

    @abstractmethod
    def transcript(self, session_id: str) -> list[TranscriptEntry]: ...

    @abstractmethod
    def transcript_drop_last_turn(self, session_id: str) -> list[TranscriptEntry]:
        """Delete the last turn (user message and everything after it); returns what was removed."""

    @abstractmethod
    def commit_turn(
        self,
        session_id: str,
        entries: list[TranscriptEntry],
        inbox_ids: list[int],
        inbox_status: str,
        outbox: list[NewOutbox],
        usage: tuple[str, str, int, int] | None,
        now: float,
    ) -> list[int]:
        """One transaction: the turn's transcript, its inbox rows finished, its replies queued
        in the outbox, usage counted. Returns the outbox ids. A crash before this commit means
        the turn is re-run after a restart; after it, only the sends remain."""

    # -- usage ----------------------------------------------------------------
    @abstractmethod
    def usage_for_session(self, session_id: str) -> UsageTotals: ...

    # -- pairing ---------------------------------------------------------------
    @abstractmethod
    def pairing_get(self, platform: str, user_id: str) -> PairingRecord | None: ...

    @abstractmethod
    def pairing_put(self, record: PairingRecord) -> None: ...

    @abstractmethod
    def pairing_delete(self, platform: str, user_id: str) -> bool: ...

    @abstractmethod
    def pairing_list(self, platform: str | None = None) -> list[PairingRecord]: ...

    @abstractmethod
    def pairing_clear_pending(self) -> int: ...

    @abstractmethod
    def pairing_failure_add(self, platform: str, now: float) -> None: ...

    @abstractmethod
    def pairing_failures_since(self, platform: str, since: float) -> int: ...

    @abstractmethod
    def pairing_failure_times(self, platform: str, since: float) -> list[float]:
        """When each failed approval at or after `since` happened, oldest first."""

    @abstractmethod
    def pairing_failures_clear(self, platform: str) -> None: ...

    @abstractmethod
    def insights(self, since: float) -> dict[str, list[tuple[str, int, int, int]]]:
        """Usage since a time, grouped: {"model"|"platform"|"day": [(name, turns, tokens in,
        tokens out)], "tool": [(name, calls, 0, 0)]}, biggest first."""

    # -- chat preferences ---------------------------------------------------------------
    @abstractmethod
    def prefs(self, key: str) -> dict[str, str]:
        """All preferences of a chat (session key): personality, reasoning, voice, …"""

    @abstractmethod
    def pref_set(self, key: str, name: str, value: str | None) -> None:
        """Set a preference, or remove it with None."""

    # -- approvals audit -------------------------------------------------------------------
    @abstractmethod
    def approval_add(
        self, approval_id: str, session_key: str, command: str, reason: str, now: float
    ) -> None:
        """Record a pending approval (status 'pending')."""

    @abstractmethod
    def approval_decide(self, approval_id: str, status: str, by: str, now: float) -> None:
        """Record the decision: once | session | always | deny | timeout | auto."""

    @abstractmethod
    def approvals_recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The audit trail, newest first."""

    # -- cron ------------------------------------------------------------------------------
    # Rows are plain dicts keyed by column name (scheduler.cron maps them to CronJob), so the
    # store does not depend on the scheduler.
    @abstractmethod
    def cron_job_add(self, job: dict[str, Any]) -> None:
        """Insert a job row: id, name, schedule, prompt, kind, deliver, platform, chat_id,
        thread_id (the origin chat), enabled, next_run, created_at."""

    @abstractmethod
    def cron_job_get(self, job_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def cron_jobs(self) -> list[dict[str, Any]]:
        """Every job, oldest first."""

    @abstractmethod
    def cron_job_update(self, job_id: str, **fields: Any) -> bool:
        """Set columns of a job; False if there is no such job."""

    @abstractmethod
    def cron_job_remove(self, job_id: str) -> bool:
        """Delete a job and its run history; False if there was no such job."""

    @abstractmethod
    def cron_run_start(self, job_id: str, now: float, **job_fields: Any) -> int:
        """One transaction: a cron_runs row (status 'running') and the job's new fields
        (next_run, last_run, …). Returns the run id."""

    @abstractmethod
    def cron_run_update(
        self, run_id: int, job: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        """One transaction: set columns of a run (status, output, error, delivery, finished_at)
        and, when `job` is given, columns of that run's job."""

    @abstractmethod
    def cron_runs(self, job_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """A job's runs, newest first."""

    @abstractmethod
    def cron_runs_interrupted(self, now: float) -> int:
        """After a restart: runs still marked 'running' (and their jobs) become 'interrupted'.
        Returns how many runs that was."""
