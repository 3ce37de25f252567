"""Load and validate vrun's configuration: ``vrun.toml`` or ``[tool.vrun]`` in ``pyproject.toml``.

:func:`load_project_config` finds the nearest configuration walking up from a directory (as git
finds ``.git``), parses it and returns a frozen :class:`Config`. All validation happens here, at
load time: an unknown key, a wrong type, an invalid requirement or a bad session reference is a
:class:`~vrun.errors.ConfigError` naming the file and the dotted key, so later steps can trust
every value. ``packaging`` and ``dependency_groups`` are imported only when a config has
``deps`` or ``groups``, to keep start-up cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

#: Names of vrun's built-in subcommands; a session may not take one of them.
BUILTIN_COMMANDS = frozenset(
    {"list", "shell", "activate", "run", "path", "rm", "gc", "freeze", "help", "version"}
)

#: The install modes of ``install_project``.
INSTALL_MODES = ("editable", "wheel")

#: The dedicated configuration file's name.
CONFIG_NAME = "vrun.toml"
#: The project metadata file whose ``[tool.vrun]`` table may hold the configuration.
PYPROJECT_NAME = "pyproject.toml"


@dataclass(frozen=True)
class Command:
    """One session command.

    :param argv: the program and its arguments, still holding ``{posargs}``-style placeholders.
        For a shell command (``shell = true``) this is a 1-tuple holding the whole command line.
    :param shell: run through ``/bin/sh -c`` instead of as argv.
    :param source: the command as the user wrote it, for display.
    """

    argv: tuple[str, ...]
    shell: bool = False
    source: str = ""


@dataclass(frozen=True)
class Session:
    """A session as configured; a ``python`` list is already expanded into one per version.

    :param name: the full name, e.g. ``test-3.11`` for a matrix entry, ``lint`` otherwise.
    :param base_name: the name under ``[sessions]``, e.g. ``test``.
    :param python: the interpreter spec, or ``None`` for the interpreter running vrun.
    :param requirements: PEP 508 strings from ``deps``, as written (stripped).
    :param requirement_files: absolute paths of ``-r FILE`` entries, in order.
    :param constraint_files: absolute paths of ``-c FILE`` entries, in order.
    :param groups: PEP 735 dependency-group names.
    :param group_requirements: the groups' requirements, resolved (``include-group`` expanded).
    :param extras: the project's extras to install with it.
    :param install_project: ``"editable"``, ``"wheel"`` or ``None`` (do not install the project).
    :param commands: the commands, in order.
    :param env: set_env: variables set for the commands, in config order.
    :param pass_env: names and ``fnmatch`` globs of caller variables let through.
    :param cwd: the directory the commands run in (absolute).
    """

    name: str
    base_name: str
    description: str = ""
    python: str | None = None
    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    constraint_files: tuple[Path, ...] = ()
    groups: tuple[str, ...] = ()
    group_requirements: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    install_project: str | None = None
    commands: tuple[Command, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    pass_env: tuple[str, ...] = ()
    system_site_packages: bool = False
    tags: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    cwd: Path = field(default_factory=Path.cwd)
    shell: bool = False


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration.

    :param path: the file the config was read from (``vrun.toml`` or ``pyproject.toml``).
    :param root: the project root: the directory holding :attr:`path`.
    :param sessions: every session by full name, in file order (matrix entries in list order).
    :param matrix: base name -> full names, for every session (a non-matrix session maps to itself).
    :param default: the base or full names a bare ``vrun`` runs, or ``None`` for all.
    :param python: the top-level default interpreter spec, or ``None``.
    :param pyproject: ``root / "pyproject.toml"`` when it exists, else ``None``.
    """

    path: Path
    root: Path
    sessions: dict[str, Session]
    matrix: dict[str, tuple[str, ...]]
    default: tuple[str, ...] | None = None
    python: str | None = None
    pyproject: Path | None = None


