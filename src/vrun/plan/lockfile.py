"""Lock files: one PEP 751 ``pylock.<session>.toml`` per session, and whether it is still current.

``vrun lock`` resolves a session's whole requirement set (``deps``, ``-r``/``-c`` files, dependency
groups, and the project's own dependencies with its extras, never the project itself) with a real
resolver, ``uv pip compile --format pylock.toml``, and writes the result next to the config. A
session whose lock file is current installs exactly what it pins (:mod:`vrun.env.backends`), and the
file's contents are part of its env key (:func:`vrun.plan.envkey.with_lock`).

The choices, and why:

- **One file per session, matrix entries included** (as hatch does): each env installs from its
  own file, so locking or upgrading ``test-3.12`` never rebuilds ``test-3.11``'s env, and
  ``--check`` names the entry that is stale. PEP 751 allows no dot in a lock file's name
  (``^pylock\\.([^.]+)\\.toml$``; uv refuses to write one), so the dots of a session's name become
  ``-``: ``test-3.11`` locks to ``pylock.test-3-11.toml`` (hatch's rule too).
- **A universal resolution for the session's Python minor version** (``--universal
  --python-version 3.11``): the file holds markers for every platform and every later patch
  release, so a lock made on a laptop is the lock CI installs, and markers are evaluated when
  installing. The session's interpreter is still passed (``--python``) to build what must be built.
- **Staleness is decided exactly and cheaply**: the file's ``[tool.vrun]`` table (PEP 751 keeps
  ``[tool]`` for tools) records a digest of the inputs that decided the resolution
  (:func:`resolution_inputs`) and the inputs themselves, so planning compares one digest and, when
  it differs, names what changed. Installer settings (index URLs, find-links) and the backend are
  not inputs: the same lock holds on a machine with another mirror.

Every file is read through :mod:`vrun.inputs` (:mod:`vrun.config.tomlfile`), so the plan cache sees a lock
file appear, change or go.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from vrun import inputs
from vrun.config import tomlfile
from vrun.config.load import Config, Session
from vrun.plan.interpreters import Interpreter

if TYPE_CHECKING:
    from vrun._types import (
        KeyComponents,
        LockState,
        LockStatus,
        ProjectDependencies,
        ResolutionInputs,
        SessionPlan,
    )

#: Bumped when :func:`resolution_inputs` changes shape: every lock file then reads as stale.
LOCK_SCHEMA = 1
#: The PEP 751 ``lock-version`` major version vrun reads and uv writes.
LOCK_VERSION_MAJOR = "1"


def file_name(session: str) -> str:
    """The lock file's name for ``session``: ``pylock.<session>.toml``, each ``.`` of the name written
    ``-`` (PEP 751's file-name rule allows no dot in ``<name>``; hatch maps its names the same way)."""
    return f"pylock.{session.replace('.', '-')}.toml"


def lock_path(root: str, session: str) -> str:
    """The absolute path of ``session``'s lock file: :func:`file_name` in the project root."""
    return os.path.join(root, file_name(session))


def _portable(requirement: str, root: str) -> str:
    """A requirement with a local project's absolute path made relative to the project root (how
    it is written in the lock's inputs and given to the resolver, so both hold on another machine)."""
    editable = requirement.startswith("-e ")
    path = requirement[3:].strip() if editable else requirement
    if not os.path.isabs(path):
        return requirement
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    rel = rel if rel.startswith("..") else f"./{rel}"
    return f"-e {rel}" if editable else rel


def _project_dependencies(
    root: str, session: Session, project: Mapping[str, str | None]
) -> ProjectDependencies:
    """What of the project decides the resolution: its static ``dependencies`` and the
    ``optional-dependencies`` of the session's extras; when either is dynamic (or there is no
    ``[project]``), every metadata input the env key digests (:func:`vrun.plan.envkey.project_inputs`),
    since the build backend computes them. Its version, description and the like do not count."""
    if not session.install_project:
        return {}
    table = (tomlfile.pyproject(root) or {}).get("project")
    dynamic = table.get("dynamic") if isinstance(table, dict) else None
    dynamic = dynamic if isinstance(dynamic, list) else []
    if not isinstance(table, dict) or "dependencies" in dynamic or "optional-dependencies" in dynamic:
        return {"metadata": {k: v for k, v in project.items() if k != "mode"}}
    optional = table.get("optional-dependencies")
    optional = optional if isinstance(optional, dict) else {}
    return {
        "dependencies": _requirements(table.get("dependencies")),
        "optional-dependencies": {extra: _requirements(optional.get(extra)) for extra in session.extras},
    }


def _requirements(value: object) -> list[str]:
    """The requirement strings of a ``[project]`` array, sorted, each one's whitespace collapsed;
    ``[]`` for a value that is not an array (an invalid ``pyproject.toml``)."""
    return sorted(" ".join(d.split()) for d in value if isinstance(d, str)) if isinstance(value, list) else []


def resolution_inputs(
    config: Config, session: Session, interpreter: Interpreter, components: KeyComponents
) -> ResolutionInputs:
    """The inputs that decide ``session``'s resolution, as recorded in its lock file.

    Taken from its env key's ``components`` (:func:`vrun.plan.envkey.compute_key`, so each file is read
    once): the Python minor version, the requirements (local paths relative to the root), the
    contents of the ``-r``/``-c`` files, the dependency groups, the extras, the project's
    dependencies (:func:`_project_dependencies`) and the local projects' metadata.

    :returns: a JSON-serializable dict; equal dicts mean an equal resolution.
    """
    root = str(config.root)
    return {
        "schema": LOCK_SCHEMA,
        "python": f"{interpreter.version_info[0]}.{interpreter.version_info[1]}",
        "requirements": sorted(_portable(r, root) for r in components["requirements"]),
        "requirement-files": dict(components["requirement_files"]),
        "constraint-files": dict(components["constraint_files"]),
        "groups": list(components["groups"]["names"]),
        "group-requirements": list(components["groups"]["requirements"]),
        "extras": list(components["extras"]),
        "project": _project_dependencies(root, session, components["project"]),
        "local": dict(components["local"]),
    }


def inputs_digest(values: ResolutionInputs) -> str:
    """32 hex characters of the SHA-256 of ``values`` (:func:`resolution_inputs`) as sorted JSON."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:32]


def lock_state(
    config: Config, session: Session, interpreter: Interpreter, components: KeyComponents
) -> LockState:
    """Whether ``session``'s lock file is current, read through :mod:`vrun.inputs` (recorded).

    :returns: plain values: ``path``, ``file`` (its name), ``status`` (``current``, ``missing``,
        ``stale``, ``foreign``: a PEP 751 file without vrun's ``[tool.vrun]`` table, not written by
        ``vrun lock``, or ``invalid``: unreadable, another ``lock-version``), ``problem`` (``None``
        when current, else one phrase naming the file and what differs), ``inputs`` and ``digest``
        (:func:`resolution_inputs` now).
    """
    path = lock_path(str(config.root), session.name)
    name = os.path.basename(path)
    values = resolution_inputs(config, session, interpreter, components)
    digest = inputs_digest(values)

    def state(status: LockStatus, problem: str | None) -> LockState:
        return {
            "path": path,
            "file": name,
            "status": status,
            "problem": problem,
            "inputs": values,
            "digest": digest,
        }

    if not inputs.is_file(path):
        return state("missing", f"there is no {name}")
    try:
        data = tomlfile.load(path)
    except (OSError, ValueError) as exc:
        return state("invalid", f"{name} cannot be read: {getattr(exc, 'strerror', None) or exc}")
    version = str(data.get("lock-version", ""))
    if version.partition(".")[0] != LOCK_VERSION_MAJOR:
        return state(
            "invalid", f"{name} has lock-version {version or 'none'!r}; vrun reads {LOCK_VERSION_MAJOR}.x"
        )
    tools = data.get("tool")
    tool = tools.get("vrun") if isinstance(tools, dict) else None
    if not isinstance(tool, dict):
        return state("foreign", f"{name} has no [tool.vrun] table (it was not written by `vrun lock`)")
    if tool.get("session", session.name) != session.name:
        return state(
            "foreign", f"{name} is the lock file of session {tool.get('session')!r}, not {session.name!r}"
        )
    if tool.get("digest") == digest:
        return state("current", None)
    recorded = tool.get("inputs")
    found = differences(recorded if isinstance(recorded, dict) else {}, values)
    return state("stale", f"{name} is stale: {', '.join(found) or 'its inputs changed'}")


#: The resolution inputs (:func:`resolution_inputs`, in its order), and what each is called in a
#: difference ("requirement added: pytest").
INPUT_LABELS = {
    "schema": "vrun's lock format",
    "python": "python",
    "requirements": "requirement",
    "requirement-files": "requirements file",
    "constraint-files": "constraints file",
    "groups": "dependency group",
    "group-requirements": "dependency group requirement",
    "extras": "extra",
    "project": "project",
    "local": "local project",
}


def _name(requirement: str) -> str:
    """The PEP 503 name of a PEP 508 requirement, or the line itself (a local path)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return requirement


def _list_diff(label: str, old: Sequence[object], new: Sequence[object]) -> list[str]:
    """Added, removed and changed entries of two lists of requirements (matched by name) or names."""
    before = {_name(str(x)): str(x) for x in old}
    after = {_name(str(x)): str(x) for x in new}
    out = [f"{label} added: {after[n]}" for n in after if n not in before]
    out += [f"{label} removed: {before[n]}" for n in before if n not in after]
    out += [
        f"{label} changed: {before[n]} -> {after[n]}" for n in after if n in before and before[n] != after[n]
    ]
    return out


def _diff(label: str, old: object, new: object) -> list[str]:
    if old == new:
        return []
    if isinstance(old, list) and isinstance(new, list):
        return _list_diff(label, old, new)
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(old.keys() | new.keys()):
            if key not in new:
                out.append(f"{label} removed: {key}")
            elif key not in old:
                out.append(f"{label} added: {key}")
            elif old[key] != new[key]:
                out.append(f"{label} changed: {key}")
        return out
    return [f"{label} changed: {old} -> {new}" if old is not None else f"{label} changed"]


def differences(recorded: Mapping[str, object], current: ResolutionInputs) -> list[str]:
    """Name what differs between a lock file's recorded inputs and the session's inputs now.

    :returns: phrases like ``"requirement added: pytest-xdist>=3"``, ``"requirement changed:
        pytest>=7 -> pytest>=8"``, ``"requirements file changed: requirements.txt"``, ``"python
        changed: 3.11 -> 3.12"``, ``"project dependency removed: attrs"``; ``[]`` when equal.
    """
    found: list[str] = []
    for key, label in INPUT_LABELS.items():
        old, new = recorded.get(key), current.get(key)
        try:
            found += _input_differences(key, label, old, new)
        except (TypeError, AttributeError):  # a hand-edited [tool.vrun] table: say what, not how
            found.append(f"{label} changed")
    return found


def _input_differences(key: str, label: str, old: object, new: object) -> list[str]:
    """:func:`differences` for one recorded input.

    :raises TypeError, AttributeError: the recorded value is not of the shape vrun writes.
    """
    if key == "project" and isinstance(old, dict) and isinstance(new, dict):
        if "dependencies" in old and "dependencies" in new:
            found = _list_diff("project dependency", old["dependencies"], new["dependencies"])
            extras_old = old.get("optional-dependencies") or {}
            extras_new = new.get("optional-dependencies") or {}
            for extra in dict.fromkeys([*extras_new, *extras_old]):
                found += _list_diff(
                    f"project dependency [{extra}]", extras_old.get(extra, []), extras_new.get(extra, [])
                )
            return found
        if "metadata" in old and "metadata" in new:
            return _diff("project metadata", old["metadata"], new["metadata"])
        return ["project metadata changed"] if old != new else []
    return _diff(label, old, new)


def refuse_unlocked(
    session_plans: Sequence[SessionPlan], sessions: Sequence[Session], *, locked: bool
) -> None:
    """Refuse to run when a session that must install from its lock file cannot.

    A session's lock is its ``pylock.<session>.toml``, or the project's ``uv.lock`` when it installs
    from that one (``session_plan["uv_lock"]``, :mod:`vrun.plan.uvlock`): either must be current.

    :param locked: ``--locked``: every session must; otherwise those with ``locked = true``.
    :raises LockError: naming each such session, its lock file and what differs, before anything
        is built (exit 1).
    """
    from vrun.errors import LockError

    problems, names, by_uv = [], [], []
    for session_plan, session in zip(session_plans, sessions):
        state, uv_state = session_plan["lock"], session_plan["uv_lock"]
        if not (locked or session.locked) or state is None:
            continue
        if uv_state is not None and uv_state["problem"] is not None:
            problems.append(uv_state["problem"])
            by_uv.append(session.name)
        elif uv_state is None and state["problem"] is not None:
            problems.append(state["problem"])
            names.append(session.name)
    if problems:
        why = "--locked" if locked else "locked = true"
        every = [*names, *by_uv]
        who = (
            f"session {every[0]} must install from its lock file"
            if len(every) == 1
            else (f"sessions {', '.join(every)} must install from their lock files")
        )
        fixes = (
            [f"`vrun lock {' '.join(names)}` to update {'it' if len(names) == 1 else 'them'}"]
            if names
            else []
        )
        fixes += ["`uv lock` to update uv.lock"] if by_uv else []
        raise LockError(
            f"{who} ({why}), but {'; '.join(problems)}",
            hint=f"run {' and '.join(fixes)}, then commit the result",
        )


def resolver_input_lines(config: Config, session: Session) -> list[str]:
    """The session's requirements as lines of a requirements file for the resolver: its ``deps``
    (local paths relative to the root, the resolver running there), group requirements, ``-r``
    and ``-c`` files. The project's own dependencies are not here: the resolver reads them from
    its metadata (:func:`vrun.commands.lock.compile_lock`)."""
    root = str(config.root)
    lines = [_portable(r, root) for r in session.requirements]
    lines += list(session.group_requirements)
    lines += [f"-r {path}" for path in session.requirement_files]
    lines += [f"-c {path}" for path in session.constraint_files]
    return lines
