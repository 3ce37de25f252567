"""Pythons on demand: a session's missing interpreter installed through uv's managed Pythons, and
the hint that names a command which gets one on this machine.

``python_downloads = "auto"`` (the default; ``--download-python``, ``VRUN_PYTHON_DOWNLOADS``) makes
planning a run install an interpreter that discovery (:mod:`vrun.plan.interpreters`) did not find,
with ``uv python install SPEC`` (the uv vrun depends on, :func:`vrun.env.choice.find_uv`), saying so
first; discovery then finds it among uv's managed Pythons and caches it like any other interpreter.
nox's ``--download-python auto`` does the same through uv (``nox/virtualenv.py``,
``uv_install_python``), and so does ``uv run``, whose ``python-downloads`` defaults to
``automatic``. uv's own settings steer the download: ``UV_PYTHON_INSTALL_DIR`` (where; discovery
looks there too), ``UV_PYTHON_INSTALL_MIRROR`` and ``UV_PYTHON_DOWNLOADS_JSON_URL`` (from where),
``UV_OFFLINE``; its ``python-downloads = "never"`` refuses the install, and
``UV_PYTHON_DOWNLOADS=never`` or ``manual`` also turns vrun's default to ``never``.

Only runs download: read-only commands (``vrun list``, ``explain``, ``show``) plan with
``"never"``. A spec that is a path, or no spec (the interpreter running vrun), is never downloaded.
"""

from __future__ import annotations

import os
import shlex
import subprocess

from vrun import output
from vrun.config.keys import DOWNLOAD_CHOICES
from vrun.env.choice import find_uv
from vrun.errors import InterpreterNotFoundError, UsageError
from vrun.plan.interpreters import Interpreter, find_interpreter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: ``python_downloads`` when neither the command line, ``VRUN_PYTHON_DOWNLOADS`` nor the config
#: says: a newcomer on a machine with one Python gets the others a project's matrix names.
DEFAULT_DOWNLOADS = "auto"
#: The variable that sets ``python_downloads`` for every project (``--download-python`` wins).
DOWNLOADS_VARIABLE = "VRUN_PYTHON_DOWNLOADS"


def downloads_policy(configured: str | None, override: str | None, environ: Mapping[str, str]) -> str:
    """``"auto"`` or ``"never"``: ``--download-python`` (``override``), else ``$VRUN_PYTHON_DOWNLOADS``,
    else the config's ``python_downloads`` (``configured``), else ``"never"`` when uv's own
    ``UV_PYTHON_DOWNLOADS`` is ``never`` or ``manual`` (its user asked for no automatic downloads),
    else :data:`DEFAULT_DOWNLOADS`.

    :raises UsageError: ``$VRUN_PYTHON_DOWNLOADS`` is neither ``auto`` nor ``never`` (exit 2).
    """
    variable = environ.get(DOWNLOADS_VARIABLE) or None
    chosen = override or variable or configured
    if chosen is None:
        uv_setting = (environ.get("UV_PYTHON_DOWNLOADS") or "").strip().lower()
        return "never" if uv_setting in ("never", "manual") else DEFAULT_DOWNLOADS
    if chosen not in DOWNLOAD_CHOICES:  # only the variable can be: argparse and the loader check theirs
        raise UsageError(
            f"{DOWNLOADS_VARIABLE}={chosen!r} is not one of {', '.join(DOWNLOAD_CHOICES)}",
            f"unset it, or set it to {' or '.join(DOWNLOAD_CHOICES)}",
        )
    return chosen


def downloadable(spec: str | None) -> bool:
    """Whether uv could be asked for ``spec``: a version, name or specifier; not a path, not ``None``."""
    return spec is not None and bool(spec.strip()) and not os.path.isabs(spec.strip())


def install_argv(spec: str) -> list[str] | None:
    """``[uv, "python", "install", spec]`` with the full path of the uv vrun uses, or ``None`` without uv."""
    uv = find_uv()
    return None if uv is None else [uv, "python", "install", spec.strip()]


def missing_hint(
    spec: str | None, downloads: str | None, failure: str | None, environ: Mapping[str, str]
) -> str:
    """The ``hint:`` for a missing interpreter: a command that installs it here (the uv vrun uses, by
    its full path, which needs nothing else on ``PATH``) when uv has a download of it for this
    platform (:func:`_has_download`), or what else to do.

    :param downloads: the ``python_downloads`` of a run (``"never"``: the hint offers
        ``--download-python auto``), or ``None`` for a command that installs nothing anyway;
        :param failure: why vrun's own install failed, or ``None`` when it was not tried.
    :param environ: the environment uv is asked with (its downloads list and mirror settings).
    """
    if not downloadable(spec):
        return "install it, or change `python`"
    assert spec is not None
    argv = install_argv(spec)
    other_way = f"install Python {spec.strip()} another way (pyenv, your system's packages)"
    other_way += ", or change `python`"
    if failure is not None:
        return other_way + '; python_downloads = "never" stops vrun trying uv'
    if argv is None or not _has_download(argv[0], spec, environ):
        return other_way
    hint = f"`{shlex.join(argv)}` installs it"
    if downloads == "never":
        hint += ", or let vrun do it (--download-python auto)"
    return hint + "; or change `python`"


