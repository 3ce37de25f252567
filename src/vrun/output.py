"""vrun's own output, the bottom layer: levels, colours, error and hint lines, tables, JSON.

Every line vrun says about itself goes to stderr as ``vrun > MESSAGE`` through :func:`log`, at a
level (nox's ``logger.py`` has the same levels: a SESSION header, a SUCCESS line, COMMAND echoes).
Command output is never touched: commands inherit the terminal (tox #1773).

Colour: ``--color always|never``, else ``NO_COLOR`` (https://no-color.org) set and non-empty turns
it off, ``FORCE_COLOR`` on, else colour when stderr is a terminal. The escape codes are written
here rather than through ``logging`` and ``colorlog``: importing ``logging`` alone costs more than
all of a warm run's imports (benchmarks/README.md, "Import costs"), and every run, warm or not,
prints through this one module.

Imports nothing of vrun's, and nothing heavier than ``os`` and ``sys`` at import time.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import TextIO

    from vrun._types import SessionResult

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
    verbosity = 0  # -v counted, minus -q
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
    _State.verbosity = verbosity
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
    except (OSError, ValueError):  # stderr's reader went away, or it cannot be written: nothing to say
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
    """stdout's reader went away: point stdout at ``/dev/null`` (:func:`stream_gone`)."""
    stream_gone(sys.stdout)


