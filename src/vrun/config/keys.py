"""What each key of vrun.toml may hold: one validator per value, each naming the key at fault.

:mod:`vrun.config.load` walks the file and calls these; every problem becomes a
:class:`~vrun.errors.ConfigError` naming the file and the dotted key (``sessions.test.deps[1]``),
with a hint where one helps ("did you mean 'deps'?", found with :mod:`difflib`). Requirements are
PEP 508 (checked with ``packaging``), groups PEP 735 (resolved with ``dependency_groups``), and
``deps`` lines follow pip's requirements-file syntax (:mod:`vrun.config.reqfiles`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vrun import inputs
from vrun.config import tomlfile
from vrun.config.tomlfile import key_part
from vrun.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlTable, TomlValue

#: The values of ``backend``: ``auto`` is uv where it can build the session's env, else virtualenv.
BACKEND_CHOICES = ("auto", "uv", "virtualenv")
#: The values of ``python_downloads`` (``--download-python``, ``VRUN_PYTHON_DOWNLOADS``): ``auto``
#: installs a missing interpreter with uv's managed Pythons (:mod:`vrun.plan.pythons`); nox's
#: ``--download-python`` has the same two, and ``always``, which vrun does not.
DOWNLOAD_CHOICES = ("auto", "never")
#: The install modes of ``install_project``.
INSTALL_MODES = ("editable", "wheel", "sdist")
#: The install modes that install a built copy of the project (rebuilt when its source changes).
BUILT_MODES = ("wheel", "sdist")
#: The project metadata file whose ``[tool.vrun]`` table may hold the configuration.
PYPROJECT_NAME = "pyproject.toml"
TOP_KEYS = (
    "default",
    "python",
    "backend",
    "sessions",
    "project_inputs",
    "locked",
    "uv_lock",
    "python_downloads",
)
SESSION_KEYS = (
    "description",
    "python",
    "matrix",
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
    "timeout",
    "external",
    "backend",
    "parallel",
    "build_env",
    "extends",
    "overrides",
    "locked",
    "script",
    "uv_lock",
    "commands_pre",
    "commands_post",
    "env_file",
)
#: What ``extends`` does not inherit: it describes, or makes, the session that names it.
NOT_INHERITED = ("description", "extends")
#: Keys a matrix entry's ``[sessions.NAME.overrides."CONDITION"]`` may set: every session key
#: except the matrix itself, what names the sessions it builds on, and ``requires`` (a matrix's
#: entries share one).
OVERRIDE_KEYS = tuple(
    k for k in SESSION_KEYS if k not in ("python", "matrix", "extends", "overrides", "requires")
)
#: The arrays an override's ``add`` table appends to instead of replacing (hatch's overrides
#: append, tox's factor-conditional lines add): docs/config.md, "Matrix overrides".
ADD_KEYS = ("deps", "groups", "extras", "commands", "pass_env", "tags", "external")
#: Keys other tools use for the same thing, suggested when ``difflib`` finds nothing close.
ALIASES = {
    "dependencies": "deps",
    "requirements": "deps",
    "setenv": "env",
    "dotenv": "env_file",
    "set_env": "env",
    "passenv": "pass_env",
    "basepython": "python",
    "changedir": "cwd",
    "depends": "requires",
    "sitepackages": "system_site_packages",
    "skip_install": "install_project",
    "usedevelop": "install_project",
    "package": "install_project",
    "allowlist_externals": "external",
    "whitelist_externals": "external",
    "template": "extends",
    "parametrize": "matrix",
    "factors": "matrix",
    "base": "extends",
}
#: PEP 685 / core metadata: a valid extra name.
EXTRA_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
UNSET = object()


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


def read_toml(path: Path) -> TomlTable:
    """Parse a TOML file (through :func:`vrun.config.tomlfile.load`); every failure is a :class:`ConfigError`
    naming the file, with line and column for a syntax error."""
    try:
        return tomlfile.load(str(path))
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except tomlfile.TOMLDecodeError as exc:
        problem, line, column = tomlfile.error_position(exc, str(path))
        raise ConfigError(path, None, f"invalid TOML: {problem}", line=line, column=column) from exc


@dataclass
class Context:
    """What every check needs: where the config is, and how to name a key in an error."""

    path: Path
    root: Path
    prefix: str
    #: the top-level ``uv_lock``: what a session without its own falls back to.
    uv_lock: bool = True

    def error(self, key: str, problem: str, hint: str | None = None) -> ConfigError:
        """A :class:`ConfigError` for ``key`` (prefixed ``tool.vrun.`` in a pyproject.toml)."""
        return ConfigError(self.path, self.prefix + key, problem, hint)

    def pyproject(self) -> TomlTable | None:
        """The parsed ``pyproject.toml`` beside the config, or ``None`` when there is none."""
        path = self.root / PYPROJECT_NAME
        return read_toml(path) if inputs.is_file(str(path)) else None

    @functools.cached_property
    def install_default(self) -> str | None:
        """``"editable"`` when the root holds a project (``[project]`` or ``setup.py``), else ``None``."""
        data = self.pyproject()
        has_setup = inputs.is_file(str(self.root / "setup.py"))
        return "editable" if isinstance((data or {}).get("project"), dict) or has_setup else None


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


def got(value: object) -> str:
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


def suggest(name: str, known: Sequence[str]) -> str | None:
    import difflib  # only needed on the error path

    match = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {match[0]!r}?" if match else None


def string(ctx: Context, key: str, value: object, like: str | None = None) -> str:
    """Return ``value`` if it is a non-empty string, else raise naming ``key``."""
    if isinstance(value, str):
        if not value.strip():
            raise ctx.error(key, "expected a non-empty string")
        return value
    expected = f'a string like "{like}"' if like else "a string"
    problem = f"expected {expected}, got {got(value)}"
    if not isinstance(value, (list, dict)):
        problem += ": quote it"
    raise ctx.error(key, problem)


def boolean(ctx: Context, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"expected true or false, got {got(value)}")
    return value


def array(ctx: Context, key: str, value: TomlValue, of: str) -> list[TomlValue]:
    if isinstance(value, list):
        return value
    hint = f'write {_leaf(key)} = ["{value}"]' if isinstance(value, str) else None
    raise ctx.error(key, f"expected an array of {of}, got {got(value)}", hint)


def str_list(ctx: Context, key: str, value: TomlValue) -> tuple[str, ...]:
    items = array(ctx, key, value, "strings")
    return tuple(string(ctx, f"{key}[{i}]", item) for i, item in enumerate(items))


def table(ctx: Context, key: str, value: TomlValue) -> TomlTable:
    if not isinstance(value, dict):
        raise ctx.error(key, f"expected a table, got {got(value)}")
    return value


def check_keys(ctx: Context, prefix: str, table: TomlTable, known: Sequence[str]) -> None:
    """Reject any key not in ``known``, suggesting the closest known one."""
    for name, value in table.items():
        if name in known:
            continue
        hint = suggest(name, known)
        if name == "skip_install":
            hint = "vrun spells it install_project = false"
        elif name in ALIASES:
            hint = f"did you mean {ALIASES[name]!r}?"
        elif hint is None and not prefix and isinstance(value, dict):
            hint = f"a session goes in [{ctx.prefix}sessions.{key_part(name)}]"
        elif hint is None:
            hint = f"known keys: {', '.join(known)}"
        raise ctx.error(prefix + key_part(name), f"unknown key {name!r}", hint)


def str_arg(ctx: Context, key: str, value: object) -> str:
    """A command argument: any string, even an empty one."""
    return value if isinstance(value, str) else string(ctx, key, value)
