"""Planning: the selected sessions -> a plain, serializable plan the session loop runs.

For each session: resolve its interpreter, compute its env key (:mod:`vrun.plan.envkey`), decide where
its env lives and whether it is ready, and flatten everything the loop needs (commands, set_env,
pass_env, cwd, what to install) into dicts of plain values. While planning, every file read and
every variable looked up is recorded (:mod:`vrun.inputs`), vrun's own modules included, so that
:mod:`vrun.plan.cache` can store the plan and hand it, unchanged inputs vouched for by ``stat``
calls, to the same session loop next time (docs/architecture.md, "The plan": memoize planning, never
duplicate running).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import vrun
from vrun import inputs
from vrun.config import dotenv, reqfiles, tomlfile
from vrun.config.keys import BUILT_MODES
from vrun.config.load import Command, Config, Session
from vrun.config.selection import required_names
from vrun.env.layout import MARKER, env_path, marker_problem
from vrun.errors import ConfigError, InterpreterNotFoundError, UsageError
from vrun.placeholders import has_posargs
from vrun.plan.cache import PLAN_SCHEMA
from vrun.plan.interpreters import NotProbedError
from vrun.plan.lockfile import lock_state, refuse_unlocked
from vrun.plan.pythons import find_or_install

if TYPE_CHECKING:
    from vrun._types import (
        InstallSpec,
        InterpreterFacts,
        Plan,
        PlannedCommand,
        SessionPlan,
        SessionPlanBase,
        UnrunnableSessionPlan,
    )


class RecordingEnviron(Mapping[str, str]):
    """A read-only view of the environment that records every variable planning looks up.

    Only lookups by name are allowed: iterating would make a plan depend on the whole
    environment. :meth:`plain` gives an unrecorded copy for code that hands the environment on.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        value = self._environ.get(name)
        inputs.active().environ.setdefault(name, value)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        raise TypeError("iterating the environment would make the plan depend on all of it; use plain()")

    def __len__(self) -> int:
        raise TypeError("the planning environment has no length; use plain()")

    def plain(self) -> dict[str, str]:
        """The whole environment as a dict, not recorded."""
        return dict(self._environ)


def backend_name(session: Session, environ: Mapping[str, str], override: str | None) -> str:
    """The backend ``session`` asks for: ``--backend``, else ``$VRUN_BACKEND``, else the config's
    ``backend`` (the session's, else the top level's), else ``auto``."""
    return override or environ.get("VRUN_BACKEND") or session.backend


def record_code_identity() -> None:
    """Record vrun's own modules: a plan made by other code (an upgrade, an edit) is not reused.

    Each ``.py`` file by its signature, each folder only as that folder (:func:`vrun.inputs.is_dir`,
    not its listing): Python creating ``__pycache__`` on a checkout's first run changes the
    listing, not the code, and a module added or removed matters only through an edit of a
    module that imports it, whose signature then changes.
    """
    package = os.path.dirname(os.path.abspath(vrun.__file__))
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        inputs.is_dir(folder)
        for name in sorted(files):
            if name.endswith(".py"):
                inputs.stat_file(os.path.join(folder, name))


