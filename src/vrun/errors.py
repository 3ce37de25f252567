"""The exception types a user sees, and the one boundary that reports them.

Every error vrun reports derives from :class:`VrunError`. Only :class:`Boundary` turns them (and
Ctrl-C, SIGTERM, SIGHUP, a stdout whose reader left) into an ``error:`` line (plus an optional
``hint:`` line) and an exit status; no other module prints them. Light on purpose: the warm path
enters the boundary first; it imports :mod:`vrun.output` only when it is entered.
"""

from __future__ import annotations

import errno

TYPE_CHECKING = False  # not typing's (benchmarks/README.md, "Import costs"); type checkers honour the name
if TYPE_CHECKING:  # annotations only: a warm run need not import pathlib or collections.abc for this
    from collections.abc import Sequence
    from pathlib import Path
    from types import TracebackType
    from typing import TextIO

#: Exit status for bad input: configuration, usage, a missing interpreter (as argparse uses).
EXIT_USAGE = 2
#: Exit status for a failed session or a failed build.
EXIT_FAILURE = 1
#: Exit status for a command that was not found (the shell convention).
EXIT_NOT_FOUND = 127
#: Exit status after Ctrl-C: 128 + SIGINT, the shell's convention.
EXIT_INTERRUPTED = 130


class VrunError(Exception):
    """Base of every error vrun reports.

    :param message: one line saying what went wrong, in the user's terms.
    :param hint: an optional line saying what to do about it.
    """

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(VrunError):
    """The command line asks for something that cannot be done (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(VrunError):
    """The configuration is invalid (exit 2).

    :param path: the configuration file.
    :param key: the dotted key at fault, e.g. ``sessions.test.deps[1]``, or ``None`` for the file.
    :param line: 1-based line number, where known (TOML syntax errors).
    :param column: 1-based column, where known.
    """

    exit_code = EXIT_USAGE

    def __init__(
        self,
        path: Path,
        key: str | None,
        problem: str,
        hint: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        where = str(path)
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {problem}", hint)
        self.path = path
        self.key = key
        self.problem = problem
        self.line = line
        self.column = column


class InterpreterNotFoundError(VrunError):
    """No interpreter matches a session's ``python`` spec (exit 2).

    :param spec: the spec as written, e.g. ``"3.12"``.
    :param session: the session that asked for it, or ``None``.
    :param searched: where discovery looked, e.g. ``["PATH", "pyenv", "uv"]``.
    :param found: descriptions of the interpreters that were found, e.g. ``["3.11.7 (/usr/bin/python3)"]``.
    :param hint: how to get one (:func:`vrun.plan.pythons.missing_hint` names the command that
        works on this machine), or ``None`` for a general one.
    :param failure: why installing it (``python_downloads = "auto"``) failed, or ``None`` when
        that was not tried.
    """

    exit_code = EXIT_USAGE

    def __init__(
        self,
        spec: str,
        session: str | None,
        searched: Sequence[str],
        found: Sequence[str],
        hint: str | None = None,
        failure: str | None = None,
    ) -> None:
        who = f" for session {session}" if session else ""
        msg = f"no Python matching {spec!r}{who}; searched {', '.join(searched)}"
        if found:
            msg += f"; found {', '.join(found)}"
        if failure:
            msg += f"; installing it with uv failed: {failure}"
        super().__init__(msg, hint or "install it, or change `python`")
        self.spec = spec
        self.session = session
        self.searched = list(searched)
        self.found = list(found)
        self.failure = failure


class BuildError(VrunError):
    """Creating an env or installing into it failed (exit 1).

    :param output: the installer's captured output, shown to the user.
    """

    def __init__(self, message: str, output: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.output = output


class LockError(VrunError):
    """A session must install from its lock file (``--locked``, ``locked = true``) but the file is
    missing, or no longer matches the session's requirements (exit 1, before anything is built:
    the same status as ``vrun lock --check`` finding it stale)."""


class EnvNotReadyError(VrunError):
    """An env that must already exist (``--no-install``, ``vrun path``) is absent or incomplete."""


class CommandNotFoundError(VrunError):
    """A session command's program is neither in the env nor on ``PATH`` (exit 127)."""

    exit_code = EXIT_NOT_FOUND


class EnvInUseError(VrunError):
    """An env could not be removed because another vrun process is using it (exit 1)."""


