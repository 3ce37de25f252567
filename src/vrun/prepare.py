"""What a session's command runs with: its environment and its final argv. Light on purpose.

The session loop (:mod:`vrun.run`), ``vrun run`` and ``vrun shell`` build every command's
environment here, and every argv is expanded here, so there is one rule for each. Commands run
with the env's ``bin/`` first on ``PATH`` and nothing activated (``design.md``, "Running commands").
Imports nothing heavier than ``os`` at import time; ``re`` and ``shlex`` only when an argument
holds a placeholder.
"""

from __future__ import annotations

import os

#: ``typing`` costs ~10 ms to import; annotations are strings here, so it is needed only by
#: type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable, Mapping, Sequence

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
    "PYTHONNOUSERSITE",
    "VRUN_*",
)
#: Variables that would send an installer's work outside the env: pip's ``--user``/``--target``/
#: ``--prefix``/``--root`` as variables, uv's ``--system``/``--python``/project env, and
#: ``PYTHONHOME``. The one list: removed for session commands (:data:`ALWAYS_REMOVED`) and for
#: vrun's own installers (:func:`vrun.backends.installer_environ`).
REDIRECTING = (
    "PYTHONHOME",
    "PIP_USER",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_ROOT",
    "PIP_BREAK_SYSTEM_PACKAGES",
    "UV_SYSTEM_PYTHON",
    "UV_PYTHON",
    "UV_PROJECT_ENVIRONMENT",
    "UV_BREAK_SYSTEM_PACKAGES",
)
#: Always removed from a command's environment, whatever ``pass_env`` says: the redirecting
#: variables, and a stale activation's leftovers.
ALWAYS_REMOVED = (*REDIRECTING, "VIRTUAL_ENV_PROMPT", "__PYVENV_LAUNCHER__")


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
    ``{env_dir}``, ``{project_root}`` and ``{session}`` substituted. A ``PATH`` in set_env is
    *inserted*: its directories come right after the env's ``bin/`` and before the caller's
    ``PATH`` (relative ones are taken from the project root), so the env always comes first.
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
    for key, raw in set_env:
        value = substitute(raw, env_dir=env_dir, project_root=project_root, session=session)
        if key == "PATH":
            extra = [os.path.join(project_root, d) for d in value.split(os.pathsep) if d]
            env["PATH"] = os.pathsep.join(filter(None, [bin_dir, *extra, rest]))
        else:
            env[key] = value
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
