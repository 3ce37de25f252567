"""The output the docs show is what vrun prints: produced, not typed.

- **docs/tutorial.md is walked**: every command of its console blocks runs, in order, in a scratch
  folder (``mkdir greet && cd greet`` included), and the files it shows are written where a
  ``<!-- docs-test: write PATH -->`` comment before a block says (``update PATH``: the block's TOML
  tables replace those of the file). Installing vrun (``pipx install``) is the fixture's job, and
  ``vrun shell`` needs a person at the keyboard (tests/test_tmux.py drives it): those lines are not
  run; lines typed inside a shell, ``(test-3.12) $ ...``, neither.
- **Every other page**: each console block that shows what a ``vrun`` command prints is tied to a
  :class:`Scenario` below: a scratch copy of the tutorial's project (as its step 5 leaves it), the
  setup the block needs run first, unseen; then the block's commands run and their output is
  compared. A text block of ``vrun >`` lines is shown output too.
- A block that no machine but the author's could reproduce is marked ``<!-- docs-test:
  illustrative (WHY) -->`` before it; :data:`MOST_ILLUSTRATIVE` keeps them few.

Commands run as a reader types them: through bash, in a pseudo-terminal (so vrun's status lines
are drawn and erased as on a screen: :func:`tests.conftest.screen`), offline, with this
checkout's ``vrun`` first on ``PATH``. The projects install tiny stand-ins of pytest, ruff and two
pytest plugins from the wheelhouse (:func:`_make_docs_wheelhouse`), which run the project's tests
and check its files and print what the real tools print.

A shown output must match line for line once both sides are normalized (:func:`normalize`): env
hashes and digests (the same hash on the page must be the same hash printed, and two different
ones two different ones), durations, sizes, dates, ``X.Y.Z`` versions, the machine, interpreter
paths and the project's folder (the pages say ``/home/you/greet`` or ``/src/proj``); runs of spaces
count as one. A line ``...`` stands for any lines, none included. A command shown without output
must print nothing, in a block that shows output; a block that shows none (a synopsis of
commands) is run in the tutorial and only parsed elsewhere (tests/test_docs.py).

A wrong page is fixed by pasting what the failure prints, never here.
"""

from __future__ import annotations

import os
import platform
import re
import select
import shutil
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import pytest

from tests.conftest import REPO, build_wheel, offline_environ, screen, shared_by_workers
from tests.test_docs import BLOCKS, Block, vrun_commands
from tests.test_docs import page_blocks as blocks

#: Where the pages put the project whose output they show.
DOCS_ROOTS = ("/home/you/greet", "/src/proj")
#: At most this many blocks may be marked illustrative.
MOST_ILLUSTRATIVE = 4

#: A line typed inside a shell that a command opened: ``(test-3.12) $ pytest -q``.
_INSIDE = re.compile(r"^\([\w.-]+\) \$ ")


def key(block: Block) -> str:
    """What a :class:`Scenario` names a block by: its first line."""
    return block.text.splitlines()[0] if block.text else ""


@dataclass(frozen=True)
class Shown:
    """One command of a console block: the line after ``$ `` and the lines shown after it."""

    line: str
    output: tuple[str, ...]

    @property
    def runs_vrun(self) -> bool:
        return bool(vrun_commands(self.line))


def commands(block: Block) -> list[Shown]:
    """The commands of a console block with what is shown after each (trailing blank lines and
    lines typed inside an opened shell left out)."""
    found: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif _INSIDE.match(line):
            continue
        else:
            assert found, f"{block.where}: output before the first command: {line!r}"
            found[-1][1].append(line)
    shown = []
    for line, output in found:
        while output and not output[-1].strip():
            output.pop()
        shown.append(Shown(line, tuple(output)))
    return shown


def shows_vrun_output(block: Block) -> bool:
    """Whether ``block`` shows what a vrun command prints."""
    if block.lang == "console":
        return any(shown.output and shown.runs_vrun for shown in commands(block))
    return block.lang == "text" and any(line.startswith("vrun > ") for line in block.text.splitlines())


# --- comparing ---------------------------------------------------------------------------------