class Interrupted(BaseException):
    """vrun received SIGINT, SIGTERM or SIGHUP: stop, clean up what is half done, exit 128+N.

    A :class:`BaseException`, like :class:`KeyboardInterrupt`, so that ``except Exception``
    handlers do not swallow it.

    :param signum: the signal received.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)


class EnvDirError(VrunError):
    """``.venvs/`` or a file in it is not something vrun may use (exit 1)."""


#: ``errno`` values of a write the system could not do (a full disk, a quota, a failing device):
#: the machine's state, not vrun's bug, so one line rather than a traceback.
_CANNOT_WRITE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})


class Boundary:
    """vrun's one error boundary: the ``vrun`` command (:func:`vrun.__main__.run`, warm or cold)
    and :func:`vrun.cli.main` run inside one. It owns the exit status: the work sets
    :attr:`code`, and an error ending the work sets it instead, after at most one ``error:`` line
    (and a ``hint:`` line) on stderr, never a traceback (pypa/build's ``_handle_build_error`` is
    the model; docs/cli.md, "Exit statuses", has the statuses)::

        with Boundary() as boundary:
            boundary.code = work()
        return boundary.code

    - :class:`VrunError`: its message and hint; its :attr:`~VrunError.exit_code`.
    - Ctrl-C (:class:`KeyboardInterrupt`): ``error: interrupted``; 130.
    - SIGTERM, SIGHUP (:class:`Interrupted`): ``error: interrupted``; 128+N.
    - stdout's reader went away (:class:`BrokenPipeError`, ``vrun list | head -0``): stdout is
      pointed at ``/dev/null`` (:func:`vrun.output.stdout_gone`), nothing is said; 0 for a command
      whose work is its output (:attr:`output_only`), else 1. At the end of work that was done,
      stdout is flushed here too: a reader that left then changes nothing, other output that
      could not be written (a full disk) turns success into 1.
    - the system cannot write (a full disk, a quota, an I/O error: ``vrun list >/dev/full``):
      ``error: cannot write ...``; 1.
    - :class:`SystemExit` (argparse's ``--help``, a usage error it printed): its status.

    A stdout or stderr that was closed when vrun started (``vrun t >&-``, ``2>&-``) is made
    usable on entry (:func:`vrun.output.usable_streams`): vrun's lines to it go nowhere. Any
    other exception is a bug, and keeps its traceback.
    """

    __slots__ = ("code", "output_only")

    def __init__(self) -> None:
        #: The exit status: set by the work, or by the error that ended it.
        self.code = 0
        #: The work is its output (``vrun list``, ``path``, ``--help``): its reader leaving ends it well.
        self.output_only = False

    def __enter__(self) -> Boundary:
        from vrun import output

        output.usable_streams()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        import sys

        from vrun import output

        if exc is None or isinstance(exc, SystemExit):
            if isinstance(exc, SystemExit):
                self.code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
                if isinstance(exc.code, str):
                    output.error(exc.code)
            if not _flushed(sys.stdout):
                self.code = self.code or EXIT_FAILURE
            return True
        if isinstance(exc, VrunError):
            output.error(exc.message, exc.hint, getattr(exc, "output", ""))
            self.code = exc.exit_code
        elif isinstance(exc, KeyboardInterrupt):
            output.error("interrupted")
            self.code = EXIT_INTERRUPTED
        elif isinstance(exc, Interrupted):
            output.error("interrupted")
            self.code = 128 + exc.signum
        elif isinstance(exc, BrokenPipeError):
            output.stdout_gone()
            self.code = 0 if self.output_only else EXIT_FAILURE
        elif isinstance(exc, OSError) and exc.errno in _CANNOT_WRITE:
            where = f" {exc.filename}" if exc.filename else ""
            _flushed(sys.stdout)  # stdout, the likeliest, must not fail again at exit
            output.error(f"cannot write{where}: {exc.strerror}")
            self.code = EXIT_FAILURE
        else:
            return False
        return True


def _flushed(stream: TextIO) -> bool:
    """Flush ``stream``; True when that wrote what was pending, or its reader had left (nothing
    more is owed to it). Otherwise it points at ``/dev/null`` (:func:`vrun.output.stream_gone`),
    so that the flush at exit cannot fail again, and False."""
    from vrun import output

    try:
        stream.flush()
    except BrokenPipeError:
        output.stream_gone(stream)
    except (OSError, ValueError):
        output.stream_gone(stream)
        return False
    return True
