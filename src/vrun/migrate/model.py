"""What every ``vrun init`` translator builds and shares: the :class:`Session` tables to write, the
:class:`Notes` on what was not translated, and the rules for commands, requirements and
``install_project`` as vrun's config loader will read them back (:mod:`vrun.config.fields`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from vrun import SUBCOMMANDS
from vrun.config import reqfiles, tomlfile
from vrun.config.extends import Table
from vrun.config.fields import SHELL_OPERATORS, split_keeping_placeholders
from vrun.config.keys import Context
from vrun.config.matrix import Pairs, entries, entry_name, fill, parse_condition
from vrun.output import quote
from vrun.placeholders import spans

#: Names a session may not take: vrun's subcommands.
RESERVED = frozenset(SUBCOMMANDS)


#: A ``matrix`` value to emit: factor -> values, or a list of such tables (their union).
Matrix = Union[dict[str, list[str]], list[dict[str, list[str]]]]


@dataclass
class Session:
    """One ``[sessions.NAME]`` table to emit; ``None``/empty values are left out.

    :param matrix: the session's ``matrix`` (python among its factors), or ``None`` (a ``python``
        list makes a matrix of Pythons alone).
    :param overrides: condition (``"django=42"``, ``"3.12"``) -> the keys those entries set, an
        ``add`` table of arrays among them (docs/config.md, "Matrix overrides").
    """

    name: str
    description: str = ""
    python: str | list[str] | None = None
    script: str | None = None  # a PEP 723 script: the session's dependencies are in its block
    matrix: Matrix | None = None
    deps: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    install_project: str | bool | None = None  # None: vrun's default
    system_site_packages: bool = False
    pass_env: list[str] = field(default_factory=list)
    env_file: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    build_env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    tags: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    commands_pre: list[str | list[str]] = field(default_factory=list)
    commands: list[str | list[str]] = field(default_factory=list)
    commands_post: list[str | list[str]] = field(default_factory=list)
    locked: bool = False  # tox-uv's lock runner fails on a stale uv.lock
    uv_lock: bool | None = None  # None: vrun's default (install from uv.lock when there is one)
    overrides: dict[str, dict[str, object]] = field(default_factory=dict)
    #: how many of the source's commands could not be translated (each has a note)
    dropped: int = 0

    def has_commands(self) -> bool:
        """Whether any of ``commands_pre``, ``commands``, ``commands_post`` holds a command."""
        return bool(self.commands_pre or self.commands or self.commands_post)


#: :class:`Session` fields that are bookkeeping, not keys of the table written.
NOT_EMITTED = ("dropped",)


class Notes:
    """Notes in order, each once."""

    def __init__(self) -> None:
        self.items: dict[str, None] = {}

    def add(self, text: str) -> None:
        """Add ``text`` unless it is already there."""
        self.items[text] = None

    def list(self) -> list[str]:
        """The notes in the order first added."""
        return list(self.items)


def command_item(argv: list[str]) -> str | list[str]:
    """A command as vrun will read it back: a string when it splits back to ``argv``, else an array.

    :param argv: the program and its arguments; ``{...}`` placeholders stay as written.
    :return: the string form when :func:`vrun.config.fields.split_keeping_placeholders` (the config
        loader's split) gives ``argv`` back and no word is a shell operator (vrun rejects those in
        a string command), else ``argv`` itself, to be written as a TOML array.
    """
    text = " ".join(_quote(word) for word in argv)
    try:
        same = split_keeping_placeholders(text) == argv
    except ValueError:
        same = False
    if same and not any(word in SHELL_OPERATORS for word in argv) and argv and argv[0]:
        return text
    return argv


def _quote(word: str) -> str:
    """Quote ``word`` for :func:`shlex.split`, as lightly as possible (placeholders stay bare)."""
    if re.fullmatch(r"[\w@%+=:,./{}-]+", word) or spans(word) == [(0, len(word))]:
        return word
    if "'" not in word:
        return f"'{word}'"
    if not re.search(r'["\\$`]', word):
        return f'"{word}"'
    return quote(word)


def requirement(
    entry: str, where: str, root: Path, notes: Notes, entries: Sequence[Pairs] = ()
) -> str | None:
    """A ``deps`` entry as vrun takes it, or ``None`` after adding a note naming ``where``.

    :param entry: a tox ``deps`` line or a nox ``session.install`` argument: a PEP 508 requirement
        (checked with ``packaging``), or pip's ``-r FILE`` / ``-c FILE`` in any spelling that
        :func:`vrun.config.reqfiles.file_option` reads; a leading ``{project_root}/`` is dropped.
        A ``{matrix:FACTOR}`` in it must make a requirement with the values of each of ``entries``.
    :param root: the project directory; a ``-r``/``-c`` file that does not exist there is dropped.
    :param entries: the values of the matrix entries of the session it is for.
    :return: the requirement, or ``-r FILE`` / ``-c FILE``; ``None`` for other pip options, missing
        files and invalid requirements.
    """
    entry = entry.strip()
    if entry.startswith("{project_root}/"):
        entry = entry[len("{project_root}/") :]
    option = reqfiles.file_option(entry)
    if option is not None and option[0] in ("-r", "-c") and option[1]:
        flag, name = option
        if name.startswith("{project_root}/"):
            name = name[len("{project_root}/") :]
        if not (root / name).is_file():
            notes.add(f"{where}: {flag} file {name!r} does not exist; dropped")
            return None
        return f"{flag} {name}"
    if entry.startswith("-"):
        notes.add(f"{where}: pip option {entry!r} not translated (deps takes requirements, -r and -c)")
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    def unfilled(arg: str | None) -> str:
        raise ValueError(arg)

    try:
        for pairs in entries if "{matrix" in entry else [()]:
            Requirement(fill(entry, pairs, unfilled))
    except (InvalidRequirement, ValueError):
        notes.add(f"{where}: {entry!r} is not a PEP 508 requirement; dropped")
        return None
    return entry


def project_default(root: Path) -> str | None:
    """vrun's default ``install_project`` for ``root``: ``"editable"`` when ``pyproject.toml`` has a
    ``[project]`` table or there is a ``setup.py``, else ``None`` (the rule of
    :attr:`vrun.config.keys.Context.install_default`; an unreadable ``pyproject.toml`` counts as none)."""
    data = tomlfile.pyproject(str(root)) or {}
    if isinstance(data.get("project"), dict) or (root / "setup.py").is_file():
        return "editable"
    return None


def install_value(
    root: Path, wanted: str | None, where: str, notes: Notes, *, script: bool = False
) -> str | bool | None:
    """The ``install_project`` value to write for a session that wants ``wanted``.

    :param wanted: ``"editable"``, ``"wheel"``, ``"sdist"``, or ``None`` for "do not install the project".
    :param script: the session is a script session, whose default is not to install the project.
    :return: ``False`` to turn off vrun's default, a mode that differs from it, or ``None`` to leave
        the key out (the default already does it, or there is no project to install).
    """
    default = None if script else project_default(root)
    if wanted is None:
        return False if default else None
    if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
        return None  # nothing to install (tox would need skipsdist here)
    return None if wanted == default else wanted


def script_command(script: str) -> str | list[str]:
    """The command a script session runs unless told otherwise, as :func:`command_item` writes it:
    ``python SCRIPT {posargs}`` (:meth:`vrun.config.script.ScriptMetadata.command`), for a
    translator to leave out of ``commands``."""
    return command_item(["python", script, "{posargs}"])


def drop_excluded_pythons(
    root: Path, sessions: list[Session], default: list[str] | None, source: str, notes: Notes
) -> list[str] | None:
    """Leave out the Pythons the project itself excludes, in place; return ``default`` without the
    sessions that had no Python left.

    A session that installs the project cannot pass on a Python outside the project's static
    ``[project] requires-python`` (PEP 621; an installer refuses it, PEP 345's
    ``Requires-Python``), yet tox and nox configs often keep listing an old one. Only ``X.Y``
    specs (``3.8``, ``3.14t``, ``pypy3.10``) are judged: a minor version is kept when its first
    or a late patch release matches. Each one left out gets a note; so does a session left with
    none, which is removed, along with its name in ``default`` and in other sessions' ``requires``.
    """
    data = tomlfile.pyproject(str(root)) or {}
    project = data.get("project")
    wanted = project.get("requires-python") if isinstance(project, dict) else None
    if not isinstance(wanted, str):
        return default
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        allowed = SpecifierSet(wanted)
    except InvalidSpecifier:
        return default

    def excluded(spec: str) -> bool:
        match = re.fullmatch(r"(?:pypy)?(\d+)\.(\d+)t?", spec)
        if match is None:
            return False
        minor = ".".join(match.groups())
        return not (allowed.contains(f"{minor}.0") or allowed.contains(f"{minor}.99"))

    gone: set[str] = set()
    for s in sessions:
        if s.install_project is False or project_default(root) is None:
            continue
        out = [py for py in dict.fromkeys(_pythons(s)) if excluded(py)]
        if not out:
            continue
        notes.add(
            f"{source}: {s.name} on Python {', '.join(out)} left out: the project's requires-python "
            f"is {wanted!r}"
        )
        before = entry_names(s)
        if not _without_pythons(s, set(out)):
            gone.update([s.name, *before])
        else:
            gone.update(set(before) - set(entry_names(s)))
    return remove(sessions, default, gone)


def remove(sessions: list[Session], default: list[str] | None, gone: set[str]) -> list[str] | None:
    """Take the sessions named in ``gone`` out of ``sessions`` (in place) and out of the others'
    ``requires``; return ``default`` without them."""
    sessions[:] = [s for s in sessions if s.name not in gone]
    for s in sessions:
        s.requires = [r for r in s.requires if r not in gone]
    return [d for d in default if d not in gone] if default is not None else None


def drop_untranslated(
    sessions: list[Session], default: list[str] | None, source: str, notes: Notes
) -> list[str] | None:
    """Leave out, in place, each session whose source had commands none of which could be
    translated (each already has a note): written, it would build an env and run nothing, and
    pass. Each one left out gets a note; return ``default`` without them (:func:`remove`)."""
    gone = [s.name for s in sessions if s.dropped and not s.has_commands()]
    for name in gone:
        notes.add(
            f"{source or 'the guess'}: session {name} left out: none of its commands could be "
            "translated (see the notes above); write them by hand"
        )
    return remove(sessions, default, set(gone))


def _tables(s: Session) -> list[dict[str, list[str]]]:
    """The tables of ``s``'s matrix (one for a dict, none without a matrix)."""
    if s.matrix is None:
        return []
    return [s.matrix] if isinstance(s.matrix, dict) else list(s.matrix)


