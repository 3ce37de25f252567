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

    def __init__(self, timeout: float | None) -> None:
        self.received: int | None = None
        self.timed_out = False
        self.child: int | None = None  # the running child (and its group); None before it starts, once reaped
        self.timeout = timeout
        self.grace = grace_seconds()
        self._escalation = 0
        self._old: dict[int, object] = {}

    def send(self, signum: int) -> None:
        child = self.child
        if child is None:
            return
        try:
            try:
                os.killpg(child, signum)
            except ProcessLookupError:  # forked, but its setsid() has not run yet
                os.kill(child, signum)
        except OSError:
            pass

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:  # a second Ctrl-C: the user means it
            self.send(signal.SIGKILL)
            return
        self.received = signum
        signal.setitimer(signal.ITIMER_REAL, self.grace)
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


def foreground_terminal() -> int | None:
    """The descriptor of the terminal (stdin) when vrun runs in its foreground process group (an
    interactive shell's job), else ``None`` (CI, scripts, a background job, no terminal)."""
    try:
        fd = sys.stdin.fileno()
        return fd if os.tcgetpgrp(fd) == os.getpgrp() else None
    except (OSError, ValueError, AttributeError):
        return None


def _hand_terminal(fd: int, pgid: int) -> None:
    """Make ``pgid`` the foreground process group of terminal ``fd``, as a shell does for a job.

    From a background group ``tcsetpgrp`` would stop the caller with SIGTTOU unless it ignores it
    (POSIX ``tcsetpgrp``), so it is ignored for the call, as shells do. A terminal gone or a group
    already gone is not an error: there is nothing to hand over.
    """
    ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, ttou)


def _take_terminal_back(fd: int, job: int) -> None:
    """Make vrun's group the terminal's foreground again, if ``job`` (a group vrun handed it to)
    still has it; a terminal the user's shell took meanwhile (``bg``) is left alone."""
    try:
        held = os.tcgetpgrp(fd) == job
    except OSError:
        return
    if held:
        _hand_terminal(fd, os.getpgrp())


def run_command(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str],
    cwd: str,
    shell: bool = False,
    timeout: float | None = None,
    output: int | None = None,
    stdout: int | None = None,
    keep_fds: Sequence[int] = (),
    interactive: bool = True,
    tick: Callable[[], None] | None = None,
) -> Outcome:
    """Run one command and wait for it; return its :class:`Outcome`.

    The child always runs in a process group of its own, so a signal or the timeout reaches every
    process it started (tox and nox signal only the child, whose grandchildren then outlive them).
    SIGINT, SIGTERM and SIGHUP sent to vrun are forwarded to that whole group. After a signal or
    the timeout the child has :func:`grace_seconds`, then is terminated, then killed; a second
    signal kills at once; once it is gone, its leftover group is swept (:meth:`_Supervisor.sweep`).

    In a terminal's foreground (``interactive``, :func:`foreground_terminal`) the group is a job
    of vrun's session, and the terminal is handed to it as a shell hands it to a job (POSIX
    ``tcsetpgrp``), so Ctrl-C reaches the command's processes at once and interactive programs
    (``pytest --pdb``) can read the terminal. vrun takes the terminal back when the job ends or
    stops. As in a shell: a job killed by SIGINT means the user interrupted the run (the outcome's
    ``received`` is SIGINT, and the group is swept); a job that stops (Ctrl-Z) stops vrun too, and
    gets the terminal and SIGCONT back when vrun is continued in the foreground (``fg``). Elsewhere
    (CI, scripts, installers) the group is a new session with no terminal.

    :param shell: run ``argv[0]`` through ``/bin/sh -c``.
    :param timeout: seconds, or ``None`` for no limit.
    :param output: a descriptor the child's stdout and stderr go to (an installer's log), else the
        terminal is inherited.
    :param stdout: a descriptor the child's stdout goes to instead (a tool's result, apart from its
        log).
    :param keep_fds: descriptors the child inherits (a build lock: the installer then holds it).
    :param interactive: hand the terminal to the command when vrun has it (False for installers).
    :param tick: called about every :data:`TICK_SECONDS` while the child runs (a status line's
        elapsed time, :class:`vrun.output.step`); without it vrun simply blocks in ``waitpid``.
    """
    args: list[str] = ["/bin/sh", "-c", argv[0]] if shell else list(argv)
    terminal = foreground_terminal() if interactive else None
    start = time.monotonic()
    with _Supervisor(timeout) as supervisor:
        # Held back until the supervisor knows the child: a signal in between is then forwarded.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _Supervisor.FORWARDED)
        try:
            pid = _spawn(
                args,
                environ,
                cwd,
                terminal=terminal,
                output=output,
                stdout=stdout,
                keep_fds=keep_fds,
                mask=mask,
            )
            supervisor.child = pid
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            wait_status = _wait(pid, tick, terminal)
        finally:
            if terminal is not None:
                _take_terminal_back(terminal, pid)
        supervisor.child = None
        code = os.waitstatus_to_exitcode(wait_status)
        if terminal is not None and code == -signal.SIGINT and supervisor.received is None:
            supervisor.received = signal.SIGINT  # Ctrl-C: the terminal sent it to the job, not to vrun
        if supervisor.received is not None or supervisor.timed_out:
            supervisor.sweep(pid)
    status = 128 - code if code < 0 else code
    killed_by = -code if code < 0 else None
    return Outcome(status, supervisor.received, supervisor.timed_out, time.monotonic() - start, killed_by)


