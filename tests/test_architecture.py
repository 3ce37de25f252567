"""The architecture of docs/architecture.md, held: vrun's import rules, read from the source with ast.

Every import of every module under ``src/vrun`` is read, wherever it stands: at module level,
inside a function, under ``if TYPE_CHECKING:``. Relative imports are resolved, and
``from vrun import x`` counts as importing ``vrun.x`` when ``x`` is a module. So are the
attributes taken from a module bound to a name (``os.fork``, ``inputs._private``). The checkers
are plain functions over those records; each is also run on a small synthetic tree that breaks
its rule, so no rule here holds by being unable to fail. A failure names the module, the line and
the rule (docs/architecture.md, "Import rules").
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

SRC = REPO / "src"
PAGE = REPO / "docs" / "architecture.md"

MODULE, FUNCTION, TYPE_CHECKING, ATTRIBUTE = "module level", "in a function", "type checking", "attribute"

#: The bottom layer: imported by every layer, importing nothing of vrun's above it.
BOTTOM = frozenset(
    {
        "vrun",
        "vrun.errors",
        "vrun.output",
        "vrun.inputs",
        "vrun.placeholders",
        "vrun.environ",
        "vrun.process",
        "vrun._compat",
        "vrun._types",
    }
)

#: What each layer may import besides itself and the bottom layer (docs/architecture.md, "Layers").
#: Finer rules below narrow some of these (config takes only ``env.layout`` from env; plan no env
#: builder; migrate only part of the bottom).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "bottom": frozenset(),
    "env": frozenset(),
    "report": frozenset(),
    "config": frozenset({"env"}),
    "plan": frozenset({"config", "env"}),
    "run": frozenset({"env", "report"}),
    "migrate": frozenset({"config"}),
    "arguments": frozenset({"config"}),
    "commands": frozenset({"arguments", "config", "plan", "env", "run", "report", "migrate"}),
    "cli": frozenset({"arguments", "commands", "plan"}),
    "__main__": frozenset({"cli", "plan", "run"}),
}

#: The modules documented as POSIX-only (docs/architecture.md, "POSIX only"), and what only they use.
#: ``vrun.commands.activation`` is POSIX-only too (it writes POSIX shells' code) but calls none of these.
POSIX_ONLY = frozenset(
    {"vrun.env.flock", "vrun.process", "vrun.env.layout", "vrun.commands.usershell", "vrun.run.parallel"}
)
POSIX_MODULES = frozenset({"fcntl", "termios", "tty", "pty", "resource", "pwd", "grp"})
POSIX_OS = frozenset(
    {
        "fork",
        "forkpty",
        "openpty",
        "setpgid",
        "setpgrp",
        "setsid",
        "killpg",
        "getpgid",
        "getpgrp",
        "tcgetpgrp",
        "tcsetpgrp",
        "getuid",
        "geteuid",
        "wait3",
        "wait4",
    }
)

#: What a warm run imports of vrun's at module level, from ``__main__``'s imports of the plan cache
#: and the loop (docs/architecture.md, "The warm path"), and the only standard-library modules those
#: import at module level: each is built in or already loaded by Python's start-up, except ``zlib``.
WARM_PATH = frozenset(
    {
        "vrun",
        "vrun.__main__",
        "vrun.errors",
        "vrun.inputs",
        "vrun.output",
        "vrun.environ",
        "vrun.placeholders",
        "vrun.process",
        "vrun.plan",
        "vrun.plan.cache",
        "vrun.env",
        "vrun.env.flock",
        "vrun.env.layout",
        "vrun.run",
        "vrun.run.compose",
        "vrun.run.loop",
        "vrun.run.rules",
    }
)
WARM_ENTRIES = ("vrun.__main__", "vrun.plan.cache", "vrun.errors", "vrun.run.loop", "vrun.run.rules")
WARM_STDLIB = frozenset({"__future__", "_signal", "errno", "marshal", "os", "stat", "sys", "time", "zlib"})


@dataclass(frozen=True)
class Import:
    """One import (or one attribute taken from an imported module) in a module's source.

    :ivar module: the module whose source holds it.
    :ivar target: the module imported (dotted; a vrun module, or any other).
    :ivar name: the name taken from ``target`` (``from target import name``, ``target.name``), or
        ``None`` when the module itself is imported.
    :ivar where: :data:`MODULE`, :data:`FUNCTION`, :data:`TYPE_CHECKING` or :data:`ATTRIBUTE`.
    """

    module: str
    target: str
    name: str | None
    where: str
    line: int

    def __str__(self) -> str:
        what = self.target if self.name is None else f"{self.target}.{self.name}"
        return f"{self.module}:{self.line} imports {what} ({self.where})"


Tree = Mapping[str, "list[Import]"]


def module_files(src: Path, package: str = "vrun") -> dict[str, Path]:
    """Every module of ``package`` under ``src``, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _base(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from ... import`` names, relative imports resolved against ``package``."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    if node.level - 1 >= len(parts):
        raise ValueError(f"relative import beyond the top-level package at line {node.lineno}")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def read_imports(name: str, path: Path, modules: Collection[str]) -> list[Import]:
    """Every import in ``path`` (the module ``name``), and every attribute taken from a name an
    import bound to a module; ``modules`` tells ``from package import module`` from a name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    bound: dict[str, str] = {}  # a local name -> the module it is bound to

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(name, alias.name, None, where, node.lineno))
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, package)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    found.append(Import(name, f"{base}.{alias.name}", None, where, node.lineno))
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
                else:
                    found.append(Import(name, base, alias.name, where, node.lineno))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                visit(stmt, TYPE_CHECKING)
            for stmt in node.orelse:
                visit(stmt, where)
            return
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and where == MODULE:
            where = FUNCTION
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, MODULE)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and isinstance(node.ctx, ast.Load)
        ):
            found.append(Import(name, bound[node.value.id], node.attr, ATTRIBUTE, node.lineno))
    return found


def read_tree(src: Path, package: str = "vrun") -> dict[str, list[Import]]:
    """:func:`read_imports` of every module of ``package`` under ``src``."""
    files = module_files(src, package)
    return {name: read_imports(name, path, files) for name, path in files.items()}


def edges(tree: Tree, where: Collection[str] = (MODULE, FUNCTION, TYPE_CHECKING)) -> list[Import]:
    """The imports of one of the tree's modules by another (a module importing itself is none)."""
    return [
        imp
        for imports in tree.values()
        for imp in imports
        if imp.target in tree and imp.target != imp.module and imp.where in where
    ]


# --- the checkers ------------------------------------------------------------------------------


def find_cycle(tree: Tree) -> list[str] | None:
    """A cycle of imports among the tree's modules, as its path ``[a, b, ..., a]``, or ``None``."""
    graph: dict[str, list[str]] = {name: [] for name in tree}
    for imp in edges(tree):
        graph[imp.module].append(imp.target)
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(set(graph[name])):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)) is not None:
            return cycle
    return None


