"""``vrun show``: a session as vrun would run it, without running it.

For each session: the Python its spec finds, the backend, the env directory (and whether it is
ready), what goes into the env (requirements, ``-r``/``-c`` files, dependency groups, extras,
``install_project``), its commands with every placeholder expanded (posargs from
``vrun show NAME -- ARGS``) by the one composition the session loop uses
(:func:`vrun.run.compose.compose`), its ``cwd``, the variables it sets (set_env, values shown,
substituted) and those it lets through from the caller (pass_env patterns and the names of the
current variables each one passes, from the same composition; values of passed variables are
never shown: they may be secrets), ``timeout``, ``requires`` and tags.

Read-only: planned as ``vrun explain`` plans (:func:`vrun.commands.explain.planned`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from vrun import output
from vrun.commands._common import load_named
from vrun.commands.explain import planned, report_errors
from vrun.config.load import Config, Session
from vrun.config.reqfiles import display
from vrun.env.rebuild import show_value
from vrun.environ import NameFilter
from vrun.run.compose import PHASES, compose

if TYPE_CHECKING:
    from typing import TypedDict

    from vrun._types import InterpreterFacts, LockState, LockStatus, SessionPlan, UvLockState

    class ShownPython(TypedDict):
        """``vrun show``'s ``python``: the session's spec, and the interpreter found (or ``None``s)."""

        spec: str | None
        implementation: str | None
        version: str | None
        executable: str | None

    class ShownCommand(TypedDict):
        """One command as ``vrun show`` shows it: its ``argv`` as run, ``shell``, and the ``line`` echoed."""

        argv: list[str]
        shell: bool
        line: str

    class ShownEnvFile(TypedDict):
        """One file of the session's ``env_file``: its path (relative to the project root), whether
        it may be missing and exists, and the variables it gives the commands (those ``env`` or a
        later file does not set again)."""

        file: str
        optional: bool
        found: bool
        variables: list[str]

    class ShownLock(TypedDict):
        """The session's lock file as ``vrun show`` shows it (:class:`vrun._types.LockState`'s parts)."""

        file: str
        status: LockStatus
        problem: str | None

    class ShownSession(TypedDict):
        """What ``vrun show`` says about one planned session (the ``--json`` shape); :func:`resolved`
        says what each key holds."""

        session: str
        base_name: str
        matrix: dict[str, str]
        description: str
        python: ShownPython
        error: str | None
        backend: str
        env_dir: str | None
        env_key: str | None
        env_ready: bool
        script: str | None
        requirements: list[str]
        requirement_files: list[str]
        constraint_files: list[str]
        groups: list[str]
        group_requirements: list[str]
        extras: list[str]
        install_project: str | None
        system_site_packages: bool
        build_env: dict[str, str]
        lock: ShownLock | None
        commands_pre: list[ShownCommand]
        commands: list[ShownCommand]
        commands_post: list[ShownCommand]
        takes_posargs: bool
        cwd: str
        env_file: list[ShownEnvFile]
        set_env: dict[str, str]
        pass_env: dict[str, list[str]]
        passed_by_default: list[str]
        timeout: float | None
        requires: list[str]
        tags: list[str]
        parallel: bool


def resolved(
    config: Config,
    session: Session,
    session_plan: SessionPlan,
    posargs: Sequence[str] | None,
    environ: Mapping[str, str],
) -> ShownSession:
    """What ``vrun show`` says about one planned session, as plain values (the ``--json`` shape).

    :param posargs: what followed ``--`` (``None``: no ``--``), as a run would substitute them.
    :param environ: the caller's environment, to find the variables pass_env lets through.
    :returns: ``session``, ``base_name``, ``matrix`` (a matrix entry's values, factor -> value),
        ``description``; ``python`` (``spec``, and the
        ``implementation``, ``version``, ``executable`` found, ``None`` when none was); ``error``
        (no interpreter found); ``backend``; ``env_dir``, ``env_key``, ``env_ready``;
        ``script`` (a script session's PEP 723 script, relative to the project root; its block's
        dependencies head ``requirements``); ``requirements``, ``requirement_files``,
        ``constraint_files`` (relative to the project root), ``groups``, ``group_requirements``,
        ``extras``, ``install_project``
        (``"editable"``, ``"wheel"`` or ``None``), ``system_site_packages``; ``commands_pre``,
        ``commands``, ``commands_post`` (each ``argv`` as run, ``shell``, and ``line`` as vrun
        echoes it), ``takes_posargs``; ``cwd``; ``env_file`` (each file's ``file``, ``optional``,
        ``found`` and the ``variables`` it gives the commands); ``set_env`` (name -> value,
        placeholders substituted, what ``env_file`` sets included); ``pass_env`` (pattern -> the names
        of current variables it passes); ``passed_by_default`` (names passed by vrun's default
        allow-list); ``build_env`` (name -> value); ``lock`` (``file``, ``status``, ``problem``
        of its lock file, :func:`vrun.plan.lockfile.lock_state`, or of the project's ``uv.lock`` when
        the session installs from it, :func:`vrun.plan.uvlock.uv_lock_state`; ``None`` without an
        interpreter);
        ``timeout`` (seconds or ``None``), ``requires``, ``tags``, ``parallel``.
    """
    root, name = str(config.root), session.name
    interp: InterpreterFacts | dict[str, str] = session_plan["interpreter"] or {}
    # Shown, not run: {env_tmp_dir} is only named, an unset {env:VAR} stays as written.
    shown = compose(session_plan, posargs, caller=environ, project_root=root, tmp="path", strict=False)
    set_env, passed = shown.set_env, shown.environ
    commands: dict[str, list[ShownCommand]] = {phase: [] for phase in PHASES}
    for c in shown.commands:
        commands[c.phase].append({"argv": c.argv, "shell": c.shell, "line": c.line})
    own = {name for name, _ in session.env}
    source = {n: f.path for f in session.env_file for n, _ in f.set_env if n not in own}
    env_files: list[ShownEnvFile] = [
        {
            "file": display(f.path, root),
            "optional": f.optional,
            "found": f.found,
            "variables": [n for n in dict(f.set_env) if source.get(n) == f.path],
        }
        for f in session.env_file
    ]
    names = sorted(k for k in passed if k in environ and k not in set_env and k != "VIRTUAL_ENV")
    by_pattern = {p: [n for n in names if NameFilter([p])(n)] for p in session_plan["pass_env"]}
    matched = {n for found in by_pattern.values() for n in found}
    # the lock the session would install from: its own lock file, else the project's uv.lock
    lock: LockState | UvLockState | None = session_plan["uv_lock"] or session_plan["lock"]
    return {
        "session": name,
        "base_name": session.base_name,
        "matrix": dict(session.matrix),
        "description": session.description,
        "python": {
            "spec": session_plan["python"],
            "implementation": interp.get("implementation"),
            "version": interp.get("version"),
            "executable": interp.get("executable"),
        },
        "error": session_plan["error"],
        "backend": session_plan["backend"],
        "env_dir": session_plan["env_dir"],
        "env_key": session_plan["digest"],
        "env_ready": session_plan["marker"] is not None,
        "script": None if session.script is None else display(session.script.path, root),
        "requirements": list(session.requirements),
        "requirement_files": [display(p, root) for p in session.requirement_files],
        "constraint_files": [display(p, root) for p in session.constraint_files],
        "groups": list(session.groups),
        "group_requirements": list(session.group_requirements),
        "extras": list(session.extras),
        "install_project": session.install_project,
        "system_site_packages": session.system_site_packages,
        "build_env": dict(session_plan["build_env"]),
        "lock": (
            None
            if lock is None
            else {"file": lock["file"], "status": lock["status"], "problem": lock["problem"]}
        ),
        "commands_pre": commands["commands_pre"],
        "commands": commands["commands"],
        "commands_post": commands["commands_post"],
        "takes_posargs": session_plan["posargs"],
        "cwd": session_plan["cwd"],
        "env_file": env_files,
        "set_env": set_env,
        "pass_env": by_pattern,
        "passed_by_default": [n for n in names if n not in matched],
        "timeout": session_plan["timeout"],
        "requires": list(session_plan["requires"]),
        "tags": list(session_plan["tags"]),
        "parallel": session_plan["parallel"],
    }


def resolved_lines(item: ShownSession) -> list[str]:
    """The text ``vrun show`` prints for one :func:`resolved`."""
    python = item["python"]
    spec = python["spec"] or "(vrun's)"
    found = (
        f"{python['implementation']} {python['version']} {python['executable']}"
        if item["error"] is None
        else f"not found ({item['error']})"
    )
    description = f": {item['description']}" if item["description"] else ""
    state = "ready" if item["env_ready"] else "not built for these inputs yet"
    lines = [
        f"session {item['session']}{description}",
        f"  python: {spec} -> {found}",
        *(
            [f"  matrix: {', '.join(f'{k}={v}' for k, v in item['matrix'].items())}"]
            if item["matrix"]
            else []
        ),
        f"  backend: {item['backend']}",
        f"  env: {item['env_dir']} ({state})" if item["env_dir"] else "  env: none (no interpreter)",
    ]
    if item["script"] is not None:
        lines.append(f"  script: {item['script']}")
    fields: Mapping[str, object] = item  # looked up by name
    for key, label in (
        ("requirements", "requirements"),
        ("requirement_files", "-r files"),
        ("constraint_files", "-c files"),
        ("groups", "groups"),
        ("group_requirements", "group requirements"),
        ("extras", "extras"),
        ("install_project", "install_project"),
        ("system_site_packages", "system_site_packages"),
        ("cwd", "cwd"),
    ):
        value = False if key == "install_project" and fields[key] is None else fields[key]
        lines.append(f"  {label}: {show_value(value)}")
    lines.append("  build_env:" if item["build_env"] else "  build_env: none")
    lines += [f"    {key}={value}" for key, value in item["build_env"].items()]
    lock = item["lock"]
    if lock is None or lock["status"] == "missing":
        lines.append("  lock: none (the installer resolves)")
    elif lock["status"] == "current":
        lines.append(f"  lock: {lock['file']} (current: installs what it pins)")
    else:
        lines.append(f"  lock: {lock['file']} ({lock['status']}, not used: {lock['problem']})")
    for key, listed in (
        ("commands_pre", item["commands_pre"]),
        ("commands", item["commands"]),
        ("commands_post", item["commands_post"]),
    ):
        if listed or key == "commands":  # commands_pre and commands_post only when there are some
            lines.append(f"  {key}:" if listed else f"  {key}: none")
            lines += [f"    {command['line']}" for command in listed]
    files = {}
    for shown_file in item["env_file"]:
        state = "optional, " if shown_file["optional"] else ""
        state += f"{len(shown_file['variables'])} set" if shown_file["found"] else "not found"
        lines.append(f"  env_file: {shown_file['file']} ({state})")
        files.update(dict.fromkeys(shown_file["variables"], shown_file["file"]))
    lines.append("  set_env:" if item["set_env"] else "  set_env: none")
    lines += [
        f"    {key}={value}" + (f"  (from {files[key]})" if key in files else "")
        for key, value in item["set_env"].items()
    ]
    lines.append("  pass_env:" if item["pass_env"] else "  pass_env: none")
    lines += [
        f"    {pattern}: {', '.join(found) or 'none set'}" for pattern, found in item["pass_env"].items()
    ]
    lines.append(f"  passed by default: {', '.join(item['passed_by_default']) or 'none'}")
    timeout = "none" if item["timeout"] is None else f"{item['timeout']:g}s"
    lines.append(f"  timeout: {timeout}")
    for key in ("requires", "tags"):
        lines.append(f"  {key}: {show_value(fields[key])}")
    return lines


def show(
    config: Config,
    names: Sequence[str],
    posargs: Sequence[str] | None,
    *,
    backend: str | None,
    as_json: bool,
) -> int:
    """``vrun show SESSION... [-- POSARGS]``: print each session's :func:`resolved` (text, or a JSON
    array). A session that takes no posargs while posargs were given gets a warning: a run of it
    would be refused.

    :returns: the exit status: 0, or 2 when a session's interpreter is missing (reported, and the
        other sessions still shown).
    :raises UsageError: see :func:`vrun.commands.explain.planned`.
    """
    found = planned(config, names, backend)
    items = [resolved(config, session, session_plan, posargs, os.environ) for session, session_plan in found]
    for item in items:
        if posargs and item["commands"] and not item["takes_posargs"]:
            name = item["session"]
            output.warning(f"session {name} does not take posargs: `vrun {name} -- ...` is refused")
    if as_json:
        output.print_json(items)
    else:
        print("\n\n".join("\n".join(resolved_lines(item)) for item in items))
    return report_errors([session_plan for _, session_plan in found])


def cmd_show(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun show SESSION... [-- POSARGS]``: the sessions as vrun would run them
    (:mod:`vrun.commands.show`)."""
    from vrun.commands.show import show

    config, names = load_named(args, args.sessions)
    return show(config, names, posargs, backend=args.backend, as_json=args.json)
