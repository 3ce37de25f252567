"""The one exception type durasize raises for text it cannot read."""

from __future__ import annotations


class ParseError(ValueError):
    """Text that is not a valid duration or size.

    A subclass of :class:`ValueError`, so ``except ValueError`` catches it too.

    Attributes:
        text: the whole string that was being parsed.
        position: 0-based index into ``text`` where the problem starts.
        reason: what is wrong, without the location (e.g. ``"unknown unit 'x'"``).
    """

    def __init__(self, text: str, position: int, reason: str) -> None:
        self.text = text
        self.position = position
        self.reason = reason
        super().__init__(f"{reason} at position {position} in {text!r}")
