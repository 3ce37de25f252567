"""The env key: what decides an env's contents, and nothing else.

An env lives in ``.venvs/<session>-<digest>/``. The digest hashes, in a stable order, every
input that decides what is installed (``design.md``, "The environment key"):

- ``python``: the interpreter's implementation, full version, ISA, pointer size and the real
  path of its base executable;
- ``requirements``: the session's PEP 508 strings, whitespace-normalized and sorted;
- ``requirement_files`` / ``constraint_files``: the *contents* of every ``-r`` / ``-c`` file,
  followed recursively through the ``-r``/``-c`` lines inside them (pip's requirements-file
  format);
- ``groups``: the PEP 735 dependency groups with their resolved requirements;
- ``extras`` and ``project``: the install mode and the project's metadata (``[project]`` and
  ``[build-system]`` of pyproject.toml, ``setup.cfg``, ``setup.py``);
- ``system_site_packages``, ``backend`` and vrun's :data:`SCHEMA_VERSION`.

Each input is kept as a named *component* so that a rebuild can say which one changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrun.config import Config, Session
from vrun.interpreters import Interpreter

#: Bumped whenever the layout of an env or of its key changes; old envs then go stale.
SCHEMA_VERSION = 1
#: Hex characters of the digest kept in the directory name (40 bits).
DIGEST_LENGTH = 10

# pip's requirements-file options that name another file: -r/--requirement, -c/--constraint.
_FILE_OPTION = re.compile(
    r"^\s*(?P<opt>-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?<=-r)|(?<=-c))(?P<path>\S+)"
)


@dataclass(frozen=True)
class EnvKey:
    """The key of one session's env.

    :param digest: :data:`DIGEST_LENGTH` hex characters of SHA-256 over :attr:`components`.
    :param components: the named inputs, JSON-serializable, as stored in the env's marker.
    """

    digest: str
    components: dict[str, Any]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _read_requirements_file(path: Path) -> Iterator[tuple[str, str]]:
    """Yield the lines of a requirements file in pip's format, comments after `` #`` cut.

    Each is ``("r", FILE)`` or ``("c", FILE)`` for a ``-r``/``-c`` reference (FILE as
    written) or ``("", LINE)`` for anything else. An unreadable file yields nothing.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0]
        match = _FILE_OPTION.match(line)
        if match is None:
            yield "", line
        else:
            yield ("c" if match["opt"] in ("-c", "--constraint") else "r"), match["path"]


