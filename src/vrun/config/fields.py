"""The validators of a session's keys: ``deps``, ``groups``, ``commands``, ``env`` and the rest.

Each takes the :class:`~vrun.config.keys.Context`, the dotted key and the raw TOML value, and returns
the validated value or raises a :class:`~vrun.errors.ConfigError` naming the key. Requirements are
PEP 508 (``packaging``), groups PEP 735 (``dependency_groups``), ``deps`` lines pip's
requirements-file syntax (:mod:`vrun.config.reqfiles`), commands POSIX shell words (:mod:`shlex`).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

from vrun import inputs, placeholders
from vrun.config import dotenv, reqfiles
from vrun.config.keys import (
    BACKEND_CHOICES,
    DOWNLOAD_CHOICES,
    INSTALL_MODES,
    PYPROJECT_NAME,
    UNSET,
    Command,
    Context,
    array,
    got,
    str_arg,
    str_list,
    string,
    suggest,
    table,
)
from vrun.config.tomlfile import key_part
from vrun.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlValue

#: A variable name, or an fnmatch glob of names (``GITHUB_*``), for ``pass_env``.
VARIABLE_GLOB = re.compile(r"[A-Za-z_*?\[][A-Za-z0-9_*?\[\]!-]*")
#: Tokens that mean the user expected a shell; without one they would reach the program as arguments.
SHELL_OPERATORS = frozenset({"&&", "||", "|", ";", ">", ">>", "<", "2>", "&"})
#: Variables a session may not set: they would point the interpreter away from its env.
RESERVED_ENV = {
    "VIRTUAL_ENV": "vrun sets it to the session's env",
    "PYTHONHOME": "it would make the env's python load another standard library",
}


def pythons(ctx: Context, key: str, value: TomlValue) -> str | tuple[str, ...]:
    """A session's ``python``: a spec (returned as is), or a non-empty list of specs (a matrix,
    returned as a tuple)."""
    if not isinstance(value, list):
        return string(ctx, key, value, like="3.10")
    if not value:
        raise ctx.error(key, "expected a version or a non-empty array of versions, got an empty array")
    return tuple(string(ctx, f"{key}[{i}]", item, like="3.10") for i, item in enumerate(value))


def deps(
    ctx: Context, key: str, value: TomlValue
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Split ``deps`` into requirements, ``-r`` files and ``-c`` files (pip's syntax,
    :mod:`vrun.config.reqfiles`).

    Requirements are PEP 508 strings, local projects (``./lib``, ``../core``, ``file:`` URLs) and
    editable ones (``-e ../core``); paths are relative to the config's directory and must exist.
    Local paths are kept as absolute paths (``-e`` kept in front).
    """
    requirements: list[str] = []
    files: dict[str, list[str]] = {"-r": [], "-c": []}
    for i, item in enumerate(str_list(ctx, key, value)):
        entry_key = f"{key}[{i}]"
        entry = item.strip()
        option = reqfiles.file_option(entry)
        here = f"paths in deps are relative to {ctx.root}"
        if option is not None:
            flag, name = option
            what = {"-r": "requirements file", "-c": "constraints file", "-e": "editable project"}[flag]
            if not name:
                raise ctx.error(entry_key, f"{flag} needs a path", f'write "{flag} PATH"')
            path = os.path.normpath(os.path.join(ctx.root, os.path.expanduser(name)))
            if flag == "-e":
                if not inputs.is_dir(path):
                    raise ctx.error(entry_key, f"{what} {name!r} not found at {path}", here)
                requirements.append(f"-e {path}")
                continue
            if not inputs.is_file(path):
                raise ctx.error(entry_key, f"{what} {name!r} not found at {path}", here)
            files[flag].append(path)
        elif reqfiles.is_local_path(entry):
            path = reqfiles.local_target(entry, str(ctx.root)) or entry
            if not inputs.exists(path):
                raise ctx.error(entry_key, f"local project {entry!r} not found at {path}", here)
            requirements.append(path)
        elif entry.startswith("-"):
            raise ctx.error(
                entry_key,
                f"unsupported option {entry!r}",
                "deps takes PEP 508 requirements, local paths, -e PATH and -r/-c files; the project itself "
                "is installed by install_project, index options belong in pip.conf or PIP_* variables",
            )
        else:
            _check_requirement(ctx, entry_key, entry)
            requirements.append(entry)
    return tuple(requirements), tuple(files["-r"]), tuple(files["-c"])