_HASH = re.compile(r"\b((?:[A-Za-z0-9_.]+-)*)([0-9a-f]{32}|[0-9a-f]{16}|[0-9a-f]{10})\b")
_RULES = [
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?"), "<date>"),
    (re.compile(r"\b\d+(?:\.\d+)? (?:B|KiB|MiB|GiB)\b"), "<size>"),
    (re.compile(r"\b\d+(?:\.\d+)?m?s\b"), "<t>s"),
    (re.compile(r"\b\d+\.\d+\.\d+\b"), "<X.Y.Z>"),
    (re.compile(r"(?<![\w>])/(?:[^\s/:()'\"]+/)*python[\d.]*(?![\w.])"), "<python>"),
    (re.compile(r"\b(?:x86_64|aarch64|arm64|AMD64)\b"), "<machine>"),
    (re.compile(r"[ \t]+"), " "),
]


def normalize(line: str, root: str | None) -> tuple[str, list[str]]:
    """``line`` with what differs from run to run replaced (see the module's docstring), and the
    hashes it holds, each with the env name before it (``test-3.12-869351ca23``).

    :param root: the project's folder in a printed line; ``None`` for a line of the docs.
    """
    if root is None:
        for shown in DOCS_ROOTS:
            line = line.replace(shown, "<root>")
    else:
        line = line.replace(root, "<root>")
    hashes = [m[0] for m in _HASH.finditer(line)]
    line = _HASH.sub(lambda m: f"{m[1]}<hash>", line)
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    return line.strip(), hashes


@dataclass
class Pairs:
    """Which printed hash each hash of a page stands for, both ways."""

    shown: dict[str, str] = field(default_factory=dict)
    printed: dict[str, str] = field(default_factory=dict)

    def pair(self, shown: Sequence[str], printed: Sequence[str]) -> Pairs | None:
        """These pairs and ``zip(shown, printed)``, or ``None`` when one contradicts them."""
        new = Pairs(dict(self.shown), dict(self.printed))
        for a, b in zip(shown, printed):
            if new.shown.setdefault(a, b) != b or new.printed.setdefault(b, a) != a:
                return None
        return new


def matches(shown: Sequence[str], printed: Sequence[str], root: str, pairs: Pairs) -> Pairs | None:
    """``pairs`` extended when ``printed`` is what ``shown`` shows (``...``: any lines), else ``None``."""
    want = [normalize(line, None) for line in shown]
    got = [normalize(line, root) for line in printed]

    def walk(i: int, j: int, pairs: Pairs) -> Pairs | None:
        if i == len(want):
            return pairs if j == len(got) else None
        if want[i][0] == "...":
            for k in range(j, len(got) + 1):
                found = walk(i + 1, k, pairs)
                if found is not None:
                    return found
            return None
        if j < len(got) and want[i][0] == got[j][0]:
            paired = pairs.pair(want[i][1], got[j][1])
            if paired is not None:
                return walk(i + 1, j + 1, paired)
        return None

    return walk(0, 0, pairs)


# --- running -----------------------------------------------------------------------------------

#: Stand-ins of the tools the docs' projects install: (name, version, modules, console scripts).
PYTEST = '''
"""A stand-in for pytest: runs the test functions of tests/test_*.py, reporting as pytest does."""
import importlib, os, sys, time, traceback


def console_main():
    args = sys.argv[1:]
    verbose, first = "-v" in args, "-x" in args
    keyword = args[args.index("-k") + 1] if "-k" in args else ""
    start = time.monotonic()
    sys.path.insert(0, "tests")
    tests = []
    for name in sorted(os.listdir("tests")):
        if name.startswith("test_") and name.endswith(".py"):
            module = importlib.import_module(name[:-3])
            tests += [(f"tests/{name}::{k}", v) for k, v in vars(module).items() if k.startswith("test_")]
    tests = [(nodeid, test) for nodeid, test in tests if keyword in nodeid]
    if verbose:
        print(" test session starts ".center(80, "="))
        print(f"collected {len(tests)} item{'s' * (len(tests) != 1)}")
        print()
    passed = failed = 0
    marks = ""
    for i, (nodeid, test) in enumerate(tests, 1):
        try:
            test()
            passed += 1
        except Exception:
            failed += 1
            traceback.print_exc()
        if verbose:
            print(f"{nodeid} {'FAILED' if failed else 'PASSED'}".ljust(72) + f"[{100 * i // len(tests):3d}%]")
        else:
            marks += "F" if failed else "."
        if failed and first:
            break
    if marks:
        print(marks.ljust(72) + "[100%]")
    counts = ", ".join(f"{n} {what}" for n, what in ((failed, "failed"), (passed, "passed")) if n)
    summary = f"{counts or 'no tests ran'} in {time.monotonic() - start:.2f}s"
    print(f" {summary} ".center(80, "=") if verbose else summary)
    return 1 if failed else 0 if tests else 5
'''
RUFF = '''
"""A stand-in for ruff: `ruff check PATH...` reports the Python files that do not compile."""
import os, sys


def main():
    args = sys.argv[1:]
    if args[:1] != ["check"]:
        print("this ruff only checks", file=sys.stderr)
        return 2
    problems = []
    for top in [a for a in args[1:] if not a.startswith("-")] or ["."]:
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    try:
                        compile(open(path, encoding="utf-8").read(), path, "exec")
                    except SyntaxError as exc:
                        problems.append(f"{path}:{exc.lineno}:{exc.offset}: SyntaxError: {exc.msg}")
    print("\\n".join(problems) + f"\\nFound {len(problems)} errors." if problems else "All checks passed!")
    return 1 if problems else 0
'''
TABULATE = '''
"""A stand-in for tabulate: its default ("simple") table of rows under headers."""


def tabulate(rows, headers=()):
    rows = [list(row) for row in rows]
    columns = list(zip(headers, *rows))
    numeric = [all(isinstance(cell, (int, float)) for cell in column[1:]) for column in columns]
    widths = [max(len(column[0]) + 2, *(len(str(cell)) for cell in column[1:])) for column in columns]

    def line(cells):
        return "  ".join(
            str(cell).rjust(width) if right else str(cell).ljust(width)
            for cell, width, right in zip(cells, widths, numeric)
        ).rstrip()

    return "\\n".join([line(headers), "  ".join("-" * width for width in widths)] + [line(row) for row in rows])
'''

