"""DM pairing: codes, expiry, rate limits, lockout, hashing, and the hand-off to Authorizer."""

from __future__ import annotations

import logging
import sqlite3
import time

import pytest

from hermes_gateway.security.auth import AccessPolicy, Authorizer, Decision
from hermes_gateway.security.pairing import (
    ALPHABET,
    PairingError,
    PairingManager,
    PairingStatus,
    _hash_code,
)
from hermes_gateway.storage.sqlite import SQLiteStore

MIN = 60.0
HOUR = 3600.0
T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


@pytest.fixture
def pm(store, clock):
    return PairingManager(store, clock=clock)


def issue(pm, platform="telegram", user="u1", name=""):
    req = pm.request(platform, user, name)
    assert req.status == PairingStatus.ISSUED, req.message
    return req.code


def wrong_code(*right: str) -> str:
    code = "ZZZZZZZZ"
    assert code not in right
    return code


def fail(pm, platform="telegram", n=1):
    for _ in range(n):
        with pytest.raises(PairingError):
            pm.approve(platform, wrong_code())


# -- the code -----------------------------------------------------------------------------------
def test_ambiguous_characters_are_not_in_the_alphabet():
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("0O1I") & set(ALPHABET)


def test_codes_are_8_characters_from_the_alphabet_and_random(pm):
    codes = []
    for i in range(40):
        codes.append(issue(pm, user=f"user{i}"))
        pm.clear_pending()
    assert all(len(c) == 8 and set(c) <= set(ALPHABET) for c in codes)
    assert len(set(codes)) == len(codes)


def test_issued_message_gives_the_code_and_the_approve_command(pm):
    req = pm.request("telegram", "123", "Alice")
    assert req.status == "issued"
    assert req.message == (
        f"Hi! I don't know you yet. Your pairing code is: {req.code}\n"
        f"Ask the owner of this bot to run: hermes pairing approve telegram {req.code}\n"
        "The code expires in 1 hour."
    )


def test_request_repr_never_shows_the_code(pm):
    req = pm.request("telegram", "123")
    assert req.code not in repr(req)
    assert "issued" in repr(req)


# -- expiry -------------------------------------------------------------------------------------
def test_code_approves_just_before_one_hour(pm, clock):
    code = issue(pm)
    clock.advance(HOUR - 1)
    record = pm.approve("telegram", code)
    assert record.state == "approved" and record.user_id == "u1"
    assert record.approved_at == clock.now


def test_code_no_longer_approves_at_one_hour_and_that_counts_as_a_failure(pm, store, clock):
    code = issue(pm)
    clock.advance(HOUR)
    with pytest.raises(PairingError) as err:
        pm.approve("telegram", code)
    assert err.value.reason == "no-match"
    assert "may have expired" in str(err.value)
    assert store.pairing_failures_since("telegram", 0) == 1
    assert pm.approved() == []


def test_pending_lists_unexpired_codes_only(pm, clock):
    issue(pm, user="old")
    clock.advance(30 * MIN)
    issue(pm, user="new")
    assert [r.user_id for r in pm.pending()] == ["old", "new"]
    clock.advance(30 * MIN)
    assert [r.user_id for r in pm.pending("telegram")] == ["new"]
    assert pm.pending("discord") == []


# -- one request per user per 10 minutes ----------------------------------------------------------
def test_second_request_within_10_minutes_gets_no_new_code(pm, store, clock):
    code = issue(pm)
    before = store.pairing_get("telegram", "u1")
    clock.advance(10 * MIN - 1)
    again = pm.request("telegram", "u1")
    assert again.status == "already-pending"
    assert again.code is None
    assert "already sent you a pairing code" in again.message
    assert "owner of this bot" in again.message
    assert store.pairing_get("telegram", "u1") == before
    assert pm.approve("telegram", code).state == "approved"


def test_request_after_10_minutes_replaces_the_code(pm, clock):
    old = issue(pm)
    clock.advance(10 * MIN)
    new = issue(pm)
    assert len(pm.pending("telegram")) == 1
    with pytest.raises(PairingError):
        pm.approve("telegram", old)
    assert pm.approve("telegram", new).user_id == "u1"


