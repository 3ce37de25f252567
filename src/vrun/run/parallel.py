"""``vrun -p N``: run independent sessions at once, each in a child vrun, one session per child.

A scheduler, not a second session loop: every session still runs through :func:`vrun.run.loop.run_plan`
(the same loop, the same locks, the same rules), in a child ``python -m vrun --parallel-child PLAN
--report REPORT`` whose PLAN is that one session's part of the plan this process made (the child
does not plan again) and whose REPORT (:func:`vrun.report.results.json_report`) gives its result back.
The scheduler only decides *when* a session starts:

- at most ``options.jobs`` children at once; a session starts once every session it ``requires``
  has ended, and is skipped when one did not pass or after a failure under ``-x``
  (:func:`vrun.run.rules.skip_reason`, the serial loop's rule);
- a session with ``parallel = false`` runs alone;
- a child's output goes to a pseudo-terminal when vrun's stdout is a terminal (tools keep their
  colours; the child's stdin is ``/dev/null``), else to a file, and is printed whole, folded
  for CI (:func:`vrun.report.ci.fold_start`), when the session ends: logs never interleave;
- on a terminal (stderr) a status line shows what runs and for how long; elsewhere a plain
  ``started NAME`` line;
- SIGINT, SIGTERM and SIGHUP are forwarded to every child's process group (each child is a
  session leader and forwards them to its command's group, which it sweeps); nothing new starts,
  and vrun waits for the children. Under ``-x`` a failure stops the running children the same
  way (SIGTERM); they are reported as skipped (``fail-fast (interrupted)``).

Two sessions never share an env directory (it is named after the session), and a build is
serialised by the env's lock as it is between any two vrun processes.
"""

from __future__ import annotations

import json
import marshal
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO

from vrun import output
from vrun.errors import Interrupted
from vrun.process import grace_seconds, handle, restore
from vrun.report.ci import fold_end, fold_start
from vrun.report.results import xml_safe
from vrun.run.rules import RunOptions, new_result, skip_reason

if TYPE_CHECKING:
    from vrun._types import Plan, SessionPlan, SessionResult
#: Lines of a failed command's captured output kept in the report (``output_tail``).
TAIL_LINES = 40


class _Child:
    """A running child vrun: its session plan, process, captured output and report file."""

    def __init__(self, session_plan: SessionPlan, proc: subprocess.Popen[bytes], report: str) -> None:
        self.session_plan = session_plan
        self.proc = proc
        self.report = report
        self.start = time.monotonic()
        self.fd: int | None = None  # the pty's master side
        self.file: BinaryIO | None = None  # or the file its output goes to
        self.chunks: list[bytes] = []
        self.stopped = False  # stopped by -x
        self.signalled: float | None = None  # when a signal was first forwarded to it

    def captured(self) -> bytes:
        if self.file is not None:
            self.file.seek(0)
            return self.file.read()
        return b"".join(self.chunks).replace(b"\r\n", b"\n")  # the pty's ONLCR; ours adds it again


def run_parallel(
    plan: Plan, posargs: Sequence[str] | None, options: RunOptions, environ: Mapping[str, str]
) -> list[SessionResult]:
    """Run ``plan``'s sessions, up to ``options.jobs`` at once; their results in plan order.

    :raises Interrupted: a signal arrived while no session was running to report it.
    """
    pending = list(plan["sessions"])
    names = {session_plan["name"] for session_plan in pending}
    results: dict[str, SessionResult] = {}
    running: list[_Child] = []
    received: list[int] = []
    selector = selectors.DefaultSelector()
    status = output.StatusLine()
    use_pty = output.isatty(sys.stdout)
    tmp = tempfile.mkdtemp(prefix="vrun-parallel-")

    def forward(signum: int, frame: object = None) -> None:
        received.append(signum)
        for child in running:
            child.signalled = child.signalled or time.monotonic()
            _killpg(child.proc.pid, signum)

    old = handle((signal.SIGINT, signal.SIGTERM, signal.SIGHUP), forward)
    try:
        while pending or running:
            if received:
                pending.clear()
            for session_plan in list(pending):
                if len(running) >= options.jobs or any(not c.session_plan["parallel"] for c in running):
                    break
                if any(r in names and r not in results for r in session_plan["requires"]):
                    continue  # wait for its requirements
                reason = skip_reason(session_plan, results, options)
                if reason is not None:
                    pending.remove(session_plan)
                    results[session_plan["name"]] = {
                        **new_result(session_plan),
                        "status": "skipped",
                        "reason": reason,
                    }
                    output.warning(f"skipping {session_plan['name']}: {reason}")
                    continue
                if not session_plan["parallel"] and running:
                    break  # it runs alone: once the others have ended
                pending.remove(session_plan)
                running.append(_start(plan, session_plan, posargs, options, environ, tmp, use_pty, selector))
                if not status.tty:
                    output.info(f"started {session_plan['name']}")
            _pump(selector, 0.1)
            for child in [c for c in running if c.proc.poll() is not None]:
                running.remove(child)
                result = _finish(child, selector)
                results[result["name"]] = result
                status.clear()
                _show(child, environ)
                if options.fail_fast and result["status"] == "failed" and not child.stopped:
                    for other in running:
                        other.stopped = True
                        other.signalled = other.signalled or time.monotonic()
                        _killpg(other.proc.pid, signal.SIGTERM)
            now = time.monotonic()
            status.draw(
                "vrun > running: "
                + ", ".join(f"{c.session_plan['name']} {now - c.start:.0f}s" for c in running)
                if running
                else ""
            )
            _overdue(running)
    finally:
        restore(old)
        for child in running:  # only after an unexpected error: leave nothing behind
            _killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
        status.clear()
        selector.close()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    ordered = [
        results[session_plan["name"]] for session_plan in plan["sessions"] if session_plan["name"] in results
    ]
    if received and not any(r["reason"].startswith("interrupted by") for r in ordered):
        raise Interrupted(received[0])
    return ordered


