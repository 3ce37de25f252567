"""``vrun shell`` and ``vrun activate``: the user's own shell with a session's env activated
(:mod:`vrun.commands.usershell` starts it, :mod:`vrun.commands.activation` writes the code)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vrun import output
from vrun.commands._common import load, one_session, ready
from vrun.errors import UsageError

if TYPE_CHECKING:
    from vrun._types import RunnableSessionPlan


def cmd_shell(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun shell SESSION``: exec the user's interactive shell with the env activated."""
    from vrun.commands.activation import plan_shim
    from vrun.commands.usershell import (
        default_rc_root,
        detect_shell,
        exec_shell,
        inherited_env_problem,
        refuse_nested,
        shell_exec_plan,
    )
    from vrun.environ import clean_environ

    if posargs is not None:
        raise UsageError(
            "vrun shell takes no command", hint=f"to run a command in the env: vrun run {args.session} -- CMD"
        )
    refuse_nested(os.environ)
    kind, executable = detect_shell(os.environ, args.shell)
    problem = inherited_env_problem(os.environ)
    if problem:
        output.warning(problem)
    config = load(args)
    session = one_session(config, args.session)
    session_plan = ready(args, config, session, inheritable=True)
    env_dir = session_plan["env_dir"]
    output.info(f"starting {kind} with {os.path.basename(env_dir)} activated; `exit` to leave")
    environ = shell_environ(session_plan, str(config.root))
    rc_root = default_rc_root(environ)
    shim = plan_shim(clean_environ(environ, Path(env_dir)).get("PATH", ""), rc_root)
    exec_shell(shell_exec_plan(kind, executable, Path(env_dir), session.name, environ, rc_root, shim))


def shell_environ(session_plan: RunnableSessionPlan, project_root: str) -> dict[str, str]:
    """The environment a ``vrun shell`` starts from (:func:`vrun.environ.shell_environ` has the
    policy), the session's set_env expanded as its commands get it (:class:`vrun.run.compose.Values`,
    :func:`vrun.run.compose.set_env_values`); says so when the caller's ``PYTHONPATH`` is left out.

    :raises UsageError: a set_env value needs an unset variable.
    """
    from vrun import environ as env_policy
    from vrun.run.compose import Values, set_env_values

    values = Values.of(session_plan, caller=os.environ, project_root=project_root, tmp="keep")
    set_env = set_env_values(session_plan["set_env"], values)
    environ = env_policy.shell_environ(os.environ, pass_env=session_plan["pass_env"], set_env=set_env)
    if "PYTHONPATH" in os.environ and "PYTHONPATH" not in environ:
        output.info("PYTHONPATH is not passed into the env (name it in pass_env to keep it)")
    return environ


def cmd_activate(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun activate SESSION``: print code that activates the env in the current shell."""
    from vrun.commands.activation import activate_code, plan_shim
    from vrun.commands.usershell import default_rc_root, detect_shell, inherited_env_problem, write_shim
    from vrun.environ import clean_environ

    kind, _exe = detect_shell(os.environ, args.shell)
    if inherited_env_problem(os.environ):
        output.warning(
            f"VIRTUAL_ENV={os.environ['VIRTUAL_ENV']} was inherited but is not active; its bin/ stays on "
            "PATH "
            "so that `deactivate` restores PATH exactly (`vrun shell` starts with a clean PATH instead)"
        )
    config = load(args)
    session = one_session(config, args.session)
    env_dir = ready(args, config, session)["env_dir"]
    # activate's first step deactivates an active venv: vrun's own command must not go with it
    after = clean_environ(os.environ, Path(env_dir)).get("PATH", "")
    shim = plan_shim(after, default_rc_root(os.environ))
    if shim is not None:
        write_shim(shim)
    sys.stdout.write(activate_code(kind, Path(env_dir), session.name, shim.directory if shim else None))
    return 0
