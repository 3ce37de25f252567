"""Run one program: find it, start it, forward signals, time it out, reap it. Light on purpose.

Session commands, ``vrun run`` and the installers vrun calls to build an env all run through
:func:`run_command`, so there is one rule for signals, timeouts and exit statuses (nox's
``popen.py`` and ``command.py`` are the models: the exit status is a returned value, and an
interrupted child gets a moment, then SIGTERM, then SIGKILL). Commands' output is not piped
unless asked: the child inherits vrun's terminal, so colours and progress bars survive
(tox #1773). Imports nothing heavier than ``os``, ``_signal`` and ``sys``.
"""

from __future__ import annotations

import os
import sys
import time

from vrun.errors import CommandNotFoundError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import FrameType
else:  # the C module: ``signal`` builds its enums at import (benchmarks/README.md, "Import costs")
    import _signal as signal

#: Exit status for a program that exists but cannot be executed (the shell convention).
EXIT_NOT_EXECUTABLE = 126


def grace_seconds() -> float:
    """Seconds a child gets after a forwarded signal or a timeout before SIGTERM, then SIGKILL.

    ``VRUN_KILL_GRACE`` overrides the default of 3 seconds (tox waits 0.3 s, nox 0.3 s; vrun gives
    pytest time to print its summary on Ctrl-C).
    """
    try:
        return max(0.05, float(os.environ.get("VRUN_KILL_GRACE", "3")))
    except ValueError:
        return 3.0


def which(program: str, path: str) -> str | None:
    """The first executable file named ``program`` in the ``path`` directories (like ``command -v``)."""
    for directory in path.split(os.pathsep):
        if directory:
            candidate = os.path.join(directory, program)
            if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
                return candidate
    return None


