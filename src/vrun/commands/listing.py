"""``vrun list`` and ``vrun path``: the sessions and their envs, as they are; builds nothing
(``path --build`` excepted)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from vrun import output
from vrun.commands._common import load, one_session, ready, refuse_error, single_plan
from vrun.errors import UsageError
from vrun.plan.planner import RecordingEnviron, python_spec, session_state

if TYPE_CHECKING:
    from typing import TypedDict

    class ListedSession(TypedDict):
        """One session of ``vrun list --json``: its names, python spec (a script session without one:
        its script's requires-python, :func:`vrun.plan.planner.python_spec`), matrix values (factor ->
        value, ``{}`` outside a matrix), tags and description, whether it runs by default, and its
        env's ``state`` (:func:`vrun.plan.planner.session_state`, or ``incomplete``) with the
        ``detail`` and the ``env_key`` digest."""

        name: str
        base_name: str
        python: str | None
        matrix: dict[str, str]
        state: str
        env_key: str | None
        tags: list[str]
        description: str
        default: bool
        detail: str


def cmd_list(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun list``: the sessions with python, env state, tags and description. Runs no program
    the config names (an interpreter given as a path is not probed)."""
    if posargs:
        raise UsageError("vrun list takes no posargs")
    config = load(args)
    if args.envs:
        from vrun.commands.manage import list_envs

        return list_envs(config, args.backend, as_json=args.json)
    from vrun.env.layout import env_path, marker_problem

    environ = RecordingEnviron(os.environ)
    rows: list[ListedSession] = []
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
                "python": python_spec(session),
                "matrix": dict(session.matrix),
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


def cmd_path(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun path SESSION``: print the env's path; build it only with ``--build``."""
    config = load(args)
    session = one_session(config, args.session)
    if args.build:
        print(ready(args, config, session)["env_dir"])
        return 0
    session_plan = refuse_error(single_plan(args, config, session, probe=False)["sessions"][0])
    if session_plan["marker"] is None:
        from vrun.env.layout import marker_problem
        from vrun.errors import EnvNotReadyError

        problem = marker_problem(session_plan["env_dir"], session_plan["digest"])
        raise EnvNotReadyError(
            f"session {session.name} has no ready env "
            f"({os.path.basename(session_plan['env_dir'])}: {problem})",
            hint=f"run `vrun path --build {args.session}`",
        )
    print(session_plan["env_dir"])
    return 0