_TOP_KEYS = ("default", "python", "sessions")
_SESSION_KEYS = (
    "description",
    "python",
    "deps",
    "groups",
    "extras",
    "install_project",
    "commands",
    "shell",
    "env",
    "pass_env",
    "system_site_packages",
    "tags",
    "requires",
    "cwd",
)
#: Keys other tools use for the same thing, suggested when ``difflib`` finds nothing close.
_ALIASES = {
    "dependencies": "deps",
    "requirements": "deps",
    "setenv": "env",
    "set_env": "env",
    "passenv": "pass_env",
    "basepython": "python",
    "changedir": "cwd",
    "depends": "requires",
    "sitepackages": "system_site_packages",
    "skip_install": "install_project",
    "usedevelop": "install_project",
    "package": "install_project",
    "allowlist_externals": "commands",
}
_SESSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: PEP 685 / core metadata: a valid extra name.
_EXTRA_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
#: Tokens that mean the user expected a shell; without one they would reach the program as arguments.
_SHELL_OPERATORS = frozenset({"&&", "||", "|", ";", ">", ">>", "<", "2>", "&"})
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_UNSET = object()


def find_config(start: Path) -> Path:
    """Find the configuration that applies to ``start``, walking up like git does.

    In each directory from ``start`` up to the filesystem root, ``vrun.toml`` is taken if present,
    else ``pyproject.toml`` if it has a ``[tool.vrun]`` table; a ``pyproject.toml`` without one does
    not count.

    :param start: the directory to start from (relative paths are taken from the current directory).
    :return: the absolute path of the configuration file.
    :raises UsageError: if neither exists in ``start`` or any parent.
    :raises ConfigError: if a ``pyproject.toml`` on the way is not valid TOML.
    """
    return _find(_absolute(start), {})


def load_config(path: Path) -> Config:
    """Parse and fully validate one configuration file.

    :param path: a ``vrun.toml``, or a ``pyproject.toml`` (read from its ``[tool.vrun]`` table).
    :return: the validated configuration; relative paths in it are resolved against the file's directory.
    :raises ConfigError: if the file cannot be read, is not valid TOML (with line and column), or
        breaks any rule of the schema (naming the dotted key).
    """
    return _load(_absolute(path), {})


def load_project_config(start: Path) -> tuple[Config, list[str]]:
    """Find the configuration for ``start`` (see :func:`find_config`) and load it.

    :param start: the directory to start from, usually the current directory.
    :return: the configuration, and notices for the user (to print once), e.g. that both
        ``vrun.toml`` and ``[tool.vrun]`` exist and ``vrun.toml`` wins.
    :raises UsageError: if no configuration is found.
    :raises ConfigError: if the configuration is invalid.
    """
    cache: dict[Path, dict[str, Any]] = {}
    path = _find(_absolute(start), cache)
    notices = []
    pyproject = path.parent / PYPROJECT_NAME
    if path.name == CONFIG_NAME and pyproject.is_file() and _tool_vrun(_read_toml(pyproject, cache)):
        notices.append(
            f"both {CONFIG_NAME} and [tool.vrun] in {PYPROJECT_NAME} define vrun config "
            f"(in {path.parent}); using {CONFIG_NAME}"
        )
    return _load(path, cache), notices


