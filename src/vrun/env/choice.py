"""Which backend builds an env: ``auto`` (uv where it can, else virtualenv + pip), ``uv`` or
``virtualenv``, and where uv is. Planning asks this module; it builds nothing (the backends that
do are :mod:`vrun.env.backends`).
"""

from __future__ import annotations

import shutil

from vrun.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from vrun._types import InterpreterFacts


def find_uv() -> str | None:
    """The ``uv`` executable: the one of the ``uv`` Python package, else ``uv`` on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


#: The backends by name.
BACKENDS = ("virtualenv", "uv")


#: The oldest session interpreter vrun builds envs for: uv supports 3.8 and newer, and virtualenv
#: below 21.5 seeds pip for 3.8 (21.5 dropped it; pyproject.toml pins virtualenv below it).
OLDEST_PYTHON = (3, 8)


#: Implementations ``uv venv`` builds envs for; others (GraalPy, ...) go to virtualenv under ``auto``.
UV_IMPLEMENTATIONS = ("CPython", "PyPy")


_UV_STATUS: dict[str, str | None] = {}


#: What to do when uv is missing: it is a dependency of vrun's distribution, vrun-cli.
UV_HINT = "reinstall vrun-cli (it depends on uv), install uv beside vrun, or put uv on PATH"


def uv_problem(uv: str | None) -> str | None:
    """Why the ``uv`` at ``uv`` cannot run (``None``: it can): missing, or ``uv --version`` fails.

    Checked once per process, by running it (a few milliseconds, planning only).
    """
    if uv is None:
        return "uv is not installed"
    if uv not in _UV_STATUS:
        from vrun import inputs

        inputs.stat_file(uv)  # a replaced uv changes the plan
        try:
            import subprocess

            proc = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=30, check=False)
            _UV_STATUS[uv] = None if proc.returncode == 0 else f"{uv} --version exited {proc.returncode}"
        except (OSError, subprocess.SubprocessError) as exc:
            _UV_STATUS[uv] = f"{uv} cannot run: {exc}"
    return _UV_STATUS[uv]


def select_backend(
    wanted: str, interpreter: InterpreterFacts, environ: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """The backend that builds an env for ``interpreter``, and a note when ``auto`` fell back.

    ``auto`` (the default) is uv where it supports the interpreter (CPython and PyPy) and can run,
    and where the user's pip settings (read from ``environ``) can all be carried into uv's
    (:func:`vrun.env.pipsettings.uncarried`), else virtualenv + pip, with one note saying why;
    ``uv`` and ``virtualenv`` are taken as asked.

    :raises UsageError: ``uv`` asked for but not runnable; an unknown name; an interpreter older
        than :data:`OLDEST_PYTHON`.
    """
    if tuple(interpreter["version_info"][:2]) < OLDEST_PYTHON:
        oldest = ".".join(map(str, OLDEST_PYTHON))
        raise UsageError(
            f"Python {interpreter['version']} ({interpreter['executable']}) is older than vrun supports for "
            f"sessions: {oldest} and newer",
            hint="use a newer python for this session",
        )
    if wanted == "virtualenv":
        return wanted, None
    problem = uv_problem(find_uv())
    if wanted == "uv":
        if problem:
            raise UsageError(f"the uv backend needs uv: {problem}", hint=UV_HINT)
        return wanted, None
    if wanted != "auto":
        raise UsageError(f"unknown backend {wanted!r}; choose one of: auto, {', '.join(BACKENDS)}")
    if problem:
        return "virtualenv", f"{problem}; building with virtualenv + pip instead"
    if interpreter["implementation"] not in UV_IMPLEMENTATIONS:
        return "virtualenv", None
    if environ is not None:
        from vrun.env.pipsettings import uncarried

        reason = uncarried(environ)
        if reason is not None:
            return "virtualenv", f"{reason}; building with virtualenv + pip instead"
    return "uv", None
