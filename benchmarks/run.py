#!/usr/bin/env python3
"""Time vrun against nox, tox-uv, hatch and uv on the same small project, in one run.

Usage::

    python benchmarks/run.py            # full: 20 no-op, 10 test, 5 cold, 5 CI repetitions; writes results
    python benchmarks/run.py --quick    # 5 / 3 / 2 / 2 repetitions; prints only (add --write to write)
    python benchmarks/run.py --compare-ref main   # also time a vrun built from git ref `main`

Standard library only. It builds, in a temporary directory (or ``--workdir``):

- one venv per tool (vrun installed non-editable from this repository; nox, tox with tox-uv,
  hatch and uv from PyPI at their current versions; with ``--compare-ref``, a second vrun built
  from that git ref);
- one local wheelhouse with every distribution the sessions need (pytest, attrs, setuptools,
  ruff...), so that no timed command reads the network;
- one small project (``example_project/`` with every tool's config), copied once per row family
  so that one tool's envs, caches and build artefacts cannot help or hurt another's.

Then it times four scenarios, round-robin across the rows so drift hits all alike: a warm
no-op session, a warm ``pytest -q`` session, a cold test session (env removed first) and a
CI-shaped run (lint plus tests on two Pythons, from nothing). The report (median, min, overhead
over the bare command, ratios, CPU time, peak RSS, vrun's import profile) goes to stdout and,
for a full run, to ``benchmarks/results.md`` and the results block of ``benchmarks/README.md``.
See that README for what is measured and why.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "example_project"
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
#: Every request through a proxy goes here and fails at once: a tool that tries the network
#: during a timed run fails loudly instead of quietly timing the network.
DEAD_PROXY = "http://127.0.0.1:9"
#: What the wheelhouse holds: the test env's requirements (pytest, the project's attrs), the
#: project's build backend (setuptools, wheel), pip (for any tool that seeds it) and ruff (the
#: lint session's only dependency: one version, so every tool runs the same ruff).
WHEELHOUSE_REQS = ("pytest>=8", "attrs>=23.1", "setuptools>=64", "wheel", "pip", "ruff")
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


class BenchError(Exception):
    """A setup step or a timed command failed; the message says which and shows its output."""


# --- the environment every tool runs in ----------------------------------------------------------


def base_environ(work: Path, extra_bins: Sequence[Path] = ()) -> dict[str, str]:
    """The environment of every timed command: the caller's, with this machine's traps removed.

    - ``PYTHONDONTWRITEBYTECODE`` is dropped: with it no tool's modules get ``.pyc`` files
      and every run recompiles them (a user's machine does not set it).
    - ``PIP_CONFIG_FILE=/dev/null`` ignores a machine-wide pip.conf (extra indexes), and the
      caller's ``PIP_*``, ``UV_*``, ``VIRTUALENV_*``, ``NOX_*``, ``TOX_*``, ``HATCH_*`` and
      ``VRUN_*`` variables are dropped.
    - Every cache (pip, uv, virtualenv's app-data, vrun's interpreter facts and plans, hatch's
      data, cache and config, XDG) lives under ``work/cache``, so the benchmark reads and writes
      nothing in the home directory.
    - The running interpreter's ``bin/`` leads ``PATH``, then ``extra_bins`` (the second
      Python's), so every tool finds the same real ``python3.X`` (not a pyenv shim script,
      which costs a shell start per call and fails for versions not selected).
    - ``VIRTUALENV_NO_PERIODIC_UPDATE`` stops virtualenv (used by vrun's virtualenv backend) from
      checking for new embedded wheels in the background.

    :param work: the benchmark's working directory.
    :param extra_bins: directories put on ``PATH`` right after the running interpreter's.
    :returns: a new dict.
    """
    drop = {"PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX"}
    prefixes = ("PIP_", "UV_", "VRUN_", "NOX_", "TOX_", "VIRTUALENV_", "HATCH_")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(prefixes)}
    cache = work / "cache"
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p]
    bins = [str(Path(sys.base_prefix) / "bin"), *map(str, extra_bins)]
    env.update(
        PATH=os.pathsep.join([*bins, *path]),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CACHE_DIR=str(cache / "pip"),
        UV_CACHE_DIR=str(cache / "uv"),
        UV_PYTHON_DOWNLOADS="never",
        XDG_CACHE_HOME=str(cache / "xdg"),
        VIRTUALENV_OVERRIDE_APP_DATA=str(cache / "virtualenv"),
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
        HATCH_DATA_DIR=str(cache / "hatch-data"),
        HATCH_CACHE_DIR=str(cache / "hatch-cache"),
        HATCH_CONFIG=str(cache / "hatch-config.toml"),
    )
    return env


def offline_environ(env: Mapping[str, str], wheelhouse: Path) -> dict[str, str]:
    """``env`` pointed at the local wheelhouse only, with the network made unreachable.

    pip reads ``PIP_NO_INDEX``/``PIP_FIND_LINKS`` (also inside its isolated build envs), uv reads
    ``UV_OFFLINE``/``UV_FIND_LINKS``; all proxies point at :data:`DEAD_PROXY`.
    """
    out = no_network(env)
    out.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), UV_FIND_LINKS=str(wheelhouse))
    return out


def no_network(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with uv offline (``UV_OFFLINE=1``: its cache and local files only) and every proxy
    pointed at :data:`DEAD_PROXY`, so anything that still tries the network fails at once."""
    out = dict(env)
    out["UV_OFFLINE"] = "1"
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        out[name] = DEAD_PROXY
    out.pop("no_proxy", None)
    out.pop("NO_PROXY", None)
    return out


def check(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None) -> str:
    """Run a setup command; return its output; raise :class:`BenchError` with it on failure."""
    proc = subprocess.run(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}")
    return proc.stdout


# --- setup: tools, wheelhouse, second Python, project ---------------------------------------------


@dataclass(frozen=True)
class Tool:
    """A tool's own venv and what is installed into it.

    :param name: the venv's directory name under ``work/tools``.
    :param install: requirements, installed from the tools' wheel directory.
    :param dists: distributions whose versions the report names.
    """

    name: str
    install: tuple[str, ...]
    dists: tuple[str, ...]


TOOLS = (
    # A wheel built from this repository and installed like any other (pip compiles its .pyc
    # at install time); an editable one gets .pyc only from runs, never with PYTHONDONTWRITEBYTECODE.
    Tool("vrun", ("vrun-cli",), ("vrun-cli", "virtualenv", "uv")),
    Tool("nox", ("nox[uv]",), ("nox", "uv")),
    Tool("tox-uv", ("tox", "tox-uv"), ("tox", "tox-uv", "uv")),
    Tool("hatch", ("hatch",), ("hatch", "uv")),
    Tool("uv", ("uv",), ("uv",)),
)

#: Prints "dist version, ..." for the named distributions that are installed (a ref built before
#: the rename to vrun-cli is "vrun").
_VERSIONS_CODE = (
    "import importlib.metadata as m, sys\n"
    "def v(d):\n"
    "    try:\n"
    "        return f'{d} {m.version(d)}'\n"
    "    except m.PackageNotFoundError:\n"
    "        return ''\n"
    "print(', '.join(filter(None, map(v, sys.argv[1:]))))"
)


def install_tools(
    work: Path, env: Mapping[str, str], *, reinstall: bool, tools: Sequence[Tool] = TOOLS
) -> dict[str, str]:
    """Create one venv per entry of ``tools`` (reused when already complete); return versions.

    ``pip wheel`` first fetches (or, for vrun, builds) every tool's wheels into one directory, in
    one resolution, so each wheel crosses the network once and every tool that uses uv gets the
    same uv; each venv then installs from that directory alone.

    :returns: ``{tool name: "dist version, dist version"}``.
    """
    wheels = work / "tool-wheels"
    if reinstall:
        for tool in tools:
            shutil.rmtree(work / "tools" / tool.name, ignore_errors=True)
        shutil.rmtree(wheels, ignore_errors=True)
    if not all((work / "tools" / t.name / ".bench-installed").exists() for t in tools):
        print("  fetching the tools' wheels (and building vrun's)", file=sys.stderr)
        others = sorted({spec for t in tools for spec in t.install if not spec.startswith("vrun")})
        specs = [str(REPO), *others]
        check([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(wheels), *specs], env=env)
    versions: dict[str, str] = {}
    for tool in tools:
        venv = work / "tools" / tool.name
        done = venv / ".bench-installed"
        if not done.exists():
            print(f"  installing {tool.name}: pip install {' '.join(tool.install)}", file=sys.stderr)
            if venv.exists():
                shutil.rmtree(venv)
            check([sys.executable, "-m", "venv", str(venv)], env=env)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index"]
            check([*pip, "--find-links", str(wheels), *tool.install], env=env)
            done.write_text("ok\n")
        versions[tool.name] = check(
            [str(venv / "bin" / "python"), "-c", _VERSIONS_CODE, *tool.dists], env=env
        )
        versions[tool.name] = versions[tool.name].strip()
    return versions


@dataclass(frozen=True)
class Ref:
    """A second vrun, built from a git ref of this repository (``--compare-ref``).

    :param name: the ref as given (``main``, ``v0.1.0``, a hash).
    :param commit: the commit it names.
    :param tool: its venv's directory name under ``work/tools``.
    """

    name: str
    commit: str
    tool: str

    @property
    def label(self) -> str:
        """The row label: ``vrun@<ref>``."""
        return f"vrun@{self.name}"


def install_ref(work: Path, env: Mapping[str, str], ref: str, *, reinstall: bool) -> tuple[Ref, str]:
    """Build a vrun wheel from git ref ``ref`` and install it in its own venv; return it and its versions.

    ``git archive <commit>`` is unpacked into ``work/ref-<hash>/src`` (the repository and its
    worktrees are not touched), ``pip wheel`` builds it with its dependencies into
    ``work/ref-<hash>/wheels``, and the venv installs that wheel (and uv, which older refs did not
    depend on) from there alone. Both vruns have the same version number, so the wheel is
    installed by path.
    """
    try:
        commit = check(
            ["git", "-C", str(REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"], env=env
        ).strip()
    except BenchError as exc:
        raise BenchError(f"--compare-ref {ref}: not a commit of {REPO}") from exc
    short = commit[:10]
    info = Ref(ref, commit, f"vrun-{short}")
    base = work / f"ref-{short}"
    venv = work / "tools" / info.tool
    done = venv / ".bench-installed"
    if reinstall:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(venv, ignore_errors=True)
    wheels = base / "wheels"
    if not (base / ".bench-built").exists():
        print(f"  building vrun from {ref} ({short})", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)
        (base / "src").mkdir(parents=True)
        tar = base / "src.tar"
        check(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(tar), commit], env=env)
        check(["tar", "-xf", str(tar), "-C", str(base / "src")], env=env)
        tar.unlink()
        pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(wheels)]
        check([*pip_wheel, str(base / "src"), "uv"], env=env)  # uv: a ref from before it was a dependency
        (base / ".bench-built").write_text("ok\n")
    if not done.exists():
        wheel = next(iter(sorted(wheels.glob("vrun*.whl"))), None)  # vrun-cli; "vrun" before the rename
        if wheel is None:
            raise BenchError(f"no vrun wheel in {wheels}")
        print(f"  installing {info.label}", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        check([sys.executable, "-m", "venv", str(venv)], env=env)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index"]
        check([*pip, "--find-links", str(wheels), str(wheel), "uv"], env=env)
        done.write_text("ok\n")
    versions = check(
        [str(venv / "bin" / "python"), "-c", _VERSIONS_CODE, "vrun-cli", "vrun", "virtualenv", "uv"], env=env
    )
    return info, f"{versions.strip()} (commit {short})"


def build_wheelhouse(work: Path, env: Mapping[str, str]) -> Path:
    """``pip download`` :data:`WHEELHOUSE_REQS` (and their dependencies) into ``work/wheelhouse``.

    Done once, with the network; the timed runs then install from it alone. The marker file
    records the requirements, so a workdir made with a different list is filled again.
    """
    wheelhouse = work / "wheelhouse"
    marker = wheelhouse / ".bench-complete"
    wanted = "\n".join(WHEELHOUSE_REQS) + "\n"
    if not marker.exists() or marker.read_text() != wanted:
        print("  filling the wheelhouse", file=sys.stderr)
        wheelhouse.mkdir(parents=True, exist_ok=True)
        check(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "-d",
                str(wheelhouse),
                *WHEELHOUSE_REQS,
            ],
            env=env,
        )
        marker.write_text(wanted)
    return wheelhouse


def find_second_python(choice: str | None) -> tuple[str, Path] | None:
    """The second Python of the CI scenario: ``(X.Y, its real bin/)`` from pyenv's versions, or None.

    :param choice: ``X.Y`` to require that version, ``none`` for no second Python, or None to
        pick one: the installed CPython 3.9+ release (``$PYENV_ROOT/versions/X.Y.Z``, default
        ``~/.pyenv``) nearest above the running one, else nearest below, newest patch release.
    :raises BenchError: ``choice`` names a version that is not installed.
    """
    if choice == "none":
        return None
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found: dict[tuple[int, int], tuple[tuple[int, ...], Path]] = {}
    for entry in sorted(root.iterdir()) if root.is_dir() else ():
        match = re.fullmatch(r"3\.(\d+)\.(\d+)", entry.name)
        if not match or entry.is_symlink():
            continue
        minor, patch = int(match[1]), int(match[2])
        bindir = entry / "bin"
        if minor < 9 or not (bindir / f"python3.{minor}").exists():
            continue
        if (3, minor) not in found or found[(3, minor)][0] < (minor, patch):
            found[(3, minor)] = ((minor, patch), bindir)
    mine = sys.version_info[1]
    found.pop((3, mine), None)
    if choice:
        wanted = re.fullmatch(r"3\.(\d+)", choice)
        if not wanted or (3, int(wanted[1])) not in found:
            raise BenchError(f"--second-python {choice}: no {root}/{choice}.* with bin/python{choice}")
        return choice, found[(3, int(wanted[1]))][1]
    if not found:
        return None
    minor = min((m for _, m in found), key=lambda m: (m < mine, abs(m - mine)))
    return f"3.{minor}", found[(3, minor)][1]


def vrun_toml(pythons: Sequence[str]) -> str:
    """vrun's config: ``test`` as a python matrix (``test-3.11``...), ``lint`` and ``noop``."""
    matrix = ", ".join(f'"{v}"' for v in pythons)
    return f"""\
# vrun: the test session on each Python (a matrix: test-{pythons[0]}...; deps from the requirements
# file, the project installed editable, vrun's default), lint (ruff only) and a no-op session.
[sessions.test]
python = [{matrix}]
deps = ["-r requirements-test.txt"]
commands = ["pytest -q"]

[sessions.lint]
python = "{PY}"
deps = ["ruff"]
install_project = false
commands = ["ruff check src tests"]

[sessions.noop]
python = "{PY}"
install_project = false
commands = ["python -c pass"]
"""


def noxfile(pythons: Sequence[str]) -> str:
    """nox's config: the same three sessions (nox names the matrix ``test-3.11``... too)."""
    matrix = ", ".join(f'"{v}"' for v in pythons)
    return f"""\
# nox: the same sessions. One install call, as vrun makes one install.
import nox


@nox.session(python=[{matrix}])
def test(session: nox.Session) -> None:
    session.install("-r", "requirements-test.txt", "-e", ".")
    session.run("pytest", "-q")


@nox.session(python="{PY}")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests")


@nox.session(python="{PY}")
def noop(session: nox.Session) -> None:
    session.run("python", "-c", "pass")
"""


def tox_env(version: str) -> str:
    """tox's name for the test env on Python ``version``: ``test-py311``."""
    return "test-py" + version.replace(".", "")


def tox_ini(pythons: Sequence[str]) -> str:
    """tox's config: ``test-py311``... (one section each), ``lint`` and ``noop``."""
    tests = "".join(
        f"""
[testenv:{tox_env(v)}]
base_python = python{v}
package = editable
deps = -r requirements-test.txt
commands = pytest -q
"""
        for v in pythons
    )
    return f"""\
# tox: the same envs; PIP_* and UV_* passed so installers see the wheelhouse.
[tox]
env_list = lint, {", ".join(tox_env(v) for v in pythons)}

[testenv]
pass_env = PIP_*, UV_*
{tests}
[testenv:lint]
base_python = python{PY}
skip_install = true
deps = ruff
commands = ruff check src tests

[testenv:noop]
base_python = python{PY}
skip_install = true
commands = python -c pass
"""


def pyproject_tables(requirements: Sequence[str]) -> str:
    """What the benchmark adds to the project's ``pyproject.toml``: ``[tool.uv]`` and hatch's envs.

    uv's project mode locks every dependency group for every platform and Python the project
    supports; ``environments`` narrows the lock to this machine's, which the wheelhouse serves.
    hatch's ``test`` env lists the requirements file's lines (hatch reads no requirements file);
    both envs use the uv installer and live in ``.hatch/`` in the project, like the others' envs.
    """
    deps = ", ".join(f'"{r}"' for r in requirements)
    return f"""
[tool.uv]
environments = ["sys_platform == '{sys.platform}' and python_version == '{PY}'"]

[tool.hatch.envs.test]
installer = "uv"
python = "{PY}"
path = ".hatch/test"
dependencies = [{deps}]

[tool.hatch.envs.noop]
installer = "uv"
python = "{PY}"
path = ".hatch/noop"
skip-install = true
"""


def make_project(work: Path, pythons: Sequence[str]) -> Path:
    """Copy ``example_project`` to ``work/project`` with every tool's config; return it.

    Dropped: build and cache directories and envs. Changed: ``[dependency-groups]`` keeps only
    ``test`` (so uv's lock needs nothing the wheelhouse lacks), ``[tool.uv]`` and hatch's envs
    are added; ``vrun.toml``, ``noxfile.py`` and ``tox.ini`` are written fresh.

    :param pythons: the test matrix: the running Python, then the second one if any.
    """
    project = work / "project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(
        EXAMPLE,
        project,
        ignore=shutil.ignore_patterns(
            ".venvs",
            ".venv",
            ".nox",
            ".tox",
            ".hatch",
            "__pycache__",
            "*.egg-info",
            ".*_cache",
            "build",
            "dist",
            "uv.lock",
            ".gitignore",
        ),
    )
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    text, count = re.subn(
        r"(?ms)^\[dependency-groups\]\n.*?(?=^\[)", '[dependency-groups]\ntest = ["pytest>=8"]\n\n', text
    )
    if count != 1:
        raise BenchError(f"no [dependency-groups] table followed by another table in {pyproject}")
    requirements = [
        line.strip()
        for line in (project / "requirements-test.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    pyproject.write_text(text + pyproject_tables(requirements))
    (project / "vrun.toml").write_text(vrun_toml(pythons))
    (project / "noxfile.py").write_text(noxfile(pythons))
    (project / "tox.ini").write_text(tox_ini(pythons))
    return project


def copy_project(template: Path, work: Path, name: str) -> Path:
    """A fresh copy of the project for one row family, at ``work/projects/<name>``."""
    dest = work / "projects" / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest)
    return dest


@dataclass(frozen=True)
class VrunFacts:
    """What ``vrun --help`` says about the installed vrun (read once, untimed)."""

    parallel: bool
    backend_help: str


def vrun_facts(vrun: str, env: Mapping[str, str]) -> VrunFacts:
    """Whether the installed vrun has ``-p/--parallel`` and what its ``--backend`` help says."""
    text = check([vrun, "--help"], env={**env, "COLUMNS": "400"})
    # The option's line, and its help text when argparse wrapped it onto the next line.
    match = re.search(r"(?m)^  (--backend\b.*(?:\n {3,}\S.*)?)", text)
    backend = re.sub(r"\s+", " ", match[1]).strip() if match else "(no --backend in vrun --help)"
    return VrunFacts(parallel="--parallel" in text, backend_help=backend)


# --- timing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row of a table: a command run in a project copy.

    :param label: the row's name.
    :param argv: the command.
    :param cwd: where it runs.
    :param reset: paths (relative to ``cwd``) removed before each run, untimed (cold builds).
    :param note: how the row differs from the plain tool, for the table.
    :param env: variables set for this row only.
    """

    label: str
    argv: tuple[str, ...]
    cwd: Path
    reset: tuple[str, ...] = ()
    note: str = ""
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class Sample:
    """One run: wall seconds and CPU seconds (user + system of the whole process tree, ``wait4``)."""

    wall: float
    cpu: float


@dataclass
class Result:
    """The samples of one :class:`Case`, or why it failed."""

    case: Case
    samples: list[Sample] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    error: str = ""

    def median(self) -> float:
        """Median wall time in seconds (``nan`` without samples)."""
        return statistics.median(s.wall for s in self.samples) if self.samples else float("nan")

    def minimum(self) -> float:
        """Fastest wall time in seconds."""
        return min(s.wall for s in self.samples) if self.samples else float("nan")

    def cpu(self) -> float:
        """Median CPU seconds."""
        return statistics.median(s.cpu for s in self.samples) if self.samples else float("nan")

    def rss_mib(self) -> float:
        """Median peak RSS in MiB."""
        return statistics.median(self.rss_kib) / 1024 if self.rss_kib else float("nan")


def run_once(case: Case, env: Mapping[str, str], log: Path) -> Sample:
    """Run ``case`` once, timed with ``perf_counter`` around start and ``wait4``.

    Output goes to ``log`` (appended), not a pipe, so no tool pays for a reader.

    :raises BenchError: the command exited non-zero (the log's tail is in the message).
    """
    for rel in case.reset:
        target = case.cwd / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(case.argv)}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(case.argv),
            cwd=case.cwd,
            env={**env, **dict(case.env)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"{case.label}: `{' '.join(case.argv)}` exited {proc.returncode}\n{tail}")
    return Sample(wall, usage.ru_utime + usage.ru_stime)


def measure(
    cases: Sequence[Case], *, reps: int, warmup: int, env: Mapping[str, str], logs: Path, title: str
) -> list[Result]:
    """Run every case ``warmup`` times untimed, then ``reps`` rounds, rotating the order each round.

    A case that fails is reported and dropped; the others go on.
    """
    results = [Result(case) for case in cases]
    logs.mkdir(parents=True, exist_ok=True)

    def log_of(result: Result) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", result.case.label).strip("-")
        return logs / f"{title}-{results.index(result)}-{slug}.log"

    def attempt(result: Result) -> Sample | None:
        if result.error:
            return None
        try:
            return run_once(result.case, env, log_of(result))
        except BenchError as exc:
            result.error = str(exc).splitlines()[0]
            print(f"  FAILED: {exc}", file=sys.stderr)
            return None

    for result in results:
        log_of(result).write_bytes(b"")
        for _ in range(warmup):
            attempt(result)
    for i in range(reps):
        k = i % len(results)
        for result in results[k:] + results[:k]:
            sample = attempt(result)
            if sample is not None:
                result.samples.append(sample)
        print(f"  {title}: round {i + 1}/{reps}", file=sys.stderr)
    return results


def measure_rss(results: Sequence[Result], *, runs: int, env: Mapping[str, str], logs: Path) -> bool:
    """Fill each result's ``rss_kib`` with ``runs`` peak-RSS readings of GNU time's ``%M``.

    ``%M`` is ``ru_maxrss`` of the process tree GNU time waited for: the largest resident set of
    any one process in it (the tool, or a command it ran), in KiB. It is not read from this
    script's own ``wait4``, because a child started with ``vfork`` (as Python's subprocess does)
    counts its parent's resident set before ``exec`` too.

    :returns: False (and measures nothing) when ``/usr/bin/time`` is missing.
    """
    if not os.access("/usr/bin/time", os.X_OK):
        return False
    out = logs / "rss.txt"
    for _ in range(runs):
        for result in results:
            if result.error:
                continue
            timed = Case(
                result.case.label,
                ("/usr/bin/time", "-f", "%M", "-o", str(out), *result.case.argv),
                result.case.cwd,
                env=result.case.env,
            )
            try:
                run_once(timed, env, logs / "rss.log")
            except BenchError as exc:
                result.error = f"peak RSS run: {str(exc).splitlines()[0]}"
                print(f"  FAILED: {exc}", file=sys.stderr)
                continue
            result.rss_kib.append(int(out.read_text().split()[-1]))
    return True


# --- the scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """Where everything is: tool venvs, project copies, environments, the optional pieces.

    :param pythons: the test matrix: the running Python, then the second one if any.
    :param ref: the second vrun (``--compare-ref``), if any.
    :param facts: what ``vrun --help`` says.
    """

    work: Path
    env: dict[str, str]
    projects: dict[str, Path]
    pythons: tuple[str, ...]
    ref: Ref | None
    facts: VrunFacts

    def bin(self, tool: str, name: str) -> str:
        """The path of executable ``name`` in tool ``tool``'s venv."""
        return str(self.work / "tools" / tool / "bin" / name)


#: The project copies, one per row family (a row that resets envs never shares one with another).
PROJECTS = (
    "vrun",
    "vrun-ref",
    "nox",
    "tox-uv",
    "hatch",
    "uv",
    "cold-vrun",
    "cold-vrun-nomemo",
    "cold-vrun-virtualenv",
    "cold-nox",
    "cold-tox-uv",
    "cold-hatch",
    "cold-uv",
    "ci-vrun",
    "ci-vrun-p",
    "ci-nox",
    "ci-tox-uv",
    "ci-tox-uv-p",
)
TEST = f"test-{PY}"
UV_RUN = ("run", "--python", PY, "--group", "test")
NOX_UV = ("-db", "uv")
#: vrun's full path (parse the config, compute the env key) instead of its plan cache.
NO_PLAN_CACHE = (("VRUN_PLAN_CACHE", "0"),)
#: A new env compiles its own bytecode instead of starting with what earlier envs compiled.
NO_BYTECODE_MEMO = (("VRUN_BYTECODE_CACHE", "0"),)


def prepare_cases(b: Bench) -> list[Case]:
    """Commands that build every env the warm scenarios reuse (run once each, untimed)."""
    p = b.projects
    cases = [
        Case("vrun", (b.bin("vrun", "vrun"), TEST, "noop"), p["vrun"]),
        Case("nox", (b.bin("nox", "nox"), *NOX_UV, "-s", TEST, "noop"), p["nox"]),
        Case("tox + tox-uv", (b.bin("tox-uv", "tox"), "run", "-e", f"{tox_env(PY)},noop"), p["tox-uv"]),
        Case("hatch", (b.bin("hatch", "hatch"), "run", "test:pytest", "-q"), p["hatch"]),
        Case("hatch", (b.bin("hatch", "hatch"), "run", "noop:python", "-c", "pass"), p["hatch"]),
        Case("uv run", (b.bin("uv", "uv"), *UV_RUN, "pytest", "-q"), p["uv"]),
    ]
    if b.ref:
        cases.append(Case(b.ref.label, (b.bin(b.ref.tool, "vrun"), "noop"), p["vrun-ref"]))
    return cases


def warm_noop_cases(b: Bench) -> list[Case]:
    """Scenario 1: a session whose env is ready and whose command is ``python -c pass``."""
    p = b.projects
    vrun = b.bin("vrun", "vrun")
    cases = [
        Case(
            "baseline: python -c pass",
            (str(p["vrun"] / ".venvs" / "noop" / "bin" / "python"), "-c", "pass"),
            p["vrun"],
            note="vrun's env, no tool",
        ),
        Case("vrun", (vrun, "noop"), p["vrun"]),
        Case("vrun", (vrun, "noop"), p["vrun"], note="VRUN_PLAN_CACHE=0", env=NO_PLAN_CACHE),
    ]
    if b.ref:
        cases.append(Case(b.ref.label, (b.bin(b.ref.tool, "vrun"), "noop"), p["vrun-ref"]))
    return [
        *cases,
        Case(
            "nox -R -db uv",
            (b.bin("nox", "nox"), "-R", *NOX_UV, "-s", "noop"),
            p["nox"],
            note="reuse env, skip installs",
        ),
        Case("tox + tox-uv", (b.bin("tox-uv", "tox"), "run", "-e", "noop"), p["tox-uv"]),
        Case(
            "hatch run noop:python -c pass",
            (b.bin("hatch", "hatch"), "run", "noop:python", "-c", "pass"),
            p["hatch"],
            note="uv installer",
        ),
        Case(
            "uv run",
            (b.bin("uv", "uv"), *UV_RUN, "python", "-c", "pass"),
            p["uv"],
            note="checks lock + env sync",
        ),
        Case(
            "uv run --no-sync",
            (b.bin("uv", "uv"), *UV_RUN, "--no-sync", "python", "-c", "pass"),
            p["uv"],
            note="no checks",
        ),
    ]


def warm_test_cases(b: Bench) -> list[Case]:
    """Scenario 2: the test session (``pytest -q``) in its ready env."""
    p = b.projects
    vrun = b.bin("vrun", "vrun")
    tox = b.bin("tox-uv", "tox")
    return [
        Case(
            "baseline: pytest -q",
            (str(p["vrun"] / ".venvs" / TEST / "bin" / "pytest"), "-q"),
            p["vrun"],
            note="vrun's env, no tool",
        ),
        Case("vrun", (vrun, TEST), p["vrun"]),
        Case("vrun", (vrun, TEST), p["vrun"], note="VRUN_PLAN_CACHE=0", env=NO_PLAN_CACHE),
        Case(
            "nox -R -db uv",
            (b.bin("nox", "nox"), "-R", *NOX_UV, "-s", TEST),
            p["nox"],
            note="reuse env, skip installs",
        ),
        Case(
            "nox -r -db uv",
            (b.bin("nox", "nox"), "-r", *NOX_UV, "-s", TEST),
            p["nox"],
            note="reuse env, re-run uv pip install",
        ),
        Case(
            "tox + tox-uv",
            (tox, "run", "-e", tox_env(PY)),
            p["tox-uv"],
            note="rebuilds + reinstalls the project",
        ),
        Case(
            "tox + tox-uv --skip-pkg-install",
            (tox, "run", "--skip-pkg-install", "-e", tox_env(PY)),
            p["tox-uv"],
        ),
        Case(
            "hatch run test:pytest -q",
            (b.bin("hatch", "hatch"), "run", "test:pytest", "-q"),
            p["hatch"],
            note="uv installer",
        ),
        Case("uv run", (b.bin("uv", "uv"), *UV_RUN, "pytest", "-q"), p["uv"], note="checks lock + env sync"),
        Case(
            "uv run --no-sync",
            (b.bin("uv", "uv"), *UV_RUN, "--no-sync", "pytest", "-q"),
            p["uv"],
            note="no checks",
        ),
    ]


def cold_cases(b: Bench) -> list[Case]:
    """Scenario 3: build the test env from nothing (package caches warm), then run ``pytest -q``."""
    p = b.projects
    vrun = b.bin("vrun", "vrun")
    return [
        Case("vrun", (vrun, TEST), p["cold-vrun"], reset=(".venvs",), note="default backend"),
        Case(
            "vrun, bytecode memo off",
            (vrun, TEST),
            p["cold-vrun-nomemo"],
            reset=(".venvs",),
            note="VRUN_BYTECODE_CACHE=0: as on a machine's first build",
            env=NO_BYTECODE_MEMO,
        ),
        Case(
            "vrun --backend virtualenv",
            (vrun, "--backend", "virtualenv", TEST),
            p["cold-vrun-virtualenv"],
            reset=(".venvs",),
            note="virtualenv + pip",
        ),
        Case(
            "nox -db uv",
            (b.bin("nox", "nox"), *NOX_UV, "-s", TEST),
            p["cold-nox"],
            reset=(".nox",),
            note="uv venv + uv pip",
        ),
        Case(
            "tox + tox-uv",
            (b.bin("tox-uv", "tox"), "run", "-e", tox_env(PY)),
            p["cold-tox-uv"],
            reset=(".tox",),
            note="uv venv + uv pip",
        ),
        Case(
            "hatch run test:pytest -q",
            (b.bin("hatch", "hatch"), "run", "test:pytest", "-q"),
            p["cold-hatch"],
            reset=(".hatch",),
            note="uv installer",
        ),
        Case(
            "uv run",
            (b.bin("uv", "uv"), *UV_RUN, "pytest", "-q"),
            p["cold-uv"],
            reset=(".venv", "uv.lock"),
            note="uv lock + uv sync",
        ),
    ]


def ci_cases(b: Bench) -> list[Case]:
    """Scenario 4: lint plus the tests on both Pythons, every env removed first (caches warm)."""
    p = b.projects
    vrun = b.bin("vrun", "vrun")
    names = ("lint", *(f"test-{v}" for v in b.pythons))
    tox_envs = ",".join(("lint", *(tox_env(v) for v in b.pythons)))
    tox = b.bin("tox-uv", "tox")
    cases = [Case("vrun", (vrun, *names), p["ci-vrun"], reset=(".venvs", ".ruff_cache"), note="serial")]
    if b.facts.parallel:
        cases.append(
            Case(
                "vrun -p auto",
                (vrun, "-p", "auto", *names),
                p["ci-vrun-p"],
                reset=(".venvs", ".ruff_cache"),
                note="parallel",
            )
        )
    return [
        *cases,
        Case(
            "nox -db uv",
            (b.bin("nox", "nox"), *NOX_UV, "-s", *names),
            p["ci-nox"],
            reset=(".nox", ".ruff_cache"),
            note="serial: nox has no parallel mode",
        ),
        Case(
            "tox + tox-uv run",
            (tox, "run", "-e", tox_envs),
            p["ci-tox-uv"],
            reset=(".tox", ".ruff_cache"),
            note="serial",
        ),
        Case(
            "tox + tox-uv p",
            (tox, "p", "-e", tox_envs),
            p["ci-tox-uv-p"],
            reset=(".tox", ".ruff_cache"),
            note="run-parallel",
        ),
    ]


# --- import profile -------------------------------------------------------------------------------

_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S.*)$")


