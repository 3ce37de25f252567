"""``vrun shell`` and ``vrun activate``: the user's own shell, with a session's env activated.

``vrun shell`` replaces itself (``exec``) with an interactive shell that loads the user's rc files
first and then sources the activate script virtualenv wrote for that shell, so the env's ``bin/``
ends up first on ``PATH`` after whatever the rc files did. Each shell is told to run vrun's code
after its rc files in its own way:

========== =================================================================================
bash       ``bash --rcfile RC -i``; RC sources ``~/.bashrc``, then ``bin/activate``.
zsh        ``ZDOTDIR`` points at a directory whose ``.zshenv``/``.zshrc`` put the user's
           ``ZDOTDIR`` back, source the user's ``.zshenv``/``.zshrc``, then ``bin/activate``.
fish       ``fish -i -C 'source bin/activate.fish'``: ``-C`` runs after ``config.fish``.
sh, dash   ``ENV=RC sh -i`` (POSIX: an interactive sh sources ``$ENV``); RC puts the user's
           ``ENV`` back and sources it, then ``bin/activate``.
csh, tcsh  ``HOME`` points at a directory whose ``.cshrc``/``.tcshrc`` put ``HOME`` back,
           source the user's ``~/.tcshrc`` or ``~/.cshrc``, then ``bin/activate.csh`` (these
           shells have no option naming an rc file).
========== =================================================================================

The rc files live in a private per-user directory (``$XDG_RUNTIME_DIR/vrun`` or
``$TMPDIR/vrun-UID``), one small directory per (shell, env, session), named by a hash of its
contents, so they are written once and reused rather than left behind on every start.

A shell started this way has ``VRUN_SHELL`` set to the env directory; ``vrun shell`` run inside it
again is refused while that env is still active. A ``VIRTUAL_ENV`` that is set but not active (its
``bin/`` is not first on ``PATH``, as in a tmux pane that inherited it from the tmux server while the
pane's rc files rebuilt ``PATH``) is removed before the new shell starts.

vrun's own command stays on the shell's ``PATH`` when the cleaning took it off (vrun installed in
the venv that was active): a private directory holding only ``vrun`` goes last on ``PATH``
(:class:`vrun.commands.activation.Shim`, written by :func:`write_shim`).

Nothing here prints; :func:`inherited_env_problem` returns the line for the CLI to log.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from vrun.commands.activation import CSH_SHELLS, SUPPORTED_SHELLS, Shim, fish_activate, rc_files, unsupported
from vrun.environ import SHELL_MARKER, clean_environ
from vrun.errors import CommandNotFoundError, UsageError, VrunError
from vrun.inputs import write_atomic


@dataclass(frozen=True)
class ShellPlan:
    """What :func:`exec_shell` runs.

    :param argv: the shell's command line; ``argv[0]`` is the shell's executable.
    :param env: the shell's complete environment.
    :param files: rc files to write before starting the shell, absolute path -> text.
    :param shim: the directory with vrun's own command that the rc files put on ``PATH``, if any.
    """

    argv: tuple[str, ...]
    env: Mapping[str, str]
    files: Mapping[Path, str]
    shim: Shim | None = None


def shell_kind(name: str) -> str | None:
    """Return the supported shell a program name or path names, or ``None``.

    :param name: ``bash``, ``/usr/bin/zsh``, or ``-bash`` (a login shell's ``argv[0]``, as ``ps`` shows it).
    :returns: one of :data:`SUPPORTED_SHELLS`, or ``None`` for anything else.
    """
    base = os.path.basename(name.strip()).lstrip("-")
    return base if base in SUPPORTED_SHELLS else None


def _parent_process(ppid: int) -> tuple[str, str | None] | None:
    """Return (program name, executable path or ``None``) of process ``ppid``, or ``None`` if unknown.

    Reads ``/proc/PID/comm`` and ``/proc/PID/exe`` (Linux), else asks ``ps -o comm= -p PID`` (BSD, macOS).
    """
    proc = Path("/proc", str(ppid))
    try:
        comm = (proc / "comm").read_text().strip()
    except OSError:
        try:
            out = subprocess.run(
                ["ps", "-o", "comm=", "-p", str(ppid)], capture_output=True, text=True, check=False
            )
        except OSError:
            return None
        comm = out.stdout.strip()
        if not comm:
            return None
        return comm, comm if os.path.isabs(comm) else None
    try:
        exe: str | None = os.readlink(proc / "exe")
    except OSError:
        exe = None
    if exe is not None and not os.path.isfile(exe):  # replaced on disk: "/usr/bin/zsh (deleted)"
        exe = None
    return comm, exe


def detect_shell(
    environ: Mapping[str, str], override: str | None = None, ppid: int | None = None
) -> tuple[str, str]:
    """Find the shell to start: ``--shell``, else the parent process when it is a shell, else ``$SHELL``.

    :param environ: the caller's environment (``PATH`` to find a shell by name, ``SHELL``).
    :param override: ``--shell``'s value, a name (``zsh``) or a path (``/opt/bin/fish``).
    :param ppid: the process to look at, by default :func:`os.getppid` (the shell that ran vrun).
    :returns: (kind, executable): one of :data:`SUPPORTED_SHELLS` and an absolute path.
    :raises UsageError: the shell is not one of :data:`SUPPORTED_SHELLS`, or cannot be found.
    """
    path = environ.get("PATH", os.defpath)
    if override is not None:
        kind = shell_kind(override)
        if kind is None:
            raise unsupported(repr(override))
        exe = override if os.sep in override else shutil.which(override, path=path)
        if exe is None or not os.access(exe, os.X_OK):
            raise UsageError(f"shell {override!r} not found", f"install {kind}, or pass its path to --shell")
        return kind, os.path.abspath(exe)
    parent = _parent_process(os.getppid() if ppid is None else ppid)
    if parent is not None:
        comm, exe = parent
        kind = shell_kind(comm)
        if kind is not None:
            if exe is None:
                exe = shutil.which(kind, path=path)
            if exe is not None:
                return kind, exe
    login = environ.get("SHELL", "")
    kind = shell_kind(login) if login else None
    if kind is None:
        raise unsupported(f"$SHELL={login!r}" if login else "(no $SHELL, and vrun's parent is not a shell)")
    exe = login if os.path.isabs(login) else shutil.which(login, path=path)
    if exe is None:
        raise UsageError(f"shell {login!r} from $SHELL not found", "choose one with --shell NAME")
    return kind, exe


def _norm(entry: str) -> str:
    return os.path.normpath(entry) if entry else entry


def _is_active(environ: Mapping[str, str]) -> bool:
    """Whether ``VIRTUAL_ENV`` is set and its ``bin/`` is the first ``PATH`` entry (what activate does)."""
    venv = environ.get("VIRTUAL_ENV")
    if not venv:
        return False
    first = environ.get("PATH", "").split(os.pathsep)[0]
    return _norm(first) == _norm(os.path.join(venv, "bin"))


def inherited_env_problem(environ: Mapping[str, str]) -> str | None:
    """Explain, in one line, a ``VIRTUAL_ENV`` that is set but not active; ``None`` if there is none.

    The tmux case: a pane inherits ``VIRTUAL_ENV`` from the tmux server's environment while the pane's
    rc files rebuild ``PATH``, so the variable names an env whose ``bin/`` is not first on ``PATH``.

    :param environ: the caller's environment.
    """
    venv = environ.get("VIRTUAL_ENV")
    if not venv or _is_active(environ):
        return None
    return (
        f"VIRTUAL_ENV={venv} was inherited but is not active (its bin/ is not first on PATH, as in a "
        "new tmux pane); ignoring it and removing it from PATH"
    )


def refuse_nested(environ: Mapping[str, str]) -> None:
    """Refuse to start a vrun shell inside a vrun shell whose env is still active.

    Inside means: ``VRUN_SHELL`` is set (by :func:`shell_exec_plan`) and ``VIRTUAL_ENV``'s ``bin/``
    is first on ``PATH``. After ``deactivate``, or in a tmux pane that only inherited the variables,
    a new shell is allowed.

    :param environ: the caller's environment.
    :raises UsageError: inside an active vrun shell (exit 2).
    """
    if environ.get(SHELL_MARKER) and _is_active(environ):
        raise UsageError(
            f"already in a vrun shell for {environ['VIRTUAL_ENV']}",
            "type `exit` to leave it, then run `vrun shell` again",
        )


def default_rc_root(environ: Mapping[str, str]) -> Path:
    """Where vrun keeps its rc files: ``$XDG_RUNTIME_DIR/vrun`` if that directory is the user's, else
    ``$TMPDIR/vrun-UID`` (``/tmp`` without ``TMPDIR``).

    :param environ: the caller's environment.
    """
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        try:
            if os.stat(runtime).st_uid == os.getuid():
                return Path(runtime, "vrun")
        except OSError:
            pass
    return Path(environ.get("TMPDIR") or "/tmp", f"vrun-{os.getuid()}")


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir


def shell_exec_plan(
    kind: str,
    shell: str,
    env_dir: Path,
    session: str,
    environ: Mapping[str, str],
    rc_root: Path | None = None,
    shim: Shim | None = None,
) -> ShellPlan:
    """Plan an interactive ``kind`` shell with ``env_dir`` activated after the user's rc files.

    Pure: computes the command line, the environment and the rc files' text; :func:`exec_shell` writes
    the files and starts the shell. The environment is :func:`clean_environ`'s plus ``VRUN_SHELL``
    (the env directory) and what the shell needs to find vrun's rc files.

    :param kind: one of :data:`SUPPORTED_SHELLS`, from :func:`detect_shell`.
    :param shell: the shell's executable.
    :param env_dir: the env's directory (absolute), made by virtualenv (which writes the activate scripts).
    :param session: the session's name: ``VIRTUAL_ENV_PROMPT`` and the prompt's ``(SESSION)`` prefix.
    :param environ: the caller's environment.
    :param rc_root: where rc files go, default :func:`default_rc_root`.
    :param shim: vrun's own command, for the rc files to append to ``PATH``
        (:func:`vrun.commands.activation.plan_shim` of :func:`clean_environ`'s ``PATH``), or ``None``.
    :raises UsageError: ``kind`` is not supported.
    """
    if kind not in SUPPORTED_SHELLS:
        raise unsupported(repr(kind))
    env = clean_environ(environ, env_dir)
    env[SHELL_MARKER] = str(env_dir)
    append = shim.directory if shim else None
    if kind == "fish":
        return ShellPlan((shell, "-i", "-C", fish_activate(env_dir, session, append)), env, {}, shim)
    texts = rc_files(kind, env_dir, session, append)
    digest = hashlib.sha256(repr(sorted(texts.items())).encode()).hexdigest()[:16]
    rc_dir = (rc_root or default_rc_root(environ)) / f"{kind}-{digest}"
    files = {rc_dir / name: text for name, text in texts.items()}
    if kind == "bash":
        argv: tuple[str, ...] = (shell, "--rcfile", str(rc_dir / "bashrc"), "-i")
    else:
        argv = (shell, "-i")
    if kind == "zsh":
        if "ZDOTDIR" in environ:
            env["_VRUN_ZDOTDIR"] = environ["ZDOTDIR"]
        env["ZDOTDIR"] = str(rc_dir)
    elif kind in ("sh", "dash"):
        if "ENV" in environ:
            env["_VRUN_ENV"] = environ["ENV"]
        env["ENV"] = str(rc_dir / "shrc")
    elif kind in CSH_SHELLS:
        env["_VRUN_HOME"] = _home(environ)
        env["HOME"] = str(rc_dir)
    return ShellPlan(argv, env, files, shim)


def _private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) or check that the existing one is a private directory of this user.

    :raises VrunError: it exists but is a symlink, not a directory, someone else's, or open to others.
    """
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise VrunError(f"cannot create {path}: {exc.strerror}") from exc
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise VrunError(
            f"refusing to use {path} for shell rc files: not a private directory owned by you",
            "remove it, or set XDG_RUNTIME_DIR or TMPDIR to a directory of your own",
        )


def write_shim(shim: Shim) -> None:
    """Make ``shim.directory`` (private) hold its ``vrun``: a symbolic link to the script, or an
    executable ``sh`` script; replaced atomically, and only when it differs.

    :raises VrunError: the directory or its parent is not usable (see :func:`_private_dir`), or the
        ``vrun`` in it cannot be written.
    """
    _private_dir(shim.directory.parent)
    _private_dir(shim.directory)
    path = shim.directory / "vrun"
    try:
        if shim.target is not None:
            if os.path.islink(path) and os.readlink(path) == shim.target:
                return
            tmp = shim.directory / f".vrun.{os.getpid()}.tmp"
            tmp.unlink(missing_ok=True)
            os.symlink(shim.target, tmp)
            os.replace(tmp, path)
        elif shim.text is not None:
            if not path.is_symlink() and path.is_file() and path.read_text() == shim.text:
                return
            write_atomic(str(path), shim.text, mode=0o755)
    except OSError as exc:
        raise VrunError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_rc_files(plan: ShellPlan) -> None:
    """Write ``plan.files`` (each replaced atomically, only when its text differs) in a private
    directory, and ``plan.shim`` (:func:`write_shim`).

    :raises VrunError: the rc directory's parent is not usable (see :func:`_private_dir`).
    """
    if plan.shim is not None:
        write_shim(plan.shim)
    for path, text in plan.files.items():
        _private_dir(path.parent.parent)
        _private_dir(path.parent)
        try:
            if path.read_text() == text:
                continue
        except OSError:
            pass
        write_atomic(str(path), text)


def exec_shell(plan: ShellPlan) -> NoReturn:
    """Write the plan's rc files and replace this process with the shell (``os.execve``).

    Inheritable file descriptors (a lock held on the env) stay open in the shell.

    :raises CommandNotFoundError: the shell's executable does not exist.
    :raises VrunError: it cannot be run, or the rc files cannot be written.
    """
    write_rc_files(plan)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(plan.argv[0], list(plan.argv), dict(plan.env))
    except FileNotFoundError as exc:
        raise CommandNotFoundError(f"shell {plan.argv[0]} not found") from exc
    except OSError as exc:
        raise VrunError(f"cannot start shell {plan.argv[0]}: {exc.strerror}") from exc