def _check_requirement(ctx: Context, key: str, entry: str) -> None:
    """Validate a PEP 508 requirement with packaging, restating its first line of complaint."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(entry)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        hint = None
        raise ctx.error(key, f"invalid requirement {entry!r}: {reason}", hint) from exc


def groups(ctx: Context, key: str, groups: tuple[str, ...]) -> tuple[str, ...]:
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
        raise ConfigError(pyproject, "dependency-groups", f"expected a table, got {got(table)}")

    from dependency_groups import resolve
    from packaging.requirements import InvalidRequirement

    resolved: dict[str, None] = {}
    for i, group in enumerate(groups):
        group_key = f"{key}[{i}]"
        try:  # resolve checks the groups' shape itself (the TypeError and ValueError below)
            requirements = resolve(table, group)  # type: ignore[arg-type]
        except LookupError as exc:
            hint = suggest(group, list(table)) or f"groups there: {', '.join(table) or 'none'}"
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


def install_project(ctx: Context, key: str, value: object) -> str | None:
    """``install_project``: ``true`` means ``"editable"``, ``false`` means do not install."""
    if value is UNSET:
        return ctx.install_default
    if isinstance(value, bool):
        mode = "editable" if value else None
    elif isinstance(value, str) and value in INSTALL_MODES:
        mode = value
    else:
        shown = f"{value!r}" if isinstance(value, str) else got(value)
        hint = suggest(value, INSTALL_MODES) if isinstance(value, str) else None
        raise ctx.error(key, f'expected "editable", "wheel", "sdist" or false, got {shown}', hint)
    is_project = inputs.is_file(str(ctx.root / PYPROJECT_NAME)) or inputs.is_file(str(ctx.root / "setup.py"))
    if mode and not is_project:
        raise ctx.error(
            key,
            f"cannot install the project: {ctx.root} has no {PYPROJECT_NAME} or setup.py",
            "set install_project = false",
        )
    return mode


def commands(ctx: Context, key: str, value: TomlValue, shell: bool) -> tuple[Command, ...]:
    """Parse ``commands``: a string is split with :func:`shlex.split` (kept whole when ``shell``);
    an array is the argv, verbatim."""
    commands = []
    for i, item in enumerate(array(ctx, key, value, "commands")):
        item_key = f"{key}[{i}]"
        if isinstance(item, str):
            commands.append(_string_command(ctx, item_key, item, shell))
        elif isinstance(item, list):
            argv = tuple(str_arg(ctx, f"{item_key}[{j}]", arg) for j, arg in enumerate(item))
            if not argv or not argv[0]:
                raise ctx.error(item_key, "empty command")
            for j, arg in enumerate(argv):
                check_placeholders(ctx, f"{item_key}[{j}]", arg)
            commands.append(Command(argv, shell=False, source=shlex.join(argv)))
        else:
            raise ctx.error(item_key, f"expected a string or an array of strings, got {got(item)}")
    return tuple(commands)


def _string_command(ctx: Context, key: str, command: str, shell: bool) -> Command:
    if not command.strip():
        raise ctx.error(key, "empty command")
    check_placeholders(ctx, key, command)
    if shell:
        return Command((command,), shell=True, source=command)
    try:
        argv = split_keeping_placeholders(command)
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


def check_placeholders(ctx: Context, key: str, text: str, names: Sequence[str] = placeholders.NAMES) -> None:
    """Reject an unknown or misused placeholder in ``text`` (:func:`vrun.placeholders.problem`),
    naming ``key``; a tox name gets its vrun spelling as the hint."""
    found = placeholders.problem(text, names)
    if found is not None:
        raise ctx.error(key, *found)


def split_keeping_placeholders(command: str, keep: re.Pattern[str] | None = None) -> list[str]:
    """:func:`shlex.split` (POSIX rules), except that each placeholder with an ARG stays in one word.

    By default those are vrun's (:func:`vrun.placeholders.spans`): a DEFAULT may hold spaces
    (``pytest {posargs:-q tests}``, ``{env:X:a b}``, as tox allows); it is split when
    substituted, not here. ``vrun init`` passes a pattern for every tox ``{...}`` substitution.

    :raises ValueError: as :func:`shlex.split` does, for unbalanced quotes or a trailing escape.
    """
    return placeholders.split(command, None if keep is None else [m.span() for m in keep.finditer(command)])


def _shell_operators(command: str) -> list[str]:
    """Unquoted, unescaped shell operators standing alone in ``command``.

    Non-POSIX :mod:`shlex` keeps quotes and backslashes in its tokens, so ``'|'`` and ``\\|`` (meant
    as arguments) are not mistaken for operators.
    """
    lexer = shlex.shlex(command, posix=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return [token for token in lexer if token in SHELL_OPERATORS]
    except ValueError:  # quoting that only POSIX mode accepts: nothing to report
        return []


def _variables(ctx: Context, key: str, value: TomlValue, names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """A table of variable names to string values whose placeholders are among ``names``."""
    pairs = []
    for name, item in table(ctx, key, value).items():
        item_key = f"{key}.{key_part(name)}"
        if not name or "=" in name or "\0" in name:
            raise ctx.error(item_key, f"invalid environment variable name {name!r}")
        if not isinstance(item, str):
            raise ctx.error(item_key, f"expected a string, got {got(item)}: quote it")
        if "\0" in item:
            raise ctx.error(item_key, "a NUL character cannot be in an environment variable")
        if name in RESERVED_ENV:
            raise ctx.error(item_key, f"a session cannot set {name}: {RESERVED_ENV[name]}")
        check_placeholders(ctx, item_key, item, names)
        pairs.append((name, item))
    return tuple(pairs)


def set_env(ctx: Context, key: str, value: TomlValue) -> tuple[tuple[str, str], ...]:
    """``env`` (set_env): variables for the commands; placeholders other than ``{posargs}`` are
    expanded when the session runs (:mod:`vrun.placeholders`)."""
    return _variables(ctx, key, value, placeholders.ENV_VALUE_NAMES)


def build_env(ctx: Context, key: str, value: TomlValue) -> tuple[tuple[str, str], ...]:
    """``build_env``: variables for the builds of the session's install, ``{project_root}``
    expanded here (the only placeholder they take: they are part of the env key, known before
    the env exists)."""
    root = str(ctx.root)
    expand = placeholders.Expander(lambda name: root, lambda name: None, join=shlex.join)
    return tuple((name, expand.text(item)) for name, item in _variables(ctx, key, value, ("project_root",)))


def env_file(ctx: Context, key: str, value: TomlValue) -> tuple[dotenv.EnvFile, ...]:
    """``env_file``: dotenv files (a path, or an array of paths, relative to the config's directory)
    whose variables the commands get, below ``env`` (:func:`vrun.config.dotenv.set_env`); the syntax
    is :mod:`vrun.config.dotenv`'s, ``uv run --env-file``'s and python-dotenv's.

    A path written with a leading ``-`` may be missing (systemd's ``EnvironmentFile=-FILE``); any
    other missing file is an error. Each file is read through :mod:`vrun.inputs`, and each variable
    a ``${NAME}`` in it reads from the environment is recorded: both are inputs of the plan (a
    change makes the next run plan again), never of the env key.

    :raises ConfigError: a missing or unreadable file, a line :func:`vrun.config.dotenv.parse`
        cannot read, a variable a session may not set; naming the entry's key, the file and the line.
    """
    if not isinstance(value, (str, list)):
        raise ctx.error(
            key, f"expected a path or an array of paths, got {got(value)}", 'write env_file = ".env"'
        )
    entries = (string(ctx, key, value),) if isinstance(value, str) else str_list(ctx, key, value)
    files: list[dotenv.EnvFile] = []
    known: dict[str, str] = {}  # what earlier lines and files set: ${NAME} reads it first
    for i, entry in enumerate(entries):
        entry_key = key if isinstance(value, str) else f"{key}[{i}]"
        optional = entry.startswith("-")
        name = entry[1:] if optional else entry
        if not name.strip():
            raise ctx.error(entry_key, f"{entry!r} names no file", 'write env_file = ".env"')
        path = os.path.normpath(os.path.join(ctx.root, os.path.expanduser(name)))
        if not inputs.is_file(path):
            if optional and not os.path.lexists(path):
                files.append(dotenv.EnvFile(path, optional=True, found=False, set_env=()))
                continue
            problem = "is not a file" if os.path.lexists(path) else "does not exist"
            raise ctx.error(
                entry_key,
                f"env file {name!r} {problem} ({path})",
                f"paths in env_file are relative to {ctx.root}; "
                f'write "-{name}" for a file that may be missing',
            )
        try:
            text = inputs.read_bytes(path).decode("utf-8")
            bindings = dotenv.parse(text)
        except OSError as exc:
            raise ctx.error(entry_key, f"cannot read env file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ctx.error(entry_key, f"env file {name}: not UTF-8 text at byte {exc.start}") from None
        except dotenv.DotenvError as exc:
            raise ctx.error(entry_key, f"{name}:{exc.line}: {exc.problem}", exc.hint) from None
        lines = {binding.name: binding.line for binding in bindings}
        pairs = dotenv.resolve(bindings, known, _started_in)
        for variable, item in pairs:
            where = f"{name}:{lines[variable]}"
            if variable in RESERVED_ENV:
                raise ctx.error(
                    entry_key, f"{where}: a session cannot set {variable}: {RESERVED_ENV[variable]}"
                )
            if "\0" in item or "\0" in variable:
                raise ctx.error(entry_key, f"{where}: a NUL character cannot be in an environment variable")
        escaped = tuple((variable, placeholders.literal(item)) for variable, item in pairs)
        files.append(dotenv.EnvFile(path, optional=optional, found=True, set_env=escaped))
    return tuple(files)


def _started_in(name: str) -> str | None:
    """Variable ``name`` of the environment vrun was started in, recorded as a plan input (as
    :class:`vrun.plan.planner.RecordingEnviron` records planning's lookups)."""
    found = os.environ.get(name)
    inputs.active().environ.setdefault(name, found)
    return found


def cwd(ctx: Context, key: str, value: object) -> str:
    """``cwd``: an existing directory, relative to the config's; the config's by default."""
    if value is UNSET:
        return str(ctx.root)
    text = string(ctx, key, value)
    check_placeholders(ctx, key, text, ())
    path = os.path.normpath(ctx.root / text)
    if not inputs.is_dir(path):
        problem = "is not a directory" if os.path.exists(path) else "does not exist"
        raise ctx.error(key, f"{path} {problem}", f"cwd is relative to {ctx.root}")
    return path


def pass_env(ctx: Context, key: str, value: TomlValue) -> tuple[str, ...]:
    """``pass_env``: variable names or fnmatch globs of names (``GITHUB_*``)."""
    names = str_list(ctx, key, value)
    for i, name in enumerate(names):
        if not VARIABLE_GLOB.fullmatch(name):
            hint = "set values in env" if "=" in name else "a variable name like CI, or a glob like GITHUB_*"
            raise ctx.error(f"{key}[{i}]", f"{name!r} is not a variable name or glob", hint)
    return names


def timeout(ctx: Context, key: str, value: TomlValue) -> float:
    """``timeout``: seconds the session's commands may take in all, a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ctx.error(key, f"expected a positive number of seconds, got {got(value)}")
    return float(value)


def external(ctx: Context, key: str, value: TomlValue) -> tuple[str, ...]:
    """``external``: programs the session may run from outside its env (names or absolute paths)."""
    names = str_list(ctx, key, value)
    for i, name in enumerate(names):
        if os.sep in name and not os.path.isabs(name):
            raise ctx.error(f"{key}[{i}]", f"{name!r} is neither a program name nor an absolute path")
    return names


def choice(ctx: Context, key: str, value: TomlValue, choices: Sequence[str]) -> str:
    """A string that must be one of ``choices`` (an error names them, and the closest one)."""
    name = string(ctx, key, value)
    if name not in choices:
        raise ctx.error(key, f"expected one of {', '.join(choices)}, got {name!r}", suggest(name, choices))
    return name


def backend(ctx: Context, key: str, value: TomlValue) -> str:
    """``backend``: ``"auto"`` (the default: uv where it can build the env), ``"uv"`` or ``"virtualenv"``."""
    return choice(ctx, key, value, BACKEND_CHOICES)


def python_downloads(ctx: Context, key: str, value: TomlValue) -> str:
    """``python_downloads``: ``"auto"`` (a missing interpreter is installed with uv) or ``"never"``."""
    return choice(ctx, key, value, DOWNLOAD_CHOICES)
