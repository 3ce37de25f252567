"""Nothing vrun starts outlives it, and nothing half-built is ever used.

Signals during builds and commands, a vrun killed outright, timeouts, installs that land
elsewhere, a permissive umask. Real envs and real processes, offline. vrun runs in a process
group of its own (not the test's), with stdin not a terminal, so its commands get their own
process groups as in CI. Waits are on conditions with generous deadlines, never on durations;
``VRUN_KILL_GRACE=0.3`` keeps the escalations quick.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Vrun, alive, demo_project, wait_for, write_project

WAIT = 120.0


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") else None


def no_vrun_traceback(text: str) -> bool:
    """True when no traceback in ``text`` passes through vrun's code (a command's own may)."""
    return f"{os.sep}vrun{os.sep}" not in "".join(
        line for line in text.splitlines() if line.lstrip().startswith('File "')
    )


def envs_of(project: Path, session: str) -> list[Path]:
    venvs = project / ".venvs"
    return sorted(p for p in venvs.glob(f"{session}-*") if p.is_dir() and not p.is_symlink())


class Started:
    """A vrun started in the background, its output in a file."""

    def __init__(self, vrun: Vrun, args: tuple[str, ...], out: Path, prefix: tuple[str, ...] = ()) -> None:
        self.out = out
        with open(out, "wb") as fh:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "vrun", *args],
                cwd=vrun.cwd,
                env=vrun.env,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # not the test's process group
            )

    @property
    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait(self) -> int:
        return self.proc.wait(timeout=WAIT)


@pytest.fixture
def started(vrun: Vrun, tmp_path: Path) -> Iterator[Callable[..., Started]]:
    runs: list[Started] = []

    def start(*args: str, prefix: tuple[str, ...] = ()) -> Started:
        run = Started(vrun, args, tmp_path / f"vrun-{len(runs)}.out", prefix)
        runs.append(run)
        return run

    vrun.env["VRUN_KILL_GRACE"] = "0.3"
    yield start
    for run in runs:  # a failed test must not leave vruns behind
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


def slow_project(project: Path, log: Path, go: Path) -> None:
    """Session ``s`` installs ``./slowpkg``, whose wheel build logs ``start PID``, waits until
    ``go`` exists (at most 60 s), then logs ``end PID``: an installer the test can watch and hold."""
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                deps = ["./slowpkg"]
                install_project = false
                commands = ["python -c 'import slowpkg; print(slowpkg.WORD)'"]
            """,
            "slowpkg/slowpkg.py": "WORD = 'slow-ok'\n",
            "slowpkg/setup.py": f"""
                import os, sys, time
                from setuptools import setup

                if "bdist_wheel" in sys.argv:
                    with open({str(log)!r}, "a") as fh:
                        fh.write(f"start {{os.getpid()}}\\n")
                    deadline = time.monotonic() + 60
                    while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    with open({str(log)!r}, "a") as fh:
                        fh.write(f"end {{os.getpid()}}\\n")
                setup(name="slowpkg", version="1.0", py_modules=["slowpkg"])
            """,
        },
    )


def events(log: Path) -> list[tuple[str, int]]:
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [(word, int(pid)) for word, pid in (line.split() for line in lines)]


# --- builds -------------------------------------------------------------------------------------


def test_sigkill_of_vrun_during_install_then_a_second_run_waits_and_builds(
    project: Path, vrun: Vrun, tmp_path: Path, started: Callable[..., Started]
) -> None:
    log, go = tmp_path / "build.log", tmp_path / "go"
    slow_project(project, log, go)
    first = started("s")
    wait_for(lambda: events(log), "the installer to start", first.proc)
    first.proc.kill()  # vrun alone, not its group: its installer is orphaned, holding the lock
    assert first.wait() == -signal.SIGKILL
    [(_, orphan)] = events(log)
    assert alive(orphan)

    second = started("s")
    wait_for(
        lambda: "another process is using or building it" in second.text,
        "the second run to wait",
        second.proc,
    )
    assert f"pid {orphan} (" in second.text  # the wait names the orphaned installer
    assert alive(orphan) and second.proc.poll() is None
    assert events(log) == [("start", orphan)]  # it has not touched the env meanwhile
    go.touch()
    assert second.wait() == 0, second.text
    assert not alive(orphan)
    assert [word for word, _ in events(log)] == ["start", "end", "start", "end"]  # one after the other
    assert no_vrun_traceback(second.text)
    assert "the previous build was incomplete" in second.text
    assert "slow-ok" in second.text
    (env,) = envs_of(project, "s")
    assert (env / "vrun.json").is_file()
    again = vrun("s", check=0)
    assert f"reusing env {env.name}" in again.stderr and "slow-ok" in again.stdout


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_install_removes_the_env_and_the_installer(
    project: Path, tmp_path: Path, started: Callable[..., Started], signum: int, status: int
) -> None:
    log, go = tmp_path / "build.log", tmp_path / "go"
    slow_project(project, log, go)
    run = started("s")
    wait_for(lambda: events(log), "the installer to start", run.proc)
    [(_, builder)] = events(log)
    run.proc.send_signal(signum)
    assert run.wait() == status, run.text
    assert not alive(builder)
    assert processes_mentioning(str(project)) == []  # pip, its build backend: all gone
    assert envs_of(project, "s") == []
    assert no_vrun_traceback(run.text)
    assert f"interrupted by {signal.Signals(signum).name}" in run.text


