"""uv.lock: a session of a project that has one installs the versions it pins.

A project managed with uv commits ``uv.lock`` (uv's own lock format, universal: every platform and
Python the project supports). ``uv run`` and tox-uv's ``uv-venv-lock-runner`` install from it; so
does vrun, through the same "install from pins" path as its own PEP 751 lock files
(:func:`vrun.env.backends.install_locked`): the pins first, exactly and without dependencies, then
the session's ``deps`` on top, constrained by the pins, then the project with ``--no-deps``.

The choices, and why:

- **uv reads its lock, vrun does not.** The pins of a session are what ``uv export --locked
  --format requirements-txt --no-hashes --no-emit-project --no-default-groups`` prints with the
  session's ``--extra`` and ``--group`` options (``--only-group`` when the project is not
  installed), run in the project root with the session's interpreter (``--python``). The output is
  universal: each pin keeps its marker, and the installer evaluates it for the env's Python, as
  pip and uv do for any requirements file.
- **uv decides whether the lock is current**: ``--locked`` makes ``uv export`` fail when the lock
  no longer matches ``pyproject.toml`` (uv's own rule, the one ``uv sync --locked`` and ``uv lock
  --check`` apply, never reimplemented here). Such a lock is *stale*: the session resolves afresh,
  with a warning, and ``--locked`` / ``locked = true`` refuse it. Any other failure of uv (a lock
  it cannot read, uv missing) makes it *invalid*, handled the same way.
- **What the session selects**: the project's dependencies and the ``extras`` when it installs the
  project, plus its ``groups``, exactly (uv's default groups are not added: vrun's ``groups``
  says which). A session that installs neither the project nor a group takes nothing from the
  lock (a linter with ``deps = ["ruff"]`` resolves as always), which is why vrun can use
  ``uv.lock`` wherever it exists where tox-uv needs a runner chosen per env.
- **A session's own vrun lock wins**: when ``pylock.<session>.toml`` exists (:mod:`vrun.plan.lockfile`),
  that file decides, as before, and ``uv.lock`` is not read for the session. ``uv_lock = false``
  (top level or per session) opts out.
- **Memoized**: the export is stored in vrun's cache under a digest of everything uv's answer
  depends on (the lock's and every workspace member's ``pyproject.toml`` contents, uv's settings,
  the options, the interpreter's version, uv itself), so planning calls uv once per change. The
  lock's contents are part of the env key (:func:`vrun.plan.envkey.with_lock`), and ``uv.lock``
  is read through :mod:`vrun.inputs`, so a warm run only ``stat``-s it and never runs uv.
- **Hashes are not checked**: the pins are versions (``--no-hashes``); the files come from the
  index the user configured, as for any requirement (a mirror that rebuilt a wheel still works).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from vrun import inputs
from vrun.config.load import Config, Session
from vrun.plan.envkey import file_digest, installer_settings
from vrun.plan.interpreters import Interpreter
from vrun.plan.lockfile import lock_path

if TYPE_CHECKING:
    from vrun._types import UvLockAnswer, UvLockState, UvLockStatus

#: The name of uv's lock file, in the project root.
UV_LOCK = "uv.lock"
#: Bumped when the memo's shape or the export's options change: every memo is then recomputed.
MEMO_SCHEMA = 1
#: uv's variables that would change what ``uv export`` selects or whether it checks the lock;
#: the session decides those, so they are removed from uv's environment.
SELECTION_VARIABLES = ("UV_FROZEN", "UV_LOCKED", "UV_NO_DEV", "UV_NO_GROUP", "UV_NO_DEFAULT_GROUPS")
#: A workspace member's source in ``uv.lock`` (uv writes ``source = { editable = "packages/lib" }``).
_MEMBER = re.compile(rb'source = \{ (?:editable|virtual|directory) = "([^"]+)" \}')
#: What ``uv export --locked`` says when the lock no longer matches the project.
_OUTDATED = "needs to be updated"


def uv_lock_path(config: Config, session: Session) -> str | None:
    """The ``uv.lock`` ``session`` installs from, or ``None``: the session opted out (``uv_lock =
    false``), selects nothing from a lock (no project, no groups), has a lock file of its own
    (``pylock.<session>.toml``, which wins), or the project has no ``uv.lock``. Recorded reads."""
    if not session.uv_lock or not (session.install_project or session.groups):
        return None
    root = str(config.root)
    path = os.path.join(root, UV_LOCK)
    if not inputs.is_file(path) or inputs.is_file(lock_path(root, session.name)):
        return None
    return path


def export_args(session: Session) -> list[str]:
    """The ``uv export`` arguments (without uv, ``--python`` and the project) that print
    ``session``'s pins: the project's dependencies with its extras and groups, or, when the project
    is not installed, only the groups; never the project itself nor uv's default groups."""
    args = ["export", "--locked", "--format", "requirements-txt", "--no-hashes", "--no-header"]
    args += ["--no-annotate", "--no-emit-project", "--no-default-groups", "--quiet"]
    if session.install_project:
        for extra in session.extras:
            args += ["--extra", extra]
        for group in session.groups:
            args += ["--group", group]
    else:
        for group in session.groups:
            args += ["--only-group", group]
    return args