def test_replacement_code_gets_a_fresh_hour(pm, clock):
    issue(pm)
    clock.advance(50 * MIN)
    new = issue(pm)
    clock.advance(59 * MIN)
    assert pm.approve("telegram", new).state == "approved"


def test_request_within_10_minutes_of_a_revoked_code_is_rate_limited(pm, clock):
    issue(pm)
    assert pm.revoke("telegram", "u1")
    clock.advance(5 * MIN)
    req = pm.request("telegram", "u1")
    assert req.status == "rate-limited"
    assert req.code is None
    assert "5 minutes" in req.message
    clock.advance(5 * MIN)
    assert pm.request("telegram", "u1").status == "issued"


def test_clear_pending_keeps_the_per_user_rate_limit(pm, clock):
    issue(pm)
    assert pm.clear_pending() == 1
    clock.advance(1 * MIN)
    assert pm.request("telegram", "u1").status == "rate-limited"


def test_rate_limit_is_per_user_and_per_platform(pm):
    issue(pm, "telegram", "u1")
    assert pm.request("telegram", "u2").status == "issued"
    assert pm.request("discord", "u1").status == "issued"


# -- at most 3 pending per platform ---------------------------------------------------------------
def test_fourth_pending_request_on_a_platform_is_refused(pm, store):
    for u in ("a", "b", "c"):
        issue(pm, user=u)
    req = pm.request("telegram", "d")
    assert req.status == "too-many-pending"
    assert req.code is None
    assert store.pairing_get("telegram", "d") is None


def test_pending_limit_is_per_platform(pm):
    for u in ("a", "b", "c"):
        issue(pm, "telegram", u)
    assert pm.request("discord", "d").status == "issued"


def test_expired_codes_free_their_pending_slot(pm, clock):
    for u in ("a", "b", "c"):
        issue(pm, user=u)
    clock.advance(HOUR)
    assert pm.request("telegram", "d").status == "issued"
    assert [r.user_id for r in pm.pending()] == ["d"]


def test_replacing_your_own_code_does_not_count_against_the_limit(pm, clock):
    for u in ("a", "b", "c"):
        issue(pm, user=u)
    clock.advance(10 * MIN)
    assert pm.request("telegram", "a").status == "issued"
    assert len(pm.pending("telegram")) == 3


# -- 5 failed approvals lock the platform for an hour ---------------------------------------------
def test_four_failures_do_not_lock(pm):
    fail(pm, n=4)
    assert not pm.is_locked("telegram")


def test_fifth_failure_within_an_hour_locks_the_platform(pm, clock):
    fail(pm, n=4)
    clock.advance(59 * MIN)
    with pytest.raises(PairingError) as err:
        pm.approve("telegram", wrong_code())
    assert "locked for 60 more minutes after 5 failed approvals" in str(err.value)
    assert pm.is_locked("telegram")
    assert not pm.is_locked("discord")


def test_failures_spread_over_more_than_an_hour_do_not_lock(pm, clock):
    fail(pm, n=4)
    clock.advance(HOUR)
    fail(pm)
    assert not pm.is_locked("telegram")


def test_locked_platform_refuses_even_the_right_code_without_counting_it(pm, store, clock):
    code = issue(pm)
    fail(pm, n=5)
    clock.advance(8 * MIN)
    with pytest.raises(PairingError) as err:
        pm.approve("telegram", code)
    assert err.value.reason == "locked"
    assert str(err.value) == (
        "pairing on telegram is locked for 52 more minutes after 5 failed approvals"
    )
    assert store.pairing_failures_since("telegram", 0) == 5
    assert pm.approved() == []


def test_locked_platform_issues_no_new_codes(pm, store):
    fail(pm, n=5)
    req = pm.request("telegram", "newcomer")
    assert req.status == "locked"
    assert req.code is None
    assert "try again in 60 minutes" in req.message
    assert store.pairing_get("telegram", "newcomer") is None
    assert pm.request("discord", "newcomer").status == "issued"


