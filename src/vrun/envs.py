"""Envs on disk: locate, validate, build under a lock, mark, link, list and remove.

Layout (``design.md``)::

    .venvs/
      .gitignore            "*": nothing under .venvs/ is ever committed
      CACHEDIR.TAG          backup tools skip the folder (https://bford.info/cachedir/)
      test-1a2b3c4d5e/      one env; its name is ``<session>-<key digest>``
        vrun.json           the marker, written last and atomically: the env is complete
      test-1a2b3c4d5e.lock  flock(2) lock: exclusive to build or delete, shared while in use
      test -> test-1a2b3c4d5e   the env last used by session ``test``

An env directory without a readable marker whose digest matches its name is an interrupted
build: it is never used, and whoever next holds its lock wipes and rebuilds it.
vrun only ever deletes direct children of the real path of ``.venvs/`` (see :func:`remove_env`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrun import __version__
from vrun.backends import Backend, InstallPlan
from vrun.envkey import SCHEMA_VERSION, EnvKey, explain_change
from vrun.errors import EnvInUseError, EnvNotReadyError, UnsafeDeleteError
from vrun.interpreters import Interpreter

_LOG = logging.getLogger("vrun")

VENVS = ".venvs"
MARKER = "vrun.json"
USED = "vrun-used"
_ENV_NAME = re.compile(r"^(?P<session>[A-Za-z0-9][A-Za-z0-9_.+-]*)-(?P<digest>[0-9a-f]{10})$")
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by vrun.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def venvs_dir(root: Path) -> Path:
    """``<root>/.venvs``."""
    return root / VENVS


def prepare_venvs_dir(root: Path) -> Path:
    """Create ``.venvs/`` with its ``.gitignore`` and ``CACHEDIR.TAG`` if missing; return it."""
    venvs = venvs_dir(root)
    gitignore = venvs / ".gitignore"
    if gitignore.is_file():
        return venvs
    venvs.mkdir(exist_ok=True)
    _write_atomic(gitignore, "# created by vrun: envs are never committed\n*\n")
    tag = venvs / "CACHEDIR.TAG"
    if not tag.exists():
        _write_atomic(tag, _CACHEDIR_TAG)
    return venvs


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def env_path(root: Path, session: str, key: EnvKey) -> Path:
    """The directory of ``session``'s env for ``key``."""
    return venvs_dir(root) / f"{session}-{key.digest}"


def read_marker(env_dir: Path) -> dict[str, Any] | None:
    """The env's marker, or ``None`` when it is absent, unreadable or corrupt (= not an env)."""
    try:
        with (env_dir / MARKER).open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def marker_problem(env_dir: Path, digest: str | None = None) -> str | None:
    """Why ``env_dir`` is not a usable env, or ``None`` when it is.

    Usable means: the marker is readable, was written by this schema, its digest matches
    ``digest`` (when given) and the directory name, the env's ``python`` and its base
    interpreter still exist (an interpreter upgraded or removed in place breaks the env).
    """
    marker = read_marker(env_dir)
    if marker is None:
        return "incomplete build" if env_dir.exists() else "absent"
    if marker.get("schema") != SCHEMA_VERSION:
        return "made by another vrun version"
    if digest is not None and marker.get("digest") != digest:
        return "key mismatch"
    base = marker.get("interpreter", {}).get("base_executable", "")
    if not (os.path.exists(base) and os.path.exists(env_dir / "bin" / "python")):
        return f"its interpreter is gone ({base})"
    return None


