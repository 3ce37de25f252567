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
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vrun import SUBCOMMANDS
from vrun._compat import tomllib
from vrun.config import SESSION_NAME as _SESSION_NAME
from vrun.fields import SHELL_OPERATORS as _SHELL_OPERATORS
from vrun.schema import BARE_KEY as _BARE_KEY

from .errors import UsageError

CONFIG_NAME = "vrun.toml"
_RESERVED = frozenset(SUBCOMMANDS)
#: A tox python factor: ``py39``, ``py3.10``, ``py3``, ``pypy310``, ``cpython3.12``, ``3.12``, ``py313t``.
_PY_FACTOR = re.compile(
    r"(?:(?P<impl>py|pypy|cpython|python|jython|graalpy)(?P<major>[23])(?:\.?(?P<minor>\d+))?"
    r"|(?P<dmajor>[23])\.(?P<dminor>\d+))(?P<t>t?)"
)


@dataclass
class _Session:
    """One ``[sessions.NAME]`` table to emit; ``None``/empty values are left out."""

    name: str
    description: str = ""
    python: str | list[str] | None = None
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

    def body(self) -> dict[str, Any]:
        """Every key but ``name`` and ``python``: what must match for envs to share a matrix."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "python")}


class _Notes:
    """Notes in order, each once."""

    def __init__(self) -> None:
        self.items: dict[str, None] = {}

    def add(self, text: str) -> None:
        self.items[text] = None

    def list(self) -> list[str]:
        return list(self.items)


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
    """
    root = Path(root)
    notes = _Notes()
    source, sessions, default = _translate(root, notes)
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
    data = _read_toml(pyproject)
    tool = data.get("tool") if data else None
    if isinstance(tool, dict) and "vrun" in tool:
        raise UsageError(f"{pyproject} already has a [tool.vrun] table; not writing {CONFIG_NAME}")
    text, notes = translate(root)
    with open(target, "x", encoding="utf-8") as file:  # "x": never clobber a file made meanwhile
        file.write(text)
    return target, notes


# --- source selection --------------------------------------------------------------------------


def _translate(root: Path, notes: _Notes) -> tuple[str, list[_Session], list[str] | None]:
    tox_ini = root / "tox.ini"
    if tox_ini.is_file():
        sections = _parse_ini(tox_ini.read_text(encoding="utf-8"), "tox")
        if sections is not None:
            sessions, default = _IniTox(root, sections, "tox.ini", notes).translate()
            return "tox.ini", sessions, default
    tox_toml = root / "tox.toml"
    if tox_toml.is_file():
        data = _read_toml(tox_toml)
        if data is not None:
            sessions, default = _TomlTox(root, data, "tox.toml", notes).translate()
            return "tox.toml", sessions, default
        notes.add("tox.toml: not valid TOML; ignored")
    pyproject = _read_toml(root / "pyproject.toml") or {}
    tool_tox = pyproject.get("tool", {}).get("tox") if isinstance(pyproject.get("tool"), dict) else None
    if isinstance(tool_tox, dict):
        legacy = tool_tox.get("legacy_tox_ini")
        if isinstance(legacy, str):
            sections = _parse_ini(legacy, "tox")
            if sections is not None:
                where = "pyproject.toml [tool.tox] legacy_tox_ini"
                sessions, default = _IniTox(root, sections, where, notes).translate()
                return where, sessions, default
        else:
            sessions, default = _TomlTox(root, tool_tox, "pyproject.toml [tool.tox]", notes).translate()
            return "pyproject.toml [tool.tox]", sessions, default
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        sections = _parse_ini(setup_cfg.read_text(encoding="utf-8"), "tox:tox")
        if sections is not None:
            sections["tox"] = sections.pop("tox:tox")
            sessions, default = _IniTox(root, sections, "setup.cfg", notes).translate()
            return "setup.cfg [tox:tox]", sessions, default
    noxfile = root / "noxfile.py"
    if noxfile.is_file():
        sessions, default = _Nox(root, noxfile.read_text(encoding="utf-8"), notes).translate()
        return "noxfile.py", sessions, default
    sessions, default = _scratch(root, pyproject, notes)
    return "", sessions, default


def _read_toml(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except (OSError, ValueError):
        return None


def _parse_ini(text: str, core: str) -> dict[str, dict[str, str]] | None:
    """Sections of a tox INI file, keys case preserved; ``None`` if it has no tox sections."""
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, delimiters=("=",), default_section="\0none"
    )
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    sections = {name: dict(parser[name]) for name in parser.sections()}
    if core not in sections and not any(n == "testenv" or n.startswith("testenv:") for n in sections):
        return None
    sections.setdefault(core, {})
    return sections


# --- shared helpers ----------------------------------------------------------------------------


def _split_list(value: str) -> list[str]:
    """A tox list value: items separated by commas, whitespace or newlines."""
    return [item for item in re.split(r"[\s,]+", value) if item]


def _split_top(value: str) -> list[str]:
    """Split an ``env_list`` on commas, whitespace and newlines outside braces."""
    items, depth, current = [], 0, ""
    for char in value:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        if depth == 0 and (char == "," or char.isspace()):
            if current:
                items.append(current)
            current = ""
        else:
            current += char
    if current:
        items.append(current)
    return items


def _expand(name: str, notes: _Notes) -> list[str]:
    """Expand tox generative names: ``py{39,310}-x`` → ``py39-x``, ``py310-x``; ``{9-12}`` is a range."""
    match = re.search(r"\{([^{}]*)\}", name)
    if match is None:
        return [name]
    alternatives: list[str] = []
    for raw_alt in match.group(1).split(","):
        alt = raw_alt.strip()
        bounds = re.fullmatch(r"(\d+)-(\d*)", alt)
        if bounds and bounds.group(2):
            low, high = int(bounds.group(1)), int(bounds.group(2))
            alternatives += [str(i) for i in range(low, high + 1)]
        elif bounds:
            notes.add(f"env_list: open range {{{alt}}} in {name!r} not expanded; list the versions")
        else:
            alternatives.append(alt)
    out: list[str] = []
    for alt in alternatives:
        out += _expand(name[: match.start()] + alt + name[match.end() :], notes)
    return out