def _referenced_files(path: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(kind, path)`` for the ``-r``/``-c`` lines of a requirements file."""
    for kind, value in _read_requirements_file(path):
        if kind:
            yield kind, path.parent / value


def requirement_lines(requirement_files: tuple[Path, ...]) -> list[str]:
    """The requirement lines of ``-r`` files, following nested ``-r`` references (pip's format).

    ``-c`` references and the reference lines themselves are left out; comments after `` #``
    are cut. Unreadable files and reference cycles are skipped.
    """
    lines: list[str] = []
    seen: set[Path] = set()
    todo = list(requirement_files)
    while todo:
        path = Path(os.path.normpath(todo.pop(0)))
        if path in seen:
            continue
        seen.add(path)
        for kind, value in _read_requirements_file(path):
            if not kind:
                lines.append(value)
            elif kind == "r":
                todo.append(path.parent / value)
    return lines


def file_contents(
    requirement_files: tuple[Path, ...], constraint_files: tuple[Path, ...], project_root: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Digest every file reachable through ``-r``/``-c`` lines, as pip would read them.

    :param requirement_files: the session's ``-r`` files, absolute.
    :param constraint_files: the session's ``-c`` files, absolute.
    :param project_root: paths are reported relative to it where possible.
    :returns: ``({display path: digest}, {display path: digest})`` for requirement files and
        constraint files. A ``-c`` line inside a requirement file adds a constraint file (pip's
        rule); a missing nested file maps to ``"missing"`` (pip will fail on it, and the key
        changes once it appears). Reference cycles are followed once.
    """
    found: dict[str, dict[str, str]] = {"r": {}, "c": {}}
    seen: set[tuple[str, Path]] = set()
    todo: list[tuple[str, Path]] = [("r", p) for p in requirement_files] + [
        ("c", p) for p in constraint_files
    ]
    while todo:
        kind, path = todo.pop(0)
        real = Path(os.path.normpath(path))
        if (kind, real) in seen:
            continue
        seen.add((kind, real))
        try:
            found[kind][_display(real, project_root)] = _file_digest(real)
        except OSError:
            found[kind][_display(real, project_root)] = "missing"
        todo.extend(_referenced_files(real))
    return found["r"], found["c"]


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _normalize_requirement(req: str) -> str:
    return " ".join(req.split())


def project_metadata(root: Path, pyproject_table: Mapping[str, Any] | None) -> dict[str, str]:
    """Digest what decides how the project itself is built and what it depends on.

    :param root: the project root.
    :param pyproject_table: the parsed pyproject.toml, or ``None`` when there is none.
    :returns: ``{"pyproject": ..., "setup.cfg": ..., "setup.py": ...}`` digests of the parts
        present. Only ``[project]`` and ``[build-system]`` of pyproject.toml count: editing
        ``[tool.*]`` sections (vrun's own included) does not rebuild an env.
    """
    out: dict[str, str] = {}
    if pyproject_table is not None:
        relevant = {k: pyproject_table.get(k) for k in ("project", "build-system")}
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        out["pyproject.toml"] = hashlib.sha256(blob).hexdigest()[:16]
    for name in ("setup.cfg", "setup.py"):
        path = root / name
        if path.is_file():
            out[name] = _file_digest(path)
    return out


def compute_key(
    session: Session,
    config: Config,
    interpreter: Interpreter,
    backend: str,
    pyproject_table: Mapping[str, Any] | None,
) -> EnvKey:
    """Compute the env key of ``session``.

    :param session: the session.
    :param config: the config it came from (for the project root).
    :param interpreter: the interpreter the env is built from.
    :param backend: the installer backend's name, e.g. ``"virtualenv"``.
    :param pyproject_table: the parsed ``pyproject.toml`` of the project root, or ``None``.
    :returns: the key. Reads the requirement files; raises nothing for a missing nested file.
    """
    requirement_files, constraint_files = file_contents(
        session.requirement_files, session.constraint_files, config.root
    )
    components: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "python": (
            f"{interpreter.implementation} {interpreter.version} {interpreter.machine} "
            f"{interpreter.architecture}bit {interpreter.base_executable}"
        ),
        "requirements": sorted(_normalize_requirement(r) for r in session.requirements),
        "requirement_files": requirement_files,
        "constraint_files": constraint_files,
        "groups": {
            "names": list(session.groups),
            "requirements": sorted(_normalize_requirement(r) for r in session.group_requirements),
        },
        "extras": sorted(session.extras),
        "project": (
            {"mode": session.install_project, **project_metadata(config.root, pyproject_table)}
            if session.install_project
            else {"mode": None}
        ),
        "system_site_packages": session.system_site_packages,
        "backend": backend,
    }
    blob = json.dumps(components, sort_keys=True).encode()
    return EnvKey(hashlib.sha256(blob).hexdigest()[:DIGEST_LENGTH], components)


_LABELS = {
    "schema": "vrun's env layout changed",
    "python": "python changed",
    "requirements": "requirements changed",
    "requirement_files": "requirements changed",
    "constraint_files": "constraints changed",
    "groups": "dependency groups changed",
    "extras": "extras changed",
    "project": "project metadata changed",
    "system_site_packages": "system_site_packages changed",
    "backend": "backend changed",
}


def explain_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Say in one line why ``new`` differs from ``old`` (two :attr:`EnvKey.components`).

    :returns: e.g. ``"requirements changed: requirements/test.txt"`` or
        ``"python changed: CPython 3.12.1 ... -> CPython 3.12.4 ..."``; ``""`` when equal.
    """
    reasons: list[str] = []
    for name, label in _LABELS.items():
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and name != "groups":
            names = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            names = [n for n in names if n != "mode"] or names
            reasons.append(f"{label}: {', '.join(names)}")
        elif name == "python":
            reasons.append(f"{label}: {before} -> {after}")
        elif isinstance(before, list) and isinstance(after, list):
            added = [x for x in after if x not in before]
            removed = [x for x in before if x not in after]
            parts = [f"+{x}" for x in added] + [f"-{x}" for x in removed]
            reasons.append(f"{label}: {', '.join(parts)}" if parts else label)
        else:
            reasons.append(label)
    # requirement_files and requirements share a label; keep the line short and unique
    unique: list[str] = []
    for r in reasons:
        if r not in unique:
            unique.append(r)
    return "; ".join(unique)
