"""DM pairing: an unknown user gets a one-time code; the operator approves it.

Rules (DESIGN §5):
- 8 characters from ALPHABET (no 0/O/1/I), drawn with `secrets`; valid for 1 hour.
- One code per user per 10 minutes. A request after 10 minutes (code still unexpired) replaces
  the old code with a new one; the old code stops working.
- At most 3 unexpired pending codes per platform.
- 5 failed approvals within an hour lock the platform: no approvals and no new codes until
  1 hour after the 5th failure. Nothing lifts a lock early: neither a successful approval nor
  `clear_pending` clears the failure record, so guessing through any approval path (CLI, TUI,
  control socket) is capped at 5 tries per hour per platform. Failures simply age out.
- Only a salted scrypt hash (per-row random salt) is stored; the plaintext code exists only in
  the `PairingRequest` returned by `request()`. An approved row keeps no hash at all.
- Nothing here logs, and no error message repeats an attempted code.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from hermes_gateway.core.types import Platform
from hermes_gateway.security.auth import normalize_user_id, platform_name
from hermes_gateway.storage.base import Store
from hermes_gateway.storage.records import PairingRecord

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O/1/I
CODE_LENGTH = 8
CODE_TTL = 3600.0  # a code expires 1 h after it was issued
REQUEST_INTERVAL = 600.0  # one code per user per 10 min
MAX_PENDING = 3  # unexpired pending codes per platform
MAX_FAILURES = 5  # failed approvals within FAILURE_WINDOW that lock the platform
FAILURE_WINDOW = 3600.0
LOCK_DURATION = 3600.0  # counted from the failure that triggered the lock

# scrypt with N=2**12, r=8, p=1: ~7 ms and 4 MB per hash, so approving against 3 pending rows
# stays well under 50 ms. The parameters are stored with the hash so they can change later.
_SCRYPT_LOG2_N, _SCRYPT_R, _SCRYPT_P = 12, 8, 1
_CODE_RE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
_SEPARATORS = re.compile(r"[\s\-]+")


class PairingStatus(StrEnum):
    ISSUED = "issued"
    ALREADY_PENDING = "already-pending"
    RATE_LIMITED = "rate-limited"
    TOO_MANY_PENDING = "too-many-pending"
    LOCKED = "locked"
    ALREADY_APPROVED = "already-approved"


@dataclass(frozen=True)
class PairingRequest:
    """The answer to an unknown user's DM. `message` is the exact text to send them.

    `code` is set only for ISSUED. Code and message are left out of repr() so that logging
    this object never leaks a code."""

    status: PairingStatus
    code: str | None = field(default=None, repr=False)
    message: str = field(default="", repr=False)


class PairingError(Exception):
    """An approval that did not happen; str(error) is a user-facing sentence without the code.

    `reason` is "no-match", "locked" or "unknown-platform"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PairingManager:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        # When this process last issued a code to (platform, user): keeps the 10-min limit even
        # when the operator revokes or clears the pending row in between.
        self._issued: dict[tuple[str, str], float] = {}

    # -- the user's side ---------------------------------------------------------------
    def request(
        self, platform: str | Platform, user_id: str, user_name: str = ""
    ) -> PairingRequest:
        name, uid = platform_name(platform), normalize_user_id(user_id)
        if not name or not uid:
            raise ValueError("a pairing request needs a platform and the user's id")
        now = self._clock()
        existing = self._store.pairing_get(name, uid)
        if existing is not None and existing.state == "approved":
            return PairingRequest(
                PairingStatus.ALREADY_APPROVED,
                message="You're already paired with this bot, just send your message.",
            )
        until = self._locked_until(name, now)
        if until is not None:
            return PairingRequest(
                PairingStatus.LOCKED,
                message="Pairing with this bot is paused for now. "
                f"Please try again in {_minutes(until - now)}.",
            )
        if (
            existing is not None
            and existing.state == "pending"
            and now < existing.expires_at
            and now - existing.requested_at < REQUEST_INTERVAL
        ):
            return PairingRequest(
                PairingStatus.ALREADY_PENDING,
                message="I already sent you a pairing code (see my earlier message). "
                "Please wait for the owner of this bot to approve it; it expires in "
                f"{_minutes(existing.expires_at - now)}. If you lost it, you can ask for a new "
                f"one in {_minutes(existing.requested_at + REQUEST_INTERVAL - now)}.",
            )
        last = self._issued.get((name, uid))
        if last is not None and now - last < REQUEST_INTERVAL:
            return PairingRequest(
                PairingStatus.RATE_LIMITED,
                message="Please wait "
                f"{_minutes(last + REQUEST_INTERVAL - now)} before asking for a new pairing code.",
            )
        live = 0
        for r in self._store.pairing_list(name):
            if r.state != "pending" or r.user_id == uid:
                continue
            if now < r.expires_at:
                live += 1
            else:
                self._store.pairing_delete(r.platform, r.user_id)  # expired: never approves
        if live >= MAX_PENDING:
            return PairingRequest(
                PairingStatus.TOO_MANY_PENDING,
                message="This bot has too many pairing requests waiting right now. "
                "Please try again later.",
            )
        return self._issue(name, uid, user_name, now)

    def _issue(self, name: str, uid: str, user_name: str, now: float) -> PairingRequest:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        salt = secrets.token_hex(16)
        self._store.pairing_put(
            PairingRecord(
                platform=name,
                user_id=uid,
                user_name=user_name,
                state="pending",
                code_hash=_hash_code(code, salt),
                salt=salt,
                requested_at=now,
                expires_at=now + CODE_TTL,
            )
        )
        self._issued = {k: t for k, t in self._issued.items() if now - t < REQUEST_INTERVAL}
        self._issued[(name, uid)] = now
        return PairingRequest(
            PairingStatus.ISSUED,
            code=code,
            message=f"Hi! I don't know you yet. Your pairing code is: {code}\n"
            f"Ask the owner of this bot to run: hermes pairing approve {name} {code}\n"
            "The code expires in 1 hour.",
        )

    # -- the operator's side -----------------------------------------------------------
    def approve(self, platform: str | Platform, code: str) -> PairingRecord:
        name = platform_name(platform)
        if name not in {p.value for p in Platform}:
            known = ", ".join(p.value for p in Platform)
            raise PairingError(f"unknown platform {name!r} (known: {known})", "unknown-platform")
        now = self._clock()
        until = self._locked_until(name, now)
        if until is not None:
            raise PairingError(_locked_message(name, until - now), "locked")
        candidate = _SEPARATORS.sub("", code or "").upper()
        match: PairingRecord | None = None
        if _CODE_RE.match(candidate):
            for r in self._store.pairing_list(name):
                # No early exit: every live row is hashed, whichever one matches.
                if r.state == "pending" and now < r.expires_at and _verify(candidate, r):
                    match = r
        if match is not None:
            approved = replace(
                match, state="approved", code_hash="", salt="", expires_at=0.0, approved_at=now
            )
            self._store.pairing_put(approved)
            return approved
        self._record_failure(name, now)
        message = (
            f"no pending pairing on {name} matches that code "
            "(it may have expired; codes last 1 hour)"
        )
        until = self._locked_until(name, now)
        if until is not None:
            message += f"; {_locked_message(name, until - now)}"
        raise PairingError(message, "no-match")

    def revoke(self, platform: str | Platform, user_id: str) -> bool:
        """Remove an approved or pending pairing. True if there was one."""
        return self._store.pairing_delete(platform_name(platform), normalize_user_id(user_id))

    def pending(self, platform: str | Platform | None = None) -> list[PairingRecord]:
        now = self._clock()
        return [r for r in self._list(platform) if r.state == "pending" and now < r.expires_at]

    def approved(self, platform: str | Platform | None = None) -> list[PairingRecord]:
        return [r for r in self._list(platform) if r.state == "approved"]

    def clear_pending(self) -> int:
        """Delete every pending code (expired or not). Does not lift a lock."""
        return self._store.pairing_clear_pending()

    def is_locked(self, platform: str | Platform) -> bool:
        return self.locked_until(platform) is not None

    def locked_until(self, platform: str | Platform) -> float | None:
        """When the platform's lock ends (clock time), or None if it is not locked."""
        return self._locked_until(platform_name(platform), self._clock())

    # -- internals -----------------------------------------------------------------------
    def _list(self, platform: str | Platform | None) -> list[PairingRecord]:
        return self._store.pairing_list(platform_name(platform) if platform else None)

    def _locked_until(self, name: str, now: float) -> float | None:
        # A lock that is still running was triggered at most LOCK_DURATION ago, by failures that
        # started at most FAILURE_WINDOW before that.
        times = self._store.pairing_failure_times(name, now - LOCK_DURATION - FAILURE_WINDOW)
        until: float | None = None
        for i in range(MAX_FAILURES - 1, len(times)):
            # Strict "<": the failures behind an expired lock can never count toward a new one.
            if times[i] - times[i - MAX_FAILURES + 1] < FAILURE_WINDOW:
                end = times[i] + LOCK_DURATION
                if now < end and (until is None or end > until):
                    until = end
        return until

    def _record_failure(self, name: str, now: float) -> None:
        # Failures older than the lock horizon never matter again; drop them when none is recent.
        if self._store.pairing_failures_since(name, now - LOCK_DURATION - FAILURE_WINDOW) == 0:
            self._store.pairing_failures_clear(name)
        self._store.pairing_failure_add(name, now)