def stream_gone(stream: object) -> None:
    """The reader of ``stream`` (stdout, stderr) went away, or it cannot be written: point its
    descriptor at ``/dev/null``, so that later writes and the flush at exit cannot fail (Python
    would then exit 120, whatever vrun's status)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def usable_streams() -> None:
    """Give vrun a stdin, stdout and stderr however it was started.

    Python sets ``sys.stdout`` (``sys.stdin``, ``sys.stderr``) to ``None`` when its descriptor was
    closed at start-up (``vrun t >&-``, ``2>&-``), and vrun's own writes would fail. Such a
    descriptor gets ``/dev/null``, close-on-exec, and the stream is opened on it: vrun's lines to
    it go nowhere; no file vrun opens can take its number (where vrun's lines, or a child's, would
    land); and the commands vrun runs still find it closed, as the caller left it. A ``None``
    check per stream when all three are open (the warm path's case).
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        try:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            if null != fd:  # something vrun's interpreter opened since start-up took the number
                os.dup2(null, fd, inheritable=False)
                os.close(null)
            stream = open(  # noqa: SIM115 - the process's own stream, open until it exits
                fd, "r" if fd == 0 else "w", encoding="utf-8", errors="backslashreplace", closefd=False
            )
            setattr(sys, name, stream)
        except OSError:
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


#: The libraries vrun calls in its own process that log through :mod:`logging`.
_LIBRARY_LOGGERS = ("python_discovery", "virtualenv", "filelock", "distlib")


def quiet_library_logs() -> None:
    """Keep what the libraries vrun calls in its own process log (python-discovery, virtualenv,
    filelock, distlib) off the terminal unless ``-v``: with ``-v`` each of their records from INFO
    up is a debug line, ``vrun > python_discovery: MESSAGE``; with ``-vv`` their debug records too
    (filelock's, for one, log every lock taken).

    Without a handler of its own, a library's warning reaches stderr bare, through Python's
    last-resort handler (python-discovery's ``/usr/bin/python2 is Python 2.7.18, older than the
    minimum 3.6 python-discovery can query`` before a run's summary). :mod:`logging` is imported
    here, by the code that is about to call such a library: never on the warm path. Setting up
    twice adds no second handler (nox's ``logger.py`` names its handler for the same reason).
    """
    import logging

    class ToVrun(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a library's bad format string: say it as it is
                message = str(record.msg)
            debug(f"{record.name}: {message}")

    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.propagate = False
        level = logging.DEBUG if _State.verbosity > 1 else logging.INFO if verbose() else logging.CRITICAL + 1
        logger.setLevel(level)
        if not any(handler.get_name() == "vrun" for handler in logger.handlers):
            handler = ToVrun()
            handler.set_name("vrun")
            logger.addHandler(handler)


def error(message: str, hint: str | None = None, detail: str = "") -> None:
    """An ``error:`` line and, when given, a ``hint:`` line (pypa/build's CLI boundary does the same).

    :param detail: a tool's own output to show first, as it is (a failed installer's).
    """
    if detail:
        try:
            sys.stderr.write(detail if detail.endswith("\n") else detail + "\n")
        except (OSError, ValueError):
            pass
    log(ERROR, f"error: {message}")
    if hint:
        log(ERROR, f"hint: {hint}")


def summary(results: Iterable[SessionResult]) -> None:
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


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun`` as one says them: ``"1 pin"``, ``"0 pins"``, ``"2 envs"``.

    :param nouns: the plural when it is not ``noun + "s"``.
    """
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def human_size(size: float) -> str:
    """Bytes as ``"12.3 MiB"`` (binary units, one decimal)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- CI detection

#: ``(variable, value or None, name)``, checked in order; None: present (any value) means CI.
#: The list is tox's (``tox.util.ci``, itself from Adam Johnson's "How to detect if your
#: tests are running on CI"), with the vendors nox and the brief add; values compared
#: case-insensitively (Azure Pipelines sets ``TF_BUILD=True``). Hudson's generic ``BUILD_ID``
#: is left out: Jenkins sets ``JENKINS_URL`` too, and ``BUILD_ID`` alone is set by unrelated tools.
_CI_VARIABLES: tuple[tuple[str, str | None, str], ...] = (
    ("GITHUB_ACTIONS", "true", "github-actions"),
    ("GITLAB_CI", None, "gitlab-ci"),
    ("TF_BUILD", "true", "azure-pipelines"),
    ("BUILDKITE", "true", "buildkite"),
    ("CIRCLECI", "true", "circleci"),
    ("CIRRUS_CI", "true", "cirrus-ci"),
    ("TRAVIS", "true", "travis-ci"),
    ("JENKINS_URL", None, "jenkins"),
    ("APPVEYOR", "true", "appveyor"),
    ("TEAMCITY_VERSION", None, "teamcity"),
    ("BITBUCKET_BUILD_NUMBER", None, "bitbucket-pipelines"),
    ("CODEBUILD_BUILD_ID", None, "aws-codebuild"),
    ("DRONE", "true", "drone"),
    ("HEROKU_TEST_RUN_ID", None, "heroku-ci"),
    ("bamboo.buildKey", None, "bamboo"),
)


#: Values of ``CI`` that say "not CI" (tox's rule: the generic flag is the one users toggle).
_CI_OPT_OUT = frozenset({"", "0", "false", "no", "off"})


def ci_name(environ: Mapping[str, str]) -> str | None:
    """The CI system vrun runs under, judged from ``environ``, or None when not under CI.

    A vendor's own variable wins (``"github-actions"``, ``"gitlab-ci"``, ``"jenkins"``, ...;
    see ``_CI_VARIABLES``): each is present, or has the documented value (``"true"``,
    case-insensitive). ``TEAMCITY_VERSION=LOCAL`` is a local TeamCity build, not CI.
    Otherwise the generic ``CI`` variable, which nearly every CI system sets: any value but
    ``""``, ``0``, ``false``, ``no``, ``off`` (case-insensitive) gives ``"ci"``. So ``CI=false``
    is an opt-out of the generic flag only; it does not hide a vendor's variable (as tox
    does: those keep their meaning).
    """
    for variable, expected, name in _CI_VARIABLES:
        value = environ.get(variable)
        if value is None:
            continue
        if expected is not None and value.strip().lower() != expected:
            continue
        if variable == "TEAMCITY_VERSION" and value == "LOCAL":
            continue
        return name
    generic = environ.get("CI")
    if generic is not None and generic.strip().lower() not in _CI_OPT_OUT:
        return "ci"
    return None


# ---------------------------------------------------------------- build progress

#: The redraw functions of the build steps shown (:class:`step`), innermost last.
_SHOWN: list[Callable[[str], None]] = []


class step:
    """Show ``what`` (``installing 12 requirements with uv``) of ``session`` while the block runs.

    A context manager. On a terminal: ``vrun > SESSION: WHAT (S.Ss)`` on one status line, redrawn
    by :func:`ticker`'s function and erased when the block ends, however it ends (an error, Ctrl-C).
    Elsewhere (stderr not a terminal, ``TERM=dumb``, CI, ``-v``, ``-q``, a ``-p`` child): ``vrun >
    WHAT`` once, at INFO, unless ``log`` is False (a step another line announced already).

    A build's steps run child processes whose output vrun captures, so for seconds nothing would
    move; the elapsed time is redrawn from :func:`vrun.process.run_command`'s waiting loop (its
    ``tick``), not by a thread: vrun forks its children, and forking while a thread writes to stderr
    is what Python 3.12 warns about. A class, not ``contextlib.contextmanager``: this module is on
    the warm path, which does not import ``contextlib``.
    """

    def __init__(self, session: str, what: str, *, log: bool = True) -> None:
        self.session, self.what, self.log = session, what, log
        self.line: StatusLine | None = None
        self.start = 0.0

    def __enter__(self) -> None:
        import os
        import time

        line = StatusLine()
        if not (line.tty and enabled(INFO) and not verbose() and ci_name(os.environ) is None):
            if self.log:
                info(self.what)
            return
        self.line, self.start = line, time.monotonic()
        _SHOWN.append(self.redraw)
        self.redraw()  # a Ctrl-C may come while the line is drawn: __exit__ erases it all the same

    def redraw(self, detail: str = "") -> None:
        """Draw the step with its elapsed time, and ``detail`` after it (``23 packages resolved``)."""
        import time

        if self.line is not None:
            tail = f"{time.monotonic() - self.start:.1f}s" + (f", {detail}" if detail else "")
            self.line.draw(f"vrun > {self.session}: {self.what}", f" ({tail})")

    def __exit__(self, *exc: object) -> None:
        if self.line is not None:
            _SHOWN.remove(self.redraw)
            self.line.clear()
            self.line = None


def ticker(detail: Callable[[], str] | None = None) -> Callable[[], None] | None:
    """The function that redraws the step shown now, for :func:`vrun.process.run_command`'s
    ``tick``; ``None`` when no step is shown (no terminal, or not building).

    :param detail: called at each redraw; what it returns is shown after the elapsed time (how far
        an installer is: :class:`vrun.env.backends.InstallProgress`).
    """
    if not _SHOWN:
        return None
    redraw = _SHOWN[-1]
    if detail is None:
        return lambda: redraw("")
    return lambda: redraw(detail())


# ---------------------------------------------------------------- showing commands

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def quote(arg: str) -> str:
    """:func:`shlex.quote`, without importing :mod:`re`: the same safe characters, the same quoting."""
    if not arg:
        return "''"
    if all(c in _SAFE for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def join(argv: Iterable[str]) -> str:
    """:func:`shlex.join` (see :func:`quote`): how vrun shows a command."""
    return " ".join(quote(arg) for arg in argv)
