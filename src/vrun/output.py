"""vrun's own output: a ``vrun > `` prefixed log on stderr, session headers, the summary.

Colour comes from ``colorlog`` and is imported only when colour is on. ``NO_COLOR``
(https://no-color.org) turns it off, ``FORCE_COLOR`` on; ``--color`` overrides both.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from vrun.execute import summary_rows
from vrun.runner import COMMAND, SESSION, SUCCESS, SessionResult

_HANDLER_NAME = "vrun-stderr"
_FORMAT = "%(message)s"

logging.addLevelName(COMMAND, "COMMAND")
logging.addLevelName(SESSION, "SESSION")
logging.addLevelName(SUCCESS, "SUCCESS")

_COLORS = {
    "DEBUG": "cyan",
    "INFO": "blue",
    "COMMAND": "cyan",
    "SESSION": "bold_cyan",
    "SUCCESS": "bold_green",
    "WARNING": "yellow",
    "ERROR": "bold_red",
    "CRITICAL": "bold_red",
}


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


def setup_logging(verbosity: int, color: bool, stream: TextIO | None = None) -> logging.Logger:
    """Configure the ``vrun`` logger; calling it again replaces, never duplicates, its handler.

    :param verbosity: -1 quiet (warnings and errors only), 0 normal, 1 or more verbose (debug).
    :param color: colour the output (see :func:`color_enabled`).
    """
    logger = logging.getLogger("vrun")
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO)
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if color:
        import colorlog

        handler.setFormatter(
            colorlog.ColoredFormatter(
                "%(log_color)svrun > %(message)s%(reset)s", log_colors=_COLORS, stream=stream
            )
        )
    else:
        handler.setFormatter(logging.Formatter("vrun > " + _FORMAT))
    logger.addHandler(handler)
    for noisy in ("filelock", "virtualenv", "python_discovery", "distlib"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.ERROR)
    return logger


def summary_lines(results: Sequence[SessionResult]) -> list[tuple[int, str]]:
    """The summary table: ``(log level, line)`` per row, a header first.

    Columns: session, status, duration (seconds), and the reason for a failure or a skip
    (the rows themselves come from :func:`vrun.execute.summary_rows`, shared with the fast path).
    """
    levels = {"": logging.INFO, "passed": SUCCESS, "failed": logging.ERROR, "skipped": logging.WARNING}
    rows = summary_rows((r.name, r.status.value, r.duration, r.reason) for r in results)
    return [(levels[status], line) for status, line in rows]


def human_size(size: float) -> str:
    """Bytes as ``"12.3 MiB"`` (binary units, one decimal)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
