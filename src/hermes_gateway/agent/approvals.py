"""Dangerous commands wait here for a person's yes or no.

`check()` classifies a command (agent.danger) and returns when it may run: at once when it is
harmless, allowlisted or already approved for the session; otherwise after someone answers
`/approve [session|always]` or `/deny` in the chat (or the operator in the TUI). Hardline
commands never run. Every decision is audited in the store and published on the bus.

`command_allowlist` entries match either a whole command (compared after normalisation:
case, spacing and escape sequences do not matter) or a rule id such as `recursive-delete`
(allowing that kind of command everywhere). `/approve always` adds the exact command.
`/approve session` remembers the rule ids for the session key until `clear_session()`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hermes_gateway.agent.tools.base import ToolError
from hermes_gateway.config import ConfigError, update_yaml
from hermes_gateway.config.yamlfile import read_yaml
from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import ApprovalRequested, ApprovalResolved, EngineWarning
from hermes_gateway.storage.base import Store

if TYPE_CHECKING:
    from hermes_gateway.agent.danger import Verdict


def assess(command: str, hermes_home: Path | None = None):
    # The danger tables cost ~20 ms to import: load them with the first command, not at start.
    from hermes_gateway.agent.danger import assess as assess_command

    return assess_command(command, hermes_home=hermes_home)


def clean(command: str) -> str:
    from hermes_gateway.agent.danger.normalize import clean as clean_command

    return clean_command(command)


log = logging.getLogger("hermes.approvals")

CHOICES = ("once", "session", "always", "deny")


@dataclass
class PendingApproval:
    id: str  # ap_ + 6 hex
    session_key: str
    command: str  # as the agent wrote it
    reason: str  # "recursive delete"
    created_at: float
    expires_at: float
    platform: str = ""
    chat_id: str = ""
    rules: tuple[str, ...] = ()  # rule ids that need the approval
    thread_id: str = ""  # the prompt goes to the thread the session lives in
    _future: asyncio.Future[tuple[str, str, str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )


class ApprovalDenied(ToolError):
    """The command was not run; str(e) tells the model why and what to do next."""

    def __init__(self, message: str, *, decision: str, verdict: Verdict | None = None) -> None:
        super().__init__(message)
        self.decision = decision  # blocked | deny | timeout | unattended
        self.verdict = verdict


def approval_message(p: PendingApproval) -> str:
    """The chat message asking for a decision: full command, reason, how to answer."""
    command = visible(p.command)
    fence = "`" * max(3, _longest_backtick_run(command) + 1)
    return (
        f"⚠️ The agent wants to run a command that needs your approval ({p.reason}):\n"
        f"{fence}\n{command}\n{fence}\n"
        "/approve — run it once · /approve session — allow this kind of command for this "
        "session · /approve always — always allow it · /deny [reason]\n"
        f"(approval {p.id}; no answer within {_duration(p.expires_at - p.created_at)} "
        "means deny)"
    )


def approval_buttons(p: PendingApproval) -> tuple[tuple[str, str], ...]:
    """(label, callback data) for platforms with buttons."""
    return (
        ("Allow once", f"approval:{p.id}:once"),
        ("Allow session", f"approval:{p.id}:session"),
        ("Always", f"approval:{p.id}:always"),
        ("Deny", f"approval:{p.id}:deny"),
    )


def visible(text: str) -> str:
    """The text with invisible characters shown as ⟨U+XXXX⟩, so an approver sees what runs
    (bidi overrides and zero-width characters can make a command look like another one)."""
    return "".join(
        f"⟨U+{ord(ch):04X}⟩"
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf")
        else ch
        for ch in text
    )


class ApprovalManager:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        clock: Callable[[], float] = time.time,
        timeout: float = 300,
        mode: str = "manual",
        unattended: str = "deny",
        allowlist: Iterable[str] = (),
        config_path: Path | None = None,
        hermes_home: Path | None = None,
        notify: Callable[[PendingApproval], Awaitable[None]] | None = None,
    ) -> None:
        self.store, self.bus, self.clock = store, bus, clock
        self.timeout = float(timeout)
        self.mode = mode  # manual | off (anything else counts as manual: fail closed)
        self.unattended = unattended  # deny | allow
        self.notify = notify
        self.hermes_home = hermes_home or (config_path.parent if config_path else None)
        self.config_path = config_path or (hermes_home / "config.yaml" if hermes_home else None)
        self._allowlist: list[str] = []
        self._allowed: set[str] = set()
        for entry in allowlist:
            self._allow(str(entry))
        self._pending: dict[str, PendingApproval] = {}  # insertion order is FIFO order
        self._granted: dict[str, set[str]] = {}  # session key -> rule ids approved "session"
        self._canonical: dict[str, str] = {}  # approval id -> normalised command

    # -- the tool side ---------------------------------------------------------------------
    async def check(
        self,
        command: str,
        *,
        session_key: str,
        platform: str = "",
        chat_id: str = "",
        unattended: bool = False,
        thread_id: str = "",
    ) -> Verdict:
        """Return when the command may run; raise ApprovalDenied when it may not."""
        found = assess(command, hermes_home=self.hermes_home)
        if not found:
            from hermes_gateway.agent.danger import OK

            return OK
        if found[0].level == "hardline":
            self._audit(session_key, command, found[0].reason, "blocked", "policy")
            raise ApprovalDenied(
                f"Blocked: {found[0].reason} is never allowed. The command was not run; "
                "find a safer way, or ask the user to run it themselves.",
                decision="blocked",
                verdict=found[0],
            )
        canonical = clean(command)
        granted = self._granted.get(session_key, set())
        needed = [v for v in found if not self._covered(v, canonical, granted)]
        verdict = (needed or found)[0]
        reason = "; ".join(dict.fromkeys(v.reason for v in needed or found))
        if self.mode == "off":
            allowed_by = "mode-off"
        elif not needed:
            allowed_by = "session" if any(v.rule in granted for v in found) else "allowlist"
        elif unattended and self.unattended == "allow":
            allowed_by = "unattended"
        else:
            allowed_by = ""
        if allowed_by:
            self._audit(session_key, command, reason, "auto", allowed_by, publish=True)
            return verdict
        if unattended:
            self._audit(session_key, command, reason, "deny", "unattended", publish=True)
            raise ApprovalDenied(
                f"Not run: {reason} needs a person's approval, and this run is unattended "
                "(cron or webhook), so nobody can give it. Do without this command.",
                decision="unattended",
                verdict=verdict,
            )
        now = self.clock()
        p = PendingApproval(
            self._record(session_key, command, reason, now), session_key, command, reason,
            now, now + self.timeout, platform, chat_id, tuple(v.rule for v in needed),
            thread_id,
        )  # fmt: skip
        self._canonical[p.id] = canonical
        return await self._wait(p, verdict)

    async def _wait(self, p: PendingApproval, verdict: Verdict) -> Verdict:
        loop = asyncio.get_running_loop()
        p._future = loop.create_future()
        self._pending[p.id] = p
        self.bus.publish(
            ApprovalRequested(
                p.id, p.session_key, p.platform, p.chat_id, p.command, p.reason, p.expires_at
            )
        )
        deadline = loop.time() + self.timeout
        try:
            await self._notify(p)
            if not p._future.done():
                await asyncio.wait({p._future}, timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:  # the turn was interrupted: nobody waits any more
            if self._pending.pop(p.id, None) is not None:
                self._close(p, "cancelled", "interrupt")
            p._future.cancel()
            raise
        if not p._future.done():
            self._pending.pop(p.id, None)
            self._close(p, "timeout", "timeout")
            raise ApprovalDenied(
                f"No answer within {self.timeout:g} s, so the command was not run. "
                "Ask the user before trying it again.",
                decision="timeout",
                verdict=verdict,
            )
        choice, _by, why = p._future.result()
        if choice == "deny":
            raise ApprovalDenied(
                f"The user denied this command: {why or p.reason + ' was not approved'}. "
                "It was not run; do not retry it — ask the user what to do instead.",
                decision="deny",
                verdict=verdict,
            )
        return verdict

    # -- the people side -------------------------------------------------------------------
    def pending(self, session_key: str | None = None) -> list[PendingApproval]:
        """Waiting approvals, oldest first (of one session, or of all)."""
        return [p for p in self._pending.values() if session_key in (None, p.session_key)]

    def has_pending(self, session_key: str) -> bool:
        return any(p.session_key == session_key for p in self._pending.values())

    def resolve(
        self,
        session_key: str | None,
        choice: str,
        *,
        by: str,
        approval_id: str | None = None,
        reason: str = "",
    ) -> PendingApproval | None:
        """Answer one approval: `approval_id`'s (the TUI/operator path; when session_key is
        given it must match), else the oldest of session_key. None if nothing matched."""
        if choice not in CHOICES:
            raise ValueError(f"Unknown approval choice {choice!r}: use one of {', '.join(CHOICES)}")
        if approval_id is not None:
            p = self._pending.get(approval_id)
            if p is not None and session_key not in (None, p.session_key):
                p = None
        else:
            p = next(iter(self.pending(session_key)), None) if session_key else None
        if p is None:
            return None
        if choice == "session":
            self._granted.setdefault(p.session_key, set()).update(p.rules)
        elif choice == "always":
            self._allow_always(self._canonical.get(p.id, clean(p.command)))
        self._settle(p, choice, by, reason)
        if choice in ("session", "always"):  # the same kind may be waiting in parallel calls
            granted = self._granted.get(p.session_key, set())
            for other in self.pending(p.session_key):
                canonical = self._canonical.get(other.id, "")
                if all(r in granted or r in self._allowed for r in other.rules) or (
                    canonical in self._allowed
                ):
                    self._settle(other, choice, by, reason)
        return p

    def deny_all(self, session_key: str, by: str, reason: str) -> int:
        """Deny every approval of a session (/stop, /new); returns how many there were."""
        waiting = self.pending(session_key)
        for p in waiting:
            self._settle(p, "deny", by, reason)
        return len(waiting)

    def clear_session(self, session_key: str) -> None:
        """Forget the session's `/approve session` grants (a new session starts fresh)."""
        self._granted.pop(session_key, None)

    @property
    def allowlist(self) -> tuple[str, ...]:
        return tuple(self._allowlist)

    # -- internals ---------------------------------------------------------------------------
    def _covered(self, verdict: Verdict, canonical: str, granted: set[str]) -> bool:
        return (
            verdict.rule in granted or verdict.rule in self._allowed or canonical in self._allowed
        )

    def _allow(self, entry: str) -> bool:
        key = clean(entry)
        if not key or key in self._allowed:
            return False
        self._allowed.add(key)
        self._allowlist.append(entry.strip())
        return True

    def _allow_always(self, canonical: str) -> None:
        self._allow(canonical)
        if self.config_path is None:
            return
        try:
            current = (read_yaml(self.config_path) or {}).get("command_allowlist")
            entries = [str(e) for e in current] if isinstance(current, list) else []
            if canonical not in entries:
                entries.append(canonical)
            update_yaml(self.config_path, {"command_allowlist": entries})
        except (ConfigError, OSError) as exc:
            message = f"Could not save the approved command to {self.config_path}: {exc}"
            log.warning("%s (it stays allowed until the gateway restarts)", message)
            self.bus.publish(EngineWarning(message))

    async def _notify(self, p: PendingApproval) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(p)
        except Exception:  # the TUI can still answer; the wait goes on
            log.exception("could not send approval request %s", p.id)

    def _settle(self, p: PendingApproval, choice: str, by: str, reason: str) -> None:
        self._pending.pop(p.id, None)
        self._close(p, choice, by)
        if p._future is not None and not p._future.done():
            p._future.set_result((choice, by, reason))

    def _close(self, p: PendingApproval, status: str, by: str) -> None:
        self._canonical.pop(p.id, None)
        self.store.approval_decide(p.id, status, by, self.clock())
        self.bus.publish(ApprovalResolved(p.id, p.session_key, status, by))

    def _audit(
        self, session_key: str, command: str, reason: str, status: str, by: str, publish=False
    ) -> None:
        now = self.clock()
        approval_id = self._record(session_key, command, reason, now)
        self.store.approval_decide(approval_id, status, by, now)
        if publish:
            self.bus.publish(ApprovalResolved(approval_id, session_key, status, by))

    def _record(self, session_key: str, command: str, reason: str, now: float) -> str:
        """Insert the audit row under a fresh id (retrying the rare clash with an old row)."""
        for attempt in range(5):
            approval_id = "ap_" + secrets.token_hex(3)
            if approval_id in self._pending:
                continue
            try:
                self.store.approval_add(approval_id, session_key, command, reason, now)
                return approval_id
            except Exception:
                if attempt == 4:
                    raise
        raise RuntimeError("could not allocate an approval id")


def _duration(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)