def _hash_code(code: str, salt: str) -> str:
    digest = hashlib.scrypt(
        code.encode(),
        salt=bytes.fromhex(salt),
        n=2**_SCRYPT_LOG2_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=32,
    )
    return f"scrypt${_SCRYPT_LOG2_N}${_SCRYPT_R}${_SCRYPT_P}${digest.hex()}"


def _verify(code: str, record: PairingRecord) -> bool:
    try:
        scheme, log2_n, r, p, expected = record.code_hash.split("$")
        if scheme != "scrypt" or not 1 <= int(log2_n) <= 16:
            return False
        digest = hashlib.scrypt(
            code.encode(),
            salt=bytes.fromhex(record.salt),
            n=2 ** int(log2_n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
    except ValueError:  # malformed row or parameters: it cannot match
        return False
    return hmac.compare_digest(digest.hex(), expected)


def _minutes(seconds: float, more: bool = False) -> str:
    """Whole minutes, rounded up, at least 1: "1 minute", "52 more minutes"."""
    m = max(1, math.ceil(seconds / 60))
    return f"{m} {'more ' if more else ''}{'minute' if m == 1 else 'minutes'}"


def _locked_message(name: str, remaining: float) -> str:
    return (
        f"pairing on {name} is locked for {_minutes(remaining, more=True)} "
        f"after {MAX_FAILURES} failed approvals"
    )
