"""The shell code that activates an env: what ``vrun activate`` prints and ``vrun shell`` sources.

Each supported shell sources the activate script the env's creator wrote for it (virtualenv and
uv write ``bin/activate``, ``activate.fish`` and ``activate.csh``), so ``deactivate`` undoes it as
usual, then names the session in ``VIRTUAL_ENV_PROMPT`` and the prompt. :func:`rc_files` wraps
that code in the rc files :mod:`vrun.commands.usershell` starts an interactive shell with: the user's own rc
files first, then the activation. Quoting follows each shell's documented rules.

vrun's own command stays reachable inside (:func:`own_command`, :class:`Shim`): when the shell's
``PATH`` would have no ``vrun`` (vrun lives in a venv whose ``bin/`` the activation takes off
``PATH``), a directory holding only a ``vrun`` goes last on ``PATH``, as conda keeps
``condabin/``, which holds only ``conda``, on ``PATH`` in every env it activates. Putting the venv's
whole ``bin/`` back, even last, would bring its ``python``, ``pip`` and every tool in it along: a
``pytest`` the session's env lacks would then run on vrun's interpreter, without the session's
requirements.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from vrun.errors import UsageError

#: The shells ``vrun shell`` and ``vrun activate`` know, by program name.
SUPPORTED_SHELLS: tuple[str, ...] = ("bash", "zsh", "fish", "sh", "dash", "csh", "tcsh")
POSIX_SHELLS = ("bash", "zsh", "sh", "dash")
CSH_SHELLS = ("csh", "tcsh")
#: Characters shown as they are in a prompt prefix vrun writes itself: none of them means anything
#: to bash's, zsh's, dash's or tcsh's prompt expansion (``\\ $ ` % !`` and quotes all do).
_PROMPT_SAFE = re.compile(r"[^\w.,:+=@/-]")


def unsupported(what: str) -> UsageError:
    """The error for a shell vrun does not support (exit 2)."""
    return UsageError(
        f"unsupported shell {what}; vrun supports {', '.join(SUPPORTED_SHELLS)}",
        "choose one with --shell NAME",
    )


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


@dataclass(frozen=True)
class Shim:
    """A directory holding only a ``vrun`` that runs this vrun, to go last on a shell's ``PATH``.

    :param directory: the directory (private to the user, see :func:`vrun.commands.usershell.write_shim`).
    :param target: the ``vrun`` script the ``vrun`` in it links to, or ``None``;
    :param text: else the text of the ``sh`` script it is (``exec PYTHON -m vrun "$@"``).
    """

    directory: Path
    target: str | None
    text: str | None


def own_command(argv0: str, executable: str) -> tuple[str | None, str | None]:
    """How a shell runs this vrun again: ``(script, None)`` or ``(None, sh text)``.

    Started as the ``vrun`` script (``argv0`` an existing file, not ``__main__.py``): that script,
    as an absolute path (a pipx or ``uv tool`` link in ``~/.local/bin`` is kept as it is). Started
    as ``python -m vrun``: a two-line ``sh`` script running ``executable -m vrun``, so the same
    interpreter imports vrun (as installed there: ``PYTHONPATH`` is not kept by ``vrun shell``).

    :param argv0: ``sys.argv[0]``: the script's path, or ``.../vrun/__main__.py`` under ``-m``.
    :param executable: ``sys.executable``.
    """
    path = os.path.abspath(argv0) if argv0 else ""
    if path and not path.endswith(".py") and os.path.isfile(path):
        return path, None
    return None, f'#!/bin/sh\nexec {shlex.quote(executable)} -m vrun "$@"\n'


def plan_shim(path: str, root: Path, argv0: str | None = None, executable: str | None = None) -> Shim | None:
    """The :class:`Shim` a shell whose ``PATH`` is ``path`` needs, or ``None`` when ``path`` finds a
    ``vrun`` already (a system-wide install, pipx's ``~/.local/bin``, ``-m`` under a venv that has
    one too).

    :param path: the ``PATH`` the shell starts from (the active venv's ``bin/`` already removed).
    :param root: vrun's private directory for shell files (:func:`vrun.commands.usershell.default_rc_root`).
    :param argv0: default ``sys.argv[0]``; ``executable``: default ``sys.executable`` (see
        :func:`own_command`).
    """
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory, "vrun")
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return None
    target, text = own_command(sys.argv[0] if argv0 is None else argv0, executable or sys.executable)
    digest = hashlib.sha256(repr((target, text)).encode()).hexdigest()[:16]
    return Shim(root / f"bin-{digest}", target, text)


def _posix_append(directory: Path) -> str:
    return f'PATH="${{PATH:+$PATH:}}"{shlex.quote(str(directory))}; export PATH\n'


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


def fish_activate(env_dir: Path, session: str, append: Path | None = None) -> str:
    """Activation for fish; its prompt prints ``$VIRTUAL_ENV_PROMPT`` on every draw. ``append`` (a
    :class:`Shim`'s directory) goes last on ``PATH`` first, so ``deactivate`` keeps it."""
    first = f"set -gx PATH $PATH {_fish_quote(str(append))}; " if append else ""
    return (
        f"{first}source {_fish_quote(str(env_dir / 'bin' / 'activate.fish'))}; "
        f"set -gx VIRTUAL_ENV_PROMPT {_fish_quote(session)}"
    )


def _csh_activate(env_dir: Path, session: str) -> str:
    """Activation for csh/tcsh on one line (csh's ``eval`` joins lines): activate.csh, then the name."""
    return (
        f"source {_csh_quote(str(env_dir / 'bin' / 'activate.csh'))}; "
        f"setenv VIRTUAL_ENV_PROMPT {_csh_quote(session)}"
    )


def _csh_append(directory: Path) -> str:
    return f'setenv PATH "${{PATH}}"{_csh_quote(":" + str(directory))}'


def activate_code(kind: str, env_dir: Path, session: str, append: Path | None = None) -> str:
    """Return the code ``vrun activate`` prints, to be run by the current shell.

    bash, zsh, sh, dash: ``eval "$(vrun activate SESSION)"``; fish: ``vrun activate SESSION | source``;
    csh, tcsh: ``eval "`vrun activate SESSION`"``. It sources the activate script virtualenv wrote for
    that shell, so ``deactivate`` undoes it as usual (and puts ``PATH`` back exactly).

    :param kind: one of :data:`SUPPORTED_SHELLS`.
    :param env_dir: the env's directory (absolute).
    :param session: the session's name, for ``VIRTUAL_ENV_PROMPT`` and the prompt.
    :param append: a :class:`Shim`'s directory, put last on ``PATH`` after the activation (so
        ``deactivate`` removes it with the rest).
    :raises UsageError: ``kind`` is not supported, or csh is asked to quote a newline.
    """
    if kind in POSIX_SHELLS:
        return _posix_activate(env_dir, session) + (_posix_append(append) if append else "")
    if kind == "fish":
        last = f"; set -gx PATH $PATH {_fish_quote(str(append))}" if append else ""
        return fish_activate(env_dir, session) + last + "\n"
    if kind in CSH_SHELLS:
        return _csh_activate(env_dir, session) + (f"; {_csh_append(append)}" if append else "") + "\n"
    raise unsupported(repr(kind))


def rc_files(kind: str, env_dir: Path, session: str, append: Path | None = None) -> dict[str, str]:
    """The rc files for ``kind``, by file name; empty for fish, which takes its code on the command line.

    :param append: a :class:`Shim`'s directory, put last on ``PATH`` after the user's rc files and
        before the activation (so it stays after ``deactivate`` in that shell).
    """
    header = "# written by vrun shell: your rc files first, then the session's env activated\n"
    posix_append = _posix_append(append) if append else ""
    if kind == "bash":
        return {
            "bashrc": header
            + "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n"
            + posix_append
            + _posix_activate(env_dir, session)
        }
    if kind in ("sh", "dash"):
        user_env = (
            'if [ -n "${_VRUN_ENV+x}" ]; then ENV=$_VRUN_ENV; unset _VRUN_ENV; else unset ENV; fi\n'
            # POSIX: the shell applies parameter expansion to ENV's value
            'if [ -n "${ENV-}" ]; then eval "_vrun_rc=\\"$ENV\\""; '
            'if [ -r "$_vrun_rc" ]; then . "$_vrun_rc"; fi; unset _vrun_rc; fi\n'
        )
        return {"shrc": header + user_env + posix_append + _posix_activate(env_dir, session)}
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
            + posix_append
            + _posix_activate(env_dir, session)
        )
        return {".zshenv": zshenv, ".zshrc": zshrc}
    if kind in CSH_SHELLS:
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
            + (_csh_append(append) + "\n" if append else "")
            + f"source {_csh_quote(str(env_dir / 'bin' / 'activate.csh'))}\n"
            f'if ( "$VIRTUAL_ENV_PROMPT:q" != {_csh_quote(session)} ) then\n'
            f"    setenv VIRTUAL_ENV_PROMPT {_csh_quote(session)}\n"
            "    if ( $?_OLD_VIRTUAL_PROMPT ) then\n"
            f"        set prompt = '({_PROMPT_SAFE.sub('_', session)}) '\"$_OLD_VIRTUAL_PROMPT:q\"\n"
            "    endif\n"
            "endif\n"
        )
        return {".tcshrc": rc, ".cshrc": rc}
    return {}
