"""The envs on disk as a whole: list them, remove them safely.

Every deletion vrun makes goes through :func:`check_deletable`: only a direct, non-symlink child of
the real ``.venvs/``, named like an env and carrying vrun's marker or its lock file, is ever
deleted, under its exclusive lock; symlinks inside are removed, never followed
(:func:`shutil.rmtree`). vrun only ever deletes inside ``.venvs/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vrun.env.flock import EnvLock, lock_for
from vrun.env.layout import (
    MARKER,
    TMP,
    USED,
    check_venvs_dir,
    read_marker,
    remove_tmp_dir,
    split_env_name,
    venvs_dir,
)
from vrun.errors import EnvDirError, EnvInUseError

if TYPE_CHECKING:
    from vrun._types import Marker


def check_deletable(root: str, env_dir: str) -> None:
    """Refuse (:class:`~vrun.env.layout.EnvDirError`) anything but a direct, non-symlink child of the real
    ``.venvs/``, named like an env, carrying vrun's marker or vrun's lock file (an incomplete build),
    in a ``.venvs`` that is vrun's (:func:`~vrun.env.layout.check_venvs_dir`: not a user's folder).
    """
    if check_venvs_dir(root) is None:
        raise EnvDirError(f"refusing to delete {env_dir}: {venvs_dir(root)} does not exist")
    venvs_real = os.path.realpath(venvs_dir(root))
    if os.path.islink(env_dir):
        raise EnvDirError(f"refusing to delete {env_dir}: it is a symlink")
    if split_env_name(os.path.basename(env_dir)) is None:
        raise EnvDirError(f"refusing to delete {env_dir}: not named like a vrun env")
    if os.path.realpath(os.path.dirname(env_dir)) != venvs_real:
        raise EnvDirError(f"refusing to delete {env_dir}: not directly inside {venvs_real}")
    if not os.path.isdir(env_dir):
        raise EnvDirError(f"refusing to delete {env_dir}: not a directory")
    if read_marker(env_dir) is None and not os.path.lexists(env_dir + ".lock"):
        raise EnvDirError(
            f"refusing to delete {env_dir}: it has neither vrun's marker nor vrun's build lock, "
            "so vrun did not make it"
        )


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
    marker: Marker | None
    size: int | None = None

    @property
    def created(self) -> float | None:
        """Creation time (seconds since the epoch), from the marker."""
        value = self.marker.get("created") if self.marker else None
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def last_used(self) -> float | None:
        """Last-used time (seconds since the epoch, :func:`vrun.env.layout.touch_used`); else the
        build time."""
        for name in (USED, MARKER):
            with contextlib.suppress(OSError):
                return (self.path / name).stat().st_mtime
        return None

    @property
    def python(self) -> str:
        """The env's Python version, e.g. ``"3.12.1"`` (``"?"`` if unknown)."""
        # read_marker checks only the interpreter's base_executable: an old marker may lack the rest
        interp: Mapping[str, object] = self.marker["interpreter"] if self.marker else {}
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
    """Every env directory under ``.venvs/`` (complete or not), by session name, then by directory
    name: the envs of ``test`` before those of ``test-3.11``, whatever their hashes.

    Only real directories named ``<session>-<digest>`` count; symlinks and anything else
    in ``.venvs/`` are not envs.
    """
    venvs = venvs_dir(str(root))
    try:
        entries = list(os.scandir(venvs))
    except OSError:
        return
    found = []
    for entry in entries:
        match = split_env_name(entry.name)
        if not match or entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        marker = read_marker(str(path))
        session = str(marker["session"]) if marker else match[0]
        found.append(EnvInfo(path, session, match[1], marker, dir_size(path) if with_size else None))
    yield from sorted(found, key=by_session)


def by_session(info: EnvInfo) -> tuple[str, str]:
    """The order vrun lists and removes envs in: by session name, then by directory name (never by
    hash alone, which would put ``test-0a…`` before ``test-3.11-…`` on one machine and after it on
    another)."""
    return info.session, info.path.name


def remove_env(root: Path, env_dir: Path) -> int:
    """Delete one env; return the bytes freed.

    Only a direct child of the real path of ``.venvs/``, not a symlink, named like a vrun env,
    holding vrun's marker (or an incomplete build), is deleted, under its exclusive lock, with its
    temp dir (:func:`vrun.env.layout.remove_tmp_dir`); symlinks inside are removed, never followed
    (:func:`shutil.rmtree`).

    :raises EnvDirError: for anything else, naming the path.
    :raises EnvInUseError: when another vrun process holds the env's lock (it is running a
        command in it, or building it).
    """
    check_deletable(str(root), str(env_dir))
    lock = lock_for(str(env_dir))
    if not lock.acquire(exclusive=True, blocking=False):
        lock.release()  # close the descriptor acquire() opened
        raise EnvInUseError(f"not removing {env_dir}: another vrun process is using it")
    try:
        if not env_dir.is_dir():  # removed by another process between the check and the lock
            Path(lock.path).unlink(missing_ok=True)
            return 0
        size = dir_size(env_dir)
        shutil.rmtree(env_dir)
        with contextlib.suppress(OSError):  # its {env_tmp_dir}: what is left there is nobody's
            remove_tmp_dir(str(env_dir))
        for link in Path(venvs_dir(str(root))).iterdir():
            if link.is_symlink() and os.readlink(link) == env_dir.name:
                link.unlink(missing_ok=True)
        # Unlink the lock file while still holding it: a process waiting on it then finds it
        # replaced and locks the new one (see EnvLock). Unlinked after the release, a waiter
        # could lock the old file and build while a third process locks a new one.
        Path(lock.path).unlink(missing_ok=True)
    finally:
        lock.release()
    return size


def orphan_locks(root: Path) -> list[Path]:
    """Lock files under ``.venvs/`` whose env directory is gone (a failed or interrupted build's)."""
    venvs = Path(venvs_dir(str(root)))
    try:
        names = sorted(os.listdir(venvs))
    except OSError:
        return []
    return [
        venvs / name
        for name in names
        if name.endswith(".lock")
        and split_env_name(name[: -len(".lock")])
        and not (venvs / name[: -len(".lock")]).exists()
        and not (venvs / name).is_symlink()
    ]


def orphan_tmp_dirs(root: Path) -> list[Path]:
    """The ``{env_tmp_dir}`` folders (``.venvs/.tmp/<env name>``) whose env is gone: removed by
    hand, or by a vrun older than the temp dirs' move out of the env. None when ``.venvs/.tmp`` is
    a symlink: vrun never lists, nor deletes, through one."""
    tmp = Path(venvs_dir(str(root))) / TMP
    if tmp.is_symlink():
        return []
    try:
        names = sorted(os.listdir(tmp))
    except OSError:
        return []
    return [tmp / name for name in names if split_env_name(name) and not os.path.lexists(tmp.parent / name)]


def remove_orphan_tmp_dir(path: Path) -> bool:
    """Delete an orphan temp dir (:func:`orphan_tmp_dirs`), never through a symlink; False when its
    env exists again (a build of the same name started meanwhile: its commands will use it)."""
    if os.path.lexists(path.parent.parent / path.name):
        return False
    with contextlib.suppress(FileNotFoundError):
        remove_tmp_dir(str(path.parent.parent / path.name))
    return True


def remove_orphan_lock(path: Path) -> bool:
    """Delete an orphan lock file while holding it exclusively; False if someone holds it now."""
    lock = EnvLock(str(path))
    if not lock.acquire(exclusive=True, blocking=False):
        return False
    try:
        if path.with_suffix("").exists():  # a build started meanwhile: the lock is live again
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        lock.release()