def make_plan(
    config: Config,
    sessions: Sequence[Session],
    *,
    explicit: set[str],
    environ: Mapping[str, str],
    backend: str | None = None,
    notices: Sequence[str] = (),
    probe: bool = True,
    locked: bool = False,
    refuse: bool = False,
    named: Collection[str] = (),
    downloads: str | None = None,
) -> Plan:
    """Plan ``sessions`` (in run order). Records vrun's code identity; the caller records the rest.

    :param explicit: the sessions the user selected (they get the posargs).
    :param named: the names the command line gave (a matrix entry among them is ``named``).
    :param downloads: ``python_downloads`` for this plan (:func:`vrun.plan.pythons.downloads_policy`):
        ``"auto"`` installs a missing interpreter with uv; ``None`` (read-only commands) installs
        nothing and leaves the setting out of the hint.
    :param environ: the planning environment (a :class:`RecordingEnviron`).
    :param backend: ``--backend``, or ``None``.
    :param notices: lines to show before running (e.g. two configs found).
    :param probe: run interpreters to learn about them (``False`` for read-only commands).
    :param locked: ``--locked``: every session must install from a current lock file (sessions
        with ``locked = true`` must anyway).
    :param refuse: the plan is for building and running: apply ``locked`` (read-only commands,
        which build nothing, do not refuse).
    :raises LockError: with ``refuse``, a session that must install from its lock file cannot
        (before anything runs).
    """
    record_code_identity()
    session_plans = [
        plan_session(
            config,
            session,
            environ,
            backend=backend,
            explicit=session.name in explicit,
            probe=probe,
            named=session.name in named,
            downloads=downloads,
        )
        for session in sessions
    ]
    if refuse:
        refuse_unlocked(session_plans, sessions, locked=locked)
    return {
        "schema": PLAN_SCHEMA,
        "root": str(config.root),
        "config": str(config.path),
        "notices": list(notices),
        "sessions": session_plans,
        "inputs": {},
    }