STAND_INS = (
    ("pytest", "8.3.4", {"pytest/__init__.py": PYTEST}, {"pytest": "pytest:console_main"}),
    # a release to move to (docs/lock.md's `vrun lock test -P pytest`)
    ("pytest", "8.3.5", {"pytest/__init__.py": PYTEST}, {"pytest": "pytest:console_main"}),
    ("ruff", "0.8.4", {"ruff/__init__.py": RUFF}, {"ruff": "ruff:main"}),
    ("pytest-randomly", "3.16.0", {"pytest_randomly.py": ""}, {}),
    ("pytest-xdist", "3.6.1", {"xdist/__init__.py": ""}, {}),
    ("tabulate", "0.10.0", {"tabulate.py": TABULATE}, {}),  # docs/scripts.md's script
)


def _make_docs_wheelhouse(house: Path, wheelhouse: Path) -> None:
    for wheel in wheelhouse.iterdir():
        shutil.copy(wheel, house)
    for name, version, modules, scripts in STAND_INS:
        sources = {path: textwrap.dedent(source).lstrip("\n") for path, source in modules.items()}
        build_wheel(house, name, version, modules=sources, scripts=scripts)


@pytest.fixture(scope="session")
def docs_wheelhouse(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """The wheelhouse, and the stand-ins of pytest, ruff, pytest-randomly and pytest-xdist."""
    return shared_by_workers(
        tmp_path_factory, "docs-wheelhouse", lambda p: _make_docs_wheelhouse(p, wheelhouse)
    )


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def scrub(printed: list[str], env: Mapping[str, str]) -> list[str]:
    """``printed`` without the installer settings that keep this suite offline (``PIP_FIND_LINKS``,
    ``UV_OFFLINE``, ...: a reader has none of them): the lines ``vrun explain`` gives them under
    ``variables:`` (``variables: none`` when no other is left) and their names in ``vrun show``'s
    ``passed by default:``."""
    ours = {name for name in env if name.startswith(("PIP_", "UV_", "VIRTUALENV_", "VRUN_"))}
    out: list[str] = []
    for line in printed:
        name = line.strip().split(":", 1)[0]
        if name in ours and line.startswith(" ") and ":" in line:
            continue
        if line.strip().startswith("passed by default: "):
            head, names = line.split(": ", 1)
            out.append(f"{head}: {', '.join(n for n in names.split(', ') if n not in ours) or 'none'}")
        else:
            out.append(line)
    for i, line in enumerate(out):
        indent = len(line) - len(line.lstrip())
        below = out[i + 1] if i + 1 < len(out) else ""
        if line.strip() == "variables:" and len(below) - len(below.lstrip()) <= indent:
            out[i] = line + " none"
    return out


class Shell:
    """Runs lines as a reader types them into a terminal: through bash, each in a pseudo-terminal
    of its own, the working directory kept from one line to the next (``cd``); ``vrun`` is this
    checkout's."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self._where = cwd.parent / ".cwd"

    def run(self, line: str, timeout: float = 600) -> tuple[int, list[str]]:
        """Run ``line``; its exit status and the lines the terminal then shows."""
        import fcntl
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
        script = 'eval "$1"; status=$?; pwd > "$2"; exit $status'
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-c", script, "bash", line, str(self._where)],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        data = b""
        deadline = time.monotonic() + timeout
        try:
            while True:
                assert time.monotonic() < deadline, f"{line!r} still runs after {timeout}s:\n{data!r}"
                if not select.select([master], [], [], 0.5)[0]:
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(master)
        status = proc.wait(timeout=60)
        self.cwd = Path(self._where.read_text(encoding="utf-8").strip())
        lines = screen(_SGR.sub("", data.decode("utf-8", "replace")))  # colours, as no page shows them
        while lines and not lines[-1].strip():
            lines.pop()
        return status, scrub(lines, self.env)

    def check(self, line: str) -> None:
        """Run a setup line: it must succeed; what it prints is not the page's."""
        status, lines = self.run(line)
        assert status == 0, f"setup {line!r} exited {status}:\n" + "\n".join(lines)


@pytest.fixture
def shell(tmp_path: Path, docs_wheelhouse: Path, cache_dir: Path) -> Shell:
    """A :class:`Shell` in an empty folder, offline, with an environment as small as a login's."""
    if shutil.which("bash") is None or shutil.which("git") is None:
        pytest.skip("needs bash and git")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vrun").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vrun "$@"\n')
    (bin_dir / "vrun").chmod(0o755)
    from uv import find_uv_bin

    (bin_dir / "uv").symlink_to(find_uv_bin())  # the uv vrun depends on, as a reader who has uv
    offline = offline_environ(docs_wheelhouse, cache_dir, tmp_path / "home")
    env = {
        k: v for k, v in offline.items() if k.startswith(("PIP_", "UV_", "VRUN_", "VIRTUALENV_", "PYENV_"))
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{offline['PATH']}",
        HOME=offline["HOME"],
        TERM="xterm",
        LANG="C.UTF-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    return Shell(work, env)


def needs_pythons(shell: Shell, *versions: str) -> None:
    """Skip unless vrun finds each of ``versions`` here."""
    from vrun.errors import InterpreterNotFoundError
    from vrun.plan.interpreters import find_interpreter

    for version in versions:
        try:
            find_interpreter(version, environ=shell.env, cache_dir=Path(shell.env["VRUN_CACHE_DIR"]))
        except InterpreterNotFoundError:
            pytest.skip(f"needs Python {version}")


def apply_file_block(block: Block, root: Path) -> None:
    """A ``write PATH`` block: the file; ``update PATH``: the block's tables replace the file's."""
    kind, _, name = block.mark.partition(" ")
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "write":
        path.write_text(block.text, encoding="utf-8")
        return
    assert kind == "update", f"{block.where}: unknown docs-test mark {block.mark!r}"
    tables = dict(_tables(path.read_text(encoding="utf-8")))
    for header, section in _tables(block.text):
        assert header in tables, f"{block.where}: {name} has no {header} to update"
        tables[header] = section
    path.write_text("\n".join(section.strip("\n") + "\n" for section in tables.values()), encoding="utf-8")


def _tables(text: str) -> list[tuple[str, str]]:
    """A TOML file cut at each table header: ``(header, the header and its lines)``."""
    found: list[tuple[str, str]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("[") or not found:
            found.append((line.strip(), ""))
        header, section = found[-1]
        found[-1] = (header, section + line)
    return found


_INSTALL = re.compile(r"(pipx|uv tool|pip|python3? -m pip) install\b")


def _installs_vrun(block: Block) -> bool:
    """Whether a console block installs vrun (from a clone or PyPI): not run, the suite runs this
    checkout's vrun; tests/test_packaging.py builds and installs it as such a block does."""
    return any(_INSTALL.search(shown.line) for shown in commands(block))


def _not_run(line: str) -> bool:
    """Whether a line of the tutorial is not run: ``vrun shell`` (it waits for a person to type;
    tests/test_tmux.py types into it)."""
    return any(argv[:1] == ["shell"] for argv in vrun_commands(line))


@dataclass
class Comparison:
    """The mismatches found on one page, reported all at once (each with what vrun printed, ready
    to paste)."""

    root: str = ""
    docs_root: str = DOCS_ROOTS[0]
    pairs: Pairs = field(default_factory=Pairs)
    problems: list[str] = field(default_factory=list)

    def run(self, shell: Shell, block: Block, shown: Shown, compare: bool) -> None:
        root = os.path.realpath(self.root or shell.cwd)  # the tutorial's project: where the reader is
        status, printed = shell.run(shown.line)
        if compare:
            paired = matches(shown.output, printed, root, self.pairs)
            if paired is None:
                pasted = "\n".join(line.replace(root, self.docs_root) for line in printed)
                self.problems.append(
                    f"{block.where}: `$ {shown.line}` shows\n{textwrap.indent(chr(10).join(shown.output), '    ')}\n"
                    f"  but vrun printed\n{textwrap.indent(pasted, '    ')}"
                )
            else:
                self.pairs = paired
        if status != 0 and not any("error:" in line for line in shown.output):
            self.problems.append(f"{block.where}: `$ {shown.line}` exited {status}:\n" + "\n".join(printed))

    def check(self) -> None:
        assert not self.problems, f"{len(self.problems)} mismatches:\n\n" + "\n\n".join(self.problems)


# --- the tutorial ------------------------------------------------------------------------------


def test_the_tutorial_runs_as_written(shell: Shell) -> None:
    """docs/tutorial.md from its first command to its last, in order, as a reader would."""
    needs_pythons(shell, "3.11", "3.12", "3.13")
    comparison = Comparison()
    for block in blocks(REPO / "docs" / "tutorial.md"):
        if block.mark.startswith("illustrative"):
            continue
        if block.mark:
            apply_file_block(block, shell.cwd)
            continue
        if block.lang != "console" or _installs_vrun(block):
            continue
        compare = shows_vrun_output(block)
        for shown in commands(block):
            if not _not_run(shown.line):
                comparison.run(shell, block, shown, compare)
    comparison.check()


# --- the other pages ---------------------------------------------------------------------------


def tutorial_files(before: str = "## 6.") -> Callable[[Path], None]:
    """Writes the tutorial's project into a folder as the tutorial leaves it before the heading
    ``before``: its file blocks up to there."""
    return _tutorial_edits("", before)


def tutorial_step(heading: str) -> Callable[[Path], None]:
    """Applies the file blocks of one section of the tutorial (``## 7.``): its edits."""
    return _tutorial_edits(heading, "")


def _tutorial_edits(first: str, last: str) -> Callable[[Path], None]:
    """Applies the tutorial's file blocks from the heading ``first`` (``""``: the start) to the
    heading ``last`` (``""``: the next one)."""
    page = REPO / "docs" / "tutorial.md"
    text = page.read_text(encoding="utf-8")
    start = text.index(f"\n{first}") + 1 if first else 0
    end = text.index(f"\n{last}" if last else "\n## ", start + 1) + 1
    lines = range(text[:start].count("\n") + 1, text[:end].count("\n") + 1)
    chosen = [b for b in blocks(page) if b.mark and not b.mark.startswith("illustrative") and b.line in lines]

    def apply(root: Path) -> None:
        for block in chosen:
            apply_file_block(block, root)

    return apply


def write(name: str, text: str) -> Callable[[Path], None]:
    """A setup step: write ``text`` (dedented) to ``name`` in the project."""

    def step(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    return step


#: A setup step: run the block's next command here (the steps after it come before the one after).
NEXT = "<next>"
Step = Union[str, Callable[[Path], None]]


@dataclass(frozen=True)
class Scenario:
    """How one page's output blocks are produced: the project they run in (the tutorial's, by
    default) and, for each block (by its first line), the steps run before it unseen: shell lines
    (which must succeed), file edits, and :data:`NEXT`."""

    page: str
    before: Mapping[str, Sequence[Step]]
    project: Callable[[Path], None] = field(default_factory=tutorial_files)
    docs_root: str = "/src/proj"
    #: The Pythons its output names (the test skips where vrun finds one of them not).
    pythons: tuple[str, ...] = ("3.11", "3.12", "3.13")
    #: The part of the page its blocks are in: from the heading ``within[0]`` (``""``: the page's
    #: start) to the heading ``within[1]`` (``""``: its end), so two scenarios of one page may
    #: each tie a block that starts with the same line.
    within: tuple[str, str] = ("", "")

    def blocks(self) -> dict[str, Block]:
        """The page's blocks in :attr:`within` that :attr:`before` ties, by their first line."""
        text = (REPO / "docs" / self.page).read_text(encoding="utf-8")
        first, last = self.within
        start = text.index(f"\n{first}\n") + 1 if first else 0
        end = text.index(f"\n{last}\n", start) + 1 if last else len(text)
        lines = range(text[:start].count("\n") + 1, text[:end].count("\n") + 1)
        return {
            key(b): b for b in blocks(REPO / "docs" / self.page) if b.line in lines and key(b) in self.before
        }


def edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    """A setup step: replace ``old`` (it must be there) by ``new`` in the project's file ``name``."""

    def step(root: Path) -> None:
        text = (root / name).read_text(encoding="utf-8")
        assert old in text, f"{name} has no {old!r}"
        (root / name).write_text(text.replace(old, new, 1), encoding="utf-8")

    return step


def _both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def step(root: Path) -> None:
        for each in steps:
            each(root)

    return step


#: The tutorial's project with its tests' requirements in a file (docs/envs.md's example).
_WITH_REQUIREMENTS_FILE = _both(
    tutorial_files(),
    edit("vrun.toml", 'groups = ["test"]', 'deps = ["-r requirements-test.txt"]'),
    write("requirements-test.txt", "pytest>=8\n"),
)
#: The tutorial's project as its step 3 leaves it: one session, ``test`` (docs/lock.md's), on 3.12.
_ONE_SESSION = _both(
    tutorial_files("## 4."), edit("vrun.toml", "[sessions.test]\n", '[sessions.test]\npython = "3.12"\n')
)
#: That vrun.toml and a ``lint`` session reading requirements-lint.txt.
_WITH_LINT = write(
    "vrun.toml",
    """
    [sessions.test]
    python = "3.12"
    groups = ["test"]
    commands = ["pytest {posargs:-q}"]

    [sessions.lint]
    python = "3.12"
    deps = ["-r requirements-lint.txt"]
    install_project = false
    commands = ["ruff check {posargs:.}"]
    """,
)


def page_block(page: str, first_line: str) -> str:
    """The text of the block of ``page`` whose first line is ``first_line`` (a file a page shows)."""
    (text,) = [b.text for b in blocks(REPO / "docs" / page) if key(b) == first_line]
    return text


SCENARIOS: list[Scenario] = [
    Scenario(
        "cli.md",
        {
            "$ vrun test-3.12": ["vrun test-3.12"],
            "$ vrun explain test-3.12": ["vrun test-3.11", tutorial_step("## 7."), "vrun test-3.11"],
            "$ vrun list": [],
            "$ vrun list --envs": [],
            "$ vrun show test-3.12 -- -k parse": [],
            "$ vrun rm lint": ["vrun lint"],
            "$ vrun lock test-3.12": [],
            "$ vrun init": [],
        },
    ),
    Scenario(
        "migrating.md",
        {"$ vrun init": ["rm vrun.toml", write("tox.ini", page_block("migrating.md", "# tox.ini"))]},
        project=_both(tutorial_files(), write("requirements-test.txt", "pytest>=8\n")),
        pythons=("3.11", "3.12"),
    ),
    Scenario(
        "config.md",
        {
            "$ vrun": [
                edit("vrun.toml", 'groups = ["test"]', 'groups = ["test"]\npassenv = ["CI"]'),
                NEXT,
                edit("vrun.toml", 'passenv = ["CI"]', 'deps = "pytest"'),
                NEXT,
                edit("vrun.toml", 'deps = "pytest"\n', ""),
                edit("vrun.toml", "[sessions.lint]", "[sessions.lint"),
                NEXT,
            ],
        },
        pythons=(),
    ),
    Scenario(
        "envs.md",
        {
            "$ vrun test-3.12": [],
            "$ vrun rm foo": ["mkdir .venvs/foo-0123456789"],
        },
        project=_WITH_REQUIREMENTS_FILE,
        pythons=("3.12",),
    ),
    Scenario(
        "lock.md",
        {
            "$ vrun lock test": [],
            "$ vrun test": [
                "vrun test",
                edit("pyproject.toml", '"pytest>=8"', '"pytest>=8", "pytest-xdist>=3"'),
            ],
            "$ vrun --locked test": [],
            "$ vrun lock --check": [
                _WITH_LINT,
                write("requirements-lint.txt", "ruff\n"),
                "vrun lock",
                write("requirements-lint.txt", "ruff>=0.6\n"),
            ],
            "$ vrun lock test -P pytest": [
                edit("pyproject.toml", '"pytest>=8"', '"pytest>=8,<8.3.5"'),
                "vrun lock test",
                edit("pyproject.toml", '"pytest>=8,<8.3.5"', '"pytest>=8"'),
            ],
        },
        project=_ONE_SESSION,
        pythons=("3.12",),
        within=("", "## uv.lock"),
    ),
    Scenario(
        "lock.md",
        {
            "$ uv lock -q": [],
            "$ vrun test": [edit("pyproject.toml", '"pytest>=8"', '"pytest>=8", "pytest-xdist>=3"')],
            "$ vrun explain test": ["uv lock -q"],
        },
        project=_ONE_SESSION,
        pythons=("3.12",),
        within=("## uv.lock", "## `vrun lock` and `vrun freeze`"),
    ),
]


#: The tutorial's project with docs/scripts.md's script and its session.
_WITH_SCRIPT = _both(
    tutorial_files(),
    write("tools/report.py", page_block("scripts.md", "# tools/report.py")),
    lambda root: (root / "vrun.toml").write_text(
        (root / "vrun.toml").read_text(encoding="utf-8") + "\n" + page_block("scripts.md", "# vrun.toml"),
        encoding="utf-8",
    ),
)
SCENARIOS.append(
    Scenario(
        "scripts.md",
        {
            "$ vrun report -- src": [],
            "$ vrun report": [edit("tools/report.py", '"tabulate>=0.9"', '"tabulate>=0.10"')],
        },
        project=_WITH_SCRIPT,
        pythons=(),
    )
)


def _run_scenario(scenario: Scenario, shell: Shell) -> None:
    needs_pythons(shell, *scenario.pythons)
    root = shell.cwd / Path(scenario.docs_root).name
    root.mkdir()
    scenario.project(root)
    shell.cwd = root
    shell.check(
        "git init -q && git add -A && git -c user.name=docs -c user.email=docs@example.org commit -qm start"
    )
    comparison = Comparison(root=str(root), docs_root=scenario.docs_root)
    tied = scenario.blocks()
    assert set(tied) == set(scenario.before), (
        f"{scenario.page} has no block {set(scenario.before) - set(tied)}"
    )
    for first, steps in scenario.before.items():
        block = tied[first]
        assert block.lang == "console", f"{block.where}: only a console block can be run"
        todo = iter(commands(block))
        for step in [*steps, *([NEXT] * len(commands(block)))]:
            if step == NEXT:
                shown = next(todo, None)
                if shown is not None:
                    comparison.run(shell, block, shown, compare=True)
            elif isinstance(step, str):
                shell.check(step)
            else:
                step(root)
    comparison.check()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.page for s in SCENARIOS])
def test_page_output(scenario: Scenario, shell: Shell) -> None:
    """Each tied block of the page shows what its commands print, after the setup it needs."""
    _run_scenario(scenario, shell)


def test_every_shown_output_is_produced_or_marked() -> None:
    """A block showing vrun's output is the tutorial's, a scenario's, or marked illustrative (few)."""
    tied = {block.where for s in SCENARIOS for block in s.blocks().values()}
    loose = [
        block.where
        for block in BLOCKS
        if shows_vrun_output(block)
        and block.page != "tutorial.md"
        and block.where not in tied
        and not block.mark.startswith("illustrative")
    ]
    assert not loose, (
        f"output nothing produces: tie each block to a Scenario or mark it illustrative: {loose}"
    )
    marked = [b.where for b in BLOCKS if b.mark.startswith("illustrative")]
    assert len(marked) <= MOST_ILLUSTRATIVE, marked
    for block in BLOCKS:
        if block.mark.startswith("illustrative"):
            assert re.fullmatch(r"illustrative \(.+\)", block.mark), f"{block.where}: say why: {block.mark!r}"
        elif block.mark:
            assert block.page == "tutorial.md" and block.mark.split()[0] in ("write", "update"), block.where


def test_the_comparison_has_teeth() -> None:
    """Hashes pair one to one, ``...`` stands for lines, anything else must be equal."""
    root = "/tmp/x/greet"
    printed = [
        "vrun > creating env test-3.12-0123456789 (new env)",
        "vrun > built test-3.12-0123456789 in 1.2s",
        f"removed {root}/.venvs/lint-abcdefabcd (29.8 MiB)",
    ]
    shown = [
        "vrun > creating env test-3.12-869351ca23 (new env)",
        "...",
        "removed /home/you/greet/.venvs/lint-448bc57249 (18.0 MiB)",
    ]
    assert matches(shown, printed, root, Pairs()) is not None
    assert matches(shown[:2], printed, root, Pairs()) is not None
    assert matches(shown[:1], printed, root, Pairs()) is None  # the rest must be shown, or "..."
    other = [shown[0], "vrun > built test-3.12-1111111111 in 0.3s", shown[2]]
    assert matches(other, printed, root, Pairs()) is None  # one env on the page, two printed
    twice = [printed[0], "vrun > built test-3.12-1111111111 in 0.3s", printed[2]]
    once = [shown[0], "vrun > built test-3.12-869351ca23 in 1s", shown[2]]
    assert matches(once, twice, root, Pairs()) is None  # two envs printed, one on the page
    assert matches(["vrun > session test passed"], ["vrun > session test failed"], root, Pairs()) is None
    assert normalize("CPython 3.12.4 x86_64 64bit /usr/bin/python3.12", None)[0] == (
        "CPython <X.Y.Z> <machine> 64bit <python>"
    )
    assert platform.machine()  # what the printed side names


# --- what pages quote in their prose -----------------------------------------------------------


def test_ci_md_quotes_what_vrun_prints(
    docs_wheelhouse: Path, offline_env: dict[str, str], tmp_path: Path
) -> None:
    """docs/ci.md's failure line and annotation are what a failing session gives under GitHub
    Actions, and its table of ``vrun list --json`` keys has every key vrun prints, and no other
    (cli.md's sentence names them all too)."""
    from tests.conftest import Vrun, write_project

    project = tmp_path / "proj"
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions."test-3.12"]
                deps = ["pytest"]
                install_project = false
                commands = ["pytest -q"]
            """,
            "tests/.keep": "",
        },
    )
    env = {**offline_env, "PIP_FIND_LINKS": str(docs_wheelhouse), "UV_FIND_LINKS": str(docs_wheelhouse)}
    vrun = Vrun(project, {**env, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")})
    run = vrun("test-3.12", "test-3.12", check=5)  # pytest's status: it collected no tests
    ci_md = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    (failed,) = [
        line for line in run.stderr.splitlines() if line.startswith("vrun > session test-3.12 failed: ")
    ]
    assert f"(`{failed.removeprefix('vrun > ')}`)" in ci_md, failed
    (annotation,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    message = annotation.split("::")[-1]
    assert message == "command `pytest -q` exited with status 5"
    assert f"(``{message.removesuffix('5')}" in ci_md, message

    import json

    listed = json.loads(Vrun(project, env)("list", "--json", check=0).stdout)
    keys = set(listed[0])
    section = ci_md.split("## `vrun list --json`", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `(\w+)` \|", section, re.M)) == keys
    cli_md = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    sentence = cli_md.split("`--json` prints an array of objects with", 1)[1].split("\n\n", 1)[0]
    assert {key for key in keys if f"`{key}`" not in sentence} == set()


def test_completion_installs_where_cli_md_says(shell: Shell) -> None:
    """The lines of cli.md's ``vrun completion`` section, run as they are, leave each shell's
    script where that shell looks for it (bash-completion's per-user folder, a folder on zsh's
    ``fpath``, fish's completions folder); the bash one, sourced as bash-completion sources it at
    the first TAB after ``vrun``, registers the completion."""
    from vrun.commands.completion import script

    cli_md = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    section = cli_md.split("\n## `vrun completion", 1)[1].split("\n## ", 1)[0]
    lines = [
        line[2:]
        for block in re.findall(r"```console\n(.*?)```", section, re.S)
        for line in block.splitlines()
    ]
    assert len(lines) == 6, lines
    home = Path(shell.env["HOME"])
    for line in lines:
        shell.check(line)
    for shell_name, path in (
        ("bash", ".local/share/bash-completion/completions/vrun"),
        ("zsh", ".zfunc/_vrun"),
        ("fish", ".config/fish/completions/vrun.fish"),
    ):
        assert (home / path).read_text(encoding="utf-8") == script(shell_name), path
    assert "fpath=(~/.zfunc $fpath)" in (home / ".zshrc").read_text(encoding="utf-8")
    status, shown = shell.run("source ~/.local/share/bash-completion/completions/vrun; complete -p vrun")
    assert status == 0 and shown == ["complete -F _vrun_complete vrun"], shown
