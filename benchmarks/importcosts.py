#!/usr/bin/env python3
"""Measure what imports cost: the numbers of benchmarks/README.md, "Import costs".

Usage::

    python benchmarks/importcosts.py                 # 15 rounds, this interpreter and its vrun
    python benchmarks/importcosts.py --runs 31 --python /path/to/venv/bin/python

Two tables, in Markdown, on stdout:

1. **A module alone**: ``PYTHON -X importtime -c "import MODULE"`` in a fresh interpreter, the
   cumulative time of every top-level import that Python's start-up does not make (what the first
   importer of MODULE pays). Rounds run every module once, so drift hits all alike; the median and
   the fastest of the rounds are given.
2. **A warm run**: ``PYTHON -X importtime VRUN noop`` (the ``vrun`` script beside PYTHON) in a
   throwaway project whose env is ready and whose plan is stored, the cumulative time of each
   vrun module and of the standard-library modules start-up has not loaded.

Give it a venv where vrun is installed **non-editable** (as benchmarks/run.py does): its ``.pyc``
files were compiled at install time. ``PYTHONDONTWRITEBYTECODE`` is dropped from the children's
environment, as benchmarks/run.py drops it. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: The modules whose cost a comment in src/vrun points at, and the costlier ones vrun keeps off
#: its warm path (benchmarks/README.md, "Import costs").
MODULES = (
    "typing",
    "collections.abc",
    "signal",
    "enum",
    "re",
    "fnmatch",
    "shlex",
    "pathlib",
    "urllib.parse",
    "dataclasses",
    "json",
    "subprocess",
    "hashlib",
    "logging",
    "argparse",
    "tomllib",
    "packaging.requirements",
    "python_discovery",
    "virtualenv",
)


def _lines(stderr: str) -> list[tuple[int, int, str]]:
    """``(depth, cumulative µs, module)`` of each ``-X importtime`` line."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _self, cumulative, name = line[len("import time:") :].split("|")
        rows.append(((len(name) - len(name.lstrip()) - 1) // 2, int(cumulative), name.strip()))
    return rows


def _importtime(argv: list[str], env: dict[str, str], cwd: str) -> list[tuple[int, int, str]]:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return _lines(proc.stderr)


def alone(python: str, runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Milliseconds of ``import MODULE`` in a fresh interpreter, per round, per module."""
    startup = {name for _, _, name in _importtime([python, "-X", "importtime", "-c", "pass"], env, "/")}
    found: dict[str, list[float]] = {m: [] for m in MODULES}
    for _ in range(runs):
        for module in MODULES:
            rows = _importtime([python, "-X", "importtime", "-c", f"import {module}"], env, "/")
            found[module].append(sum(c for d, c, n in rows if d == 0 and n not in startup) / 1000)
    return found


def warm_run(python: str, runs: int, env: dict[str, str]) -> tuple[dict[str, list[float]], list[float]]:
    """Milliseconds of each module a warm ``vrun noop`` imports (vrun's, and the standard library's
    that start-up has not loaded), per run; and the sum of the top-level ones, per run."""
    vrun = str(Path(python).with_name("vrun"))
    startup = {name for _, _, name in _importtime([python, "-X", "importtime", "-c", "pass"], env, "/")}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp, "project")
        project.mkdir()
        (project / "vrun.toml").write_text(
            '[sessions.noop]\ninstall_project = false\ncommands = ["python -c pass"]\n', encoding="utf-8"
        )
        env = {**env, "VRUN_CACHE_DIR": str(Path(tmp, "cache"))}
        for _ in range(2):  # build the env, then store the plan of a run that built nothing
            subprocess.run([python, vrun, "noop"], env=env, cwd=project, capture_output=True, check=True)
        found: dict[str, list[float]] = {}
        totals = []
        for _ in range(runs):
            rows = _importtime([python, "-X", "importtime", vrun, "noop"], env, str(project))
            totals.append(sum(c for d, c, n in rows if d == 0 and n not in startup) / 1000)
            for _depth, cumulative, name in rows:
                if name not in startup:
                    found.setdefault(name, []).append(cumulative / 1000)
    return found, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter of a venv holding vrun")
    parser.add_argument("--runs", type=int, default=15, help="rounds (default: 15)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Python {version}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, ")
    print(f"{args.runs} rounds, 1-minute load average {load:.1f} at the start.\n")
    print("| module | imported alone: median ms | fastest ms |")
    print("| --- | ---: | ---: |")
    for module, times in alone(args.python, args.runs, env).items():
        print(f"| `{module}` | {statistics.median(times):.1f} | {min(times):.1f} |")
    found, totals = warm_run(args.python, args.runs, env)
    median, fastest = statistics.median(totals), min(totals)
    print(f"\nA warm `vrun noop`: {median:.1f} ms of imports (median; fastest {fastest:.1f}).\n")
    print("| module | cumulative: median ms |")
    print("| --- | ---: |")
    for name, times in found.items():
        print(f"| `{name}` | {statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