def plan_session(
    config: Config,
    session: Session,
    environ: Mapping[str, str],
    *,
    backend: str | None = None,
    explicit: bool = False,
    probe: bool = True,
    named: bool = False,
    downloads: str | None = None,
) -> SessionPlan:
    """Plan one session: a :data:`~vrun._types.SessionPlan` of plain values (docs/envs.md, "The plan
    cache: the warm path").

    A session whose interpreter cannot be found gets ``error`` (and ``missing_interpreter``)
    instead of an env: the loop reports it as that session's failure, or skips it.

    :param probe: run interpreters to learn about them (``False`` for read-only commands).
    :param named: the command line named the session by its full name.
    :param downloads: ``"auto"``: a missing interpreter is installed with uv (:mod:`vrun.plan.pythons`);
        ``"never"`` or ``None``: not (``None``: a command that builds nothing).
    :raises ConfigError: when ``session.python`` is not a valid spec (naming the file and key).
    """
    root = str(config.root)
    chosen = backend_name(session, environ, backend)
    spec = python_spec(session)
    base: SessionPlanBase = {
        "name": session.name,
        "description": session.description,
        "python": spec,
        "error_hint": None,
        "missing_interpreter": False,
        "backend": chosen,
        "system_site_packages": session.system_site_packages,
        "commands_pre": planned_commands(session.commands_pre),
        "commands": planned_commands(session.commands),
        "commands_post": planned_commands(session.commands_post),
        "set_env": [list(pair) for pair in dotenv.set_env(session.env_file, session.env)],
        "build_env": dict(session.build_env),
        "pass_env": list(session.pass_env),
        "cwd": session.cwd,
        "requires": required_names(config, session),
        "posargs": any(
            has_posargs(c.argv) for c in (*session.commands_pre, *session.commands, *session.commands_post)
        ),
        "explicit": explicit,
        "named": named,
        "matrix": session.name != session.base_name,
        "notes": [],
        "warnings": [],
        "timeout": session.timeout,
        "external": list(session.external),
        "tags": list(session.tags),
        "parallel": session.parallel,
    }
    try:
        interp = find_or_install(
            spec, session=session.name, environ=environ, downloads=downloads, probe=probe
        )
    except NotProbedError:
        raise
    except InterpreterNotFoundError as exc:
        base.update({"error_hint": exc.hint, "missing_interpreter": True})
        reason = f"no interpreter for {spec!r}"
        if exc.failure:
            reason += f" (uv could not install it: {exc.failure})"
        return _unrunnable(base, exc.message, reason)
    except UsageError as exc:
        if session.python is None and session.script is not None:  # requires-python, which packaging took
            raise ConfigError(
                Path(session.script.path), None, exc.message, exc.hint, line=session.script.line
            ) from exc
        own = session.python is not None and session.python != config.python
        where = f"sessions.{session.base_name}.python" if own else "python"
        if config.path.name == "pyproject.toml":
            where = f"tool.vrun.{where}"
        raise ConfigError(config.path, where, exc.message, exc.hint) from exc
    script = session.script
    if script is not None and script.requires_python is not None:
        shown = reqfiles.display(script.path, root)
        if session.python is None:
            base["notes"].append(
                f"python {interp.version}, picked by the requires-python {script.requires_python!r} of "
                f"{shown} (the session names no python)"
            )
        elif not _satisfies(script.requires_python, interp.version):
            base["error_hint"] = (
                "give the session a python that satisfies it, or none: requires-python then picks one"
            )
            problem = (
                f"python {interp.version} ({session.python!r}) of session {session.name} does not satisfy "
                f"the requires-python {script.requires_python!r} of {shown}"
            )
            return _unrunnable(base, problem, f"python {interp.version} does not satisfy requires-python")
    from vrun.env.choice import select_backend
    from vrun.plan.envkey import compute_key, with_lock
    from vrun.plan.uvlock import uv_lock_state

    facts: InterpreterFacts = {
        "executable": interp.executable,
        "base_executable": interp.base_executable,
        "implementation": interp.implementation,
        "version": interp.version,
        "version_info": list(interp.version_info),
        "architecture": interp.architecture,
        "machine": interp.machine,
    }
    try:
        chosen, note = select_backend(chosen, facts, environ)
    except UsageError as exc:
        base["error_hint"] = exc.hint
        return _unrunnable(base, exc.message, exc.message)
    base["backend"] = chosen
    if note:
        base["notes"].append(note)
    key = compute_key(session, config, interp, chosen, environ)
    lock = lock_state(config, session, interp, key.components)
    if lock["status"] == "current":
        key = with_lock(key, lock["path"], root)
    elif lock["status"] != "missing":
        base["notes"].append(
            f"{lock['problem']}; installing without it (`vrun lock {session.name}` updates it)"
        )
    installs_from, pins = (lock["path"] if lock["status"] == "current" else None), None
    uv_lock = uv_lock_state(config, session, interp, environ) if lock["status"] == "missing" else None
    if uv_lock is not None and uv_lock["status"] == "current":
        key, installs_from, pins = with_lock(key, uv_lock["path"], root), uv_lock["path"], uv_lock["pins"]
    elif uv_lock is not None:
        base["warnings"].append(f"{uv_lock['problem']}; resolving afresh instead (`uv lock` updates it)")
    env_dir = env_path(root, session.name, key.digest)
    marker = os.path.join(env_dir, MARKER)
    ready = marker_problem(env_dir, key.digest) is None
    return {
        **base,
        "error": None,
        "error_reason": None,
        "interpreter": facts,
        "env_dir": env_dir,
        "digest": key.digest,
        "components": key.components,
        # Not a plan input: whether the env is ready is the session loop's to check each run (it
        # compares this signature, and builds when the env is gone or changed), so a deleted env
        # does not cost a new plan.
        "marker": inputs.signature(marker) if ready else None,
        "install": install_spec(config, session, installs_from, pins, environ=environ),
        "lock": lock,
        "uv_lock": uv_lock,
    }


def python_spec(session: Session) -> str | None:
    """The spec that finds ``session``'s interpreter: its ``python`` (its own, else the top level's),
    else the ``requires-python`` of its script's PEP 723 block (which must hold for any other spec
    too, :func:`plan_session`), else ``None`` (the interpreter running vrun). The specification of
    inline script metadata: a runner SHOULD error when no Python satisfies ``requires-python``."""
    if session.python is None and session.script is not None:
        return session.script.requires_python
    return session.python


def _satisfies(requires_python: str, version: str) -> bool:
    """Whether the interpreter version ``version`` (``3.12.1``, ``3.13.0rc1``) is in the PEP 440
    specifier set ``requires-python``, pre-releases included (tox's PEP 723 runner's check)."""
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(requires_python).contains(version, prereleases=True)


