"""The project build cache: build the project once, install the wheel into every env that needs it.

Installing the project with ``pip install -e .`` or ``uv pip install -e .`` makes the installer
create an isolated build env and run the build backend for every new env; that build is most of
a cold env's time. vrun instead builds the project itself, with the session's interpreter, through
PEP 517 (``build.ProjectBuilder`` over ``pyproject_hooks``, in a build env made by the session's
backend), and installs the resulting wheel.

- ``editable`` builds (PEP 660) are cached in ``<cache dir>/builds/<key>/``. The key is what the
  env key calls the project's metadata (:func:`vrun.plan.envkey.project_inputs`: pyproject.toml's
  build tables, setup.cfg, setup.py and the files they name, ``project_inputs``), the project's
  location (the wheel points at it), the interpreter's implementation, version and platform, and
  the session's ``build_env`` (the build backend sees it). An editable wheel points at the source
  tree, so it stays valid while those inputs are unchanged, like uv's own cache of editable builds
  (uv's ``cache-keys``); a change to any of them builds anew.
- ``wheel`` builds reflect the sources, so they are built once per vrun run and shared by every
  session and env of that run with the same key (tox builds its package once per run as well).

A build that fails here is not fatal: the installer then builds the project itself, as before,
and reports the error in its own words.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import warnings

from vrun import output
from vrun.env.flock import EnvLock
from vrun.inputs import cache_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, Literal

    from vrun._types import RunnableSessionPlan
    from vrun.env.backends import Backend

#: wheel builds of this run: key -> wheel path (built once per run, removed at exit).
_RUN_WHEELS: dict[str, str] = {}
_RUN_DIRS: list[str] = []


def build_key(session_plan: RunnableSessionPlan, mode: str | None) -> str:
    """The cache key of ``session_plan``'s project build: its project metadata, the mode, the
    project's own location (an editable wheel points at the source tree), the interpreter and the
    session's ``build_env``."""
    interp = session_plan["interpreter"]
    where = session_plan["install"]["project"]  # an editable wheel points at this source tree
    facts = [interp["implementation"], interp["version"], interp["machine"]]
    parts: list[object] = [session_plan["components"]["project"], mode, where, *facts]
    if session_plan["build_env"]:  # only when set: the keys of builds without it stay as they were
        parts.append(session_plan["build_env"])
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def project_wheel(
    session_plan: RunnableSessionPlan, root: str, environ: Mapping[str, str], backend: Backend
) -> str | None:
    """A wheel of the project for ``session_plan`` (editable or not, per its ``install_project``), or
    ``None`` when it cannot be built here (the installer then builds it; see the module docstring).

    :param environ: the caller's environment with the session's ``build_env`` laid over it
        (:func:`vrun.env.build.with_build_env`), as the build hooks and the installer see it.
    :param backend: the session's :class:`vrun.env.backends.Backend`, which makes the build env.
    """
    mode = session_plan["install"]["mode"]
    key = build_key(session_plan, mode)
    if mode == "wheel":
        if key not in _RUN_WHEELS:
            outdir = tempfile.mkdtemp(prefix="vrun-wheel-")
            _RUN_DIRS.append(outdir)
            built = _build(session_plan, root, environ, backend, "wheel", outdir)
            if built is None:
                return None
            _RUN_WHEELS[key] = built
        return _RUN_WHEELS[key]
    folder = os.path.join(cache_dir(environ), "builds", key)
    done = os.path.join(folder, "wheel")  # holds the wheel's file name once the build is complete
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    lock = EnvLock(folder + ".lock")
    lock.acquire(exclusive=True, on_wait=lambda: output.info("waiting for another vrun building the project"))
    try:
        wheel = _cached(folder, done)
        if wheel is None:
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            built = _build(session_plan, root, environ, backend, "editable", folder)
            if built is None:
                return None
            with open(done, "w", encoding="utf-8") as fh:
                fh.write(os.path.basename(built))
            wheel = built
        else:
            output.debug(f"reusing the project's editable build {wheel}")
        return wheel
    finally:
        lock.release()


def _cached(folder: str, done: str) -> str | None:
    try:
        with open(done, encoding="utf-8") as fh:
            wheel = os.path.join(folder, fh.read().strip())
    except OSError:
        return None
    return wheel if os.path.isfile(wheel) else None


def _build(
    session_plan: RunnableSessionPlan,
    root: str,
    environ: Mapping[str, str],
    backend: Backend,
    distribution: Literal["editable", "wheel"],
    outdir: str,
) -> str | None:
    """Build ``distribution`` (``editable`` or ``wheel``) of the project at ``root`` into ``outdir``
    in a fresh build env of the session's interpreter (PEP 517 build isolation)."""
    from build import BuildBackendException, BuildException, ProjectBuilder

    from vrun.errors import VrunError

    work = tempfile.mkdtemp(prefix="vrun-build-env-")
    try:
        with output.step(session_plan["name"], f"building the project ({distribution}) with {backend.name}"):
            env_dir = os.path.join(work, "env")
            python = session_plan["interpreter"]["executable"]
            backend.create(python, env_dir, prompt="build", system_site_packages=False, lock=None)
            python = os.path.join(env_dir, "bin", "python")
            from vrun.environ import tool_environ

            hooks_environ = {**tool_environ(environ), **session_plan["build_env"]}

            def runner(
                cmd: Any, cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
            ) -> None:
                """The hook runner: the hooks see ``hooks_environ`` and what ``build`` adds."""
                _hook_runner(cmd, cwd, {**hooks_environ, **(extra_environ or {})})

            builder = ProjectBuilder(root, python_executable=python, runner=runner)
            requires = sorted(builder.build_system_requires)
            backend.install_requirements(env_dir, requires, environ=environ, cwd=root)
            with warnings.catch_warnings():
                if not output.verbose():
                    warnings.simplefilter("ignore")
                extra = builder.get_requires_for_build(distribution)
            if extra:
                backend.install_requirements(env_dir, sorted(extra), environ=environ, cwd=root)
            with warnings.catch_warnings():  # a backend's deprecation notices: shown with -v only
                if not output.verbose():
                    warnings.simplefilter("ignore")
                return builder.build(distribution, outdir)
    except (VrunError, BuildException, BuildBackendException, OSError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        output.info(
            f"could not build the project here ({message.splitlines()[0] if message else exc}); "
            "the installer builds it instead"
        )
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _hook_runner(cmd: Sequence[str], cwd: str | None, environ: Mapping[str, str]) -> None:
    """Run a PEP 517 hook for ``pyproject_hooks`` as its ``quiet_subprocess_runner`` does (output
    captured, :class:`subprocess.CalledProcessError` when it fails), but through
    :func:`vrun.env.backends.run_tool`: in a process group of its own that Ctrl-C is forwarded to and
    swept, its output shown live with ``-v``, the build step's time redrawn meanwhile.

    :param environ: the hooks' whole environment.
    """
    import subprocess

    from vrun.env.backends import run_tool
    from vrun.errors import BuildError

    try:
        run_tool(cmd, what="the build backend", environ=environ, cwd=cwd or os.getcwd())
    except BuildError as exc:
        raise subprocess.CalledProcessError(1, list(cmd), output=getattr(exc, "output", "")) from exc


@atexit.register
def _cleanup() -> None:
    for folder in _RUN_DIRS:
        shutil.rmtree(folder, ignore_errors=True)