def layer(module: str) -> str:
    """The layer of a vrun module: ``bottom``, a subpackage's name, ``arguments``, ``cli``, ``__main__``."""
    if module in BOTTOM:
        return "bottom"
    return module.split(".")[1]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


RuleCheck = Callable[[str, str], "str | None"]


def layers_rule(module: str, target: str) -> str | None:
    here, there = layer(module), layer(target)
    if there in ("bottom", here) or there in MAY_IMPORT[here]:
        return None
    also = f" and {', '.join(sorted(MAY_IMPORT[here]))}" if MAY_IMPORT[here] else ""
    return f"the {here} layer imports only itself, the bottom layer{also}"


def run_rule(module: str, target: str) -> str | None:
    if within(module, "vrun.run") and (within(target, "vrun.plan") or within(target, "vrun.config")):
        return "vrun.run never imports vrun.plan or vrun.config"
    return None


PLAN_NEVER = ("vrun.commands", "vrun.cli", "vrun.env.build", "vrun.env.backends", "vrun.env.wheel")


def plan_rule(module: str, target: str) -> str | None:
    if within(module, "vrun.plan") and any(within(target, p) for p in PLAN_NEVER):
        return f"vrun.plan never imports {', '.join(PLAN_NEVER)}"
    return None


MIGRATE_BOTTOM = frozenset(
    {"vrun", "vrun.errors", "vrun.output", "vrun.placeholders", "vrun._compat", "vrun._types"}
)


def migrate_rule(module: str, target: str) -> str | None:
    if within(module, "vrun.migrate") and not (
        within(target, "vrun.migrate") or within(target, "vrun.config") or target in MIGRATE_BOTTOM
    ):
        return f"vrun.migrate imports only vrun.config, vrun.migrate and {sorted(MIGRATE_BOTTOM)}"
    return None


def bottom_rule(module: str, target: str) -> str | None:
    if module in BOTTOM and target not in BOTTOM:
        return "the bottom layer imports nothing of vrun's but itself"
    return None


