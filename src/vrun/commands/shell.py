"""``vrun shell`` and ``vrun activate``: the user's own shell with a session's env activated
(:mod:`vrun.commands.usershell` starts it, :mod:`vrun.commands.activation` writes the code)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vrun import output
from vrun.commands._common import load, one_session, ready
from vrun.config.load import Config, Session
from vrun.errors import UsageError


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
    from vrun.environ import passes_pythonpath
    from vrun.run.compose import Values, set_env_values

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
    from vrun.commands.usershell import default_rc_root, detect_shell, inherited_env_problem, write_shim
    from vrun.environ import clean_environ

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