class EnvLock:
    """An ``flock(2)`` lock on ``.venvs/<env name>.lock``.

    Exclusive to build or delete an env, shared while commands use it. The lock file is kept
    (deleting a lock file others may wait on would let two processes hold "the" lock); after
    acquiring, the file is re-checked to be the one on disk, as flock-based tools do.

    :param path: the lock file.
    :param inheritable: let the lock's descriptor survive ``exec`` (``vrun shell`` keeps its
        shared lock for the shell's lifetime).
    """

    def __init__(self, path: Path, *, inheritable: bool = False) -> None:
        self.path = path
        self.inheritable = inheritable
        self._fd: int | None = None

    def acquire(
        self, exclusive: bool, *, blocking: bool = True, on_wait: Callable[[], None] | None = None
    ) -> bool:
        """Take the lock; return False only when ``blocking`` is False and it is held elsewhere.

        :param on_wait: called once if the lock is busy and we are about to wait for it.
        """
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        while True:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                os.set_inheritable(self._fd, self.inheritable)
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not blocking:
                    return False
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                fcntl.flock(self._fd, mode)
            try:
                same = os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return True
            os.close(self._fd)  # the file was replaced while we waited: lock the new one
            self._fd = None

    def release(self) -> None:
        """Drop the lock (closing the descriptor)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def fd(self) -> int | None:
        """The descriptor holding the lock, while held."""
        return self._fd


def lock_for(env_dir: Path, *, inheritable: bool = False) -> EnvLock:
    """The :class:`EnvLock` guarding ``env_dir``."""
    return EnvLock(env_dir.with_name(env_dir.name + ".lock"), inheritable=inheritable)


def write_marker(env_dir: Path, session: str, key: EnvKey, interpreter: Interpreter, backend: str) -> None:
    """Write the marker last, atomically (temp file + rename): from now on the env is complete."""
    data = {
        "schema": SCHEMA_VERSION,
        "session": session,
        "digest": key.digest,
        "components": key.components,
        "interpreter": {
            "executable": interpreter.executable,
            "base_executable": interpreter.base_executable,
            "implementation": interpreter.implementation,
            "version": interpreter.version,
        },
        "backend": backend,
        "vrun": __version__,
        "created": time.time(),
    }
    _write_atomic(env_dir / MARKER, json.dumps(data, indent=2, sort_keys=True) + "\n")


def touch_used(env_dir: Path) -> None:
    """Record that the env was used now: the mtime of its ``vrun-used`` file.

    Not the marker's mtime: the marker stays as written, so its ``stat`` can vouch for the
    env in the plan cache (:mod:`vrun.fastpath`).
    """
    try:
        os.utime(env_dir / USED)
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            (env_dir / USED).touch()
    except OSError:
        pass


def link_last_used(root: Path, session: str, env_dir: Path) -> None:
    """Point ``.venvs/<session>`` at ``env_dir`` (relative symlink, replaced atomically).

    A real file or directory already at that name (not ours) is left alone.
    """
    link = venvs_dir(root) / session
    target = env_dir.name
    try:
        if os.readlink(link) == target:
            return
    except FileNotFoundError:
        pass
    except OSError:  # exists and is not a symlink: not ours to replace
        return
    tmp = link.with_name(f".{session}.{os.getpid()}.link")
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)


def last_used(root: Path, session: str) -> Path | None:
    """The env ``.venvs/<session>`` points at, if it is there."""
    link = venvs_dir(root) / session
    try:
        target = os.readlink(link)
    except OSError:
        return None
    path = venvs_dir(root) / target
    return path if _ENV_NAME.match(target) and path.is_dir() else None


@dataclass(frozen=True)
class EnvInfo:
    """One env directory found under ``.venvs/``.

    :param path: the env directory.
    :param session: the session it belongs to (from the marker, else its name).
    :param digest: its key digest.
    :param marker: the parsed marker, or ``None`` for an incomplete build.
    :param size: bytes on disk (files, not following symlinks); only when asked for.
    """

    path: Path
    session: str
    digest: str
    marker: dict[str, Any] | None
    size: int | None = None

    @property
    def created(self) -> float | None:
        """Creation time (seconds since the epoch), from the marker."""
        value = self.marker.get("created") if self.marker else None
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def last_used(self) -> float | None:
        """Last-used time (seconds since the epoch): see :func:`touch_used`; the build time before."""
        for name in (USED, MARKER):
            with contextlib.suppress(OSError):
                return (self.path / name).stat().st_mtime
        return None

    @property
    def python(self) -> str:
        """The env's Python version, e.g. ``"3.12.1"`` (``"?"`` if unknown)."""
        interp = self.marker.get("interpreter", {}) if self.marker else {}
        return str(interp.get("version", "?"))


