"""The files and variables planning reads, each recorded with its signature when it is read.

A plan (:mod:`vrun.plan.planner`) is only as fresh as its inputs. Every module that plans reads
files through this one (:func:`read_bytes`, :func:`is_file`, :func:`stat_file`) and the environment
through a :class:`vrun.plan.planner.RecordingEnviron`; each read lands in the active
:class:`Recorder` with the file's signature *as it was read* (``fstat`` of the open descriptor), not
as it is later. The plan cache (:mod:`vrun.plan.cache`) stores those records and trusts a plan only
while every one of them still holds (docs/architecture.md, "The warm path"; the lesson is
tox's ``.tox-info.json`` being written from what a step actually used).

Light on purpose: the warm path imports this module, so it imports ``os``, ``stat`` and ``time``
(all three already loaded by Python's start-up) and nothing else.
"""

from __future__ import annotations

import os
import stat
import time

#: ``typing`` is not imported (benchmarks/README.md, "Import costs"): annotations are strings
#: here, so it is needed only by type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    #: ``(st_mtime_ns, st_size, st_ino, st_ctime_ns)``, or ``None`` for a path that does not exist.
    Signature = tuple[int, int, int, int] | None

#: A file whose mtime is this close to the moment it was read may still change within the same
#: mtime tick without its signature changing (git's "racily clean" entries); a plan that read
#: such a file is not stored. Linux stamps files from a coarse clock of at most 10 ms per tick.
RACY_WINDOW_NS = 20_000_000
#: The ``st_mtime_ns`` of a directory recorded by :func:`is_dir`: only *that it is this directory*
#: (its inode) was used, not its listing, so entries coming and going (``.pytest_cache``, a
#: database's journal, ``build/``) do not invalidate a plan.
DIR_ONLY = -1


def signature(path: str) -> Signature:
    """The signature of ``path`` now (``os.stat``, following symlinks), or ``None`` when absent.

    mtime, size, inode and ctime: an edit, a replacement (editors and ``git checkout`` write a new
    inode) and an mtime-preserving copy (``cp -p`` still changes ctime) all change it.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def identity(path: str) -> Signature:
    """``(DIR_ONLY, 0, inode, 0)`` for a directory, else :func:`signature`."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return (DIR_ONLY, 0, st.st_ino, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def racy(files: Mapping[str, Signature], started_ns: int) -> list[str]:
    """The paths in ``files`` (path -> signature) modified so shortly before ``started_ns`` (ns since
    the epoch, when planning began) that a change within the same mtime tick could go unseen (see
    :data:`RACY_WINDOW_NS`; git's "racy clean" rule, Documentation/technical/racy-git.txt)."""
    limit = started_ns - RACY_WINDOW_NS
    return [path for path, sig in files.items() if sig is not None and sig[0] > limit]


def holds(path: str, sig: Signature) -> bool:
    """Whether ``path`` still has the signature ``sig`` recorded for it (for a directory recorded
    by :func:`is_dir`: whether it is still the same directory)."""
    if sig is not None and sig[0] == DIR_ONLY:
        return identity(path) == sig
    return signature(path) == sig


class Recorder:
    """The inputs of one planning step: file signatures and environment variables.

    :ivar files: path -> the signature recorded the first time planning looked at the path.
    :ivar environ: variable name -> its value (``None`` when unset) when planning read it.
    :ivar started_ns: ``time.time_ns()`` when recording began, for the racy-file check.
    """

    def __init__(self) -> None:
        self.files: dict[str, Signature] = {}
        self.environ: dict[str, str | None] = {}
        self.started_ns = time.time_ns()

    def note(self, path: str, sig: Signature) -> Signature:
        """Record ``sig`` for ``path`` unless the path was recorded already (the first read is what
        planning used); return ``sig``, the signature now. A directory recorded by :func:`is_dir`
        and later looked into (:func:`stat_file`) gets its full signature, the listing then used."""
        path = os.path.abspath(path)
        old = self.files.setdefault(path, sig)
        if old is not None and sig is not None and old[0] == DIR_ONLY != sig[0] and old[2] == sig[2]:
            self.files[path] = sig
        return sig

    def changed(self) -> list[str]:
        """The recorded paths whose signature differs now (empty: every input still holds)."""
        return [path for path, sig in self.files.items() if not holds(path, sig)]


_ACTIVE: list[Recorder] = [Recorder()]


def active() -> Recorder:
    """The recorder reads go to: the innermost :func:`recording`, else a process-wide one."""
    return _ACTIVE[-1]


class recording:
    """Context manager: record every read inside it in a fresh :class:`Recorder`."""

    def __enter__(self) -> Recorder:
        rec = Recorder()
        _ACTIVE.append(rec)
        return rec

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.pop()


def stat_file(path: str) -> Signature:
    """:func:`signature` of ``path``, recorded."""
    return active().note(path, signature(path))


def is_file(path: str) -> bool:
    """Whether ``path`` is a regular file (symlinks followed), recorded."""
    try:
        st = os.stat(path)
    except OSError:
        active().note(path, None)
        return False
    active().note(path, (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns))
    return stat.S_ISREG(st.st_mode)


def is_dir(path: str) -> bool:
    """Whether ``path`` is a directory, recorded as such (:data:`DIR_ONLY`): for a check that
    needs the directory, not its listing (a ``cwd``, a local project). :func:`stat_file` records a
    directory's full signature, which changes when an entry is added or removed."""
    sig = active().note(path, identity(path))
    return sig is not None and sig[0] == DIR_ONLY


def exists(path: str) -> bool:
    """Whether ``path`` exists, recorded: a directory as by :func:`is_dir`, anything else by its
    :func:`signature` (a wheel's bytes count)."""
    return active().note(path, identity(path)) is not None


def read_bytes(path: str) -> bytes:
    """The contents of ``path``, recorded with the signature of the descriptor that was read.

    :raises OSError: as :func:`open` does (a missing file is recorded as absent first).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        active().note(path, None)
        raise
    try:
        st = os.fstat(fd)
        active().note(path, (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns))
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str) -> str:
    """:func:`read_bytes` decoded as UTF-8 (undecodable bytes replaced).

    :raises OSError: as :func:`read_bytes`.
    """
    return read_bytes(path).decode("utf-8", errors="replace")


def write_atomic(path: str, data: bytes | str, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and ``os.replace``.

    Readers see the old file or the new one, never a half-written one. The temporary file is
    removed on failure.

    :raises OSError: when the directory is not writable or the disk is full.
    """
    payload = data.encode() if isinstance(data, str) else data
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cache_dir(environ: Mapping[str, str] | None = None) -> str:
    """Return vrun's cache directory (absolute; it need not exist).

    ``$VRUN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/vrun``, else ``~/.cache/vrun``. A relative
    ``XDG_CACHE_HOME`` is ignored, as the XDG Base Directory Specification requires.

    :param environ: the environment to read; ``os.environ`` when ``None``.
    """
    env = os.environ if environ is None else environ
    if env.get("VRUN_CACHE_DIR"):
        return os.path.abspath(os.path.expanduser(env["VRUN_CACHE_DIR"]))
    xdg = env.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return os.path.join(xdg, "vrun")
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache", "vrun")