def test_lock_ends_one_hour_after_the_fifth_failure(pm, clock):
    fail(pm, n=1)
    clock.advance(50 * MIN)
    fail(pm, n=4)  # the 5th failure is at T0 + 50 min
    lock_end = T0 + 50 * MIN + HOUR
    assert pm.locked_until("telegram") == lock_end
    clock.now = lock_end - 1
    assert pm.is_locked("telegram")
    clock.now = lock_end
    assert not pm.is_locked("telegram")
    code = issue(pm)
    assert pm.approve("telegram", code).state == "approved"


def test_failures_behind_an_ended_lock_do_not_count_toward_the_next(pm, clock):
    fail(pm, n=5)
    clock.advance(HOUR)
    fail(pm, n=4)
    assert not pm.is_locked("telegram")
    fail(pm)
    assert pm.is_locked("telegram")


def test_successful_approval_does_not_reset_the_failure_count(pm):
    fail(pm, n=4)
    assert pm.approve("telegram", issue(pm)).state == "approved"
    fail(pm)
    assert pm.is_locked("telegram")


def test_clear_pending_does_not_lift_a_lock(pm):
    fail(pm, n=5)
    pm.clear_pending()
    assert pm.is_locked("telegram")


def test_lock_applies_across_manager_instances(store, clock, tmp_path):
    gateway = PairingManager(store, clock=clock)
    cli_store = SQLiteStore(tmp_path / "state.db")
    try:
        fail(PairingManager(cli_store, clock=clock), n=5)
    finally:
        cli_store.close()
    assert gateway.request("telegram", "u1").status == "locked"


# -- approving ----------------------------------------------------------------------------------
def test_approve_ignores_case_spaces_and_dashes(pm):
    code = issue(pm)
    typed = f" {code[:4].lower()}-{code[4:].lower()} "
    assert pm.approve("Telegram", typed).user_id == "u1"


def test_code_only_approves_on_its_own_platform(pm):
    code = issue(pm, "telegram")
    with pytest.raises(PairingError):
        pm.approve("discord", code)
    assert pm.approve("telegram", code).platform == "telegram"


def test_code_is_one_time(pm):
    code = issue(pm)
    pm.approve("telegram", code)
    with pytest.raises(PairingError):
        pm.approve("telegram", code)


def test_pairing_error_never_repeats_the_attempted_code(pm):
    code = issue(pm)
    attempt = code[:-1] + ("A" if code[-1] != "A" else "B")
    with pytest.raises(PairingError) as err:
        pm.approve("telegram", attempt)
    assert attempt not in str(err.value)
    assert str(err.value) == (
        "no pending pairing on telegram matches that code (it may have expired; codes last 1 hour)"
    )


def test_unknown_platform_is_refused_without_counting_a_failure(pm, store):
    with pytest.raises(PairingError) as err:
        pm.approve("telegrm", "ABCDEFGH")
    assert err.value.reason == "unknown-platform"
    assert "ABCDEFGH" not in str(err.value)
    assert store.pairing_failures_since("telegrm", 0) == 0


def test_approving_against_three_pending_codes_is_fast(pm):
    codes = [issue(pm, user=u) for u in ("a", "b", "c")]
    started = time.perf_counter()
    pm.approve("telegram", codes[-1])
    elapsed = time.perf_counter() - started
    assert elapsed < 0.25  # ~25 ms on a laptop; loose so a busy CI box does not flake


def test_already_approved_user_gets_no_new_code(pm, store):
    pm.approve("telegram", issue(pm))
    req = pm.request("telegram", "u1")
    assert req.status == "already-approved"
    assert req.code is None
    assert store.pairing_get("telegram", "u1").state == "approved"


# -- only a salted hash is stored --------------------------------------------------------------
def test_code_is_stored_nowhere_in_the_database(pm, tmp_path):
    codes = [issue(pm, user=u) for u in ("a", "b")]
    pm.approve("telegram", codes[0])
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))  # main file and WAL
    db = sqlite3.connect(tmp_path / "state.db")
    rows = db.execute("SELECT * FROM pairing").fetchall()
    db.close()
    dumped = repr(rows)
    for code in codes:
        assert code.encode() not in raw
        assert code.lower().encode() not in raw
        assert code not in dumped
    assert len(rows) == 2


