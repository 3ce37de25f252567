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
from vrun.migrate.toxsyntax import expand, placeholders, python_factor, python_spec, split_list
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
    "runner": ("runner",),
    "script": ("script",),
}
#: tox's runners of a PEP 723 script (tox 4.52's own, tox-uv's): ``script`` names it, its block
#: gives the dependencies and ``requires-python``, ``python SCRIPT {posargs}`` is the default command.
PEP723_RUNNERS = ("virtualenv-pep-723", "uv-venv-pep-723")
#: Runners whose envs are plain sessions to vrun (tox's default, tox-uv's).
PLAIN_RUNNERS = ("virtualenv", "uv-venv-runner")
TOX_SPELLINGS = {spelling: key for key, names in TOX_KEYS.items() for spelling in names}


class ToxReader:
    """What the INI and TOML readers share: turning each env's raw settings into sessions."""

    source: str

    def __init__(self, root: Path, notes: Notes) -> None:
        self.root = root
        self.notes = notes
        self.no_package = False
        self.core_labels: dict[str, list[str]] = {}  # label -> env names
        self.default_packaging_used = False
        self.origins: dict[tuple[str, str], str] = {}  # (env, key) -> the section that set it
        self.skip_missing = True  # tox 4's skip_missing_interpreters, true unless set false

    # implemented by the readers
    def env_list(self) -> list[str] | None:
        """The expanded ``env_list``, or ``None`` when there is none."""
        raise NotImplementedError

    def defined_envs(self) -> list[str]:
        """The envs that have their own section or table, expanded."""
        raise NotImplementedError

    def raw(self, env: str) -> Mapping[str, TomlValue]:
        """``env``'s settings under their canonical :data:`TOX_KEYS` names, inherited ones included:
        INI text, or TOML values."""
        raise NotImplementedError

    def translate(self) -> tuple[list[Session], list[str] | None]:
        """The sessions for every tox env, and the default sessions (``env_list``'s order).

        Envs listed in ``env_list`` come first, then those only defined; packaging envs (``.pkg``)
        are left out. Envs whose names only name a Python and whose settings are otherwise equal
        become one ``test`` session with a ``python`` matrix (tox 4, "Generative environments").

        :return: ``(sessions, default)``; ``default`` is ``None`` when tox lists no envs.
        """
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
        matrix: Session | None = None
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
        sessions: list[Session] = []
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
        if self.default_packaging_used and project_default(self.root) is not None:
            self.notes.add(
                f"{self.source}: tox installs the project from an sdist by default; vrun installs it "
                'editable (set install_project = "wheel" to test the built package)'
            )
        if self.skip_missing and any(s.python for s in sessions):
            self.notes.add(
                f"{self.source}: tox skips an env whose Python is not installed (skip_missing_interpreters, "
                "true unless set false); vrun fails its session: run `vrun --skip-missing-interpreters` "
                "to skip them (ignored under CI)"
            )
        return sessions, order or None

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
        """Turn each session's tox ``depends`` (env names or generative patterns) into the session
        names of ``names`` (tox env -> vrun session), dropping those not translated."""
        for session in sessions:
            resolved: list[str] = []
            for env in session.requires:
                targets = [names[e] for e in expand(env, self.notes) if e in names]
                if not targets:
                    self.notes.add(f"{self.source}: depends on {env!r}, which is not translated; dropped")
                for target in targets:
                    if target not in resolved and target != session.name:
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
        s.requires = self.items(raw.get("depends", []))
        if s.requires:
            self.notes.add(
                f"{at('depends')}: became requires, which also runs those sessions first and skips "
                "this one if they fail"
            )
        s.env = {k: placeholders(v, at("set_env"), self.notes) for k, v in self.set_env(raw, at("set_env"))}
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
        for key in ("commands_pre", "commands", "commands_post"):
            if key == "commands_post" and raw.get(key):
                self.notes.add(
                    f"{at('commands_post')}: appended to commands; vrun skips them when a command fails"
                )
            for argv in self.commands(raw.get(key), at(key)):
                s.commands.append(command_item(argv))
        if self.script(raw, s, at):
            s.install_project = None  # the runner installs no package: nor does a script session
            return s, py, "-".join(rest)
        s.install_project = install_value(self.root, self.install_mode(raw, where), where, self.notes)
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
        """How tox would install the project for an env: ``"editable"``, ``"wheel"`` or ``None``
        (``skip_install``, ``package = "skip"``, ``no_package``); tox's default sdist is taken as
        editable, and noted."""
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

    def commands(self, value: TomlValue | None, where: str) -> Iterator[list[str]]:
        """Each command of a ``commands*`` value as argv, placeholders translated."""
        raise NotImplementedError

    def set_env(self, raw: Mapping[str, TomlValue], where: str) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs of ``raw``'s ``set_env``."""
        raise NotImplementedError

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
            return None
        if args[0] == "-" or (args[0].startswith("-") and len(args[0]) > 1 and not args[0].startswith("--")):
            self.notes.add(
                f"{where}: leading '-' (ignore the exit code) has no vrun equivalent; a failure now "
                f"stops the session: {join(args)}"
            )
            args = args[1:] if args[0] == "-" else [args[0][1:], *args[1:]]
        return args or None
