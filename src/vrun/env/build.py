"""Build an env under its exclusive lock: wipe a broken one, create, install, check, mark.

Called by the session loop (:func:`vrun.run.loop.ready_env`) only when an env is not ready, so a warm
run never imports this module, the backends, virtualenv or uv. A venv cannot be built elsewhere
and moved (its scripts hold absolute paths), so it is built in place under
``.venvs/<name>.lock`` (docs/architecture.md, "Envs on disk" and "Env locks"); the marker is
written last, atomically; every process that writes into the env holds that lock (installers
inherit the locked descriptor), so a killed vrun never leaves an orphan writing into an env that
another run is wiping.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time

from vrun import __version__, output
from vrun.env.backends import get_backend
from vrun.env.flock import EnvLock
from vrun.env.installplan import InstallPlan
from vrun.env.layout import (
    MARKER,
    SCHEMA_VERSION,
    link_last_used,
    marker_problem,
    prepare_venvs_dir,
    project_stamp,
    touch_used,
    write_project_stamp,
)
from vrun.errors import BuildError, EnvNotReadyError
from vrun.inputs import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from vrun._types import Marker, Plan, RunnableSessionPlan


def install_plan(session_plan: RunnableSessionPlan) -> InstallPlan:
    """The session plan's ``install`` entry as an :class:`~vrun.env.installplan.InstallPlan`."""
    install = session_plan["install"]
    return InstallPlan(
        requirements=tuple(install["requirements"]),
        requirement_files=tuple(install["requirement_files"]),
        constraint_files=tuple(install["constraint_files"]),
        project=install["project"],
        editable=install["mode"] == "editable",
        extras=tuple(install["extras"]),
        names=tuple(install["names"]),
        project_name=install["project_name"],
        lock=install["lock"],
        pins=tuple(install["pins"]) if install["pins"] is not None else None,
    )