def is_python_script(path: str) -> bool:
    """Whether ``path`` is a Python console script or a pyenv shim (it runs some Python).

    Recognizes a ``#!`` line naming python, pip's ``#!/bin/sh`` + ``'''exec' .../python`` form for
    long paths, and pyenv's shims (``exec "pyenv" exec``).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    if not head.startswith(b"#!"):
        return False
    lines = head.split(b"\n", 3)[:3]
    return (
        b"python" in lines[0]
        or any(b"exec" in line and b"python" in line for line in lines)
        or (b"pyenv" in head and b"exec" in head)
    )


def resolve_program(
    argv: list[str], environ: Mapping[str, str], *, cwd: str, env_dir: str, external: Iterable[str] = ()
) -> tuple[list[str], str | None]:
    """Resolve ``argv[0]`` in the env's ``bin/``, then on ``PATH`` (which has ``bin/`` first).

    One rule for a program found outside the env: a Python console script (or pyenv shim) of
    another interpreter is an error unless the session lists it in ``external``, because it would
    run on the wrong interpreter without the session's requirements; any other program (make,
    git) runs, with a note unless listed in ``external`` (tox's ``allowlist_externals``, made
    non-fatal).

    :returns: the argv with ``argv[0]`` made absolute, and the note to log (or ``None``).
    :raises CommandNotFoundError: not found, or another interpreter's script (exit 127); found
        but not executable (exit 126).
    :raises UsageError: for an empty command.
    """
    if not argv:
        raise UsageError("empty command")
    program = argv[0]
    bin_dir = os.path.join(env_dir, "bin")
    if os.sep in program:
        path = os.path.normpath(os.path.join(cwd, program))
        if os.access(path, os.X_OK) and os.path.isfile(path):
            return [path, *argv[1:]], None
        if os.path.isfile(path):
            raise _not_executable(program, path)
        raise CommandNotFoundError(f"command {program!r} not found: {path} is not an executable file")
    path_value = environ.get("PATH", "")
    found = which(program, path_value)
    if found is None:
        for directory in path_value.split(os.pathsep):
            if directory and os.path.isfile(os.path.join(directory, program)):
                raise _not_executable(program, os.path.join(directory, program))
        raise CommandNotFoundError(
            f"command {program!r} not found in the env ({bin_dir}) nor on PATH",
            hint=f"add the package that provides {program!r} to the session's deps",
        )
    if os.path.dirname(found) == bin_dir or program in set(external) or found in set(external):
        return [found, *argv[1:]], None
    if is_python_script(found):
        raise CommandNotFoundError(
            f"command {program!r} is not installed in the env; the {program!r} found on PATH "
            f"({found}) belongs to another Python",
            hint=f"add the package that provides {program!r} to the session's deps, "
            f'or list it in the session\'s external = ["{program}"] to run that one anyway',
        )
    return [found, *argv[1:]], f"{program} is not in the env; running {found} from PATH"


def _not_executable(program: str, path: str) -> CommandNotFoundError:
    exc = CommandNotFoundError(f"command {program!r} is not executable: {path}", hint=f"chmod +x {path}")
    exc.exit_code = EXIT_NOT_EXECUTABLE
    return exc


def signal_name(signum: int) -> str:
    """``"SIGSEGV"`` for 11, ``"signal 64"`` for a number without a name."""
    try:
        import signal as enums  # the names, only when one is shown

        return enums.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Outcome:
    """How a command ended.

    :ivar status: its exit status; 128+N when killed by signal N (the shell convention).
    :ivar signal: the signal that killed it, or ``None`` when it exited (an exit status of 139
        is a program's own, not SIGSEGV).
    :ivar received: the signal that interrupted vrun while it ran (SIGINT, SIGTERM, SIGHUP), or ``None``.
    :ivar timed_out: the command ran past its timeout and was stopped.
    :ivar duration: wall-clock seconds.
    """

    __slots__ = ("duration", "received", "signal", "status", "timed_out")

    def __init__(
        self, status: int, received: int | None, timed_out: bool, duration: float, signal: int | None = None
    ) -> None:
        self.status = status
        self.signal = signal
        self.received = received
        self.timed_out = timed_out
        self.duration = duration


def handle(signals: Iterable[int], handler: Callable[[int, FrameType | None], None]) -> dict[int, object]:
    """Install ``handler`` for each of ``signals`` that vrun was not started ignoring; return the
    handlers replaced, to restore with :func:`restore`.

    A signal ignored at start-up stays ignored, as a shell's background job (SIGINT) or ``nohup``
    (SIGHUP) asked, and as exec passes it on to every child (POSIX ``execve``).
    """
    old: dict[int, object] = {}
    for sig in signals:
        if signal.getsignal(sig) != signal.SIG_IGN:
            old[sig] = signal.signal(sig, handler)
    return old


def restore(old: Mapping[int, object]) -> None:
    """Put back the handlers :func:`handle` replaced."""
    for sig, handler in old.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


class _Supervisor:
    """While a child runs: forward SIGINT/SIGTERM/SIGHUP to it, enforce the timeout, escalate.

    The first forwarded signal (or the timeout) arms a grace timer (``SIGALRM``); if the child is
    still running when it fires it gets SIGTERM, and SIGKILL after one more period. A second
    signal from the user kills at once. The parent meanwhile blocks in ``waitpid`` (retried after
    each handler, PEP 475), so a normal exit is noticed at once, with no polling.
    """

    FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, own_group: bool, timeout: float | None) -> None:
        self.received: int | None = None
        self.timed_out = False
        self.child: int | None = None  # the running child's pid; None before it starts and once reaped
        self.own_group = own_group
        self.timeout = timeout
        self.grace = grace_seconds()
        self._escalation = 0
        self._old: dict[int, object] = {}

    def send(self, signum: int) -> None:
        child = self.child
        if child is None:
            return
        try:
            if self.own_group:
                try:
                    os.killpg(child, signum)
                except ProcessLookupError:  # forked, but its setsid() has not run yet
                    os.kill(child, signum)
            else:
                os.kill(child, signum)
        except OSError:
            pass

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:  # a second Ctrl-C: the user means it
            self.send(signal.SIGKILL)
            return
        self.received = signum
        signal.setitimer(signal.ITIMER_REAL, self.grace)
        # In a terminal's foreground the child shares our group: Ctrl-C already reached it.
        if self.own_group or signum != signal.SIGINT:
            self.send(signum)

    def _alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None and not self.timed_out:  # the timeout itself
            self.timed_out = True
            self.send(signal.SIGTERM)
            self._escalation = 1
        else:
            self._escalation += 1
            self.send(signal.SIGTERM if self._escalation == 1 else signal.SIGKILL)
        signal.setitimer(signal.ITIMER_REAL, self.grace)

    def __enter__(self) -> _Supervisor:
        self._old = handle(self.FORWARDED, self._handler)
        self._old[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._alarm)
        if self.timeout:
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        restore(self._old)

    def sweep(self, pgid: int) -> None:
        """After an interrupt or a timeout, stop what is left of the child's process group.

        Grandchildren outlive their parent unless told: SIGTERM, then SIGKILL after the grace
        period for any that ignore it. Nothing of a session outlives vrun.
        """
        if not self.own_group:
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, signum)
            except OSError:
                return  # the group is empty
            deadline = time.monotonic() + (self.grace if signum == signal.SIGTERM else 1.0)
            while time.monotonic() < deadline:
                if not group_alive(pgid):
                    return
                time.sleep(0.02)


def group_alive(pgid: int) -> bool:
    """Whether some process of group ``pgid`` still runs; zombies do not count.

    ``killpg(pgid, 0)`` succeeds while the group has zombies, and orphans are reaped by init, which
    in a container may never happen (a PID 1 that does not reap): the sweep would then wait out
    the whole grace period for processes that are already dead. On Linux ``/proc`` tells.
    """
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rpartition(b")")[2].split()  # state, ppid, pgrp, ...
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] not in (b"Z", b"X"):
            return True
    return False


def in_foreground() -> bool:
    """True when vrun runs in the foreground process group of a terminal (an interactive shell)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def run_command(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str],
    cwd: str,
    shell: bool = False,
    timeout: float | None = None,
    output: int | None = None,
    keep_fds: Sequence[int] = (),
    own_group: bool | None = None,
    tick: Callable[[], None] | None = None,
) -> Outcome:
    """Run one command and wait for it; return its :class:`Outcome`.

    In a terminal's foreground the child shares vrun's process group, so Ctrl-C reaches it at once
    and interactive programs (``pytest --pdb``) can read the terminal. Elsewhere (CI, scripts,
    installers) the child gets a process group of its own, and SIGINT, SIGTERM and SIGHUP sent to
    vrun are forwarded to that whole group. After a signal or the timeout the child has
    :func:`grace_seconds`, then is terminated, then killed; a second signal kills at once; once it
    is gone, its leftover group is swept (:meth:`_Supervisor.sweep`).

    :param shell: run ``argv[0]`` through ``/bin/sh -c``.
    :param timeout: seconds, or ``None`` for no limit.
    :param output: a descriptor the child's stdout and stderr go to (an installer's log), else the
        terminal is inherited.
    :param keep_fds: descriptors the child inherits (a build lock: the installer then holds it).
    :param own_group: force a process group of its own (True) or not; default as described.
    :param tick: called about every :data:`TICK_SECONDS` while the child runs (a status line's
        elapsed time, :class:`vrun.output.step`); without it vrun simply blocks in ``waitpid``.
    """
    args: list[str] = ["/bin/sh", "-c", argv[0]] if shell else list(argv)
    group = (not in_foreground()) if own_group is None else own_group
    start = time.monotonic()
    with _Supervisor(group, timeout) as supervisor:
        # Held back until the supervisor knows the child: a signal in between is then forwarded.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _Supervisor.FORWARDED)
        try:
            pid = _spawn(args, environ, cwd, new_session=group, output=output, keep_fds=keep_fds, mask=mask)
            supervisor.child = pid
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if tick is None:
            _, wait_status = os.waitpid(pid, 0)  # retried after each signal handler (PEP 475)
        else:
            wait_status = _wait_ticking(pid, tick)
        supervisor.child = None
        if supervisor.received is not None or supervisor.timed_out:
            supervisor.sweep(pid)
    code = os.waitstatus_to_exitcode(wait_status)
    status = 128 - code if code < 0 else code
    killed_by = -code if code < 0 else None
    return Outcome(status, supervisor.received, supervisor.timed_out, time.monotonic() - start, killed_by)


