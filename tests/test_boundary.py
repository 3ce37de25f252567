"""The one error boundary (:class:`vrun.errors.Boundary`): every way a run can end early ends in
at most one ``error:`` line (plus a ``hint:``) and the status docs/cli.md documents, never a
traceback, on the cold path (planning, :func:`vrun.cli.main`) and on the warm one (a stored plan,
:func:`vrun.__main__.run`) alike; and a stdout or stderr that is closed or whose reader left.

Real processes: a run is warm when it imports no planning module (:func:`tests.test_plancache.warm`).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Vrun, import_trace, to_a_reader_that_left, write_project
from tests.test_containment import envs_of, no_vrun_traceback
from tests.test_plancache import traced, warm
from vrun import output
from vrun.errors import Boundary, Interrupted, UsageError, VrunError

#: The session's command says whether it found its stdout and its stderr closed (on stderr, else
#: stdout), then prints to stdout.
PROJECT = {
    "vrun.toml": """
        [sessions.t]
        install_project = false
        commands = ["python -c 'import sys; print(\\"closed:\\", sys.stdout is None, sys.stderr is None, file=sys.stderr or sys.stdout); print(\\"out\\")'"]
        [sessions.nocmd]
        install_project = false
        commands = ["no-such-program-xyz"]
    """,
}


@pytest.fixture
def project_files(project: Path) -> Path:
    """:data:`PROJECT`, written "a while ago": a file written just now is never trusted by the plan cache."""
    write_project(project, PROJECT)
    for path in project.iterdir():
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 10_000_000_000))
    return project


def closing(vrun: Vrun, redirect: str, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``vrun ARGS`` under ``-X importtime`` as ``sh`` does with ``redirect`` (``>&-``,
    ``2>&-``); return the process (stderr without the import lines) and the modules it imported
    (none are seen when stderr is closed)."""
    proc = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-X", "importtime", "-m", "vrun", *args],
        cwd=vrun.cwd,
        env=vrun.env,
        capture_output=True,
        text=True,
        check=False,
    )
    modules, proc.stderr = import_trace(proc.stderr)
    return proc, modules


def test_a_closed_stdout_cold_and_warm(project_files: Path, vrun: Vrun) -> None:
    for served_warm in (False, True):
        proc, modules = closing(vrun, ">&-", "t")
        assert warm(modules) is served_warm
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "vrun > session t passed" in proc.stderr
        assert "closed: True False" in proc.stderr  # the command gets stdout as the caller left it


def test_a_closed_stderr_cold_and_warm(project_files: Path, vrun: Vrun) -> None:
    cold, _ = closing(vrun, "2>&-", "t")  # the first run: it plans
    assert (cold.returncode, cold.stdout) == (0, "closed: False True\nout\n")  # stderr as it was left
    assert warm(traced(vrun, "t")[1])  # the plan is stored: the next run is served warm
    hot, _ = closing(vrun, "2>&-", "t")
    assert (hot.returncode, hot.stdout) == (0, "closed: False True\nout\n")
    assert warm(traced(vrun, "t")[1])  # and it stays stored


@pytest.mark.parametrize("buffered", [True, False])
def test_output_only_commands_end_well_when_their_reader_has_left(
    project_files: Path, vrun: Vrun, buffered: bool
) -> None:
    """Written at once (``PYTHONUNBUFFERED``) or when vrun flushes at the end: the same status."""
    vrun("path", "--build", "t", check=0)
    vrun.env.pop("PYTHONUNBUFFERED", None)
    if not buffered:
        vrun.env["PYTHONUNBUFFERED"] = "1"
    for args in (["list"], ["path", "t"], ["show", "t"], ["--help"]):
        proc = to_a_reader_that_left(vrun, *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stderr == "", args


def test_a_session_writing_to_a_reader_that_left_fails_on_its_own(project_files: Path, vrun: Vrun) -> None:
    """docs/cli.md: vrun keeps going; the command writing to the closed pipe fails, and its session."""
    for _ in ("cold", "warm"):
        proc = to_a_reader_that_left(vrun, "t")
        assert proc.returncode == 1, proc.stderr
        assert "vrun > session t failed: command failed" in proc.stderr
        assert no_vrun_traceback(proc.stderr)


def test_a_command_not_found_on_the_warm_path_is_one_error_line(project_files: Path, vrun: Vrun) -> None:
    vrun("nocmd", check=127)
    proc, modules = traced(vrun, "nocmd")
    assert warm(modules) and proc.returncode == 127
    (env,) = envs_of(project_files, "nocmd")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("vrun > error:")]
    assert errors == [
        f"vrun > error: command 'no-such-program-xyz' not found in the env ({env}/bin) nor on PATH"
    ]
    assert "Traceback" not in proc.stderr


def test_an_env_that_cannot_be_locked_on_the_warm_path_is_one_error_line(
    project_files: Path, vrun: Vrun, tmp_path: Path
) -> None:
    vrun("t", check=0)
    (lock,) = (project_files / ".venvs").glob("t-*.lock")
    lock.unlink()
    lock.symlink_to(tmp_path / "elsewhere")
    proc, modules = traced(vrun, "t")
    assert warm(modules) and proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("vrun > error:")]
    assert errors == [f"vrun > error: refusing to use {lock}: the lock file is a symlink"]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "elsewhere").exists()


# --- the mapping, in-process -------------------------------------------------------------------


def ended_by(exc: BaseException, *, output_only: bool = False) -> int:
    with Boundary() as boundary:
        boundary.output_only = output_only
        boundary.code = 7
        raise exc
    return boundary.code


@pytest.mark.parametrize(
    ("exc", "code", "lines"),
    [
        (VrunError("it broke", "do this"), 1, ["vrun > error: it broke", "vrun > hint: do this"]),
        (UsageError("bad usage"), 2, ["vrun > error: bad usage"]),
        (KeyboardInterrupt(), 130, ["vrun > error: interrupted"]),
        (Interrupted(15), 143, ["vrun > error: interrupted"]),
        (Interrupted(1), 129, ["vrun > error: interrupted"]),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), 1, []),
        (SystemExit(2), 2, []),
        (
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
            1,
            [f"vrun > error: cannot write: {os.strerror(errno.ENOSPC)}"],
        ),
    ],
)
def test_each_error_family_has_its_line_and_status(
    exc: BaseException, code: int, lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    output.configure(0, "never")
    assert ended_by(exc) == code
    assert capsys.readouterr().err.splitlines() == lines


def test_a_reader_leaving_output_only_work_is_no_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert ended_by(BrokenPipeError(errno.EPIPE, "Broken pipe"), output_only=True) == 0
    assert capsys.readouterr().err == ""


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        ended_by(ZeroDivisionError())
