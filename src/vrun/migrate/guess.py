"""``vrun init`` without a tox or nox config: sessions guessed from the project's files.

The test runner and where the tests are follow the runners' own defaults: pytest collects
``test_*.py`` and ``*_test.py`` files (its ``python_files``) and reads its settings from
``pytest.ini``, ``[pytest]`` in ``tox.ini``, ``[tool:pytest]`` in ``setup.cfg`` and
``[tool.pytest.ini_options]`` (or pytest 9's ``[tool.pytest]``) in ``pyproject.toml``;
``python -m unittest`` discovers ``test*.py`` modules in packages below the current directory,
and setuptools' ``test_suite`` (``setup.py``, ``setup.cfg [options]``) names a unittest suite.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from pathlib import Path

from vrun.migrate.model import Notes, Session, install_value, project_default

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlTable

#: Folders never searched for tests: version control, envs, build output, caches.
_SKIP = {"build", "dist", "node_modules", "site-packages", "venv", "env", "__pycache__", "htmlcov"}
#: How deep below the root test modules are looked for (``src/pkg/tests/test_x.py`` is 3).
_DEPTH = 4
#: What marks a group or extra as the tests' dependencies: it holds one of these.
_TEST_TOOLS = ("pytest", "hypothesis")


def guess(root: Path, pyproject: TomlTable, notes: Notes) -> tuple[list[Session], list[str] | None]:
    """Guess sessions from the project's files when there is no tox or nox config.

    A ``test`` session when the project has tests: ``test_*.py`` / ``*_test.py`` modules at its
    root, in ``tests/`` or ``test/``, or inside its packages (``pkg/tests/``,
    ``src/pkg/tests/``); or a pytest configuration (``pytest.ini``, ``[pytest]`` in ``tox.ini``,
    ``[tool:pytest]`` in ``setup.cfg``, ``[tool.pytest...]`` in ``pyproject.toml``, a root
    ``conftest.py``); or a setuptools ``test_suite``; or pytest mentioned in its requirements.
    It runs pytest, unless nothing points at pytest (no configuration, no mention, no test module
    importing it) and the test modules use :mod:`unittest`: then ``python -m unittest``, run so
    that it discovers them (:func:`unittest_command`).

    Its dependencies: a ``test``/``tests``/``testing``/``dev`` dependency group, else a group
    holding pytest or hypothesis; else such an extra (``[project.optional-dependencies]``,
    ``setup.cfg``'s ``[options.extras_require]``, a literal ``extras_require`` in ``setup.py``),
    named ``test``/``tests``/``testing`` or holding pytest or hypothesis, when the project is
    installed; else the matching ``requirements*.txt`` files; and a literal ``tests_require``;
    then pytest itself when none of those brings it. A ``lint`` session running ``ruff check``
    when ruff is configured (``ruff.toml``, ``.ruff.toml`` or ``[tool.ruff]``).

    :param pyproject: the parsed ``pyproject.toml`` (``{}`` when there is none).
    :return: ``(sessions, None)``: a guess sets no default sessions; no sessions when nothing was
        found (:func:`vrun.migrate.translate.translate` then says what to write).
    :raises OSError: if a requirements file cannot be read.
    """
    files = sorted(p.name for p in root.glob("requirements*.txt") if p.is_file())
    files += sorted(f"requirements/{p.name}" for p in (root / "requirements").glob("*.txt") if p.is_file())
    groups = pyproject.get("dependency-groups")
    groups = groups if isinstance(groups, dict) else {}
    extras = project_extras(root, pyproject)
    installable = project_default(root) is not None
    setup_py = _read(root / "setup.py")

    def mentions(word: str) -> bool:
        texts = [(root / f).read_text(encoding="utf-8", errors="replace") for f in files]
        texts += [repr(groups), repr(extras), setup_py]
        tool = pyproject.get("tool", {})
        return word in " ".join(texts).lower() or (isinstance(tool, dict) and word in tool)

    sessions: list[Session] = []
    modules = test_modules(root)
    config = pytest_config(root, pyproject)
    suite = test_suite(root, setup_py)
    test_dirs = (root / "tests").is_dir() or (root / "test").is_dir()
    if modules or config or suite or test_dirs or mentions("pytest"):
        uses_pytest = bool(config) or mentions("pytest") or any(_imports(root / m, "pytest") for m in modules)
        unittest_only = bool(modules) and all(_imports(root / m, "unittest") for m in modules)
        if uses_pytest or not (unittest_only or suite):
            command = "pytest {posargs}"
        else:
            command = unittest_command(root, modules, suite)
        test = Session(name="test", commands=[command])
        group: str | None = next((g for g in ("test", "tests", "testing", "dev") if g in groups), None)
        group = group or next((str(g) for g, reqs in groups.items() if _holds_test_tools(reqs)), None)
        extra: str | None = next((e for e in ("test", "tests", "testing") if e in extras), None)
        extra = extra or next((e for e, reqs in extras.items() if _holds_test_tools(reqs)), None)
        test_files = [f for f in files if re.search(r"test|dev", f)]
        if group:
            test.groups = [group]
        elif extra and installable:
            test.extras = [extra]
        elif test_files:
            test.deps = [f"-r {f}" for f in test_files]
        if not installable and "requirements.txt" in files and "-r requirements.txt" not in test.deps:
            test.deps.insert(0, "-r requirements.txt")
        if not (test.groups or test.extras):
            test.deps += [r for r in tests_require(root, setup_py) if r not in test.deps]
        brought = test.groups or test.extras or any(_name(d) == "pytest" for d in test.deps)
        if command.startswith("pytest") and not brought and not (mentions("pytest") and test.deps):
            test.deps.append("pytest")
        sessions.append(test)
    ruff = (root / "ruff.toml").is_file() or (root / ".ruff.toml").is_file()
    tool = pyproject.get("tool")
    if ruff or (isinstance(tool, dict) and "ruff" in tool):
        lint = Session(name="lint", commands=["ruff check {posargs:.}"])
        group = next(
            (g for g in ("lint", "linting", "dev") if g in groups and "ruff" in repr(groups[g])), None
        )
        if group:
            lint.groups = [group]
        else:
            lint.deps = ["ruff"]
        lint.install_project = install_value(root, None, "lint", notes)
        sessions.append(lint)
    return sessions, None


def test_modules(root: Path) -> list[str]:
    """The project's test modules, relative to ``root``, in walk order: ``test_*.py`` and
    ``*_test.py`` (pytest's default ``python_files``) at most :data:`_DEPTH` folders down, outside
    hidden folders, envs, build output and installed packages."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        dirs[:] = sorted(
            d
            for d in dirs
            if depth < _DEPTH
            and not d.startswith(".")
            and d not in _SKIP
            and not d.endswith(".egg-info")
            and not (Path(folder) / d / "pyvenv.cfg").exists()
        )
        for name in sorted(names):
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return found


def pytest_config(root: Path, pyproject: TomlTable) -> str | None:
    """Where pytest's configuration is (pytest's "Configuration file formats"), or ``None``."""
    if (root / "pytest.ini").is_file():
        return "pytest.ini"
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if section in _sections(root / name):
            return f"{name} [{section}]"
    tool = pyproject.get("tool")
    if isinstance(tool, dict) and isinstance(tool.get("pytest"), dict):
        return "pyproject.toml [tool.pytest]"
    if (root / "conftest.py").is_file():
        return "conftest.py"
    return None


def test_suite(root: Path, setup_py: str) -> str | None:
    """setuptools' ``test_suite``: ``[options] test_suite`` of ``setup.cfg``, else a literal
    ``test_suite=`` of ``setup.py``'s ``setup()`` call (a unittest module or suite name)."""
    parser = _parser(root / "setup.cfg")
    if parser is not None and parser.has_option("options", "test_suite"):
        return parser.get("options", "test_suite").strip() or None
    value = _setup_keyword(setup_py, "test_suite")
    return value if isinstance(value, str) and value else None


def unittest_command(root: Path, modules: list[str], suite: str | None) -> str:
    """``python -m unittest``, as it must run to find the tests.

    Without arguments it discovers ``test*.py`` modules in ``root`` and the packages below it
    (folders with an ``__init__.py``), so that is the command when every test module is found
    that way. A ``test_suite`` is named as the default. Otherwise discovery starts in the first
    test module's folder (``discover -s tests``), with its top-level package's parent as the top
    (``-t src`` for ``src/pkg/tests``) when that folder is a package.
    """
    if suite:
        return f"python -m unittest {{posargs:{suite}}}"
    if all(_discoverable(root, module) for module in modules):
        return "python -m unittest {posargs}"
    folder = Path(modules[0]).parent
    top = folder
    while top != Path(".") and (root / top / "__init__.py").is_file():
        top = top.parent
    start = f"discover -s {folder.as_posix()}"
    if top != folder:
        start += f" -t {top.as_posix()}"
    if not Path(modules[0]).name.startswith("test"):  # unittest's own pattern is test*.py
        start += " -p '*_test.py'"
    return f"python -m unittest {start} {{posargs}}"


def _discoverable(root: Path, module: str) -> bool:
    """Whether ``python -m unittest`` in ``root`` finds ``module``: named ``test*.py``, in
    ``root`` or in packages all the way down."""
    path = Path(module)
    if not path.name.startswith("test"):
        return False
    return all(
        (root / Path(*path.parts[: i + 1]) / "__init__.py").is_file() for i in range(len(path.parts) - 1)
    )


def project_extras(root: Path, pyproject: TomlTable) -> dict[str, list[str]]:
    """The project's extras with their requirements: ``[project.optional-dependencies]``, else
    ``[options.extras_require]`` of ``setup.cfg``, else a literal ``extras_require`` in ``setup.py``."""
    project = pyproject.get("project")
    table = project.get("optional-dependencies") if isinstance(project, dict) else None
    if isinstance(table, dict):
        return {k: [r for r in v if isinstance(r, str)] for k, v in table.items() if isinstance(v, list)}
    parser = _parser(root / "setup.cfg")
    if parser is not None and parser.has_section("options.extras_require"):
        return {k: _lines(v) for k, v in parser.items("options.extras_require")}
    value = _setup_keyword(_read(root / "setup.py"), "extras_require")
    if isinstance(value, dict):
        return {
            str(k): [v] if isinstance(v, str) else [r for r in v if isinstance(r, str)]
            for k, v in value.items()
            if isinstance(v, (str, list, tuple))
        }
    return {}


def tests_require(root: Path, setup_py: str) -> list[str]:
    """setuptools' ``tests_require``: ``[options]`` of ``setup.cfg``, else a literal list in
    ``setup.py`` (the test dependencies of a project with neither groups nor a test extra)."""
    parser = _parser(root / "setup.cfg")
    if parser is not None and parser.has_option("options", "tests_require"):
        return _lines(parser.get("options", "tests_require"))
    value = _setup_keyword(setup_py, "tests_require")
    if isinstance(value, (list, tuple)):
        return [r for r in value if isinstance(r, str)]
    return [value] if isinstance(value, str) else []


def _holds_test_tools(requirements: object) -> bool:
    """Whether a group's or an extra's list holds pytest or hypothesis (by name)."""
    items = requirements if isinstance(requirements, list) else []
    return any(isinstance(r, str) and _name(r) in _TEST_TOOLS for r in items)


def _name(requirement: str) -> str:
    """The normalized name a requirement string starts with (``"pytest>=8"`` gives ``pytest``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def _imports(path: Path, module: str) -> bool:
    """Whether the source at ``path`` imports ``module`` (``import X``, ``from X import``)."""
    return re.search(rf"^\s*(?:import|from)\s+{module}\b", _read(path), re.M) is not None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _parser(path: Path) -> configparser.RawConfigParser | None:
    """``path`` read as INI (``setup.cfg``, ``tox.ini``), or ``None`` when absent or not INI."""
    text = _read(path)
    if not text:
        return None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def _sections(path: Path) -> list[str]:
    parser = _parser(path)
    return parser.sections() if parser is not None else []


def _lines(value: str) -> list[str]:
    """An INI list value of setuptools (one item per line, or separated by ``;``)."""
    return [item.strip() for line in value.splitlines() for item in line.split(";") if item.strip()]


def _setup_keyword(setup_py: str, keyword: str) -> object:
    """The literal value of ``keyword=`` in a ``setup(...)`` call of ``setup.py``'s source (read
    with :mod:`ast`, never run), or ``None``."""
    if keyword not in setup_py:
        return None
    try:
        tree = ast.parse(setup_py)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == keyword:
                    try:
                        return ast.literal_eval(kw.value)
                    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                        return None
    return None
