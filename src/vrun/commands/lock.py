"""``vrun lock``: resolve each session with ``uv pip compile --format pylock.toml`` and write its
PEP 751 lock file, or ``--check`` them (the lock files' state is :mod:`vrun.plan.lockfile`'s).

vrun resolves nothing itself. For each session it gives uv a requirements file of the session's
requirements (:func:`vrun.plan.lockfile.resolver_input_lines`), the project's metadata file with ``--extra``
for its extras (so uv lists the project's dependencies, never the project), the session's Python
(``--universal --python-version X.Y``, see :mod:`vrun.plan.lockfile`; ``--python`` for what must be built),
and ``-o`` a copy of the existing lock file: uv keeps the versions pinned there unless the
requirements no longer allow them or ``--upgrade`` / ``--upgrade-package`` say otherwise (uv's
rule for an existing output file). The result, with a header and vrun's ``[tool.vrun]`` table, is
written over the lock file atomically.

uv reads its own settings (``UV_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_OFFLINE``, ``uv.toml`` ...) as
always; for a session built by the virtualenv backend, pip's index variables (``PIP_INDEX_URL``,
``PIP_EXTRA_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``, ``PIP_PRE``, ``PIP_CONSTRAINT``) are
passed as uv's options too, so the lock comes from the index pip installs from.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from vrun import inputs, output
from vrun.commands._common import load, refuse_error
from vrun.config import tomlfile
from vrun.config.load import Config, Session
from vrun.config.selection import select_sessions
from vrun.env.backends import run_tool, with_pip_settings
from vrun.env.build import with_build_env
from vrun.env.choice import UV_HINT, find_uv, uv_problem
from vrun.environ import tool_environ
from vrun.errors import BuildError, UsageError
from vrun.inputs import write_atomic
from vrun.plan.lockfile import file_name, lock_path, resolver_input_lines
from vrun.plan.planner import RecordingEnviron

if TYPE_CHECKING:
    from vrun._types import LockState, RunnableSessionPlan


def project_source(root: str) -> str:
    """The file uv reads the project's dependencies from: ``pyproject.toml`` when it has a
    ``[project]`` table, else ``setup.py`` or ``setup.cfg`` (uv builds those to get the metadata),
    else ``pyproject.toml``."""
    pyproject = os.path.join(root, "pyproject.toml")
    if isinstance((tomlfile.pyproject(root) or {}).get("project"), dict):
        return pyproject
    for name in ("setup.py", "setup.cfg"):
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    return pyproject


def compile_lock(
    config: Config,
    session: Session,
    session_plan: RunnableSessionPlan,
    environ: Mapping[str, str],
    *,
    tool_table: str,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> int:
    """Resolve ``session`` (planned as ``session_plan``) and write its lock file.

    :param tool_table: the ``[tool.vrun]`` table to append (:mod:`vrun.plan.lockfile`).
    :returns: how many packages the lock file pins.
    :raises UsageError: uv is missing or cannot run.
    :raises BuildError: uv failed (its output attached, and the requirement it blames).
    :raises Interrupted: a signal arrived while uv ran.
    """
    uv = find_uv()
    problem = uv_problem(uv)
    if problem or uv is None:
        raise UsageError(f"vrun lock resolves with uv: {problem}", hint=UV_HINT)
    root = str(config.root)
    state = session_plan["lock"]
    path = state["path"]
    stem = os.path.basename(path)[len("pylock.") : -len(".toml")]
    # uv wants its output named pylock.<name>.toml, and writes local paths relative to it: a scratch
    # file beside the real one, holding the current pins (uv keeps them as preferences).
    scratch = os.path.join(root, f"pylock.{stem}-vrun{os.getpid()}.toml")
    work = tempfile.mkdtemp(prefix="vrun-lock-")
    try:
        source = os.path.join(work, "requirements.in")
        with open(source, "w", encoding="utf-8") as fh:
            fh.write("".join(f"{line}\n" for line in resolver_input_lines(config, session)))
        argv = [uv, "pip", "compile", "--format", "pylock.toml", "--no-header", "--universal"]
        argv += [
            "--python-version",
            state["inputs"]["python"],
            "--python",
            session_plan["interpreter"]["executable"],
        ]
        argv += ["-o", scratch, source]
        if session.install_project:
            argv.append(project_source(root))
            for extra in session.extras:
                argv += ["--extra", extra]
        # the user's pip settings, as the install gets them (either backend: one translation)
        environ, carried = with_pip_settings(environ, root)
        argv += carried
        if upgrade:
            argv.append("--upgrade")
        for name in upgrade_packages:
            argv += ["--upgrade-package", name]
        if state["status"] in ("current", "stale", "foreign"):  # a PEP 751 file uv can read
            shutil.copyfile(path, scratch)
        # uv builds what it must read metadata from (setup.py projects, sdists) as the install would
        env = tool_environ(with_build_env(session_plan, environ))
        env["UV_PYTHON_DOWNLOADS"] = "never"
        run_tool(argv, what=f"uv pip compile (locking {session.name})", environ=env, cwd=root)
        with open(scratch, encoding="utf-8") as fh:
            body = fh.read()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        try:
            os.unlink(scratch)
        except OSError:
            pass
    try:
        packages = tomlfile.loads(body).get("packages", [])
    except tomlfile.TOMLDecodeError as exc:
        raise BuildError(f"uv pip compile wrote a lock file vrun cannot read: {exc}", output=body) from exc
    name = session.name
    header = (
        f"# The lock file of session {name}, written by `vrun lock` (uv pip compile, universal,\n"
        f"# Python >= {state['inputs']['python']}). Do not edit it: re-lock with `vrun lock {name}`,\n"
        f"# upgrade a package with `vrun lock {name} --upgrade-package NAME` (vrun's docs/lock.md).\n"
    )
    write_atomic(path, header + body.rstrip("\n") + "\n\n" + tool_table)
    return len(packages) if isinstance(packages, list) else 0


def sessions_to_lock(config: Config, names: Sequence[str]) -> list[Session]:
    """The sessions ``vrun lock [NAME...]`` works on.

    Named ones (a matrix's base name: all its entries); without names, what a bare ``vrun`` runs
    (``default``, else every session) plus every session already locked: ``locked = true``, or a
    lock file on disk. In config order.

    :raises UsageError: for an unknown name (with a did-you-mean hint), or two sessions whose names
        give the same lock file (``test-3.11`` and ``test-3-11``).
    """
    owners: dict[str, str] = {}
    for name in config.sessions:
        other = owners.setdefault(file_name(name), name)
        if other != name:
            raise UsageError(
                f"sessions {other} and {name} would share the lock file {file_name(name)}",
                hint="rename one of them (a lock file's name writes the dots of a session's name as '-')",
            )
    if names:
        return select_sessions(config, list(names), with_requires=False)
    chosen = {s.name for s in select_sessions(config, [], with_requires=False)}
    root = str(config.root)
    return [
        s
        for s in config.sessions.values()
        if s.name in chosen or s.locked or inputs.is_file(lock_path(root, s.name))
    ]


def check_locks(session_plans: Sequence[RunnableSessionPlan]) -> int:
    """``vrun lock --check``: report each session's lock file; writes nothing. A session that
    installs from the project's ``uv.lock`` (:mod:`vrun.plan.uvlock`) is reported by that file's state,
    as uv judges it.

    :returns: 0 when every lock file is current, 1 when any is missing, stale or unusable (each
        named in an ``error:`` line).
    """

    def state(session_plan: RunnableSessionPlan) -> tuple[str, str | None]:
        uv_lock = session_plan["uv_lock"]
        found = uv_lock if uv_lock is not None else session_plan["lock"]
        return found["file"], found["problem"]

    stale = [p for p in session_plans if state(p)[1] is not None]
    for session_plan in session_plans:
        file, problem = state(session_plan)
        if problem is None:
            output.info(f"{file} is current ({session_plan['name']})")
    for i, session_plan in enumerate(stale):
        hint = None
        if i == len(stale) - 1:
            ours = [e["name"] for e in stale if e["uv_lock"] is None]
            fixes = [f"`vrun lock {' '.join(ours)}`"] if ours else []
            fixes += ["`uv lock`"] if len(ours) < len(stale) else []
            hint = f"run {' and '.join(fixes)} and commit the result"
        output.error(f"session {session_plan['name']}: {state(session_plan)[1]}", hint)
    return 1 if stale else 0


def write_locks(
    config: Config,
    sessions: Sequence[Session],
    session_plans: Sequence[RunnableSessionPlan],
    environ: Mapping[str, str],
    *,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> None:
    """``vrun lock``: resolve each session and write its lock file (:mod:`vrun.commands.lock`).

    :raises UsageError: uv cannot run.
    :raises BuildError: the resolver failed (with its output).
    """
    for session, session_plan in zip(sessions, session_plans):
        output.info(f"locking {session.name} for Python {session_plan['lock']['inputs']['python']}")
        count = compile_lock(
            config,
            session,
            session_plan,
            environ,
            tool_table=_tool_table(session, session_plan["lock"]),
            upgrade=upgrade,
            upgrade_packages=upgrade_packages,
        )
        output.info(f"wrote {session_plan['lock']['file']} ({count} package{'s' * (count != 1)})")


def _tool_table(session: Session, state: LockState) -> str:
    """The ``[tool.vrun]`` table appended to a lock file: the inputs' digest and the inputs."""
    lines = [
        "[tool.vrun]",
        f"session = {tomlfile.dumps_value(session.name)}",
        f"digest = {tomlfile.dumps_value(state['digest'])}",
        "",
        "[tool.vrun.inputs]",
    ]
    lines += [f"{tomlfile.key_part(k)} = {tomlfile.dumps_value(v)}" for k, v in state["inputs"].items()]
    return "\n".join(lines) + "\n"


def cmd_lock(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun lock [SESSION...]``: write each session's lock file, or ``--check`` them
    (:mod:`vrun.plan.lockfile`). Without names, a session that installs from the project's
    ``uv.lock`` (:mod:`vrun.plan.uvlock`) is left to ``uv lock`` (said in one line); named, it gets a
    lock file of its own, which then decides its versions (docs/lock.md, "uv.lock")."""
    from vrun.plan.planner import plan_session

    if posargs is not None:
        raise UsageError("vrun lock takes no posargs")
    if args.check and (args.upgrade or args.upgrade_package):
        raise UsageError("--check writes nothing, so it takes no --upgrade or --upgrade-package")
    config = load(args)
    sessions = sessions_to_lock(config, args.sessions)
    environ = RecordingEnviron(os.environ)
    # --check is read-only: it runs no interpreter the config names by path (probe=False), and
    # says it cannot tell for a session whose interpreter it has not vetted
    planned = [
        plan_session(config, session, environ, backend=args.backend, probe=not args.check)
        for session in sessions
    ]
    session_plans = [refuse_error(session_plan) for session_plan in planned]
    if args.check:
        return check_locks(session_plans)
    if not args.sessions:  # a session that installs from uv.lock is uv's to lock, unless named
        for session_plan in session_plans:
            if session_plan["uv_lock"] is not None:
                output.info(f"{session_plan['name']} installs from uv.lock (`uv lock` updates it)")
        kept = [(s, p) for s, p in zip(sessions, session_plans) if p["uv_lock"] is None]
        sessions, session_plans = [s for s, _ in kept], [p for _, p in kept]
    write_locks(
        config,
        sessions,
        session_plans,
        os.environ,
        upgrade=args.upgrade,
        upgrade_packages=args.upgrade_package,
    )
    for session_plan in session_plans:
        if session_plan["uv_lock"] is not None:
            output.info(
                f"{session_plan['lock']['file']} now decides {session_plan['name']}'s versions, not uv.lock "
                "(delete it to go back)"
            )
    return 0
