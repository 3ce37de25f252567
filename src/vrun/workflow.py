"""The pipeline behind ``vrun NAME``: plan each session, find or build its env, run it.

Plain functions composed in one direction: config -> plan (interpreter, key, install plan)
-> env (reuse or build) -> commands -> results. The CLI calls :func:`run_sessions`; ``vrun
shell``, ``vrun run`` and ``vrun path`` reuse :func:`plan_session` and :func:`ready_env`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrun.backends import Backend, InstallPlan
from vrun.config import Config, Session
from vrun.envkey import EnvKey, compute_key
from vrun.envs import Env, EnvLock, ensure_env, env_path, lock_for
from vrun.errors import (
    BuildError,
    ConfigError,
    InterpreterNotFoundError,
    UsageError,
    VrunError,
)
from vrun.interpreters import Interpreter, find_interpreter
from vrun.runner import SESSION, SUCCESS, SessionResult, Status, required_names, run_session_commands

_LOG = logging.getLogger("vrun")


@dataclass(frozen=True)
class Options:
    """How to run: the command line's choices.

    :param recreate: rebuild envs even when one is ready (``-r``).
    :param no_install: reuse envs as they are; refuse one that is not ready (``--no-install``).
    :param skip_missing_interpreters: mark a session whose interpreter is missing SKIPPED
        instead of failing it; never in CI (``CI`` set).
    :param verbose: show the installer's output as it runs.
    :param cache_dir: where interpreter facts are cached.
    """

    recreate: bool = False
    no_install: bool = False
    skip_missing_interpreters: bool = False
    verbose: bool = False
    cache_dir: Path | None = None


@dataclass(frozen=True)
class SessionPlan:
    """What a session needs: its interpreter, its key and what to install.

    :param env_dir: where its env lives for this key.
    """

    session: Session
    interpreter: Interpreter
    key: EnvKey
    install: InstallPlan
    env_dir: Path


_PYPROJECT_CACHE: dict[Path, dict[str, Any] | None] = {}


def load_pyproject(config: Config) -> dict[str, Any] | None:
    """The project's parsed ``pyproject.toml`` (read once per process), or ``None``."""
    path = config.root / "pyproject.toml"
    if path not in _PYPROJECT_CACHE:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            with path.open("rb") as fh:
                _PYPROJECT_CACHE[path] = tomllib.load(fh)
        except (OSError, ValueError):
            _PYPROJECT_CACHE[path] = None
    return _PYPROJECT_CACHE[path]


def install_plan(config: Config, session: Session) -> InstallPlan:
    """The session's deps, groups and project, as an :class:`InstallPlan`."""
    return InstallPlan(
        requirements=(*session.requirements, *session.group_requirements),
        requirement_files=session.requirement_files,
        constraint_files=session.constraint_files,
        project=config.root if session.install_project else None,
        editable=session.install_project == "editable",
        extras=session.extras,
    )


def plan_session(
    config: Config, session: Session, backend: str, *, environ: Mapping[str, str], cache_dir: Path | None
) -> SessionPlan:
    """Resolve the session's interpreter and key; touches no env.

    :raises InterpreterNotFoundError: when no interpreter matches ``session.python``.
    :raises ConfigError: when ``session.python`` is not a valid spec (naming the file and key).
    """
    try:
        interpreter = find_interpreter(
            session.python, session=session.name, cache_dir=cache_dir, environ=environ
        )
    except UsageError as exc:
        own = session.python is not None and session.python != config.python
        where = f"sessions.{session.base_name}.python" if own else "python"
        if config.path.name == "pyproject.toml":
            where = f"tool.vrun.{where}"
        raise ConfigError(config.path, where, exc.message, exc.hint) from exc
    key = compute_key(session, config, interpreter, backend, load_pyproject(config))
    return SessionPlan(
        session, interpreter, key, install_plan(config, session), env_path(config.root, session.name, key)
    )


