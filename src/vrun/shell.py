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

Nothing here prints; :func:`inherited_env_problem` returns the line for the CLI to log.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from .errors import CommandNotFoundError, UsageError, VrunError

#: The shells ``vrun shell`` and ``vrun activate`` know, by program name.
SUPPORTED_SHELLS: tuple[str, ...] = ("bash", "zsh", "fish", "sh", "dash", "csh", "tcsh")

#: Set to the env directory in a shell that ``vrun shell`` started.
SHELL_MARKER = "VRUN_SHELL"

_POSIX = ("bash", "zsh", "sh", "dash")
_CSH = ("csh", "tcsh")

#: Variables an activate script leaves behind (virtualenv's activate, activate.fish and
#: activate.csh); fish exports them, so a stale copy can reach a new shell through the environment.
_ACTIVATION_LEFTOVERS = (
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "_OLD_PKG_CONFIG_PATH",
    "_OLD_FISH_PROMPT_OVERRIDE",
)

#: Characters shown as they are in a prompt prefix vrun writes itself: none of them means anything
#: to bash's, zsh's, dash's or tcsh's prompt expansion (``\\ $ ` % !`` and quotes all do).
_PROMPT_SAFE = re.compile(r"[^\w.,:+=@/-]")


@dataclass(frozen=True)
class ShellPlan:
    """What :func:`exec_shell` runs.

    :param argv: the shell's command line; ``argv[0]`` is the shell's executable.
    :param env: the shell's complete environment.
    :param files: rc files to write before starting the shell, absolute path -> text.
    """

    argv: tuple[str, ...]
    env: Mapping[str, str]
    files: Mapping[Path, str]


def shell_kind(name: str) -> str | None:
    """Return the supported shell a program name or path names, or ``None``.

    :param name: ``bash``, ``/usr/bin/zsh``, or ``-bash`` (a login shell's ``argv[0]``, as ``ps`` shows it).
    :returns: one of :data:`SUPPORTED_SHELLS`, or ``None`` for anything else.
    """
    base = os.path.basename(name.strip()).lstrip("-")
    return base if base in SUPPORTED_SHELLS else None


def _unsupported(what: str) -> UsageError:
    return UsageError(
        f"unsupported shell {what}; vrun supports {', '.join(SUPPORTED_SHELLS)}",
        "choose one with --shell NAME",
    )


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
            raise _unsupported(repr(override))
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
        raise _unsupported(f"$SHELL={login!r}" if login else "(no $SHELL, and vrun's parent is not a shell)")
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


def _path_without(value: str, drop: set[str]) -> str:
    """``value`` (a ``PATH``-like list) without the entries in ``drop`` and without repeats, in order."""
    seen: set[str] = set()
    kept = []
    for entry in value.split(os.pathsep):
        key = _norm(entry)
        if key in drop or key in seen:
            continue
        seen.add(key)
        kept.append(entry)
    return os.pathsep.join(kept)


def clean_environ(environ: Mapping[str, str], env_dir: Path | None = None) -> dict[str, str]:
    """Return ``environ`` with no virtual environment in it, ready for activating another.

    Removes the ``bin/`` of ``VIRTUAL_ENV`` (active or only inherited) and of ``env_dir`` from
    ``PATH``, and its ``lib/pkgconfig`` from ``PKG_CONFIG_PATH`` (virtualenv's activate adds both);
    drops ``VIRTUAL_ENV``, ``VIRTUAL_ENV_PROMPT``, ``VRUN_SHELL`` and the ``_OLD_VIRTUAL_*`` variables
    activate scripts leave (activate.fish exports them, and a new shell's activate would restore a
    stale ``_OLD_VIRTUAL_PATH``); removes repeated ``PATH`` entries, keeping the first.
    ``PYTHONHOME`` is left alone: activate saves, unsets and on ``deactivate`` restores it.

    :param environ: the caller's environment; not modified.
    :param env_dir: the env about to be activated, if any.
    """
    env = dict(environ)
    envs = [p for p in (env.get("VIRTUAL_ENV"), str(env_dir) if env_dir else None) if p]
    for name in list(env):
        if name in _ACTIVATION_LEFTOVERS or name == SHELL_MARKER or name.startswith("_OLD_VIRTUAL_"):
            del env[name]
    if "PATH" in env:
        env["PATH"] = _path_without(env["PATH"], {_norm(os.path.join(p, "bin")) for p in envs})
    if "PKG_CONFIG_PATH" in env:
        pkg = _path_without(
            env["PKG_CONFIG_PATH"], {_norm(os.path.join(p, "lib", "pkgconfig")) for p in envs}
        )
        if pkg:
            env["PKG_CONFIG_PATH"] = pkg
        else:
            del env["PKG_CONFIG_PATH"]
    return env


