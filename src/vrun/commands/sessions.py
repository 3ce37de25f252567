"""What each subcommand does, given its parsed arguments. :mod:`vrun.cli` only dispatches here.

Every ``cmd_*`` function takes the parsed :class:`argparse.Namespace` and the posargs (what
followed ``--``, or ``None``) and returns the exit status; errors are raised as
:class:`~vrun.errors.VrunError` for ``cli`` to report. Running sessions goes through
:mod:`vrun.plan.planner` and the one session loop, :func:`vrun.run.loop.run_plan`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from vrun import inputs, output
from vrun.config.load import BUILTIN_COMMANDS, Config, Session
from vrun.config.selection import select_sessions
from vrun.errors import EXIT_FAILURE, EXIT_USAGE, UsageError, VrunError
from vrun.plan.planner import RecordingEnviron, make_plan, session_state
from vrun.run.loop import RunOptions, ready_env, run_plan


def load(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The project's config (``--config FILE``, else the nearest one) and notices to show."""
    from vrun.config.load import load_config, load_project_config

    if args.config is not None:
        return load_config(args.config.resolve()), []
    return load_project_config(Path.cwd())


def options(args: argparse.Namespace) -> RunOptions:
    """The :class:`~vrun.run.loop.RunOptions` the arguments ask for."""
    return RunOptions(
        recreate=getattr(args, "recreate", False),
        no_install=getattr(args, "no_install", False),
        skip_missing_interpreters=getattr(args, "skip_missing_interpreters", False),
        fail_fast=getattr(args, "fail_fast", False),
        install_only=getattr(args, "install_only", False),
        jobs=getattr(args, "parallel", 0) or 0,
        child=getattr(args, "parallel_child", None) is not None,
    )


