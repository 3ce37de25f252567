"""``vrun init`` without a tox or nox config: sessions guessed from the project's files."""

from __future__ import annotations

import re
from pathlib import Path

from vrun.migrate.model import Notes, Session, install_value, project_default

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlTable


def guess(root: Path, pyproject: TomlTable, notes: Notes) -> tuple[list[Session], list[str] | None]:
    """Guess sessions from the project's files when there is no tox or nox config.

    A ``test`` session running pytest when there is a ``tests/`` or ``test/`` directory, a
    ``pytest.ini`` or ``conftest.py``, or pytest is mentioned in ``requirements*.txt``,
    ``requirements/*.txt``, PEP 735 ``[dependency-groups]`` or extras; its deps come from a
    ``test``/``dev`` group, else a test extra, else the matching requirement files. A ``lint``
    session running ``ruff check`` when ruff is configured (``ruff.toml``, ``.ruff.toml`` or
    ``[tool.ruff]``).

    :param pyproject: the parsed ``pyproject.toml`` (``{}`` when there is none).
    :return: ``(sessions, None)``: a guess sets no default sessions.
    :raises OSError: if a requirements file cannot be read.
    """
    files = sorted(p.name for p in root.glob("requirements*.txt") if p.is_file())
    files += sorted(f"requirements/{p.name}" for p in (root / "requirements").glob("*.txt") if p.is_file())
    groups = pyproject.get("dependency-groups")
    groups = groups if isinstance(groups, dict) else {}
    project = pyproject.get("project")
    extras = project.get("optional-dependencies") if isinstance(project, dict) else None
    extras = extras if isinstance(extras, dict) else {}
    installable = project_default(root) is not None

    def mentions(word: str) -> bool:
        texts = [(root / f).read_text(encoding="utf-8", errors="replace") for f in files]
        texts += [repr(groups), repr(extras)]
        tool = pyproject.get("tool", {})
        return word in " ".join(texts).lower() or (isinstance(tool, dict) and word in tool)

    sessions: list[Session] = []
    pytest_config = (root / "pytest.ini").is_file() or (root / "conftest.py").is_file()
    if (root / "tests").is_dir() or (root / "test").is_dir() or pytest_config or mentions("pytest"):
        test = Session(name="test", commands=["pytest {posargs}"])
        group: str | None = next((g for g in ("test", "tests", "testing", "dev") if g in groups), None)
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
    if not sessions:
        notes.add("no tox or nox config, tests or ruff config found: add sessions by hand")
    return sessions, None
