"""The project build cache: build the project once, install the wheel into every env that needs it.

Installing the project with ``pip install -e .`` or ``uv pip install -e .`` makes the installer
create an isolated build env and run the build backend for every new env; that build is most of
a cold env's time. vrun instead builds the project itself, with the session's interpreter, through
PEP 517 (``build.ProjectBuilder`` over ``pyproject_hooks``, in a build env made by the session's
backend), and installs the resulting wheel. Builds are cached in ``<cache dir>/builds/``, under a
key (:func:`build_key`) of what the env key calls the project's metadata
(:func:`vrun.plan.envkey.project_inputs`: pyproject.toml's build tables, setup.cfg, setup.py and the
files they name, ``project_inputs``), the install mode, the project's location, the interpreter's
implementation, version and platform, and the session's ``build_env`` (the build backend sees it):

- ``editable`` builds (PEP 660) point at the source tree, so one stays valid while those inputs are
  unchanged, like uv's own cache of editable builds (uv's ``cache-keys``): ``builds/<key>/``. Once
  installed, the wheel's ``direct_url.json`` is made the one an editable install of the project
  folder has (:func:`mark_editable`, PEP 610).
- ``wheel`` builds, and ``sdist`` ones (the sdist built first, then the wheel from the unpacked
  sdist, as tox and ``python -m build`` do: a file missing from the sdist is missing from what the
  tests import), hold a copy of the source, so they are also keyed by the source's digest
  (:func:`vrun.plan.source.source_digest`): ``builds/<key>-<source digest>/``. An unchanged source
  reuses its build; the last :data:`KEEP` builds of each key are kept (switching branches back and
  forth rebuilds nothing).

Builds of one key are serialized by the lock ``builds/<key>.lock``. A ``wheel`` or ``editable``
build that fails here is not fatal: the installer then builds the project itself, as before, and
reports the error in its own words. An ``sdist`` build that fails is (the installer would build
the project from its folder, not from an sdist): its error is the session's.
"""

from __future__ import annotations

import contextlib
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

#: How many builds of one key (:func:`build_key`) with different sources the cache keeps.
KEEP = 3


def build_key(session_plan: RunnableSessionPlan, mode: str | None) -> str:
    """The cache key of ``session_plan``'s project build: its project metadata, the mode, the
    project's own location (an editable wheel points at the source tree), the interpreter and the
    session's ``build_env``; not the source itself (:func:`project_wheel` adds it for built modes)."""
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
    """A wheel of the project for ``session_plan`` (per its ``install_project``: editable, wheel, or
    a wheel built from an sdist), from the cache or built now, or ``None`` when it cannot be built
    here (the installer then builds it; see the module docstring).

    :param environ: the caller's environment with the session's ``build_env`` laid over it
        (:func:`vrun.env.build.with_build_env`), as the build hooks and the installer see it.
    :param backend: the session's :class:`vrun.env.backends.Backend`, which makes the build env.
    :raises BuildError: an ``sdist`` build failed.
    """
    mode = session_plan["install"]["mode"]
    source = session_plan["install"]["source"]
    key = build_key(session_plan, mode)
    builds = os.path.join(cache_dir(environ), "builds")
    folder = os.path.join(builds, key if source is None else f"{key}-{source}")
    done = os.path.join(folder, "wheel")  # holds the wheel's file name once the build is complete
    os.makedirs(builds, exist_ok=True)
    lock = EnvLock(os.path.join(builds, f"{key}.lock"))
    lock.acquire(exclusive=True, on_wait=lambda: output.info("waiting for another vrun building the project"))
    try:
        wheel = _cached(folder, done)
        if wheel is None:
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            built = _build(session_plan, root, environ, backend, folder)
            if built is None:
                shutil.rmtree(folder, ignore_errors=True)
                return None
            with open(done, "w", encoding="utf-8") as fh:
                fh.write(os.path.basename(built))
            wheel = built
            if source is not None:
                _prune(builds, key, keep=folder)
        else:
            with contextlib.suppress(OSError):  # the most recently used build of its key: kept by _prune
                os.utime(done)
            output.debug(f"reusing the project's {mode} build {wheel}")
        return wheel
    finally:
        lock.release()