def cmd_sessions(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun [NAME...]``: plan the selected sessions, run them, store the plan when allowed.

    Posargs go to the sessions the user selected, not to those pulled in by ``requires``. The plan
    is stored (:mod:`vrun.plan.cache`) only for an invocation in the allow-list (``args.cache_names``).
    ``--report`` and ``--junitxml`` are written from the results. ``--parallel-child PLAN`` (what
    :mod:`vrun.run.parallel` starts) runs the stored plan of one session instead of planning.
    """
    import time

    from vrun.plan import cache

    started, clock = time.time(), time.monotonic()
    if args.parallel_child is not None:
        import marshal

        with open(args.parallel_child, "rb") as fh:
            plan = marshal.load(fh)
        code, results = run_plan(plan, posargs, options(args), os.environ)
        return write_reports(args, results, code, started, time.monotonic() - clock)

    clashing = [n for n in args.sessions if n in BUILTIN_COMMANDS]
    if clashing:
        raise UsageError(
            f"{clashing[0]!r} is a subcommand, not a session",
            hint=f"put options after it: vrun {clashing[0]} ...",
        )
    environ = RecordingEnviron(os.environ)
    with inputs.recording() as recorder:
        config, notices = load(args)
        sessions = select_sessions(config, args.sessions, keyword=args.keyword, tags=args.tag)
        direct = select_sessions(
            config, args.sessions, keyword=args.keyword, tags=args.tag, with_requires=False
        )
        plan = make_plan(
            config,
            sessions,
            explicit={s.name for s in direct},
            environ=environ,
            backend=args.backend,
            notices=notices,
            locked=args.locked,
            refuse=True,
        )
    plan.update(inputs=dict(recorder.files), environ=dict(recorder.environ), started_ns=recorder.started_ns)
    code, results = run_plan(plan, posargs, options(args), os.environ)
    if args.cache_names is not None and code != EXIT_USAGE:
        cache.store(args.cache_names, plan, os.environ)
    return write_reports(args, results, code, started, time.monotonic() - clock)


def write_reports(
    args: argparse.Namespace, results: list[dict[str, Any]], code: int, started: float, duration: float
) -> int:
    """Write ``--report FILE`` (:func:`vrun.report.results.json_report`) and ``--junitxml FILE``; return the
    exit status: ``code``, or 1 instead of 0 when a file could not be written (an ``error:`` line)."""
    if args.report is None and args.junitxml is None:
        return code
    from vrun import __version__
    from vrun.report.results import json_report, write_json_report, write_junit

    try:
        if args.report is not None:
            report = json_report(
                results,  # type: ignore[arg-type]
                version=__version__,
                argv=sys.argv[1:],
                exit_code=code,
                started=started,
                duration=duration,
            )
            write_json_report(args.report, report)
        if args.junitxml is not None:
            write_junit(args.junitxml, results)  # type: ignore[arg-type]
    except OSError as exc:
        output.error(f"cannot write {exc.filename or 'the report'}: {exc.strerror or exc}")
        return code or EXIT_FAILURE
    return code


def cmd_list(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun list``: the sessions with python, env state, tags and description. Runs no program
    the config names (an interpreter given as a path is not probed)."""
    if posargs:
        raise UsageError("vrun list takes no posargs")
    config, _ = load(args)
    if args.envs:
        from vrun.commands.manage import list_envs

        return list_envs(config, args.backend, as_json=args.json)
    from vrun.env.layout import env_path, marker_problem

    environ = RecordingEnviron(os.environ)
    rows: list[dict[str, Any]] = []
    for session in config.sessions.values():
        state, detail, digest = session_state(config, session, environ, args.backend)
        if state == "stale" and digest is not None:  # say why the env at the current key is not ready
            problem = marker_problem(env_path(str(config.root), session.name, digest), digest)
            if problem == "incomplete build":
                state, detail = "incomplete", "an interrupted build, or its marker is corrupt"
            elif problem not in (None, "absent"):
                detail = problem
        rows.append(
            {
                "name": session.name,
                "base_name": session.base_name,
                "python": session.python,
                "state": state,
                "env_key": digest,
                "tags": list(session.tags),
                "description": session.description,
                "default": config.default is None
                or session.name in config.default
                or session.base_name in config.default,
                "detail": detail,
            }
        )
    if args.json:
        output.print_json(rows)
        return 0
    width = max([len("session")] + [len(r["name"]) for r in rows])
    pywidth = max([6] + [len(r["python"] or "(vrun's)") for r in rows])
    print(f"  {'session':<{width}}  {'python':<{pywidth}}  {'env':<10}  description")
    for r in rows:
        mark = "*" if r["default"] else " "
        tags = f" [{', '.join(r['tags'])}]" if r["tags"] else ""
        python = r["python"] or "(vrun's)"
        print(f"{mark} {r['name']:<{width}}  {python:<{pywidth}}  {r['state']:<10}  {r['description']}{tags}")
    print("(* runs by default)")
    return 0


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
) -> dict[str, Any]:
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


def refuse_error(entry: dict[str, Any]) -> None:
    """Raise the error planning found for a session (its interpreter is missing: exit 2), if any."""
    if entry["error"] is not None:
        exc = VrunError(entry["error"], entry["error_hint"])
        exc.exit_code = EXIT_USAGE
        raise exc


_KEPT_LOCKS: list[object] = []


def ready(
    args: argparse.Namespace, config: Config, session: Session, *, inheritable: bool = False
) -> dict[str, Any]:
    """Find or build ``session``'s env through the session loop's :func:`~vrun.run.loop.ready_env` and keep
    its shared lock until exit (inheritable: for the lifetime of an exec'd shell); its session plan."""
    from vrun.env.layout import lock_for

    plan = single_plan(args, config, session, build=True)
    entry: dict[str, Any] = plan["sessions"][0]
    lock = lock_for(entry["env_dir"], inheritable=inheritable)
    _KEPT_LOCKS.append(lock)
    ready_env(plan, entry, options(args), os.environ, lock)
    return entry