# --- reading -----------------------------------------------------------------------------------


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _read_toml(path: Path, cache: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    """Parse a TOML file once per load; every failure becomes a :class:`ConfigError`."""
    if path not in cache:
        try:
            with open(path, "rb") as file:
                cache[path] = tomllib.load(file)
        except OSError as exc:
            raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(path, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
        except tomllib.TOMLDecodeError as exc:
            problem, line, column = _decode_error_parts(exc)
            raise ConfigError(path, None, f"invalid TOML: {problem}", line=line, column=column) from exc
    return cache[path]


def _decode_error_parts(exc: ValueError) -> tuple[str, int | None, int | None]:
    """Split a TOML decode error into (problem, line, column).

    Python >= 3.14 (and tomli >= 2.1) carry ``msg``, ``lineno`` and ``colno``; older versions only
    end the message with ``(at line X, column Y)``.
    """
    line: int | None = getattr(exc, "lineno", None)
    column: int | None = getattr(exc, "colno", None)
    problem = getattr(exc, "msg", None)
    if not isinstance(problem, str):
        problem = str(exc)
    match = _TOML_POSITION.search(problem)
    if match:
        problem = problem[: match.start()]
        if line is None:
            line, column = int(match[1]), int(match[2])
    return problem, line, column


def _tool_vrun(data: dict[str, Any]) -> bool:
    tool = data.get("tool")
    return isinstance(tool, dict) and "vrun" in tool


def _find(start: Path, cache: dict[Path, dict[str, Any]]) -> Path:
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT_NAME
        if pyproject.is_file() and _tool_vrun(_read_toml(pyproject, cache)):
            return pyproject
    raise UsageError(
        f"no {CONFIG_NAME} or [tool.vrun] in {PYPROJECT_NAME} found in {start} or any parent",
        f'create {CONFIG_NAME} with a session, e.g. [sessions.test] commands = ["pytest"]',
    )


# --- validation helpers ------------------------------------------------------------------------


@dataclass
class _Context:
    """What every check needs: where the config is, and how to name a key in an error."""

    path: Path
    root: Path
    prefix: str
    cache: dict[Path, dict[str, Any]]

    def error(self, key: str, problem: str, hint: str | None = None) -> ConfigError:
        return ConfigError(self.path, self.prefix + key, problem, hint)

    def pyproject(self) -> dict[str, Any] | None:
        """The parsed ``pyproject.toml`` beside the config, or ``None`` when there is none."""
        path = self.root / PYPROJECT_NAME
        return _read_toml(path, self.cache) if path.is_file() else None

    @functools.cached_property
    def install_default(self) -> str | None:
        """``"editable"`` when the root holds a project (``[project]`` or ``setup.py``), else ``None``."""
        data = self.pyproject()
        is_project = isinstance((data or {}).get("project"), dict) or (self.root / "setup.py").is_file()
        return "editable" if is_project else None


def _key_part(name: str) -> str:
    """A table name as it is written in a dotted TOML key (quoted unless bare)."""
    return name if _BARE_KEY.fullmatch(name) else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # date, time, datetime


def _got(value: object) -> str:
    """Describe a TOML value for an error: its type, and the value itself when it is a scalar."""
    if isinstance(value, (list, dict)):
        return _toml_type(value)
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, str):
        shown = '"' + value + '"'
    else:
        shown = str(value)
    return f"{_toml_type(value)} ({shown})"


def _leaf(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _suggest(name: str, known: Sequence[str]) -> str | None:
    import difflib  # only needed on the error path

    match = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {match[0]!r}?" if match else None


def _str(ctx: _Context, key: str, value: object, like: str | None = None) -> str:
    """Return ``value`` if it is a non-empty string, else raise naming ``key``."""
    if isinstance(value, str):
        if not value.strip():
            raise ctx.error(key, "expected a non-empty string")
        return value
    expected = f'a string like "{like}"' if like else "a string"
    problem = f"expected {expected}, got {_got(value)}"
    if not isinstance(value, (list, dict)):
        problem += ": quote it"
    raise ctx.error(key, problem)


def _bool(ctx: _Context, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"expected true or false, got {_got(value)}")
    return value


def _array(ctx: _Context, key: str, value: object, of: str) -> list[Any]:
    if isinstance(value, list):
        return value
    hint = f'write {_leaf(key)} = ["{value}"]' if isinstance(value, str) else None
    raise ctx.error(key, f"expected an array of {of}, got {_got(value)}", hint)


def _str_list(ctx: _Context, key: str, value: object) -> tuple[str, ...]:
    items = _array(ctx, key, value, "strings")
    return tuple(_str(ctx, f"{key}[{i}]", item) for i, item in enumerate(items))


def _table(ctx: _Context, key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.error(key, f"expected a table, got {_got(value)}")
    return value


def _check_keys(ctx: _Context, prefix: str, table: dict[str, Any], known: Sequence[str]) -> None:
    """Reject any key not in ``known``, suggesting the closest known one."""
    for name, value in table.items():
        if name in known:
            continue
        hint = _suggest(name, known)
        if name == "skip_install":
            hint = "vrun spells it install_project = false"
        elif name in _ALIASES:
            hint = f"did you mean {_ALIASES[name]!r}?"
        elif hint is None and not prefix and isinstance(value, dict):
            hint = f"a session goes in [{ctx.prefix}sessions.{_key_part(name)}]"
        elif hint is None:
            hint = f"known keys: {', '.join(known)}"
        raise ctx.error(prefix + _key_part(name), f"unknown key {name!r}", hint)


def _check_name(ctx: _Context, key: str, name: str, spec: str | None = None) -> None:
    """Apply the session-name rule; ``spec`` is set when ``name`` comes from a python matrix."""
    origin = f"python {spec!r} makes the session name {name!r}, which" if spec else f"{name!r}"
    if not _SESSION_NAME.fullmatch(name):
        raise ctx.error(
            key,
            f"{origin} is not a valid session name",
            "a session name starts with a letter or digit and holds only letters, digits, '_', '.', '+', '-'",
        )
    if name in BUILTIN_COMMANDS:
        raise ctx.error(key, f"{origin} is a vrun command, not a valid session name", "rename the session")


# --- session fields ----------------------------------------------------------------------------


def _pythons(ctx: _Context, key: str, value: object) -> tuple[str, ...] | None:
    """A session's ``python``: a spec, or a non-empty list of specs (a matrix, returned as a tuple)."""
    if not isinstance(value, list):
        _str(ctx, key, value, like="3.10")
        return None
    if not value:
        raise ctx.error(key, "expected a version or a non-empty array of versions, got an empty array")
    return tuple(_str(ctx, f"{key}[{i}]", item, like="3.10") for i, item in enumerate(value))


def _deps(
    ctx: _Context, key: str, value: object
) -> tuple[tuple[str, ...], tuple[Path, ...], tuple[Path, ...]]:
    """Split ``deps`` into PEP 508 requirements, ``-r`` files and ``-c`` files (pip's syntax).

    Files are resolved against the config's directory and must exist.
    """
    requirements: list[str] = []
    files: dict[str, list[Path]] = {"-r": [], "-c": []}
    for i, item in enumerate(_str_list(ctx, key, value)):
        entry_key = f"{key}[{i}]"
        entry = item.strip()
        option = _file_option(entry)
        if option is not None:
            flag, name = option
            what = "requirements" if flag == "-r" else "constraints"
            if not name:
                raise ctx.error(entry_key, f"{flag} needs a file name", f'write "{flag} {what}.txt"')
            path = Path(os.path.normpath(ctx.root / name))
            if not path.is_file():
                raise ctx.error(
                    entry_key,
                    f"{what} file {name!r} not found at {path}",
                    f"paths in deps are relative to {ctx.root}",
                )
            files[flag].append(path)
        elif entry.startswith("-"):
            raise ctx.error(
                entry_key,
                f"unsupported option {entry!r}",
                "deps takes PEP 508 requirements and -r/-c files; the project itself is installed by "
                "install_project, index options belong in pip.conf or PIP_* variables",
            )
        else:
            _check_requirement(ctx, entry_key, entry)
            requirements.append(entry)
    return tuple(requirements), tuple(files["-r"]), tuple(files["-c"])


def _file_option(entry: str) -> tuple[str, str] | None:
    """``("-r" | "-c", file)`` for pip's ``-r FILE``, ``-rFILE``, ``--requirement[= ]FILE`` forms."""
    for flag, long in (("-r", "--requirement"), ("-c", "--constraint")):
        if entry.startswith(long):
            rest = entry[len(long) :]
            if rest[:1] == "=":
                return flag, rest[1:].strip()
            if not rest or rest[0].isspace():
                return flag, rest.strip()
        elif entry.startswith(flag):
            return flag, entry[len(flag) :].strip()
    return None


def _check_requirement(ctx: _Context, key: str, entry: str) -> None:
    """Validate a PEP 508 requirement with packaging, restating its first line of complaint."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(entry)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        hint = None
        if entry.startswith((".", "/", "~")):
            hint = "a local path is not a PEP 508 requirement; write 'name @ file:///abs/path'"
        raise ctx.error(key, f"invalid requirement {entry!r}: {reason}", hint) from exc


def _groups(ctx: _Context, key: str, groups: tuple[str, ...]) -> tuple[str, ...]:
    """Resolve PEP 735 dependency groups from the ``pyproject.toml`` beside the config.

    ``include-group`` entries are expanded by the ``dependency_groups`` library; the result keeps
    the first occurrence of each requirement.
    """
    pyproject = ctx.root / PYPROJECT_NAME
    data = ctx.pyproject()
    if data is None:
        raise ctx.error(key, f"groups need [dependency-groups] in {pyproject}, which does not exist")
    if "dependency-groups" not in data:
        raise ctx.error(key, f"groups need a [dependency-groups] table in {pyproject}; it has none")
    table = data["dependency-groups"]
    if not isinstance(table, dict):
        raise ConfigError(pyproject, "dependency-groups", f"expected a table, got {_got(table)}")

    from dependency_groups import resolve
    from packaging.requirements import InvalidRequirement

    resolved: dict[str, None] = {}
    for i, group in enumerate(groups):
        group_key = f"{key}[{i}]"
        try:
            requirements = resolve(table, group)
        except LookupError as exc:
            hint = _suggest(group, list(table)) or f"groups there: {', '.join(table) or 'none'}"
            raise ctx.error(group_key, f"no dependency group {group!r} in {pyproject}", hint) from exc
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise ctx.error(
                group_key, f"dependency group {group!r} has an invalid requirement: {reason}"
            ) from exc
        except (TypeError, ValueError) as exc:  # cycles, bad items, duplicate normalized names
            raise ctx.error(group_key, f"dependency group {group!r} in {pyproject}: {exc}") from exc
        resolved.update(dict.fromkeys(requirements))
    return tuple(resolved)


def _install_project(ctx: _Context, key: str, value: object) -> str | None:
    """``install_project``: ``true`` means ``"editable"``, ``false`` means do not install."""
    if value is _UNSET:
        return ctx.install_default
    if isinstance(value, bool):
        mode = "editable" if value else None
    elif isinstance(value, str) and value in INSTALL_MODES:
        mode = value
    else:
        shown = f"{value!r}" if isinstance(value, str) else _got(value)
        hint = _suggest(value, INSTALL_MODES) if isinstance(value, str) else None
        raise ctx.error(key, f'expected "editable", "wheel" or false, got {shown}', hint)
    if mode and not (ctx.root / PYPROJECT_NAME).is_file() and not (ctx.root / "setup.py").is_file():
        raise ctx.error(
            key,
            f"cannot install the project: {ctx.root} has no {PYPROJECT_NAME} or setup.py",
            "set install_project = false",
        )
    return mode


def _commands(ctx: _Context, key: str, value: object, shell: bool) -> tuple[Command, ...]:
    """Parse ``commands``: a string is split with :func:`shlex.split` (kept whole when ``shell``);
    an array is the argv, verbatim."""
    commands = []
    for i, item in enumerate(_array(ctx, key, value, "commands")):
        item_key = f"{key}[{i}]"
        if isinstance(item, str):
            commands.append(_string_command(ctx, item_key, item, shell))
        elif isinstance(item, list):
            argv = tuple(_str_arg(ctx, f"{item_key}[{j}]", arg) for j, arg in enumerate(item))
            if not argv or not argv[0]:
                raise ctx.error(item_key, "empty command")
            commands.append(Command(argv, shell=False, source=shlex.join(argv)))
        else:
            raise ctx.error(item_key, f"expected a string or an array of strings, got {_got(item)}")
    return tuple(commands)


def _str_arg(ctx: _Context, key: str, value: object) -> str:
    """A command argument: any string, even an empty one."""
    return value if isinstance(value, str) else _str(ctx, key, value)


def _string_command(ctx: _Context, key: str, command: str, shell: bool) -> Command:
    if not command.strip():
        raise ctx.error(key, "empty command")
    if shell:
        return Command((command,), shell=True, source=command)
    try:
        argv = _split_keeping_placeholders(command)
    except ValueError as exc:
        raise ctx.error(
            key,
            f"cannot split command {command!r}: {exc}",
            "balance the quotes, or give the command as an array of arguments",
        ) from exc
    if not argv[0]:
        raise ctx.error(key, f"empty program name in {command!r}")
    operators = _shell_operators(command)
    if operators:
        raise ctx.error(
            key,
            f"{command!r} uses the shell operator {operators[0]!r}, but commands run without a shell",
            "set shell = true or split into separate commands",
        )
    return Command(tuple(argv), shell=False, source=command)


_POSARGS_DEFAULT = re.compile(r"\{posargs:[^}]*\}")


def _split_keeping_placeholders(command: str) -> list[str]:
    """:func:`shlex.split`, except that a ``{posargs:DEFAULT}`` placeholder stays in one word.

    Its DEFAULT may hold spaces (``pytest {posargs:-q tests}``, as tox allows); it is split
    when substituted, not here.
    """
    saved: list[str] = []

    def hide(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"\0{len(saved) - 1}\0"

    argv = shlex.split(_POSARGS_DEFAULT.sub(hide, command))
    return [re.sub("\0(\\d+)\0", lambda m: saved[int(m.group(1))], arg) for arg in argv]


def _shell_operators(command: str) -> list[str]:
    """Unquoted, unescaped shell operators standing alone in ``command``.

    Non-POSIX :mod:`shlex` keeps quotes and backslashes in its tokens, so ``'|'`` and ``\\|`` (meant
    as arguments) are not mistaken for operators.
    """
    lexer = shlex.shlex(command, posix=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return [token for token in lexer if token in _SHELL_OPERATORS]
    except ValueError:  # quoting that only POSIX mode accepts: nothing to report
        return []


def _env(ctx: _Context, key: str, value: object) -> tuple[tuple[str, str], ...]:
    pairs = []
    for name, item in _table(ctx, key, value).items():
        item_key = f"{key}.{_key_part(name)}"
        if not name or "=" in name or "\0" in name:
            raise ctx.error(item_key, f"invalid environment variable name {name!r}")
        if not isinstance(item, str):
            raise ctx.error(item_key, f"expected a string, got {_got(item)}: quote it")
        if "\0" in item:
            raise ctx.error(item_key, "a NUL character cannot be in an environment variable")
        pairs.append((name, item))
    return tuple(pairs)


def _cwd(ctx: _Context, key: str, value: object) -> Path:
    if value is _UNSET:
        return ctx.root
    path = Path(os.path.normpath(ctx.root / _str(ctx, key, value)))
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        raise ctx.error(key, f"{path} {problem}", f"cwd is relative to {ctx.root}")
    return path


def _session(ctx: _Context, key: str, base: str, raw: object, python: str | None) -> list[Session]:
    """Validate one ``[sessions.NAME]`` table; a python list yields one session per version."""
    table = _table(ctx, key, raw)
    _check_keys(ctx, key + ".", table, _SESSION_KEYS)

    def get(name: str) -> Any:
        return table.get(name, _UNSET)

    def has(name: str) -> bool:
        return name in table

    pythons = _pythons(ctx, f"{key}.python", table["python"]) if has("python") else None
    if has("python") and pythons is None:
        python = table["python"]
    requirements, requirement_files, constraint_files = (
        _deps(ctx, f"{key}.deps", get("deps")) if has("deps") else ((), (), ())
    )
    groups = _str_list(ctx, f"{key}.groups", get("groups")) if has("groups") else ()
    extras = _str_list(ctx, f"{key}.extras", get("extras")) if has("extras") else ()
    for i, extra in enumerate(extras):
        if not _EXTRA_NAME.fullmatch(extra):
            raise ctx.error(f"{key}.extras[{i}]", f"invalid extra name {extra!r}")
    install_project = _install_project(ctx, f"{key}.install_project", get("install_project"))
    if extras and install_project is None:
        reason = "install_project is false" if has("install_project") else "there is no project to install"
        raise ctx.error(f"{key}.extras", f"extras are the project's, but {reason}")
    shell = _bool(ctx, f"{key}.shell", get("shell")) if has("shell") else False
    template = Session(
        name=base,
        base_name=base,
        description=_str_arg(ctx, f"{key}.description", get("description")) if has("description") else "",
        python=python,
        requirements=requirements,
        requirement_files=requirement_files,
        constraint_files=constraint_files,
        groups=groups,
        group_requirements=_groups(ctx, f"{key}.groups", groups) if groups else (),
        extras=extras,
        install_project=install_project,
        commands=_commands(ctx, f"{key}.commands", get("commands"), shell) if has("commands") else (),
        env=_env(ctx, f"{key}.env", get("env")) if has("env") else (),
        pass_env=_pass_env(ctx, f"{key}.pass_env", get("pass_env")) if has("pass_env") else (),
        system_site_packages=(
            _bool(ctx, f"{key}.system_site_packages", get("system_site_packages"))
            if has("system_site_packages")
            else False
        ),
        tags=_str_list(ctx, f"{key}.tags", get("tags")) if has("tags") else (),
        requires=_str_list(ctx, f"{key}.requires", get("requires")) if has("requires") else (),
        cwd=_cwd(ctx, f"{key}.cwd", get("cwd")),
        shell=shell,
    )
    if pythons is None:
        return [template]
    return [dataclasses.replace(template, name=f"{base}-{spec}", python=spec) for spec in pythons]


def _pass_env(ctx: _Context, key: str, value: object) -> tuple[str, ...]:
    names = _str_list(ctx, key, value)
    for i, name in enumerate(names):
        if "=" in name:
            raise ctx.error(f"{key}[{i}]", f"{name!r} is not a variable name or glob", "set values in env")
    return names


# --- the whole file ----------------------------------------------------------------------------


def _load(path: Path, cache: dict[Path, dict[str, Any]]) -> Config:
    data = _read_toml(path, cache)
    prefix = ""
    if path.name == PYPROJECT_NAME:
        if not _tool_vrun(data):
            raise ConfigError(path, None, "no [tool.vrun] table", f"add one, or use {CONFIG_NAME}")
        prefix = "tool.vrun."
        data = data["tool"]["vrun"]
        if not isinstance(data, dict):
            raise ConfigError(path, "tool.vrun", f"expected a table, got {_got(data)}")
    ctx = _Context(path=path, root=path.parent, prefix=prefix, cache=cache)
    _check_keys(ctx, "", data, _TOP_KEYS)
    python = None
    if "python" in data:
        value = data["python"]
        if isinstance(value, list):
            raise ctx.error(
                "python", "expected a string, got an array", "a list of versions (a matrix) goes in a session"
            )
        python = _str(ctx, "python", value, like="3.10")

    sessions: dict[str, Session] = {}
    matrix: dict[str, tuple[str, ...]] = {}
    owners: dict[str, str] = {}  # every session name (base or full) -> the key that made it
    base_of: dict[str, str] = {}

    def claim(name: str, key: str) -> None:
        if name in owners:
            raise ctx.error(key, f"session name {name!r} is already used by {owners[name]}")
        owners[name] = prefix + key

    raw_sessions = _table(ctx, "sessions", data["sessions"]) if "sessions" in data else {}
    for base, raw in raw_sessions.items():
        key = f"sessions.{_key_part(base)}"
        _check_name(ctx, key, base)
        claim(base, key)
        entries = _session(ctx, key, base, raw, python)
        if [entry.name for entry in entries] != [base]:
            for i, entry in enumerate(entries):
                _check_name(ctx, f"{key}.python[{i}]", entry.name, spec=entry.python)
                claim(entry.name, f"{key}.python[{i}]")
        for entry in entries:
            sessions[entry.name] = entry
            base_of[entry.name] = base
        base_of[base] = base
        matrix[base] = tuple(entry.name for entry in entries)

    requires: dict[str, tuple[str, ...]] = {}
    for base, names in matrix.items():
        first = sessions[names[0]]
        key = f"sessions.{_key_part(base)}.requires"
        for i, name in enumerate(first.requires):
            _check_reference(ctx, f"{key}[{i}]", name, base_of)
        requires[base] = first.requires
    _check_cycles(ctx, requires, base_of)

    default = None
    if "default" in data:
        default = _str_list(ctx, "default", data["default"])
        for i, name in enumerate(default):
            _check_reference(ctx, f"default[{i}]", name, base_of)

    pyproject = path.parent / PYPROJECT_NAME
    return Config(
        path=path,
        root=path.parent,
        sessions=sessions,
        matrix=matrix,
        default=default,
        python=python,
        pyproject=pyproject if pyproject.is_file() else None,
    )


def _check_reference(ctx: _Context, key: str, name: str, known: dict[str, str]) -> None:
    """A name in ``requires`` or ``default`` must be a session's base or full name."""
    if name not in known:
        hint = _suggest(name, list(known)) or f"sessions: {', '.join(known) or 'none'}"
        raise ctx.error(key, f"unknown session {name!r}", hint)


def _check_cycles(ctx: _Context, requires: dict[str, tuple[str, ...]], base_of: dict[str, str]) -> None:
    """Reject a ``requires`` cycle, shown as written, e.g. ``a -> b -> a``.

    A matrix session's entries share its ``requires``, so the graph's nodes are base names.
    """
    done: set[str] = set()
    path: list[str] = []  # base names on the current walk
    labels: list[str] = []  # the names they were reached by

    def visit(base: str, label: str) -> None:
        path.append(base)
        labels.append(label)
        for i, name in enumerate(requires[base]):
            target = base_of[name]
            if target in path:
                cycle = [*labels[path.index(target) :], name]
                raise ctx.error(
                    f"sessions.{_key_part(base)}.requires[{i}]", f"requires cycle: {' -> '.join(cycle)}"
                )
            if target not in done:
                visit(target, name)
        path.pop()
        labels.pop()
        done.add(base)

    for base in requires:
        if base not in done:
            visit(base, base)
