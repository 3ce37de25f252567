"""Split text such as ``"1h 30m"`` or ``"1.5 GiB"`` into (number, unit) terms.

The grammar, shared by durations and sizes::

    text   := ws sign? term (ws term)* ws
    term   := number ws unit?
    number := digits ("." digits?)? | "." digits      (digits may use "_" between digits)
    unit   := letters, "µ" (U+00B5) and "μ" (U+03BC) count as letters

Numbers are read as :class:`decimal.Decimal` so that ``"0.1"`` means exactly one tenth.
"""

from __future__ import annotations

import re
from decimal import Decimal

import attrs

from durasize.errors import ParseError

_NUMBER = re.compile(r"(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)")
_UNIT = re.compile(r"[A-Za-zµμ]+")
_SPACE = re.compile(r"\s*")


@attrs.frozen
class Term:
    """One number and its unit as written.

    Attributes:
        number: the value, exact, never negative (a sign belongs to the whole text).
        unit: the unit as written (case kept), ``""`` when the number had none.
        position: 0-based index of the number's first character in the parsed text.
    """

    number: Decimal
    unit: str
    position: int


def split_terms(text: str) -> tuple[str, list[Term]]:
    """Split ``text`` into its terms.

    Args:
        text: e.g. ``"-1h 30m"``, ``"1.5GiB"``, ``" 512 "``.

    Returns:
        ``(sign, terms)``: the leading sign (``"-"``, ``"+"`` or ``""`` when there was none)
        and at least one term.

    Raises:
        ParseError: the text is empty, or a character is neither part of a number, a unit nor
            whitespace (the error's position points at it).
    """
    pos = _skip_space(text, 0)
    sign = ""
    if pos < len(text) and text[pos] in "+-":
        sign = text[pos]
        pos = _skip_space(text, pos + 1)
    if pos == len(text):
        raise ParseError(text, pos, "expected a number")
    terms: list[Term] = []
    while pos < len(text):
        number = _NUMBER.match(text, pos)
        if number is None:
            raise ParseError(text, pos, f"expected a number, found {text[pos]!r}")
        unit_start = _skip_space(text, number.end())
        unit = _UNIT.match(text, unit_start)
        unit_text = unit.group() if unit else ""
        end = unit.end() if unit else number.end()
        terms.append(Term(Decimal(number.group().replace("_", "")), unit_text, number.start()))
        pos = _skip_space(text, end)
    return sign, terms


def _skip_space(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    assert match is not None  # \s* always matches
    return match.end()
