"""Byte sizes written the way people write them: ``"512"``, ``"10 MB"``, ``"1.5 GiB"``.

Prefixes follow IEC 80000-13: ``k M G T P E`` are powers of 1000 (SI) and ``Ki Mi Gi Ti Pi Ei``
powers of 1024 (binary). Units are case-insensitive (``"10mb"`` is ten megabytes, never
millibits: sizes here are always bytes), and a bare number is a count of bytes.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from durasize._grammar import split_terms
from durasize.errors import ParseError

_PREFIXES = "kmgtpe"
_SI_SYMBOLS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
_IEC_SYMBOLS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def _unit_table() -> dict[str, int]:
    table = {"": 1, "b": 1, "byte": 1, "bytes": 1}
    for power, prefix in enumerate(_PREFIXES, start=1):
        table[prefix] = table[prefix + "b"] = 1000**power
        table[prefix + "ib"] = 1024**power
    return table


_UNITS = _unit_table()


@attrs.frozen(order=True)
class Size:
    """A non-negative number of bytes.

    Compare and add sizes with the usual operators, subtract a smaller size from a larger
    one, multiply by a non-negative ``int``.

    Attributes:
        bytes: the size in bytes.
    """

    bytes: int = attrs.field(
        validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)],
    )

    @classmethod
    def parse(cls, text: str) -> Size:
        """Read a size such as ``"512"``, ``"64k"``, ``"10 MB"``, ``"1.5GiB"`` or ``"2 bytes"``.

        Args:
            text: one number with an optional unit; ``_`` may group digits (``"1_000_000"``).

        Returns:
            The size.

        Raises:
            ParseError: empty text, a sign, more than one number, an unknown unit, or a value
                that is not a whole number of bytes (``"1.5 B"``, ``"0.0001 kB"``).
        """
        sign, terms = split_terms(text)
        first = terms[0]
        if sign:
            raise ParseError(text, len(text) - len(text.lstrip()), "a size cannot have a sign")
        if len(terms) > 1:
            raise ParseError(text, terms[1].position, "expected one number, found another")
        factor = _UNITS.get(first.unit.lower())
        if factor is None:
            unit_pos = text.index(first.unit, first.position)
            raise ParseError(text, unit_pos, f"unknown unit {first.unit!r}")
        total = Fraction(first.number) * factor
        if total.denominator != 1:
            raise ParseError(text, first.position, "not a whole number of bytes")
        return cls(int(total))

    def format(self, *, binary: bool = True, decimals: int = 1) -> str:
        """Write the size in the largest unit that keeps the number at least 1.

        Args:
            binary: use powers of 1024 (``KiB``, ``MiB``, ...) if true, else powers of 1000
                (``kB``, ``MB``, ...).
            decimals: digits after the point, rounded half up; trailing zeros are dropped, so
                1536 bytes is ``"1.5 KiB"`` and 2048 bytes ``"2 KiB"``. A value that rounds up
                to the next unit moves to it (1048575 bytes is ``"1 MiB"``, not ``"1024 KiB"``).

        Returns:
            E.g. ``"0 B"``, ``"999 B"``, ``"1.5 GiB"``, ``"12.3 MB"``.

        Raises:
            ValueError: ``decimals`` is negative.
        """
        if decimals < 0:
            raise ValueError(f"decimals must not be negative, got {decimals}")
        base = 1024 if binary else 1000
        symbols = _IEC_SYMBOLS if binary else _SI_SYMBOLS
        exponent = 0
        while exponent < len(symbols) - 1 and self.bytes >= base ** (exponent + 1):
            exponent += 1
        scale = 10**decimals
        # value * scale, rounded half up, computed exactly with integers
        scaled = (self.bytes * scale * 2 + base**exponent) // (2 * base**exponent)
        if scaled >= base * scale and exponent < len(symbols) - 1:
            exponent += 1  # e.g. 1023.96 KiB rounds to 1024.0 KiB: say 1 MiB instead
            scaled = scale
        whole, fraction = divmod(scaled, scale)
        text = str(whole)
        if fraction:
            text += "." + str(fraction).rjust(decimals, "0").rstrip("0")
        return f"{text} {symbols[exponent]}"

    def __str__(self) -> str:
        return self.format()

    def __add__(self, other: Size) -> Size:
        if not isinstance(other, Size):
            return NotImplemented
        return Size(self.bytes + other.bytes)

    def __sub__(self, other: Size) -> Size:
        """Subtract; raises :class:`ValueError` if ``other`` is larger (sizes are >= 0)."""
        if not isinstance(other, Size):
            return NotImplemented
        if other.bytes > self.bytes:
            raise ValueError(f"cannot subtract {other} from {self}: size would be negative")
        return Size(self.bytes - other.bytes)

    def __mul__(self, factor: int) -> Size:
        if not isinstance(factor, int) or isinstance(factor, bool):
            return NotImplemented
        return Size(self.bytes * factor)

    __rmul__ = __mul__
