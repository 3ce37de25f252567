"""``vrun -p N``: sessions at once, output whole, requires and ``parallel = false`` respected,
``-x``, ``--install-only``, and Ctrl-C leaving no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Vrun, alive, write_project

#: ``python barrier.py NAME OTHER PATIENCE`` appends ``NAME start`` to events.log, waits until
#: OTHER's start is there too (at most PATIENCE seconds), then appends ``NAME end``. Run at once,
#: two sessions both start before either ends; one after the other, the first gives up waiting.
#: The order of the lines is the evidence: no clock is read, no duration asserted.
BARRIER = """
    import sys, time
    name, other, patience = sys.argv[1], sys.argv[2], float(sys.argv[3])

    def log(word):
        with open("events.log", "a") as fh:
            fh.write(f"{name} {word}\\n")

    def started():
        with open("events.log") as fh:
            return f"{other} start" in fh.read().splitlines()

    log("start")
    deadline = time.monotonic() + patience
    while not started() and time.monotonic() < deadline:
        time.sleep(0.02)
    log("end")
"""
#: Sessions ``a`` and ``b`` meet at the barrier; the posargs are its patience in seconds.
MEETING = {
    "barrier.py": BARRIER,
    "vrun.toml": """
        [sessions.a]
        commands = ["python barrier.py a b {posargs}"]
        [sessions.b]
        commands = ["python barrier.py b a {posargs}"]
    """,
}

#: Writes "NAME START END" to times.txt around a short sleep: when each session ran.
STAMP = """
    import sys, time
    start = time.time()
    time.sleep(float(sys.argv[2]))
    with open("times.txt", "a") as fh:
        fh.write(f"{sys.argv[1]} {start} {time.time()}\\n")
"""


def intervals(project: Path) -> dict[str, tuple[float, float]]:
    rows = (line.split() for line in (project / "times.txt").read_text().splitlines())
    return {name: (float(start), float(end)) for name, start, end in rows}


def events(project: Path) -> list[str]:
    log = project / "events.log"
    lines = log.read_text().splitlines()
    log.unlink()
    return lines


def test_parallel_sessions_run_at_once_and_serial_ones_do_not(project: Path, vrun: Vrun) -> None:
    write_project(project, MEETING)
    installed = vrun("--install-only", "a", "b", check=0)
    assert "no command run (--install-only)" in installed.stderr
    # serially a waits for b in vain (briefly), ends, and only then b starts
    vrun("a", "b", "--", "0.3", check=0)
    assert events(project) == ["a start", "a end", "b start", "b end"]
    # at once both start before either ends: their run intervals overlap (a generous patience,
    # which only a broken -p would use up)
    parallel = vrun("-p", "2", "a", "b", "--", "60", check=0)
    lines = events(project)
    assert sorted(lines[:2]) == ["a start", "b start"] and sorted(lines[2:]) == ["a end", "b end"], (
        lines,
        parallel.stderr,
    )


def test_output_is_whole_per_session(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "talk.py": """
                import sys, time
                for i in range(5):
                    print(sys.argv[1], i, flush=True)
                    time.sleep(0.1)
            """,
            "vrun.toml": """
                [sessions.one]
                commands = ["python talk.py one"]
                [sessions.two]
                commands = ["python talk.py two"]
            """,
        },
    )
    proc = vrun("-p", "2", "one", "two", check=0)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("one ", "two "))]
    assert len(lines) == 10
    first = lines[0].split()[0]
    second = "two" if first == "one" else "one"
    assert lines == [f"{first} {i}" for i in range(5)] + [f"{second} {i}" for i in range(5)]
    # each session's own vrun lines come with its output, not mixed with the other's
    assert proc.stdout.index("vrun > session one passed") < proc.stdout.index("vrun > session two") or (
        proc.stdout.index("vrun > session two passed") < proc.stdout.index("vrun > session one")
    )
    assert "started one" in proc.stderr and "started two" in proc.stderr  # plain lines, no terminal


def test_requires_and_parallel_false(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "stamp.py": STAMP,
            "vrun.toml": """
                [sessions.base]
                commands = ["python stamp.py base 0.5"]
                [sessions.after]
                requires = ["base"]
                commands = ["python stamp.py after 0.1"]
                [sessions.free]
                commands = ["python stamp.py free 0.5"]
                [sessions.alone]
                parallel = false
                commands = ["python stamp.py alone 0.3"]
                [sessions.broken]
                commands = ["python -c 'raise SystemExit(4)'"]
                [sessions.blocked]
                requires = ["broken"]
                commands = ["python stamp.py blocked 0"]
            """,
        },
    )
    proc = vrun("-p", "4", "--report", "r.json", check=1)
    times = intervals(project)
    assert times["after"][0] >= times["base"][1]
    alone = times["alone"]
    for name, (start, end) in times.items():
        if name != "alone":
            assert end <= alone[0] or start >= alone[1], (name, times)
    assert "blocked" not in times
    report = json.loads((project / "r.json").read_text())
    by_name = {s["name"]: s for s in report["sessions"]}
    assert [s["name"] for s in report["sessions"]] == ["base", "after", "free", "alone", "broken", "blocked"]
    assert by_name["blocked"]["status"] == "skipped"
    assert by_name["blocked"]["reason"] == "requires broken, which did not pass"
    assert by_name["broken"]["exit_code"] == 4
    assert "session broken failed: command failed with exit code 4" in proc.stdout


def test_parallel_false_must_be_a_boolean(project: Path, vrun: Vrun) -> None:
    write_project(project, {"vrun.toml": '[sessions.s]\nparallel = "no"\ncommands = ["python -V"]\n'})
    assert "parallel" in vrun("s", check=2).stderr


def test_p_without_a_number_and_help(project: Path, vrun: Vrun) -> None:
    write_project(project, MEETING)
    assert "--parallel" in vrun("--help", check=0).stdout
    vrun("-p", "--install-only", "a", check=0)
    assert "expected a positive number" in vrun("-p", "0", "a", check=2).stderr


def test_fail_fast_serial(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.bad]
                commands = ["python -c 'raise SystemExit(3)'"]
                [sessions.good]
                commands = ["python -c 'open(\\"ran\\", \\"w\\")'"]
            """
        },
    )
    vrun("-x", "--report", "r.json", "bad", "good", check=1)
    assert not (project / "ran").exists()
    report = json.loads((project / "r.json").read_text())
    assert [(s["status"], s["reason"]) for s in report["sessions"]][1] == ("skipped", "fail-fast")
    vrun("bad", "good", check=1)  # without -x the others still run
    assert (project / "ran").exists()


