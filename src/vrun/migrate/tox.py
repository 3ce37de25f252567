"""The tox half of ``vrun init`` that does not depend on the file format: tox env settings to sessions.

:class:`ToxReader` turns each tox env's settings into a :class:`~vrun.migrate.model.Session`; its
subclasses read them from INI (:mod:`vrun.migrate.toxini`) or TOML (:mod:`vrun.migrate.toxtoml`). The
settings and their meaning are those of the tox 4 documentation ("Configuration": ``deps``,
``commands``, ``set_env``, ``package``, ``depends``... and their tox 3 spellings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from vrun.config.load import SESSION_NAME
from vrun.config.matrix import entry_name
from vrun.migrate import toxmatrix
from vrun.migrate.model import (
    RESERVED,
    Notes,
    Session,
    command_item,
    install_value,
    project_default,
    requirement,
    script_command,
)
from vrun.migrate.toxsyntax import expand, placeholders, python_factor, python_spec, split_list, split_top
from vrun.migrate.toxuv import RunnerTranslation
from vrun.output import join

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlValue

#: tox env keys: canonical (tox 4) name -> accepted spellings.
TOX_KEYS = {
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
    "runner": ("runner",),  # tox-uv's runners and lock runner settings: vrun.migrate.toxuv
    "script": ("script",),
    "uv_sync_flags": ("uv_sync_flags",),
    "uv_sync_locked": ("uv_sync_locked",),
    "only_groups": ("only_groups",),
    "no_default_groups": ("no_default_groups",),
}
#: tox's runners of a PEP 723 script (tox 4.52's own, tox-uv's): ``script`` names it, its block
#: gives the dependencies and ``requires-python``, ``python SCRIPT {posargs}`` is the default command.
PEP723_RUNNERS = ("virtualenv-pep-723", "uv-venv-pep-723")
#: Runners whose envs are plain sessions to vrun (tox's default, tox-uv's).
PLAIN_RUNNERS = ("virtualenv", "uv-venv-runner")
TOX_SPELLINGS = {spelling: key for key, names in TOX_KEYS.items() for spelling in names}
#: Variables only a build reads (compilers', setuptools-scm's, the ``*_NO_EXTENSIONS`` switches of
#: aiohttp, yarl, multidict, frozenlist): a tox env's ``set_env`` of these reaches the builds its
#: installer runs, so ``vrun init`` puts them in ``build_env`` too (``fnmatch`` patterns).
BUILD_VARIABLES = (
    "CC",
    "CXX",
    "CFLAGS",
    "CPPFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "ARCHFLAGS",
    "MACOSX_DEPLOYMENT_TARGET",
    "SETUPTOOLS_SCM_PRETEND_VERSION*",
    "PBR_VERSION",
    "*_NO_EXTENSIONS",
    "*_NO_EXTENSION",
    "*_NO_CEXT",
    "*_PUREPYTHON",
    "*_PURE_PYTHON",
)


def _is_build_variable(name: str) -> bool:
    import fnmatch

    return any(fnmatch.fnmatchcase(name, pattern) for pattern in BUILD_VARIABLES)


class ToxReader:
    """What the INI and TOML readers share: turning each env's raw settings into sessions."""

    source: str

    def __init__(self, root: Path, notes: Notes) -> None:
        self.root = root
        self.notes = notes
        self.no_package = False
        self.core_labels: dict[str, list[str]] = {}  # label -> env names
        self.origins: dict[tuple[str, str], str] = {}  # (env, key) -> the section that set it
        self.skip_missing = True  # tox 4's skip_missing_interpreters, true unless set false
        self.dropped = 0  # commands not translated so far (each noted)

    # implemented by the readers
    def env_items(self) -> list[str] | None:
        """``env_list``'s items, generative names unexpanded, or ``None`` when there is none."""
        raise NotImplementedError

    def section_items(self) -> list[str]:
        """The names of the envs' own sections or tables, generative names unexpanded."""
        raise NotImplementedError

    def raw(self, env: str) -> Mapping[str, TomlValue]:
        """``env``'s settings under their canonical :data:`TOX_KEYS` names, inherited ones included:
        INI text, or TOML values."""
        raise NotImplementedError

    def translate(self) -> tuple[list[Session], list[str] | None]:
        """The sessions for every tox env, and the default sessions (``env_list``'s order).

        Envs listed in ``env_list`` come first, then those only defined; packaging envs (``.pkg``)
        are left out. The envs of a generative name (``py{311,312}-django{42,50}``), and the envs
        whose names differ only in their Python, become one session with a matrix
        (:mod:`vrun.migrate.toxmatrix`; tox 4, "Generative environments"); a matrix of Pythons
        alone is named ``test``.

        :return: ``(sessions, default)``; ``default`` is ``None`` when tox lists no envs.
        """
        items = self.env_items()
        listed = None if items is None else self.expand_all(items)
        if items is None:
            items = ["py"] if self.raw("py").get("commands") else []
        known = set(self.expand_all(items))
        items += [i for i in self.section_items() if any(e not in known for e in expand(i, Notes()))]
        units = toxmatrix.groups(items, self.notes)
        used = {self.session_name(unit) for unit in units if isinstance(unit, str)}
        sessions: list[Session] = []
        names: dict[str, str] = {}  # tox env -> vrun session name (a full name for a matrix entry)
        bases: dict[str, str] = {}  # tox env -> its matrix's base name
        for unit in units:
            made = None if isinstance(unit, str) else self.matrix(unit, used)
            if made is None or isinstance(unit, str):  # one session per env, named after it
                for env in [unit] if isinstance(unit, str) else [env for env, _ in unit.rows]:
                    s, py, _ = self.session(env)
                    s.name = self.session_name(env)
                    s.python = py if py is not None else s.python
                    used.add(s.name)
                    names[env] = s.name
                    sessions.append(s)
                continue
            used.add(made.name)
            sessions.append(made)
            for env, pairs in unit.rows:
                names[env] = entry_name(made.name, tuple((k, v) for k, v in pairs if v is not None))
                bases[env] = made.name
        order: list[str] = []
        for env in listed if listed is not None else (["py"] if "py" in names else []):
            name = bases.get(env, names.get(env))
            if name is not None and name not in order:
                order.append(name)
        self.resolve_requires(sessions, names)
        self.package_build_env(sessions)
        if self.skip_missing and any(s.python or s.matrix for s in sessions):
            self.notes.add(
                f"{self.source}: tox skips an env whose Python is not installed (skip_missing_interpreters, "
                "true unless set false); vrun installs it with uv (python_downloads), else skips a matrix "
                "entry you did not name and fails the others: run `vrun --skip-missing-interpreters` to "
                "skip them all (ignored under CI)"
            )
        return sessions, order or None

    def matrix(self, group: toxmatrix.Group, used: set[str]) -> Session | None:
        """The one session for ``group``'s envs (:func:`vrun.migrate.toxmatrix.build`), named after
        their shared factors (``test`` when they share none), or ``None`` when they stay sessions
        of their own: they cannot share one, the name is taken, or the group is one env with a
        name of its own."""
        if len(group.rows) == 1 and group.constants:
            return None
        if group.constants:
            name = self.session_name("-".join(group.constants))
            if name in used:
                return None
        else:
            name = next((n for n in ("test", "tests", "py-tests") if n not in used), "")
            if not name:
                return None
        built = [self.session(env)[0] for env, _ in group.rows]
        install = project_default(self.root) or False
        return toxmatrix.build(name, group, built, install)

    def expand_all(self, items: list[str]) -> list[str]:
        """Each generative name of ``items`` expanded (:func:`expand`), repeats left out."""
        return list(dict.fromkeys(env for item in items for env in expand(item, self.notes)))

    def session_name(self, env: str) -> str:
        """A valid vrun session name for tox env ``env`` (with a note when it differs)."""
        name = re.sub(r"[^A-Za-z0-9_.+-]", "-", env)
        if not SESSION_NAME.fullmatch(name):
            name = "env-" + name
        if name in RESERVED:
            name += "-env"
        if name != env:
            self.notes.add(f"{self.source}: env {env!r} is named {name!r} (not a valid vrun session name)")
        return name

    def resolve_requires(self, sessions: list[Session], names: dict[str, str]) -> None:
        """Turn each session's tox ``depends`` into the session names of ``names`` (tox env ->
        vrun session), dropping those not translated.

        An entry is a generative name, expanded first (``py3{9,10}-tests``), whose names may be
        ``fnmatch`` patterns (``*-tests*``), matched against every tox env translated, as tox 4
        matches ``depends``. A session never requires itself nor an entry of its own matrix."""
        import fnmatch

        for session in sessions:
            pythons = session.python if isinstance(session.python, list) else []
            own = {session.name, *(f"{session.name}-{py}" for py in pythons)}
            resolved: list[str] = []
            for env in session.requires:
                targets = []
                for name in expand(env, self.notes):
                    if any(char in name for char in "*?["):
                        targets += [names[e] for e in names if fnmatch.fnmatchcase(e, name)]
                    elif name in names:
                        targets.append(names[name])
                if not [t for t in targets if t not in own]:
                    self.notes.add(f"{self.source}: depends on {env!r}, which is not translated; dropped")
                for target in targets:
                    if target not in resolved and target not in own:
                        resolved.append(target)
            session.requires = resolved

    def session(self, env: str) -> tuple[Session, str | None, str]:
        """The session for tox env ``env``, its python factor's spec and its other factors."""
        raw = self.raw(env)
        where = f"{self.source} [{env}]"

        def at(key: str) -> str:
            return f"{self.source} [{self.origins.get((env, key), env)}] {key}"

        py: str | None = None
        rest = []
        for factor in env.split("-"):
            spec = python_factor(factor)
            if spec is not None and py is None:
                py = spec
            else:
                rest.append(factor)
        if py == "":
            py = None
            if not rest and "base_python" in raw:
                py = self.first(raw["base_python"])
        s = Session(name=env)
        if "description" in raw:
            s.description = " ".join(self.text(raw["description"]).split())
        if "base_python" in raw and (py is None or rest):
            s.python = self.first(raw["base_python"])
        for entry in self.items(raw.get("deps", []), lines=True):
            req = requirement(placeholders(entry, at("deps"), self.notes), at("deps"), self.root, self.notes)
            if req is not None:
                s.deps.append(req)
        s.groups = self.items(raw.get("dependency_groups", []))
        s.extras = self.items(raw.get("extras", []))
        s.pass_env = self.items(raw.get("pass_env", []))
        s.tags = self.items(raw.get("labels", []))
        s.tags += [label for label, envs in self.core_labels.items() if env in envs and label not in s.tags]
        s.requires = self.env_names(raw.get("depends", []))
        if s.requires:
            self.notes.add(
                f"{at('depends')}: became requires, which also runs those sessions first and skips "
                "this one if they fail"
            )
        pairs, files = self.set_env(raw, at("set_env"))
        s.env = {k: placeholders(v, at("set_env"), self.notes) for k, v in pairs}
        s.env_file = [f for f in (self.env_file(name, at("set_env")) for name in files) if f]
        if raw.get("system_site_packages") is not None:
            s.system_site_packages = self.boolean(raw["system_site_packages"])
        if "change_dir" in raw:
            cwd = placeholders(self.text(raw["change_dir"]).strip(), at("change_dir"), self.notes)
            cwd = cwd.removeprefix("{project_root}").lstrip("/")
            if "{" in cwd:
                self.notes.add(f"{at('change_dir')}: {cwd!r} not translated")
            elif cwd and not (self.root / cwd).is_dir():
                self.notes.add(f"{at('change_dir')}: {cwd!r} does not exist; dropped")
            elif cwd and cwd != ".":
                s.cwd = cwd
        if "allowlist_externals" in raw:
            self.notes.add(f"{at('allowlist_externals')}: not needed, vrun runs programs found on PATH")
        before = self.dropped
        s.commands_pre = [
            command_item(argv) for argv in self.commands(raw.get("commands_pre"), at("commands_pre"))
        ]
        s.commands = [command_item(argv) for argv in self.commands(raw.get("commands"), at("commands"))]
        s.commands_post = [
            command_item(argv) for argv in self.commands(raw.get("commands_post"), at("commands_post"))
        ]
        s.dropped = self.dropped - before
        if self.script(raw, s, at):
            s.install_project = None  # the runner installs no package: nor does a script session
            return s, py, "-".join(rest)
        s.install_project = install_value(self.root, self.install_mode(raw, where), where, self.notes)
        runner = RunnerTranslation(
            raw, self.root, self.notes, where=where, at=at, items=self.items, boolean=self.boolean
        )
        runner.apply(s)
        if s.extras and (
            s.install_project is False or (s.install_project is None and not project_default(self.root))
        ):
            self.notes.add(f"{at('extras')}: [{env}] does not install the project; its extras dropped")
            s.extras = []
        return s, py, "-".join(rest)

    def script(self, raw: Mapping[str, TomlValue], s: Session, at: Callable[[str], str]) -> bool:
        """Make ``s`` a script session when its env runs a PEP 723 script (``runner =
        "virtualenv-pep-723"`` and ``script``, tox 4.52; tox-uv's ``uv-venv-pep-723``); True if so.
        That runner takes no ``deps``, ``extras`` or ``dependency_groups`` and installs no package
        (dropped, with a note), and its default command is vrun's (left out)."""
        runner = self.text(raw["runner"]).strip() if "runner" in raw else ""
        if runner not in PEP723_RUNNERS:
            if runner and runner not in PLAIN_RUNNERS:
                self.notes.add(f"{at('runner')}: runner {runner!r} not translated")
            return False
        script = self.text(raw["script"]).strip() if "script" in raw else ""
        if not script or not (self.root / script).is_file():
            problem = "names no script" if not script else f"names {script!r}, which does not exist"
            self.notes.add(f"{at('runner')}: {runner} {problem}; not translated")
            return False
        s.script = script
        for key in ("deps", "dependency_groups", "extras"):
            if raw.get(key):
                self.notes.add(f"{at(key)}: the PEP 723 runner ignores it (the script's block says); dropped")
        s.deps, s.groups, s.extras = [], [], []
        if s.commands == [script_command(script)]:
            s.commands = []
        return True

    def install_mode(self, raw: Mapping[str, TomlValue], where: str) -> str | None:
        """How tox would install the project for an env, as vrun's ``install_project``: tox's default
        packaging (and ``package = sdist``) is ``"sdist"`` (tox builds an sdist, then installs the
        wheel built from it), ``package = wheel`` is ``"wheel"``, ``package = editable`` or
        ``editable-legacy`` and ``usedevelop = true`` are ``"editable"``, and ``skip_install``,
        ``package = skip`` and ``no_package``/``skipsdist`` are ``None``. Another ``package``
        (``external``) is taken as ``"sdist"``, and noted."""
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
            self.notes.add(f"{where} package = {package}: not translated; installing from an sdist")
        return "sdist"

    def commands(self, value: TomlValue | None, where: str) -> Iterator[list[str]]:
        """Each command of a ``commands*`` value as argv, placeholders translated."""
        raise NotImplementedError

    def set_env(self, raw: Mapping[str, TomlValue], where: str) -> tuple[list[tuple[str, str]], list[str]]:
        """The ``(name, value)`` pairs of ``raw``'s ``set_env``, and the dotenv files it loads
        (tox 4's ``file|PATH`` line, ``file = PATH`` in TOML), as written."""
        raise NotImplementedError

    def package_set_env(self) -> list[tuple[str, str]]:
        """The ``set_env`` of tox 4's packaging env, which builds the project: ``[pkgenv]`` and
        ``[testenv:.pkg]`` (``env_pkg_base`` and ``env.".pkg"`` in TOML), the latter winning."""
        raise NotImplementedError

    def env_file(self, name: str, where: str) -> str | None:
        """A ``set_env`` file as ``env_file`` takes it: relative to the project root, ``-`` in front
        when it does not exist (tox fails only the env that runs; a missing file would stop vrun
        loading the whole config), ``None`` (with a note) when a substitution is left in it."""
        path = placeholders(name.strip(), where, self.notes).removeprefix("{project_root}/")
        if "{" in path:
            self.notes.add(f"{where}: file|{name} not translated (a substitution vrun cannot resolve)")
            return None
        if not (self.root / path).is_file():
            self.notes.add(
                f'{where}: file|{name} does not exist here; written as env_file "-{path}" (may be missing)'
            )
            return f"-{path}"
        return path

    def env_names(self, value: TomlValue) -> list[str]:
        """A list of env names (``depends``): an INI value split outside braces (:func:`split_top`),
        so that ``py3{9,10}-tests`` stays one generative name; a TOML list's strings."""
        return split_top(value) if isinstance(value, str) else self.items(value)

    def package_build_env(self, sessions: list[Session]) -> None:
        """Give each session that installs the project the variables tox would build it with, as
        its ``build_env``: the packaging env's ``set_env`` (tox 4 builds the project in ``.pkg``,
        which takes its settings from ``[pkgenv]`` and ``[testenv:.pkg]``, not ``[testenv]``:
        tox 4, "Packaging"), and those of its own ``set_env`` that only a build reads
        (:data:`BUILD_VARIABLES`: tox's installer builds local deps and sdists in the env with its
        ``set_env``). A value with a substitution other than ``{project_root}`` cannot be a build
        variable (build variables are in the env's hash, known before the env exists): noted."""
        where = f"{self.source} packaging env set_env"
        package = dict(self.build_variables(self.package_set_env(), where))
        for s in sessions:
            if s.install_project is False or not (s.install_project or project_default(self.root)):
                continue
            own = [(k, v) for k, v in s.env.items() if _is_build_variable(k)]
            variables = {
                **package,
                **dict(self.build_variables(own, f"{self.source} {s.name} set_env", False)),
            }
            if own:
                self.notes.add(
                    f"{self.source} {s.name} set_env: {', '.join(k for k, _ in own)} also in build_env "
                    "(tox installs with set_env, vrun's env reaches only the commands)"
                )
            s.build_env = {**variables, **s.build_env}

    def build_variables(
        self, pairs: list[tuple[str, str]], where: str, translate: bool = True
    ) -> list[tuple[str, str]]:
        """``pairs`` as ``build_env`` takes them: tox substitutions translated (unless ``translate``
        is false: they are vrun's already), those left with a placeholder other than
        ``{project_root}`` noted and left out."""
        out = []
        for name, raw_value in pairs:
            value = placeholders(raw_value, where, self.notes) if translate else raw_value
            if "{" in value.replace("{project_root}", ""):
                self.notes.add(
                    f"{where}: {name}={raw_value} not in build_env (it takes only {{project_root}})"
                )
                continue
            out.append((name, value))
        return out

    # value helpers: INI values are text, TOML values are TOML
    def text(self, value: TomlValue) -> str:
        """A value as one string (a TOML list joined with spaces)."""
        if isinstance(value, list):
            return " ".join(str(v) for v in value)
        return str(value)

    def items(self, value: TomlValue, lines: bool = False) -> list[str]:
        """A list value's items: an INI value split per :func:`split_list`, or by line."""
        if isinstance(value, str):
            if lines:
                return [line.strip() for line in value.splitlines() if line.strip()]
            return split_list(value)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def first(self, value: TomlValue) -> str | None:
        """The first ``base_python`` as a vrun spec (tox 4 takes the first that exists)."""
        items = self.items(value)
        if len(items) > 1:
            self.notes.add(f"{self.source} base_python: only the first of {items} is used")
        return python_spec(items[0]) if items else None

    def boolean(self, value: TomlValue) -> bool:
        """A tox boolean: TOML's, or INI text ``true``/``1``/``yes``/``on``."""
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes", "on")

    def argv(self, args: list[str], where: str) -> list[str] | None:
        """Handle tox's leading ``-`` (ignore the exit code) and ``!`` (invert it)."""
        if not args:
            return None
        if args[0] == "!" or args[0].startswith("!"):
            self.notes.add(
                f"{where}: '!' (expect failure) has no vrun equivalent; command dropped: {join(args)}"
            )
            self.dropped += 1
            return None
        if args[0] == "-" or (args[0].startswith("-") and len(args[0]) > 1 and not args[0].startswith("--")):
            self.notes.add(
                f"{where}: leading '-' (ignore the exit code) has no vrun equivalent; a failure now "
                f"stops the session: {join(args)}"
            )
            args = args[1:] if args[0] == "-" else [args[0][1:], *args[1:]]
        return args or None
