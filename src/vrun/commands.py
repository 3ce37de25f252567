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
from typing import Any

from vrun.config import Config, Session
from vrun.errors import InterpreterNotFoundError, UsageError
from vrun.workflow import Options, SessionPlan

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
    explicit = {s.name for s in direct}
    plans: dict[str, SessionPlan] = {}
    results = run_sessions(
        config, sessions, backend, options(args), posargs, posargs_sessions=explicit, plans=plans
    )
    if _plain(args):
        from vrun.fastpath import plan_key, write_plan
        from vrun.workflow import plan_record

        record = plan_record(config, sessions, plans, explicit, os.environ)
        if record is not None:
            write_plan(plan_key(args.sessions, os.environ), os.environ, record)
    for level, line in summary_lines(results):
        _LOG.log(level, "%s", line)
    failed = [r for r in results if r.status == Status.FAILED]
    if failed:
        return failed[0].exit_code or 1
    if any(r.status == Status.SKIPPED and r.reason.startswith("requires") for r in results):
        return 1
    return 0


def _plain(args: argparse.Namespace) -> bool:
    """True for a plain ``vrun NAME... [-- POSARGS]``: the only form the plan cache repeats."""
    flags = (
        args.config,
        args.keyword,
        args.tag,
        args.recreate,
        args.no_install,
        args.skip_missing_interpreters,
    )
    return not any(flags) and (args.verbose, args.quiet, args.color, args.backend) == (0, 0, "auto", None)


def session_state(config: Config, session: Session, backend: str) -> tuple[str, str]:
    """``(state, detail)`` of a session's env: ``ready``, ``stale``, ``absent`` or ``no python``."""
    from vrun.envs import iter_envs, marker_problem
    from vrun.workflow import plan_session

    try:
        plan = plan_session(config, session, backend, environ=os.environ, cache_dir=None)
    except InterpreterNotFoundError as exc:
        return "no python", exc.message
    except UsageError as exc:  # an invalid spec: show it, do not stop the listing
        return "bad python", exc.message
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

        return int(list_envs(config, backend_name(args), as_json=args.json))
    rows: list[dict[str, Any]] = []
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
    width = max([len("session")] + [len(r["name"]) for r in rows])
    pywidth = max([6] + [len(r["python"]) for r in rows])
    print(f"  {'session':<{width}}  {'python':<{pywidth}}  {'env':<9}  description")
    for r in rows:
        mark = "*" if r["default"] else " "
        tags = f" [{', '.join(r['tags'])}]" if r["tags"] else ""
        name, python, state = r["name"], r["python"], r["state"]
        print(f"{mark} {name:<{width}}  {python:<{pywidth}}  {state:<9}  {r['description']}{tags}")
    print("(* runs by default)")
    return 0


def one_session(config: Config, name: str) -> Session:
    """The single session ``name`` stands for.

    A matrix base name (``test`` for ``test-3.11``, ``test-3.12``) stands for its first entry,
    and a log line says which one and how to choose another.

    :raises UsageError: for an unknown name (with a did-you-mean hint).
    """
    from vrun.runner import select_sessions

    if name in config.sessions:
        return config.sessions[name]
    chosen = select_sessions(config, [name], with_requires=False)
    if len(chosen) > 1:
        others = ", ".join(s.name for s in chosen[1:])
        _LOG.info("%s is a matrix; using %s (name one of %s to choose)", name, chosen[0].name, others)
    return chosen[0]


def _ready(args: argparse.Namespace, config: Config, session: Session, *, inheritable: bool = False) -> Path:
    """Find or build ``session``'s env, keep its shared lock (inheritable for a shell); its path."""
    from vrun.backends import get_backend
    from vrun.envs import lock_for
    from vrun.workflow import plan_session, ready_env

    backend = get_backend(backend_name(args))
    plan = plan_session(config, session, backend.name, environ=os.environ, cache_dir=None)
    lock = lock_for(plan.env_dir, inheritable=inheritable)
    env = ready_env(config, plan, backend, options(args), environ=os.environ, lock=lock)
    _KEPT_LOCKS.append(lock)  # held until exit (or, inherited, for the shell's lifetime)
    return env.path


_KEPT_LOCKS: list[object] = []