#: Seconds between two calls of :func:`run_command`'s ``tick``.
TICK_SECONDS = 0.1


def _wait(pid: int, tick: Callable[[], None] | None, terminal: int | None) -> int:
    """Wait for ``pid`` to end; its wait status. A job at ``terminal`` that stops (Ctrl-Z) stops
    vrun with it, the way a shell's job stops; when vrun is continued, so is the job (and it gets
    the terminal back if vrun is in the foreground again: ``fg``, not ``bg``)."""
    flags = 0 if terminal is None else os.WUNTRACED
    while True:
        if tick is None:
            _, wait_status = os.waitpid(pid, flags)  # retried after each signal handler (PEP 475)
        else:
            wait_status = _wait_ticking(pid, tick, flags)
        if not os.WIFSTOPPED(wait_status) or terminal is None:
            return wait_status
        _take_terminal_back(terminal, pid)
        os.kill(os.getpid(), signal.SIGTSTP)  # returns once vrun is continued (SIGCONT)
        if foreground_terminal() == terminal:
            _hand_terminal(terminal, pid)
        try:
            os.killpg(pid, signal.SIGCONT)
        except OSError:
            pass


def _wait_ticking(pid: int, tick: Callable[[], None], flags: int = 0) -> int:
    """``waitpid(pid, flags)``, calling ``tick`` about every :data:`TICK_SECONDS` meanwhile; the wait status.

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
            done, wait_status = os.waitpid(pid, os.WNOHANG | flags)
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
    terminal: int | None,
    output: int | None,
    keep_fds: Sequence[int],
    stdout: int | None = None,
    mask: Iterable[int] = (),
) -> int:
    """Fork and exec ``args`` (``args[0]`` is a path) in ``cwd``; return the child's pid.

    What :class:`subprocess.Popen` does for this case, without importing it: the child changes
    directory, starts a process group of its own (``process_group``: a job that takes
    ``terminal``, when given, as a shell's job does) or else a new session
    (``start_new_session``), redirects its output (``stdout``: its stdout apart),
    keeps ``keep_fds`` open (``pass_fds``), restores :data:`_RESTORED`, gives the forwarded
    signals their default action and ``mask`` back (the parent blocks them around the fork), and
    replaces itself; if it
    cannot, it says why on stderr and exits 127, as a shell would. Descriptors vrun opened are
    close-on-exec (PEP 446), so the child inherits only stdin, stdout, stderr and ``keep_fds``.
    """
    env = dict(environ)
    pid = os.fork()
    if pid:
        if terminal is not None:
            try:  # the child does the same: whichever runs first, the group exists before exec
                os.setpgid(pid, pid)
            except OSError:  # it has already exec'd (then it did it), or is gone
                pass
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
        if terminal is None:
            os.setsid()
        else:
            os.setpgid(0, 0)
            _hand_terminal(terminal, os.getpid())
        if output is not None:
            os.dup2(output, 1)
            os.dup2(output, 2)
        if stdout is not None:
            os.dup2(stdout, 1)
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
