"""``vrun init``: translate a project's tox or nox configuration into ``vrun.toml`` text.

:func:`translate` reads, in this order, the first of ``tox.ini``, ``tox.toml``, ``[tool.tox]`` in
``pyproject.toml`` (tox 4's TOML format, or its ``legacy_tox_ini`` string), ``[tox:tox]`` in
``setup.cfg`` and ``noxfile.py`` (parsed with :mod:`ast`, never imported or run); without any of
them it guesses sessions from the project's files. It returns the TOML text and *notes*: one line
for every construct it could not translate, naming it. :func:`write_config` writes the result to
``vrun.toml`` and never overwrites an existing configuration.

The tox rules followed are those of the tox 4 documentation ("Configuration", "Generative
environments", "Substitutions", "tox.toml"); the nox ones those of the nox documentation
("Configuration & API": ``@nox.session``, ``session.install``, ``session.run``).

This module holds the entry points, the choice of source and the TOML writer; the readers are
:mod:`vrun.migrate.toxini`, :mod:`vrun.migrate.toxtoml` (both on :mod:`vrun.migrate.tox` and
:mod:`vrun.migrate.toxsyntax`), :mod:`vrun.migrate.nox` and :mod:`vrun.migrate.guess`, all building the
:class:`~vrun.migrate.model.Session` tables of :mod:`vrun.migrate.model`.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from vrun.config import tomlfile
from vrun.config.load import CONFIG_NAME, EXAMPLE_SESSION
from vrun.config.tomlfile import dumps_value, key_part
from vrun.errors import ConfigError, UsageError
from vrun.migrate.guess import guess
from vrun.migrate.model import NOT_EMITTED, Notes, Session, drop_excluded_pythons, drop_untranslated
from vrun.migrate.nox import Noxfile
from vrun.migrate.toxini import IniTox, parse_ini
from vrun.migrate.toxtoml import TomlTox

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlTable

# --- public API --------------------------------------------------------------------------------


def translate(root: Path) -> tuple[str, list[str]]:
    """Translate the tox or nox configuration of the project in ``root`` into ``vrun.toml`` text.

    Sources, the first found wins: ``tox.ini``; ``tox.toml``; ``[tool.tox]`` in ``pyproject.toml``
    (tox 4's TOML format, or a ``legacy_tox_ini`` string); ``[tox:tox]`` in ``setup.cfg``;
    ``noxfile.py`` (read statically with :mod:`ast`: it is never imported or run). A ``tox.ini`` or
    ``setup.cfg`` without tox sections does not count. Without any source the sessions are guessed
    from the project: ``requirements*.txt`` and ``requirements/*.txt`` files, PEP 735
    ``[dependency-groups]``, a ``test`` session running pytest when there is a ``tests/`` directory
    or pytest is mentioned, a ``lint`` session running ruff when ruff is configured.

    tox semantics follow the tox 4 documentation: ``env_list`` with generative factors
    (``py{39,310}-django{40,41}``, ranges ``py3{9-12}``), ``[testenv]`` inherited by
    ``[testenv:NAME]``, factor-conditional lines (``django40: Django<4.1``), ``{[section]key}``
    references, and the substitutions of the "Substitutions" page. Envs whose names only name a
    Python (``py39``, ``py310``) and whose settings are otherwise equal become one session with a
    ``python`` matrix; other envs become sessions named after the tox env. nox semantics follow
    the nox documentation (``@nox.session``, ``session.install``, ``session.run``,
    ``nox.options.sessions``).

    :param root: the project directory.
    :return: ``(text, notes)``: the TOML text (a header comment names its source), and one line per
        construct that could not be translated, naming the tox or nox construct.
    :raises OSError: if a source file exists but cannot be read.
    :raises UsageError: there is nothing to translate and nothing to guess from (an empty folder).
    """
    root = Path(root)
    notes = Notes()
    source, sessions, default = _translate(root, notes)
    if not sessions and not source:
        raise UsageError(
            f"found no tox or nox configuration in {root}, and no requirements files, dependency "
            "groups, tests or ruff settings to guess sessions from",
            f"write {CONFIG_NAME} with a session, e.g. {EXAMPLE_SESSION} (docs/config.md)",
        )
    default = drop_untranslated(sessions, default, source, notes)
    default = drop_excluded_pythons(root, sessions, default, source or "pyproject.toml", notes)
    return _emit(source, sessions, default, notes.list()), notes.list()


def write_config(root: Path) -> tuple[Path, list[str]]:
    """Translate the project in ``root`` (see :func:`translate`) and write ``root/vrun.toml``.

    :param root: the project directory.
    :return: the path written and the notes.
    :raises UsageError: if ``root`` already has a ``vrun.toml`` or a ``[tool.vrun]`` table in its
        ``pyproject.toml``: an existing configuration is never overwritten.
    :raises OSError: if a file cannot be read or ``vrun.toml`` cannot be written.
    """
    root = Path(root)
    target = root / CONFIG_NAME
    if target.exists():
        raise UsageError(f"{target} already exists; not overwriting it", "remove it first to start over")
    pyproject = root / "pyproject.toml"
    data = tomlfile.pyproject(str(root))
    tool = data.get("tool") if data else None
    if isinstance(tool, dict) and "vrun" in tool:
        raise UsageError(f"{pyproject} already has a [tool.vrun] table; not writing {CONFIG_NAME}")
    text, notes = translate(root)
    try:
        with open(target, "x", encoding="utf-8") as file:  # "x": never clobber a file made meanwhile
            file.write(text)
    except FileExistsError:
        raise UsageError(
            f"{target} already exists; not overwriting it", "remove it first to start over"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot write {target}: {exc.strerror or exc}", "run vrun init in a folder you can write to"
        ) from None
    return target, notes


# --- source selection --------------------------------------------------------------------------


def _translate(root: Path, notes: Notes) -> tuple[str, list[Session], list[str] | None]:
    tox_ini = root / "tox.ini"
    if tox_ini.is_file():
        sections = parse_ini(_read_text(tox_ini), "tox")
        if sections is not None:
            sessions, default = IniTox(root, sections, "tox.ini", notes).translate()
            return "tox.ini", sessions, default
    tox_toml = root / "tox.toml"
    if tox_toml.is_file():
        data = _read_toml(tox_toml)
        if data is not None:
            sessions, default = TomlTox(root, data, "tox.toml", notes).translate()
            return "tox.toml", sessions, default
        notes.add("tox.toml: not valid TOML; ignored")
    pyproject = tomlfile.pyproject(str(root)) or {}
    tool = pyproject.get("tool")
    tool_tox = tool.get("tox") if isinstance(tool, dict) else None
    if isinstance(tool_tox, dict):
        legacy = tool_tox.get("legacy_tox_ini")
        if isinstance(legacy, str):
            sections = parse_ini(legacy, "tox")
            if sections is not None:
                where = "pyproject.toml [tool.tox] legacy_tox_ini"
                sessions, default = IniTox(root, sections, where, notes).translate()
                return where, sessions, default
        else:
            sessions, default = TomlTox(root, tool_tox, "pyproject.toml [tool.tox]", notes).translate()
            return "pyproject.toml [tool.tox]", sessions, default
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        sections = parse_ini(_read_text(setup_cfg), "tox:tox")
        if sections is not None:
            sections["tox"] = sections.pop("tox:tox")
            sessions, default = IniTox(root, sections, "setup.cfg", notes).translate()
            return "setup.cfg [tox:tox]", sessions, default
    noxfile = root / "noxfile.py"
    if noxfile.is_file():
        try:
            sessions, default = Noxfile(root, _read_text(noxfile), notes).translate()
        except (RecursionError, MemoryError):  # ast.parse and the walk: a pathologically nested file
            notes.add("noxfile.py: nested too deeply for Python to parse; nothing translated")
            sessions, default = [], None
        return "noxfile.py", sessions, default
    sessions, default = guess(root, pyproject, notes)
    return "", sessions, default


def _read_text(path: Path) -> str:
    """The text of ``path``, read as UTF-8 as tox and nox read their files.

    :raises ConfigError: it is not UTF-8, naming the file and the first bad byte's offset.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            None,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save it as UTF-8, as tox and nox read it",
        ) from None


def _read_toml(path: Path) -> TomlTable | None:
    try:
        return tomlfile.load(str(path))
    except (OSError, ValueError):
        return None


# --- emitting TOML -----------------------------------------------------------------------------


def _emit(source: str, sessions: list[Session], default: list[str] | None, notes: list[str]) -> str:
    origin = f"from {source}" if source else "from the project's files (no tox or nox config found)"
    lines = [f"# Generated by `vrun init` {origin}.", "# Review it; `vrun list` shows the sessions."]
    if notes:
        lines.append("# Not translated:")
        lines += [f"#   - {' '.join(note.split())}" for note in notes]
    lines.append("")
    if default:
        lines += [f"default = {dumps_value(default)}", ""]
    for session in sessions:
        table = f"sessions.{key_part(session.name)}"
        lines.append(f"[{table}]")
        for f in fields(session):
            value = getattr(session, f.name)
            if f.name in ("name", "overrides", *NOT_EMITTED) or value is None or value in ("", [], {}):
                continue
            if f.name in ("system_site_packages", "locked") and value is False:
                continue
            lines.append(f"{f.name} = {dumps_value(value)}")
        lines.append("")
        for condition, keys in session.overrides.items():
            lines.append(f"[{table}.overrides.{key_part(condition)}]")
            for name, value in keys.items():
                if name == "add" and isinstance(value, dict):
                    lines += [f"add.{key_part(k)} = {dumps_value(v)}" for k, v in value.items()]
                else:
                    lines.append(f"{key_part(name)} = {dumps_value(value)}")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