def _fish_quote(value: str) -> str:
    """Quote for fish: inside single quotes only ``\\`` and ``'`` are special (fish docs, "Quotes")."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _csh_quote(value: str) -> str:
    """Quote for csh/tcsh as virtualenv's ``CShellActivator.quote`` does: ``!`` and ``\\`` outside quotes.

    :raises UsageError: ``value`` holds a newline, which csh cannot quote (virtualenv skips the csh
        scripts for such paths).
    """
    if "\n" in value:
        raise UsageError(
            f"csh and tcsh cannot handle a newline in {value!r}", "use another shell with --shell"
        )
    quoted = shlex.quote(value)
    quoted = f"'{quoted}'" if quoted == value else quoted
    return quoted.replace("\\", "'\\\\'").replace("!", "'\\!'")


def _posix_activate(env_dir: Path, session: str) -> str:
    """Activation for bash, zsh, sh and dash: virtualenv's ``bin/activate``, then the session's name.

    ``bin/activate`` sets ``VIRTUAL_ENV_PROMPT`` to the prompt the env was created with (or its
    directory name) and prefixes only bash's and zsh's ``PS1``; this fixes the name when it differs
    and prefixes ``PS1`` for sh/dash, saving ``_OLD_VIRTUAL_PS1`` so that ``deactivate`` restores it.
    """
    name = shlex.quote(session)
    prefix = shlex.quote(f"({_PROMPT_SAFE.sub('_', session)}) ")
    return (
        f". {shlex.quote(str(env_dir / 'bin' / 'activate'))}\n"
        f'if [ "${{VIRTUAL_ENV_PROMPT-}}" != {name} ]; then\n'
        f"    VIRTUAL_ENV_PROMPT={name}; export VIRTUAL_ENV_PROMPT\n"
        f'    if [ -n "${{_OLD_VIRTUAL_PS1+x}}" ]; then PS1={prefix}"$_OLD_VIRTUAL_PS1"; fi\n'
        "fi\n"
        'if [ -z "${_OLD_VIRTUAL_PS1+x}" ] && [ -z "${VIRTUAL_ENV_DISABLE_PROMPT-}" ]; then\n'
        f'    _OLD_VIRTUAL_PS1="${{PS1-}}"; PS1={prefix}"${{PS1-}}"\n'
        "fi\n"
    )


def _fish_activate(env_dir: Path, session: str) -> str:
    """Activation for fish; its prompt prints ``$VIRTUAL_ENV_PROMPT`` on every draw."""
    return (
        f"source {_fish_quote(str(env_dir / 'bin' / 'activate.fish'))}; "
        f"set -gx VIRTUAL_ENV_PROMPT {_fish_quote(session)}"
    )


def _csh_activate(env_dir: Path, session: str) -> str:
    """Activation for csh/tcsh on one line (csh's ``eval`` joins lines): activate.csh, then the name."""
    return (
        f"source {_csh_quote(str(env_dir / 'bin' / 'activate.csh'))}; "
        f"setenv VIRTUAL_ENV_PROMPT {_csh_quote(session)}"
    )


def activate_code(kind: str, env_dir: Path, session: str) -> str:
    """Return the code ``vrun activate`` prints, to be run by the current shell.

    bash, zsh, sh, dash: ``eval "$(vrun activate SESSION)"``; fish: ``vrun activate SESSION | source``;
    csh, tcsh: ``eval "`vrun activate SESSION`"``. It sources the activate script virtualenv wrote for
    that shell, so ``deactivate`` undoes it as usual (and puts ``PATH`` back exactly).

    :param kind: one of :data:`SUPPORTED_SHELLS`.
    :param env_dir: the env's directory (absolute).
    :param session: the session's name, for ``VIRTUAL_ENV_PROMPT`` and the prompt.
    :raises UsageError: ``kind`` is not supported, or csh is asked to quote a newline.
    """
    if kind in _POSIX:
        return _posix_activate(env_dir, session)
    if kind == "fish":
        return _fish_activate(env_dir, session) + "\n"
    if kind in _CSH:
        return _csh_activate(env_dir, session) + "\n"
    raise _unsupported(repr(kind))


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


def _rc_files(kind: str, env_dir: Path, session: str) -> dict[str, str]:
    """The rc files for ``kind``, by file name; empty for fish, which takes its code on the command line."""
    header = "# written by vrun shell: your rc files first, then the session's env activated\n"
    if kind == "bash":
        return {
            "bashrc": header
            + "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n"
            + _posix_activate(env_dir, session)
        }
    if kind in ("sh", "dash"):
        user_env = (
            'if [ -n "${_VRUN_ENV+x}" ]; then ENV=$_VRUN_ENV; unset _VRUN_ENV; else unset ENV; fi\n'
            # POSIX: the shell applies parameter expansion to ENV's value
            'if [ -n "${ENV-}" ]; then eval "_vrun_rc=\\"$ENV\\""; '
            'if [ -r "$_vrun_rc" ]; then . "$_vrun_rc"; fi; unset _vrun_rc; fi\n'
        )
        return {"shrc": header + user_env + _posix_activate(env_dir, session)}
    if kind == "zsh":
        zshenv = (
            header + "_vrun_zdotdir=$ZDOTDIR\n"
            "if [[ -n ${_VRUN_ZDOTDIR+x} ]]; then ZDOTDIR=$_VRUN_ZDOTDIR; else unset ZDOTDIR; fi\n"
            "unset _VRUN_ZDOTDIR\n"
            "[[ -f ${ZDOTDIR:-$HOME}/.zshenv ]] && builtin source ${ZDOTDIR:-$HOME}/.zshenv\n"
            "# keep the ZDOTDIR the user's .zshenv left for .zshrc; zsh reads .zshrc from ours\n"
            "if [[ -n ${ZDOTDIR+x} ]]; then _vrun_user_zdotdir=$ZDOTDIR; fi\n"
            "ZDOTDIR=$_vrun_zdotdir\n"
            "unset _vrun_zdotdir\n"
        )
        zshrc = (
            # assigning keeps ZDOTDIR's export flag, which stays what the user's .zshenv left
            header + "if [[ -n ${_vrun_user_zdotdir+x} ]]; then ZDOTDIR=$_vrun_user_zdotdir\n"
            "else unset ZDOTDIR; fi\n"
            "unset _vrun_user_zdotdir\n"
            "[[ -f ${ZDOTDIR:-$HOME}/.zshrc ]] && builtin source ${ZDOTDIR:-$HOME}/.zshrc\n"
            + _posix_activate(env_dir, session)
        )
        return {".zshenv": zshenv, ".zshrc": zshrc}
    if kind in _CSH:
        user_rc = ".tcshrc" if kind == "tcsh" else ".cshrc"
        # csh keeps ``home`` and HOME apart (tcsh syncs them): set both.
        rc = (
            header + 'set home = "$_VRUN_HOME:q"\n'
            'setenv HOME "$_VRUN_HOME:q"\n'
            "unsetenv _VRUN_HOME\n"
            f'if ( -f "$home/{user_rc}" ) then\n'
            f'    source "$home/{user_rc}"\n'
            'else if ( -f "$home/.cshrc" ) then\n'
            '    source "$home/.cshrc"\n'
            "endif\n"
            f"source {_csh_quote(str(env_dir / 'bin' / 'activate.csh'))}\n"
            f'if ( "$VIRTUAL_ENV_PROMPT:q" != {_csh_quote(session)} ) then\n'
            f"    setenv VIRTUAL_ENV_PROMPT {_csh_quote(session)}\n"
            "    if ( $?_OLD_VIRTUAL_PROMPT ) then\n"
            f"        set prompt = '({_PROMPT_SAFE.sub('_', session)}) '\"$_OLD_VIRTUAL_PROMPT:q\"\n"
            "    endif\n"
            "endif\n"
        )
        return {".tcshrc": rc, ".cshrc": rc}
    return {}


def shell_exec_plan(
    kind: str,
    executable: str,
    env_dir: Path,
    session: str,
    environ: Mapping[str, str],
    rc_root: Path | None = None,
) -> ShellPlan:
    """Plan an interactive ``kind`` shell with ``env_dir`` activated after the user's rc files.

    Pure: computes the command line, the environment and the rc files' text; :func:`exec_shell` writes
    the files and starts the shell. The environment is :func:`clean_environ`'s plus ``VRUN_SHELL``
    (the env directory) and what the shell needs to find vrun's rc files.

    :param kind: one of :data:`SUPPORTED_SHELLS`, from :func:`detect_shell`.
    :param executable: the shell's executable.
    :param env_dir: the env's directory (absolute), made by virtualenv (which writes the activate scripts).
    :param session: the session's name: ``VIRTUAL_ENV_PROMPT`` and the prompt's ``(SESSION)`` prefix.
    :param environ: the caller's environment.
    :param rc_root: where rc files go, default :func:`default_rc_root`.
    :raises UsageError: ``kind`` is not supported.
    """
    if kind not in SUPPORTED_SHELLS:
        raise _unsupported(repr(kind))
    env = clean_environ(environ, env_dir)
    env[SHELL_MARKER] = str(env_dir)
    if kind == "fish":
        return ShellPlan((executable, "-i", "-C", _fish_activate(env_dir, session)), env, {})
    texts = _rc_files(kind, env_dir, session)
    digest = hashlib.sha256(repr(sorted(texts.items())).encode()).hexdigest()[:16]
    rc_dir = (rc_root or default_rc_root(environ)) / f"{kind}-{digest}"
    files = {rc_dir / name: text for name, text in texts.items()}
    if kind == "bash":
        argv: tuple[str, ...] = (executable, "--rcfile", str(rc_dir / "bashrc"), "-i")
    else:
        argv = (executable, "-i")
    if kind == "zsh":
        if "ZDOTDIR" in environ:
            env["_VRUN_ZDOTDIR"] = environ["ZDOTDIR"]
        env["ZDOTDIR"] = str(rc_dir)
    elif kind in ("sh", "dash"):
        if "ENV" in environ:
            env["_VRUN_ENV"] = environ["ENV"]
        env["ENV"] = str(rc_dir / "shrc")
    elif kind in _CSH:
        env["_VRUN_HOME"] = _home(environ)
        env["HOME"] = str(rc_dir)
    return ShellPlan(argv, env, files)


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


def write_rc_files(plan: ShellPlan) -> None:
    """Write ``plan.files`` (each replaced atomically, only when its text differs) in a private directory.

    :raises VrunError: the rc directory's parent is not usable (see :func:`_private_dir`).
    """
    for path, text in plan.files.items():
        _private_dir(path.parent.parent)
        _private_dir(path.parent)
        try:
            if path.read_text() == text:
                continue
        except OSError:
            pass
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)


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
