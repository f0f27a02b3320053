"""Schedules: cron expressions (local time), intervals aligned to creation, one-shot times."""

from datetime import UTC, datetime

import pytest

from hermes_gateway.scheduler.schedule import EXPECTED, describe, parse_schedule


def local(*parts: int) -> float:
    """A local wall-clock time as a timestamp (tests pass in any TZ)."""
    return datetime(*parts).timestamp()


NOW = local(2026, 3, 10, 8, 30)  # a Tuesday


def test_cron_expression_runs_at_the_next_local_match():
    s = parse_schedule("0 9 * * *", NOW)
    assert (s.kind, s.expr) == ("cron", "0 9 * * *")
    assert s.next_after(NOW) == local(2026, 3, 10, 9, 0)
    assert s.next_after(local(2026, 3, 10, 9, 0)) == local(2026, 3, 11, 9, 0)  # strictly after


def test_cron_expression_whitespace_is_normalised_and_aliases_accepted():
    assert parse_schedule("  */15   * * * * ", NOW).expr == "*/15 * * * *"
    hourly = parse_schedule("@hourly", NOW)
    assert hourly.kind == "cron"
    assert hourly.next_after(NOW) == local(2026, 3, 10, 9, 0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("every 2h", 7200),
        ("every 30m", 1800),
        ("every 1d", 86400),
        ("every 2 hours", 7200),
        ("every day", 86400),
        ("Every 45 minutes", 2700),
    ],
)
def test_every_forms_give_an_interval(text, seconds):
    s = parse_schedule(text, NOW)
    assert (s.kind, s.interval) == ("every", seconds)


def test_every_is_aligned_to_the_creation_time():
    s = parse_schedule("every 2h", NOW)
    assert s.next_after(NOW) == NOW + 7200
    assert s.next_after(NOW + 7200) == NOW + 14400
    assert s.next_after(NOW + 10_000) == NOW + 14400  # the slot grid, not "now + 2h"
    assert s.next_after(NOW - 50) == NOW + 7200


@pytest.mark.parametrize(("text", "delay"), [("30m", 1800), ("2h", 7200), ("in 2 hours", 7200)])
def test_relative_time_is_one_run_after_now(text, delay):
    s = parse_schedule(text, NOW)
    assert s.kind == "once"
    assert s.next_after(NOW) == NOW + delay
    assert s.next_after(NOW + delay) is None


def test_iso_time_without_zone_is_local_and_with_zone_is_exact():
    s = parse_schedule("2026-12-01T09:00", NOW)
    assert (s.kind, s.next_after(NOW)) == ("once", local(2026, 12, 1, 9, 0))
    utc = parse_schedule("2026-12-01T09:00+00:00", NOW)
    assert utc.next_after(NOW) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()


def test_iso_time_in_the_past_is_refused():
    with pytest.raises(ValueError, match="in the past"):
        parse_schedule("2026-01-01T09:00", NOW)


def test_reparsing_with_the_creation_time_gives_the_same_schedule():
    for text in ("every 2h", "30m", "0 9 * * *", "2026-12-01T09:00"):
        assert parse_schedule(text, NOW) == parse_schedule(text, NOW)


@pytest.mark.parametrize(
    "text",
    ["", "tomorrow", "0 9 * *", "61 * * * *", "0 9 * * * *", "30s", "every other day"],
)
def test_bad_input_names_what_is_expected(text):
    with pytest.raises(ValueError) as err:
        parse_schedule(text, NOW)
    message = str(err.value)
    assert "\n" not in message
    assert EXPECTED in message or "every 30m" in message


@pytest.mark.parametrize("text", ["every 0m", "0m", "every 0h"])
def test_intervals_shorter_than_a_minute_are_refused(text):
    with pytest.raises(ValueError, match="at most once a minute"):
        parse_schedule(text, NOW)


def test_bad_iso_time_says_which_form_is_expected():
    with pytest.raises(ValueError, match="ISO time like 2026-12-01T09:00"):
        parse_schedule("2026-13-01T09:00", NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 9 * * *", "every day at 09:00"),
        ("30 7 * * 1-5", "weekdays at 07:30"),
        ("0 18 * * 5", "every Friday at 18:00"),
        ("15 * * * *", "every hour at :15"),
        ("*/10 * * * *", "every 10 minutes"),
        ("0 9 1 * *", "cron '0 9 1 * *' (local time)"),
        ("every 2h", "every 2 hours"),
        ("every 1d", "every day"),
        ("every 90m", "every 90 minutes"),
        ("@daily", "daily (cron @daily)"),
    ],
)
def test_describe_is_short_and_human(text, expected):
    assert describe(parse_schedule(text, NOW)) == expected


def test_describe_one_shot_shows_local_time():
    assert describe(parse_schedule("2026-12-01T09:00", NOW)) == "once at 2026-12-01 09:00"