def cmd_shell(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun shell SESSION``: exec the user's interactive shell with the env activated."""
    from vrun.commands.activation import plan_shim
    from vrun.commands.shell import (
        clean_environ,
        default_rc_root,
        detect_shell,
        exec_shell,
        inherited_env_problem,
        refuse_nested,
        shell_exec_plan,
    )

    if posargs is not None:
        raise UsageError(
            "vrun shell takes no command", hint=f"to run a command in the env: vrun run {args.session} -- CMD"
        )
    refuse_nested(os.environ)
    kind, executable = detect_shell(os.environ, args.shell)
    problem = inherited_env_problem(os.environ)
    if problem:
        output.warning(problem)
    config, _ = load(args)
    session = one_session(config, args.session)
    env_dir = ready(args, config, session, inheritable=True)["env_dir"]
    output.info(f"starting {kind} with {os.path.basename(env_dir)} activated; `exit` to leave")
    environ = shell_environ(session, env_dir, config)
    rc_root = default_rc_root(environ)
    shim = plan_shim(clean_environ(environ, Path(env_dir)).get("PATH", ""), rc_root)
    exec_shell(shell_exec_plan(kind, executable, Path(env_dir), session.name, environ, rc_root, shim))


def shell_environ(session: Session, env_dir: str, config: Config) -> dict[str, str]:
    """The environment a ``vrun shell`` starts from: the caller's, as an interactive shell needs it,
    except ``PYTHONPATH`` (it would leak other code into the env; kept only when the session's
    ``pass_env`` names it), with the session's ``env`` (set_env) applied."""
    from vrun.run.compose import Values, passes_pythonpath, set_env_values

    environ = dict(os.environ)
    values = Values(
        env_dir=env_dir, project_root=str(config.root), session=session.name, caller=os.environ, tmp="keep"
    )
    if "PYTHONPATH" in environ and not passes_pythonpath(session.pass_env):
        output.info("PYTHONPATH is not passed into the env (name it in pass_env to keep it)")
        del environ["PYTHONPATH"]
    environ.update(set_env_values(session.env, values))
    return environ


def cmd_activate(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun activate SESSION``: print code that activates the env in the current shell."""
    from vrun.commands.activation import activate_code, plan_shim
    from vrun.commands.shell import (
        clean_environ,
        default_rc_root,
        detect_shell,
        inherited_env_problem,
        write_shim,
    )

    kind, _exe = detect_shell(os.environ, args.shell)
    if inherited_env_problem(os.environ):
        output.warning(
            f"VIRTUAL_ENV={os.environ['VIRTUAL_ENV']} was inherited but is not active; its bin/ stays on "
            "PATH "
            "so that `deactivate` restores PATH exactly (`vrun shell` starts with a clean PATH instead)"
        )
    config, _ = load(args)
    session = one_session(config, args.session)
    env_dir = ready(args, config, session)["env_dir"]
    # activate's first step deactivates an active venv: vrun's own command must not go with it
    after = clean_environ(os.environ, Path(env_dir)).get("PATH", "")
    shim = plan_shim(after, default_rc_root(os.environ))
    if shim is not None:
        write_shim(shim)
    sys.stdout.write(activate_code(kind, Path(env_dir), session.name, shim.directory if shim else None))
    return 0


def cmd_run(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun run SESSION -- CMD [ARGS...]``: run any command in the session's env.

    Same environment, lookup and signal rules as session commands; the command's own exit status
    is vrun's (like ``uv run``), 128+N when it was killed by signal N.
    """
    from vrun.process import resolve_program, run_command
    from vrun.run.compose import Values, command_environ

    if not posargs:
        raise UsageError("vrun run needs a command", hint=f"vrun run {args.session} -- python -V")
    config, _ = load(args)
    session = one_session(config, args.session)
    s = ready(args, config, session)
    values = Values(
        env_dir=s["env_dir"], project_root=str(config.root), session=s["name"], caller=os.environ, tmp="keep"
    )
    environ = command_environ(pass_env=s["pass_env"], set_env=s["set_env"], values=values)
    argv, note = resolve_program(
        list(posargs), environ, cwd=os.getcwd(), env_dir=s["env_dir"], external=s["external"]
    )
    if note:
        output.info(note)
    outcome = run_command(argv, environ=environ, cwd=os.getcwd())
    return 128 + outcome.received if outcome.received is not None else outcome.status


def cmd_path(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun path SESSION``: print the env's path; build it only with ``--build``."""
    config, _ = load(args)
    session = one_session(config, args.session)
    if args.build:
        print(ready(args, config, session)["env_dir"])
        return 0
    entry = single_plan(args, config, session, probe=False)["sessions"][0]
    if entry["marker"] is None:
        from vrun.env.layout import marker_problem
        from vrun.errors import EnvNotReadyError

        problem = marker_problem(entry["env_dir"], entry["digest"])
        raise EnvNotReadyError(
            f"session {session.name} has no ready env ({os.path.basename(entry['env_dir'])}: {problem})",
            hint=f"run `vrun path --build {args.session}`",
        )
    print(entry["env_dir"])
    return 0


def cmd_rm(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun rm SESSION...``: remove the sessions' envs (rmvirtualenv)."""
    from vrun.commands.manage import remove_sessions

    config, _ = load(args)
    return remove_sessions(config, args.sessions)


def cmd_gc(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun gc``: remove envs that no longer match the config, keeping ``--keep`` per session."""
    from vrun.commands.manage import collect_garbage

    if args.keep < 0:
        raise UsageError("--keep must be 0 or more")
    config, _ = load(args)
    return collect_garbage(config, args.backend, keep=args.keep, dry_run=args.dry_run)


def cmd_freeze(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun freeze SESSION [-o FILE]``: the env's distributions as pinned requirements."""
    from vrun.commands.freeze import freeze

    config, _ = load(args)
    session = one_session(config, args.session)
    return freeze(config, session, single_plan(args, config, session)["sessions"][0], output_path=args.output)


def cmd_explain(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun explain SESSION...``: every input of the sessions' env keys, and what the next run does
    with their envs (:mod:`vrun.commands.explain`). Builds nothing."""
    from vrun.commands.explain import explain

    if posargs is not None:
        raise UsageError("vrun explain takes no posargs", hint="posargs are not part of the env key")
    config, _ = load(args)
    return explain(config, args.sessions, backend=args.backend, as_json=args.json)


def cmd_show(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun show SESSION... [-- POSARGS]``: the sessions as vrun would run them
    (:mod:`vrun.commands.show`)."""
    from vrun.commands.show import show

    config, _ = load(args)
    return show(config, args.sessions, posargs, backend=args.backend, as_json=args.json)


def cmd_lock(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun lock [SESSION...]``: write each session's lock file, or ``--check`` them
    (:mod:`vrun.plan.lockfile`)."""
    from vrun.plan.lockfile import check_locks, sessions_to_lock, write_locks
    from vrun.plan.planner import plan_session

    if posargs is not None:
        raise UsageError("vrun lock takes no posargs")
    if args.check and (args.upgrade or args.upgrade_package):
        raise UsageError("--check writes nothing, so it takes no --upgrade or --upgrade-package")
    config, _ = load(args)
    sessions = sessions_to_lock(config, args.sessions)
    environ = RecordingEnviron(os.environ)
    entries = [plan_session(config, s, environ, backend=args.backend) for s in sessions]
    for entry in entries:
        refuse_error(entry)
    if args.check:
        return check_locks(entries)
    write_locks(
        config, sessions, entries, os.environ, upgrade=args.upgrade, upgrade_packages=args.upgrade_package
    )
    return 0


def cmd_init(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun init``: write a vrun.toml translated from the project's tox or nox config
    (:mod:`vrun.migrate.translate`)."""
    from vrun.migrate.translate import write_config

    path, notes = write_config(Path.cwd())
    print(f"wrote {path}")
    for note in notes:
        output.warning(f"not translated: {note}")
    return 0


def cmd_completion(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun completion bash|zsh|fish``: print the completion script (:mod:`vrun.commands.completion`)."""
    from vrun.commands import completion

    if args.list_sessions:
        return completion.list_sessions_main(Path.cwd())
    if args.shell is None:
        raise UsageError("vrun completion needs a shell", hint="vrun completion bash (or zsh, fish)")
    sys.stdout.write(completion.script(args.shell))
    return 0