def test_fail_fast_parallel_stops_running_sessions(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.bad]
                commands = ["python wait_for_slow.py"]
                [sessions.slow]
                commands = ["python -c 'import time; open(\\"slow.started\\", \\"w\\"); time.sleep(60)'"]
                [sessions.later]
                commands = ["python -V"]
            """
        },
    )
    # bad fails once slow runs (not after a guessed delay), so -x must interrupt slow
    (project / "wait_for_slow.py").write_text(
        "import os, time\n"
        "deadline = time.monotonic() + 60\n"
        "while not os.path.exists('slow.started') and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "raise SystemExit(3)\n"
    )
    vrun("--install-only", check=0)
    vrun.env["VRUN_KILL_GRACE"] = "0.5"
    vrun("-p", "2", "-x", "--report", "r.json", check=1, timeout=50)
    sessions = {s["name"]: s for s in json.loads((project / "r.json").read_text())["sessions"]}
    assert sessions["bad"]["status"] == "failed"
    assert (sessions["slow"]["status"], sessions["slow"]["reason"]) == ("skipped", "fail-fast (interrupted)")
    assert (sessions["later"]["status"], sessions["later"]["reason"]) == ("skipped", "fail-fast")


def test_install_only_runs_nothing(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {"vrun.toml": '[sessions.s]\ncommands = ["python -c \'open(\\"ran\\", \\"w\\")\'", "python -V"]\n'},
    )
    for extra in ([], ["-p", "2"]):
        vrun(*extra, "--install-only", "--report", "r.json", "s", check=0)
        assert not (project / "ran").exists()
        (session,) = json.loads((project / "r.json").read_text())["sessions"]
        assert session["status"] == "passed"
        assert [c["exit_code"] for c in session["commands"]] == [None, None]
        assert session["commands"][1]["argv"] == ["python", "-V"]
    assert "reusing env" in vrun("--install-only", "s", check=0).stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_no_process_behind(project: Path, vrun: Vrun, signum: int) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.py]
                commands = ["python -c 'import os, time; open(\\"py.pid\\", \\"w\\").write(str(os.getpid())); time.sleep(60)'"]
                [sessions.sh]
                shell = true
                commands = ["sleep 60 & echo $! > bg.pid; echo $$ > sh.pid; wait"]
                [sessions.later]
                commands = ["python -c 'open(\\"later-ran\\", \\"w\\")'"]
            """
        },
    )
    vrun("--install-only", check=0)
    env = {**vrun.env, "VRUN_KILL_GRACE": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrun", "-p", "2", "py", "sh", "later"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    pidfiles = [project / name for name in ("py.pid", "sh.pid", "bg.pid")]
    deadline = time.monotonic() + 60
    while not all(p.exists() and p.read_text().strip() for p in pidfiles):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in pidfiles]
    os.kill(proc.pid, signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert not [pid for pid in pids if alive(pid)]
    assert not (project / "later-ran").exists()
    assert b"interrupted by" in err
