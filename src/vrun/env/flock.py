"""The env lock: an ``flock(2)`` lock per env, beside it as ``.venvs/<env name>.lock``. POSIX only:
a Windows port replaces this module (``msvcrt.locking`` or ``LockFileEx``).

Every process that writes into an env (vrun building it, its installer) holds the lock
exclusively; commands hold it shared while they run (docs/architecture.md, "Env locks"). Light on
purpose: the warm path takes a shared lock; ``fcntl`` is imported when a lock is first taken.
"""

from __future__ import annotations

import errno
import os

from vrun.errors import EnvDirError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class EnvLock:
    """An ``flock(2)`` lock on ``.venvs/<env name>.lock``.

    Exclusive to build or delete an env, shared while commands use it. The lock file is kept
    (deleting a lock file others may wait on would let two processes hold "the" lock); after
    acquiring, the file is re-checked to be the one on disk, as flock-based tools do. The lock
    belongs to the open file description, so a child that inherits the descriptor (an installer,
    a ``vrun shell``) keeps the env locked for as long as it lives, even if vrun is killed.

    :param path: the lock file; never followed when it is a symlink.
    :param inheritable: let the descriptor survive ``exec``.
    """

    def __init__(self, path: str, *, inheritable: bool = False) -> None:
        self.path = path
        self.inheritable = inheritable
        self.fd: int | None = None

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise EnvDirError(f"refusing to use {self.path}: the lock file is a symlink") from exc
            raise EnvDirError(f"cannot open the lock {self.path}: {exc.strerror}") from exc
        os.set_inheritable(fd, self.inheritable)
        return fd

    def acquire(
        self, exclusive: bool, *, blocking: bool = True, on_wait: Callable[[], None] | None = None
    ) -> bool:
        """Take the lock (or change its mode); False only when not ``blocking`` and it is busy.

        :param on_wait: called once if the lock is busy and we are about to wait for it.
        :raises EnvDirError: the lock file is a symlink, cannot be opened, or the filesystem
            does not support locking (ENOLCK, some network filesystems).
        """
        import fcntl

        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        while True:
            if self.fd is None:
                self.fd = self._open()
            try:
                try:
                    fcntl.flock(self.fd, mode | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not blocking:
                        return False
                    if on_wait is not None:
                        on_wait()
                        on_wait = None
                    fcntl.flock(self.fd, mode)
            except OSError as exc:
                self.release()
                raise EnvDirError(
                    f"cannot lock {self.path}: {exc.strerror}",
                    "the filesystem of .venvs/ must support flock(2)" if exc.errno == errno.ENOLCK else None,
                ) from exc
            try:
                same = os.fstat(self.fd).st_ino == os.lstat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return True
            self.release()  # the file was replaced while we waited: lock the new one

    def release(self) -> None:
        """Drop the lock (closing the descriptor)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def holders(path: str, limit: int = 3) -> list[str]:
    """Who may hold the lock file ``path``: up to ``limit`` other processes that have it open, each
    as ``pid N (program args, on /dev/pts/K)``; ``[]`` where that cannot be told.

    flock(2) does not say who holds a lock (``/proc/locks`` names the process that took it, which
    may have exited while a child it handed the descriptor to, an installer or a shell, holds it
    on), so this looks, as ``fuser`` and ``lsof`` do, for the processes with the file open in
    ``/proc/PID/fd`` (Linux). Processes waiting for the lock have it open too. Only called when
    about to wait.
    """
    found: list[str] = []
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    except OSError:
        return found
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            if not any(os.readlink(f"{fd_dir}/{fd}") == path for fd in os.listdir(fd_dir)):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                argv = file.read().rstrip(b"\0").split(b"\0")
            tty = os.readlink(f"/proc/{pid}/fd/0")
        except OSError:  # gone, or not ours to look at
            continue
        program = " ".join(
            os.path.basename(a.decode(errors="replace")) if i == 0 else a.decode(errors="replace")
            for i, a in enumerate(argv[:4])
        )
        where = f", on {tty}" if tty.startswith("/dev/") and tty != "/dev/null" else ""
        found.append(f"pid {pid} ({program[:80]}{where})")
        if len(found) == limit:
            break
    return found


def lock_for(env_dir: str, *, inheritable: bool = False) -> EnvLock:
    """The :class:`EnvLock` guarding ``env_dir``."""
    return EnvLock(env_dir + ".lock", inheritable=inheritable)
