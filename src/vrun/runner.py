"""Run sessions: choose them, order them, build their envs, run their commands.

Commands run as argv (never through a shell unless the session sets ``shell = true``), with
the env's ``bin/`` first on ``PATH`` and nothing activated. Their output is never piped: the
child inherits vrun's terminal, so colours and progress bars survive (tox #1773).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import FrameType

from vrun.config import Command, Config, Session
from vrun.errors import CommandNotFoundError, UsageError

_LOG = logging.getLogger("vrun")

#: Variables let through to commands even without ``pass_env``: what a shell, a terminal, a
#: locale, a proxy, TLS and CI need (tox's and nox's defaults, trimmed to the portable ones).
DEFAULT_PASS_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "TERMINFO",
    "COLORTERM",
    "COLUMNS",
    "LINES",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_*",
    "SSH_AUTH_SOCK",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_*",
    "UV_*",
    "VIRTUALENV_*",
    "NO_COLOR",
    "FORCE_COLOR",
    "PY_COLORS",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "CI",
    "GITHUB_*",
    "RUNNER_*",
    "GITLAB_CI",
    "CI_*",
    "BUILDKITE*",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "BUILD_ID",
    "TF_BUILD",
    "APPVEYOR",
    "TEAMCITY_VERSION",
    "PYTEST_ADDOPTS",
    "PYTHONHASHSEED",
    "PYTHONUNBUFFERED",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONFAULTHANDLER",
    "PYTHONWARNINGS",
    "PYTHONBREAKPOINT",
    "VRUN_*",
)
#: Always removed, whatever ``pass_env`` says: they would point pip or the interpreter outside the env.
ALWAYS_REMOVED = (
    "PYTHONHOME",
    "PIP_USER",
    "PIP_TARGET",
    "PIP_PREFIX",
    "VIRTUAL_ENV_PROMPT",
    "__PYVENV_LAUNCHER__",
)


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


class NameFilter:
    """Matches variable names against ``pass_env`` patterns (:func:`fnmatch.fnmatchcase` rules).

    Plain names and ``PREFIX*`` patterns, nearly all of them, are matched with a set and
    ``str.startswith``: compiling ~80 globs to regexes would cost more than the rest of a warm run.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.names: set[str] = set()
        prefixes: list[str] = []
        self.globs: list[str] = []
        for pattern in patterns:
            if not any(c in pattern for c in "*?["):
                self.names.add(pattern)
            elif pattern.endswith("*") and not any(c in pattern[:-1] for c in "*?["):
                prefixes.append(pattern[:-1])
            else:
                self.globs.append(pattern)
        self.prefixes = tuple(prefixes)

    def __call__(self, name: str) -> bool:
        return (
            name in self.names
            or name.startswith(self.prefixes)
            or any(fnmatch.fnmatchcase(name, g) for g in self.globs)
        )


def clean_path(path: str, drop: Iterable[str]) -> str:
    """``path`` without the directories in ``drop`` and without duplicates (first one kept)."""
    dropped = {os.path.normpath(d) for d in drop if d}
    seen: set[str] = set()
    out: list[str] = []
    for entry in path.split(os.pathsep):
        norm = os.path.normpath(entry) if entry else entry
        if not entry or norm in dropped or norm in seen:
            continue
        seen.add(norm)
        out.append(entry)
    return os.pathsep.join(out)


