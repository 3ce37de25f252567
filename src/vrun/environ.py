"""Every environment policy of vrun, in one module: what a session's command sees, what the user's
shell gets in ``vrun shell``, and what a build tool (an installer, ``uv pip compile``, the
project's PEP 517 hooks) runs with. Light on purpose: the warm path builds a command's
environment here; it imports only ``os`` (``fnmatch`` for a rare glob).

The rules, and their sources: a small allow-list plus ``pass_env`` reaches commands (tox's and
nox's defaults, trimmed); ``PYTHONPATH`` only when ``pass_env`` names it; variables that redirect
an install (pip's ``PIP_TARGET``/``PIP_PREFIX``/``PIP_ROOT``/``PIP_USER``, uv's ``UV_SYSTEM_PYTHON``
...) never reach a command nor vrun's installers; a ``VIRTUAL_ENV`` inherited from an activated
shell (a tmux pane) is taken off ``PATH``; the env's ``bin/`` goes first (docs/envs.md, "What a
command sees").
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path


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
#: vrun's own installers (:func:`installer_environ`).
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


def command_environ(
    caller: Mapping[str, str],
    *,
    env_dir: str,
    project_root: str,
    pass_env: Sequence[str],
    set_env: Iterable[tuple[str, str]],
) -> dict[str, str]:
    """The environment a session's commands (and ``vrun run``'s) run in.

    The ``caller``'s variables that match :data:`DEFAULT_PASS_ENV` or ``pass_env`` get through;
    ``PYTHONPATH`` only when ``pass_env`` names it (it would leak other code into the env);
    :data:`ALWAYS_REMOVED` never. A ``VIRTUAL_ENV`` that was active in the caller's shell (an
    inherited shell, a tmux pane) has its ``bin/`` taken off ``PATH``. Then ``VIRTUAL_ENV`` is
    ``env_dir``, the env's ``bin/`` goes first on ``PATH``, and ``set_env`` (values already
    expanded: :func:`vrun.run.compose.compose`) is applied last. A ``PATH`` in set_env is
    *inserted*: its directories come right after the env's ``bin/`` and before the caller's
    ``PATH`` (relative ones are taken from ``project_root``), so the env always comes first.
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
        if key == "PATH":
            extra = [os.path.join(project_root, d) for d in value.split(os.pathsep) if d]
            env["PATH"] = os.pathsep.join(filter(None, [bin_dir, *extra, rest]))
        else:
            env[key] = value
    return env


def shell_environ(
    caller: Mapping[str, str], *, pass_env: Sequence[str], set_env: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """The environment ``vrun shell`` starts the user's shell from: the ``caller``'s, whole, as an
    interactive shell needs it, except ``PYTHONPATH`` (it would leak other code into the env;
    kept only when ``pass_env`` names it), with ``set_env`` (values already expanded) applied.
    Activating the env is then the activate script's work (:func:`clean_environ` first)."""
    env = dict(caller)
    if not passes_pythonpath(pass_env):
        env.pop("PYTHONPATH", None)
    env.update(set_env)
    return env


def _fnmatch_any(name: str, globs: Iterable[str]) -> bool:
    import fnmatch  # only for the rare glob that is not a plain PREFIX*

    return any(fnmatch.fnmatchcase(name, g) for g in globs)


#: Set to the env directory in a shell that ``vrun shell`` started.
SHELL_MARKER = "VRUN_SHELL"


#: Variables an activate script leaves behind (virtualenv's activate, activate.fish and
#: activate.csh); fish exports them, so a stale copy can reach a new shell through the environment.
_ACTIVATION_LEFTOVERS = (
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "_OLD_PKG_CONFIG_PATH",
    "_OLD_FISH_PROMPT_OVERRIDE",
)


def clean_environ(environ: Mapping[str, str], env_dir: Path | None = None) -> dict[str, str]:
    """Return ``environ`` with no virtual environment in it, ready for activating another.

    Removes the ``bin/`` of ``VIRTUAL_ENV`` (active or only inherited) and of ``env_dir`` from
    ``PATH``, and its ``lib/pkgconfig`` from ``PKG_CONFIG_PATH`` (virtualenv's activate adds both);
    drops ``VIRTUAL_ENV``, ``VIRTUAL_ENV_PROMPT``, ``VRUN_SHELL`` and the ``_OLD_VIRTUAL_*`` variables
    activate scripts leave (activate.fish exports them, and a new shell's activate would restore a
    stale ``_OLD_VIRTUAL_PATH``); removes repeated ``PATH`` entries, keeping the first.
    ``PYTHONHOME`` is left alone: activate saves, unsets and on ``deactivate`` restores it.

    :param environ: the caller's environment; not modified.
    :param env_dir: the env about to be activated, if any.
    """
    env = dict(environ)
    envs = [p for p in (env.get("VIRTUAL_ENV"), str(env_dir) if env_dir else None) if p]
    for name in list(env):
        if name in _ACTIVATION_LEFTOVERS or name == SHELL_MARKER or name.startswith("_OLD_VIRTUAL_"):
            del env[name]
    if "PATH" in env:
        env["PATH"] = clean_path(env["PATH"], [os.path.join(p, "bin") for p in envs])
    if "PKG_CONFIG_PATH" in env:
        pkg = clean_path(env["PKG_CONFIG_PATH"], [os.path.join(p, "lib", "pkgconfig") for p in envs])
        if pkg:
            env["PKG_CONFIG_PATH"] = pkg
        else:
            del env["PKG_CONFIG_PATH"]
    return env


#: Removed from an installer's environment: :data:`REDIRECTING`, and what would make
#: the env's python look elsewhere for packages. ``PIP_USER=0`` is then set, which also overrides
#: ``user = true`` in a pip config file.
UNSAFE_INSTALL_VARS = (*REDIRECTING, "PYTHONPATH", "PYTHONUSERBASE")


def tool_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without :data:`UNSAFE_INSTALL_VARS`: what every tool vrun runs for a build sees
    (installers, ``uv pip compile`` for a lock, the project's PEP 517 hooks), so no
    ``PIP_TARGET``, ``PYTHONPATH`` or ``PYTHONHOME`` sends or mixes packages elsewhere."""
    return {k: v for k, v in environ.items() if k not in UNSAFE_INSTALL_VARS}


def installer_environ(env_dir: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment an installer runs in: the caller's, pointed at the env.

    The caller's ``PIP_*``/``UV_*`` index settings pass through (that is how a user points
    vrun at a mirror or a wheelhouse; they are part of the env key); :data:`UNSAFE_INSTALL_VARS`
    are removed (:func:`tool_environ`), ``PIP_USER=0`` is set, ``VIRTUAL_ENV`` is the env and its
    ``bin/`` leads ``PATH``.
    """
    env = tool_environ(environ)
    env["VIRTUAL_ENV"] = env_dir
    env["PATH"] = os.pathsep.join([os.path.join(env_dir, "bin"), env.get("PATH", os.defpath)])
    env["PIP_USER"] = "0"
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env