def config_rule(module: str, target: str) -> str | None:
    if within(module, "vrun.config") and within(target, "vrun.env") and target != "vrun.env.layout":
        return "vrun.config takes only vrun.env.layout from vrun.env (the env-name length rule)"
    return None


RULES: tuple[RuleCheck, ...] = (layers_rule, run_rule, plan_rule, migrate_rule, bottom_rule, config_rule)


def broken(tree: Tree, rule: RuleCheck) -> list[str]:
    """Every import among the tree's modules that ``rule`` refuses, with the rule's reason."""
    return sorted({f"{imp}: {why}" for imp in edges(tree) if (why := rule(imp.module, imp.target))})


def package_inits(tree: Tree, packages: Collection[str]) -> list[str]:
    """Imports made by a package's ``__init__``: importing one module of a package then costs that
    module alone, and nothing is imported that a caller did not name."""
    return sorted(f"{imp}: a package's __init__ imports nothing" for p in packages for imp in tree[p])


def loop_and_parallel(tree: Tree) -> list[str]:
    """``vrun.run.rules`` is what the serial loop and ``-p`` share: both import it at module level;
    ``vrun.run.parallel`` never imports the loop, and the loop imports ``vrun.run.parallel`` only in
    a function (only ``-p`` pays for it)."""
    problems = []
    for module in ("vrun.run.loop", "vrun.run.parallel"):
        if not any(i.target == "vrun.run.rules" and i.where == MODULE for i in tree[module]):
            problems.append(f"{module} does not import vrun.run.rules at module level")
    problems += [
        f"{i}: vrun.run.parallel never imports the loop"
        for i in tree["vrun.run.parallel"]
        if i.target == "vrun.run.loop"
    ]
    problems += [
        f"{i}: the loop imports vrun.run.parallel only in a function"
        for i in tree["vrun.run.loop"]
        if i.target == "vrun.run.parallel" and i.where in (MODULE, TYPE_CHECKING)
    ]
    return problems


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_names(tree: Tree) -> list[str]:
    """Private names (``_name``) taken from another vrun module, and private modules (``_common``)
    imported from outside their package (``vrun._compat`` and ``vrun._types`` are the top-level
    package's, so every module may import them)."""
    problems = []
    for imports in tree.values():
        for imp in imports:
            if imp.target not in tree or imp.target == imp.module:
                continue
            if imp.name is not None and _private(imp.name) and f"{imp.target}.{imp.name}" not in tree:
                problems.append(f"{imp}: {imp.name} is private to {imp.target}")
            parent, _, last = imp.target.rpartition(".")
            if _private(last) and not within(imp.module, parent):
                problems.append(f"{imp}: {imp.target} is private to {parent}")
    return sorted(set(problems))


def posix_uses(tree: Tree, allowed: Collection[str]) -> list[str]:
    """Uses of POSIX-only modules and ``os`` functions outside the modules documented as POSIX-only."""
    return sorted(
        {
            f"{imp}: POSIX-only, used only by {sorted(allowed)}"
            for imports in tree.values()
            for imp in imports
            if imp.module not in allowed
            and (
                imp.target.partition(".")[0] in POSIX_MODULES or (imp.target == "os" and imp.name in POSIX_OS)
            )
        }
    )


def closure(tree: Tree, entries: Iterable[str]) -> tuple[set[str], set[str]]:
    """What importing ``entries`` imports at module level: (vrun modules, with the packages that
    hold them; other top-level modules). Imports in functions and for type checkers are not run."""
    seen: set[str] = set()
    other: set[str] = set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        for imp in tree[name]:
            if imp.where != MODULE:
                continue
            if imp.target in tree:
                todo.append(imp.target)
            else:
                other.add(imp.target.partition(".")[0])
    return seen, other


# --- the rules, on vrun ------------------------------------------------------------------------

TREE = read_tree(SRC)


def test_the_reader_sees_vrun() -> None:
    """The tree is vrun's whole package, and the reader finds each kind of import in it."""
    assert {"vrun", "vrun.__main__", "vrun.run.loop", "vrun.plan.cache", "vrun.commands._common"} <= set(TREE)
    kinds = {imp.where for imports in TREE.values() for imp in imports}
    assert kinds == {MODULE, FUNCTION, TYPE_CHECKING, ATTRIBUTE}
    assert any(i.target == "vrun.run.loop" and i.where == FUNCTION for i in TREE["vrun.__main__"])
    assert any(i.target == "vrun.run.parallel" and i.where == FUNCTION for i in TREE["vrun.run.loop"])


