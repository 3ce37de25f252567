"""Running one command in an env: its environment, its argv, its signals. Light on purpose.

This module imports only what a warm run needs (no dataclasses, logging, pathlib or
argparse): both the full pipeline (:mod:`vrun.runner`) and the plan-cache fast path
(:mod:`vrun.fastpath`) run commands through it, so the two cannot drift apart.
Commands run as argv (never through a shell unless the session sets ``shell = true``), with
the env's ``bin/`` first on ``PATH`` and nothing activated. Their output is never piped: the
child inherits vrun's terminal, so colours and progress bars survive (tox #1773).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence

from vrun.errors import CommandNotFoundError, UsageError

#: ``typing`` costs ~10 ms to import; annotations are strings here, so it is needed only by
#: type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from types import FrameType

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
            or (bool(self.globs) and _fnmatch_any(name, self.globs))
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


def passes_pythonpath(pass_env: Iterable[str]) -> bool:
    """True when ``pass_env`` names ``PYTHONPATH`` (a bare ``*`` does not count: inheriting
    everything should not silently put other code on the env's import path)."""
    return NameFilter(p for p in pass_env if p != "*")("PYTHONPATH")


def _fnmatch_any(name: str, globs: Iterable[str]) -> bool:
    import fnmatch  # only for the rare glob that is not a plain PREFIX*

    return any(fnmatch.fnmatchcase(name, g) for g in globs)


# ``re`` and ``shlex`` (which imports ``re``) cost ~7 ms together; most arguments hold no
# placeholder and need neither, so both are imported the first time one does.
_SUBST_PATTERN = r"\{(env_dir|project_root|session)\}"
_PLACEHOLDER_PATTERN = r"\{(posargs(?::(?P<default>[^}]*))?|env_dir|project_root|session)\}"
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


def substitute(value: str, *, env_dir: str, project_root: str, session: str) -> str:
    """Replace ``{env_dir}``, ``{project_root}`` and ``{session}`` in a set_env value."""
    if "{" not in value:
        return value
    import re

    values = {"env_dir": env_dir, "project_root": project_root, "session": session}
    return re.sub(_SUBST_PATTERN, lambda m: values[m.group(1)], value)


def command_environ(
    *,
    pass_env: Sequence[str],
    set_env: Iterable[tuple[str, str]],
    session: str,
    env_dir: str,
    project_root: str,
    caller: Mapping[str, str],
) -> dict[str, str]:
    """The environment a session's commands run in.

    The caller's variables that match :data:`DEFAULT_PASS_ENV` or ``pass_env`` get through;
    ``PYTHONPATH`` only when ``pass_env`` names it (it would leak other code into the env);
    :data:`ALWAYS_REMOVED` never. A ``VIRTUAL_ENV`` that was active in the caller's shell (an
    inherited shell, a tmux pane) has its ``bin/`` taken off ``PATH``. Then ``VIRTUAL_ENV`` is
    set, the env's ``bin/`` goes first on ``PATH``, and set_env is applied last, with
    ``{env_dir}``, ``{project_root}`` and ``{session}`` substituted.
    """
    passes = NameFilter((*DEFAULT_PASS_ENV, *pass_env))
    env = {k: v for k, v in caller.items() if passes(k) and k not in ALWAYS_REMOVED}
    if "PYTHONPATH" in caller and passes_pythonpath(pass_env):
        env["PYTHONPATH"] = caller["PYTHONPATH"]
    else:
        env.pop("PYTHONPATH", None)
    stale = caller.get("VIRTUAL_ENV")
    drop = [os.path.join(stale, "bin")] if stale else []
    bin_dir = os.path.join(env_dir, "bin")
    rest = clean_path(caller.get("PATH", os.defpath), [*drop, bin_dir])
    env["PATH"] = os.pathsep.join(filter(None, [bin_dir, rest]))
    env["VIRTUAL_ENV"] = env_dir
    for key, value in set_env:
        env[key] = substitute(value, env_dir=env_dir, project_root=project_root, session=session)
    return env


def has_posargs(argv: Iterable[str]) -> bool:
    """True when some argument holds a ``{posargs}`` placeholder."""
    return any("{posargs" in arg for arg in argv)


def expand_argv(
    argv: Sequence[str],
    posargs: Sequence[str] | None,
    *,
    shell: bool,
    env_dir: str,
    project_root: str,
    session: str,
) -> list[str]:
    """Substitute placeholders in one command, giving its final argv.

    ``{posargs}`` standing alone as an argument becomes the posargs (zero or more arguments);
    ``{posargs:DEFAULT}`` becomes DEFAULT split with :func:`shlex.split` when no posargs were
    given (``posargs is None``; ``vrun test --`` with nothing after it gives an empty list).
    Inside a longer argument they are joined with :func:`shlex.join` (tox's rule).
    ``{env_dir}``, ``{project_root}`` and ``{session}`` become those values.
    For a shell command the single command line is substituted the same way, quoted.
    """
    if not any("{" in arg for arg in argv):
        return list(argv)
    import re
    import shlex

    values = {"env_dir": env_dir, "project_root": project_root, "session": session}
    placeholder = re.compile(_PLACEHOLDER_PATTERN)

    def posargs_for(default: str | None) -> list[str]:
        if posargs is not None:
            return list(posargs)
        return shlex.split(default) if default else []

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("posargs"):
            return join(posargs_for(match.group("default")))
        return values[name]

    out: list[str] = []
    for arg in argv:
        whole = placeholder.fullmatch(arg)
        if whole and whole.group(1).startswith("posargs") and not shell:
            out += posargs_for(whole.group("default"))
        else:
            out.append(placeholder.sub(sub, arg))
    return out


def which(program: str, path: str) -> str | None:
    """The first executable file named ``program`` in the ``path`` directories (like ``command -v``)."""
    for directory in path.split(os.pathsep):
        if not directory:
            continue
        candidate = os.path.join(directory, program)
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return candidate
    return None


def resolve_program(argv: list[str], environ: Mapping[str, str], *, cwd: str, env_dir: str) -> list[str]:
    """Resolve ``argv[0]`` in the env's ``bin/``, then on ``PATH`` (which has ``bin/`` first).

    :raises CommandNotFoundError: naming the command and where vrun looked (exit 127).
    """
    if not argv:
        raise UsageError("empty command")
    program = argv[0]
    if os.sep in program:
        path = os.path.join(cwd, program)
        if os.access(path, os.X_OK) and os.path.isfile(path):
            return [path, *argv[1:]]
        raise CommandNotFoundError(f"command {program!r} not found: {path} is not an executable file")
    found = which(program, environ.get("PATH", ""))
    if found is None:
        raise CommandNotFoundError(
            f"command {program!r} not found in the env ({os.path.join(env_dir, 'bin')}) nor on PATH",
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
        self.child: int | None = None  # the running child's pid; None before it starts and once reaped
        self.own_group = own_group
        self._escalation = 0
        self._old: dict[int, object] = {}

    def _send(self, signum: int) -> None:
        child = self.child
        if child is None:
            return
        try:
            if self.own_group:
                os.killpg(child, signum)
            else:
                os.kill(child, signum)
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
    argv: Sequence[str], *, environ: Mapping[str, str], cwd: str, shell: bool = False
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
        pid = _spawn(args, environ, cwd, new_session=handler.own_group)
        handler.child = pid
        _, wait_status = os.waitpid(pid, 0)  # retried after each signal handler (PEP 475)
        handler.child = None
    code = os.waitstatus_to_exitcode(wait_status)
    status = 128 - code if code < 0 else code
    return status, handler.received


#: Signals Python ignores at start-up, given back their default for the child as
#: :mod:`subprocess` does (``restore_signals``): a pipeline must end on SIGPIPE.
_RESTORED = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name))