def session_environ(
    session: Session, env_dir: Path, caller: Mapping[str, str], *, project_root: Path
) -> dict[str, str]:
    """The environment a session's commands run in.

    The caller's variables that match :data:`DEFAULT_PASS_ENV` or the session's ``pass_env``
    get through; ``PYTHONPATH`` only when ``pass_env`` names it (it would leak other code
    into the env); :data:`ALWAYS_REMOVED` never. A ``VIRTUAL_ENV`` that was active in the
    caller's shell (an inherited shell, a tmux pane) has its ``bin/`` taken off ``PATH``.
    Then ``VIRTUAL_ENV`` is set, the env's ``bin/`` goes first on ``PATH``, and the session's
    ``env`` (set_env) is applied last, with ``{env_dir}``, ``{project_root}`` and
    ``{session}`` substituted.
    """
    passes = NameFilter((*DEFAULT_PASS_ENV, *session.pass_env))
    env = {k: v for k, v in caller.items() if passes(k) and k not in ALWAYS_REMOVED}
    if "PYTHONPATH" in caller and passes_pythonpath(session):
        env["PYTHONPATH"] = caller["PYTHONPATH"]
    else:
        env.pop("PYTHONPATH", None)
    stale = caller.get("VIRTUAL_ENV")
    drop = [os.path.join(stale, "bin")] if stale else []
    bin_dir = str(env_dir / "bin")
    env["PATH"] = os.pathsep.join(
        filter(None, [bin_dir, clean_path(caller.get("PATH", os.defpath), [*drop, bin_dir])])
    )
    env["VIRTUAL_ENV"] = str(env_dir)
    for key, value in session.env:
        env[key] = substitute(value, env_dir=env_dir, project_root=project_root, session=session.name)
    return env


def passes_pythonpath(session: Session) -> bool:
    """True when the session's ``pass_env`` names ``PYTHONPATH`` (a bare ``*`` does not count:
    inheriting everything should not silently put other code on the env's import path)."""
    return NameFilter(p for p in session.pass_env if p != "*")("PYTHONPATH")


def substitute(value: str, *, env_dir: Path, project_root: Path, session: str) -> str:
    """Replace ``{env_dir}``, ``{project_root}`` and ``{session}`` in a set_env value."""
    values = {"env_dir": str(env_dir), "project_root": str(project_root), "session": session}
    return _SUBST.sub(lambda m: values[m.group(1)], value)


# ---------------------------------------------------------------- commands

_SUBST = re.compile(r"\{(env_dir|project_root|session)\}")
_PLACEHOLDER = re.compile(r"\{(posargs(?::(?P<default>[^}]*))?|env_dir|project_root|session)\}")


def uses_posargs(session: Session) -> bool:
    """True when some command of the session has a ``{posargs}`` placeholder."""
    return any("{posargs" in arg for cmd in session.commands for arg in cmd.argv)


def expand_command(
    command: Command, posargs: Sequence[str] | None, *, env_dir: Path, project_root: Path, session: str
) -> list[str]:
    """Substitute placeholders in one command, giving its final argv.

    ``{posargs}`` standing alone as an argument becomes the posargs (zero or more arguments);
    ``{posargs:DEFAULT}`` becomes DEFAULT split with :func:`shlex.split` when no posargs were
    given (``posargs is None``; ``vrun test --`` with nothing after it gives an empty list).
    Inside a longer argument they are joined with :func:`shlex.join` (tox's rule).
    ``{env_dir}``, ``{project_root}`` and ``{session}`` become those values.
    For a shell command the single command line is substituted the same way, quoted.
    """
    values = {"env_dir": str(env_dir), "project_root": str(project_root), "session": session}

    def posargs_for(default: str | None) -> list[str]:
        if posargs is not None:
            return list(posargs)
        return shlex.split(default) if default else []

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("posargs"):
            return shlex.join(posargs_for(match.group("default")))
        return values[name]

    out: list[str] = []
    for arg in command.argv:
        whole = _PLACEHOLDER.fullmatch(arg)
        if whole and whole.group(1).startswith("posargs") and not command.shell:
            out += posargs_for(whole.group("default"))
        else:
            out.append(_PLACEHOLDER.sub(sub, arg))
    return out


def resolve_program(argv: list[str], environ: Mapping[str, str], *, cwd: Path, env_dir: Path) -> list[str]:
    """Resolve ``argv[0]`` in the env's ``bin/``, then on ``PATH`` (which has ``bin/`` first).

    :raises CommandNotFoundError: naming the command and where vrun looked.
    """
    if not argv:
        raise UsageError("empty command")
    program = argv[0]
    if os.sep in program:
        path = cwd / program
        if os.access(path, os.X_OK) and path.is_file():
            return [str(path), *argv[1:]]
        raise CommandNotFoundError(f"command {program!r} not found: {path} is not an executable file")
    found = shutil.which(program, path=environ.get("PATH", ""))
    if found is None:
        raise CommandNotFoundError(
            f"command {program!r} not found in the env ({env_dir / 'bin'}) nor on PATH",
            hint=f"add the package that provides {program!r} to the session's deps",
        )
    return [found, *argv[1:]]