def _prune(builds: str, key: str, *, keep: str) -> None:
    """Remove the builds of ``key`` for other sources but the :data:`KEEP` most recently used
    (``keep``, just built, among them); the caller holds the key's lock."""
    try:
        names = [n for n in os.listdir(builds) if n.startswith(f"{key}-")]
    except OSError:
        return
    folders = [os.path.join(builds, n) for n in names if os.path.join(builds, n) != keep]

    def used(path: str) -> float:
        try:
            return os.stat(os.path.join(path, "wheel")).st_mtime
        except OSError:
            return 0.0

    for path in sorted(folders, key=used, reverse=True)[KEEP - 1 :]:
        if not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)


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
    outdir: str,
) -> str | None:
    """Build the project at ``root`` into ``outdir`` as its ``install_project`` says (an editable
    wheel, a wheel, or an sdist and then a wheel from it), in a fresh build env of the session's
    interpreter (PEP 517 build isolation); the wheel's path, or ``None`` when it failed and the
    installer is to build the project instead.

    :raises BuildError: an ``sdist`` build failed (the installer would not build from an sdist).
    """
    from build import BuildBackendException, BuildException, ProjectBuilder

    from vrun.errors import BuildError, VrunError

    mode = session_plan["install"]["mode"]
    what = "sdist, then a wheel from it" if mode == "sdist" else mode
    work = tempfile.mkdtemp(prefix="vrun-build-env-")
    try:
        with output.step(session_plan["name"], f"building the project ({what}) with {backend.name}"):
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

            installed: set[str] = set()

            def need(requires: set[str]) -> None:
                """Install the build requirements not installed in the build env yet."""
                todo = sorted(requires - installed)
                if todo:
                    backend.install_requirements(env_dir, todo, environ=environ, cwd=root)
                    installed.update(todo)

            def one(source_dir: str, distribution: Literal["editable", "wheel", "sdist"], into: str) -> str:
                """Build ``distribution`` of the project at ``source_dir`` into ``into``, its build
                requirements installed first."""
                builder = ProjectBuilder(source_dir, python_executable=python, runner=runner)
                need(set(builder.build_system_requires))
                with warnings.catch_warnings():  # a backend's deprecation notices: shown with -v only
                    if not output.verbose():
                        warnings.simplefilter("ignore")
                    need(set(builder.get_requires_for_build(distribution)))
                    return builder.build(distribution, into)

            if mode != "sdist":
                return one(root, "editable" if mode == "editable" else "wheel", outdir)
            sdist = one(root, "sdist", os.path.join(work, "sdist"))
            return one(unpack_sdist(sdist, os.path.join(work, "unpacked")), "wheel", outdir)
    except (VrunError, BuildException, BuildBackendException, OSError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        first = message.splitlines()[0] if message else str(exc)
        if mode == "sdist":
            cause = getattr(exc, "exception", None)
            raise BuildError(
                f"building the project's sdist, or its wheel from the sdist, failed: {first}",
                output=getattr(cause, "output", None) or getattr(exc, "output", None) or "",
            ) from exc
        output.info(f"could not build the project here ({first}); the installer builds it instead")
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def unpack_sdist(sdist: str, into: str) -> str:
    """Unpack the ``.tar.gz`` sdist ``sdist`` into ``into``; return its one top-level folder (PEP 625:
    ``{name}-{version}/``).

    Members are checked as :func:`tarfile.data_filter` does (Python 3.12, backported to 3.9.17):
    regular files and folders only, nothing absolute or outside ``into``.

    :raises OSError: it is not a readable tar archive, holds something else, or not one folder.
    """
    import tarfile

    try:
        with tarfile.open(sdist, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                name = os.path.normpath(member.name)
                if not (member.isfile() or member.isdir()) or os.path.isabs(name) or name.startswith(".."):
                    raise OSError(f"{os.path.basename(sdist)} holds {member.name!r}, which is not unpacked")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, filter="data")
            else:  # pragma: no cover - an interpreter older than the backport; members checked above
                tar.extractall(into)
    except tarfile.TarError as exc:
        raise OSError(f"cannot unpack {os.path.basename(sdist)}: {exc}") from exc
    tops = os.listdir(into)
    if len(tops) != 1 or not os.path.isdir(os.path.join(into, tops[0])):
        raise OSError(f"{os.path.basename(sdist)} does not hold one top-level folder")
    return os.path.join(into, tops[0])


def mark_editable(env_dir: str, wheel: str, project: str) -> None:
    """Make the project installed from vrun's editable build ``wheel`` look as an editable install
    of the folder ``project`` does: its ``direct_url.json`` (PEP 610) becomes
    ``{"dir_info": {"editable": true}, "url": "file:///<project>"}``, as pip and uv write it for
    ``-e``, not the cached wheel's URL the installer recorded, and its line in ``RECORD`` gets the
    new hash and size. ``pip list -e``, ``uv pip list --editable`` and ``pip freeze`` then show the
    project; pip and uv reinstall it as any editable install. Nothing is done when its
    ``.dist-info`` is not found (the install check reports that).

    :param wheel: the path of the editable wheel, ``{name}-{version}-...whl``.
    :raises OSError: the files cannot be written.
    """
    import base64
    import csv
    import io
    import re

    from vrun.env.installplan import file_uri
    from vrun.env.layout import site_packages_dirs
    from vrun.inputs import write_atomic

    def canonical(text: str) -> str:
        return re.sub(r"[-_.]+", "_", text).lower()

    name, version = os.path.basename(wheel).split("-")[:2]
    wanted = canonical(f"{name}-{version}.dist-info")
    info = next(
        (
            os.path.join(purelib, entry)
            for purelib in site_packages_dirs(env_dir)
            for entry in sorted(os.listdir(purelib))
            if canonical(entry) == wanted
        ),
        None,
    )
    if info is None:
        return
    data = (json.dumps({"dir_info": {"editable": True}, "url": file_uri(project)}, sort_keys=True)).encode()
    write_atomic(os.path.join(info, "direct_url.json"), data)
    record = os.path.join(info, "RECORD")
    try:
        with open(record, encoding="utf-8", newline="") as fh:
            rows = [row for row in csv.reader(fh) if row]
    except OSError:
        return  # no RECORD: nothing lists the file
    entry = f"{os.path.basename(info)}/direct_url.json"
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows = [row for row in rows if row[0] != entry] + [[entry, f"sha256={digest}", str(len(data))]]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    write_atomic(record, text.getvalue())


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