def _start(
    plan: Plan,
    session_plan: SessionPlan,
    posargs: Sequence[str] | None,
    options: RunOptions,
    environ: Mapping[str, str],
    tmp: str,
    use_pty: bool,
    selector: selectors.BaseSelector,
) -> _Child:
    """Start a child vrun for ``session_plan``'s session alone (its requirements already handled here)."""
    base = os.path.join(tmp, session_plan["name"])
    with open(base + ".plan", "wb") as fh:
        marshal.dump({**plan, "sessions": [{**session_plan, "requires": []}]}, fh)
    argv = [sys.executable, "-m", "vrun", "--parallel-child", base + ".plan", "--report", base + ".json"]
    argv += output.child_flags()
    flags = {
        "--recreate": options.recreate,
        "--no-install": options.no_install,
        "--skip-missing-interpreters": options.skip_missing,
        "--install-only": options.install_only,
    }
    argv += [flag for flag, wanted in flags.items() if wanted]
    if session_plan["explicit"] and posargs is not None:
        argv += ["--", *posargs]
    if use_pty:
        master, slave = os.openpty()
        _copy_winsize(slave)
        sink: int | BinaryIO = slave
    else:
        master, slave = -1, -1
        sink = open(base + ".out", "w+b")  # noqa: SIM115 - kept open while the child runs
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=dict(environ),
            start_new_session=True,  # its own group: signals reach it only through us
        )
    finally:
        if slave >= 0:
            os.close(slave)
    child = _Child(session_plan, proc, base + ".json")
    if use_pty:
        child.fd = master
        os.set_blocking(master, False)
        selector.register(master, selectors.EVENT_READ, child)
    else:
        assert not isinstance(sink, int)
        child.file = sink
    return child


def _pump(selector: selectors.BaseSelector, timeout: float) -> None:
    """Read what the children wrote to their pseudo-terminals (else they would block), or sleep."""
    if not selector.get_map():
        time.sleep(timeout)
        return
    for key, _ in selector.select(timeout):
        _read(key.data, selector)


def _read(child: _Child, selector: selectors.BaseSelector) -> None:
    """Read all ``child``'s pty holds now; at its end (EIO on Linux), stop watching it."""
    assert child.fd is not None
    while True:
        try:
            data = os.read(child.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            selector.unregister(child.fd)
            os.close(child.fd)
            child.fd = None
            return
        child.chunks.append(data)


def _finish(child: _Child, selector: selectors.BaseSelector) -> SessionResult:
    """The ended child's result, from its report (a failed result when it wrote none)."""
    if child.fd is not None:
        _read(child, selector)
        if child.fd is not None:  # a grandchild still holds the pty open: take what is there
            selector.unregister(child.fd)
            os.close(child.fd)
            child.fd = None
    code = child.proc.returncode
    try:
        with open(child.report, encoding="utf-8") as fh:
            result: SessionResult = json.load(fh)["sessions"][0]
    except (OSError, ValueError, KeyError, IndexError):
        result = new_result(child.session_plan)
        reason = f"vrun exited with status {code} and reported no result (its output is above)"
        result.update({"status": "failed", "reason": reason, "exit_code": code or 1})
    result["duration"] = time.monotonic() - child.start
    if child.stopped and result["reason"].startswith("interrupted by"):
        result.update({"status": "skipped", "reason": "fail-fast (interrupted)"})
    if result["status"] == "failed":
        failed = [c for c in result["commands"] if c["exit_code"] not in (None, 0)]
        if failed:
            failed[-1]["output_tail"] = tail(child.captured())
    return result


def tail(data: bytes, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of captured output, as text without colour codes or CRs."""
    text = xml_safe(data.decode("utf-8", "replace")).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])


def _show(child: _Child, environ: Mapping[str, str]) -> None:
    """Print the ended session's captured output, whole, in a CI fold when under CI."""
    name = child.session_plan["name"]
    start = fold_start(environ, name, f"vrun {name}")
    if start is not None:
        output.stdout_line(start)
    data = child.captured()
    output.stdout_bytes(data if not data or data.endswith(b"\n") else data + b"\n")
    end = fold_end(environ, name)
    if end is not None:
        output.stdout_line(end)
    if child.file is not None:
        child.file.close()


def _overdue(running: Sequence[_Child]) -> None:
    """A signalled child that outlives its own escalation (grace, SIGTERM, SIGKILL) is killed."""
    limit = 3 * grace_seconds() + 5
    for child in running:
        if child.signalled is not None and time.monotonic() - child.signalled > limit:
            _killpg(child.proc.pid, signal.SIGKILL)


def _killpg(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except OSError:
        pass


def _copy_winsize(fd: int) -> None:
    """Give the child's pty the size of vrun's terminal (tools wrap their output to it)."""
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
    except (OSError, ValueError):
        pass