# --- commands -----------------------------------------------------------------------------------

#: Writes its pid to argv[1], ignores SIGTERM and SIGINT, sleeps.
STUBBORN = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "open(sys.argv[1] + '.tmp', 'w').write(f'{os.getpid()}\\n')\n"
    "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
    "time.sleep(600)\n"
)
#: Starts STUBBORN as a grandchild (pid in argv[1]), writes its own pid to argv[2], sleeps.
PARENT = (
    "import os, subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', sys.argv[3], sys.argv[1]])\n"
    "open(sys.argv[2] + '.tmp', 'w').write(f'{os.getpid()}\\n')\n"
    "os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
    "time.sleep(600)\n"
)


def command_project(project: Path, commands: str, extra: str = "") -> None:
    write_project(
        project,
        {"vrun.toml": f"[sessions.c]\ninstall_project = false\n{extra}\ncommands = {commands}\n"},
    )


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_nothing_of_a_session_outlives_vrun(
    project: Path, vrun: Vrun, tmp_path: Path, started: Callable[..., Started], signum: int, status: int
) -> None:
    grandchild_file, child_file = tmp_path / "grandchild.pid", tmp_path / "child.pid"
    argv = ["python", "-c", PARENT, str(grandchild_file), str(child_file), STUBBORN]
    command_project(project, json.dumps([argv]))
    vrun("path", "--build", "c", check=0)
    run = started("c")
    wait_for(lambda: read_pid(grandchild_file) and read_pid(child_file), "the command to start", run.proc)
    grandchild, child = read_pid(grandchild_file), read_pid(child_file)
    assert grandchild is not None and child is not None
    run.proc.send_signal(signum)
    assert run.wait() == status, run.text
    assert not alive(child)
    assert not alive(grandchild)  # it ignored SIGTERM: killed after the grace period
    assert no_vrun_traceback(run.text)


#: Runs argv[2:] as a child subreaper (orphans below it become its children) that never reaps
#: them; writes the child's pid to argv[1]; exits with the child's status.
NO_REAPER = (
    "import ctypes, subprocess, sys\n"
    "assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(f'{proc.pid}\\n')\n"
    "sys.exit(proc.wait() % 256)\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_dead_grandchildren_do_not_hold_up_the_sweep(
    project: Path, vrun: Vrun, tmp_path: Path, started: Callable[..., Started]
) -> None:
    """A grandchild that dies of the forwarded SIGTERM stays a zombie until init reaps it (in a
    container, maybe never); vrun must not wait out the grace period for it."""
    grandchild_file, child_file = tmp_path / "grandchild.pid", tmp_path / "child.pid"
    meek = STUBBORN.replace("signal.SIG_IGN", "signal.SIG_DFL")
    argv = ["python", "-c", PARENT, str(grandchild_file), str(child_file), meek]
    command_project(project, json.dumps([argv]))
    vrun("path", "--build", "c", check=0)
    vrun.env["VRUN_KILL_GRACE"] = "600"  # waiting it out would fail the test
    # vrun's parent adopts orphans and never reaps them: the grandchild stays a zombie for good
    vrun_pid = tmp_path / "vrun.pid"
    run = started("c", prefix=(sys.executable, "-c", NO_REAPER, str(vrun_pid)))
    wait_for(lambda: read_pid(grandchild_file) and read_pid(vrun_pid), "the command to start", run.proc)
    grandchild, pid = read_pid(grandchild_file), read_pid(vrun_pid)
    assert grandchild is not None and pid is not None
    os.kill(pid, signal.SIGTERM)
    assert run.wait() == 143, run.text
    assert not alive(grandchild)


def test_second_interrupt_kills_at_once(
    project: Path, vrun: Vrun, tmp_path: Path, started: Callable[..., Started]
) -> None:
    pid_file, seen = tmp_path / "child.pid", tmp_path / "seen"
    code = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, lambda *a: open(sys.argv[2], 'a').write('INT\\n'))\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open(sys.argv[1] + '.tmp', 'w').write(f'{os.getpid()}\\n')\n"
        "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
        "while True: time.sleep(1)\n"
    )
    argv = ["python", "-c", code, str(pid_file), str(seen)]
    command_project(project, json.dumps([argv]))
    vrun("path", "--build", "c", check=0)
    vrun.env["VRUN_KILL_GRACE"] = "600"  # only the second Ctrl-C can end this run in time
    run = started("c")
    vrun.env["VRUN_KILL_GRACE"] = "0.3"
    wait_for(lambda: read_pid(pid_file), "the command to start", run.proc)
    child = read_pid(pid_file)
    assert child is not None
    run.proc.send_signal(signal.SIGINT)
    wait_for(seen.exists, "the first Ctrl-C to be forwarded", run.proc)
    assert run.proc.poll() is None and alive(child)
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 130, run.text
    assert not alive(child)


