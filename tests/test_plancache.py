"""The plan cache: a warm run hands a stored plan, still valid, to the same session loop.

"Warm" is detected from the outside: vrun runs under ``python -X importtime`` and a warm run never
imports :mod:`vrun.config.load` (planning does).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import vrun as vrun_package
from tests.conftest import Vrun, import_trace, write_project

#: Modules only planning imports: a warm run imports none of them.
HEAVY = {
    "vrun.config.load",
    "vrun.plan.planner",
    "vrun.commands.sessions",
    "vrun.cli",
    "argparse",
    "tomllib",
    "hashlib",
}


def traced(vrun: Vrun, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run vrun under ``-X importtime``; return the process (stderr without the import lines) and
    the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vrun", *args],
        cwd=vrun.cwd,
        env={**vrun.env, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    modules, proc.stderr = import_trace(proc.stderr)
    return proc, modules


def warm(modules: set[str]) -> bool:
    """Whether a traced run was served from the plan cache."""
    return "vrun.plan.cache" in modules and not modules & HEAVY


def normalized(stderr: str) -> list[str]:
    return [re.sub(r"\d+\.\d+s", "N.Ns", line) for line in stderr.splitlines()]


def plans(env: dict[str, str]) -> list[Path]:
    folder = Path(env["VRUN_CACHE_DIR"]) / "plans"
    return sorted(folder.glob("*.marshal")) if folder.is_dir() else []


@pytest.fixture
def vrun(project: Path, offline_env: dict[str, str], tmp_path: Path) -> Vrun:
    """A :class:`Vrun` with a plan cache of its own (the interpreter cache stays shared)."""
    (tmp_path / "vrun-cache").mkdir()
    shared = Path(offline_env["VRUN_CACHE_DIR"]) / "interpreters.json"
    if shared.exists():
        shutil.copy(shared, tmp_path / "vrun-cache" / shared.name)
    return Vrun(project, {**offline_env, "VRUN_CACHE_DIR": str(tmp_path / "vrun-cache")})


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


def test_only_plain_invocations_qualify() -> None:
    from vrun.plan.cache import parse

    assert parse(["test", "lint", "--", "-x"]) == (["test", "lint"], ["-x"])
    assert parse([]) == ([], None)
    for argv in (["-v", "test"], ["test", "-r"], ["a b"], ["--color=never"], ["-k", "x"], ["+x"]):
        assert parse(argv) is None, argv


def test_subcommands_and_flags_are_never_served_warm(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    assert warm(traced(vrun, "lint")[1])
    for args in (["-q", "lint"], ["lint", "-r"], ["list"], ["path", "lint"]):
        proc, modules = traced(vrun, *args)
        assert proc.returncode == 0, proc.stderr
        assert not warm(modules), args


def test_warm_run_prints_exactly_what_the_full_path_prints(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    first = vrun("test", "--", "hi", check=0)
    assert "creating env test-" in first.stderr
    hot, modules = traced(vrun, "test", "--", "hi")
    assert hot.returncode == 0, hot.stderr
    assert warm(modules), modules & HEAVY
    full, full_modules = traced(vrun, "test", "--", "hi", VRUN_PLAN_CACHE="0")
    assert "vrun.config.load" in full_modules
    assert normalized(hot.stderr) == normalized(full.stderr)
    assert hot.stdout == full.stdout
    assert "greet: hi" in hot.stdout and "lint ok" in hot.stdout
    env_dir = next(p for p in (project / ".venvs").glob("test-*") if p.is_dir() and not p.is_symlink())
    assert f"1.0 {env_dir}" in hot.stdout  # set_env substitution from the stored plan


def test_failures_and_missing_commands_behave_the_same_warm(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    cold = vrun("fails", check=3)  # one session: its command's status
    hot, modules = traced(vrun, "fails")
    assert hot.returncode == 3 and warm(modules)
    assert "command failed with exit code 3" in cold.stderr
    assert "command failed with exit code 3" in hot.stderr and "failed" in hot.stderr.splitlines()[-1]
    vrun("nocmd", check=127)
    hot, modules = traced(vrun, "nocmd")
    assert hot.returncode == 127 and warm(modules)
    assert "'no-such-program-xyz' not found in the env" in hot.stderr


def test_posargs_errors_come_from_the_same_loop(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    bad, modules = traced(vrun, "lint", "--", "-x")
    assert bad.returncode == 2 and warm(modules)
    assert "session lint does not take posargs" in bad.stderr
    full = Vrun(vrun.cwd, {**vrun.env, "VRUN_PLAN_CACHE": "0"})("lint", "--", "-x", check=2)
    assert normalized(full.stderr) == normalized(bad.stderr)


def test_a_config_edited_by_the_running_session_is_honoured_next_time(project: Path, vrun: Vrun) -> None:
    rewrite = """
        import pathlib
        p = pathlib.Path("vrun.toml")
        if "old" + " command" in p.read_text():  # once: a config rewritten on every run is never cached
            p.write_text(p.read_text().replace("old" + " command", "new" + " command"))
    """
    write_project(
        project,
        {
            "rewrite.py": rewrite,
            "vrun.toml": """
                [sessions.s]
                install_project = false
                commands = ["python rewrite.py", "python -c 'print(\\"old command\\")'"]
            """,
        },
    )
    first = vrun("s", check=0)
    assert "old command" in first.stdout
    assert "new command" in (project / "vrun.toml").read_text()
    second, modules = traced(vrun, "s")
    assert second.returncode == 0, second.stderr
    assert not warm(modules)  # the stored plan (if any) was made from the old config
    assert "new command" in second.stdout and "old command" not in second.stdout
    third, modules = traced(vrun, "s")
    assert third.returncode == 0, third.stderr
    assert warm(modules)
    assert "new command" in third.stdout and "old command" not in third.stdout


def test_a_session_rewriting_its_requirements_file_gets_a_new_env_next_time(
    project: Path, vrun: Vrun
) -> None:
    write_project(
        project,
        {
            "requirements.txt": "alpha==1.0\n",
            "pin.py": """
                import pathlib
                p = pathlib.Path("requirements.txt")
                if p.read_text() != "alpha==2.0\\n":
                    p.write_text("alpha==2.0\\n")
            """,
            "vrun.toml": """
                [sessions.s]
                deps = ["-r requirements.txt"]
                install_project = false
                commands = [
                    "python -c 'import alpha; print(\\"alpha\\", alpha.VERSION)'",
                    "python pin.py",
                ]
            """,
        },
    )
    first = vrun("s", check=0)
    assert "alpha 1.0" in first.stdout
    assert (project / "requirements.txt").read_text() == "alpha==2.0\n"
    second, modules = traced(vrun, "s")
    assert second.returncode == 0, second.stderr
    assert not warm(modules)
    assert "requirements changed: requirements.txt" in second.stderr
    assert "alpha 2.0" in second.stdout
    third, modules = traced(vrun, "s")
    assert warm(modules) and "alpha 2.0" in third.stdout and "creating env" not in third.stderr


def test_every_input_invalidates_the_plan(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    assert warm(traced(vrun, "lint")[1])
    # the config itself
    text = (project / "vrun.toml").read_text().replace("lint ok", "lint changed")
    (project / "vrun.toml").write_text(text)
    changed, modules = traced(vrun, "lint")
    assert not warm(modules) and "lint changed" in changed.stdout
    # a pyproject.toml appearing beside it (it could hold [dependency-groups] or [project])
    assert warm(traced(vrun, "lint")[1])
    (project / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    assert not warm(traced(vrun, "lint")[1])
    # a variable planning read (the backend)
    assert warm(traced(vrun, "lint")[1])
    assert not warm(traced(vrun, "lint", VRUN_BACKEND="virtualenv")[1])
    # a config file appearing in a subdirectory we run from
    sub = project / "sub"
    sub.mkdir()
    Vrun(sub, vrun.env)("lint", check=0)
    assert warm(traced(Vrun(sub, vrun.env), "lint")[1])
    (sub / "vrun.toml").write_text(
        '[sessions.lint]\ninstall_project = false\ncommands = ["python -c \\"print(1)\\""]\n'
    )
    nested, modules = traced(Vrun(sub, vrun.env), "lint")
    assert nested.returncode == 0 and not warm(modules)
    assert "creating env lint-" in nested.stderr  # a new project root: its own .venvs/


def test_an_env_removed_behind_its_back_is_rebuilt(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    env_dir = next(p for p in (project / ".venvs").glob("lint-*") if p.is_dir() and not p.is_symlink())
    (env_dir / "vrun.json").unlink()
    again = vrun("lint", check=0)
    assert "previous build was incomplete" in again.stderr and "lint ok" in again.stdout


def test_a_ready_env_in_use_is_not_waited_for_when_the_plan_is_out_of_date(project: Path, vrun: Vrun) -> None:
    """A shell holds the env (its shared lock) and the env was rebuilt since the plan was stored
    (its marker's signature differs): the run checks the marker under the shared lock and goes on,
    instead of waiting for the exclusive lock until the shell exits."""
    write_project(project, PROJECT)
    vrun("lint", check=0)
    assert warm(traced(vrun, "lint")[1])
    env_dir = next(p for p in (project / ".venvs").glob("lint-*") if p.is_dir() and not p.is_symlink())
    marker = env_dir / "vrun.json"
    marker.write_bytes(marker.read_bytes())  # same content, new signature: as a rebuild leaves it
    fd = os.open(f"{env_dir}.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)  # as `vrun shell lint` in another terminal does
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "vrun", "lint"],
            cwd=vrun.cwd,
            env=vrun.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert "lint ok" in proc.stdout and "waiting" not in proc.stderr and "creating env" not in proc.stderr


def test_a_busy_lock_is_waited_for_on_the_warm_path(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun("lint", check=0)
    assert warm(traced(vrun, "lint")[1])
    env_dir = next(p for p in (project / ".venvs").glob("lint-*") if p.is_dir() and not p.is_symlink())
    fd = os.open(f"{env_dir}.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a build or an `rm` would
    seen: list[str] = []
    waiting = threading.Event()
    with subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "vrun", "lint"],
        cwd=vrun.cwd,
        env=vrun.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                seen.append(line)
                if "another process is using or building it" in line:
                    waiting.set()

        reader = threading.Thread(target=read)
        reader.start()
        try:
            assert waiting.wait(60), "".join(seen)
            assert proc.poll() is None  # still waiting while the lock is held
        finally:
            os.close(fd)
            reader.join()
        assert proc.stdout is not None
        out = proc.stdout.read()
        assert proc.wait() == 0
    modules, _ = import_trace("".join(seen))
    assert warm(modules) and "lint ok" in out


def test_github_actions_groups_on_both_paths(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun.env["GITHUB_ACTIONS"] = "true"
    cold = vrun("lint", check=0)
    hot, modules = traced(vrun, "lint")
    assert warm(modules)
    for run in (cold, hot):
        assert run.stdout.splitlines()[0] == "::group::vrun lint"
        assert run.stdout.splitlines()[-1] == "::endgroup::"


def test_plan_cache_off_neither_reads_nor_writes(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    vrun.env["VRUN_PLAN_CACHE"] = "0"
    vrun("lint", check=0)
    assert plans(vrun.env) == []
    assert not warm(traced(vrun, "lint")[1])
    assert plans(vrun.env) == []
    del vrun.env["VRUN_PLAN_CACHE"]
    vrun("lint", check=0)
    (stored,) = plans(vrun.env)
    before = stored.stat()
    proc, modules = traced(vrun, "lint", VRUN_PLAN_CACHE="0")
    assert proc.returncode == 0 and not warm(modules)
    after = stored.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert plans(vrun.env) == [stored]


MANGLED_SESSIONS = {
    "sessions-int": 3,
    "session-str": ["lint"],
    "session-empty": [{}],
    "inputs-list": None,
}


@pytest.mark.parametrize("kind", list(MANGLED_SESSIONS))
def test_a_stored_plan_mangled_behind_its_key_is_not_used(project: Path, vrun: Vrun, kind: str) -> None:
    """A plan file whose key still matches but whose body was changed by anything but vrun (a
    disk error, a tool, a hand) is planned anew: one normal run, no traceback."""
    import marshal
    import zlib

    write_project(project, PROJECT)
    vrun("lint", check=0)
    (stored,) = plans(vrun.env)
    data = stored.read_bytes()
    plan = marshal.loads(data[4:])
    assert int.from_bytes(data[:4], "big") == zlib.crc32(data[4:])
    if kind == "inputs-list":
        plan["inputs"] = ["x"]
    else:
        plan["sessions"] = MANGLED_SESSIONS[kind]
    stored.write_bytes(data[:4] + marshal.dumps(plan))  # the old CRC: not vrun's write
    proc, modules = traced(vrun, "lint")
    assert proc.returncode == 0 and "lint ok" in proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr and not warm(modules)
    assert warm(traced(vrun, "lint")[1])  # stored again, whole


def test_warm_and_full_runs_go_through_the_one_session_loop(
    project: Path, offline_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vrun.__main__
    import vrun.plan.cache
    import vrun.plan.planner
    import vrun.run.loop

    write_project(project, PROJECT)
    for path in project.iterdir():  # written "a while ago": a file written just now is never trusted
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 10_000_000_000))
    monkeypatch.chdir(project)
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in {**offline_env, "VRUN_CACHE_DIR": str(tmp_path / "own-cache")}.items():
        monkeypatch.setenv(name, value)
    loops: list[str] = []
    served: list[bool] = []
    seen: list[dict[str, Any]] = []
    real_loop, real_lookup = vrun.run.loop.run_sessions, vrun.plan.cache.lookup

    def counting_loop(plan: dict[str, Any], *args: Any) -> list[dict[str, Any]]:
        loops.append(plan["sessions"][0]["name"])
        seen.append(plan)
        return real_loop(plan, *args)

    def watched_lookup(*args: Any) -> Any:
        hit = real_lookup(*args)
        served.append(hit is not None)
        return hit

    monkeypatch.setattr(vrun.run.loop, "run_sessions", counting_loop)
    monkeypatch.setattr(vrun.plan.cache, "lookup", watched_lookup)
    monkeypatch.setattr(sys, "argv", ["vrun", "lint"])
    for _ in range(2):
        with pytest.raises(SystemExit) as exit_:
            vrun.__main__.main()
        assert exit_.value.code == 0
    assert served == [False, True]  # the first run planned; the second got the stored plan
    assert loops == ["lint", "lint"]  # and both ran it in the one loop
    # the stored session plan is the one planning made (its marker: the env the first run built),
    # value for value: marshal keeps each command's (argv, shell, source) a tuple
    assert seen[1]["sessions"] == seen[0]["sessions"]
    assert isinstance(seen[1]["sessions"][0]["commands"][0], tuple)


def test_vrun_code_identity_is_part_of_the_plan(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    copy = tmp_path / "code"
    shutil.copytree(
        Path(vrun_package.__file__).parent, copy / "vrun", ignore=shutil.ignore_patterns("__pycache__")
    )
    vrun.env["PYTHONPATH"] = str(copy)
    write_project(project, PROJECT)
    first, _ = traced(vrun, "lint")
    assert first.returncode == 0, first.stderr
    where = subprocess.run(
        [sys.executable, "-c", "import vrun; print(vrun.__file__)"],
        env=vrun.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(copy / "vrun" / "__init__.py")
    assert warm(traced(vrun, "lint")[1])
    module = copy / "vrun" / "output.py"
    st = module.stat()
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert not warm(traced(vrun, "lint")[1])
    assert warm(traced(vrun, "lint")[1])


def test_a_plan_made_by_another_copy_of_vrun_is_not_used(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    package = Path(vrun_package.__file__).parent
    for copy in ("a", "b"):
        shutil.copytree(package, tmp_path / copy / "vrun", ignore=shutil.ignore_patterns("__pycache__"))
    write_project(project, PROJECT)
    vrun.env["PYTHONPATH"] = str(tmp_path / "a")
    vrun("lint", check=0)
    assert warm(traced(vrun, "lint")[1])
    vrun.env["PYTHONPATH"] = str(tmp_path / "b")  # e.g. a development checkout beside an installed vrun
    assert not warm(traced(vrun, "lint")[1])
    assert warm(traced(vrun, "lint")[1])
    vrun.env["PYTHONPATH"] = str(tmp_path / "a")
    assert warm(traced(vrun, "lint")[1])  # its own plan, still valid


def test_entries_coming_and_going_in_a_sessions_cwd_do_not_invalidate_the_plan(
    project: Path, vrun: Vrun
) -> None:
    """``cwd`` is checked to be a directory; what is in it is not an input (a coverage database's
    journal, ``.pytest_cache``, ``build/`` come and go on every run)."""
    write_project(
        project,
        {
            "work/keep.txt": "",
            "vrun.toml": """
                [sessions.s]
                install_project = false
                cwd = "work"
                commands = ["python -c 'import os, uuid; n = uuid.uuid4().hex; open(n, \\"w\\").close(); os.remove(n)'"]
            """,
        },
    )
    vrun("s", check=0)
    hot, modules = traced(vrun, "s")
    assert hot.returncode == 0 and warm(modules), hot.stderr
    (project / "work").rename(project / "gone")
    gone, modules = traced(vrun, "s")
    assert gone.returncode == 2 and not warm(modules)
    assert "does not exist" in gone.stderr