def _pythons(s: Session) -> list[str]:
    """Every Python ``s`` runs on: its python list, its matrix's python values, else its python."""
    if isinstance(s.python, list):
        return list(s.python)
    tables = _tables(s) or [{}]
    return [py for t in tables for py in (t.get("python") or ([s.python] if s.python else []))]


def _without_pythons(s: Session, out: set[str]) -> bool:
    """Take the Pythons ``out`` from ``s`` in place (its matrix's tables left with none go, and the
    overrides naming one); ``False`` when nothing of ``s`` is left."""
    if isinstance(s.python, list):
        s.python = [py for py in s.python if py not in out]
        if not s.python:
            return False
    elif s.matrix is None:
        return s.python not in out
    else:
        kept = []
        for t in _tables(s):
            if "python" in t:
                t["python"] = [py for py in t["python"] if py not in out]
                if t["python"]:
                    kept.append(t)
            elif s.python not in out:
                kept.append(t)
        if not kept:
            return False
        s.matrix = kept[0] if isinstance(s.matrix, dict) else kept
    s.overrides = {
        condition: keys
        for condition, keys in s.overrides.items()
        if not any(f == "python" and v in out for f, v in parse_condition(condition))
    }
    return True


def entry_pairs(s: Session) -> list[Pairs]:
    """The values of ``s``'s matrix entries as vrun will load them (:func:`vrun.config.matrix.entries`
    on the table to write); ``[]`` without a matrix."""
    values: dict[str, object] = {"matrix": s.matrix} if s.matrix is not None else {"python": s.python}
    table = Table(values, dict.fromkeys(values, f"sessions.{s.name}"))  # type: ignore[arg-type]
    found = entries(Context(Path("vrun.toml"), Path("."), ""), s.name, table)
    return [entry.pairs for entry in found or []]


def entry_names(s: Session) -> list[str]:
    """The names of ``s``'s matrix entries as vrun will load them; ``[]`` without a matrix."""
    return [entry_name(s.name, pairs) for pairs in entry_pairs(s)]
