"""What the subcommands share: the config a command line names, one session by name, a plan of
it alone, and its env found or built through the session loop."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vrun import output
from vrun.config.load import Config, Session
from vrun.config.selection import select_sessions
from vrun.errors import EXIT_USAGE, VrunError
from vrun.plan.planner import RecordingEnviron, make_plan
from vrun.run.loop import ready_env
from vrun.run.rules import RunOptions

if TYPE_CHECKING:
    from vrun._types import Plan, RunnableSessionPlan, SessionPlan


def load(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The project's config (``--config FILE``, else the nearest one) and notices to show."""
    from vrun.config.load import load_config, load_project_config

    if args.config is not None:
        return load_config(args.config.resolve()), []
    return load_project_config(Path.cwd())


def options(args: argparse.Namespace) -> RunOptions:
    """The :class:`~vrun.run.rules.RunOptions` the arguments ask for."""
    return RunOptions(
        recreate=getattr(args, "recreate", False),
        no_install=getattr(args, "no_install", False),
        skip_missing_interpreters=getattr(args, "skip_missing_interpreters", False),
        fail_fast=getattr(args, "fail_fast", False),
        install_only=getattr(args, "install_only", False),
        jobs=getattr(args, "parallel", 0) or 0,
        child=getattr(args, "parallel_child", None) is not None,
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
    args: argparse.Namespace, config: Config, session: Session, *, probe: bool = True, build: bool = False
) -> Plan:
    """A plan of ``session`` alone, as the session loop would get it.

    :param build: the plan is for building the env: ``--locked`` / ``locked = true`` apply.
    :raises VrunError: when its interpreter is missing (exit 2).
    :raises LockError: with ``build``, the session must install from a lock file it lacks (exit 1).
    """
    plan = make_plan(
        config,
        [session],
        explicit=set(),
        environ=RecordingEnviron(os.environ),
        backend=args.backend,
        probe=probe,
        locked=getattr(args, "locked", False),
        refuse=build,
    )
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
    """Find or build ``session``'s env through the session loop's :func:`~vrun.run.loop.ready_env` and keep
    its shared lock until exit (inheritable: for the lifetime of an exec'd shell); its session plan."""
    from vrun.env.flock import lock_for

    plan = single_plan(args, config, session, build=True)
    session_plan = refuse_error(plan["sessions"][0])  # single_plan refused an error already
    lock = lock_for(session_plan["env_dir"], inheritable=inheritable)
    _KEPT_LOCKS.append(lock)
    ready_env(plan, session_plan, options(args), os.environ, lock)
    return session_plan