def test_no_import_cycle() -> None:
    cycle = find_cycle(TREE)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_layers(rule: RuleCheck) -> None:
    assert not broken(TREE, rule)


def test_package_inits_import_nothing() -> None:
    assert not package_inits(
        TREE, [name for name, path in module_files(SRC).items() if path.name == "__init__.py"]
    )


def test_loop_and_parallel_share_the_rules() -> None:
    assert not loop_and_parallel(TREE)


def test_no_private_names_across_modules() -> None:
    assert not private_names(TREE)


def test_posix_only_modules() -> None:
    assert not posix_uses(TREE, POSIX_ONLY)
    section = _section("POSIX only")
    for module in sorted(POSIX_ONLY | {"vrun.commands.activation"}):
        assert f"`{module}`" in section, f"docs/architecture.md, 'POSIX only', does not name {module}"


def test_warm_path_stays_light() -> None:
    """What ``__main__`` imports for a plan-cache hit is what docs/architecture.md lists, and those
    modules import no standard-library module at module level that start-up has not loaded."""
    modules, others = closure(TREE, WARM_ENTRIES)
    assert modules == WARM_PATH, sorted(modules ^ WARM_PATH)
    assert others <= WARM_STDLIB, sorted(others - WARM_STDLIB)
    section = _section("The warm path")
    missing = [m for m in sorted(WARM_PATH) if f"`{m}`" not in section]
    assert not missing, f"docs/architecture.md, 'The warm path', does not name {missing}"


def test_few_top_level_modules_and_several_packages() -> None:
    top = sorted((SRC / "vrun").glob("*.py"))
    packages = sorted(p for p in (SRC / "vrun").iterdir() if (p / "__init__.py").is_file())
    assert len(top) <= 12, [p.name for p in top]
    assert len(packages) >= 5, [p.name for p in packages]


# --- the page ----------------------------------------------------------------------------------


def _headings() -> list[tuple[str, int, int]]:
    """``(title, start, end)`` of each ``##``/``###`` section of docs/architecture.md."""
    text = PAGE.read_text(encoding="utf-8")
    found = list(re.finditer(r"^(#{2,3}) (.+?)\s*$", text, re.M))
    sections = []
    for index, match in enumerate(found):
        level = len(match.group(1))
        end = next((m.start() for m in found[index + 1 :] if len(m.group(1)) <= level), len(text))
        sections.append((match.group(2), match.end(), end))
    return sections


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    for heading, start, end in _headings():
        if heading == title:
            return text[start:end]
    raise AssertionError(f"docs/architecture.md has no section {title!r}")


def test_the_page_names_every_module_in_its_package() -> None:
    """Each package's section (``### `vrun.env```) names each of its modules, so a module added
    without a word in the page fails here."""
    text = PAGE.read_text(encoding="utf-8")
    sections = {}
    for heading, start, end in _headings():
        match = re.match(r"`(vrun[\w.]*)`", heading)
        if match:
            sections[match.group(1)] = text[start:end]
    missing = []
    for name in TREE:
        package, _, last = name.rpartition(".")
        if not package:
            continue
        if (SRC / Path(*name.split("."))).is_dir():
            package, last = name, ""
        section = sections.get(package)
        if section is None:
            missing.append(f"a section ### `{package}`")
        elif last and f"`{last}`" not in section:
            missing.append(f"`{last}` in ### `{package}`")
    assert not missing, f"docs/architecture.md lacks {sorted(set(missing))}"


