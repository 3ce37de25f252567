"""Load and validate vrun's configuration: ``vrun.toml`` or ``[tool.vrun]`` in ``pyproject.toml``.

:func:`load_project_config` finds the nearest configuration walking up from a directory (as git
finds ``.git``), parses it and returns a frozen :class:`Config`. All validation happens at load
time (the per-key validators are in :mod:`vrun.config.keys` and :mod:`vrun.config.fields`): an unknown key, a
wrong type, an invalid requirement or a bad session reference is a
:class:`~vrun.errors.ConfigError` naming the file and the dotted key, so later steps can trust
every value. A session's table is first merged with what it ``extends`` and, per matrix entry, its
``overrides`` (:mod:`vrun.config.extends`). Every file looked at is read through :mod:`vrun.inputs`, so
the plan cache knows it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vrun import SUBCOMMANDS, inputs
from vrun.config import extends, fields, matrix
from vrun.config.dotenv import EnvFile
from vrun.config.extends import Table
from vrun.config.keys import (
    EXTRA_NAME,
    PYPROJECT_NAME,
    SESSION_KEYS,
    TOP_KEYS,
    UNSET,
    Command,
    Context,
    boolean,
    check_keys,
    got,
    read_toml,
    str_arg,
    str_list,
    string,
    suggest,
    table,
)
from vrun.config.script import ScriptMetadata, configured
from vrun.config.tomlfile import key_part
from vrun.env.layout import NAME_MAX, NAME_OVERHEAD
from vrun.errors import ConfigError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from vrun._types import TomlTable, TomlValue

    _T = TypeVar("_T")
    _D = TypeVar("_D")

#: Names of vrun's built-in subcommands (:data:`vrun.SUBCOMMANDS`): a session may not take one.
BUILTIN_COMMANDS = SUBCOMMANDS
#: The dedicated configuration file's name.
CONFIG_NAME = "vrun.toml"
#: The smallest useful session, as hints show it to a user who has none yet.
EXAMPLE_SESSION = '[sessions.test] commands = ["pytest"]'

#: A session name: a letter or digit, then letters, digits, ``_``, ``.``, ``+``, ``-``.
SESSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")

__all__ = ["BUILTIN_COMMANDS", "CONFIG_NAME", "Command", "Config", "Session", "find_config", "load_config"]


@dataclass(frozen=True)
class Session:
    """A session as configured; a matrix (``matrix``, or a ``python`` list) is already expanded
    into one session per entry, its overrides applied and its ``{matrix:...}`` replaced.

    :param name: the full name, e.g. ``test-3.11`` or ``test-3.12-django4.2`` for a matrix entry
        (:func:`vrun.config.matrix.entry_name`), ``lint`` otherwise.
    :param base_name: the name under ``[sessions]``, e.g. ``test``.
    :param python: the interpreter spec, or ``None`` for the interpreter running vrun.
    :param matrix: a matrix entry's values, ``(factor, value)`` pairs with ``python`` first
        (:data:`vrun.config.matrix.Pairs`); ``()`` outside a matrix.
    :param requirements: PEP 508 strings from ``deps`` as written (stripped); local projects as
        absolute paths, editable ones as ``-e PATH``.
    :param requirement_files: absolute paths of ``-r FILE`` entries, in order.
    :param constraint_files: absolute paths of ``-c FILE`` entries, in order.
    :param groups: PEP 735 dependency-group names.
    :param group_requirements: the groups' requirements, resolved (``include-group`` expanded).
    :param extras: the project's extras to install with it.
    :param install_project: ``"editable"``, ``"wheel"``, ``"sdist"`` or ``None`` (do not install
        the project).
    :param commands: the commands, in order.
    :param env: set_env: variables set for the commands, in config order.
    :param pass_env: names and ``fnmatch`` globs of caller variables let through.
    :param cwd: the directory the commands run in (absolute).
    :param timeout: seconds all its commands may take, or ``None``.
    :param external: programs it may run from outside its env without a note (names or paths).
    :param backend: ``auto``, ``uv`` or ``virtualenv``: its own ``backend``, else the top level's.
    :param parallel: whether ``vrun -p`` may run it beside other sessions (``parallel = false``:
        it runs alone).
    :param build_env: variables set for the builds of its install (the project's PEP 517 build,
        the installer's builds of local projects and sdists), placeholders expanded; part of its
        env key.
    :param locked: its lock file (:mod:`vrun.plan.lockfile`) must exist and match its requirements, else a
        run refuses to build it (``locked = true``, its own or the top level's; ``--locked``).
    :param script: a script session's PEP 723 script and what its block says
        (:mod:`vrun.config.script`); its dependencies are at the head of :attr:`requirements`.
    :param uv_lock: install the versions the project's ``uv.lock`` pins, when there is one
        (:mod:`vrun.plan.uvlock`; ``uv_lock = false``, its own or the top level's, opts out).
    :param commands_pre: commands run before :attr:`commands`; a failure skips those (tox 4's
        ``commands_pre``).
    :param commands_post: commands run after them, even when a command failed (tox 4's
        ``commands_post``).
    :param env_file: its dotenv files, read (:mod:`vrun.config.dotenv`); what they set comes before
        :attr:`env` in its set_env (:func:`vrun.config.dotenv.set_env`). Not part of its env key.
    """

    name: str
    base_name: str
    description: str = ""
    python: str | None = None
    requirements: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()
    constraint_files: tuple[str, ...] = ()
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
    cwd: str = ""
    timeout: float | None = None
    external: tuple[str, ...] = ()
    backend: str = "auto"
    parallel: bool = True
    build_env: tuple[tuple[str, str], ...] = ()
    locked: bool = False
    script: ScriptMetadata | None = None
    uv_lock: bool = True
    commands_pre: tuple[Command, ...] = ()
    commands_post: tuple[Command, ...] = ()
    env_file: tuple[EnvFile, ...] = ()
    matrix: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration.

    :param path: the file the config was read from (``vrun.toml`` or ``pyproject.toml``).
    :param root: the project root: the directory holding :attr:`path`.
    :param sessions: every session by full name, in file order (matrix entries in list order).
    :param matrix: base name -> full names, for every session (a non-matrix session maps to itself).
    :param default: the base or full names a bare ``vrun`` runs, or ``None`` for all.
    :param python: the top-level default interpreter spec, or ``None``.
    :param project_inputs: globs (relative to the root) of further files that decide the project's
        metadata, beyond those vrun finds itself (see docs/envs.md).
    :param python_downloads: ``python_downloads`` as written (``"auto"`` or ``"never"``), or ``None``
        when absent (:func:`vrun.plan.pythons.downloads_policy` decides then).
    """

    path: Path
    root: Path
    sessions: dict[str, Session]
    matrix: dict[str, tuple[str, ...]]
    default: tuple[str, ...] | None = None
    python: str | None = None
    project_inputs: tuple[str, ...] = ()
    python_downloads: str | None = None


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
    start = Path(os.path.abspath(start))
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_NAME
        if inputs.is_file(str(candidate)):
            return candidate
        pyproject = directory / PYPROJECT_NAME
        if inputs.is_file(str(pyproject)) and _tool_vrun(read_toml(pyproject)) is not None:
            return pyproject
    other = _other_runner_config(start)
    raise UsageError(
        f"no {CONFIG_NAME} or [tool.vrun] in {PYPROJECT_NAME} found in {start} or any parent",
        f"run vrun init to translate {other} into {CONFIG_NAME}"
        if other
        else f"create {CONFIG_NAME} with a session, e.g. {EXAMPLE_SESSION}",
    )


def _other_runner_config(folder: Path) -> str | None:
    """The tox or nox configuration in ``folder`` that ``vrun init`` translates, by the name a user
    knows it by (``tox.ini``, ``[tool.tox] in pyproject.toml``, ...), or ``None``; read only to
    point the user at ``vrun init`` (:func:`vrun.migrate.translate.translate` has the same order)."""
    if (folder / "tox.ini").is_file():
        return "tox.ini"
    if (folder / "tox.toml").is_file():
        return "tox.toml"
    pyproject = folder / PYPROJECT_NAME
    try:
        tool = read_toml(pyproject).get("tool") if pyproject.is_file() else None
    except ConfigError:
        tool = None
    if isinstance(tool, dict) and isinstance(tool.get("tox"), dict):
        return f"[tool.tox] in {PYPROJECT_NAME}"
    try:
        if "[tox:tox]" in (folder / "setup.cfg").read_text(encoding="utf-8", errors="replace"):
            return "[tox:tox] in setup.cfg"
    except OSError:
        pass
    return "noxfile.py" if (folder / "noxfile.py").is_file() else None


def load_config(path: Path) -> Config:
    """Parse and fully validate one configuration file.

    :param path: a ``vrun.toml``, or a ``pyproject.toml`` (read from its ``[tool.vrun]`` table).
    :return: the validated configuration; relative paths in it are resolved against the file's directory.
    :raises ConfigError: if the file cannot be read, is not valid TOML (with line and column), or
        breaks any rule of the schema (naming the dotted key).
    """
    return _load(Path(os.path.abspath(path)))


def load_project_config(start: Path) -> tuple[Config, list[str]]:
    """Find the configuration for ``start`` (see :func:`find_config`) and load it.

    :return: the configuration, and notices for the user (to print once), e.g. that both
        ``vrun.toml`` and ``[tool.vrun]`` exist and ``vrun.toml`` wins.
    :raises UsageError: if no configuration is found.
    :raises ConfigError: if the configuration is invalid.
    """
    path = find_config(start)
    notices = []
    pyproject = path.parent / PYPROJECT_NAME
    if (
        path.name == CONFIG_NAME
        and inputs.is_file(str(pyproject))
        and _tool_vrun(read_toml(pyproject)) is not None
    ):
        notices.append(
            f"both {CONFIG_NAME} and [tool.vrun] in {PYPROJECT_NAME} define vrun config "
            f"(in {path.parent}); using {CONFIG_NAME}"
        )
    return _load(path), notices


def _tool_vrun(data: TomlTable) -> TomlValue | None:
    """``tool.vrun`` of a parsed ``pyproject.toml`` (a table when the file is vrun's config), or
    ``None`` when there is none."""
    tool = data.get("tool")
    return tool.get("vrun") if isinstance(tool, dict) else None


def _check_name(ctx: Context, key: str, name: str, pairs: matrix.Pairs = ()) -> None:
    """Apply the session-name rule; ``pairs`` are set when ``name`` is a matrix entry's."""
    if len(pairs) == 1 and pairs[0][0] == "python":
        origin = f"python {pairs[0][1]!r} makes the session name {name!r}, which"
    elif pairs:
        origin = f"the matrix entry {matrix.describe(pairs)} makes the session name {name!r}, which"
    else:
        origin = f"{name!r}"
    if not SESSION_NAME.fullmatch(name):
        raise ctx.error(
            key,
            f"{origin} is not a valid session name",
            "a session name starts with a letter or digit and holds only letters, digits, '_', '.', '+', '-'",
        )
    if name in BUILTIN_COMMANDS:
        raise ctx.error(key, f"{origin} is a vrun command, not a valid session name", "rename the session")
    if len((name + "x" * NAME_OVERHEAD).encode()) > NAME_MAX:
        raise ctx.error(
            key,
            f"{origin} is too long: its env's lock file name would exceed {NAME_MAX} bytes",
            f"use at most {NAME_MAX - NAME_OVERHEAD} bytes",
        )


def _session(
    ctx: Context, base: str, session: Table, python: str | None, backend: str, locked: bool
) -> list[tuple[Session, str]]:
    """Validate one session (its table with what it extends merged in): one session per entry of
    its matrix (:mod:`vrun.config.matrix`), each with the dotted key that made it, its overrides
    applied and its ``{matrix:...}`` replaced; a session without a matrix is its one entry."""
    values = session.values
    own = f"sessions.{key_part(base)}"
    if "python" in values and not isinstance(values["python"], list):
        spec = fields.pythons(ctx, session.key("python"), values["python"])
        python = spec if isinstance(spec, str) else python
    found = matrix.entries(ctx, base, session)
    entries = found if found is not None else [matrix.Entry((), own)]

    def validate(table: Table) -> Session:
        return _fields(ctx, base, table, python, backend, locked)

    tables = matrix.entry_tables(ctx, session, entries, own, validate)
    template: Session | None = None
    out = []
    for entry in entries:
        table = tables.get(entry.pairs)
        if table is None:
            template = template or validate(session)
        validated = validate(table) if table is not None else template
        assert validated is not None  # one of the two branches above made it
        out.append(
            (
                dataclasses.replace(
                    validated,
                    name=matrix.entry_name(base, entry.pairs),
                    python=dict(entry.pairs).get("python", python),
                    matrix=entry.pairs,
                ),
                entry.key,
            )
        )
    return out


def _fields(
    ctx: Context, base: str, session: Table, python: str | None, backend: str, locked: bool
) -> Session:
    """Validate a session's values, each error naming the key where the value was written."""
    values = session.values
    own = f"sessions.{key_part(base)}"

    def key(name: str) -> str:
        return session.key(name) if name in values else f"{own}.{name}"

    def get(name: str, check: Callable[..., _T], *args: object, default: _D) -> _T | _D:
        return check(ctx, key(name), values[name], *args) if name in values else default

    requirements, requirement_files, constraint_files = get("deps", fields.deps, default=((), (), ()))
    metadata = get("script", configured, default=None)
    if metadata is not None:
        requirements = (*metadata.dependencies, *requirements)
    groups = get("groups", str_list, default=())
    extras = get("extras", str_list, default=())
    for i, extra in enumerate(extras):
        if not EXTRA_NAME.fullmatch(extra):
            raise ctx.error(f"{key('extras')}[{i}]", f"invalid extra name {extra!r}")
    if metadata is not None and "install_project" not in values:
        install = None  # a script is not the project: installed only when the session says so
    else:
        install = fields.install_project(ctx, key("install_project"), values.get("install_project", UNSET))
    if extras and install is None:
        reason = (
            "install_project is false"
            if "install_project" in values
            else "a script session installs the project only with install_project"
            if metadata is not None
            else "there is no project to install"
        )
        raise ctx.error(key("extras"), f"extras are the project's, but {reason}")
    cwd = fields.cwd(ctx, key("cwd"), values.get("cwd", UNSET))
    shell = get("shell", boolean, default=False)
    default_commands = () if metadata is None else (metadata.command(cwd),)
    return Session(
        name=base,
        base_name=base,
        description=get("description", str_arg, default=""),
        python=python,
        requirements=requirements,
        requirement_files=requirement_files,
        constraint_files=constraint_files,
        groups=groups,
        group_requirements=fields.groups(ctx, key("groups"), groups) if groups else (),
        extras=extras,
        install_project=install,
        commands=get("commands", fields.commands, shell, default=default_commands),
        env=get("env", fields.set_env, default=()),
        pass_env=get("pass_env", fields.pass_env, default=()),
        system_site_packages=get("system_site_packages", boolean, default=False),
        tags=get("tags", str_list, default=()),
        requires=get("requires", str_list, default=()),
        cwd=cwd,
        timeout=get("timeout", fields.timeout, default=None),
        external=get("external", fields.external, default=()),
        backend=get("backend", fields.backend, default=backend),
        parallel=get("parallel", boolean, default=True),
        build_env=get("build_env", fields.build_env, default=()),
        locked=get("locked", boolean, default=locked),
        script=metadata,
        uv_lock=get("uv_lock", boolean, default=ctx.uv_lock),
        commands_pre=get("commands_pre", fields.commands, shell, default=()),
        commands_post=get("commands_post", fields.commands, shell, default=()),
        env_file=get("env_file", fields.env_file, default=()),
    )


def _load(path: Path) -> Config:
    data = read_toml(path)
    prefix = ""
    if path.name == PYPROJECT_NAME:
        vrun = _tool_vrun(data)
        if vrun is None:
            raise ConfigError(path, None, "no [tool.vrun] table", f"add one, or use {CONFIG_NAME}")
        prefix = "tool.vrun."
        if not isinstance(vrun, dict):
            raise ConfigError(path, "tool.vrun", f"expected a table, got {got(vrun)}")
        data = vrun
    ctx = Context(path=path, root=path.parent, prefix=prefix)
    check_keys(ctx, "", data, TOP_KEYS)
    python = None
    if "python" in data:
        value = data["python"]
        if isinstance(value, list):
            raise ctx.error(
                "python", "expected a string, got an array", "a list of versions (a matrix) goes in a session"
            )
        python = string(ctx, "python", value, like="3.10")
    project_inputs = (
        str_list(ctx, "project_inputs", data["project_inputs"]) if "project_inputs" in data else ()
    )
    backend = fields.backend(ctx, "backend", data["backend"]) if "backend" in data else "auto"
    locked = boolean(ctx, "locked", data["locked"]) if "locked" in data else False
    ctx.uv_lock = boolean(ctx, "uv_lock", data["uv_lock"]) if "uv_lock" in data else True
    downloads = (
        fields.python_downloads(ctx, "python_downloads", data["python_downloads"])
        if "python_downloads" in data
        else None
    )

    sessions: dict[str, Session] = {}
    by_base: dict[str, tuple[str, ...]] = {}
    owners: dict[str, str] = {}  # every session name (base or full) -> the key that made it
    base_of: dict[str, str] = {}

    def claim(name: str, key: str) -> None:
        if name in owners:
            raise ctx.error(key, f"session name {name!r} is already used by {owners[name]}")
        owners[name] = prefix + key

    raw_sessions = table(ctx, "sessions", data["sessions"]) if "sessions" in data else {}
    tables: dict[str, TomlTable] = {}
    for base, raw in raw_sessions.items():
        key = f"sessions.{key_part(base)}"
        _check_name(ctx, key, base)
        tables[base] = table(ctx, key, raw)
        check_keys(ctx, key + ".", tables[base], SESSION_KEYS)
    merged = extends.resolve(ctx, tables)
    validated: dict[str, list[tuple[Session, str]]] = {}

    def validate(base: str) -> list[tuple[Session, str]]:  # what a session extends first: its errors name it
        if base not in validated:
            parent = tables[base].get("extends")
            if isinstance(parent, str):
                validate(parent)
            validated[base] = _session(ctx, base, merged[base], python, backend, locked)
        return validated[base]

    for base in tables:
        key = f"sessions.{key_part(base)}"
        claim(base, key)
        made = validate(base)
        entries = [entry for entry, _ in made]
        if [entry.name for entry in entries] != [base]:
            for entry, where in made:
                _check_name(ctx, where, entry.name, entry.matrix)
                claim(entry.name, where)
        for entry in entries:
            sessions[entry.name] = entry
            base_of[entry.name] = base
        base_of[base] = base
        by_base[base] = tuple(entry.name for entry in entries)

    requires: dict[str, tuple[str, ...]] = {}
    for base, names in by_base.items():
        first = sessions[names[0]]
        key = merged[base].key("requires") if "requires" in merged[base].values else ""
        for i, name in enumerate(first.requires):
            _check_reference(ctx, f"{key}[{i}]", name, base_of)
        requires[base] = first.requires
    _check_cycles(ctx, requires, base_of)

    default = None
    if "default" in data:
        default = str_list(ctx, "default", data["default"])
        for i, name in enumerate(default):
            _check_reference(ctx, f"default[{i}]", name, base_of)
    return Config(path, path.parent, sessions, by_base, default, python, project_inputs, downloads)


def script_config(config: Config | None, path: str, *, cwd: str, root: str) -> tuple[Config, Session]:
    """The config and the session of ``vrun SCRIPT.py``: the script alone, as a session whose only
    keys are ``script`` and ``cwd`` (the directory vrun runs in, as ``uv run`` runs a script), so it
    gets a script session's rules (:func:`_fields`): its block's dependencies, ``python SCRIPT
    {posargs}``, no project installed, its interpreter by the block's ``requires-python``. It takes
    no key of the project's config (no top-level ``python`` or ``backend``).

    :param config: the project's config (the session is added to it, its env goes to the
        project's ``.venvs/``), or ``None`` outside a project.
    :param path: the script as the command line names it (relative to ``cwd``).
    :param root: where the env goes outside a project (``root/.venvs/``): a folder of vrun's user
        cache (inside one, the project's root).
    :returns: ``config`` with the session added (or a config of its own, rooted at ``root``), and
        the session: named after the script's file (``report.py``), made unique among the config's.
    :raises UsageError: there is no file at ``path``, or it holds no ``script`` block.
    :raises ConfigError: its block is malformed (naming the script and the line).
    """
    full = os.path.normpath(os.path.join(cwd, path))
    if not inputs.is_file(full):
        where = f"no session named {path!r} in {config.path}, and no" if config is not None else "no"
        raise UsageError(
            f"{where} script at {full}",
            "`vrun SCRIPT.py` runs a script with a PEP 723 block (docs/scripts.md)",
        )
    name = re.sub(r"[^A-Za-z0-9_.+-]", "-", os.path.basename(full)).lstrip("_.+-") or "script.py"
    name = name[: NAME_MAX - NAME_OVERHEAD - len("+script") * 4]
    taken = set() if config is None else {*config.sessions, *config.matrix}
    while name in taken:
        name += "+script"
    ctx = Context(Path(full), Path(root), "") if config is None else Context(config.path, config.root, "")
    where = f"sessions.{key_part(name)}"
    table = Table({"script": full, "cwd": cwd}, {"script": where, "cwd": where})
    session = _fields(ctx, name, table, None, "auto", False)
    if session.script is None or session.script.line is None:
        raise UsageError(
            f"{path} has no PEP 723 script block: vrun does not know what it needs",
            "add a block at its top: `# /// script`, `# dependencies = [...]`, `# ///` (docs/scripts.md)",
        )
    if config is None:
        return Config(Path(full), Path(root), {name: session}, {name: (name,)}), session
    sessions = {**config.sessions, name: session}
    return dataclasses.replace(config, sessions=sessions, matrix={**config.matrix, name: (name,)}), session


def _check_reference(ctx: Context, key: str, name: str, known: dict[str, str]) -> None:
    """A name in ``requires`` or ``default`` must be a session's base or full name."""
    if name not in known:
        hint = suggest(name, list(known)) or f"sessions: {', '.join(known) or 'none'}"
        raise ctx.error(key, f"unknown session {name!r}", hint)


def _check_cycles(ctx: Context, requires: dict[str, tuple[str, ...]], base_of: dict[str, str]) -> None:
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
                    f"sessions.{key_part(base)}.requires[{i}]", f"requires cycle: {' -> '.join(cycle)}"
                )
            if target not in done:
                visit(target, name)
        path.pop()
        labels.pop()
        done.add(base)

    for base in requires:
        if base not in done:
            visit(base, base)