class _Signals:
    """While a child runs: forward SIGINT/SIGTERM/SIGHUP to it, then escalate on a timer.

    The first forwarded signal arms a :data:`GRACE_SECONDS` timer (``SIGALRM``); if the child
    is still running when it fires it gets SIGTERM, and SIGKILL after one more period. The
    parent meanwhile blocks in ``waitpid`` (retried after each handler, PEP 475), so a normal
    exit is noticed at once, with no polling.
    """

    FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, own_group: bool) -> None:
        self.received: int | None = None
        self.child: subprocess.Popen[bytes] | None = None
        self.own_group = own_group
        self._escalation = 0
        self._old: dict[int, object] = {}

    def _send(self, signum: int) -> None:
        child = self.child
        if child is None or child.returncode is not None:
            return
        try:
            if self.own_group:
                os.killpg(child.pid, signum)
            else:
                child.send_signal(signum)
        except OSError:
            pass

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            signal.setitimer(signal.ITIMER_REAL, GRACE_SECONDS)
        # In a terminal's foreground the child shares our group: Ctrl-C already reached it.
        if self.own_group or signum != signal.SIGINT:
            self._send(signum)

    def _escalate(self, signum: int, frame: FrameType | None) -> None:
        self._escalation += 1
        self._send(signal.SIGTERM if self._escalation == 1 else signal.SIGKILL)
        signal.setitimer(signal.ITIMER_REAL, GRACE_SECONDS)

    def __enter__(self) -> _Signals:
        for sig in self.FORWARDED:
            self._old[sig] = signal.signal(sig, self._handler)
        self._old[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._escalate)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, old in self._old.items():
            signal.signal(sig, old)  # type: ignore[arg-type]


def _in_foreground() -> bool:
    """True when vrun runs in the foreground process group of a terminal (an interactive shell)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


#: Seconds a child gets to exit after a forwarded signal before it is terminated, then killed.
GRACE_SECONDS = 5.0


def run_command(
    argv: Sequence[str], *, environ: Mapping[str, str], cwd: Path, shell: bool = False
) -> tuple[int, int | None]:
    """Run one command with the terminal inherited; return ``(exit status, signal received)``.

    In a terminal's foreground the child shares vrun's process group, so Ctrl-C reaches the
    whole group at once and interactive programs (``pytest --pdb``) can read the terminal.
    Elsewhere (CI, scripts) the child gets a process group of its own, and SIGINT, SIGTERM
    and SIGHUP sent to vrun are forwarded to that whole group. After a signal the child has
    :data:`GRACE_SECONDS` to exit, then is terminated, then killed: no orphans (nox's
    ``popen`` does the same). A child killed by signal N gives 128+N.
    """
    args: list[str] = ["/bin/sh", "-c", argv[0]] if shell else list(argv)
    with _Signals(own_group=not _in_foreground()) as handler:
        proc = subprocess.Popen(args, env=dict(environ), cwd=cwd, start_new_session=handler.own_group)
        handler.child = proc
        code = proc.wait()
    status = 128 - code if code < 0 else code
    return status, handler.received


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
        shown = argv[0] if command.shell else shlex.join(argv)
        if session.cwd != Path.cwd():
            shown += f"  (in {session.cwd})"
        _LOG.log(COMMAND, "%s", shown)
        if not command.shell:
            argv = resolve_program(argv, environ, cwd=session.cwd, env_dir=env_dir)
        status, received = run_command(argv, environ=environ, cwd=session.cwd, shell=command.shell)
        if received is not None:
            return 128 + received, f"interrupted by {signal.Signals(received).name}", received
        if status != 0:
            shown = (
                argv[0]
                if command.shell
                else shlex.join(
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
