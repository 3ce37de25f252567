#!/usr/bin/env python3
"""Time vrun against tox with tox-uv on real third-party projects, as `vrun init` translates them.

Usage::

    python benchmarks/realprojects.py               # 5 paired rounds per project; prints the tables
    python benchmarks/realprojects.py --runs 3 --projects itsdangerous,tabulate
    python benchmarks/realprojects.py --workdir /tmp/vr --write   # keep the work; write realprojects.md

Each project is the sdist of a real PyPI release, unpacked twice: one copy keeps only its own
tox configuration and runs ``tox run -e ENV``; the other gets ``vrun init`` (its output, no
edit) and runs the session init made of that tox env. Both tools use the same uv (one
``pip wheel`` resolution, see ``run.install_tools``) and the running Python.

Two scenarios, each timed in paired rounds (vrun and tox back to back, the order alternating
every round, so the machine's drift hits both alike):

- **cold**: the env folder (``.venvs``, ``.tox``) is removed before each run; package caches are
  warm (uv's, and vrun's own build cache: a wheel built from unchanged sources is reused, as
  ``tox`` reuses nothing). The first, untimed round fills them, with the network.
- **warm**: the envs exist; each run checks them and runs the project's suite.

Timed runs are offline: ``UV_OFFLINE=1`` and every proxy pointed at a dead port, so a tool that
tries the network fails instead of timing it (uv's cache holds what the untimed round fetched;
the package proxy here strips HTTP cache headers, so an online run would re-download). Like
``run.py``, it drops ``PYTHONDONTWRITEBYTECODE`` (this machine sets it; users do not), reads no
pip config and keeps every cache in the work directory. Every run must exit 0; its log is in
``<workdir>/logs``. Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  (benchmarks/run.py: the shared machinery)

TOOLS = tuple(t for t in bench.TOOLS if t.name in ("vrun", "tox-uv"))
RESULTS = HERE / "realprojects.md"


@dataclass(frozen=True)
class Project:
    """A real project: its sdist on PyPI, the tox env to time, and what it exercises.

    :param name: the distribution name on PyPI.
    :param version: the release.
    :param tox_env: the env ``tox run -e`` runs; the vrun session is the one ``vrun init`` made
        of it (found in ``vrun list --json`` by :func:`vrun_session`).
    :param note: what the project's tox config does that vrun must take as it is.
    """

    name: str
    version: str
    tox_env: str
    note: str


PROJECTS = (
    Project("itsdangerous", "2.2.0", "py311", "`package = wheel`, `-r requirements/tests.txt`"),
    Project("tabulate", "0.10.0", "py311", "tox's default packaging (an sdist), `--doctest-modules`"),
    Project("humanize", "4.17.0", "py311", "`package = editable`, `extras`, `commands_pre`"),
    Project("structlog", "26.1.0", "3.11-tests", "factor envs, `package = wheel`, dependency groups"),
)


#: pytest's last line: ``==== 297 passed, 2 skipped in 0.72s ====`` (the counts are group 1).
SUMMARY = re.compile(r"^=+ (\d+ \w+.*?) in [\d.]+s(?: \([^)]*\))? =+$", re.MULTILINE)


def outcome(log: Path) -> str:
    """The counts of the last pytest summary line in ``log`` (``297 passed``), or ``?``."""
    found = SUMMARY.findall(log.read_text(errors="replace"))
    return str(found[-1]) if found else "?"


@dataclass
class Pair:
    """One scenario of one project: the paired samples of vrun and of tox, in seconds, and the
    test counts each tool's last run reported (both must agree for the times to compare)."""

    project: Project
    scenario: str
    vrun: list[float] = field(default_factory=list)
    tox: list[float] = field(default_factory=list)
    counts: dict[str, str] = field(default_factory=dict)

    def ratios(self) -> list[float]:
        """vrun / tox for each round."""
        return [v / t for v, t in zip(self.vrun, self.tox)]