def _spawn(args: Sequence[str], environ: Mapping[str, str], cwd: str, *, new_session: bool) -> int:
    """Fork and exec ``args`` (``args[0]`` is a path) in ``cwd``; return the child's pid.

    What :class:`subprocess.Popen` does for this case, without importing it (~8 ms of a
    ~40 ms warm run): the child changes directory, optionally starts a new session
    (``start_new_session``), restores :data:`_RESTORED`, and replaces itself; if it cannot,
    it says why on stderr and exits 127, as a shell would. Descriptors vrun opened are
    close-on-exec (PEP 446), so the child inherits only stdin, stdout and stderr.
    """
    env = dict(environ)
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: nothing here may return into vrun's code
        os.chdir(cwd)
        if new_session:
            os.setsid()
        for sig in _RESTORED:
            signal.signal(sig, signal.SIG_DFL)
        os.execve(args[0], list(args), env)
    except BaseException as exc:
        try:
            os.write(2, f"vrun > error: cannot run {args[0]}: {exc}\n".encode(errors="replace"))
        finally:
            os._exit(127)
    os._exit(127)  # unreachable: execve does not return


def summary_rows(results: Iterable[tuple[str, str, float, str]]) -> list[tuple[str, str]]:
    """The summary table, a header first: ``(status or "", line)`` per row.

    :param results: ``(session, status, seconds, reason)``, status ``passed``/``failed``/``skipped``.
    """
    rows = list(results)
    width = max([len("session")] + [len(r[0]) for r in rows])
    out = [("", f"{'session':<{width}}  {'status':<7}  {'time':>7}")]
    for name, status, seconds, reason in rows:
        line = f"{name:<{width}}  {status:<7}  {seconds:6.1f}s"
        out.append((status, line + (f"  {reason}" if reason else "")))
    return out
