"""What every ``vrun init`` translator builds and shares: the :class:`Session` tables to write, the
:class:`Notes` on what was not translated, and the rules for commands, requirements and
``install_project`` as vrun's config loader will read them back (:mod:`vrun.config.fields`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from vrun import SUBCOMMANDS
from vrun.config import reqfiles, tomlfile
from vrun.config.fields import SHELL_OPERATORS, split_keeping_placeholders
from vrun.output import quote
from vrun.placeholders import spans

#: Names a session may not take: vrun's subcommands.
RESERVED = frozenset(SUBCOMMANDS)


@dataclass
class Session:
    """One ``[sessions.NAME]`` table to emit; ``None``/empty values are left out."""

    name: str
    description: str = ""
    python: str | list[str] | None = None
    script: str | None = None  # a PEP 723 script: the session's dependencies are in its block
    deps: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    install_project: str | bool | None = None  # None: vrun's default
    system_site_packages: bool = False
    pass_env: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    tags: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    commands: list[str | list[str]] = field(default_factory=list)

    def body(self) -> dict[str, object]:
        """Every key but ``name`` and ``python``: what must match for envs to share a matrix."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "python")}


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


def requirement(entry: str, where: str, root: Path, notes: Notes) -> str | None:
    """A ``deps`` entry as vrun takes it, or ``None`` after adding a note naming ``where``.

    :param entry: a tox ``deps`` line or a nox ``session.install`` argument: a PEP 508 requirement
        (checked with ``packaging``), or pip's ``-r FILE`` / ``-c FILE`` in any spelling that
        :func:`vrun.config.reqfiles.file_option` reads; a leading ``{project_root}/`` is dropped.
    :param root: the project directory; a ``-r``/``-c`` file that does not exist there is dropped.
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

    try:
        Requirement(entry)
    except InvalidRequirement:
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

    :param wanted: ``"editable"``, ``"wheel"``, or ``None`` for "do not install the project".
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
        if s.install_project is False or s.python is None or project_default(root) is None:
            continue
        pythons = [s.python] if isinstance(s.python, str) else s.python
        out = [py for py in pythons if excluded(py)]
        if not out:
            continue
        notes.add(
            f"{source}: {s.name} on Python {', '.join(out)} left out: the project's requires-python "
            f"is {wanted!r}"
        )
        kept = [py for py in pythons if py not in out]
        if not kept:
            gone.add(s.name)
        s.python = kept if isinstance(s.python, list) else s.python
    sessions[:] = [s for s in sessions if s.name not in gone]
    for s in sessions:
        s.requires = [r for r in s.requires if r not in gone]
    return [d for d in default if d not in gone] if default is not None else None
