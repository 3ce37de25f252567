from __future__ import annotations

import doctest
from decimal import Decimal

import pytest

import durasize
from durasize._grammar import Term, split_terms
from durasize.errors import ParseError


def test_split_keeps_units_positions_and_exact_numbers() -> None:
    sign, terms = split_terms("1h 30.25m")
    assert sign == ""
    assert terms == [Term(Decimal("1"), "h", 0), Term(Decimal("30.25"), "m", 3)]


def test_split_without_spaces_and_with_leading_sign() -> None:
    sign, terms = split_terms("  -1h30m ")
    assert sign == "-"
    assert [(t.number, t.unit) for t in terms] == [(Decimal(1), "h"), (Decimal(30), "m")]


@pytest.mark.parametrize(
    ("text", "number"),
    [("1_000", Decimal(1000)), (".5", Decimal("0.5")), ("5.", Decimal(5)), ("007", Decimal(7))],
)
def test_number_forms(text: str, number: Decimal) -> None:
    _, terms = split_terms(text)
    assert terms == [Term(number, "", 0)]


@pytest.mark.parametrize(
    ("text", "position"),
    [("", 0), ("   ", 3), ("-", 1), ("1h ?", 3), ("1__0", 1), ("h", 0), ("1h --2m", 3)],
)
def test_bad_text_reports_where(text: str, position: int) -> None:
    with pytest.raises(ParseError) as caught:
        split_terms(text)
    assert caught.value.position == position
    assert caught.value.text == text
    assert f"at position {position} in {text!r}" in str(caught.value)


def test_parse_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected a number"):
        split_terms("x")


def test_package_docstring_examples() -> None:
    failures, tried = doctest.testmod(durasize)
    assert tried > 0
    assert failures == 0