def planned_commands(commands: Sequence[Command]) -> list[PlannedCommand]:
    """``commands`` as a plan holds them (:data:`vrun._types.PlannedCommand`): argv, shell, source."""
    return [(list(c.argv), c.shell, c.source or " ".join(c.argv)) for c in commands]


def _unrunnable(base: SessionPlanBase, error: str, reason: str) -> UnrunnableSessionPlan:
    """The plan of a session that cannot run: ``error`` (an ``error:`` line), the short ``reason`` its
    result gives, and no interpreter, env or lock."""
    return {
        **base,
        "error": error,
        "error_reason": reason,
        "interpreter": None,
        "env_dir": None,
        "digest": None,
        "components": None,
        "marker": None,
        "install": None,
        "lock": None,
        "uv_lock": None,
    }


def install_spec(
    config: Config,
    session: Session,
    lock: str | None = None,
    pins: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> InstallSpec:
    """What to install, as plain values, with the PEP 503 names that must land in the env.

    :param lock: the lock file to install from instead of resolving (a current one), or ``None``.
    :param environ: the planning environment (``os.environ`` when ``None``); for a session that
        installs a built copy of the project (``"wheel"``, ``"sdist"``), where the source digest's
        memo is (:func:`vrun.plan.source.source_digest`).
    :param pins: what ``lock`` (a ``uv.lock``) pins for the session (:mod:`vrun.plan.uvlock`); the
        requirements then go on top of them. ``None`` for a PEP 751 lock, which covers them.
    """
    root = str(config.root)
    project_name = None
    names: list[str] = []
    if session.install_project:
        project = (tomlfile.pyproject(root) or {}).get("project")
        name = project.get("name") if isinstance(project, dict) else None
        if isinstance(name, str):
            from packaging.utils import canonicalize_name

            project_name = canonicalize_name(name)
    if not session.system_site_packages:  # a requirement met by the system's site-packages lands nowhere
        lines = [*session.requirements, *session.group_requirements]
        lines += reqfiles.requirement_lines(session.requirement_files, root)
        names = list(dict.fromkeys(reqfiles.iter_names(lines)))
        names += [project_name] if project_name else []
    source: str | None = None
    source_files: list[str] = []
    if session.install_project in BUILT_MODES:
        from vrun.plan.source import source_digest

        source, source_files = source_digest(root, os.environ if environ is None else environ)
    groups = session.group_requirements if pins is None else ()  # a uv.lock pins its groups itself
    return {
        "requirements": [*session.requirements, *groups],
        "requirement_files": list(session.requirement_files),
        "constraint_files": list(session.constraint_files),
        "project": root if session.install_project else None,
        "project_name": project_name,
        "mode": session.install_project,
        "extras": list(session.extras),
        "names": names,
        "lock": lock,
        "source": source,
        "source_files": source_files,
        "pins": list(pins) if pins is not None else None,
    }


def session_state(
    config: Config, session: Session, environ: Mapping[str, str], backend: str | None
) -> tuple[str, str, str | None]:
    """``(state, detail, env key digest)`` of a session's env for ``vrun list``: ``ready``, ``stale``,
    ``absent``, ``no python``, ``bad python`` or ``not probed``. Runs no program the config names."""
    from vrun.env.inventory import iter_envs

    try:
        session_plan = plan_session(config, session, environ, backend=backend, probe=False)
    except ConfigError as exc:
        return "bad python", exc.message, None
    except UsageError as exc:
        return "not probed", exc.message, None
    if session_plan["error"] is not None:
        return "no python", session_plan["error"], None
    if session_plan["marker"] is not None:
        return "ready", session_plan["env_dir"], session_plan["digest"]
    if any(info.session == session.name for info in iter_envs(config.root)):
        return "stale", "an env exists, built for other inputs", session_plan["digest"]
    return "absent", "", session_plan["digest"]