#: Seconds between two calls of :func:`run_command`'s ``tick``.
TICK_SECONDS = 0.1


def _wait_ticking(pid: int, tick: Callable[[], None]) -> int:
    """``waitpid(pid)``, calling ``tick`` about every :data:`TICK_SECONDS` meanwhile; the wait status.

    On Linux a pidfd (``pidfd_open``, Linux 5.3) wakes the wait the moment the child exits;
    elsewhere the child is polled, at 5 ms at first and then less often, so a short command is
    not held up. Signal handlers run during the waits (PEP 475 retries them).
    """
    import select

    try:
        fd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    delay = 0.005
    try:
        while True:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                return wait_status
            tick()
            if fd is not None:
                select.select([fd], [], [], TICK_SECONDS)
            else:
                time.sleep(delay)
                delay = min(delay * 2, TICK_SECONDS)
    finally:
        if fd is not None:
            os.close(fd)


#: Signals Python ignores at start-up, given back their default for the child as
#: :mod:`subprocess` does (``restore_signals``): a pipeline must end on SIGPIPE.
_RESTORED = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name))


def _spawn(
    args: Sequence[str],
    environ: Mapping[str, str],
    cwd: str,
    *,
    new_session: bool,
    output: int | None,
    keep_fds: Sequence[int],
    mask: Iterable[int] = (),
) -> int:
    """Fork and exec ``args`` (``args[0]`` is a path) in ``cwd``; return the child's pid.

    What :class:`subprocess.Popen` does for this case, without importing it: the child changes
    directory, optionally starts a new session (``start_new_session``), redirects its output,
    keeps ``keep_fds`` open (``pass_fds``), restores :data:`_RESTORED`, gives the forwarded
    signals their default action and ``mask`` back (the parent blocks them around the fork), and
    replaces itself; if it
    cannot, it says why on stderr and exits 127, as a shell would. Descriptors vrun opened are
    close-on-exec (PEP 446), so the child inherits only stdin, stdout, stderr and ``keep_fds``.
    """
    env = dict(environ)
    pid = os.fork()
    if pid:
        return pid
    exec_failed = False
    try:  # the child: nothing here may return into vrun's code
        # vrun's Python handlers were copied by fork: a signal meant for the child before it
        # replaces itself would run them here and be lost. The default is what exec gives anyway
        # (ignored signals stay ignored);
        # then the signal mask the parent had before blocking the forwarded signals for the fork.
        for sig in _Supervisor.FORWARDED:
            if signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.chdir(cwd)
        if new_session:
            os.setsid()
        if output is not None:
            os.dup2(output, 1)
            os.dup2(output, 2)
        for fd in keep_fds:
            os.set_inheritable(fd, True)
        for sig in _RESTORED:
            signal.signal(sig, signal.SIG_DFL)
        exec_failed = True
        os.execve(args[0], list(args), env)
    except BaseException as exc:
        code, why = 127, str(exc)
        if exec_failed and isinstance(exc, OSError) and os.path.isfile(args[0]):
            code, why = EXIT_NOT_EXECUTABLE, _exec_problem(args[0], exc)
        try:
            os.write(2, f"vrun > error: cannot run {args[0]}: {why}\n".encode(errors="replace"))
        finally:
            os._exit(code)
    os._exit(127)  # unreachable: execve does not return


def _exec_problem(path: str, exc: OSError) -> str:
    """Why an existing file could not be executed, as a shell would say it (``bad interpreter``)."""
    import errno

    if exc.errno == errno.ENOENT:  # the file is there: its #! interpreter is not
        try:
            with open(path, "rb") as fh:
                first = fh.readline(256)
        except OSError:
            first = b""
        if first.startswith(b"#!"):
            interpreter = first[2:].strip().split(b" ")[0].decode(errors="replace")
            return f"bad interpreter: {interpreter} not found"
    if exc.errno == errno.ENOEXEC:
        return "not a program this system can run (no #! line, or another architecture)"
    return exc.strerror or str(exc)
