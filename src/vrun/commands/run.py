"""``vrun run SESSION -- CMD``: any command in a session's env, as a session command runs."""

from __future__ import annotations

import argparse
import os

from vrun import output
from vrun.commands._common import load, one_session, ready
from vrun.errors import UsageError


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
    session_plan = ready(args, config, session)
    values = Values(
        env_dir=session_plan["env_dir"],
        project_root=str(config.root),
        session=session_plan["name"],
        caller=os.environ,
        tmp="keep",
    )
    environ = command_environ(
        pass_env=session_plan["pass_env"], set_env=session_plan["set_env"], values=values
    )
    argv, note = resolve_program(
        list(posargs),
        environ,
        cwd=os.getcwd(),
        env_dir=session_plan["env_dir"],
        external=session_plan["external"],
    )
    if note:
        output.info(note)
    outcome = run_command(argv, environ=environ, cwd=os.getcwd())
    return 128 + outcome.received if outcome.received is not None else outcome.status