def test_docstrings_cite_sections_the_page_has() -> None:
    """A citation ``docs/architecture.md, "Title"`` in the source names one of the page's sections,
    and nothing cites a design document that is not in the repository."""
    titles = {heading for heading, _, _ in _headings()}
    cited = []
    for path in sorted((SRC / "vrun").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "design.md" not in text, f"{path} cites design.md (it is docs/architecture.md)"
        for title in re.findall(r"docs/architecture\.md`*,\s+\"([^\"]+)\"", text):
            cited.append(title)
            assert " ".join(title.split()) in titles, (
                f"{path} cites a section docs/architecture.md lacks: {title!r}"
            )
    assert len(cited) >= 5


# --- the checkers, on synthetic trees that break each rule -------------------------------------


def synthetic(tmp_path: Path, files: Mapping[str, str]) -> dict[str, list[Import]]:
    """:func:`read_tree` of a package ``vrun`` written to ``tmp_path`` from ``{path: source}``."""
    for relative, source in files.items():
        path = tmp_path / "vrun" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        for parent in path.relative_to(tmp_path).parents:
            if parent != Path("."):
                (tmp_path / parent / "__init__.py").touch()
    return read_tree(tmp_path)


def test_reader_resolves_every_kind_of_import(tmp_path: Path) -> None:
    tree = synthetic(
        tmp_path,
        {
            "errors.py": "",
            "run/loop.py": """
                from __future__ import annotations
                import os
                from . import rules
                from .. import errors
                from vrun.run.rules import RunOptions
                TYPE_CHECKING = False
                if TYPE_CHECKING:
                    from ..plan import cache
                else:
                    import _signal as signal
                def f():
                    from vrun.env import build
                    return os.fork(), rules._hidden
            """,
            "run/rules.py": "",
            "plan/cache.py": "",
            "env/build.py": "",
        },
    )
    got = {(i.target, i.name, i.where) for i in tree["vrun.run.loop"]}
    assert {
        ("vrun.run.rules", None, MODULE),
        ("vrun.errors", None, MODULE),
        ("vrun.run.rules", "RunOptions", MODULE),
        ("vrun.plan.cache", None, TYPE_CHECKING),
        ("_signal", None, MODULE),
        ("vrun.env.build", None, FUNCTION),
        ("os", "fork", ATTRIBUTE),
        ("vrun.run.rules", "_hidden", ATTRIBUTE),
    } <= got


def test_find_cycle_reports_the_path(tmp_path: Path) -> None:
    tree = synthetic(
        tmp_path,
        {
            "a.py": "import vrun.b\n",
            "b.py": "def f():\n    from vrun import c\n",
            "c.py": "from vrun.a import x\n",
            "d.py": "from vrun import d\n",  # itself: no cycle
        },
    )
    assert find_cycle(tree) == ["vrun.a", "vrun.b", "vrun.c", "vrun.a"]
    del tree["vrun.c"]
    assert find_cycle(tree) is None


@pytest.mark.parametrize(
    ("module", "target", "rule"),
    [
        ("vrun.run.loop", "vrun.plan.cache", run_rule),
        ("vrun.run.compose", "vrun.config.load", run_rule),
        ("vrun.plan.planner", "vrun.commands.sessions", plan_rule),
        ("vrun.plan.envkey", "vrun.env.build", plan_rule),
        ("vrun.plan.envkey", "vrun.env.wheel", plan_rule),
        ("vrun.plan.lockfile", "vrun.cli", plan_rule),
        ("vrun.migrate.tox", "vrun.process", migrate_rule),
        ("vrun.migrate.nox", "vrun.plan.planner", migrate_rule),
        ("vrun.output", "vrun.run.loop", bottom_rule),
        ("vrun.process", "vrun.env.flock", bottom_rule),
        ("vrun.config.load", "vrun.env.build", config_rule),
        ("vrun.env.layout", "vrun.config.load", layers_rule),
        ("vrun.report.ci", "vrun.run.rules", layers_rule),
        ("vrun.commands.run", "vrun.cli", layers_rule),
        ("vrun.config.fields", "vrun.plan.envkey", layers_rule),
    ],
)
def test_each_rule_refuses_what_it_forbids(module: str, target: str, rule: RuleCheck) -> None:
    tree: dict[str, list[Import]] = {module: [Import(module, target, None, FUNCTION, 1)], target: []}
    assert len(broken(tree, rule)) == 1
    assert not broken({module: [Import(module, "vrun.errors", None, MODULE, 1)], "vrun.errors": []}, rule)


def test_migrate_may_import_config_and_part_of_the_bottom() -> None:
    for target in ("vrun.config.fields", "vrun.migrate.model", "vrun.placeholders", "vrun"):
        assert migrate_rule("vrun.migrate.tox", target) is None
    assert migrate_rule("vrun.migrate.tox", "vrun.inputs") is not None
    assert config_rule("vrun.config.load", "vrun.env.layout") is None


def test_package_inits_checker(tmp_path: Path) -> None:
    tree = synthetic(tmp_path, {"env/__init__.py": "from vrun.env import layout\n", "env/layout.py": ""})
    assert package_inits(tree, ["vrun.env"]) == [
        "vrun.env:1 imports vrun.env.layout (module level): a package's __init__ imports nothing"
    ]
    assert not package_inits(tree, ["vrun"])


def test_loop_and_parallel_checker(tmp_path: Path) -> None:
    good = {
        "run/rules.py": "",
        "run/loop.py": "from vrun.run import rules\ndef f():\n    from vrun.run.parallel import run_parallel\n",
        "run/parallel.py": "from vrun.run.rules import skip_reason\n",
    }
    assert not loop_and_parallel(synthetic(tmp_path / "good", good))
    changes = (
        {"run/loop.py": "from vrun.run import rules, parallel\n"},
        {"run/parallel.py": "from vrun.run.rules import x\ndef f():\n    from vrun.run import loop\n"},
        {"run/parallel.py": "def f():\n    from vrun.run.rules import skip_reason\n"},
    )
    for index, change in enumerate(changes):
        bad = synthetic(tmp_path / f"bad{index}", {**good, **change})
        assert len(loop_and_parallel(bad)) == 1, change


def test_private_names_checker(tmp_path: Path) -> None:
    tree = synthetic(
        tmp_path,
        {
            "_compat.py": "",
            "inputs.py": "_cache = {}\n",
            "commands/_common.py": "",
            "commands/run.py": "from vrun.commands._common import load\nfrom vrun import _compat\n",
            "run/loop.py": "from vrun.inputs import _cache\n",
            "run/compose.py": "from vrun import inputs\ninputs._cache.clear()\n",
            "run/parallel.py": "from vrun.commands import _common\n",
        },
    )
    assert private_names(tree) == [
        "vrun.run.compose:2 imports vrun.inputs._cache (attribute): _cache is private to vrun.inputs",
        "vrun.run.loop:1 imports vrun.inputs._cache (module level): _cache is private to vrun.inputs",
        "vrun.run.parallel:1 imports vrun.commands._common (module level): vrun.commands._common is private to vrun.commands",
    ]


def test_posix_checker(tmp_path: Path) -> None:
    tree = synthetic(
        tmp_path,
        {
            "process.py": "import os\nos.fork()\n",
            "output.py": "import os\nimport termios\nos.getcwd()\n",
            "environ.py": "from os import killpg\n",
            "inputs.py": "def f():\n    import pwd\n",
        },
    )
    assert [line.partition(":")[0] for line in posix_uses(tree, {"vrun.process"})] == [
        "vrun.environ",
        "vrun.inputs",
        "vrun.output",
    ]


def test_closure_follows_module_level_imports_only(tmp_path: Path) -> None:
    tree = synthetic(
        tmp_path,
        {
            "__main__.py": "import os\ndef run():\n    from vrun.plan import cache\n",
            "plan/cache.py": "import zlib\nfrom vrun import inputs\nif TYPE_CHECKING:\n    from typing import Any\n",
            "inputs.py": "import stat\ndef f():\n    import json\n",
        },
    )
    assert closure(tree, ["vrun.plan.cache"]) == (
        {"vrun", "vrun.plan", "vrun.plan.cache", "vrun.inputs"},
        {"zlib", "stat"},
    )


# ---------------------------------------------------------------- the plan's contract


def session_plan_keys() -> set[str]:
    """The keys :mod:`vrun._types` declares for a session plan (all its TypedDict parts)."""
    import typing

    from vrun import _types

    hints: set[str] = set()
    for part in typing.get_args(_types.SessionPlan):
        hints |= set(part.__required_keys__) | set(part.__optional_keys__)
    return hints


def readers_of(key: str, skip: Collection[Path]) -> list[Path]:
    """The modules of src/vrun that read ``key`` from a dict (``x["key"]``, ``.get("key"``)."""
    pattern = re.compile(
        r"""\[["']""" + re.escape(key) + r"""["']\]|\.get\(["']""" + re.escape(key) + r"""["']"""
    )
    return [
        p for p in sorted((SRC / "vrun").rglob("*.py")) if p not in skip and pattern.search(p.read_text())
    ]


def test_every_key_planning_sets_is_read_after_planning() -> None:
    """The plan cache's contract (docs/architecture.md, "The plan"): a key set in planning is read by
    the loop, an env build, a report or a command; a key nobody reads is dead weight in every stored plan."""
    planner = SRC / "vrun" / "plan" / "planner.py"
    keys = session_plan_keys()
    assert {"name", "env_dir", "commands", "interpreter"} <= keys
    unread = sorted(k for k in keys if not readers_of(k, skip={planner}))
    assert not unread, f"session-plan keys set in planning that nothing reads: {unread}"


def test_readers_of_finds_subscripts_and_gets(tmp_path: Path) -> None:
    assert readers_of("env_dir", skip=()) != []
    assert readers_of("no_such_key_anywhere", skip=()) == []
