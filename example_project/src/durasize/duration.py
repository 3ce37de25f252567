"""Durations written the way people write them: ``"1h 30m"``, ``"90s"``, ``"1.5d"``.

A :class:`Duration` is a whole number of nanoseconds. Parsing follows Go's
``time.ParseDuration`` (every number needs a unit, except a lone ``0``; fractions allowed; one
optional leading sign) with two extra rules that catch typos: each unit may appear only once,
and units must go from largest to smallest (``"30m 1h"`` is an error).
"""

from __future__ import annotations

import datetime
from fractions import Fraction

import attrs

from durasize._grammar import split_terms
from durasize.errors import ParseError

NANOSECOND = 1
MICROSECOND = 1_000 * NANOSECOND
MILLISECOND = 1_000 * MICROSECOND
SECOND = 1_000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

# Accepted spellings, compared case-insensitively, and their length in nanoseconds.
_SPELLINGS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("w", "wk", "week", "weeks"), WEEK),
    (("d", "day", "days"), DAY),
    (("h", "hr", "hrs", "hour", "hours"), HOUR),
    (("m", "min", "mins", "minute", "minutes"), MINUTE),
    (("s", "sec", "secs", "second", "seconds"), SECOND),
    (("ms", "msec", "millisecond", "milliseconds"), MILLISECOND),
    (("us", "µs", "μs", "usec", "microsecond", "microseconds"), MICROSECOND),
    (("ns", "nsec", "nanosecond", "nanoseconds"), NANOSECOND),
)
_UNITS: dict[str, int] = {name: length for names, length in _SPELLINGS for name in names}

# Units used when formatting, largest first. Weeks are parsed but not produced: "10d" reads
# more easily than "1w 3d".
_FORMAT_UNITS: tuple[tuple[str, int], ...] = (
    ("d", DAY),
    ("h", HOUR),
    ("m", MINUTE),
    ("s", SECOND),
    ("ms", MILLISECOND),
    ("us", MICROSECOND),
    ("ns", NANOSECOND),
)


@attrs.frozen(order=True)
class Duration:
    """A span of time, exact to the nanosecond; may be negative.

    Compare, add and subtract durations with the usual operators; multiply by an ``int``.

    Attributes:
        nanoseconds: the length in nanoseconds.
    """

    nanoseconds: int = attrs.field(validator=attrs.validators.instance_of(int))

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Read a duration such as ``"1h 30m"``, ``"-2.5s"``, ``"1 day 4 hours"`` or ``"0"``.

        Args:
            text: the duration; whitespace between terms is optional; units are
                case-insensitive (``w d h m s ms us ns`` and spelled-out forms).

        Returns:
            The duration.

        Raises:
            ParseError: empty text, a number without a unit (other than a lone ``0``), an
                unknown unit, a unit repeated or out of largest-to-smallest order, or a total
                that is not a whole number of nanoseconds (``"0.5ns"``).
        """
        sign, terms = split_terms(text)
        if len(terms) == 1 and terms[0].unit == "" and terms[0].number == 0:
            return cls(0)
        total = Fraction(0)
        previous: int | None = None
        for term in terms:
            if term.unit == "":
                raise ParseError(text, term.position, "missing unit after number")
            length = _UNITS.get(term.unit.lower())
            if length is None:
                unit_pos = text.index(term.unit, term.position)
                raise ParseError(text, unit_pos, f"unknown unit {term.unit!r}")
            if previous is not None and length >= previous:
                problem = "repeated" if length == previous else "out of order (largest first)"
                raise ParseError(text, term.position, f"unit {term.unit!r} {problem}")
            previous = length
            total += Fraction(term.number) * length
        if total.denominator != 1:
            raise ParseError(text, 0, "duration is finer than one nanosecond")
        return cls(-int(total) if sign == "-" else int(total))

    @classmethod
    def from_timedelta(cls, delta: datetime.timedelta) -> Duration:
        """Convert a :class:`datetime.timedelta` exactly (it has microsecond resolution)."""
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return cls(micros * MICROSECOND)

    def to_timedelta(self) -> datetime.timedelta:
        """Convert to a :class:`datetime.timedelta`, rounding to the nearest microsecond.

        Ties round to the even microsecond, as Python's ``round()`` does.

        Raises:
            OverflowError: the duration is beyond ``timedelta``'s ±999999999 days.
        """
        micros, rest = divmod(self.nanoseconds, MICROSECOND)
        if rest * 2 > MICROSECOND or (rest * 2 == MICROSECOND and micros % 2):
            micros += 1
        return datetime.timedelta(microseconds=micros)

    def total_seconds(self) -> float:
        """The length in seconds as a float (like :meth:`datetime.timedelta.total_seconds`)."""
        return self.nanoseconds / SECOND

    def format(self, parts: int | None = None) -> str:
        """Write the duration with units, largest first: ``"1h 30m 15s"``.

        Args:
            parts: how many units to show at most; the value is rounded (half up) to the
                smallest unit shown, so ``5415s`` with ``parts=2`` is ``"1h 30m"`` and
                ``3599.9s`` with ``parts=2`` is ``"1h"``. ``None`` shows every non-zero unit,
                so the text parses back to the same duration.

        Returns:
            E.g. ``"1d 2h"``, ``"-250ms"``, ``"0s"`` for zero. Zero-valued units are left out.

        Raises:
            ValueError: ``parts`` is less than 1.
        """
        if parts is not None and parts < 1:
            raise ValueError(f"parts must be at least 1, got {parts}")
        magnitude = abs(self.nanoseconds)
        if magnitude == 0:
            return "0s"
        if parts is not None:
            first = next(i for i, (_, length) in enumerate(_FORMAT_UNITS) if magnitude >= length)
            last = min(first + parts - 1, len(_FORMAT_UNITS) - 1)
            step = _FORMAT_UNITS[last][1]
            magnitude = (magnitude + step // 2) // step * step
        pieces = []
        for name, length in _FORMAT_UNITS:
            count, magnitude = divmod(magnitude, length)
            if count:
                pieces.append(f"{count}{name}")
        sign = "-" if self.nanoseconds < 0 else ""
        return sign + " ".join(pieces)

    def __str__(self) -> str:
        return self.format()

    def __add__(self, other: Duration) -> Duration:
        if not isinstance(other, Duration):
            return NotImplemented
        return Duration(self.nanoseconds + other.nanoseconds)

    def __sub__(self, other: Duration) -> Duration:
        if not isinstance(other, Duration):
            return NotImplemented
        return Duration(self.nanoseconds - other.nanoseconds)

    def __mul__(self, factor: int) -> Duration:
        if not isinstance(factor, int) or isinstance(factor, bool):
            return NotImplemented
        return Duration(self.nanoseconds * factor)

    __rmul__ = __mul__

    def __neg__(self) -> Duration:
        return Duration(-self.nanoseconds)

    def __abs__(self) -> Duration:
        return Duration(abs(self.nanoseconds))
