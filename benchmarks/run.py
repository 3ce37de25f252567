#!/usr/bin/env python3
"""Time vrun against nox, tox and uv on the same small project, in one run.

Usage::

    python benchmarks/run.py            # full: 20 no-op, 10 test, 5 cold repetitions; writes results
    python benchmarks/run.py --quick    # 5 / 3 / 2 repetitions; prints only (add --write to write)

Standard library only. It builds, in a temporary directory (or ``--workdir``):

- one venv per tool (vrun installed non-editable from this repository, nox, tox, tox with
  tox-uv, uv -- the others from PyPI at their current versions);
- one local wheelhouse with every distribution the test env needs, so that cold builds read
  no network for any tool;
- one small project (``example_project/`` with all four tools' configs), copied once per tool
  so that one tool's caches and build artefacts cannot help or hurt another's.

Then it times three scenarios, round-robin across the tools so drift hits all alike:
a warm no-op session, a warm ``pytest -q`` session, and a cold build of the test env. The
report (median, min, overhead over the bare command, ratio to vrun, CPU time, peak RSS) goes to
stdout and, for a full run, to ``benchmarks/results.md`` and the results block of
``benchmarks/README.md``. See that README for what is measured and why.
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
#: project's build backend (setuptools, wheel) and pip (for any tool that seeds it with uv).
WHEELHOUSE_REQS = ("pytest>=8", "attrs>=23.1", "setuptools>=64", "wheel", "pip")
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


class BenchError(Exception):
    """A setup step or a timed command failed; the message says which and shows its output."""


# --- the environment every tool runs in ----------------------------------------------------------


def base_environ(work: Path) -> dict[str, str]:
    """The environment of every timed command: the caller's, with this machine's traps removed.

    - ``PYTHONDONTWRITEBYTECODE`` is dropped: with it no tool's modules get ``.pyc`` files
      and every run recompiles them (a user's machine does not set it).
    - ``PIP_CONFIG_FILE=/dev/null`` ignores a machine-wide pip.conf (extra indexes), and
      ``PIP_FIND_LINKS``/``PIP_INDEX_URL``/``UV_*`` index settings of the caller are dropped.
    - Every cache (pip, uv, virtualenv's app-data, vrun's interpreter facts, XDG) lives under
      ``work/cache``, so the benchmark reads and writes nothing in the home directory.
    - The running interpreter's ``bin/`` leads ``PATH``, so every tool finds the same real
      ``python3.X`` (not a pyenv shim script, which costs a shell start per call).
    - ``VIRTUALENV_NO_PERIODIC_UPDATE`` stops virtualenv (used by vrun, nox and tox) from
      checking for new embedded wheels in the background.

    :param work: the benchmark's working directory.
    :returns: a new dict.
    """
    drop = {"PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("PIP_", "UV_", "VRUN_", "NOX_", "TOX_", "VIRTUALENV_"))
    }
    cache = work / "cache"
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p]
    env.update(
        PATH=os.pathsep.join([str(Path(sys.base_prefix) / "bin"), *path]),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CACHE_DIR=str(cache / "pip"),
        UV_CACHE_DIR=str(cache / "uv"),
        UV_PYTHON_DOWNLOADS="never",
        XDG_CACHE_HOME=str(cache / "xdg"),
        VIRTUALENV_OVERRIDE_APP_DATA=str(cache / "virtualenv"),
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
    )
    return env


def offline_environ(env: Mapping[str, str], wheelhouse: Path) -> dict[str, str]:
    """``env`` pointed at the local wheelhouse only, with the network made unreachable.

    pip reads ``PIP_NO_INDEX``/``PIP_FIND_LINKS`` (also inside its isolated build envs), uv reads
    ``UV_NO_INDEX``/``UV_FIND_LINKS``; all proxies point at :data:`DEAD_PROXY`.
    """
    out = dict(env)
    out.update(
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        UV_NO_INDEX="1",
        UV_FIND_LINKS=str(wheelhouse),
        UV_OFFLINE="1",
    )
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


# --- setup: tools, wheelhouse, project ------------------------------------------------------------


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
    Tool("vrun", ("vrun[uv]",), ("vrun", "virtualenv", "uv")),
    Tool("nox", ("nox[uv]",), ("nox", "virtualenv", "uv")),
    Tool("tox", ("tox",), ("tox", "virtualenv")),
    Tool("tox-uv", ("tox", "tox-uv"), ("tox", "tox-uv", "uv")),
    Tool("uv", ("uv",), ("uv",)),
)


def install_tools(work: Path, env: Mapping[str, str], *, reinstall: bool) -> dict[str, str]:
    """Create one venv per :data:`TOOLS` entry (reused when already complete); return versions.

    ``pip wheel`` first fetches (or, for vrun, builds) every tool's wheels into one directory, in
    one resolution, so each wheel crosses the network once; each venv then installs from that
    directory alone.

    :returns: ``{tool name: "dist version, dist version"}``.
    """
    wheels = work / "tool-wheels"
    if reinstall:
        shutil.rmtree(work / "tools", ignore_errors=True)
        shutil.rmtree(wheels, ignore_errors=True)
    if not all((work / "tools" / t.name / ".bench-installed").exists() for t in TOOLS):
        print("  fetching the tools' wheels (and building vrun's)", file=sys.stderr)
        others = sorted({spec for t in TOOLS for spec in t.install if not spec.startswith("vrun")})
        specs = [f"{REPO}[uv]", *others]
        check([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(wheels), *specs], env=env)
    versions: dict[str, str] = {}
    for tool in TOOLS:
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
        code = (
            "import importlib.metadata as m, sys\n"
            "print(', '.join(f'{d} {m.version(d)}' for d in sys.argv[1:]))"
        )
        versions[tool.name] = check([str(venv / "bin" / "python"), "-c", code, *tool.dists], env=env).strip()
    return versions


def build_wheelhouse(work: Path, env: Mapping[str, str]) -> Path:
    """``pip download`` :data:`WHEELHOUSE_REQS` (and their dependencies) into ``work/wheelhouse``.

    Done once, with the network; the timed cold builds then install from it alone.
    """
    wheelhouse = work / "wheelhouse"
    if not (wheelhouse / ".bench-complete").exists():
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
        (wheelhouse / ".bench-complete").write_text("ok\n")
    return wheelhouse


VRUN_TOML = f"""\
# vrun: the test session (deps from the requirements file, the project installed editable,
# vrun's default) and a no-op session with an empty env.
[sessions.test]
python = "{PY}"
deps = ["-r requirements-test.txt"]
commands = ["pytest -q"]

[sessions.noop]
python = "{PY}"
install_project = false
commands = ["python -c pass"]
"""

NOXFILE = f"""\
# nox: the same two sessions. One install call, as vrun makes one pip install.
import nox


@nox.session(python="{PY}")
def test(session: nox.Session) -> None:
    session.install("-r", "requirements-test.txt", "-e", ".")
    session.run("pytest", "-q")


@nox.session(python="{PY}")
def noop(session: nox.Session) -> None:
    session.run("python", "-c", "pass")
"""

TOX_INI = f"""\
# tox: the same two envs; PIP_* and UV_* passed so installers see the wheelhouse.
[tox]
env_list = test

[testenv]
base_python = python{PY}
pass_env = PIP_*, UV_*

[testenv:test]
package = editable
deps = -r requirements-test.txt
commands = pytest -q

[testenv:noop]
skip_install = true
commands = python -c pass
"""

#: uv's project mode locks every dependency group for every platform and Python the project
#: supports; ``environments`` narrows the lock to this machine's, which the wheelhouse serves.
UV_TABLE = f"""
[tool.uv]
environments = ["sys_platform == '{sys.platform}' and python_version == '{PY}'"]
"""


def make_project(work: Path) -> Path:
    """Copy ``example_project`` to ``work/project`` with every tool's config; return it.

    Dropped: build and cache directories and envs. Changed: ``[dependency-groups]`` keeps only
    ``test`` (so uv's lock needs nothing the wheelhouse lacks) and ``[tool.uv]`` is added;
    ``vrun.toml``, ``noxfile.py`` and ``tox.ini`` are written fresh.
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
    pyproject.write_text(text + UV_TABLE)
    (project / "vrun.toml").write_text(VRUN_TOML)
    (project / "noxfile.py").write_text(NOXFILE)
    (project / "tox.ini").write_text(TOX_INI)
    return project


def copy_project(template: Path, work: Path, name: str) -> Path:
    """A fresh copy of the project for one contender, at ``work/projects/<name>``."""
    dest = work / "projects" / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest)
    return dest


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
            run_once(timed, env, logs / "rss.log")
            result.rss_kib.append(int(out.read_text().split()[-1]))
    return True


# --- the scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """Where everything is: tool venvs, project copies, environments."""

    work: Path
    env: dict[str, str]
    projects: dict[str, Path]

    def bin(self, tool: str, name: str) -> str:
        """The path of executable ``name`` in tool ``tool``'s venv."""
        return str(self.work / "tools" / tool / "bin" / name)


UV_RUN = ("run", "--python", PY, "--group", "test")
#: vrun's full path (parse the config, compute the env key) instead of its plan cache.
NO_PLAN_CACHE = (("VRUN_PLAN_CACHE", "0"),)


def prepare_cases(b: Bench) -> list[Case]:
    """Commands that build every env the warm scenarios reuse (run once each, untimed)."""
    p = b.projects
    return [
        Case("vrun", (b.bin("vrun", "vrun"), "test", "noop"), p["vrun"]),
        Case("nox", (b.bin("nox", "nox"), "-s", "test", "noop"), p["nox"]),
        Case("tox", (b.bin("tox", "tox"), "run", "-e", "test,noop"), p["tox"]),
        Case("tox + tox-uv", (b.bin("tox-uv", "tox"), "run", "-e", "test,noop"), p["tox-uv"]),
        Case("uv run", (b.bin("uv", "uv"), *UV_RUN, "pytest", "-q"), p["uv"]),
    ]


def warm_noop_cases(b: Bench) -> list[Case]:
    """Scenario 1: a session whose env is ready and whose command is ``python -c pass``."""
    p = b.projects
    return [
        Case(
            "baseline: python -c pass",
            (str(p["vrun"] / ".venvs" / "noop" / "bin" / "python"), "-c", "pass"),
            p["vrun"],
            note="vrun's env, no tool",
        ),
        Case("vrun", (b.bin("vrun", "vrun"), "noop"), p["vrun"]),
        Case("vrun", (b.bin("vrun", "vrun"), "noop"), p["vrun"], note="VRUN_PLAN_CACHE=0", env=NO_PLAN_CACHE),
        Case("nox -R", (b.bin("nox", "nox"), "-R", "-s", "noop"), p["nox"], note="reuse env, skip installs"),
        Case("tox", (b.bin("tox", "tox"), "run", "-e", "noop"), p["tox"]),
        Case("tox + tox-uv", (b.bin("tox-uv", "tox"), "run", "-e", "noop"), p["tox-uv"]),
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
    return [
        Case(
            "baseline: pytest -q",
            (str(p["vrun"] / ".venvs" / "test" / "bin" / "pytest"), "-q"),
            p["vrun"],
            note="vrun's env, no tool",
        ),
        Case("vrun", (b.bin("vrun", "vrun"), "test"), p["vrun"]),
        Case("vrun", (b.bin("vrun", "vrun"), "test"), p["vrun"], note="VRUN_PLAN_CACHE=0", env=NO_PLAN_CACHE),
        Case("nox -R", (b.bin("nox", "nox"), "-R", "-s", "test"), p["nox"], note="reuse env, skip installs"),
        Case(
            "nox -r",
            (b.bin("nox", "nox"), "-r", "-s", "test"),
            p["nox"],
            note="reuse env, re-run pip install",
        ),
        Case(
            "tox",
            (b.bin("tox", "tox"), "run", "-e", "test"),
            p["tox"],
            note="rebuilds + reinstalls the project",
        ),
        Case(
            "tox --skip-pkg-install",
            (b.bin("tox", "tox"), "run", "--skip-pkg-install", "-e", "test"),
            p["tox"],
        ),
        Case(
            "tox + tox-uv",
            (b.bin("tox-uv", "tox"), "run", "-e", "test"),
            p["tox-uv"],
            note="rebuilds + reinstalls the project",
        ),
        Case(
            "tox + tox-uv --skip-pkg-install",
            (b.bin("tox-uv", "tox"), "run", "--skip-pkg-install", "-e", "test"),
            p["tox-uv"],
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
    return [
        Case("vrun", (b.bin("vrun", "vrun"), "test"), p["vrun"], reset=(".venvs",), note="virtualenv + pip"),
        Case(
            "vrun --backend uv",
            (b.bin("vrun", "vrun"), "--backend", "uv", "test"),
            p["vrun-uv"],
            reset=(".venvs",),
            note="uv venv + uv pip",
        ),
        Case("nox", (b.bin("nox", "nox"), "-s", "test"), p["nox"], reset=(".nox",), note="virtualenv + pip"),
        Case(
            "nox --force-venv-backend uv",
            (b.bin("nox", "nox"), "--force-venv-backend", "uv", "-s", "test"),
            p["nox-uv"],
            reset=(".nox",),
            note="uv venv + uv pip",
        ),
        Case(
            "tox",
            (b.bin("tox", "tox"), "run", "-e", "test"),
            p["tox"],
            reset=(".tox",),
            note="virtualenv + pip",
        ),
        Case(
            "tox + tox-uv",
            (b.bin("tox-uv", "tox"), "run", "-e", "test"),
            p["tox-uv"],
            reset=(".tox",),
            note="uv venv + uv pip",
        ),
        Case(
            "uv run",
            (b.bin("uv", "uv"), *UV_RUN, "pytest", "-q"),
            p["uv"],
            reset=(".venv", "uv.lock"),
            note="uv lock + uv sync",
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


def cold_table(results: Sequence[Result]) -> str:
    """Rows: median, min, ratio to vrun (virtualenv backend) and to vrun --backend uv, CPU."""
    by = {r.case.label: r.median() for r in results}
    rows = []
    for r in results:
        if r.error:
            rows.append([label_of(r.case), "failed", "", "", "", ""])
            continue
        rows.append(
            [
                label_of(r.case),
                ms(r.median()),
                ms(r.minimum()),
                ratio(r.median(), by["vrun"]),
                ratio(r.median(), by["vrun --backend uv"]),
                ms(r.cpu()),
            ]
        )
    return table(["command", "median ms", "min ms", "÷ vrun", "÷ vrun --backend uv", "CPU ms"], rows)


#: Modules worth knowing about on the warm path: what the design keeps off it (the build path's
#: virtualenv, python-discovery, pip, packaging's requirement parser) and the costlier stdlib ones.
WATCHED = (
    "virtualenv",
    "python_discovery",
    "pip",
    "packaging.requirements",
    "colorlog",
    "tomllib",
    "json",
    "logging",
    "subprocess",
    "argparse",
    "dataclasses",
    "hashlib",
    "pathlib",
    "typing",
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
    watched = ", ".join(
        f"`{name}` {found[name].cumulative_us / 1000:.1f} ms" if name in found else f"`{name}` not imported"
        for name in WATCHED
    )
    total = sum(r.cumulative_us for r in rows if not r.parent) / 1000
    return (
        f"All imports: {total:.1f} ms (sum of the top-level ones) of {wall * 1000:.0f} ms for the whole "
        "`python -X importtime -m vrun noop` (which includes `python -c pass` in the env; "
        "`-X importtime` itself adds some overhead).\n\n"
        f"Top 15 by cumulative time (the module plus everything it imported first):\n\n{cum}\n\n"
        f"Top 10 by self time (the module's own body, without its imports):\n\n{slf}\n\n"
        f"Selected modules (cumulative): {watched}.\n"
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
    noop: Sequence[Result]
    test: Sequence[Result]
    cold: Sequence[Result]
    imports: list[str]
    loads: Mapping[str, tuple[float, float]]
    rss: bool
    elapsed: float


def report(run: Run) -> str:
    """The whole markdown report of ``run``."""
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tools = "\n".join(f"- {name}: {v}" for name, v in run.versions.items())
    loads = ", ".join(f"{name} {a:.1f}→{b:.1f}" for name, (a, b) in run.loads.items())
    rss = (
        "*peak RSS* is GNU time's `%M`: the largest resident set of any one process in the tree "
        f"(median of {run.args.rss_runs} extra runs)."
        if run.rss
        else "*peak RSS*: n/a (no /usr/bin/time on this machine)."
    )
    a = run.args
    return f"""\
## Results

{when}; {platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs;
Python {platform.python_version()} ({sys.base_prefix}); vrun at {git_revision()};
{a.warm} warm no-op, {a.test} warm test and {a.cold} cold repetitions (after warm-up runs);
whole benchmark {run.elapsed / 60:.1f} min. 1-minute load average at the start and end of each
scenario: {loads}.

{tools}

Times are wall-clock milliseconds: median and fastest of the repetitions. *overhead* is the
median minus the baseline's median (the same command run directly in a ready env, no tool).
*÷ vrun* is the row's median over vrun's (above 1: slower than vrun); *overhead ÷ vrun's*
compares the overheads alone. *CPU* is user + system time of the whole process tree (median).
{rss}

### 1. Warm no-op session (`python -c pass`, env ready): each tool's own overhead

{warm_table(run.noop, with_rss=True)}

### 2. Warm test session (`pytest -q`, 102 tests, env ready)

{warm_table(run.test, with_rss=False)}

### 3. Cold build of the test env (venv + pytest + editable project) and one `pytest -q`

The env's directory is removed before each run (untimed); package caches (pip's, uv's,
virtualenv's) are warm; every installer reads only the local wheelhouse.

{cold_table(run.cold)}

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
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (5/3/2); write no files")
    parser.add_argument("--warm", type=int, help="warm no-op repetitions (default 20; --quick 5)")
    parser.add_argument("--test", type=int, help="warm test repetitions (default 10; --quick 3)")
    parser.add_argument("--cold", type=int, help="cold build repetitions (default 5; --quick 2)")
    parser.add_argument("--rss-runs", type=int, default=5, help="peak-RSS runs per no-op row (default 5)")
    parser.add_argument("--import-runs", type=int, default=10, help="import-profile runs (default 10)")
    parser.add_argument("--workdir", type=Path, help="work here and keep it (reuses tools, wheelhouse)")
    parser.add_argument("--reinstall", action="store_true", help="reinstall the tools in --workdir")
    parser.add_argument(
        "--write", action="store_true", help="write results.md and README.md even with --quick"
    )
    args = parser.parse_args(argv)
    args.warm = args.warm or (5 if args.quick else 20)
    args.test = args.test or (3 if args.quick else 10)
    args.cold = args.cold or (2 if args.quick else 5)

    began = time.perf_counter()
    temp = None if args.workdir else tempfile.mkdtemp(prefix="vrun-bench-")
    work = Path(temp) if temp else args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"working in {work}", file=sys.stderr)
    loads: dict[str, tuple[float, float]] = {}
    try:
        online = base_environ(work)
        versions = install_tools(work, online, reinstall=args.reinstall)
        wheelhouse = build_wheelhouse(work, online)
        env = offline_environ(online, wheelhouse)
        template = make_project(work)
        names = ("vrun", "vrun-uv", "nox", "nox-uv", "tox", "tox-uv", "uv")
        bench = Bench(work, env, {n: copy_project(template, work, n) for n in names})
        logs = work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        print(f"set up in {time.perf_counter() - began:.0f} s", file=sys.stderr)

        print("building the envs of the warm scenarios", file=sys.stderr)
        for case in prepare_cases(bench):
            run_once(case, env, logs / f"prepare-{case.cwd.name}.log")

        def scenario(name: str, cases: Sequence[Case], reps: int, warmup: int) -> list[Result]:
            print(f"scenario: {name}", file=sys.stderr)
            start = os.getloadavg()[0]
            results = measure(cases, reps=reps, warmup=warmup, env=env, logs=logs, title=name)
            loads[name] = (start, os.getloadavg()[0])
            return results

        noop = scenario("noop", warm_noop_cases(bench), args.warm, 2)
        print("peak RSS of the no-op rows", file=sys.stderr)
        rss = measure_rss(noop, runs=args.rss_runs, env=env, logs=logs)
        test = scenario("test", warm_test_cases(bench), args.test, 2)
        print("import profile", file=sys.stderr)
        profiles = [import_profile(bench, args.import_runs, extra) for extra in ({}, dict(NO_PLAN_CACHE))]
        cold = scenario("cold", cold_cases(bench), args.cold, 1)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    run = Run(
        args,
        versions,
        noop,
        test,
        cold,
        [import_tables(rows, wall) for rows, wall in profiles],
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
    return 1 if any(r.error for r in (*noop, *test, *cold)) else 0


if __name__ == "__main__":
    sys.exit(main())
