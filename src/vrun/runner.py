"""Run sessions: choose them, order them, and run their commands in their envs.

The mechanics of one command (environment, placeholders, lookup, signals) live in
:mod:`vrun.execute`, shared with the plan-cache fast path; this module works in terms of
configured :class:`~vrun.config.Session` values.
"""

from __future__ import annotations

import logging
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from vrun.config import Command, Config, Session
from vrun.errors import UsageError
from vrun.execute import (
    ALWAYS_REMOVED,
    DEFAULT_PASS_ENV,
    GRACE_SECONDS,
    NameFilter,
    clean_path,
    command_environ,
    expand_argv,
    has_posargs,
    join,
    run_command,
)
from vrun.execute import resolve_program as _resolve_program

__all__ = [
    "ALWAYS_REMOVED",
    "DEFAULT_PASS_ENV",
    "GRACE_SECONDS",
    "NameFilter",
    "SessionResult",
    "Status",
    "clean_path",
    "expand_command",
    "resolve_program",
    "run_command",
    "run_session_commands",
    "select_sessions",
    "session_environ",
]

_LOG = logging.getLogger("vrun")


class Status(Enum):
    """How a session ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SessionResult:
    """The outcome of one session.

    :param name: the session's full name.
    :param status: passed, failed or skipped.
    :param duration: wall-clock seconds, env build included.
    :param reason: why it failed or was skipped ("" when passed).
    :param exit_code: the status vrun exits with for this session: 0, the failing command's
        exit status, 128+N for a command killed by signal N, or vrun's own error status.
    """

    name: str
    status: Status
    duration: float
    reason: str = ""
    exit_code: int = 0


# ---------------------------------------------------------------- selection


def _keyword_match(expr: str, session: Session) -> bool:
    """Evaluate a ``-k`` expression (pytest's syntax: words, ``and``, ``or``, ``not``, parens).

    A word matches when it is a substring of the session's name, one of its tags, or its
    Python spec (case-insensitive).
    """
    haystack = [session.name.lower(), *(t.lower() for t in session.tags), (session.python or "").lower()]
    tokens: list[str] = re.findall(r"\(|\)|[^\s()]+", expr)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise UsageError(f"-k {expr!r}: unexpected end of expression")
        pos += 1
        return tokens[pos - 1]

    def or_expr() -> bool:
        value = and_expr()
        while peek() == "or":
            take()
            value = and_expr() or value
        return value

    def and_expr() -> bool:
        value = not_expr()
        while peek() == "and":
            take()
            value = not_expr() and value
        return value

    def not_expr() -> bool:
        if peek() == "not":
            take()
            return not not_expr()
        token = take()
        if token == "(":
            value = or_expr()
            if take() != ")":
                raise UsageError(f"-k {expr!r}: expected ')'")
            return value
        if token in (")", "and", "or"):
            raise UsageError(f"-k {expr!r}: unexpected {token!r}")
        return any(token.lower() in h for h in haystack)

    result = or_expr()
    if pos != len(tokens):
        raise UsageError(f"-k {expr!r}: unexpected {tokens[pos]!r}")
    return result


def select_sessions(
    config: Config,
    names: Sequence[str],
    *,
    keyword: str | None = None,
    tags: Sequence[str] = (),
    with_requires: bool = True,
) -> list[Session]:
    """The sessions to run, in run order, ``requires`` pulled in before their dependants.

    :param names: base or full session names; empty means ``default`` (or every session).
    :param keyword: a ``-k`` expression filtering the chosen sessions.
    :param tags: ``-t`` tags: keep sessions carrying any of them.
    :param with_requires: add the sessions they require (transitively), before them.
    :raises UsageError: for an unknown name (with a did-you-mean hint) or an empty selection.
    """
    if names:
        wanted = list(names)
    elif keyword or tags:
        wanted = list(config.sessions)
    else:
        wanted = list(config.default) if config.default is not None else list(config.sessions)
    chosen: list[str] = []
    for name in wanted:
        full = config.matrix.get(name) or ((name,) if name in config.sessions else None)
        if full is None:
            import difflib

            close = difflib.get_close_matches(name, [*config.matrix, *config.sessions], n=1)
            hint = f"did you mean {close[0]!r}?" if close else "`vrun list` shows the sessions"
            raise UsageError(f"no session named {name!r} in {config.path}", hint=hint)
        chosen += [f for f in full if f not in chosen]
    sessions = [config.sessions[n] for n in chosen]
    if tags:
        sessions = [s for s in sessions if set(s.tags) & set(tags)]
    if keyword:
        sessions = [s for s in sessions if _keyword_match(keyword, s)]
    if not sessions:
        raise UsageError("no session matches the selection", hint="`vrun list` shows the sessions")
    if not with_requires:
        return sessions
    ordered: list[Session] = []

    def visit(session: Session) -> None:
        if session in ordered:
            return
        for req in session.requires:
            for full in config.matrix.get(req, (req,)):
                visit(config.sessions[full])
        ordered.append(session)

    for session in sessions:
        visit(session)
    return ordered


def required_names(config: Config, session: Session) -> list[str]:
    """The full names of the sessions ``session`` requires."""
    return [full for req in session.requires for full in config.matrix.get(req, (req,))]


# ---------------------------------------------------------------- environment


def session_environ(
    session: Session, env_dir: Path, caller: Mapping[str, str], *, project_root: Path
) -> dict[str, str]:
    """The environment ``session``'s commands run in; see :func:`vrun.execute.command_environ`."""
    return command_environ(
        pass_env=session.pass_env,
        set_env=session.env,
        session=session.name,
        env_dir=str(env_dir),
        project_root=str(project_root),
        caller=caller,
    )


def uses_posargs(session: Session) -> bool:
    """True when some command of the session has a ``{posargs}`` placeholder."""
    return any(has_posargs(cmd.argv) for cmd in session.commands)


def expand_command(
    command: Command, posargs: Sequence[str] | None, *, env_dir: Path, project_root: Path, session: str
) -> list[str]:
    """One command's final argv; see :func:`vrun.execute.expand_argv`."""
    return expand_argv(
        command.argv,
        posargs,
        shell=command.shell,
        env_dir=str(env_dir),
        project_root=str(project_root),
        session=session,
    )


def resolve_program(argv: list[str], environ: Mapping[str, str], *, cwd: Path, env_dir: Path) -> list[str]:
    """:func:`vrun.execute.resolve_program` for paths."""
    return _resolve_program(argv, environ, cwd=str(cwd), env_dir=str(env_dir))


def run_session_commands(
    session: Session,
    env_dir: Path,
    posargs: Sequence[str] | None,
    *,
    caller_environ: Mapping[str, str],
    project_root: Path,
) -> tuple[int, str, int | None]:
    """Run a session's commands in order; stop at the first failure.

    :returns: ``(exit status, reason, signal received)``; status 0 when all passed.
    :raises CommandNotFoundError: when a command's program cannot be found (exit 127).
    """
    environ = session_environ(session, env_dir, caller_environ, project_root=project_root)
    for command in session.commands:
        argv = expand_command(
            command, posargs, env_dir=env_dir, project_root=project_root, session=session.name
        )
        shown = argv[0] if command.shell else join(argv)
        if session.cwd != Path.cwd():
            shown += f"  (in {session.cwd})"
        _LOG.log(COMMAND, "%s", shown)
        if not command.shell:
            argv = resolve_program(argv, environ, cwd=session.cwd, env_dir=env_dir)
        status, received = run_command(argv, environ=environ, cwd=str(session.cwd), shell=command.shell)
        if received is not None:
            return 128 + received, f"interrupted by {signal.Signals(received).name}", received
        if status != 0:
            shown = (
                argv[0]
                if command.shell
                else join(
                    expand_command(
                        command, posargs, env_dir=env_dir, project_root=project_root, session=session.name
                    )
                )
            )
            return status, f"command failed with exit code {status}: {shown}", None
    return 0, "", None


#: Log level of the echoed commands (between INFO and WARNING).
COMMAND = 22
#: Log level of session headers.
SESSION = 23
#: Log level of a passing result.
SUCCESS = 25
