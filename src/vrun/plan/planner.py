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
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import vrun
from vrun import inputs
from vrun.config import reqfiles, tomlfile
from vrun.config.load import Config, Session
from vrun.config.selection import required_names
from vrun.env.layout import MARKER, env_path, marker_problem
from vrun.errors import ConfigError, InterpreterNotFoundError, UsageError
from vrun.placeholders import has_posargs
from vrun.plan.cache import PLAN_SCHEMA
from vrun.plan.interpreters import NotProbedError, find_interpreter
from vrun.plan.lockfile import lock_state, refuse_unlocked

if TYPE_CHECKING:
    from vrun._types import InterpreterFacts


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
    """Record vrun's own modules: a plan made by other code (an upgrade, an edit) is not reused."""
    package = os.path.dirname(os.path.abspath(vrun.__file__))
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        inputs.stat_file(folder)
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
) -> dict[str, Any]:
    """Plan ``sessions`` (in run order). Records vrun's code identity; the caller records the rest.

    :param explicit: the sessions the user named (they get the posargs).
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
    entries = [
        plan_session(config, s, environ, backend=backend, explicit=s.name in explicit, probe=probe)
        for s in sessions
    ]
    if refuse:
        refuse_unlocked(entries, sessions, locked=locked)
    return {
        "schema": PLAN_SCHEMA,
        "root": str(config.root),
        "config": str(config.path),
        "notices": list(notices),
        "sessions": entries,
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
) -> dict[str, Any]:
    """Plan one session: a dict of plain values (see docs/envs.md, "The plan cache").

    A session whose interpreter cannot be found gets ``error`` (and ``missing_interpreter``)
    instead of an env: the loop reports it as that session's failure, or skips it.

    :param probe: run interpreters to learn about them (``False`` for read-only commands).
    :raises ConfigError: when ``session.python`` is not a valid spec (naming the file and key).
    """
    root = str(config.root)
    chosen = backend_name(session, environ, backend)
    entry: dict[str, Any] = {
        "name": session.name,
        "base_name": session.base_name,
        "description": session.description,
        "python": session.python,
        "interpreter": None,
        "error": None,
        "error_hint": None,
        "error_reason": None,
        "missing_interpreter": False,
        "env_dir": None,
        "digest": None,
        "components": None,
        "marker": None,
        "backend": chosen,
        "install": None,
        "system_site_packages": session.system_site_packages,
        "commands": [[list(c.argv), c.shell, c.source or " ".join(c.argv)] for c in session.commands],
        "set_env": [list(pair) for pair in session.env],
        "build_env": dict(session.build_env),
        "pass_env": list(session.pass_env),
        "cwd": session.cwd,
        "requires": required_names(config, session),
        "posargs": any(has_posargs(c.argv) for c in session.commands),
        "explicit": explicit,
        "notes": [],
        "timeout": session.timeout,
        "external": list(session.external),
        "tags": list(session.tags),
        "parallel": session.parallel,
        "lock": None,
    }
    try:
        interp = find_interpreter(session.python, session=session.name, environ=environ, probe=probe)
    except NotProbedError:
        raise
    except InterpreterNotFoundError as exc:
        entry.update(error=exc.message, error_hint=exc.hint, missing_interpreter=True)
        entry["error_reason"] = f"no interpreter for {session.python!r}"
        return entry
    except UsageError as exc:
        own = session.python is not None and session.python != config.python
        where = f"sessions.{session.base_name}.python" if own else "python"
        if config.path.name == "pyproject.toml":
            where = f"tool.vrun.{where}"
        raise ConfigError(config.path, where, exc.message, exc.hint) from exc
    from vrun.env.choice import select_backend
    from vrun.plan.envkey import compute_key, with_lock

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
        chosen, note = select_backend(chosen, facts)
    except UsageError as exc:
        entry.update(error=exc.message, error_hint=exc.hint, error_reason=exc.message)
        return entry
    entry["backend"] = chosen
    if note:
        entry["notes"].append(note)
    key = compute_key(session, config, interp, chosen, environ)
    lock = lock_state(config, session, interp, key.components)
    if lock["status"] == "current":
        key = with_lock(key, lock["path"], root)
    elif lock["status"] != "missing":
        entry["notes"].append(
            f"{lock['problem']}; installing without it (`vrun lock {session.name}` updates it)"
        )
    env_dir = env_path(root, session.name, key.digest)
    marker = os.path.join(env_dir, MARKER)
    ready = marker_problem(env_dir, key.digest) is None
    entry.update(
        interpreter=facts,
        env_dir=env_dir,
        digest=key.digest,
        components=key.components,
        # Not a plan input: whether the env is ready is the session loop's to check each run (it
        # compares this signature, and builds when the env is gone or changed), so a deleted env
        # does not cost a new plan.
        marker=inputs.signature(marker) if ready else None,
        install=install_spec(config, session, lock["path"] if lock["status"] == "current" else None),
        lock=lock,
    )
    return entry


def install_spec(config: Config, session: Session, lock: str | None = None) -> dict[str, Any]:
    """What to install, as plain values, with the PEP 503 names that must land in the env.

    :param lock: the lock file to install from instead of resolving (a current one), or ``None``.
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
    return {
        "requirements": [*session.requirements, *session.group_requirements],
        "requirement_files": list(session.requirement_files),
        "constraint_files": list(session.constraint_files),
        "project": root if session.install_project else None,
        "project_name": project_name,
        "mode": session.install_project,
        "extras": list(session.extras),
        "names": names,
        "lock": lock,
    }


def session_state(
    config: Config, session: Session, environ: Mapping[str, str], backend: str | None
) -> tuple[str, str, str | None]:
    """``(state, detail, env key digest)`` of a session's env for ``vrun list``: ``ready``, ``stale``,
    ``absent``, ``no python``, ``bad python`` or ``not probed``. Runs no program the config names."""
    from vrun.env.inventory import iter_envs

    try:
        entry = plan_session(config, session, environ, backend=backend, probe=False)
    except ConfigError as exc:
        return "bad python", exc.message, None
    except UsageError as exc:
        return "not probed", exc.message, None
    if entry["error"] is not None:
        return "no python", entry["error"], None
    if entry["marker"] is not None:
        return "ready", entry["env_dir"], entry["digest"]
    if any(info.session == session.name for info in iter_envs(config.root)):
        return "stale", "an env exists, built for other inputs", entry["digest"]
    return "absent", "", entry["digest"]
