"""``vrun freeze``: the ``pip freeze > requirements.txt`` habit, for a session's env.

The installer's own freeze (``pip freeze --all`` or ``uv pip freeze``), run under the env's
shared lock, filtered to the pins a user keeps: without the project itself and without the
packages the backend seeds that the session does not ask for.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from packaging.utils import canonicalize_name

from vrun import inputs, output
from vrun.commands._common import load, one_session, refuse_error, single_plan
from vrun.config import reqfiles, tomlfile
from vrun.config.load import Config, Session
from vrun.env.flock import lock_for
from vrun.env.layout import marker_problem
from vrun.errors import EnvNotReadyError, UsageError

if TYPE_CHECKING:
    from vrun._types import RunnableSessionPlan

#: What vrun's backends seed into every env: virtualenv seeds pip (vrun passes
#: ``--no-setuptools``; older virtualenv releases also seed wheel), ``uv venv --seed`` seeds
#: pip, and setuptools and wheel on Python < 3.12.
SEED_PACKAGES = frozenset({"pip", "setuptools", "wheel"})
# A pinned line of `pip freeze` / `uv pip freeze`: "name==1.0", "name===x", "name @ url".
_PIN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\]\s*)?(?:===?|@)")


def _requested_names(config: Config, session: Session) -> set[str]:
    """Normalized names the session asks for explicitly: its ``deps`` (``-r`` files followed,
    pip's format), its groups, and the project's own dependencies when it is installed."""
    lines = [
        *session.requirements,
        *session.group_requirements,
        *reqfiles.requirement_lines(session.requirement_files, str(config.root)),
    ]
    if session.install_project:
        project = (tomlfile.pyproject(str(config.root)) or {}).get("project")
        project = project if isinstance(project, dict) else {}
        optional = project.get("optional-dependencies")
        optional = optional if isinstance(optional, dict) else {}
        for listed in (project.get("dependencies"), *(optional.get(extra) for extra in session.extras)):
            lines += [str(dep) for dep in listed] if isinstance(listed, list) else []
    return set(reqfiles.iter_names(lines, with_markers=True))


def _project_name(config: Config) -> str | None:
    """The project's ``[project].name`` from pyproject.toml, PEP 503 normalized, or ``None``."""
    project = (tomlfile.pyproject(str(config.root)) or {}).get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return canonicalize_name(name) if isinstance(name, str) else None


def _editable_is_project(target: str, project: str | None, root: Path) -> bool:
    """Whether a ``-e`` line of a freeze names the project: by ``#egg=`` name, else by path."""
    egg = re.search(r"[#&]egg=([^&]+)", target)
    if egg:
        return canonicalize_name(egg[1]) == project
    path = unquote(target[len("file://") :]) if target.startswith("file://") else target
    return os.path.realpath(path) == os.path.realpath(root)


def pinned_requirements(
    lines: Sequence[str], *, project: str | None, project_root: Path, requested: set[str]
) -> list[str]:
    """Filter an installer's freeze output down to the pins a user keeps.

    Drops the project itself (by ``project``, a PEP 503 normalized name, or an editable
    install of ``project_root``) and the :data:`SEED_PACKAGES` not in ``requested``
    (normalized names). A comment line (pip's "# Editable install ...") goes with the line
    after it. Lines that are not requirements (an installer's warnings) are logged and dropped.
    """
    out: list[str] = []
    pending: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            pending.append(line)
            continue
        if line.startswith("-e "):
            keep = not _editable_is_project(line[3:].strip(), project, project_root)
        else:
            pin = _PIN.match(line)
            if pin is None:
                output.warning(f"freeze: {line}")
                pending = []
                continue
            name = canonicalize_name(pin[1])
            keep = name != project and (name not in SEED_PACKAGES or name in requested)
        if keep:
            out += [*pending, line]
        pending = []
    return out


def freeze(
    config: Config, session: Session, session_plan: RunnableSessionPlan, *, output_path: Path | None
) -> int:
    """``vrun freeze SESSION [-o FILE]``: the env's distributions as pinned requirements.

    The installer's freeze (``pip freeze --all`` or ``uv pip freeze``, see
    :meth:`vrun.env.backends.Backend.freeze`), run under the env's shared lock, filtered by
    :func:`pinned_requirements`: without the project and without the seed packages the
    session does not ask for. Printed to stdout, or with ``output`` written atomically
    (a symlink is written through). Writing to a file of the session's ``deps`` pins it:
    its key changes, so its next run builds a new env (the log line says so).

    :raises EnvNotReadyError: when the session's current env is not built.
    :raises UsageError: when ``output`` cannot be written.
    :raises BuildError: when the installer's freeze fails.
    :raises InterpreterNotFoundError: when the session's interpreter is missing.
    """
    from vrun.env.backends import get_backend

    installer = get_backend(session_plan["backend"])
    env_dir = session_plan["env_dir"]
    lock = lock_for(env_dir)
    try:
        for attempt in range(2):  # checked before locking (no lock file to make), then under the lock
            problem = marker_problem(env_dir, session_plan["digest"])
            if problem is not None:
                raise EnvNotReadyError(
                    f"session {session.name} has no ready env ({os.path.basename(env_dir)}: {problem})",
                    hint=f"build it first: vrun {session.name}",
                )
            if attempt == 0:
                lock.acquire(exclusive=False)
        lines = installer.freeze(env_dir, environ=os.environ)
    finally:
        lock.release()
    pins = pinned_requirements(
        lines,
        project=_project_name(config),
        project_root=config.root,
        requested=_requested_names(config, session),
    )
    text = "".join(pin + "\n" for pin in pins)
    if output_path is None:
        sys.stdout.write(text)
        return 0
    target = Path(os.path.realpath(output_path))
    try:
        unchanged = target.read_text(encoding="utf-8") == text
    except (OSError, ValueError):
        unchanged = False
    count = sum(1 for pin in pins if not pin.startswith("#"))
    if unchanged:
        output.info(f"{output_path} already holds these {output.plural(count, 'pin')}; left as it is")
        return 0
    try:
        inputs.write_atomic(str(target), text)
    except OSError as exc:
        raise UsageError(f"cannot write {output_path}: {exc.strerror or exc}") from None
    users = [
        s.name
        for s in config.sessions.values()
        if target in {Path(os.path.realpath(p)) for p in (*s.requirement_files, *s.constraint_files)}
    ]
    if users:
        output.info(
            f"wrote {output.plural(count, 'pin')} of {session.name} to {output_path}; {', '.join(users)} "
            f"use{'s' if len(users) == 1 else ''} it in deps: the next run builds a new env with them"
        )
    else:
        output.info(f"wrote {output.plural(count, 'pin')} of {session.name} to {output_path}")
    return 0


def cmd_freeze(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun freeze SESSION [-o FILE]``: the env's distributions as pinned requirements."""
    from vrun.commands.freeze import freeze

    config = load(args)
    session = one_session(config, args.session)
    session_plan = refuse_error(single_plan(args, config, session)["sessions"][0])
    return freeze(config, session, session_plan, output_path=args.output)
