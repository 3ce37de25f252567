"""What the subcommands share: the config a command line names, one session by name, a plan of
it alone, and its env found or built through the session loop."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vrun import inputs, output
from vrun.config.load import Config, Session
from vrun.config.selection import select_sessions
from vrun.errors import EXIT_USAGE, UsageError, VrunError
from vrun.plan.planner import RecordingEnviron, make_plan
from vrun.plan.pythons import downloads_policy
from vrun.run.loop import ready_env
from vrun.run.rules import RunOptions

if TYPE_CHECKING:
    from vrun._types import Plan, RunnableSessionPlan, SessionPlan


def load(args: argparse.Namespace) -> Config:
    """The project's config (``--config FILE``, else the nearest one); its notices (both
    ``vrun.toml`` and ``[tool.vrun]``) are printed as warnings, once."""
    return load_named(args, [])[0]


def load_named(args: argparse.Namespace, names: Sequence[str]) -> tuple[Config, list[str]]:
    """:func:`load`, for a command line naming ``names``: the config with the session of the script
    among them, if any, and the names with the script's replaced by its session's
    (:func:`load_with_script`)."""
    config, notices, names = load_with_script(args, names)
    for notice in notices:
        output.warning(notice)
    return config, names


def load_with_script(
    args: argparse.Namespace, names: Sequence[str], environ: Mapping[str, str] = os.environ
) -> tuple[Config, list[str], list[str]]:
    """:func:`load_with_notices` for a command line naming ``names``, one of which may be a script:
    a path ending in ``.py`` that names no session (``vrun SCRIPT.py [-- ARGS]``, as ``uv run
    SCRIPT.py``). The script becomes a session of its own (:func:`vrun.config.load.script_config`),
    added to the project's config, or, outside a project, to a config whose envs live in vrun's user
    cache (``<cache dir>/scripts/.venvs/``, the folder made here).

    :param environ: the planning environment (it names the cache directory).
    :returns: the config, its notices, and ``names`` with the script's replaced by its session's name.
    :raises UsageError: no config is found and no script is named; a script is named with other
        names (a script runs alone); the script is missing or has no PEP 723 block.
    :raises ConfigError: the config is invalid, or the script's block is malformed.
    """
    from vrun.config.load import script_config

    scripts = [name for name in names if name.endswith(".py")]
    try:
        found: tuple[Config, list[str]] | None = load_with_notices(args)
    except UsageError:  # no config found: a script may still run
        if not scripts or args.config is not None:
            raise
        found = None
    if found is not None:
        scripts = [n for n in scripts if n not in found[0].sessions and n not in found[0].matrix]
        if not scripts:
            return found[0], found[1], list(names)
    if len(names) > 1:
        raise UsageError(
            f"{scripts[0]} is a script, and a script runs alone",
            f"run it on its own: vrun {scripts[0]} [-- ARGS]",
        )
    config, notices = found if found is not None else (None, [])
    root = str(config.root) if config is not None else os.path.join(inputs.cache_dir(environ), "scripts")
    os.makedirs(root, exist_ok=True)
    config, session = script_config(config, scripts[0], cwd=os.getcwd(), root=root)
    return config, notices, [session.name]


def load_with_notices(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """:func:`load` without printing: the config and its notices, for a plan to show on every run
    (the warm path included)."""
    from vrun.config.load import load_config, load_project_config

    if args.config is not None:
        return load_config(args.config.resolve()), []
    return load_project_config(Path.cwd())


class RunArgs(Protocol):
    """The run options as a parsed command line holds them: every parser that runs or builds
    sessions has each of them (:func:`vrun.arguments.build_parsers`; one without the flag gives
    the value that changes nothing)."""

    recreate: bool
    no_install: bool
    skip_missing_interpreters: bool
    fail_fast: bool
    install_only: bool
    parallel: int
    parallel_child: str | None


def options(args: RunArgs) -> RunOptions:
    """The :class:`~vrun.run.rules.RunOptions` the command line asks for: a run of sessions, or
    the build of one session's env (``shell``, ``activate``, ``run``, ``path --build``)."""
    return RunOptions(
        recreate=args.recreate,
        no_install=args.no_install,
        skip_missing_interpreters=args.skip_missing_interpreters,
        fail_fast=args.fail_fast,
        install_only=args.install_only,
        jobs=args.parallel,
        child=args.parallel_child is not None,
    )


def one_session(config: Config, name: str) -> Session:
    """The single session ``name`` stands for.

    A matrix base name (``test`` for ``test-3.11``, ``test-3.12``) stands for its first entry,
    and a log line says which one and how to choose another.

    :raises UsageError: for an unknown name (with a did-you-mean hint).
    """
    if name in config.sessions:
        return config.sessions[name]
    chosen = select_sessions(config, [name], with_requires=False)
    if len(chosen) > 1:
        others = ", ".join(s.name for s in chosen[1:])
        output.info(f"{name} is a matrix; using {chosen[0].name} (name one of {others} to choose)")
    return chosen[0]


def single_plan(
    args: argparse.Namespace,
    config: Config,
    session: Session,
    *,
    probe: bool = True,
    build: bool = False,
    locked: bool = False,
) -> Plan:
    """A plan of ``session`` alone, as the session loop would get it.

    :param build: the plan is for building the env: ``locked`` (``--locked``) and
        ``locked = true`` apply, and a missing interpreter is installed as ``python_downloads``
        says (:func:`vrun.plan.pythons.downloads_policy`).
    :raises VrunError: when its interpreter is missing (exit 2).
    :raises LockError: with ``build``, the session must install from a lock file it lacks (exit 1).
    """
    environ = RecordingEnviron(os.environ)
    with inputs.recording() as recorder:
        downloads = None  # a plan that builds nothing installs no Python either
        if build:
            downloads = downloads_policy(config.python_downloads, args.download_python, environ)
        plan = make_plan(
            config,
            [session],
            explicit=set(),
            environ=environ,
            backend=args.backend,
            probe=probe,
            locked=locked,
            refuse=build,
            downloads=downloads,
        )
    plan["inputs"] = dict(recorder.files)  # a build checks them (vrun.env.build.changed_inputs)
    refuse_error(plan["sessions"][0])
    return plan


def refuse_error(session_plan: SessionPlan) -> RunnableSessionPlan:
    """Raise the error planning found for a session (its interpreter is missing: exit 2), if any;
    else return ``session_plan``, which then has an interpreter and an env."""
    if session_plan["error"] is not None:
        exc = VrunError(session_plan["error"], session_plan["error_hint"])
        exc.exit_code = EXIT_USAGE
        raise exc
    return session_plan


_KEPT_LOCKS: list[object] = []


def ready(
    args: argparse.Namespace, config: Config, session: Session, *, inheritable: bool = False
) -> RunnableSessionPlan:
    """Find or build ``session``'s env through the session loop's :func:`~vrun.run.loop.ready_env`,
    with the command line's :func:`options`, and keep its shared lock until exit (inheritable:
    for the lifetime of an exec'd shell); its session plan."""
    from vrun.env.flock import lock_for

    plan = single_plan(args, config, session, build=True, locked=args.locked)
    session_plan = refuse_error(plan["sessions"][0])  # single_plan refused an error already
    lock = lock_for(session_plan["env_dir"], inheritable=inheritable)
    _KEPT_LOCKS.append(lock)
    ready_env(plan, session_plan, options(args), os.environ, lock)
    return session_plan