def ready_env(
    config: Config,
    plan: SessionPlan,
    backend: Backend,
    options: Options,
    *,
    environ: Mapping[str, str],
    lock: EnvLock | None = None,
) -> Env:
    """Find or build the env of ``plan``, holding its shared lock (see :func:`~vrun.envs.ensure_env`).

    In ``wheel`` mode the project is reinstalled into a reused env (its source may have
    changed since; tox does the same); ``editable`` installs need no such step.
    """
    env = ensure_env(
        config.root,
        plan.session.name,
        plan.key,
        plan.interpreter,
        backend,
        plan.install,
        environ=environ,
        recreate=options.recreate,
        no_install=options.no_install,
        verbose=options.verbose,
        lock=lock,
    )
    if not env.built and plan.session.install_project == "wheel" and not options.no_install:
        _LOG.info("reinstalling the project into %s (install_project = wheel)", env.path.name)
        backend.install(env.path, plan.install, environ=environ, verbose=options.verbose, reinstall=True)
    return env


def run_sessions(
    config: Config,
    sessions: Sequence[Session],
    backend: Backend,
    options: Options,
    posargs: Sequence[str] | None,
    *,
    posargs_sessions: set[str] | None = None,
    environ: Mapping[str, str] | None = None,
    plans: dict[str, SessionPlan] | None = None,
) -> list[SessionResult]:
    """Run ``sessions`` in order; a session whose requirement did not pass is skipped.

    :param posargs: what followed ``--``, or ``None``.
    :param posargs_sessions: the sessions that get ``posargs`` (others get ``None``);
        ``None`` means all.
    :param plans: filled with the plan of every session whose env was ready to run in.

    Never raises for a session's own failure (a missing interpreter, a failed build, a
    failed or missing command): that becomes its :class:`SessionResult`. An interrupt
    (SIGINT/SIGTERM/SIGHUP) stops the run after the current session.
    """
    environ = os.environ if environ is None else environ
    in_ci = bool(environ.get("CI"))
    results: dict[str, SessionResult] = {}
    github = environ.get("GITHUB_ACTIONS") == "true"
    for session in sessions:
        start = time.monotonic()
        failed_reqs = [
            r for r in required_names(config, session) if results.get(r, _NOT_RUN).status != Status.PASSED
        ]
        if failed_reqs:
            reason = f"requires {', '.join(failed_reqs)}, which did not pass"
            _LOG.warning("skipping %s: %s", session.name, reason)
            results[session.name] = SessionResult(session.name, Status.SKIPPED, 0.0, reason)
            continue
        if github:
            print(f"::group::vrun {session.name}", flush=True)
        _LOG.log(
            SESSION, "session %s%s", session.name, f": {session.description}" if session.description else ""
        )
        given = posargs if posargs_sessions is None or session.name in posargs_sessions else None
        result, received = _run_one(config, session, backend, options, given, environ, in_ci, start, plans)
        if github:
            print("::endgroup::", flush=True)
        results[session.name] = result
        if result.status == Status.PASSED:
            _LOG.log(SUCCESS, "session %s passed in %.1fs", session.name, result.duration)
        elif result.status == Status.FAILED:
            _LOG.error("session %s failed: %s", session.name, result.reason)
        if received is not None:
            break
    return list(results.values())


_NOT_RUN = SessionResult("", Status.SKIPPED, 0.0)


