"""vrun's own output, the bottom layer: levels, colours, error and hint lines, tables, JSON.

Every line vrun says about itself goes to stderr as ``vrun > MESSAGE`` through :func:`log`, at a
level (nox's ``logger.py`` has the same levels: a SESSION header, a SUCCESS line, COMMAND echoes).
Command output is never touched: commands inherit the terminal (tox #1773).

Colour: ``--color always|never``, else ``NO_COLOR`` (https://no-color.org) set and non-empty turns
it off, ``FORCE_COLOR`` on, else colour when stderr is a terminal. The escape codes are written
here rather than through ``logging`` and ``colorlog``: importing ``logging`` alone costs more than
``uv run``'s whole start-up, and every run, warm or not, prints through this one module.

Imports nothing of vrun's, and nothing heavier than ``os`` and ``sys`` at import time.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, TextIO

DEBUG = 10
INFO = 20
#: An echoed command.
COMMAND = 22
#: A session's header line.
SESSION = 23
#: A passing result.
SUCCESS = 25
WARNING = 30
ERROR = 40

#: ANSI SGR codes per level (colorlog's ``blue``, ``cyan``, ``bold_cyan``, ... as nox uses them).
_COLORS = {
    DEBUG: "\x1b[36m",
    INFO: "\x1b[34m",
    COMMAND: "\x1b[36m",
    SESSION: "\x1b[1;36m",
    SUCCESS: "\x1b[1;32m",
    WARNING: "\x1b[33m",
    ERROR: "\x1b[1;31m",
}
_RESET = "\x1b[0m"


class _State:
    threshold = INFO
    color: bool | None = None  # None: decide on first use
    status_lines = True  # False in a ``-p`` child: its output is captured; the parent draws
    status: StatusLine | None = None  # the status line shown now, cleared before a log line


def color_enabled(choice: str, environ: Mapping[str, str], stream: TextIO) -> bool:
    """Decide whether to colour ``stream``.

    :param choice: ``"auto"``, ``"always"`` or ``"never"`` (the ``--color`` flag).
    :returns: ``always`` -> True; ``never`` -> False; ``auto``: False when ``NO_COLOR`` is set
        and non-empty, True when ``FORCE_COLOR`` is, else whether ``stream`` is a terminal.
    """
    if choice != "auto":
        return choice == "always"
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure(verbosity: int = 0, color: str = "auto", status_lines: bool = True) -> None:
    """Set how much vrun says and whether in colour; calling it again replaces the settings.

    :param verbosity: -1 or less quiet (warnings and errors only), 0 normal, 1 or more debug.
    :param color: ``auto``, ``always`` or ``never`` (see :func:`color_enabled`).
    :param status_lines: False: never draw a :class:`StatusLine` (a ``-p`` child, whose output
        its parent captures).
    """
    _State.threshold = DEBUG if verbosity > 0 else WARNING if verbosity < 0 else INFO
    _State.color = color_enabled(color, os.environ, sys.stderr)
    _State.status_lines = status_lines


def enabled(level: int) -> bool:
    """Whether lines of ``level`` are shown (INFO is not under ``-q``)."""
    return level >= _State.threshold


def verbose() -> bool:
    """Whether debug lines are shown (``-v``): installers then show their own output too."""
    return _State.threshold <= DEBUG


def log(level: int, message: str) -> None:
    """Write ``vrun > message`` to stderr when ``level`` passes the threshold, coloured by level."""
    if level < _State.threshold:
        return
    if _State.color is None:
        _State.color = color_enabled("auto", os.environ, sys.stderr)
    if _State.status is not None:
        _State.status.clear()
    line = f"vrun > {message}"
    if _State.color:
        line = f"{_COLORS.get(level, '')}{line}{_RESET}"
    try:
        sys.stdout.flush()  # keep vrun's lines in order with what it printed to stdout
    except BrokenPipeError:
        stdout_gone()
    except ValueError:
        pass
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # stderr's reader went away: nothing more to say
        pass


class StatusLine:
    """One line of vrun's on a terminal, redrawn in place: carriage return, erase to the end of
    the line, the text (cut to the terminal's width). Any :func:`log` line clears it first; the
    owner draws it again. Drawn only when stderr is a terminal whose ``TERM`` is not ``dumb``, and
    not in a ``-p`` child (:func:`configure`); elsewhere :attr:`tty` is False and nothing is written.
    The ``-p`` scheduler's ``running: ...`` line and an env build's current step use it.
    """

    def __init__(self) -> None:
        self.tty = _State.status_lines and os.environ.get("TERM") != "dumb" and isatty(sys.stderr)
        self.shown = ""

    def draw(self, text: str, tail: str = "") -> None:
        """Show ``text`` and ``tail`` in place of what the line shows now; ``""`` clears it. Too
        long for the terminal, ``text`` is cut (ending in ``...``), never ``tail``."""
        if not self.tty:
            return
        try:
            width = os.get_terminal_size(sys.stderr.fileno()).columns - 1
        except (OSError, ValueError):
            width = 0
        width = width if width > 0 else 79  # a pseudo-terminal whose size was never set says 0
        room = width - len(tail)
        text = (text if len(text) <= room else text[: max(room - 3, 0)] + "...") + tail
        if text != self.shown:  # noted before writing: clear() erases a line half-drawn at Ctrl-C
            self.shown = text
            _State.status = self if text else None
            self._write(text)

    def clear(self) -> None:
        """Erase the line, if shown."""
        self.draw("")

    def _write(self, text: str) -> None:
        try:
            sys.stderr.write("\r\x1b[K" + text)
            sys.stderr.flush()
        except (OSError, ValueError):  # the reader left, the terminal hung up, or cannot encode the text
            self.tty = False


def isatty(stream: object) -> bool:
    """Whether ``stream`` is a terminal; False for a closed stream or an object without ``isatty``."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def stdout_line(text: str) -> None:
    """Write one line of vrun's own to stdout (CI folding, annotations); a reader that went away
    (``vrun NAME | head``) is not an error: the run goes on and keeps its exit status."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_gone()
    except ValueError:
        pass


def stdout_bytes(data: bytes) -> None:
    """Write ``data`` (a session's captured output) to stdout as it is; see :func:`stdout_line`."""
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        stdout_gone()
    except (ValueError, AttributeError):
        pass


def stdout_gone() -> None:
    """stdout's reader went away: point stdout at ``/dev/null``, so that later writes and the
    flush at exit cannot fail (Python would then exit 120, whatever vrun's status)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def child_flags() -> list[str]:
    """The ``-v``/``-q`` and ``--color`` flags that give a child vrun this process's settings."""
    flags = ["-v"] if _State.threshold <= DEBUG else ["-q"] if _State.threshold >= WARNING else []
    if _State.color is None:
        _State.color = color_enabled("auto", os.environ, sys.stderr)
    return [*flags, "--color", "always" if _State.color else "never"]


def info(message: str) -> None:
    """:func:`log` at INFO."""
    log(INFO, message)


def warning(message: str) -> None:
    """:func:`log` at WARNING."""
    log(WARNING, message)


def debug(message: str) -> None:
    """:func:`log` at DEBUG."""
    log(DEBUG, message)


def error(message: str, hint: str | None = None, detail: str = "") -> None:
    """An ``error:`` line and, when given, a ``hint:`` line (pypa/build's CLI boundary does the same).

    :param detail: a tool's own output to show first, as it is (a failed installer's).
    """
    if detail:
        try:
            sys.stderr.write(detail if detail.endswith("\n") else detail + "\n")
        except (BrokenPipeError, ValueError):
            pass
    log(ERROR, f"error: {message}")
    if hint:
        log(ERROR, f"hint: {hint}")


def summary(results: Iterable[Mapping[str, Any]]) -> None:
    """Log the summary table that ends every run: session, status, time and reason, one row each.

    :param results: session results with ``name``, ``status`` (``passed``, ``failed`` or
        ``skipped``), ``duration`` (seconds) and ``reason``.
    """
    rows = list(results)
    width = max([len("session")] + [len(r["name"]) for r in rows])
    log(INFO, f"{'session':<{width}}  {'status':<7}  {'time':>7}")
    levels = {"passed": SUCCESS, "failed": ERROR, "skipped": WARNING}
    for r in rows:
        line = f"{r['name']:<{width}}  {r['status']:<7}  {r['duration']:6.1f}s"
        log(levels[r["status"]], line + (f"  {r['reason']}" if r["reason"] else ""))


def print_json(data: object) -> None:
    """Write ``data`` to stdout as indented JSON."""
    import json

    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def print_table(rows: Iterable[Iterable[str]]) -> None:
    """Print rows of cells to stdout in left-aligned columns, two spaces apart."""
    table = [list(row) for row in rows]
    if not table:
        return
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def human_size(size: float) -> str:
    """Bytes as ``"12.3 MiB"`` (binary units, one decimal)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