def _python_factor(factor: str) -> str | None:
    """The vrun python spec a tox factor names (``py310`` → ``3.10``), or ``None``."""
    if factor in ("py", "python", "cpython"):
        return ""
    if factor == "pypy":
        return "pypy"
    match = _PY_FACTOR.fullmatch(factor)
    if match is None:
        return None
    if match["dmajor"]:
        return f"{match['dmajor']}.{match['dminor']}{match['t']}"
    version = match["major"] + (f".{match['minor']}" if match["minor"] else "")
    impl = match["impl"]
    if impl in ("py", "cpython", "python"):
        return version + match["t"]
    return f"{impl}{version}{match['t']}"


def _python_spec(value: str) -> str:
    """A ``base_python`` value as a vrun spec: ``python3.12`` and ``py312`` become ``3.12``."""
    value = value.strip()
    spec = _python_factor(value)
    return spec if spec else value


#: tox substitutions vrun spells differently (tox 4 names and their tox 3 aliases).
_PLACEHOLDERS = {
    "toxinidir": "{project_root}",
    "tox_root": "{project_root}",
    "package_root": "{project_root}",
    "envdir": "{env_dir}",
    "env_dir": "{env_dir}",
    "envname": "{session}",
    "env_name": "{session}",
    "envtmpdir": "{env_tmp_dir}",
    "env_tmp_dir": "{env_tmp_dir}",
    "envsitepackagesdir": "{env_site_packages_dir}",
    "env_site_packages_dir": "{env_site_packages_dir}",
    "envpython": "python",
    "env_python": "python",
    "envbindir": "{env_dir}/bin",
    "env_bin_dir": "{env_dir}/bin",
    "/": "/",
    ":": ":",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _placeholders(text: str, where: str, notes: _Notes) -> str:
    """Translate tox substitutions in ``text`` to vrun's; unknown ones are kept, with a note."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner == "posargs" or inner.startswith("posargs:"):
            return match.group(0)
        if inner in _PLACEHOLDERS:
            return _PLACEHOLDERS[inner]
        if inner.startswith("env:") and inner[4:]:
            return match.group(0)
        notes.add(f"{where}: substitution {match.group(0)} has no vrun equivalent; kept as text")
        return match.group(0)

    result = _PLACEHOLDER.sub(one, text)
    if re.search(r"\{posargs:[^}]*\{", result):
        notes.add(f"{where}: vrun does not expand placeholders inside a {{posargs:...}} default")
    return result


_POSARGS_DEFAULT = re.compile(r"\{posargs:[^}]*\}")


def _vrun_split(command: str) -> list[str]:
    """Split a command as vrun's config loader does (``{posargs:...}`` kept in one word)."""
    saved: list[str] = []

    def hide(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"\0{len(saved) - 1}\0"

    argv = shlex.split(_POSARGS_DEFAULT.sub(hide, command))
    return [re.sub("\0(\\d+)\0", lambda m: saved[int(m.group(1))], arg) for arg in argv]


def _split_command(text: str) -> list[str]:
    """Split a tox command line (POSIX :mod:`shlex`), keeping every ``{...}`` placeholder whole."""
    saved: list[str] = []

    def hide(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"\0{len(saved) - 1}\0"

    argv = shlex.split(re.sub(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}", hide, text))
    return [re.sub("\0(\\d+)\0", lambda m: saved[int(m.group(1))], arg) for arg in argv]


def _command_item(argv: list[str]) -> str | list[str]:
    """A command as vrun will read it: a string when it splits back to ``argv``, else an array."""
    text = " ".join(_quote(word) for word in argv)
    try:
        same = _vrun_split(text) == argv
    except ValueError:
        same = False
    if same and not any(word in _SHELL_OPERATORS for word in argv) and argv and argv[0]:
        return text
    return argv


def _quote(word: str) -> str:
    """Quote ``word`` for :func:`shlex.split`, as lightly as possible."""
    if re.fullmatch(r"[\w@%+=:,./{}-]+", word) or _POSARGS_DEFAULT.fullmatch(word):
        return word
    if "'" not in word:
        return f"'{word}'"
    if not re.search(r'["\\$`]', word):
        return f'"{word}"'
    return shlex.quote(word)


def _requirement(entry: str, where: str, root: Path, notes: _Notes) -> str | None:
    """A ``deps`` entry as vrun takes it (PEP 508, ``-r FILE``, ``-c FILE``), or ``None`` with a note."""
    entry = entry.strip()
    if entry.startswith("{project_root}/"):
        entry = entry[len("{project_root}/") :]
    option = re.fullmatch(r"(-r|-c|--requirement|--constraint)\s*=?\s*(\S.*)", entry)
    if option:
        flag = "-r" if option.group(1) in ("-r", "--requirement") else "-c"
        name = option.group(2).strip()
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


def _project_default(root: Path) -> str | None:
    """vrun's default ``install_project`` for ``root`` (config.py's rule)."""
    data = _read_toml(root / "pyproject.toml") or {}
    if isinstance(data.get("project"), dict) or (root / "setup.py").is_file():
        return "editable"
    return None


def _install_value(root: Path, wanted: str | None, where: str, notes: _Notes) -> str | bool | None:
    """The ``install_project`` to write for ``wanted`` (``None``: do not install); ``None`` omits it."""
    default = _project_default(root)
    if wanted is None:
        return False if default else None
    if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
        return None  # nothing to install (tox would need skipsdist here)
    return None if wanted == default else wanted


# --- tox ---------------------------------------------------------------------------------------

#: tox env keys: canonical (tox 4) name -> accepted spellings.
_TOX_KEYS = {
    "description": ("description",),
    "base_python": ("base_python", "basepython"),
    "deps": ("deps",),
    "dependency_groups": ("dependency_groups",),
    "extras": ("extras",),
    "commands_pre": ("commands_pre",),
    "commands": ("commands",),
    "commands_post": ("commands_post",),
    "set_env": ("set_env", "setenv"),
    "pass_env": ("pass_env", "passenv"),
    "skip_install": ("skip_install",),
    "package": ("package",),
    "use_develop": ("use_develop", "usedevelop"),
    "system_site_packages": ("system_site_packages", "sitepackages"),
    "change_dir": ("change_dir", "changedir"),
    "depends": ("depends",),
    "labels": ("labels",),
    "allowlist_externals": ("allowlist_externals", "whitelist_externals"),
}
_TOX_SPELLINGS = {spelling: key for key, names in _TOX_KEYS.items() for spelling in names}
_TOX_CORE_KEYS = {
    "env_list",
    "envlist",
    "labels",
    "skipsdist",
    "skip_sdist",
    "no_package",
    "min_version",
    "minversion",
    "isolated_build",
}


class _Tox:
    """What the INI and TOML readers share: turning each env's raw settings into sessions."""

    source: str

    def __init__(self, root: Path, notes: _Notes) -> None:
        self.root = root
        self.notes = notes
        self.no_package = False
        self.core_labels: dict[str, list[str]] = {}  # label -> env names
        self.default_packaging_used = False
        self.origins: dict[tuple[str, str], str] = {}  # (env, key) -> the section that set it

    # implemented by the readers
    def env_list(self) -> list[str] | None:
        raise NotImplementedError

    def defined_envs(self) -> list[str]:
        raise NotImplementedError

    def raw(self, env: str) -> dict[str, Any]:
        raise NotImplementedError

    def translate(self) -> tuple[list[_Session], list[str] | None]:
        listed = self.env_list()
        envs: list[str] = []
        if listed is None:
            if self.raw("py").get("commands"):
                envs.append("py")
        else:
            envs += listed
        envs += [env for env in self.defined_envs() if env not in envs]
        kept = []
        for env in envs:
            if env.startswith("."):
                continue  # tox's packaging envs, e.g. .pkg
            kept.append(env)
        built = [(env, *self.session(env)) for env in kept]

        pure = [(env, s, py) for env, s, py, rest in built if not rest]
        others = {env for env, _, _, rest in built if rest}
        names: dict[str, str] = {}  # tox env -> vrun session name (a full name for a matrix entry)
        matrix: _Session | None = None
        if pure:
            base = next(n for n in ("test", "tests", "py-tests") if n not in others)
            pythons = [py for _, _, py in pure]
            bodies = [s.body() for _, s, _ in pure]
            same = all(body == bodies[0] for body in bodies)
            if same and len(pure) == 1 and pythons[0] is None:
                matrix = pure[0][1]
                matrix.name = base
                names[pure[0][0]] = base
            elif same and None not in pythons and len(set(pythons)) == len(pythons):
                matrix = pure[0][1]
                matrix.name = base
                matrix.python = [py for py in pythons if py is not None]
                for env, _, py in pure:
                    names[env] = f"{base}-{py}"
            else:
                for _, s, py in pure:
                    s.python = py if py is not None else s.python
        sessions: list[_Session] = []
        order: list[str] = []
        for env, s, py, rest in built:
            if env in names:
                if matrix is not None and s is matrix:
                    sessions.append(matrix)
                continue
            s.name = self.session_name(env)
            if rest and py is not None:
                s.python = py
            names[env] = s.name
            sessions.append(s)
        for env in listed if listed is not None else (["py"] if "py" in names else []):
            name = names.get(env)
            if name is None:
                continue
            if (
                matrix is not None
                and name.startswith(f"{matrix.name}-")
                and env in dict.fromkeys(e for e, _, _ in pure)
            ):
                name = matrix.name
            if name not in order:
                order.append(name)
        self.resolve_requires(sessions, names)
        if self.default_packaging_used and _project_default(self.root) is not None:
            self.notes.add(
                f"{self.source}: tox installs the project from an sdist by default; vrun installs it "
                'editable (set install_project = "wheel" to test the built package)'
            )
        return sessions, order or None

    def session_name(self, env: str) -> str:
        name = re.sub(r"[^A-Za-z0-9_.+-]", "-", env)
        if not _SESSION_NAME.fullmatch(name):
            name = "env-" + name
        if name in _RESERVED:
            name += "-env"
        if name != env:
            self.notes.add(f"{self.source}: env {env!r} is named {name!r} (not a valid vrun session name)")
        return name

    def resolve_requires(self, sessions: list[_Session], names: dict[str, str]) -> None:
        for session in sessions:
            resolved: list[str] = []
            for env in session.requires:
                targets = [names[e] for e in _expand(env, self.notes) if e in names]
                if not targets:
                    self.notes.add(f"{self.source}: depends on {env!r}, which is not translated; dropped")
                for target in targets:
                    if target not in resolved and target != session.name:
                        resolved.append(target)
            session.requires = resolved

    def session(self, env: str) -> tuple[_Session, str | None, str]:
        """The session for tox env ``env``, its python factor's spec and its other factors."""
        raw = self.raw(env)
        where = f"{self.source} [{env}]"

        def at(key: str) -> str:
            return f"{self.source} [{self.origins.get((env, key), env)}] {key}"

        py: str | None = None
        rest = []
        for factor in env.split("-"):
            spec = _python_factor(factor)
            if spec is not None and py is None:
                py = spec
            else:
                rest.append(factor)
        if py == "":
            py = None
            if not rest and "base_python" in raw:
                py = self.first(raw["base_python"])
        s = _Session(name=env)
        if "description" in raw:
            s.description = " ".join(self.text(raw["description"]).split())
        if "base_python" in raw and (py is None or rest):
            s.python = self.first(raw["base_python"])
        for entry in self.items(raw.get("deps", []), lines=True):
            req = _requirement(
                _placeholders(entry, at("deps"), self.notes), at("deps"), self.root, self.notes
            )
            if req is not None:
                s.deps.append(req)
        s.groups = self.items(raw.get("dependency_groups", []))
        s.extras = self.items(raw.get("extras", []))
        s.pass_env = self.items(raw.get("pass_env", []))
        s.tags = self.items(raw.get("labels", []))
        s.tags += [label for label, envs in self.core_labels.items() if env in envs and label not in s.tags]
        s.requires = self.items(raw.get("depends", []))
        if s.requires:
            self.notes.add(
                f"{at('depends')}: became requires, which also runs those sessions first and skips "
                "this one if they fail"
            )
        s.env = {k: _placeholders(v, at("set_env"), self.notes) for k, v in self.set_env(raw, at("set_env"))}
        if raw.get("system_site_packages") is not None:
            s.system_site_packages = self.boolean(raw["system_site_packages"])
        if "change_dir" in raw:
            cwd = _placeholders(self.text(raw["change_dir"]).strip(), at("change_dir"), self.notes)
            cwd = cwd.removeprefix("{project_root}").lstrip("/")
            if "{" in cwd:
                self.notes.add(f"{at('change_dir')}: {cwd!r} not translated")
            elif cwd and not (self.root / cwd).is_dir():
                self.notes.add(f"{at('change_dir')}: {cwd!r} does not exist; dropped")
            elif cwd and cwd != ".":
                s.cwd = cwd
        if "allowlist_externals" in raw:
            self.notes.add(f"{at('allowlist_externals')}: not needed, vrun runs programs found on PATH")
        for key in ("commands_pre", "commands", "commands_post"):
            if key == "commands_post" and raw.get(key):
                self.notes.add(
                    f"{at('commands_post')}: appended to commands; vrun skips them when a command fails"
                )
            for argv in self.commands(raw.get(key), at(key)):
                s.commands.append(_command_item(argv))
        s.install_project = _install_value(self.root, self.install_mode(raw, where), where, self.notes)
        if s.extras and (
            s.install_project is False or (s.install_project is None and not _project_default(self.root))
        ):
            self.notes.add(f"{at('extras')}: [{env}] does not install the project; its extras dropped")
            s.extras = []
        return s, py, "-".join(rest)

    def install_mode(self, raw: dict[str, Any], where: str) -> str | None:
        if self.no_package:
            return None
        if "skip_install" in raw and self.boolean(raw["skip_install"]):
            return None
        package = self.text(raw["package"]).strip() if "package" in raw else ""
        if package == "skip":
            return None
        if package == "wheel":
            return "wheel"
        if package in ("editable", "editable-legacy"):
            return "editable"
        if "use_develop" in raw and self.boolean(raw["use_develop"]):
            return "editable"
        if package and package != "sdist":
            self.notes.add(f"{where} package = {package}: not translated; installing editable")
        self.default_packaging_used = True
        return "editable"

    def commands(self, value: Any, where: str) -> Iterator[list[str]]:
        raise NotImplementedError

    def set_env(self, raw: dict[str, Any], where: str) -> list[tuple[str, str]]:
        raise NotImplementedError

    # value helpers: INI values are text, TOML values are TOML
    def text(self, value: Any) -> str:
        if isinstance(value, list):
            return " ".join(str(v) for v in value)
        return str(value)

    def items(self, value: Any, lines: bool = False) -> list[str]:
        if isinstance(value, str):
            if lines:
                return [line.strip() for line in value.splitlines() if line.strip()]
            return _split_list(value)
        return [str(v) for v in value if isinstance(v, str)]

    def first(self, value: Any) -> str | None:
        items = self.items(value)
        if len(items) > 1:
            self.notes.add(f"{self.source} base_python: only the first of {items} is used")
        return _python_spec(items[0]) if items else None

    def boolean(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes", "on")

    def argv(self, args: list[str], where: str) -> list[str] | None:
        """Handle tox's leading ``-`` (ignore the exit code) and ``!`` (invert it)."""
        if not args:
            return None
        if args[0] == "!" or args[0].startswith("!"):
            self.notes.add(
                f"{where}: '!' (expect failure) has no vrun equivalent; command dropped: {shlex.join(args)}"
            )
            return None
        if args[0] == "-" or (args[0].startswith("-") and len(args[0]) > 1 and not args[0].startswith("--")):
            self.notes.add(
                f"{where}: leading '-' (ignore the exit code) has no vrun equivalent; a failure now "
                f"stops the session: {shlex.join(args)}"
            )
            args = args[1:] if args[0] == "-" else [args[0][1:], *args[1:]]
        return args or None


class _IniTox(_Tox):
    """tox.ini, setup.cfg's tox sections, or ``legacy_tox_ini``."""

    def __init__(self, root: Path, sections: dict[str, dict[str, str]], source: str, notes: _Notes) -> None:
        super().__init__(root, notes)
        self.source = source
        self.sections = sections
        self.env_sections: dict[str, str] = {}  # env name -> section
        for section in sections:
            if section.startswith("testenv:"):
                for env in _expand(section[len("testenv:") :].strip(), notes):
                    self.env_sections.setdefault(env, section)
        core = sections["tox"]
        for key, value in core.items():
            if key in ("skipsdist", "skip_sdist", "no_package") and self.boolean(self.clean(value)):
                self.no_package = True
            elif key == "labels":
                for line in self.clean(value).splitlines():
                    label, _, envs = line.partition("=")
                    if label.strip():
                        listed = [e for item in _split_top(envs) for e in _expand(item, notes)]
                        self.core_labels[label.strip()] = listed
            elif key == "skip_missing_interpreters":
                notes.add(f"{source} [tox] skip_missing_interpreters: use vrun --skip-missing-interpreters")
            elif key == "requires":
                notes.add(f"{source} [tox] requires (tox plugins): not translated")
            elif key not in _TOX_CORE_KEYS:
                notes.add(f"{source} [tox] {key}: not translated")
        for section, table in sections.items():
            if section != "testenv" and not section.startswith("testenv:"):
                continue
            if section.startswith("testenv:."):
                continue
            for key in table:
                if key not in _TOX_SPELLINGS:
                    notes.add(f"{source} [{section}] {key}: not translated")

    @staticmethod
    def clean(value: str) -> str:
        """tox 4's INI value cleaning: backslash-newline joins lines, ``#`` starts a comment."""
        value = value.replace("\r", "").replace("\\\n", "")
        lines = []
        for line in value.split("\n"):
            if line.startswith("#"):
                continue
            lines.append(re.sub(r"(\s)*(?<!\\)#.*", "", line).replace("\\#", "#"))
        return "\n".join(lines)

    def env_list(self) -> list[str] | None:
        core = self.sections["tox"]
        value = core.get("env_list", core.get("envlist"))
        if value is None:
            return None
        out: list[str] = []
        for item in _split_top(self.clean(value)):
            for env in _expand(item, self.notes):
                if env not in out:
                    out.append(env)
        return out

    def defined_envs(self) -> list[str]:
        return list(self.env_sections)

    def lookup(self, section: str, key: str, depth: int = 0) -> str | None:
        table = self.sections.get(section, {})
        for spelling in _TOX_KEYS.get(key, (key,)):
            if spelling in table:
                return self.clean(table[spelling])
        return None

    def refs(self, value: str, env: str, depth: int = 0) -> str:
        """Replace ``{[section]key}`` references (tox 4: the other section's value, unfiltered here)."""

        def one(match: re.Match[str]) -> str:
            section, key = match.group(1), match.group(2)
            found = self.lookup(section, _TOX_SPELLINGS.get(key, key))
            if found is None or depth > 10:
                self.notes.add(f"{self.source}: reference {match.group(0)} not found; dropped")
                return ""
            return self.refs(found, env, depth + 1)

        return re.sub(r"\{\[([^\]]+)\]([^{}]+)\}", one, value)

    def raw(self, env: str) -> dict[str, Any]:
        factors = set(env.split("-"))
        section = self.env_sections.get(env)
        out: dict[str, Any] = {}
        for key in _TOX_KEYS:
            value = self.lookup(section, key) if section else None
            self.origins[env, key] = section or "testenv"
            if value is None:
                value = self.lookup("testenv", key)
                self.origins[env, key] = "testenv"
            if value is None:
                continue
            out[key] = _filter_factors(self.refs(value, env), factors)
        return out

    def commands(self, value: Any, where: str) -> Iterator[list[str]]:
        if not value:
            return
        for raw_line in str(value).splitlines():
            line = raw_line.strip()
            if not line:
                continue
            text = _placeholders(line, where, self.notes)
            try:
                args = _split_command(text)
            except ValueError:
                self.notes.add(f"{where}: cannot split {line!r}; dropped")
                continue
            argv = self.argv(args, where)
            if argv:
                yield argv

    def set_env(self, raw: dict[str, Any], where: str) -> list[tuple[str, str]]:
        pairs = []
        for raw_line in str(raw.get("set_env", "")).splitlines():
            line = raw_line.strip()
            if not line:
                continue
            if line.startswith("file|"):
                self.notes.add(f"{where}: {line!r} (a dotenv file) not translated")
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                self.notes.add(f"{where}: {line!r} not translated")
                continue
            pairs.append((name.strip(), value.strip()))
        return pairs


def _filter_factors(value: str, factors: set[str]) -> str:
    """Keep the lines of ``value`` that apply to an env with ``factors`` (tox's conditional lines).

    ``a,b: x`` applies when any group matches, ``a-b: x`` when all factors of a group are present,
    ``!a: x`` when ``a`` is absent; braces in the condition expand as in env names.
    """
    out = []
    for line in value.split("\n"):
        match = re.match(r"^\s*([\w{}.!,-]+):(\s+|$)(.*)$", line)
        if match is None:
            out.append(line)
            continue
        groups = [g for alt in _split_top(match.group(1)) for g in _expand(alt, _Notes())]
        for group in groups:
            parts = [p for p in group.split("-") if p]
            if all((p[1:] not in factors) if p.startswith("!") else (p in factors) for p in parts):
                out.append(match.group(3))
                break
    return "\n".join(out)


class _TomlTox(_Tox):
    """tox 4's TOML format: ``tox.toml`` or ``[tool.tox]`` of ``pyproject.toml``."""

    def __init__(self, root: Path, data: dict[str, Any], source: str, notes: _Notes) -> None:
        super().__init__(root, notes)
        self.source = source
        self.data = data
        for key, value in data.items():
            if key in ("env_list", "env_run_base", "env", "min_version", "requires"):
                if key == "requires":
                    notes.add(f"{source} requires (tox plugins): not translated")
                continue
            if key in ("no_package", "skipsdist") and value is True:
                self.no_package = True
            elif key == "labels" and isinstance(value, dict):
                self.core_labels = {k: list(v) for k, v in value.items() if isinstance(v, list)}
            elif key == "skip_missing_interpreters":
                notes.add(f"{source} skip_missing_interpreters: use vrun --skip-missing-interpreters")
            else:
                notes.add(f"{source} {key}: not translated")
        for name, table in [("env_run_base", data.get("env_run_base", {})), *self.envs().items()]:
            if isinstance(table, dict):
                for key in table:
                    if key not in _TOX_SPELLINGS:
                        notes.add(f"{source} [{name}] {key}: not translated")

    def envs(self) -> dict[str, Any]:
        envs = self.data.get("env", {})
        return envs if isinstance(envs, dict) else {}

    def env_list(self) -> list[str] | None:
        value = self.data.get("env_list")
        if value is None:
            return None
        out: list[str] = []
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                self.notes.add(f"{self.source} env_list: {item!r} not translated")
                continue
            for env in _expand(item, self.notes):
                if env not in out:
                    out.append(env)
        return out

    def defined_envs(self) -> list[str]:
        return [env for name in self.envs() for env in _expand(name, self.notes)]

    def raw(self, env: str) -> dict[str, Any]:
        base = self.data.get("env_run_base", {})
        own: dict[str, Any] = {}
        own_name = f"env.{env}"
        for name, table in self.envs().items():
            if env in _expand(name, _Notes()) and isinstance(table, dict):
                own, own_name = table, f"env.{name}"
        out: dict[str, Any] = {}
        for key, spellings in _TOX_KEYS.items():
            for table, label in ((own, own_name), (base if isinstance(base, dict) else {}, "env_run_base")):
                hit = next((table[s] for s in spellings if s in table), None)
                if hit is not None:
                    self.origins[env, key] = label
                    out[key] = self.resolve(hit, env, key)
                    break
        return out

    def resolve(self, value: Any, env: str, key: str, depth: int = 0) -> Any:
        """Resolve ``{replace = "ref"}`` items; posargs and env stay for :meth:`word`."""
        if isinstance(value, list):
            out: list[Any] = []
            for item in value:
                if isinstance(item, dict) and item.get("replace") == "ref" and depth < 10:
                    found = self.ref(item, env)
                    if found is None:
                        self.notes.add(f"{self.source} [{env}] {key}: reference {item} not found; dropped")
                        continue
                    resolved = self.resolve(found, env, key, depth + 1)
                    if item.get("extend") and isinstance(resolved, list):
                        out += resolved
                    else:
                        out.append(resolved)
                else:
                    out.append(self.resolve(item, env, key, depth + 1) if isinstance(item, list) else item)
            return out
        if isinstance(value, dict) and value.get("replace") == "ref" and depth < 10:
            found = self.ref(value, env)
            return self.resolve(found, env, key, depth + 1) if found is not None else []
        return value

    def ref(self, item: dict[str, Any], env: str) -> Any:
        of = item.get("of")
        if isinstance(of, list):
            node: Any = self.data
            for part in of:
                if not isinstance(node, dict) or part not in node:
                    return None
                node = node[part]
            return node
        if "env" in item and "key" in item:
            return self.raw(str(item["env"])).get(_TOX_SPELLINGS.get(str(item["key"]), str(item["key"])))
        return None

    def word(self, item: Any, where: str) -> list[str]:
        """One element of a TOML command: a string, or a ``replace`` table (posargs, env)."""
        if isinstance(item, str):
            return [_placeholders(item, where, self.notes)]
        if isinstance(item, dict) and item.get("replace") == "posargs":
            default = item.get("default", [])
            words = [str(w) for w in default] if isinstance(default, list) else [str(default)]
            if not words:
                return ["{posargs}"]
            if all(" " not in w and "}" not in w for w in words):
                return ["{posargs:" + " ".join(words) + "}"]
            self.notes.add(f"{where}: posargs default {words} has spaces; kept as {{posargs}}")
            return ["{posargs}"]
        if isinstance(item, dict) and item.get("replace") == "env" and "name" in item:
            default = item.get("default")
            return ["{env:" + str(item["name"]) + (f":{default}" if default is not None else "") + "}"]
        self.notes.add(f"{where}: {item!r} not translated")
        return []

    def commands(self, value: Any, where: str) -> Iterator[list[str]]:
        if not value:
            return
        for command in value if isinstance(value, list) else [value]:
            words = _split_command(command) if isinstance(command, str) else command
            if not isinstance(words, list):
                self.notes.add(f"{where}: {command!r} not translated")
                continue
            args = [w for item in words for w in self.word(item, where)]
            argv = self.argv(args, where)
            if argv:
                yield argv

    def set_env(self, raw: dict[str, Any], where: str) -> list[tuple[str, str]]:
        value = raw.get("set_env", {})
        pairs = []
        if not isinstance(value, dict):
            self.notes.add(f"{where}: {value!r} not translated")
            return []
        for name, item in value.items():
            if isinstance(item, (str, int, float, bool)) and not isinstance(item, bool):
                pairs.append((name, str(item)))
            elif isinstance(item, dict):
                words = self.word(item, where)
                if words:
                    pairs.append((name, words[0]))
            else:
                self.notes.add(f"{where} {name}: {item!r} not translated")
        return pairs

    def items(self, value: Any, lines: bool = False) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            return []
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            else:
                self.notes.add(f"{self.source}: {item!r} not translated")
        return out


# --- nox ---------------------------------------------------------------------------------------


class _Nox:
    """A ``noxfile.py`` read with :mod:`ast`, following the nox documentation's API."""

    def __init__(self, root: Path, text: str, notes: _Notes) -> None:
        self.root = root
        self.text = text
        self.notes = notes
        self.constants: dict[str, Any] = {}
        self.nox_names = {"nox"}
        self.session_names: set[str] = set()  # aliases of nox.session
        self.not_default: set[str] = set()  # sessions with default=False

    def translate(self) -> tuple[list[_Session], list[str] | None]:
        try:
            tree = ast.parse(self.text, "noxfile.py")
        except SyntaxError as exc:
            self.notes.add(f"noxfile.py: syntax error at line {exc.lineno}; nothing translated")
            return [], None
        default: list[str] | None = None
        sessions: list[_Session] = []
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "nox":
                        self.nox_names.add(alias.asname or "nox")
            elif isinstance(node, ast.ImportFrom) and node.module == "nox":
                for alias in node.names:
                    if alias.name == "session":
                        self.session_names.add(alias.asname or "session")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    dotted = _dotted(target)
                    if isinstance(target, ast.Name) and node.value is not None:
                        try:
                            self.constants[target.id] = ast.literal_eval(node.value)
                        except ValueError:
                            pass
                    elif dotted and dotted.endswith("options.sessions") and node.value is not None:
                        value = self.literal(node.value)
                        if isinstance(value, list) and all(isinstance(v, str) for v in value):
                            default = value
                        else:
                            self.notes.add(f"noxfile.py:{node.lineno}: nox.options.sessions not literal")
                    elif dotted and ".options." in f".{dotted}":
                        self.notes.add(f"noxfile.py:{node.lineno}: {dotted} not translated")
            elif isinstance(node, ast.FunctionDef):
                session = self.function(node)
                if session is not None:
                    sessions.append(session)
        if default is not None:
            known = {s.name for s in sessions}
            for name in default:
                if name not in known and not any(name.startswith(f"{k}-") for k in known):
                    self.notes.add(f"noxfile.py: nox.options.sessions names {name!r}, not a session here")
            default = [n for n in default if n in known or any(n.startswith(f"{k}-") for k in known)]
        elif self.not_default:
            default = [s.name for s in sessions if s.name not in self.not_default]
        return sessions, default

    def literal(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        try:
            return ast.literal_eval(node)
        except ValueError:
            return _NOT_LITERAL

    def is_session_decorator(self, node: ast.expr) -> ast.Call | bool:
        target = node.func if isinstance(node, ast.Call) else node
        dotted = _dotted(target)
        hit = dotted in self.session_names or any(dotted == f"{n}.session" for n in self.nox_names)
        if not hit:
            return False
        return node if isinstance(node, ast.Call) else True

    def function(self, node: ast.FunctionDef) -> _Session | None:
        call: ast.Call | None = None
        found = False
        for decorator in node.decorator_list:
            hit = self.is_session_decorator(decorator)
            if hit is not False:
                found = True
                call = hit if isinstance(hit, ast.Call) else None
            else:
                self.notes.add(
                    f"noxfile.py:{node.lineno}: @{ast.unparse(decorator)} on {node.name} not translated"
                )
        if not found:
            return None
        session = _Session(name=node.name)
        where = f"noxfile.py:{node.lineno} {node.name}"
        not_default = False
        for keyword in call.keywords if call else []:
            value = self.literal(keyword.value)
            arg = keyword.arg
            if arg in ("python", "py"):
                if value is None:
                    continue
                if isinstance(value, str):
                    session.python = value
                elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
                    session.python = list(value)
                else:
                    self.notes.add(f"{where}: python={ast.unparse(keyword.value)} not translated")
            elif arg == "name" and isinstance(value, str):
                session.name = value
            elif arg == "tags" and isinstance(value, (list, tuple)):
                session.tags = [str(v) for v in value]
            elif arg == "requires" and isinstance(value, (list, tuple)):
                session.requires = [str(v) for v in value]
                if any("{" in str(v) for v in value):
                    self.notes.add(f"{where}: requires with {{python}} templates not translated")
                    session.requires = [str(v) for v in value if "{" not in str(v)]
            elif arg == "default" and value is False:
                not_default = True
            elif arg == "reuse_venv":
                continue  # reuse is automatic in vrun
            else:
                self.notes.add(f"{where}: @nox.session({arg}=...) not translated")
        doc = ast.get_docstring(node)
        if doc:
            session.description = " ".join(doc.strip().splitlines()[0].split())
        param = node.args.args[0].arg if node.args.args else "session"
        install: str | None = None
        for statement in node.body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                continue  # the docstring
            install = self.statement(statement, param, session, where, install)
        session.install_project = _install_value(self.root, install, where, self.notes)
        if session.extras and install is None:
            session.extras = []
        if not _SESSION_NAME.fullmatch(session.name) or session.name in _RESERVED:
            old = session.name
            session.name = re.sub(r"[^A-Za-z0-9_.+-]", "-", old).strip("-_.+") or "session"
            if session.name in _RESERVED:
                session.name += "-session"
            self.notes.add(f"{where}: session {old!r} is named {session.name!r} in vrun")
        if not_default:
            self.not_default.add(session.name)
        return session

    def statement(
        self, statement: ast.stmt, param: str, session: _Session, where: str, install: str | None
    ) -> str | None:
        line = f"noxfile.py:{statement.lineno}"
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            call = statement.value
            method = _dotted(call.func)
            if method == f"{param}.install":
                return self.install(call, session, line, install)
            if method in (f"{param}.run", f"{param}.run_always", f"{param}.run_install"):
                argv = self.run_args(call, line)
                if argv:
                    session.commands.append(_command_item(argv))
                for keyword in call.keywords:
                    if keyword.arg not in ("external", "silent"):
                        self.notes.add(f"{line}: {method}({keyword.arg}=...) not translated")
                return install
            if method == f"{param}.chdir" and call.args:
                value = self.literal(call.args[0])
                if isinstance(value, str) and (self.root / value).is_dir():
                    session.cwd = value
                    return install
            if method in (f"{param}.log", f"{param}.debug", f"{param}.warn"):
                return install
            if method == f"{param}.env.update" and call.args:
                value = self.literal(call.args[0])
                if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                    session.env.update({str(k): v for k, v in value.items()})
                    return install
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if (
                isinstance(target, ast.Subscript)
                and _dotted(target.value) == f"{param}.env"
                and isinstance(self.literal(target.slice), str)
                and isinstance(self.literal(statement.value), str)
            ):
                session.env[self.literal(target.slice)] = self.literal(statement.value)
                return install
        code = ast.unparse(statement).splitlines()[0]
        self.notes.add(f"{line}: `{code}` not translated")
        return install

    def install(self, call: ast.Call, session: _Session, line: str, install: str | None) -> str | None:
        args: list[str] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                groups = self.dependency_groups(arg.value)
                if groups is not None:
                    session.groups += [g for g in groups if g not in session.groups]
                    continue
                value = self.literal(arg.value)
                if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                    args += value
                    continue
            else:
                value = self.literal(arg)
                if isinstance(value, str):
                    args.append(value)
                    continue
            self.notes.add(f"{line}: session.install argument `{ast.unparse(arg)}` not translated")
        i = 0
        while i < len(args):
            word = args[i]
            if word in ("-r", "-c", "--requirement", "--constraint") and i + 1 < len(args):
                req = _requirement(f"{word} {args[i + 1]}", line, self.root, self.notes)
                if req:
                    session.deps.append(req)
                i += 2
                continue
            if word == "-e" and i + 1 < len(args):
                install = self.project(args[i + 1], "editable", session, line) or install
                i += 2
                continue
            project = self.project(word, "wheel", session, line)
            if project:
                install = project if install != "editable" else install
            elif word.startswith("-"):
                self.notes.add(f"{line}: session.install option {word!r} not translated")
            else:
                req = _requirement(word, line, self.root, self.notes)
                if req:
                    session.deps.append(req)
            i += 1
        return install

    def project(self, arg: str, mode: str, session: _Session, line: str) -> str | None:
        match = re.fullmatch(r"\.(?:/)?(?:\[([^\]]*)\])?", arg)
        if match is None:
            return None
        if match.group(1):
            session.extras += [
                e.strip() for e in match.group(1).split(",") if e.strip() not in session.extras
            ]
        return mode

    def dependency_groups(self, node: ast.expr) -> list[str] | None:
        if isinstance(node, ast.Call) and _dotted(node.func).endswith("dependency_groups"):
            names = [self.literal(a) for a in node.args[1:]]
            if all(isinstance(n, str) for n in names):
                return [str(n) for n in names]
        return None

    def run_args(self, call: ast.Call, line: str) -> list[str]:
        argv: list[str] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                inner = arg.value
                if _dotted(inner).endswith(".posargs"):
                    argv.append("{posargs}")
                    continue
                if (
                    isinstance(inner, ast.BoolOp)
                    and isinstance(inner.op, ast.Or)
                    and len(inner.values) == 2
                    and _dotted(inner.values[0]).endswith(".posargs")
                ):
                    default = self.literal(inner.values[1])
                    if isinstance(default, (list, tuple)) and all(
                        isinstance(v, str) and " " not in v and "}" not in v for v in default
                    ):
                        argv.append("{posargs:" + " ".join(default) + "}" if default else "{posargs}")
                        continue
                value = self.literal(inner)
                if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                    argv += value
                    continue
            else:
                value = self.literal(arg)
                if isinstance(value, str):
                    argv.append(value)
                    continue
            self.notes.add(
                f"{line}: session.run argument `{ast.unparse(arg)}` not translated; command dropped"
            )
            return []
        return argv


_NOT_LITERAL = object()


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain on a name, else ``""``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


# --- from scratch ------------------------------------------------------------------------------


def _scratch(root: Path, pyproject: dict[str, Any], notes: _Notes) -> tuple[list[_Session], list[str] | None]:
    """Guess sessions from the project's files when there is no tox or nox config."""
    files = sorted(p.name for p in root.glob("requirements*.txt") if p.is_file())
    files += sorted(f"requirements/{p.name}" for p in (root / "requirements").glob("*.txt") if p.is_file())
    groups = pyproject.get("dependency-groups")
    groups = groups if isinstance(groups, dict) else {}
    extras = (pyproject.get("project") or {}).get("optional-dependencies") or {}
    extras = extras if isinstance(extras, dict) else {}
    installable = _project_default(root) is not None

    def mentions(word: str) -> bool:
        texts = [(root / f).read_text(encoding="utf-8", errors="replace") for f in files]
        texts += [repr(groups), repr(extras)]
        tool = pyproject.get("tool", {})
        return word in " ".join(texts).lower() or (isinstance(tool, dict) and word in tool)

    sessions: list[_Session] = []
    pytest_config = (root / "pytest.ini").is_file() or (root / "conftest.py").is_file()
    if (root / "tests").is_dir() or (root / "test").is_dir() or pytest_config or mentions("pytest"):
        test = _Session(name="test", commands=["pytest {posargs}"])
        group = next((g for g in ("test", "tests", "testing", "dev") if g in groups), None)
        extra = next((e for e in ("test", "tests", "testing") if e in extras), None)
        test_files = [f for f in files if re.search(r"test|dev", f)]
        if group:
            test.groups = [group]
        elif extra and installable:
            test.extras = [extra]
        elif test_files:
            test.deps = [f"-r {f}" for f in test_files]
        if not installable and "requirements.txt" in files and "-r requirements.txt" not in test.deps:
            test.deps.insert(0, "-r requirements.txt")
        if not (test.groups or test.extras) and not (mentions("pytest") and test.deps):
            test.deps.append("pytest")
        sessions.append(test)
    ruff = (root / "ruff.toml").is_file() or (root / ".ruff.toml").is_file()
    tool = pyproject.get("tool")
    if ruff or (isinstance(tool, dict) and "ruff" in tool):
        lint = _Session(name="lint", commands=["ruff check {posargs:.}"])
        group = next(
            (g for g in ("lint", "linting", "dev") if g in groups and "ruff" in repr(groups[g])), None
        )
        if group:
            lint.groups = [group]
        else:
            lint.deps = ["ruff"]
        lint.install_project = _install_value(root, None, "lint", notes)
        sessions.append(lint)
    if not sessions:
        notes.add("no tox or nox config, tests or ruff config found: add sessions by hand")
    return sessions, None


# --- emitting TOML -----------------------------------------------------------------------------


def _toml_string(value: str) -> str:
    """A TOML string: a literal string when that reads better (backslashes, quotes), else basic."""
    plain = all(ch == "\t" or (" " <= ch != "\x7f") for ch in value)
    if plain and "'" not in value and ('"' in value or "\\" in value):
        return f"'{value}'"
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: Any, indent: str = "") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    items = [_toml_value(v, indent + "    ") for v in value]
    one_line = "[" + ", ".join(items) + "]"
    if len(one_line) <= 90 and "\n" not in one_line:
        return one_line
    return "[\n" + "".join(f"{indent}    {item},\n" for item in items) + f"{indent}]"


def _emit(source: str, sessions: list[_Session], default: list[str] | None, notes: list[str]) -> str:
    origin = f"from {source}" if source else "from the project's files (no tox or nox config found)"
    lines = [f"# Generated by `vrun init` {origin}.", "# Review it; `vrun list` shows the sessions."]
    if notes:
        lines.append("# Not translated:")
        lines += [f"#   - {' '.join(note.split())}" for note in notes]
    lines.append("")
    if default:
        lines += [f"default = {_toml_value(default)}", ""]
    for session in sessions:
        lines.append(f"[sessions.{_toml_key(session.name)}]")
        for f in fields(session):
            value = getattr(session, f.name)
            if f.name == "name" or value is None or value in ("", [], {}):
                continue
            if f.name == "system_site_packages" and value is False:
                continue
            lines.append(f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
