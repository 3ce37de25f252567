"""An env build's progress: a status line with the step and its elapsed time on a terminal,
cleared when the step ends (also on Ctrl-C); plain log lines, never a ``\\r``, elsewhere; none
drawn by the children of ``vrun -p``.

The terminal is a pseudo-terminal (:func:`os.openpty`) given to vrun as stderr (and stdout, for
``-p``), 120 columns wide; :func:`screen` renders what a terminal would then show.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Vrun, screen, write_project
from vrun import output

#: A project whose setup.py takes a while (setuptools runs it for each build hook): the project
#: build is a step long enough for its elapsed time to be redrawn a few times.
SLOW_PROJECT = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "slow"
        version = "0.1"
        [tool.vrun.sessions.test]
        deps = ["alpha"]
        commands = ["python -c 'import slow, alpha'"]
    """,
    "setup.py": """
        import os, time
        time.sleep(float(os.environ.get("SLOW_SETUP", "0.4")))
        from setuptools import setup
        setup()
    """,
    "src/slow/__init__.py": "",
}
STATUS = re.compile(r"\r\x1b\[Kvrun > test: ([^\r\n]*?) \((\d+\.\d)s\)")


class Terminal:
    """vrun run with a pseudo-terminal as stderr (``both``: and stdout), read as it writes."""

    def __init__(self, vrun: Vrun, *args: str, both: bool = False, **env: str) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.out = open(os.devnull, "wb") if both else None  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vrun", *args],
            cwd=vrun.cwd,
            env={**vrun.env, "TERM": "xterm", **env},
            stdin=subprocess.DEVNULL,
            stdout=slave if both else subprocess.DEVNULL,
            stderr=slave,
        )
        os.close(slave)
        self.text = ""

    def read_until(self, found: Callable[[str], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not found(self.text):
            assert time.monotonic() < deadline, f"not seen in {timeout}s:\n{self.text!r}"
            if not select.select([self.master], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                data = b""
            assert data, f"vrun ended first (exit {self.proc.wait()}):\n{self.text!r}"
            self.text += data.decode("utf-8", "replace")

    def wait(self) -> int:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self.text += data.decode("utf-8", "replace")
        os.close(self.master)
        if self.out is not None:
            self.out.close()
        return self.proc.wait(timeout=60)


def test_build_steps_on_a_status_line_with_elapsed_time(project: Path, vrun: Vrun) -> None:
    write_project(project, SLOW_PROJECT)
    term = Terminal(vrun, "test")
    assert term.wait() == 0, term.text
    drawn = STATUS.findall(term.text)
    steps = [what for what, _ in drawn]
    assert any(s.startswith("creating the env with ") for s in steps), drawn
    assert any(s.startswith("installing 1 requirement, the project (editable") for s in steps), drawn
    building = [float(t) for what, t in drawn if what.startswith("building the project (editable) with ")]
    assert building[0] == 0.0 and max(building) >= 0.3, drawn  # redrawn while setup.py ran
    assert building == sorted(building)
    shown = screen(term.text)
    assert not [line for line in shown if line.startswith("vrun > test: ")], shown  # all cleared
    assert any(line.startswith("vrun > built test-") for line in shown), shown
    assert "vrun > creating env test-" in term.text  # the step lines themselves stay plain lines
    assert "\nvrun > installing" not in term.text  # on a terminal the status line says it


def test_no_status_line_without_a_terminal_or_under_CI(project: Path, vrun: Vrun) -> None:
    write_project(project, SLOW_PROJECT)
    vrun.env["SLOW_SETUP"] = "0"
    run = vrun("test", check=0)
    assert "\r" not in run.stderr
    assert "vrun > building the project (editable) with " in run.stderr
    assert "vrun > installing 1 requirement, the project (editable" in run.stderr
    for env in ({"CI": "true"}, {"TERM": "dumb"}):
        term = Terminal(vrun, "--recreate", "test", **env)
        assert term.wait() == 0, term.text
        assert "\x1b[K" not in term.text, env
        assert "vrun > installing 1 requirement, the project (editable" in term.text  # built once


def test_ctrl_c_during_a_build_clears_the_status_line(project: Path, vrun: Vrun) -> None:
    write_project(project, SLOW_PROJECT)
    term = Terminal(vrun, "test", SLOW_SETUP="30")
    term.read_until(lambda text: "vrun > test: building the project" in text)
    term.proc.send_signal(signal.SIGINT)
    assert term.wait() == 130, term.text
    shown = [line for line in screen(term.text) if line]
    assert "vrun > session test failed: interrupted by SIGINT" in shown, (shown, term.text)
    assert not [line for line in shown if line.startswith("vrun > test: ")], shown
    assert not list((project / ".venvs").glob("test-*/"))  # the half-built env is gone


#: A session whose install takes a while after the installer has resolved it: a local project whose
#: setup.py sleeps is built into a wheel (uv reads its static metadata to resolve; pip builds the
#: metadata, and runs setup.py again for the wheel).
SLOW_DEPENDENCY = {
    "slowdep/pyproject.toml": SLOW_PROJECT["pyproject.toml"].replace('"slow"', '"slowdep"').split("[tool")[0],
    "slowdep/setup.py": SLOW_PROJECT["setup.py"],
    "slowdep/src/slowdep/__init__.py": "",
    "vrun.toml": """
        [sessions.test]
        deps = ["alpha", "./slowdep"]
        install_project = false
        commands = ["python -c 'import slowdep, alpha'"]
    """,
}


@pytest.mark.parametrize(
    ("backend", "count"),
    [("uv", r"3 packages resolved"), ("virtualenv", r"1 package collected")],
)
def test_a_long_install_shows_how_far_the_installer_is(
    project: Path, vrun: Vrun, backend: str, count: str
) -> None:
    """Beside the elapsed time, the status line counts what the installer reported so far: uv's
    resolved packages (alpha, slowdep and the pip vrun seeds), pip's collected ones (./slowdep, which
    it processes first, while it builds it)."""
    write_project(project, SLOW_DEPENDENCY)
    term = Terminal(vrun, "--backend", backend, "test", SLOW_SETUP="0.5")
    assert term.wait() == 0, term.text
    what = f"installing 2 requirements with {backend}"
    counted = re.findall(rf"\r\x1b\[Kvrun > test: {what} \((\d+\.\d)s, {count}\)", term.text)
    assert counted, term.text
    assert not [line for line in screen(term.text) if line.startswith("vrun > test: ")]  # cleared


def test_install_progress_reads_uv_and_pip_output_in_pieces() -> None:
    """The counts come from the installers' own lines, however the output is cut."""
    from vrun.env.backends import InstallProgress

    uv = InstallProgress()
    for piece in ("Using Python 3.12.1 environment at: .venvs/t\nResol", "ved 23 packages in 1.20s\n"):
        uv.feed(piece)
    assert uv.text == "23 packages resolved"
    uv.feed("Prepared 1 package in 3.1s\n")
    assert uv.text == "1 package prepared"
    pip = InstallProgress()
    pip.feed("Processing ./lib\nCollecting alpha\n  Using cached alpha-1.0.whl\nCollecting alpha\n")
    assert pip.text == "2 packages collected"
    pip.feed("Installing collected packages: alpha, beta, gamma\n")
    assert pip.text == "installing 3 packages"


def test_parallel_children_draw_no_status_line(project: Path, vrun: Vrun) -> None:
    sleep = "python -c 'import time; time.sleep(0.5)'"
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.a]
                deps = ["alpha"]
                install_project = false
                commands = ["{sleep}"]
                [sessions.b]
                deps = ["beta"]
                install_project = false
                commands = ["{sleep}"]
            """
        },
    )
    term = Terminal(vrun, "-p", "2", "a", "b", both=True)
    assert term.wait() == 0, term.text
    assert "vrun > running: " in term.text  # the parent's line
    assert not re.search(r"vrun > [ab]: ", term.text), term.text
    assert "vrun > installing 1 requirement with " in term.text  # the children's plain lines


def test_status_line_keeps_the_time_when_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

        def fileno(self) -> int:
            raise io.UnsupportedOperation  # no size: 80 columns

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(output._State, "color", False)
    line = output.StatusLine()
    line.draw("x" * 200, " (1.5s)")
    assert err.getvalue() == "\r\x1b[K" + "x" * 69 + "..." + " (1.5s)"
    output.log(output.WARNING, "a log line clears it")
    assert err.getvalue().endswith(" (1.5s)\r\x1b[Kvrun > a log line clears it\n")
    assert line.shown == ""
    line.draw("y")
    line.clear()
    assert err.getvalue().endswith("\r\x1b[Ky\r\x1b[K")
    monkeypatch.setenv("TERM", "dumb")
    assert not output.StatusLine().tty