@dataclass(frozen=True)
class ImportRow:
    """One module of ``-X importtime``: medians over runs, in microseconds."""

    module: str
    self_us: float
    cumulative_us: float
    parent: str


def import_profile(b: Bench, runs: int, extra: Mapping[str, str]) -> tuple[list[ImportRow], float]:
    """Run ``python -X importtime -m vrun noop`` (warm) ``runs`` times in vrun's venv.

    :param extra: variables added to the environment (``VRUN_PLAN_CACHE=0``: the full path).

    :returns: every module with its median self and cumulative time and the module that first
        imported it (``-X importtime`` prints children before their parent, one level deeper),
        and the median wall time of the whole run in seconds.
    """
    python = b.bin("vrun", "python")
    per_module: dict[str, list[tuple[int, int]]] = {}
    parents: dict[str, str] = {}
    walls: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(
            [python, "-X", "importtime", "-m", "vrun", "noop"],
            cwd=b.projects["vrun"],
            check=False,
            env={**b.env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise BenchError(
                f"vrun noop under -X importtime exited {proc.returncode}:\n{proc.stderr[-3000:]}"
            )
        if i == 0:
            continue  # warm-up
        walls.append(wall)
        rows = [m.groups() for m in map(_IMPORTTIME.match, proc.stderr.splitlines()) if m]
        depths = [(len(indent) - 1) // 2 for _, _, indent, _ in rows]
        for j, (self_us, cum_us, _, name) in enumerate(rows):
            per_module.setdefault(name, []).append((int(self_us), int(cum_us)))
            if name not in parents:
                parent = next((rows[k][3] for k in range(j + 1, len(rows)) if depths[k] < depths[j]), "")
                parents[name] = parent
    out = [
        ImportRow(
            name,
            statistics.median(s for s, _ in vals),
            statistics.median(c for _, c in vals),
            parents.get(name, ""),
        )
        for name, vals in per_module.items()
    ]
    return out, statistics.median(walls)


# --- report ---------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    """Seconds as whole milliseconds with thousands separators (``n/a`` for ``nan``)."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:,.0f}"


def ratio(a: float, b: float) -> str:
    """``a / b`` as ``1.23x`` (``n/a`` when either is missing or ``b`` is not positive)."""
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return "n/a"
    return f"{a / b:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int = 1) -> str:
    """A GitHub markdown table; the first ``text_columns`` columns left-aligned, the rest right."""
    align = [" --- "] * text_columns + [" ---: "] * (len(header) - text_columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def label_of(case: Case) -> str:
    """The row's label with its note in parentheses."""
    return f"{case.label} ({case.note})" if case.note else case.label


def warm_table(results: Sequence[Result], *, with_rss: bool) -> str:
    """Rows: median, min, overhead over the baseline (the first row), ratios to vrun, CPU, RSS."""
    base = results[0].median()
    vrun = next(r for r in results if r.case.label == "vrun" and not r.case.env).median()
    header = ["command", "median ms", "min ms", "overhead ms", "÷ vrun", "overhead ÷ vrun's", "CPU ms"]
    header += ["peak RSS MiB"] if with_rss else []
    rows = []
    for r in results:
        if r.error:
            rows.append([label_of(r.case), "failed", *[""] * (len(header) - 2)])
            continue
        first = r is results[0]
        over = r.median() - base
        row = [
            label_of(r.case),
            ms(r.median()),
            ms(r.minimum()),
            "—" if first else ms(over),
            "—" if first else ratio(r.median(), vrun),
            "—" if first else ratio(over, vrun - base),
            ms(r.cpu()),
        ]
        rows.append(row + ([f"{r.rss_mib():.1f}"] if with_rss else []))
    return table(header, rows)


def ratio_table(results: Sequence[Result], refs: Sequence[str]) -> str:
    """Rows: median, min, the median over each of the ``refs`` rows' (by label), CPU."""
    by = {r.case.label: r.median() for r in results if not r.error}
    header = ["command", "median ms", "min ms", *(f"÷ {name}" for name in refs), "CPU ms"]
    rows = []
    for r in results:
        if r.error:
            rows.append([label_of(r.case), "failed", *[""] * (len(header) - 2)])
            continue
        ratios = [ratio(r.median(), by.get(name, float("nan"))) for name in refs]
        rows.append([label_of(r.case), ms(r.median()), ms(r.minimum()), *ratios, ms(r.cpu())])
    return table(header, rows)


def paired(a: Result, b: Result) -> str:
    """The median over rounds of ``a``'s time ÷ ``b``'s in the same round, as ``1.23x``.

    Every round runs every row once, so the n-th samples of two rows come from the same round
    (a row that fails is dropped, and then this says ``n/a``): a per-round ratio cancels drift
    in the machine's load that lasts longer than a round.
    """
    if a.error or b.error or not a.samples or len(a.samples) != len(b.samples):
        return "n/a"
    return f"{statistics.median(x.wall / y.wall for x, y in zip(a.samples, b.samples)):.2f}x"


def cold_summary(results: Sequence[Result]) -> str:
    """One sentence: vrun's default cold test session against ``uv run`` and the issue's target."""
    by = {r.case.label: r for r in results}
    missing = Result(Case("", (), Path()), error="missing")
    vrun, uv = by.get("vrun", missing), by.get("uv run", missing)
    venv = by.get("vrun --backend virtualenv", missing)
    nomemo = by.get("vrun, bytecode memo off", missing)
    return (
        f"vrun's default cold test session ÷ `uv run`: **{ratio(vrun.median(), uv.median())}** "
        f"(median of the per-round ratios: {paired(vrun, uv)}; target: at most 1.00x, goal 0.60x). "
        f"With the bytecode memo off (a machine's first build): {ratio(nomemo.median(), uv.median())} "
        f"of `uv run` (per round: {paired(nomemo, uv)}). "
        f"`vrun --backend virtualenv` (the previous default) ÷ vrun's default: "
        f"{ratio(venv.median(), vrun.median())} (per round: {paired(venv, vrun)})."
    )


def compare_table(noop: Sequence[Result], ref: Ref) -> str:
    """Before/after: the warm no-op of ``vrun@REF`` and of this checkout's vrun, from the same rounds."""
    base = noop[0].median()
    before = next(r for r in noop if r.case.label == ref.label)
    after = next(r for r in noop if r.case.label == "vrun" and not r.case.env)
    rows = []
    for r in (before, after):
        if r.error:
            rows.append([label_of(r.case), "failed", "", "", "", ""])
            continue
        rows.append(
            [
                label_of(r.case),
                ms(r.median()),
                ms(r.minimum()),
                ms(r.median() - base),
                ms(r.cpu()),
                f"{r.rss_mib():.1f}",
            ]
        )
    header = ["command", "median ms", "min ms", "overhead ms", "CPU ms", "peak RSS MiB"]
    over_before, over_after = before.median() - base, after.median() - base
    return (
        f"{table(header, rows)}\n\n"
        f"After ÷ before: whole run {ratio(after.median(), before.median())} "
        f"(median of the per-round ratios: {paired(after, before)}), "
        f"overhead alone {ratio(over_after, over_before)} "
        f"({ms(over_before)} ms → {ms(over_after)} ms over the baseline's {ms(base)} ms).\n"
    )


#: Modules worth knowing about on the warm path, in groups: vrun's warm path (the plan cache
#: and the session loop), what only the full path needs (none of it on a plan-cache hit), what
#: only building an env needs (none of it may appear on a warm run), and the costlier stdlib.
WATCHED = (
    (
        "vrun's warm path",
        (
            "vrun.plan.cache",
            "vrun.inputs",
            "vrun.run.loop",
            "vrun.run.rules",
            "vrun.env.layout",
            "vrun.env.flock",
            "vrun.run.compose",
            "vrun.environ",
            "vrun.process",
            "vrun.output",
        ),
    ),
    (
        "vrun's full path only (planning)",
        # packaging.requirements: vrun.config.fields validates PEP 508 deps (the lint session's "ruff").
        (
            "vrun.cli",
            "vrun.plan.planner",
            "vrun.config.load",
            "vrun.plan.interpreters",
            "vrun.plan.envkey",
            "packaging.requirements",
        ),
    ),
    (
        "the build path only (must not appear)",
        (
            "vrun.env.build",
            "vrun.env.backends",
            "virtualenv",
            "python_discovery",
            "pip",
            "uv",
            "colorlog",
        ),
    ),
    (
        "stdlib",
        (
            "re",
            "subprocess",
            "tomllib",
            "json",
            "logging",
            "argparse",
            "dataclasses",
            "hashlib",
            "pathlib",
            "typing",
        ),
    ),
)


def where(row: ImportRow) -> str:
    """Who imported ``row``'s module: a module, or ``__main__``/a function body at run time."""
    return f"`{row.parent}`" if row.parent else "`__main__` or a function"


def import_tables(rows: Sequence[ImportRow], wall: float) -> str:
    """Top 15 modules by cumulative import time, top 10 by self time, and :data:`WATCHED`."""
    by_cum = sorted(rows, key=lambda r: -r.cumulative_us)[:15]
    by_self = sorted(rows, key=lambda r: -r.self_us)[:10]
    cum = table(
        ["#", "module", "imported by", "cumulative ms", "self ms"],
        [
            [
                str(i),
                f"`{r.module}`",
                where(r),
                f"{r.cumulative_us / 1000:.1f}",
                f"{r.self_us / 1000:.1f}",
            ]
            for i, r in enumerate(by_cum, 1)
        ],
        text_columns=3,
    )
    slf = table(
        ["#", "module", "imported by", "self ms", "cumulative ms"],
        [
            [
                str(i),
                f"`{r.module}`",
                where(r),
                f"{r.self_us / 1000:.1f}",
                f"{r.cumulative_us / 1000:.1f}",
            ]
            for i, r in enumerate(by_self, 1)
        ],
        text_columns=3,
    )
    found = {r.module: r for r in rows}
    watched = "\n".join(
        f"- {group}: "
        + ", ".join(
            f"`{name}` {found[name].cumulative_us / 1000:.1f} ms"
            if name in found
            else f"`{name}` not imported"
            for name in names
        )
        for group, names in WATCHED
    )
    total = sum(r.cumulative_us for r in rows if not r.parent) / 1000
    return (
        f"All imports: {total:.1f} ms (sum of the top-level ones) of {wall * 1000:.0f} ms for the whole "
        "`python -X importtime -m vrun noop` (which includes `python -c pass` in the env; "
        "`-X importtime` itself adds some overhead).\n\n"
        f"Top 15 by cumulative time (the module plus everything it imported first):\n\n{cum}\n\n"
        f"Top 10 by self time (the module's own body, without its imports):\n\n{slf}\n\n"
        f"Selected modules (cumulative time):\n\n{watched}\n"
    )


def git_revision() -> str:
    """``HEAD``'s short hash, ``+dirty`` when tracked files have changes; ``unknown`` without git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


@dataclass
class Run:
    """Everything one benchmark run produced, for :func:`report`."""

    args: argparse.Namespace
    versions: Mapping[str, str]
    bench: Bench
    noop: Sequence[Result]
    test: Sequence[Result]
    cold: Sequence[Result]
    ci: Sequence[Result]
    imports: list[str]
    loads: Mapping[str, tuple[float, float, float]]
    rss: bool
    elapsed: float

    def results(self) -> list[Result]:
        """Every row of every scenario."""
        return [*self.noop, *self.test, *self.cold, *self.ci]


def ci_section(run: Run) -> str:
    """Scenario 4's heading, what it ran, and its table (or why it was skipped)."""
    b = run.bench
    if len(b.pythons) < 2:
        return (
            "### 4. CI-shaped run: lint plus tests on two Pythons, from nothing\n\n"
            "Skipped: no second CPython 3.9+ in pyenv's versions directory "
            "(or `--second-python none`).\n"
        )
    names = " ".join(("lint", *(f"test-{v}" for v in b.pythons)))
    parallel = (
        ""
        if b.facts.parallel
        else "\nNo `vrun -p auto` row: the installed vrun has no `--parallel` (not in `vrun --help`).\n"
    )
    refs = ["vrun", "vrun -p auto"] if b.facts.parallel else ["vrun"]
    return f"""\
### 4. CI-shaped run: lint plus tests on {" and ".join(b.pythons)}, from nothing

Every env of the row's project copy and ruff's cache are removed before each run (untimed);
package caches are warm. Sessions: `{names}` (`ruff check src tests`; `pytest -q` with the
project editable on each Python).
{parallel}
{ratio_table(run.ci, refs)}
"""


def report(run: Run) -> str:
    """The whole markdown report of ``run``."""
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tools = "\n".join(f"- {name}: {v}" for name, v in run.versions.items())
    loads = ", ".join(f"{name} {a:.1f}→{b:.1f} ({t:.0f} s)" for name, (a, b, t) in run.loads.items())
    rss = (
        "*peak RSS* is GNU time's `%M`: the largest resident set of any one process in the tree "
        f"(median of {run.args.rss_runs} extra runs)."
        if run.rss
        else "*peak RSS*: n/a (no /usr/bin/time on this machine)."
    )
    a = run.args
    b = run.bench
    compare = (
        f"""
### Before/after: vrun@{b.ref.name} ({b.ref.commit[:10]}) against this checkout, warm no-op

The two rows of table 1, timed in the same rounds.

{compare_table(run.noop, b.ref)}"""
        if b.ref
        else ""
    )
    return f"""\
## Results

{when}; {platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs;
Python {platform.python_version()} ({sys.base_prefix}); vrun at {git_revision()};
{a.warm} warm no-op, {a.test} warm test, {a.cold} cold and {a.ci} CI repetitions (after warm-up runs);
whole benchmark {run.elapsed / 60:.1f} min. 1-minute load average at the start and end of each
scenario (and its duration): {loads}.

{tools}

vrun's `--backend` (from `vrun --help`): `{b.facts.backend_help}`.

Times are wall-clock milliseconds: median and fastest of the repetitions. *overhead* is the
median minus the baseline's median (the same command run directly in a ready env, no tool).
*÷ X* is the row's median over row X's (above 1: slower than X); *overhead ÷ vrun's*
compares the overheads alone. *CPU* is user + system time of the whole process tree (median).
{rss}

### 1. Warm no-op session (`python -c pass`, env ready): each tool's own overhead

{warm_table(run.noop, with_rss=True)}
{compare}
### 2. Warm test session (`pytest -q`, env ready)

{warm_table(run.test, with_rss=False)}

### 3. Cold test session: create the env, install pytest and the project editable, one `pytest -q`

The env's directory is removed before each run (untimed); package caches (pip's, uv's,
virtualenv's) are warm; every installer reads only the local wheelhouse.

{ratio_table(run.cold, ["vrun", "uv run"])}

{cold_summary(run.cold)}

{ci_section(run)}
### vrun's warm import profile (`python -X importtime -m vrun noop`, median of {a.import_runs} runs)

With the plan cache (the default: what a repeated `vrun noop` runs).

{run.imports[0]}
#### The same with `VRUN_PLAN_CACHE=0`

The full path: parse the config, resolve the interpreter from cached facts, compute the env's
key (what the first run after a config change does).

{run.imports[1]}"""


def update_readme(block: str) -> bool:
    """Replace the text between the README's results markers with ``block``; False without them."""
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else ""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    readme.write_text(text[: start + len(README_START)] + "\n" + block + "\n" + text[end:])
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, set up, measure, report; return the exit status (1 when anything failed)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (5/3/2/2); write no files")
    parser.add_argument("--warm", type=int, help="warm no-op repetitions (default 20; --quick 5)")
    parser.add_argument("--test", type=int, help="warm test repetitions (default 10; --quick 3)")
    parser.add_argument("--cold", type=int, help="cold test repetitions (default 5; --quick 2)")
    parser.add_argument("--ci", type=int, help="CI-shaped repetitions (default 5; --quick 2)")
    parser.add_argument("--rss-runs", type=int, default=5, help="peak-RSS runs per no-op row (default 5)")
    parser.add_argument("--import-runs", type=int, default=10, help="import-profile runs (default 10)")
    parser.add_argument(
        "--compare-ref",
        metavar="REF",
        help="also build vrun from this git ref and time its warm no-op next to this checkout's",
    )
    parser.add_argument(
        "--second-python",
        metavar="X.Y",
        help="the CI scenario's second Python from pyenv ('none': skip the scenario; default: pick one)",
    )
    parser.add_argument("--workdir", type=Path, help="work here and keep it (reuses tools, wheelhouse)")
    parser.add_argument("--reinstall", action="store_true", help="reinstall the tools in --workdir")
    parser.add_argument(
        "--write", action="store_true", help="write results.md and README.md even with --quick"
    )
    args = parser.parse_args(argv)
    args.warm = args.warm or (5 if args.quick else 20)
    args.test = args.test or (3 if args.quick else 10)
    args.cold = args.cold or (2 if args.quick else 5)
    args.ci = args.ci or (2 if args.quick else 5)

    began = time.perf_counter()
    temp = None if args.workdir else tempfile.mkdtemp(prefix="vrun-bench-")
    work = Path(temp) if temp else args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"working in {work}", file=sys.stderr)
    loads: dict[str, tuple[float, float, float]] = {}
    try:
        second = find_second_python(args.second_python)
        pythons = (PY, second[0]) if second else (PY,)
        online = base_environ(work, [second[1]] if second else [])
        # hatch refuses a HATCH_CONFIG that does not exist; an empty one means its defaults.
        Path(online["HATCH_CONFIG"]).parent.mkdir(parents=True, exist_ok=True)
        Path(online["HATCH_CONFIG"]).touch()
        versions = install_tools(work, online, reinstall=args.reinstall)
        ref = None
        if args.compare_ref:
            ref, versions[f"vrun@{args.compare_ref}"] = install_ref(
                work, online, args.compare_ref, reinstall=args.reinstall
            )
        wheelhouse = build_wheelhouse(work, online)
        env = offline_environ(online, wheelhouse)
        facts = vrun_facts(str(work / "tools" / "vrun" / "bin" / "vrun"), env)
        template = make_project(work, pythons)
        projects = {n: copy_project(template, work, n) for n in PROJECTS if n != "vrun-ref" or ref}
        bench = Bench(work, env, projects, pythons, ref, facts)
        logs = work / "logs"
        shutil.rmtree(logs, ignore_errors=True)  # this run's logs only
        logs.mkdir(parents=True)
        print(f"set up in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        if second is None:
            print("no second Python: the CI scenario is skipped", file=sys.stderr)
        if not facts.parallel:
            print("the installed vrun has no --parallel: no `vrun -p auto` row", file=sys.stderr)

        print("building the envs of the warm scenarios", file=sys.stderr)
        for i, case in enumerate(prepare_cases(bench)):
            try:
                run_once(case, env, logs / f"prepare-{i}-{case.cwd.name}.log")
            except BenchError as exc:  # its rows fail in their warm-ups; the others go on
                print(f"  FAILED: {exc}", file=sys.stderr)

        def scenario(name: str, cases: Sequence[Case], reps: int, warmup: int) -> list[Result]:
            print(f"scenario: {name}", file=sys.stderr)
            start, t0 = os.getloadavg()[0], time.perf_counter()
            results = measure(cases, reps=reps, warmup=warmup, env=env, logs=logs, title=name)
            loads[name] = (start, os.getloadavg()[0], time.perf_counter() - t0)
            return results

        noop = scenario("noop", warm_noop_cases(bench), args.warm, 2)
        print("peak RSS of the no-op rows", file=sys.stderr)
        rss = measure_rss(noop, runs=args.rss_runs, env=env, logs=logs)
        test = scenario("test", warm_test_cases(bench), args.test, 2)
        print("import profile", file=sys.stderr)
        profiles: list[str] = []
        for extra in ({}, dict(NO_PLAN_CACHE)):
            try:
                profiles.append(import_tables(*import_profile(bench, args.import_runs, extra)))
            except BenchError as exc:
                print(f"  FAILED: {exc}", file=sys.stderr)
                profiles.append(f"Failed: {str(exc).splitlines()[0]}\n")
        cold = scenario("cold", cold_cases(bench), args.cold, 1)
        ci = scenario("ci", ci_cases(bench), args.ci, 1) if second else []
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    run = Run(
        args,
        versions,
        bench,
        noop,
        test,
        cold,
        ci,
        profiles,
        loads,
        rss,
        time.perf_counter() - began,
    )
    text = report(run)
    print(text)
    if args.write or not args.quick:
        (HERE / "results.md").write_text(
            "# vrun benchmark results\n\n"
            "Written by `python benchmarks/run.py`; the method is in README.md.\n\n" + text
        )
        update_readme(text)
        print(f"wrote {HERE / 'results.md'} and the results block of {HERE / 'README.md'}", file=sys.stderr)
    failed = any(r.error for r in run.results()) or any(p.startswith("Failed:") for p in profiles)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