def _run_one(
    config: Config,
    session: Session,
    backend: Backend,
    options: Options,
    posargs: Sequence[str] | None,
    environ: Mapping[str, str],
    in_ci: bool,
    start: float,
    plans: dict[str, SessionPlan] | None,
) -> tuple[SessionResult, int | None]:
    def result(status: Status, reason: str = "", code: int = 0) -> SessionResult:
        return SessionResult(session.name, status, time.monotonic() - start, reason, code)

    def failed(exc: VrunError, reason: str | None = None) -> tuple[SessionResult, None]:
        _LOG.error("error: %s", exc.message)
        if exc.hint:
            _LOG.error("hint: %s", exc.hint)
        return result(Status.FAILED, exc.message if reason is None else reason, exc.exit_code), None

    try:
        plan = plan_session(config, session, backend.name, environ=environ, cache_dir=options.cache_dir)
    except InterpreterNotFoundError as exc:
        if options.skip_missing_interpreters and not in_ci:
            _LOG.warning("skipping %s: %s", session.name, exc.message)
            return result(Status.SKIPPED, f"no interpreter for {session.python!r}"), None
        return failed(exc, f"no interpreter for {session.python!r}")
    lock = lock_for(plan.env_dir)
    try:
        try:
            env = ready_env(config, plan, backend, options, environ=environ, lock=lock)
        except BuildError as exc:
            if exc.output:
                sys.stderr.write(exc.output if exc.output.endswith("\n") else exc.output + "\n")
            return failed(exc)
        except VrunError as exc:  # --no-install with no ready env, an unsafe leftover, ...
            return failed(exc)
        except KeyboardInterrupt:
            return result(Status.FAILED, "interrupted during the env build", 130), 2
        if not env.built:
            _LOG.info("reusing env %s", env.path.name)
        if plans is not None:
            plans[session.name] = plan
        try:
            code, reason, received = run_session_commands(
                session, env.path, posargs, caller_environ=environ, project_root=config.root
            )
        except VrunError as exc:  # a command not found (127), an empty command
            return failed(exc)
    finally:
        lock.release()
    if code == 0:
        return result(Status.PASSED), received
    return result(Status.FAILED, reason, code), received


def plan_record(
    config: Config,
    sessions: Sequence[Session],
    plans: Mapping[str, SessionPlan],
    posargs_sessions: set[str],
    environ: Mapping[str, str],
) -> dict[str, Any] | None:
    """What :mod:`vrun.fastpath` needs to repeat this run without parsing anything, or ``None``.

    Only a run in which every session reached its commands is recorded, and never one with
    ``install_project = "wheel"`` (that mode reinstalls the project on every run). The inputs
    are every file whose change could change the plan: the config files looked for on the
    way up from the working directory, the project's build metadata and every ``-r``/``-c``
    file (the env key's own inputs), each with its ``stat`` signature.
    """
    from vrun.fastpath import file_signature
    from vrun.resolve import material
    from vrun.runner import uses_posargs

    if any(s.name not in plans or s.install_project == "wheel" for s in sessions):
        return None
    paths: list[str] = []
    here = os.getcwd()
    while True:
        paths += [os.path.join(here, "vrun.toml"), os.path.join(here, "pyproject.toml")]
        parent = os.path.dirname(here)
        if os.path.samefile(here, config.root) or parent == here:
            break
        here = parent
    paths += [str(config.path), *(str(config.root / n) for n in ("pyproject.toml", "setup.py", "setup.cfg"))]
    records = []
    for session in sessions:
        plan = plans[session.name]
        for component in ("requirement_files", "constraint_files"):
            paths += [str(config.root / p) for p in plan.key.components[component]]
        records.append(
            {
                "name": session.name,
                "description": session.description,
                "env_dir": str(plan.env_dir),
                "marker_sig": file_signature(str(plan.env_dir / "vrun.json")),
                "python": session.python,
                "material": material(session.python, environ),
                "exe": plan.interpreter.executable,
                "exe_sig": file_signature(plan.interpreter.executable),
                "base": plan.interpreter.base_executable,
                "commands": [(list(c.argv), c.shell) for c in session.commands],
                "pass_env": list(session.pass_env),
                "set_env": [list(pair) for pair in session.env],
                "cwd": str(session.cwd),
                "requires": required_names(config, session),
                "posargs": uses_posargs(session),
                "explicit": session.name in posargs_sessions,
            }
        )
    unique = list(dict.fromkeys(os.path.normpath(p) for p in paths))
    return {
        "inputs": [(p, file_signature(p)) for p in unique],
        "root": str(config.root),
        "venvs": str(config.root / ".venvs"),
        "sessions": records,
    }
