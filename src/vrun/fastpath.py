"""The warm path: run sessions straight from a cached plan, when every input is unchanged.

``vrun NAME...`` on a project whose envs are ready spends most of its time importing and
parsing (``design.md``: the warm path is the product). After a full run, vrun stores the
resolved *plan* — the selected sessions with their commands, set_env, pass_env, cwd and env
directories — with the ``stat`` of every input that decided it: the config files found on the
way up from the working directory, ``pyproject.toml``/``setup.py``/``setup.cfg``, every
``-r``/``-c`` file, each interpreter executable and what decides a spec's resolution
(:func:`vrun.resolve.material`), and each env's marker. The next identical invocation checks
those with ``stat`` calls and runs the commands through :mod:`vrun.execute`, importing
neither the config parser, nor argparse, logging, dataclasses, tomllib nor hashlib.

Anything unusual returns ``None`` *before anything ran*, and the full pipeline takes over:
options on the command line, a changed or missing input, an env being built or deleted (its
lock is busy), posargs a session does not take. ``VRUN_PLAN_CACHE=0`` turns it off. The plan lives in
``<cache dir>/plans/<crc32 of its key>.marshal``; its full key is stored inside and compared.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
import zlib
from collections.abc import Mapping, Sequence

from vrun import __version__
from vrun.resolve import cache_dir, material

#: ``typing`` costs ~10 ms to import; annotations are strings here, so it is needed only by
#: type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PLAN_SCHEMA = 1
#: :data:`vrun.config.BUILTIN_COMMANDS`, repeated here to keep this module light (a test checks they match).
_SUBCOMMANDS = frozenset(
    {"list", "shell", "activate", "run", "path", "rm", "gc", "freeze", "help", "version"}
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")
#: colorlog's escape codes for vrun's levels (output.py's ``_COLORS``), so both paths look alike.
_COLOR = {
    "INFO": "\x1b[34m",
    "COMMAND": "\x1b[36m",
    "SESSION": "\x1b[1;36m",
    "SUCCESS": "\x1b[1;32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[1;31m",
}
_RESET = "\x1b[0m"


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str] | None] | None:
    """``(session names, posargs)`` when ``argv`` is plain ``NAME... [-- POSARGS]``, else ``None``."""
    if "--" in argv:
        cut = list(argv).index("--")
        names, posargs = list(argv[:cut]), list(argv[cut + 1 :])
    else:
        names, posargs = list(argv), None
    for name in names:
        if not name or name[0] in "-+._" or name in _SUBCOMMANDS or not set(name) <= _NAME_CHARS:
            return None
    return names, posargs


def plan_key(names: Sequence[str], environ: Mapping[str, str]) -> str:
    """Everything about the invocation that a plan depends on, besides its input files."""
    backend = environ.get("VRUN_BACKEND") or "virtualenv"
    return "\0".join([str(PLAN_SCHEMA), __version__, sys.executable, os.getcwd(), backend, *names])


def plan_path(key: str, environ: Mapping[str, str]) -> str:
    """Where the plan for ``key`` is stored."""
    return os.path.join(cache_dir(environ), "plans", f"{zlib.crc32(key.encode()):08x}.marshal")


def file_signature(path: str) -> tuple[int, int, int] | None:
    """``(st_mtime_ns, st_size, st_ino)`` of ``path``, or ``None`` when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def write_plan(key: str, environ: Mapping[str, str], plan: dict[str, Any]) -> None:
    """Store ``plan`` for ``key`` (atomically: temp file and rename). Failures are ignored: it is a cache."""
    path = plan_path(key, environ)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as fh:
            marshal.dump({"key": key, **plan}, fh)
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _load(key: str, environ: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        with open(plan_path(key, environ), "rb") as fh:
            plan = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return plan if isinstance(plan, dict) and plan.get("key") == key else None


def _valid(plan: dict[str, Any], environ: Mapping[str, str]) -> bool:
    for path, signature in plan["inputs"]:
        if file_signature(path) != signature:
            return False
    for s in plan["sessions"]:
        if material(s["python"], environ) != s["material"]:
            return False
        if file_signature(s["exe"]) != s["exe_sig"] or not os.path.exists(s["base"]):
            return False
        if not _env_intact(s) or not os.path.isdir(s["cwd"]):
            return False
    return True


def _env_intact(s: Mapping[str, Any]) -> bool:
    env_dir = s["env_dir"]
    return file_signature(os.path.join(env_dir, "vrun.json")) == s["marker_sig"] and os.path.exists(
        os.path.join(env_dir, "bin", "python")
    )


def _shared_lock(env_dir: str) -> int | None:
    """A non-blocking shared ``flock`` on the env's lock file (as :class:`vrun.envs.EnvLock`)."""
    import fcntl

    path = env_dir + ".lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


class _Out:
    """vrun's log lines, exactly as :mod:`vrun.output` prints them at the default verbosity."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        if environ.get("NO_COLOR"):
            self.color = False
        elif environ.get("FORCE_COLOR"):
            self.color = True
        else:
            try:
                self.color = sys.stderr.isatty()
            except (AttributeError, ValueError):
                self.color = False

    def __call__(self, level: str, message: str) -> None:
        line = f"{_COLOR[level]}vrun > {message}{_RESET}" if self.color else f"vrun > {message}"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def try_fast(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int | None:
    """Run ``argv`` from a cached plan and return the exit status, or ``None`` to take the full path."""
    environ = os.environ if environ is None else environ
    if environ.get("VRUN_PLAN_CACHE") == "0":
        return None
    parsed = split_argv(argv)
    if parsed is None:
        return None
    names, posargs = parsed
    key = plan_key(names, environ)
    plan = _load(key, environ)
    if plan is None or not _valid(plan, environ):
        return None
    sessions = plan["sessions"]
    if posargs and any(s["explicit"] and s["commands"] and not s["posargs"] for s in sessions):
        return None  # the full path explains the error
    locks: list[int] = []
    for s in sessions:
        fd = _shared_lock(s["env_dir"])
        if fd is None or not _env_intact(s):  # being built or removed right now, or just was
            for held in locks + ([fd] if fd is not None else []):
                os.close(held)
            return None
        locks.append(fd)
    try:
        return _run(plan, posargs, environ)
    finally:
        for fd in locks:
            os.close(fd)


def _run(plan: dict[str, Any], posargs: list[str] | None, environ: Mapping[str, str]) -> int:
    from vrun.errors import VrunError
    from vrun.execute import command_environ, expand_argv, join, resolve_program, run_command, summary_rows

    out = _Out(environ)
    github = environ.get("GITHUB_ACTIONS") == "true"
    here = os.getcwd()
    results: list[tuple[str, str, float, str, int]] = []
    status_of: dict[str, str] = {}
    for s in plan["sessions"]:
        name = s["name"]
        start = time.monotonic()
        blocked = [r for r in s["requires"] if status_of.get(r) != "passed"]
        if blocked:
            reason = f"requires {', '.join(blocked)}, which did not pass"
            out("WARNING", f"skipping {name}: {reason}")
            results.append((name, "skipped", 0.0, reason, 0))
            status_of[name] = "skipped"
            continue
        if github:
            print(f"::group::vrun {name}", flush=True)
        out("SESSION", f"session {name}" + (f": {s['description']}" if s["description"] else ""))
        env_dir = s["env_dir"]
        _touch(env_dir)
        _link(plan["venvs"], name, os.path.basename(env_dir))
        out("INFO", f"reusing env {os.path.basename(env_dir)}")
        environ_cmd = command_environ(
            pass_env=s["pass_env"],
            set_env=s["set_env"],
            session=name,
            env_dir=env_dir,
            project_root=plan["root"],
            caller=environ,
        )
        given = posargs if s["explicit"] else None
        code, reason, received = 0, "", None
        for argv_template, shell in s["commands"]:
            argv = expand_argv(
                argv_template, given, shell=shell, env_dir=env_dir, project_root=plan["root"], session=name
            )
            shown = argv[0] if shell else join(argv)
            out("COMMAND", shown + (f"  (in {s['cwd']})" if s["cwd"] != here else ""))
            if not shell:
                try:
                    argv = resolve_program(argv, environ_cmd, cwd=s["cwd"], env_dir=env_dir)
                except VrunError as exc:
                    out("ERROR", f"error: {exc.message}")
                    if exc.hint:
                        out("ERROR", f"hint: {exc.hint}")
                    code, reason = exc.exit_code, exc.message
                    break
            status, received = run_command(argv, environ=environ_cmd, cwd=s["cwd"], shell=shell)
            if received is not None:
                import signal

                code, reason = 128 + received, f"interrupted by {signal.Signals(received).name}"
                break
            if status != 0:
                code, reason = status, f"command failed with exit code {status}: {shown}"
                break
        if github:
            print("::endgroup::", flush=True)
        duration = time.monotonic() - start
        if code == 0:
            out("SUCCESS", f"session {name} passed in {duration:.1f}s")
        else:
            out("ERROR", f"session {name} failed: {reason}")
        status_of[name] = "passed" if code == 0 else "failed"
        results.append((name, status_of[name], duration, reason, code))
        if received is not None:
            break
    levels = {"": "INFO", "passed": "SUCCESS", "failed": "ERROR", "skipped": "WARNING"}
    for row_status, line in summary_rows(r[:4] for r in results):
        out(levels[row_status], line)
    failed = [r for r in results if r[1] == "failed"]
    if failed:
        return failed[0][4] or 1
    return 1 if any(r[1] == "skipped" for r in results) else 0


def _touch(env_dir: str) -> None:
    path = os.path.join(env_dir, "vrun-used")
    try:
        os.utime(path)
    except FileNotFoundError:
        try:
            open(path, "a").close()
        except OSError:
            pass
    except OSError:
        pass


def _link(venvs: str, session: str, target: str) -> None:
    link = os.path.join(venvs, session)
    try:
        if os.readlink(link) == target:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    tmp = os.path.join(venvs, f".{session}.{os.getpid()}.link")
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
