from __future__ import annotations

import datetime

import pytest

from durasize import Duration, ParseError
from durasize.duration import DAY, HOUR, MICROSECOND, MILLISECOND, MINUTE, SECOND, WEEK


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("1h 30m", HOUR + 30 * MINUTE),
        ("1h30m", HOUR + 30 * MINUTE),
        ("90s", 90 * SECOND),
        ("1.5h", 90 * MINUTE),
        ("1 day 4 hours", DAY + 4 * HOUR),
        ("2W 1D", 2 * WEEK + DAY),
        ("250ms", 250 * MILLISECOND),
        ("3µs 5ns", 3 * MICROSECOND + 5),
        ("0.000000001s", 1),
        ("-1h 30m", -(HOUR + 30 * MINUTE)),
        ("+2m", 2 * MINUTE),
        ("0", 0),
        ("-0", 0),
        ("0s", 0),
    ],
)
def test_parse(text: str, nanoseconds: int) -> None:
    assert Duration.parse(text) == Duration(nanoseconds)


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("90", "missing unit after number", 0),
        ("1h 30", "missing unit after number", 3),
        ("5 parsecs", "unknown unit 'parsecs'", 2),
        ("30m 1h", "unit 'h' out of order (largest first)", 4),
        ("1m 2m", "unit 'm' repeated", 3),
        ("1m 2min", "unit 'min' repeated", 3),
        ("0.5ns", "duration is finer than one nanosecond", 0),
        ("", "expected a number", 0),
    ],
)
def test_parse_errors(text: str, reason: str, position: int) -> None:
    with pytest.raises(ParseError) as caught:
        Duration.parse(text)
    assert (caught.value.reason, caught.value.position) == (reason, position)


def test_fractions_are_exact_not_floating_point() -> None:
    # 0.1 + 0.2 != 0.3 in binary floating point; the parser must not care
    assert Duration.parse("0.3s") == Duration.parse("0.1s") + Duration.parse("0.2s")
    assert Duration.parse("0.1h").nanoseconds == 6 * MINUTE


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (HOUR + 30 * MINUTE + 15 * SECOND, "1h 30m 15s"),
        (DAY + 5 * SECOND, "1d 5s"),
        (10 * DAY, "10d"),
        (-250 * MILLISECOND, "-250ms"),
        (1, "1ns"),
        (SECOND + 2 * MICROSECOND + 3, "1s 2us 3ns"),
    ],
)
def test_format_exact(nanoseconds: int, text: str) -> None:
    assert Duration(nanoseconds).format() == text
    assert str(Duration(nanoseconds)) == text


@pytest.mark.parametrize(
    "nanoseconds",
    [1, 999, SECOND + 1, 3 * DAY + 7 * HOUR + 59 * SECOND + 12_345, -(2 * WEEK + MINUTE)],
)
def test_format_parses_back(nanoseconds: int) -> None:
    duration = Duration(nanoseconds)
    assert Duration.parse(duration.format()) == duration


@pytest.mark.parametrize(
    ("nanoseconds", "parts", "text"),
    [
        (HOUR + 30 * MINUTE + 15 * SECOND, 2, "1h 30m"),
        (HOUR + 29 * MINUTE + 30 * SECOND, 2, "1h 30m"),  # half rounds up
        (HOUR + 29 * MINUTE + 29 * SECOND, 2, "1h 29m"),
        (59 * MINUTE + 59 * SECOND + 900 * MILLISECOND, 2, "1h"),  # carry into a new unit
        (23 * HOUR + 59 * MINUTE + 31 * SECOND, 2, "1d"),
        (DAY + 3 * HOUR + 2 * SECOND, 3, "1d 3h"),  # zero minutes are not shown
        (1500 * MILLISECOND, 1, "2s"),
        (-(90 * SECOND + 600 * MILLISECOND), 1, "-2m"),
        (7, 1, "7ns"),
    ],
)
def test_format_rounds_to_parts(nanoseconds: int, parts: int, text: str) -> None:
    assert Duration(nanoseconds).format(parts=parts) == text


def test_format_rejects_zero_parts() -> None:
    with pytest.raises(ValueError, match="parts must be at least 1"):
        Duration(SECOND).format(parts=0)


def test_timedelta_round_trip_and_rounding() -> None:
    delta = datetime.timedelta(days=2, hours=3, microseconds=7)
    assert Duration.from_timedelta(delta).to_timedelta() == delta
    assert Duration.from_timedelta(-delta) == -Duration.from_timedelta(delta)
    assert Duration(1_499).to_timedelta() == datetime.timedelta(microseconds=1)
    assert Duration(1_500).to_timedelta() == datetime.timedelta(microseconds=2)  # to even
    assert Duration(2_500).to_timedelta() == datetime.timedelta(microseconds=2)  # to even
    assert Duration(-1_501).to_timedelta() == datetime.timedelta(microseconds=-2)


def test_arithmetic_and_ordering() -> None:
    hour, minute = Duration(HOUR), Duration(MINUTE)
    assert hour - minute * 60 == Duration(0)
    assert 3 * minute == minute * 3 == Duration.parse("3m")
    assert abs(minute - hour) == Duration(59 * MINUTE)
    assert sorted([hour, -hour, minute]) == [-hour, minute, hour]
    assert hour.total_seconds() == 3600.0
    with pytest.raises(TypeError):
        hour + 5  # type: ignore[operator]
    with pytest.raises(TypeError):
        hour * 1.5  # type: ignore[operator]


def test_value_is_frozen_and_validated() -> None:
    with pytest.raises(TypeError):
        Duration(1.5)  # type: ignore[arg-type]
    duration = Duration(SECOND)
    with pytest.raises(AttributeError):
        duration.nanoseconds = 2  # type: ignore[misc]
    assert {Duration(SECOND), Duration.parse("1s")} == {duration}