def uv_lock_state(
    config: Config, session: Session, interpreter: Interpreter, environ: Mapping[str, str]
) -> UvLockState | None:
    """Whether ``session`` installs from the project's ``uv.lock``, and what it pins for it.

    :param environ: the planning environment (uv's settings are read from it, recorded).
    :returns: ``None`` when :func:`uv_lock_path` finds none; else ``path``, ``file`` (``uv.lock``),
        ``status`` (``current``; ``stale``: it no longer matches ``pyproject.toml``, per uv;
        ``invalid``: uv cannot use it or cannot run), ``problem`` (``None`` when current, else one
        phrase), ``pins`` (requirement lines, local paths absolute; ``[]`` unless current) and
        ``command`` (the ``uv export`` arguments, for ``vrun explain``).
    """
    path = uv_lock_path(config, session)
    if path is None:
        return None
    root = str(config.root)
    args = export_args(session)
    lock = inputs.read_bytes(path)
    members = sorted({m.decode() for m in _MEMBER.findall(lock)} | {"."})
    from vrun.env.choice import find_uv

    uv = find_uv()
    key = {
        "schema": MEMO_SCHEMA,
        "lock": hashlib.sha256(lock).hexdigest(),
        "members": {m: _metadata_digests(os.path.normpath(os.path.join(root, m))) for m in members},
        "installer": installer_settings("uv", environ, root),
        "args": args,
        "python": [interpreter.executable, interpreter.version],
        "uv": [uv, inputs.signature(uv) if uv else None],
        "root": root,
    }
    memo = os.path.join(
        inputs.cache_dir(environ),
        "uvlock",
        hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32] + ".json",
    )
    found = _read_memo(memo)
    if found is None:
        found = _export(uv, [*args, "--python", interpreter.executable], root, environ)
        if found["status"] != "invalid":  # uv missing, a network failure: ask again next time
            _write_memo(memo, found)
    status, problem, pins = found["status"], found["problem"], found["pins"]
    return {
        "path": path,
        "file": UV_LOCK,
        "status": status,
        "problem": problem,
        "pins": [_absolute(line, root) for line in pins] if status == "current" else [],
        "command": ["uv", *(a for a in args if a != "--quiet")],
    }


def _metadata_digests(folder: str) -> dict[str, str]:
    """The digests of a workspace member's metadata files (recorded reads; ``missing`` when absent):
    what uv compares the lock with."""
    return {
        name: file_digest(os.path.join(folder, name)) for name in ("pyproject.toml", "setup.py", "setup.cfg")
    }


def _answer(status: UvLockStatus, problem: str | None, pins: list[str]) -> UvLockAnswer:
    """uv's answer as it is memoized (:class:`~vrun._types.UvLockAnswer`)."""
    return {"schema": MEMO_SCHEMA, "status": status, "problem": problem, "pins": pins}


def _export(uv: str | None, args: list[str], root: str, environ: Mapping[str, str]) -> UvLockAnswer:
    """Run ``uv export`` in ``root``; its answer as :func:`_answer` values."""
    from vrun.env.choice import uv_problem
    from vrun.environ import tool_environ

    problem = uv_problem(uv)
    if problem or uv is None:
        return _answer("invalid", f"{UV_LOCK} cannot be read: {problem}", [])
    plain = getattr(environ, "plain", None)
    env = tool_environ(plain() if callable(plain) else environ)
    for name in SELECTION_VARIABLES:
        env.pop(name, None)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    import subprocess

    try:
        proc = subprocess.run(
            [uv, *args], cwd=root, env=env, capture_output=True, text=True, errors="replace", check=False
        )
    except OSError as exc:
        return _answer("invalid", f"{UV_LOCK} cannot be read: {uv} cannot run: {exc.strerror or exc}", [])
    if proc.returncode == 0:
        lines = [line.strip() for line in proc.stdout.splitlines()]
        return _answer("current", None, [line for line in lines if line and not line.startswith("#")])
    said = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    if any(_OUTDATED in line for line in said):
        return _answer(
            "stale",
            f"{UV_LOCK} needs to be updated: it no longer matches pyproject.toml (uv export --locked)",
            [],
        )
    error = next((line for line in said if line.startswith("error:")), said[-1] if said else "")
    reason = error.removeprefix("error:").strip() or f"uv export exited {proc.returncode}"
    return _answer("invalid", f"{UV_LOCK} cannot be used: {reason}", [])


def _read_memo(path: str) -> UvLockAnswer | None:
    """A stored answer, or ``None`` (absent, unreadable, another schema). Read without recording:
    the memo is named after its inputs, and planning writes it."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("schema") == MEMO_SCHEMA
    if not ok or data.get("status") not in ("current", "stale") or not isinstance(data.get("pins"), list):
        return None
    pins = [line for line in data["pins"] if isinstance(line, str)]
    problem = data.get("problem")
    return _answer(data["status"], problem if isinstance(problem, str) else None, pins)


def _write_memo(path: str, answer: UvLockAnswer) -> None:
    """Store ``answer`` atomically; failing to is not an error (it is a cache)."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        inputs.write_atomic(path, json.dumps(answer, sort_keys=True))
    except OSError:
        pass


def _absolute(line: str, root: str) -> str:
    """A pin with a relative local path (uv writes ``-e ./packages/lib``) made absolute, so that it
    holds whatever directory the installer reads it from."""
    editable = line.startswith("-e ")
    target = line[3:].strip() if editable else line
    if not target.startswith(("./", "../")):
        return line
    where = os.path.normpath(os.path.join(root, target))
    return f"-e {where}" if editable else where