def test_each_pending_row_has_its_own_salt_so_equal_codes_hash_differently(pm, store):
    issue(pm, user="a")
    issue(pm, user="b")
    a, b = store.pairing_get("telegram", "a"), store.pairing_get("telegram", "b")
    assert a.salt and b.salt and a.salt != b.salt
    assert len(bytes.fromhex(a.salt)) == 16
    # The same code under the two rows' salts gives two different hashes.
    assert _hash_code("XKGH5N7P", a.salt) != _hash_code("XKGH5N7P", b.salt)
    assert a.code_hash.startswith("scrypt$")


def test_approved_row_keeps_no_hash(pm, store):
    pm.approve("telegram", issue(pm))
    row = store.pairing_get("telegram", "u1")
    assert row.code_hash == "" and row.salt == ""


def test_nothing_is_logged_with_a_code(pm, clock, caplog):
    caplog.set_level(logging.DEBUG)
    code = issue(pm)
    pm.request("telegram", "u1")
    with pytest.raises(PairingError):
        pm.approve("telegram", wrong_code(code))
    pm.approve("telegram", code)
    assert code not in caplog.text


def test_messages_other_than_issued_never_contain_a_code(pm, clock):
    code = issue(pm, user="a")
    codes = [code, issue(pm, user="b"), issue(pm, user="c")]
    messages = [
        pm.request("telegram", "a"),  # already-pending
        pm.request("telegram", "d"),  # too-many-pending
    ]
    pm.revoke("telegram", "c")
    messages.append(pm.request("telegram", "c"))  # rate-limited
    pm.approve("telegram", code)
    messages.append(pm.request("telegram", "a"))  # already-approved
    fail(pm, n=5)
    messages.append(pm.request("telegram", "e"))  # locked
    assert [m.status for m in messages] == [
        "already-pending",
        "too-many-pending",
        "rate-limited",
        "already-approved",
        "locked",
    ]
    for m in messages:
        assert m.code is None
        assert not any(c in m.message for c in codes)
        assert not any(
            len(w) == 8 and set(w) <= set(ALPHABET) for w in m.message.replace(".", " ").split()
        )


# -- revoke and clear -----------------------------------------------------------------------------
def test_revoke_deletes_a_pending_or_an_approved_pairing(pm):
    issue(pm, user="pending")
    pm.approve("telegram", issue(pm, user="approved"))
    assert pm.revoke("telegram", "pending")
    assert pm.revoke("telegram", "approved")
    assert not pm.revoke("telegram", "approved")
    assert pm.pending() == [] and pm.approved() == []


def test_clear_pending_removes_pending_codes_and_keeps_approved_users(pm):
    pm.approve("telegram", issue(pm, user="a"))
    issue(pm, user="b")
    issue(pm, "discord", "c")
    assert pm.clear_pending() == 2
    assert pm.pending() == []
    assert [r.user_id for r in pm.approved()] == ["a"]


def test_approved_lists_filter_by_platform(pm):
    pm.approve("telegram", issue(pm, "telegram", "a"))
    pm.approve("discord", issue(pm, "discord", "b"))
    assert [r.user_id for r in pm.approved("discord")] == ["b"]
    assert len(pm.approved()) == 2


# -- hand-off to authorization ---------------------------------------------------------------
def test_approved_user_then_passes_authorizer_via_pairing(pm, store):
    auth = Authorizer(AccessPolicy(), store)
    code = issue(pm, user="123")
    assert auth.check("telegram", "123") == Decision(False, "denied")
    pm.approve("telegram", code)
    assert auth.check("telegram", "123") == Decision(True, "pairing")
    pm.revoke("telegram", "123")
    assert auth.check("telegram", "123") == Decision(False, "denied")


def test_email_user_paired_with_one_case_is_authorized_with_another(pm, store):
    pm.approve("email", issue(pm, "email", "Alice@Example.com"))
    assert Authorizer(AccessPolicy(), store).check("email", "alice@example.com").via == "pairing"