def cmd_shell(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun shell SESSION``: exec the user's interactive shell with the env activated."""
    from vrun.shell import detect_shell, exec_shell, inherited_env_problem, refuse_nested, shell_exec_plan

    if posargs is not None:
        raise UsageError(
            "vrun shell takes no command", hint=f"to run a command in the env: vrun run {args.session} -- CMD"
        )
    refuse_nested(os.environ)
    kind, executable = detect_shell(os.environ, args.shell)
    problem = inherited_env_problem(os.environ)
    if problem:
        _LOG.warning("%s", problem)
    config = load(args)
    session = one_session(config, args.session)
    env_dir = _ready(args, config, session, inheritable=True)
    _LOG.info("starting %s with %s activated; `exit` to leave", kind, env_dir.name)
    for handler in logging.getLogger("vrun").handlers:
        handler.flush()
    exec_shell(
        shell_exec_plan(kind, executable, env_dir, session.name, shell_environ(session, env_dir, config))
    )


def shell_environ(session: Session, env_dir: Path, config: Config) -> dict[str, str]:
    """The environment a ``vrun shell`` starts from: the caller's, as an interactive shell needs it,
    except ``PYTHONPATH`` (it would leak other code into the env; kept only when the session's
    ``pass_env`` names it), with the session's ``env`` (set_env) applied.
    """
    from vrun.execute import passes_pythonpath, substitute

    environ = dict(os.environ)
    if "PYTHONPATH" in environ and not passes_pythonpath(session.pass_env):
        _LOG.info("PYTHONPATH is not passed into the env (name it in pass_env to keep it)")
        del environ["PYTHONPATH"]
    for key, value in session.env:
        environ[key] = substitute(
            value, env_dir=str(env_dir), project_root=str(config.root), session=session.name
        )
    return environ


def cmd_activate(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun activate SESSION``: print code that activates the env in the current shell."""
    import sys

    from vrun.shell import activate_code, detect_shell, inherited_env_problem

    kind, _exe = detect_shell(os.environ, args.shell)
    if inherited_env_problem(os.environ):
        _LOG.warning(
            "VIRTUAL_ENV=%s was inherited but is not active; its bin/ stays on PATH so that `deactivate` "
            "restores PATH exactly (`vrun shell` starts with a clean PATH instead)",
            os.environ["VIRTUAL_ENV"],
        )
    config = load(args)
    session = one_session(config, args.session)
    env_dir = _ready(args, config, session)
    sys.stdout.write(activate_code(kind, env_dir, session.name))
    return 0


def cmd_run(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun run SESSION -- CMD [ARGS...]``: run any command in the session's env.

    Same environment, lookup and exit-status rules as session commands.
    """
    from vrun.runner import resolve_program, run_command, session_environ

    if not posargs:
        raise UsageError("vrun run needs a command", hint=f"vrun run {args.session} -- python -V")
    config = load(args)
    session = one_session(config, args.session)
    env_dir = _ready(args, config, session)
    environ = session_environ(session, env_dir, os.environ, project_root=config.root)
    argv = resolve_program(list(posargs), environ, cwd=Path.cwd(), env_dir=env_dir)
    status, received = run_command(argv, environ=environ, cwd=os.getcwd())
    return 128 + received if received is not None else status


def cmd_path(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun path SESSION``: print the env's path; build it only with ``--build``."""
    from vrun.envs import marker_problem
    from vrun.workflow import plan_session

    config = load(args)
    session = one_session(config, args.session)
    if args.build:
        print(_ready(args, config, session))
        return 0
    plan = plan_session(config, session, backend_name(args), environ=os.environ, cache_dir=None)
    problem = marker_problem(plan.env_dir, plan.key.digest)
    if problem is not None:
        _LOG.error(
            "session %s has no ready env (%s): run `vrun path --build %s`",
            session.name,
            problem,
            args.session,
        )
        return 1
    print(plan.env_dir)
    return 0


def cmd_rm(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun rm SESSION...``: remove the sessions' envs (rmvirtualenv)."""
    from vrun.manage import remove_sessions

    config = load(args)
    return int(remove_sessions(config, args.sessions))


def cmd_gc(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun gc``: remove envs that no longer match the config, keeping ``--keep`` per session."""
    from vrun.manage import collect_garbage

    if args.keep < 0:
        raise UsageError("--keep must be 0 or more")
    config = load(args)
    return int(collect_garbage(config, backend_name(args), keep=args.keep, dry_run=args.dry_run))


def cmd_freeze(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun freeze SESSION [-o FILE]``: the env's distributions as pinned requirements."""
    from vrun.manage import freeze

    config = load(args)
    session = one_session(config, args.session)
    return int(freeze(config, session, backend_name(args), output=args.output))
