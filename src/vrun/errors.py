"""The exception types a user sees.

Every error vrun reports derives from :class:`VrunError`, which carries its message, an optional
hint and its exit status. The command line's error boundary turns an escaped error into one
``error:`` line (plus an optional ``hint:`` line) and that status; the session loop reports a
session's own failure the same way and goes on (docs/cli.md, "Exit statuses").
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's (benchmarks/README.md, "Import costs"); type checkers honour the name
if TYPE_CHECKING:  # annotations only: a warm run need not import pathlib or collections.abc for this
    from collections.abc import Sequence
    from pathlib import Path

#: Exit status for bad input: configuration, usage, a missing interpreter (as argparse uses).
EXIT_USAGE = 2
#: Exit status for a failed session or a failed build.
EXIT_FAILURE = 1
#: Exit status for a command that was not found (the shell convention).
EXIT_NOT_FOUND = 127


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
    """

    exit_code = EXIT_USAGE

    def __init__(self, spec: str, session: str | None, searched: Sequence[str], found: Sequence[str]) -> None:
        who = f" for session {session}" if session else ""
        msg = f"no Python matching {spec!r}{who}; searched {', '.join(searched)}"
        if found:
            msg += f"; found {', '.join(found)}"
        super().__init__(msg, "install it (e.g. `pyenv install`, `uv python install`), or change `python`")
        self.spec = spec
        self.session = session
        self.found = list(found)


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