def fetch_sdist(work: Path, project: Project, env: Mapping[str, str]) -> Path:
    """``pip download`` the project's sdist into ``work/sdists`` (once); return the archive."""
    sdists = work / "sdists"
    found = sorted(sdists.glob(f"{project.name}-{project.version}.tar.gz"))
    if found:
        return found[0]
    bench.check(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary=:all:",
            "-d",
            str(sdists),
            f"{project.name}=={project.version}",
        ],
        env=env,
    )
    return next(iter(sorted(sdists.glob(f"{project.name}-{project.version}.tar.gz"))))


def unpack(archive: Path, into: Path) -> Path:
    """Unpack the sdist fresh into ``into`` (its one top folder becomes ``into``)."""
    shutil.rmtree(into, ignore_errors=True)
    staging = into.with_name(into.name + ".unpack")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(staging, filter="data")
        else:
            tar.extractall(staging)  # a PyPI sdist we chose; no filter= before 3.12
    (top,) = staging.iterdir()
    top.rename(into)
    staging.rmdir()
    return into


def vrun_session(vrun: str, cwd: Path, env: Mapping[str, str], tox_env: str) -> str:
    """The session ``vrun init`` made of ``tox_env``: the one named so, else the matrix entry
    whose name holds the env's factors on this Python (``py311`` -> ``*-3.11``)."""
    proc = subprocess.run(
        [vrun, "list", "--json"], env=dict(env), cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise bench.BenchError(f"vrun list --json failed in {cwd}:\n{proc.stdout}{proc.stderr}")
    listing = json.loads(proc.stdout)
    names = [str(entry["name"]) for entry in listing]
    if tox_env in names:
        return tox_env
    factors = tox_env.replace("py3", "3.").split("-")
    for name in names:
        if all(f in name.split("-") for f in factors):
            return name
    raise bench.BenchError(f"vrun init made no session for tox env {tox_env} in {cwd}: {names}")


def prepare(work: Path, project: Project, online: Mapping[str, str]) -> tuple[Path, Path, str, str]:
    """Unpack two copies, run ``vrun init`` in one; return (vrun copy, tox copy, session, init output)."""
    archive = fetch_sdist(work, project, online)
    base = work / "projects" / project.name
    vrun_copy = unpack(archive, base / "vrun")
    tox_copy = unpack(archive, base / "tox")
    vrun = str(work / "tools" / "vrun" / "bin" / "vrun")
    said = bench.check([vrun, "init"], env=online, cwd=vrun_copy)
    return vrun_copy, tox_copy, vrun_session(vrun, vrun_copy, online, project.tox_env), said


def timed(argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, reset: str | None) -> float:
    """One run, with ``reset`` (an env folder) removed first, untimed; wall seconds."""
    case = bench.Case(argv[0], tuple(argv), cwd, reset=(reset,) if reset else ())
    return bench.run_once(case, env, log).wall


def measure(
    work: Path, project: Project, runs: int, online: Mapping[str, str], offline: Mapping[str, str]
) -> list[Pair]:
    """Prime both tools online (untimed), then ``runs`` paired cold rounds and warm rounds."""
    vrun_copy, tox_copy, session, said = prepare(work, project, online)
    print(f"  {project.name}: vrun init -> session {session}", file=sys.stderr)
    (work / "logs" / f"{project.name}-init.log").write_text(said)
    vrun = (str(work / "tools" / "vrun" / "bin" / "vrun"), session)
    tox = (str(work / "tools" / "tox-uv" / "bin" / "tox"), "run", "-e", project.tox_env)
    logs = work / "logs"
    rows = {"vrun": (vrun, vrun_copy, ".venvs"), "tox": (tox, tox_copy, ".tox")}
    for tool, (argv, cwd, _) in rows.items():  # fill uv's cache (and vrun's) with the network
        timed(argv, cwd, online, logs / f"{project.name}-prime-{tool}.log", None)
    pairs = []
    for scenario in ("cold", "warm"):
        pair = Pair(project, scenario)
        for i in range(runs):
            order = ("vrun", "tox") if i % 2 == 0 else ("tox", "vrun")
            for tool in order:
                argv, cwd, folder = rows[tool]
                log = logs / f"{project.name}-{scenario}-{tool}.log"
                seconds = timed(argv, cwd, offline, log, folder if scenario == "cold" else None)
                getattr(pair, tool).append(seconds)
            print(f"  {project.name} {scenario}: round {i + 1}/{runs}", file=sys.stderr)
        pair.counts = {t: outcome(logs / f"{project.name}-{scenario}-{t}.log") for t in rows}
        pairs.append(pair)
    return pairs


def report(pairs: Sequence[Pair], versions: Mapping[str, str], runs: int, took: float) -> str:
    """The markdown report: one row per project and scenario, medians and ratios."""
    rows = []
    for p in pairs:
        vrun, tox = statistics.median(p.vrun), statistics.median(p.tox)
        rows.append(
            [
                f"{p.project.name} {p.project.version}",
                p.scenario,
                bench.ms(vrun),
                bench.ms(tox),
                bench.ratio(vrun, tox),
                f"{statistics.median(p.ratios()):.2f}x",
                f"{max(p.ratios()):.2f}x",
                p.counts.get("vrun", "?"),
                p.counts.get("tox", "?"),
            ]
        )
    header = [
        "project",
        "scenario",
        "vrun ms",
        "tox + tox-uv ms",
        "ratio of medians",
        "median ratio",
        "worst ratio",
        "vrun's pytest",
        "tox's pytest",
    ]
    projects = "\n".join(
        f"- **{p.name} {p.version}**: `tox run -e {p.tox_env}`; {p.note}."
        for p in dict.fromkeys(pair.project for pair in pairs)
    )
    return "\n".join(
        [
            "# vrun against tox + tox-uv on real projects",
            "",
            f"Run on {datetime.date.today().isoformat()}, {platform.system()} {platform.machine()},"
            f" {os.cpu_count()} cores, Python {platform.python_version()}; {runs} paired rounds per scenario"
            f" ({took / 60:.0f} min in all). Made by `python benchmarks/realprojects.py`; see its docstring.",
            "",
            f"Versions: vrun: {versions.get('vrun', '?')}; tox: {versions.get('tox-uv', '?')}.",
            "",
            projects,
            "",
            bench.table(header, rows, text_columns=2),
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, set up, measure, report; the exit status is 1 when a run failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="paired rounds per scenario (default 5)")
    parser.add_argument(
        "--projects",
        default=",".join(p.name for p in PROJECTS),
        help=f"comma-separated, from: {', '.join(p.name for p in PROJECTS)}",
    )
    parser.add_argument("--workdir", type=Path, help="work here and keep it (reuses tools and sdists)")
    parser.add_argument("--reinstall", action="store_true", help="reinstall the tools in --workdir")
    parser.add_argument("--write", action="store_true", help=f"write the report to {RESULTS.name}")
    args = parser.parse_args(argv)
    chosen = [p for p in PROJECTS if p.name in args.projects.split(",")]
    if not chosen:
        parser.error(f"--projects: none of {args.projects!r} is known")
    began = time.perf_counter()
    temp = None if args.workdir else tempfile.mkdtemp(prefix="vrun-real-")
    work = Path(temp) if temp else args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"working in {work}", file=sys.stderr)
    try:
        online = bench.base_environ(work)
        versions = bench.install_tools(work, online, reinstall=args.reinstall, tools=TOOLS)
        offline = bench.no_network(online)
        shutil.rmtree(work / "logs", ignore_errors=True)
        (work / "logs").mkdir()
        pairs: list[Pair] = []
        for project in chosen:
            pairs += measure(work, project, args.runs, online, offline)
        text = report(pairs, versions, args.runs, time.perf_counter() - began)
        print(text)
        if args.write:
            RESULTS.write_text(text)
        return 0
    except bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