def test_timeout_fails_the_session_with_124_and_kills_its_group(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    grandchild_file, child_file = tmp_path / "grandchild.pid", tmp_path / "child.pid"
    stubborn_parent = PARENT.replace("import os,", "import os, signal,").replace(
        "time.sleep(600)", "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    )
    argv = ["python", "-c", stubborn_parent, str(grandchild_file), str(child_file), STUBBORN]
    command_project(project, json.dumps([argv]), extra="timeout = 1")
    vrun.env["VRUN_KILL_GRACE"] = "0.3"
    proc = vrun("--report", "r.json", "c", check=124, stdin=subprocess.DEVNULL, start_new_session=True)
    assert "session c failed: timed out after 1s" in proc.stderr
    assert json.loads((project / "r.json").read_text())["sessions"][0]["exit_code"] == 124
    assert "Traceback" not in proc.stderr
    for pid_file in (child_file, grandchild_file):
        pid = read_pid(pid_file)
        assert pid is not None and not alive(pid)


# --- where installs land ------------------------------------------------------------------------


def test_install_that_lands_elsewhere_is_refused(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                deps = ["alpha"]
                install_project = false
                commands = ["python -c 'import alpha; print(alpha.__file__)'"]
            """,
        },
    )
    # pip.conf's target is neutralized (tests/test_pipsettings.py); uv.toml's [pip] target is
    # uv's own setting, which vrun leaves to uv: the check after the install is what stops it
    target = tmp_path / "target"
    (project / "uv.toml").write_text(f'[pip]\ntarget = "{target}"\n')
    del vrun.env["UV_NO_CONFIG"]
    failed = vrun("s", check=1)
    assert "the install did not land in" in failed.stderr and "alpha not found" in failed.stderr
    assert "uv.toml" in failed.stderr  # the hint
    assert "Traceback" not in failed.stderr
    assert envs_of(project, "s") == []  # not marked: removed
    assert list(target.glob("alpha*"))  # uv did obey the config file
    (project / "uv.toml").unlink()

    vrun.env["PIP_CONFIG_FILE"] = os.devnull
    vrun.env["PIP_TARGET"] = str(tmp_path / "target2")
    vrun.env["PIP_PREFIX"] = str(tmp_path / "prefix")
    ok = vrun("s", check=0)
    (env,) = envs_of(project, "s")
    assert str(env) in ok.stdout
    assert not (tmp_path / "target2").exists() and not (tmp_path / "prefix").exists()


def test_umask_000_does_not_make_envs_world_writable(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        demo_project(
            tables="""
                [tool.vrun.sessions.s]
                deps = ["greet"]
                install_project = "wheel"
                commands = ["greet hi"]
            """
        ),
    )
    vrun("s", check=0, umask=0)
    (project / "src" / "demo" / "__init__.py").write_text("WORD = 'two'\n")
    second = vrun("s", check=0, umask=0)  # the source changed: a reused wheel-mode env has it reinstalled
    assert "reinstalling the project" in second.stderr
    (env,) = envs_of(project, "s")
    # Not counted: uv's own empty `.lock` in the env, which uv makes 0666 on purpose (other users
    # may lock it; it holds no code), and `__pycache__` written by the session's commands, which
    # run under the caller's umask like any program they start: vrun guards what *it* installs.
    writable = [
        path
        for path in [project / ".venvs", env, *env.rglob("*")]
        if not path.is_symlink()
        and path.stat().st_mode & stat.S_IWOTH
        and path.name not in (".lock", "__pycache__")
        and "__pycache__" not in path.parts
    ]
    assert writable == []
    (site,) = env.glob("lib/python*/site-packages")
    assert list(site.glob("demo*")) and (env / "bin" / "greet").is_file()


def test_a_signal_vrun_was_started_ignoring_stays_ignored(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """Under nohup (SIGHUP ignored) a hangup neither stops vrun nor its command, which inherits
    the ignored signal as exec passes it on; vrun installs no handler over it."""
    ready, go = tmp_path / "command.pid", tmp_path / "go"
    # the command says it runs (its pid file), then finishes once the test has sent the hangup
    command = (
        "import os, sys, time\n"
        "open(sys.argv[1] + '.tmp', 'w').write(f'{os.getpid()}\\n')\n"
        "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
        "deadline = time.monotonic() + 60\n"
        "while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "print('finished')\n"
    )
    argv = ["python", "-c", command, str(ready), str(go)]
    write_project(
        project, {"vrun.toml": f"[sessions.s]\ninstall_project = false\ncommands = {json.dumps([argv])}\n"}
    )
    vrun("s", "--install-only", check=0)
    proc = subprocess.Popen(
        ["nohup", sys.executable, "-m", "vrun", "s"],
        cwd=project,
        env=vrun.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: read_pid(ready), "the command to start", proc)
    proc.send_signal(signal.SIGHUP)
    go.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "finished" and "session s passed" in err