def build_env(
    plan: Plan,
    session_plan: RunnableSessionPlan,
    environ: Mapping[str, str],
    lock: EnvLock,
    *,
    recreate: bool = False,
    no_install: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> bool:
    """Find the env of ``session_plan`` ready, or build it; return with the *shared* lock held; True
    when built.

    A ready env (its marker checked under the shared lock) is used without asking for the
    exclusive lock, so a run never waits for the processes using it. Otherwise, under the
    exclusive lock: an env another process finished meanwhile is reused; anything else
    at the env's path (an interrupted build, a moved project's env) is wiped, then the env is
    created, the install plan installed (the installer runs in the project root, in a process group
    of its own, holding the lock), what was asked for is checked to have landed inside the env, and
    the marker is written. Files are created with at least ``umask 022``. A failed or interrupted
    build is removed and the error propagates.

    :raises EnvNotReadyError: with ``no_install`` when the env is not ready.
    :raises EnvDirError: ``.venvs/`` is not vrun's to use, or its lock cannot be taken.
    :raises BuildError: creating or installing failed, or the packages landed elsewhere.
    :raises Interrupted: a signal arrived while building (the partial env is gone).
    """
    root, env_dir, name = plan["root"], session_plan["env_dir"], session_plan["name"]
    prepare_venvs_dir(root)
    if no_install or not recreate:
        # A ready env is used under the shared lock alone: asking for the exclusive one first
        # would wait for every process using the env (a `vrun shell` open for hours).
        lock.acquire(exclusive=False, on_wait=on_wait)
        problem = marker_problem(env_dir, session_plan["digest"])
        if problem is None:
            touch_used(env_dir)
            link_last_used(root, name, env_dir)
            return False
        lock.release()
        if no_install:
            raise EnvNotReadyError(
                f"session {name} has no ready env ({os.path.basename(env_dir)}: {problem})",
                hint=f"run `vrun {name}` without --no-install to build it",
            )
    lock.acquire(exclusive=True, on_wait=on_wait)
    try:
        built = recreate or marker_problem(env_dir, session_plan["digest"]) is not None
        if built:
            output.info(f"creating env {os.path.basename(env_dir)} ({_why(root, session_plan, recreate)})")
            wipe(root, env_dir)
            try:
                with _safe_umask():
                    _create_and_install(plan, session_plan, environ, lock)
            except BaseException:
                shutil.rmtree(env_dir, ignore_errors=True)
                raise
        lock.acquire(exclusive=False)  # downgrade: keep the env from deletion while it is used
    except BaseException:
        lock.release()
        raise
    touch_used(env_dir)
    link_last_used(root, name, env_dir)
    return built


def _create_and_install(
    plan: Plan, session_plan: RunnableSessionPlan, environ: Mapping[str, str], lock: EnvLock
) -> None:
    env_dir, name = session_plan["env_dir"], session_plan["name"]
    started = time.monotonic()
    backend = get_backend(session_plan["backend"])
    with output.step(name, f"creating the env with {backend.name}", log=False):
        backend.create(
            session_plan["interpreter"]["executable"],
            env_dir,
            prompt=name,
            system_site_packages=session_plan["system_site_packages"],
            lock=lock,
        )
    todo = install_plan(session_plan)
    environ = with_build_env(session_plan, environ)
    if todo.project is not None:
        from vrun.env.wheel import project_wheel

        wheel = project_wheel(session_plan, plan["root"], environ, backend)
        if wheel is not None:
            todo = todo.replace(project=wheel)
    todo = todo.replace(seed=backend.seed)
    if not todo.empty:
        what = todo.describe()
        with output.step(name, f"installing {what or 'pip'} with {backend.name}", log=bool(what)):
            backend.install(env_dir, todo, environ=environ, cwd=plan["root"], lock=lock)
        missing = todo.missing_from(env_dir)
        if missing:
            raise BuildError(
                f"the install did not land in {env_dir}: {', '.join(missing)} not found in its site-packages",
                hint="an installer setting sends packages elsewhere: check target, prefix, root and user in "
                "pip.conf (or uv.toml), and PIP_TARGET, PIP_PREFIX, PIP_ROOT, PIP_USER",
            )
    if todo.project is not None:
        record_project(session_plan, todo)
    changed = changed_inputs(plan, environ)
    if changed:
        raise BuildError(
            f"{changed[0]} changed while {os.path.basename(env_dir)} was built: the env would not be "
            "what its key says (it was computed from the file as it was), so it is removed",
            hint="run again: vrun then reads the file as it is now",
        )
    from vrun.env.bytecode import prime

    prime(session_plan["env_dir"], session_plan["interpreter"], environ)
    write_marker(session_plan, backend.name)
    output.info(f"built {os.path.basename(env_dir)} in {time.monotonic() - started:.1f}s")


def changed_inputs(plan: Plan, environ: Mapping[str, str]) -> list[str]:
    """The files planning read (``plan["inputs"]``: requirement, constraint and lock files, project
    metadata, the config) that have changed since: an install that read one of them again (pip and
    uv read ``-r`` files and project metadata themselves) may hold what no env key says. Files
    that did not exist or were only looked at as directories, vrun's own cache and ``.venvs/``
    (written by the build itself), vrun's own modules (they decide the plan, not what an
    install holds: an upgrade of vrun meanwhile does not make this env wrong) and the project's
    source (``install["source_files"]``: not in the env key; a changed source reinstalls the project
    at the next run, and a build writes ``*.egg-info`` beside it) are not checked. A ``stat`` per
    file.
    """
    import vrun
    from vrun.inputs import DIR_ONLY, cache_dir, holds

    own = (
        os.path.join(plan["root"], ".venvs") + os.sep,
        os.path.join(cache_dir(environ), ""),
        os.path.join(os.path.dirname(os.path.abspath(vrun.__file__)), ""),
    )
    source = {
        path
        for session_plan in plan.get("sessions") or ()
        if session_plan["install"] is not None
        for path in session_plan["install"]["source_files"]
    }
    return [
        path
        for path, sig in plan["inputs"].items()
        if sig is not None
        and sig[0] != DIR_ONLY
        and not path.startswith(own)
        and path not in source
        and not holds(path, sig)
    ]


def reinstall_project(
    plan: Plan, session_plan: RunnableSessionPlan, environ: Mapping[str, str], lock: EnvLock
) -> None:
    """Rebuild the project (or take its build from the cache) and reinstall it alone into a reused
    env (``install_project = "wheel"`` or ``"sdist"``) whose stamp names another source, under
    ``lock``; then stamp the env with the plan's source digest.

    :raises BuildError: the build (``sdist``) or the install failed.
    """
    mode, env_dir = session_plan["install"]["mode"], session_plan["env_dir"]
    why = "its source changed" if project_stamp(env_dir) else "the env has no record of its source"
    name = os.path.basename(env_dir)
    output.info(f"reinstalling the project into {name}: {why} (install_project = {mode})")
    from vrun.env.wheel import project_wheel

    backend = get_backend(session_plan["backend"])
    todo = install_plan(session_plan)
    environ = with_build_env(session_plan, environ)
    with _safe_umask():
        try:
            write_project_stamp(env_dir, None)  # a failed reinstall is retried next run
        except OSError as exc:
            raise BuildError(f"cannot reinstall the project: {exc.strerror or exc}") from exc
        wheel = project_wheel(session_plan, plan["root"], environ, backend)
        if wheel is not None:
            todo = todo.replace(project=wheel)
        with output.step(session_plan["name"], "reinstalling the project", log=False):
            backend.install(env_dir, todo, environ=environ, cwd=plan["root"], lock=lock, reinstall=True)
        record_project(session_plan, todo)


def record_project(session_plan: RunnableSessionPlan, todo: InstallPlan) -> None:
    """After the project was installed as ``todo`` says: an editable build of vrun's gets the
    metadata of an editable install (:func:`vrun.env.wheel.mark_editable`), and the env records the
    source digest a built project came from (:func:`vrun.env.layout.write_project_stamp`).

    :raises BuildError: either cannot be written.
    """
    env_dir = session_plan["env_dir"]
    try:
        if todo.editable and todo.project is not None and todo.project.endswith(".whl"):
            from vrun.env.wheel import mark_editable

            mark_editable(env_dir, todo.project, session_plan["install"]["project"] or "")
        write_project_stamp(env_dir, session_plan["install"]["source"])
    except OSError as exc:
        raise BuildError(f"cannot record the project's install in {env_dir}: {exc.strerror or exc}") from exc


def with_build_env(session_plan: RunnableSessionPlan, environ: Mapping[str, str]) -> Mapping[str, str]:
    """``environ`` with the session's ``build_env`` laid over it: what the installer, and every
    build it runs (local projects, sdists, the project when vrun could not build it), sees."""
    return {**environ, **session_plan["build_env"]} if session_plan["build_env"] else environ


@contextlib.contextmanager
def _safe_umask() -> Iterator[None]:
    """Create files with at least ``umask 022`` (the installers inherit it): under a caller's
    ``umask 000`` an env would otherwise be writable by every user."""
    old = os.umask(0o022)
    os.umask(old | 0o022)
    try:
        yield
    finally:
        os.umask(old)


def write_marker(session_plan: RunnableSessionPlan, backend: str) -> None:
    """Write the marker last, atomically (temp file + rename): from now on the env is complete.

    It records the env's own absolute location, so a moved project's envs are found broken.

    :raises BuildError: when it cannot be written (a full disk).
    """
    data: Marker = {
        "schema": SCHEMA_VERSION,
        "session": session_plan["name"],
        "digest": session_plan["digest"],
        "location": session_plan["env_dir"],
        "components": session_plan["components"],
        "interpreter": session_plan["interpreter"],
        "backend": backend,
        "vrun": __version__,
        "created": time.time(),
    }
    try:
        write_atomic(
            os.path.join(session_plan["env_dir"], MARKER), json.dumps(data, indent=2, sort_keys=True) + "\n"
        )
    except OSError as exc:
        raise BuildError(f"cannot write the marker of {session_plan['env_dir']}: {exc.strerror}") from exc


def wipe(root: str, env_dir: str) -> None:
    """Remove what is at ``env_dir`` before a build; the caller holds its exclusive lock.

    :raises EnvDirError: when it is not a directory vrun may delete
        (see :func:`vrun.env.inventory.check_deletable`).
    """
    if os.path.lexists(env_dir):
        from vrun.env.inventory import check_deletable

        check_deletable(root, env_dir)
        shutil.rmtree(env_dir)


def _why(root: str, session_plan: RunnableSessionPlan, recreate: bool) -> str:
    """One line saying why an env is being built (tox's "python changed 3.12.1 -> 3.12.4")."""
    if recreate:
        return "--recreate"
    from vrun.env.rebuild import rebuild_reason

    return rebuild_reason(root, session_plan)
