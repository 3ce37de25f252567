"""The plan cache: a warm plain run repeats the full pipeline's work from a validated plan."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import Vrun, write_project
from vrun.config import BUILTIN_COMMANDS
from vrun.fastpath import _SUBCOMMANDS, split_argv

HEAVY = {"vrun.config", "vrun.workflow", "argparse", "logging", "tomllib", "dataclasses", "hashlib"}


def traced(vrun: Vrun, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run vrun under ``-X importtime``; return the process and the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vrun", *args],
        cwd=vrun.cwd,
        env={**vrun.env, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    modules = {
        line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")
    }
    proc.stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    return proc, modules


def normalized(stderr: str) -> list[str]:
    return [re.sub(r"\d+\.\d+s", "N.Ns", line) for line in stderr.splitlines()]


PROJECT = {
    "requirements.txt": "alpha==1.0\n",
    "vrun.toml": """
        [sessions.lint]
        install_project = false
        commands = ["python -c 'print(\\"lint ok\\")'"]
        [sessions.test]
        deps = ["-r requirements.txt", "greet"]
        install_project = false
        requires = ["lint"]
        env = { WHERE = "{env_dir}" }
        commands = ["greet {posargs:none}", "python -c 'import alpha, os; print(alpha.VERSION, os.environ[\\"WHERE\\"])'"]
        [sessions.fails]
        install_project = false
        commands = ["python -c 'raise SystemExit(3)'"]
        [sessions.nocmd]
        install_project = false
        commands = ["no-such-program-xyz"]
    """,
}


def test_subcommand_names_match_the_config_module() -> None:
    assert frozenset(BUILTIN_COMMANDS) == _SUBCOMMANDS


def test_only_plain_invocations_qualify() -> None:
    assert split_argv(["test", "lint", "--", "-x"]) == (["test", "lint"], ["-x"])
    assert split_argv([]) == ([], None)
    for argv in (["-v", "test"], ["test", "-r"], ["list"], ["shell", "test"], ["a b"], ["--color=never"]):
        assert split_argv(argv) is None, argv


def test_warm_run_skips_parsing_and_prints_what_the_full_path_prints(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    first = vrun("test", "--", "hi", check=0)
    assert "creating env test-" in first.stderr
    warm, modules = traced(vrun, "test", "--", "hi")
    assert warm.returncode == 0, warm.stderr
    assert "vrun.fastpath" in modules and not modules & HEAVY, modules & HEAVY
    full, full_modules = traced(vrun, "test", "--", "hi", VRUN_PLAN_CACHE="0")
    assert "vrun.config" in full_modules
    assert normalized(warm.stderr) == normalized(full.stderr)
    assert warm.stdout == full.stdout
    assert "greet: hi" in warm.stdout and "lint ok" in warm.stdout
    env_dir = next(p for p in (project / ".venvs").glob("test-*") if p.is_dir() and not p.is_symlink())
    assert f"1.0 {env_dir}" in warm.stdout  # set_env substitution on the fast path


def test_failures_and_missing_commands_behave_the_same_warm(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("fails", check=3)
    warm, modules = traced(vrun, "fails")
    assert warm.returncode == 3 and not modules & HEAVY
    assert "command failed with exit code 3" in warm.stderr and "failed" in warm.stderr.splitlines()[-1]
    vrun("nocmd", check=127)
    warm, modules = traced(vrun, "nocmd")
    assert warm.returncode == 127 and not modules & HEAVY
    assert "'no-such-program-xyz' not found in the env" in warm.stderr


def test_posargs_errors_still_come_from_the_full_path(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    bad = vrun("lint", "--", "-x", check=2)
    assert "session lint does not take posargs" in bad.stderr


def test_every_input_invalidates_the_plan(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    _, modules = traced(vrun, "lint")
    assert not modules & HEAVY
    # the config itself
    text = (project / "vrun.toml").read_text().replace("lint ok", "lint changed")
    (project / "vrun.toml").write_text(text)
    changed, modules = traced(vrun, "lint")
    assert "vrun.config" in modules and "lint changed" in changed.stdout
    # a pyproject.toml appearing beside it (it could hold [dependency-groups] or [project])
    _, modules = traced(vrun, "lint")
    assert not modules & HEAVY
    (project / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    _, modules = traced(vrun, "lint")
    assert "vrun.config" in modules
    # a config file appearing in a subdirectory we run from
    sub = project / "sub"
    sub.mkdir()
    Vrun(sub, vrun.env)("lint", check=0)
    _, modules = traced(Vrun(sub, vrun.env), "lint")
    assert not modules & HEAVY
    (sub / "vrun.toml").write_text(
        '[sessions.lint]\ninstall_project = false\ncommands = ["python -c \\"print(1)\\""]\n'
    )
    nested = Vrun(sub, vrun.env)("lint", check=0)
    assert "creating env lint-" in nested.stderr  # a new project root: its own .venvs/


def test_env_removed_or_rebuilt_behind_its_back(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    env_dir = next(p for p in (project / ".venvs").glob("lint-*") if p.is_dir() and not p.is_symlink())
    (env_dir / "vrun.json").unlink()
    again = vrun("lint", check=0)
    assert "previous build was incomplete" in again.stderr


def test_busy_lock_falls_back_to_the_full_path_which_waits(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    env_dir = next(p for p in (project / ".venvs").glob("lint-*") if p.is_dir() and not p.is_symlink())
    fd = os.open(f"{env_dir}.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a build or an `rm` would
    timer = threading.Timer(1.0, lambda: os.close(fd))
    timer.start()
    try:
        start = time.monotonic()
        run = vrun("lint", check=0)
    finally:
        timer.join()
    assert time.monotonic() - start >= 0.9
    assert "waiting for another vrun process" in run.stderr and "lint ok" in run.stdout


def test_github_actions_groups_on_both_paths(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun.env["GITHUB_ACTIONS"] = "true"
    cold = vrun("lint", check=0)
    warm = vrun("lint", check=0)
    for run in (cold, warm):
        assert run.stdout.splitlines()[0] == "::group::vrun lint"
        assert run.stdout.splitlines()[-1] == "::endgroup::"
