"""What each subcommand does, given its parsed arguments. ``cli`` only dispatches here.

Every ``cmd_*`` function takes the parsed :class:`argparse.Namespace` and the posargs (what
followed ``--``, or ``None``) and returns the exit status; errors are raised as
:class:`~vrun.errors.VrunError` for ``cli`` to report.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from vrun.config import Config, Session
from vrun.errors import InterpreterNotFoundError, UsageError
from vrun.workflow import Options

_LOG = logging.getLogger("vrun")


def load(args: argparse.Namespace) -> Config:
    """The project's config: ``--config FILE``, else the nearest one from the working directory."""
    from vrun.config import load_config, load_project_config

    if args.config is not None:
        return load_config(args.config.resolve())
    config, notices = load_project_config(Path.cwd())
    for notice in notices:
        _LOG.warning("%s", notice)
    return config


def backend_name(args: argparse.Namespace) -> str:
    """``--backend``, else ``$VRUN_BACKEND``, else ``virtualenv``."""
    return str(args.backend or os.environ.get("VRUN_BACKEND") or "virtualenv")


def options(args: argparse.Namespace) -> Options:
    """The :class:`~vrun.workflow.Options` the arguments ask for."""
    return Options(
        recreate=getattr(args, "recreate", False),
        no_install=getattr(args, "no_install", False),
        skip_missing_interpreters=getattr(args, "skip_missing_interpreters", False),
        verbose=args.verbose > 0,
    )


def _check_posargs(sessions: Sequence[Session], posargs: Sequence[str] | None) -> None:
    from vrun.runner import uses_posargs

    if not posargs:
        return
    for session in sessions:
        if session.commands and not uses_posargs(session):
            example = session.commands[0].source or " ".join(session.commands[0].argv)
            raise UsageError(
                f"session {session.name} does not take posargs ({' '.join(posargs)})",
                hint=f'add {{posargs}} to one of its commands, e.g. commands = ["{example} {{posargs}}"]',
            )


def cmd_sessions(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun [NAME...]``: run sessions, print the summary, return the overall status.

    Posargs go to the sessions the user selected, not to those pulled in by ``requires``.
    Exit 0 when every session passed, or was skipped for a missing interpreter under
    ``--skip-missing-interpreters`` (what that flag asks for); else the first failure's status.
    """
    from vrun.backends import get_backend
    from vrun.config import BUILTIN_COMMANDS
    from vrun.output import summary_lines
    from vrun.runner import Status, select_sessions
    from vrun.workflow import run_sessions

    clashing = [n for n in args.sessions if n in BUILTIN_COMMANDS]
    if clashing:
        raise UsageError(
            f"{clashing[0]!r} is a subcommand, not a session",
            hint=f"put options after it: vrun {clashing[0]} ...",
        )
    config = load(args)
    sessions = select_sessions(config, args.sessions, keyword=args.keyword, tags=args.tag)
    direct = select_sessions(config, args.sessions, keyword=args.keyword, tags=args.tag, with_requires=False)
    _check_posargs(direct, posargs)
    backend = get_backend(backend_name(args))
    results = run_sessions(
        config, sessions, backend, options(args), posargs, posargs_sessions={s.name for s in direct}
    )
    if len(results) > 1 or any(r.status != Status.PASSED for r in results):
        for level, line in summary_lines(results):
            _LOG.log(level, "%s", line)
    failed = [r for r in results if r.status == Status.FAILED]
    if failed:
        return failed[0].exit_code or 1
    if any(r.status == Status.SKIPPED and r.reason.startswith("requires") for r in results):
        return 1
    return 0


def session_state(config: Config, session: Session, backend: str) -> tuple[str, str]:
    """``(state, detail)`` of a session's env: ``ready``, ``stale``, ``absent`` or ``no python``."""
    from vrun.envs import iter_envs, marker_problem
    from vrun.workflow import plan_session

    try:
        plan = plan_session(config, session, backend, environ=os.environ, cache_dir=None)
    except InterpreterNotFoundError as exc:
        return "no python", exc.message
    if marker_problem(plan.env_dir, plan.key.digest) is None:
        return "ready", str(plan.env_dir)
    if any(info.session == session.name for info in iter_envs(config.root)):
        return "stale", "an env exists, built for other inputs"
    return "absent", ""


def cmd_list(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun list``: the sessions with python, env state, tags and description."""
    from vrun.cli import print_json

    if posargs:
        raise UsageError("vrun list takes no posargs")
    config = load(args)
    if args.envs:
        from vrun.manage import list_envs

        return list_envs(config, backend_name(args), as_json=args.json)
    rows = []
    for session in config.sessions.values():
        state, detail = session_state(config, session, backend_name(args))
        rows.append(
            {
                "name": session.name,
                "python": session.python or "(vrun's)",
                "state": state,
                "tags": list(session.tags),
                "description": session.description,
                "default": config.default is None
                or session.name in config.default
                or session.base_name in config.default,
                "detail": detail,
            }
        )
    if args.json:
        print_json(rows)
        return 0
    width = max(len(r["name"]) for r in rows) if rows else 7
    pywidth = max([6] + [len(r["python"]) for r in rows])
    print(f"  {'session':<{width}}  {'python':<{pywidth}}  {'env':<9}  description")
    for r in rows:
        mark = "*" if r["default"] else " "
        tags = f" [{', '.join(r['tags'])}]" if r["tags"] else ""
        print(
            f"{mark} {r['name']:<{width}}  {r['python']:<{pywidth}}  {r['state']:<9}  {r['description']}{tags}"
        )
    print("(* runs by default)")
    return 0