def find_or_install(
    spec: str | None,
    *,
    session: str,
    environ: Mapping[str, str],
    downloads: str | None = None,
    probe: bool = True,
) -> Interpreter:
    """The interpreter ``spec`` names (:func:`vrun.plan.interpreters.find_interpreter`); when there is
    none and ``downloads`` is ``"auto"``, the one ``uv python install`` puts among uv's managed
    Pythons, after a line saying so. The result is cached as any interpreter discovery finds.

    :param session: the session asking, named in lines and errors.
    :param environ: the planning environment (handed to uv whole: its mirror, install directory and
        offline settings apply).
    :raises InterpreterNotFoundError: nothing matches (and the install failed, or was not tried);
        its hint is :func:`missing_hint`'s.
    :raises UsageError: the spec is not one; :raises NotProbedError: see ``find_interpreter``.
    """
    try:
        return find_interpreter(spec, session=session, environ=environ, probe=probe)
    except InterpreterNotFoundError as exc:
        missing = exc
    failure = None
    if downloads == "auto" and downloadable(spec):
        assert spec is not None
        failure = _install(spec, session, environ)
        if failure is None:
            try:
                found = find_interpreter(spec, session=session, environ=environ, probe=probe)
            except InterpreterNotFoundError as exc:
                missing, failure = exc, "uv installed it outside the folders vrun searches"
            else:
                output.info(f"installed Python {found.description} for {session}")
                return found
    raise InterpreterNotFoundError(
        missing.spec,
        missing.session,
        missing.searched,
        missing.found,
        hint=missing_hint(spec, downloads, failure, environ),
        failure=failure,
    )


def _install(spec: str, session: str, environ: Mapping[str, str]) -> str | None:
    """Run ``uv python install SPEC``; ``None`` when it succeeded, else why not (uv's own words).

    uv writes no ``python3.X`` links into ``~/.local/bin`` unless the user's ``UV_PYTHON_INSTALL_BIN``
    asks for them (nox does the same, wntrblm/nox#1139): vrun needs the interpreter, not a new
    command on the user's ``PATH``.
    """
    argv = install_argv(spec)
    if argv is None:
        return "uv is not installed"
    output.info(
        f'installing Python {spec.strip()} for {session} with uv (python_downloads = "auto"): '
        + shlex.join(argv)
    )
    try:
        proc = subprocess.run(argv, env=_uv_environ(environ), capture_output=True, text=True, check=False)
    except OSError as exc:
        return f"{argv[0]} cannot run: {exc.strerror or exc}"
    if proc.returncode == 0:
        if (proc.stderr + proc.stdout).strip():
            output.debug((proc.stderr + proc.stdout).strip())
        return None
    return _uv_reason(proc.stderr + proc.stdout) or f"uv exited {proc.returncode}"


def _uv_reason(text: str) -> str:
    """uv's error in one line: its ``error:`` line and its last ``cause:``, prefixes dropped."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    causes = [line.removeprefix("cause:").strip() for line in lines if line.startswith("cause:")]
    parts = [*errors[:1], *causes[-1:]] or lines[-1:]
    return ": ".join(parts)


def _uv_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment uv runs in: the caller's, whole (not recorded: what uv reads is uv's), and no
    progress bars in the captured output."""
    plain = getattr(environ, "plain", None)
    env: dict[str, str] = plain() if callable(plain) else dict(environ)
    env.setdefault("UV_PYTHON_INSTALL_BIN", "0")
    env.setdefault("UV_NO_PROGRESS", "1")
    return env


def _has_download(uv: str, spec: str, environ: Mapping[str, str]) -> bool:
    """Whether uv has a download of ``spec`` for this platform (``uv python list --only-downloads``:
    its built-in list, or the one ``UV_PYTHON_DOWNLOADS_JSON_URL`` names, read without the network).
    True when uv cannot tell: only a clear "none" keeps its command out of a hint."""
    import json

    argv = [uv, "python", "list", "--only-downloads", "--output-format", "json", spec.strip()]
    try:
        proc = subprocess.run(argv, env=_uv_environ(environ), capture_output=True, text=True, check=False)
        return proc.returncode != 0 or json.loads(proc.stdout) != []
    except (OSError, ValueError):
        return True