def dir_size(path: Path) -> int:
    """Bytes used by the files under ``path``, symlinks not followed."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def iter_envs(root: Path, *, with_size: bool = False) -> Iterator[EnvInfo]:
    """Every env directory under ``.venvs/`` (complete or not), sorted by name.

    Only real directories named ``<session>-<digest>`` count; symlinks and anything else
    in ``.venvs/`` are not envs.
    """
    venvs = venvs_dir(root)
    try:
        entries = sorted(os.scandir(venvs), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        match = _ENV_NAME.match(entry.name)
        if not match or entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        marker = read_marker(path)
        session = str(marker.get("session", match["session"])) if marker else match["session"]
        yield EnvInfo(path, session, match["digest"], marker, dir_size(path) if with_size else None)


def _check_deletable(root: Path, env_dir: Path) -> None:
    """Refuse (UnsafeDeleteError) anything but a direct, non-symlink child of real ``.venvs/``
    named like an env and carrying vrun's marker or vrun's lock file (an incomplete build)."""
    venvs_real = venvs_dir(root).resolve()
    if env_dir.is_symlink():
        raise UnsafeDeleteError(f"refusing to delete {env_dir}: it is a symlink")
    if not _ENV_NAME.match(env_dir.name):
        raise UnsafeDeleteError(f"refusing to delete {env_dir}: not named like a vrun env")
    parent = env_dir.parent.resolve()
    if parent != venvs_real or env_dir.resolve().parent != venvs_real:
        raise UnsafeDeleteError(f"refusing to delete {env_dir}: not directly inside {venvs_real}")
    if not env_dir.is_dir():
        raise UnsafeDeleteError(f"refusing to delete {env_dir}: not a directory")
    if read_marker(env_dir) is None and not lock_for(env_dir).path.exists():
        raise UnsafeDeleteError(
            f"refusing to delete {env_dir}: it has neither vrun's marker nor vrun's build lock, "
            "so vrun did not make it"
        )


def wipe_incomplete(root: Path, env_dir: Path) -> None:
    """Remove an interrupted build; the caller holds its exclusive lock."""
    if env_dir.exists() or env_dir.is_symlink():
        _check_deletable(root, env_dir)
        shutil.rmtree(env_dir)


def remove_env(root: Path, env_dir: Path) -> int:
    """Delete one env; return the bytes freed.

    Only a direct child of the real path of ``.venvs/``, not a symlink, named like a vrun env,
    holding vrun's marker (or an incomplete build), is deleted, under its exclusive lock;
    symlinks inside are removed, never followed (:func:`shutil.rmtree`).

    :raises UnsafeDeleteError: for anything else, naming the path.
    :raises EnvInUseError: when another vrun process holds the env's lock (it is running a
        command in it, or building it).
    """
    _check_deletable(root, env_dir)
    lock = lock_for(env_dir)
    if not lock.acquire(exclusive=True, blocking=False):
        lock.release()  # close the descriptor acquire() opened
        raise EnvInUseError(f"not removing {env_dir}: another vrun process is using it")
    try:
        if not env_dir.is_dir():  # removed by another process between the check and the lock
            lock.path.unlink(missing_ok=True)
            return 0
        size = dir_size(env_dir)
        shutil.rmtree(env_dir)
        for link in venvs_dir(root).iterdir():
            if link.is_symlink() and os.readlink(link) == env_dir.name:
                link.unlink(missing_ok=True)
        # Unlink the lock file while still holding it: a process waiting on it then finds it
        # replaced and locks the new one (see EnvLock). Unlinked after the release, a waiter
        # could lock the old file and build while a third process locks a new one.
        lock.path.unlink(missing_ok=True)
    finally:
        lock.release()
    return size


def orphan_locks(root: Path) -> list[Path]:
    """Lock files under ``.venvs/`` whose env directory is gone (a failed or interrupted build's)."""
    venvs = venvs_dir(root)
    try:
        names = sorted(os.listdir(venvs))
    except OSError:
        return []
    return [
        venvs / name
        for name in names
        if name.endswith(".lock")
        and _ENV_NAME.match(name[: -len(".lock")])
        and not (venvs / name[: -len(".lock")]).exists()
        and not (venvs / name).is_symlink()
    ]


def remove_orphan_lock(path: Path) -> bool:
    """Delete an orphan lock file while holding it exclusively; False if someone holds it now."""
    lock = EnvLock(path)
    if not lock.acquire(exclusive=True, blocking=False):
        return False
    try:
        if path.with_suffix("").exists():  # a build started meanwhile: the lock is live again
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        lock.release()


def require_ready(env_dir: Path, session: str, digest: str) -> None:
    """Raise :class:`EnvNotReadyError` unless ``env_dir`` is a complete env with that digest."""
    problem = marker_problem(env_dir, digest)
    if problem is not None:
        raise EnvNotReadyError(
            f"session {session} has no ready env ({env_dir.name}: {problem})",
            hint=f"run `vrun {session}` without --no-install to build it",
        )


@dataclass(frozen=True)
class Env:
    """A ready env.

    :param session: the session's full name.
    :param path: the env directory.
    :param key: its key.
    :param built: True when this run built it, False when an existing one was reused.
    """

    session: str
    path: Path
    key: EnvKey
    built: bool

    @property
    def bin_dir(self) -> Path:
        """The env's ``bin/``."""
        return self.path / "bin"


def ensure_env(
    root: Path,
    session: str,
    key: EnvKey,
    interpreter: Interpreter,
    backend: Backend,
    plan: InstallPlan,
    *,
    environ: Mapping[str, str],
    recreate: bool = False,
    no_install: bool = False,
    verbose: bool = False,
    lock: EnvLock | None = None,
) -> Env:
    """Find ``session``'s env for ``key``, or build it; return it with a *shared* lock held.

    The reuse check takes the shared lock first, so an env found ready cannot be deleted
    between the check and its use. A build holds the exclusive lock: it wipes an interrupted
    build, creates the env with ``backend``, installs ``plan`` and writes the marker last.
    Two processes never build the same env at once; the second waits and then reuses.
    A failed build is removed; the error propagates.

    :param lock: the lock object to use (so the caller can keep it, e.g. inheritable for a
        shell); by default :func:`lock_for` the env.
    :raises EnvNotReadyError: with ``no_install`` when the env is not ready.
    :raises BuildError: from the backend.
    """
    env_dir = env_path(root, session, key)
    prepare_venvs_dir(root)
    lock = lock or lock_for(env_dir)

    def waiting() -> None:
        _LOG.info("waiting for another vrun process to finish with %s", env_dir.name)

    if not recreate:
        lock.acquire(exclusive=False, on_wait=waiting)
        if marker_problem(env_dir, key.digest) is None:
            touch_used(env_dir)
            link_last_used(root, session, env_dir)
            return Env(session, env_dir, key, built=False)
        lock.release()
    if no_install:
        require_ready(env_dir, session, key.digest)
    lock.acquire(exclusive=True, on_wait=waiting)
    try:
        if not recreate and marker_problem(env_dir, key.digest) is None:
            built = False  # another process built it while we waited
        else:
            _LOG.info("creating env %s (%s)", env_dir.name, _why(root, session, env_dir, key, recreate))
            wipe_incomplete(root, env_dir)
            started = time.monotonic()
            try:
                backend.create(
                    interpreter,
                    env_dir,
                    prompt=session,
                    system_site_packages=key.components["system_site_packages"],
                )
                if not plan.empty:
                    _LOG.info("installing %s with %s", plan.describe(), backend.name)
                    backend.install(env_dir, plan, environ=environ, verbose=verbose)
                write_marker(env_dir, session, key, interpreter, backend.name)
                _LOG.info("built %s in %.1fs", env_dir.name, time.monotonic() - started)
            except BaseException:
                shutil.rmtree(env_dir, ignore_errors=True)
                raise
            built = True
        lock.acquire(exclusive=False)  # downgrade: keep the env from deletion while it is used
    except BaseException:
        lock.release()
        raise
    link_last_used(root, session, env_dir)
    return Env(session, env_dir, key, built=built)


def _why(root: Path, session: str, env_dir: Path, key: EnvKey, recreate: bool) -> str:
    """One line saying why an env is being built."""
    if recreate:
        return "--recreate"
    if env_dir.exists():
        problem = marker_problem(env_dir, key.digest)
        return (
            "the previous build was incomplete"
            if problem == "incomplete build"
            else f"the old env is unusable: {problem}"
        )
    previous = last_used(root, session)
    marker = read_marker(previous) if previous else None
    if marker is None:
        return "new env"
    return explain_change(marker.get("components", {}), key.components) or "new env"
