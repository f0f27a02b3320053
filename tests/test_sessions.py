"""Session keys and reset policies, with a controllable clock and a real SQLite store."""

from datetime import UTC, datetime

import pytest

from hermes_gateway.config import ResetPolicy, load_settings
from hermes_gateway.core.types import ChatType, Platform, SessionSource
from hermes_gateway.home import HermesHome
from hermes_gateway.sessions.keys import session_key
from hermes_gateway.sessions.manager import SessionManager
from hermes_gateway.sessions.reset import last_daily_boundary, reset_reason
from hermes_gateway.storage.sqlite import SQLiteStore

DM = SessionSource(Platform.TELEGRAM, "100", ChatType.DM, user_id="100")


def group(user: str, thread: str = "") -> SessionSource:
    return SessionSource(Platform.TELEGRAM, "-42", ChatType.GROUP, user_id=user, thread_id=thread)


def test_dm_key_is_one_per_platform_and_chat():
    assert session_key(DM) == "telegram:dm:100"
    other = SessionSource(Platform.DISCORD, "100", ChatType.DM, user_id="100")
    assert session_key(other) != session_key(DM)


def test_group_keys_are_per_user_and_thread_by_default():
    assert session_key(group("1")) != session_key(group("2"))
    assert session_key(group("1", "t1")) != session_key(group("1", "t2"))


def test_group_keys_are_shared_when_group_sessions_per_user_is_off():
    assert session_key(group("1"), False) == session_key(group("2"), False)
    assert session_key(group("1", "t1"), False) != session_key(group("1", "t2"), False)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_daily_boundary_is_the_last_at_hour_not_after_now():
    assert last_daily_boundary(ts("2026-01-02 05:00"), 4, UTC) == ts("2026-01-02 04:00")
    assert last_daily_boundary(ts("2026-01-02 03:00"), 4, UTC) == ts("2026-01-01 04:00")


@pytest.mark.parametrize(
    "mode, last, now, expired",
    [
        ("daily", "2026-01-01 23:00", "2026-01-02 03:59", False),
        ("daily", "2026-01-01 23:00", "2026-01-02 04:00", True),
        ("idle", "2026-01-01 23:00", "2026-01-02 00:59", False),
        ("idle", "2026-01-01 23:00", "2026-01-02 01:01", True),
        ("both", "2026-01-02 03:30", "2026-01-02 04:10", True),  # daily fires first
        ("both", "2026-01-02 05:00", "2026-01-02 07:01", True),  # idle fires first
        ("both", "2026-01-02 05:00", "2026-01-02 06:00", False),
        ("none", "2025-01-01 00:00", "2026-01-02 06:00", False),
    ],
)
def test_reset_policy_modes(mode, last, now, expired):
    policy = ResetPolicy(mode=mode, at_hour=4, idle_minutes=120)
    assert (reset_reason(policy, ts(last), ts(now), UTC) is not None) is expired


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manager(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "gateway.json").write_text(
        '{"session_reset": {"mode": "idle", "idle_minutes": 60},'
        ' "reset_by_platform": {"discord": {"mode": "none"}}}'
    )
    settings = load_settings(HermesHome(home), {})
    store = SQLiteStore(home / "state.db")
    clock = Clock(ts("2026-01-01 12:00"))
    yield SessionManager(store, settings, clock, UTC), clock
    store.close()


def test_idle_session_is_replaced_with_a_one_time_notice(manager):
    sessions, clock = manager
    key = session_key(DM)
    first = sessions.resolve(DM, key)
    assert first.reset_notice == ""
    clock.now += 30 * 60
    assert sessions.resolve(DM, key).id == first.id
    sessions.store.session_update(first.id, last_active=clock.now)
    clock.now += 61 * 60
    second = sessions.resolve(DM, key)
    assert second.id != first.id
    assert "/resume" in second.reset_notice and "idle" in second.reset_notice
    assert sessions.store.session_get(first.id).end_reason.startswith("auto")


def test_per_platform_override_wins_over_the_default(manager):
    sessions, clock = manager
    source = SessionSource(Platform.DISCORD, "9", ChatType.DM, user_id="9")
    key = session_key(source)
    first = sessions.resolve(source, key)
    clock.now += 10 * 86400
    assert sessions.resolve(source, key).id == first.id


def test_protected_session_is_never_reset_automatically(manager):
    sessions, clock = manager
    key = session_key(DM)
    first = sessions.resolve(DM, key)
    clock.now += 5 * 3600
    assert sessions.resolve(DM, key, protected=lambda k: True).id == first.id


def test_resume_reopens_the_previous_or_the_named_session(manager):
    sessions, clock = manager
    key = session_key(DM)
    first = sessions.resolve(DM, key)
    sessions.store.session_update(first.id, title="taxes")
    clock.now += 1
    second = sessions.start_new(DM, key, "new")
    clock.now += 1
    third = sessions.start_new(DM, key, "new")
    assert sessions.resume(key, "taxes").id == first.id
    assert sessions.store.session_current(key).id == first.id
    # without a name: the most recently active ended session (the one just switched away from)
    assert sessions.resume(key).id == third.id
    assert sessions.store.session_get(second.id).ended_at is not None
    assert sessions.resume(key, "no such title") is None
