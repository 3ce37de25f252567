"""One env on disk: where it lives, its lock, its marker, its last-used link. Light on purpose.

Layout (docs/architecture.md, "Envs on disk")::

    .venvs/
      .gitignore            "*": nothing under .venvs/ is ever committed
      CACHEDIR.TAG          backup tools skip the folder (https://bford.info/cachedir/)
      test-1a2b3c4d5e/      one env; its name is ``<session>-<key digest>``
        vrun.json           the marker, written last and atomically: the env is complete
        vrun-project        the source digest the installed project was built from (wheel, sdist)
      test-1a2b3c4d5e.lock  flock(2) lock: exclusive to build or delete, shared while in use
      test -> test-1a2b3c4d5e   the env last used by session ``test``
      .tmp/test-1a2b3c4d5e/ the env's ``{env_tmp_dir}``, outside its prefix

An env directory without a valid marker is an interrupted build: it is never used, and whoever
next holds its lock exclusively wipes and rebuilds it (:mod:`vrun.env.build`). Listing and removing
envs is :mod:`vrun.env.inventory`'s. Paths are plain strings: the session loop imports this module on
every run, and it imports no :mod:`pathlib` (benchmarks/README.md, "Import costs").
"""

from __future__ import annotations

import os
import stat

from vrun.errors import EnvDirError, VrunError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import Marker

VENVS = ".venvs"
MARKER = "vrun.json"
USED = "vrun-used"
#: The file in an env naming the source digest its built project came from (:func:`project_stamp`).
PROJECT_STAMP = "vrun-project"
#: Bumped whenever the layout of an env, its marker or its key changes; old envs then go stale.
SCHEMA_VERSION = 2
#: Hex characters of the key digest in an env's name (40 bits).
DIGEST_LENGTH = 10
#: Longest file name most filesystems take (ext4, APFS, XFS: 255 bytes).
NAME_MAX = 255
#: What an env name and its lock file add to a session name: ``-<digest>.lock``.
NAME_OVERHEAD = 1 + DIGEST_LENGTH + len(".lock")
_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55\n"
_CACHEDIR_TAG = (
    _TAG_SIGNATURE + "# This file is a cache directory tag created by vrun.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_HEX = frozenset("0123456789abcdef")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")


def venvs_dir(root: str) -> str:
    """``<root>/.venvs``."""
    return os.path.join(root, VENVS)


def env_path(root: str, session: str, digest: str) -> str:
    """The directory of ``session``'s env for the key ``digest``."""
    return os.path.join(root, VENVS, f"{session}-{digest}")


def split_env_name(name: str) -> tuple[str, str] | None:
    """``(session, digest)`` for a name like ``test-1a2b3c4d5e``, else ``None``."""
    session, sep, digest = name.rpartition("-")
    if not (sep and session and len(digest) == DIGEST_LENGTH and set(digest) <= _HEX):
        return None
    if session[0] in "_.+-" or not set(session) <= _NAME_CHARS:
        return None
    return session, digest


def check_venvs_dir(root: str) -> str | None:
    """Check an existing ``.venvs/`` is vrun's to use, without writing anything.

    Refused, with an :class:`EnvDirError` naming the path: a ``.venvs`` that is not a directory
    (a file, a broken symlink); one owned by another user or writable by everyone (anyone could
    plant an env there, as pip refuses a cache it does not own); a non-empty directory (or a
    symlink to one) without vrun's ``CACHEDIR.TAG``, since it is not vrun's: nothing is written
    or deleted in a user's folder.

    :returns: the path of ``.venvs``, or ``None`` when there is nothing at that path.
    :raises EnvDirError: as above.
    """
    venvs = venvs_dir(root)
    try:
        st = os.stat(venvs)
    except FileNotFoundError as exc:
        if not os.path.islink(venvs):
            return None
        raise EnvDirError(
            f"{venvs} is a broken symlink", "remove it, or point it at an empty directory"
        ) from exc
    except OSError as exc:
        raise EnvDirError(f"cannot use {venvs}: {exc.strerror}") from exc
    _check_venvs_stat(venvs, st)
    if not _has_our_tag(os.path.join(venvs, "CACHEDIR.TAG")):
        try:
            entries = os.listdir(venvs)
        except OSError as exc:
            raise EnvDirError(f"cannot read {venvs}: {exc.strerror}") from exc
        if any(not _is_vrun_setup_file(name) for name in entries):
            kind = "a symlink to a folder" if os.path.islink(venvs) else "a folder"
            raise EnvDirError(
                f"{venvs} is {kind} that vrun did not create (it has no vrun CACHEDIR.TAG)",
                "move it away, or point .venvs at an empty directory",
            )
    return venvs


def venvs_usable(root: str) -> bool:
    """Whether ``.venvs/`` exists as a directory this user owns and others cannot write (one
    ``stat``: the check every reuse of an env makes; :func:`check_venvs_dir` checks fully).

    :raises EnvDirError: it exists but is not a directory, is another user's, or world-writable.
    """
    venvs = venvs_dir(root)
    try:
        st = os.stat(venvs)
    except OSError:
        return False
    _check_venvs_stat(venvs, st)
    return True


def _check_venvs_stat(venvs: str, st: os.stat_result) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise EnvDirError(f"{venvs} is not a directory", "move it away: vrun keeps its envs there")
    if st.st_uid != os.getuid():
        raise EnvDirError(f"{venvs} belongs to another user (uid {st.st_uid})", "remove it or chown it")
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise EnvDirError(f"{venvs} is writable by every user", f"chmod o-w {venvs}")


def prepare_venvs_dir(root: str) -> str:
    """Check ``.venvs/`` is vrun's to use (:func:`check_venvs_dir`), creating it with
    ``.gitignore`` and ``CACHEDIR.TAG``.

    :returns: the path of ``.venvs``.
    :raises EnvDirError: as :func:`check_venvs_dir`, or when it cannot be created (read-only or
        full disk).
    """
    venvs = check_venvs_dir(root)
    if venvs is not None:
        _write_setup_files(venvs)  # a 0.1 .venvs may lack one
        return venvs
    venvs = venvs_dir(root)
    # Made complete in a temporary folder, then renamed into place: no other process ever sees a
    # .venvs without vrun's tag (rename(2) refuses to replace a non-empty directory).
    tmp = f"{venvs}.{os.getpid()}.tmp"
    try:
        os.mkdir(tmp, 0o755)
        _write_setup_files(tmp)
        os.rename(tmp, venvs)
    except OSError as exc:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.lexists(venvs):
            raise EnvDirError(f"cannot create {venvs}: {exc.strerror}") from exc
        return prepare_venvs_dir(root)  # made meanwhile by another process: check it as found
    return venvs


def _write_setup_files(venvs: str) -> None:
    """Write ``CACHEDIR.TAG`` and ``.gitignore`` into ``venvs`` where missing.

    :raises EnvDirError: when they cannot be written.
    """
    from vrun.inputs import write_atomic

    tag = os.path.join(venvs, "CACHEDIR.TAG")
    try:
        if not _has_our_tag(tag):
            write_atomic(tag, _CACHEDIR_TAG)
        if not os.path.isfile(os.path.join(venvs, ".gitignore")):
            write_atomic(
                os.path.join(venvs, ".gitignore"), "# created by vrun: envs are never committed\n*\n"
            )
    except OSError as exc:
        raise EnvDirError(f"cannot write in {venvs}: {exc.strerror}") from exc


def _is_vrun_setup_file(name: str) -> bool:
    """Whether ``name`` is a file :func:`prepare_venvs_dir` writes (or its temporary file): a
    ``.venvs`` holding only those is one another vrun process is setting up right now."""
    return name in ("CACHEDIR.TAG", ".gitignore") or name.startswith((".CACHEDIR.TAG.", ".gitignore."))


def _has_our_tag(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(len(_CACHEDIR_TAG)) == _CACHEDIR_TAG
    except OSError:
        return False


#: The marker's fields and their types; a marker missing one, or with another type, is corrupt.
_MARKER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "schema": int,
    "session": str,
    "digest": str,
    "location": str,
    "components": dict,
    "interpreter": dict,
    "backend": str,
    "created": (int, float),
}


def read_marker(env_dir: str) -> Marker | None:
    """The env's marker, or ``None`` when it is absent, unreadable, corrupt, or lacks a field or
    has one of the wrong type: every such env counts as absent (tox's ``info.py`` rule)."""
    import json

    try:
        with open(os.path.join(env_dir, MARKER), "rb") as fh:
            marker: Marker = json.loads(fh.read())  # a Marker once the checks below pass
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict):
        return None
    for name, kind in _MARKER_FIELDS.items():
        if not isinstance(marker.get(name), kind) or isinstance(marker.get(name), bool):
            return None
    if not isinstance(marker["interpreter"].get("base_executable"), str):
        return None
    return marker


def marker_problem(env_dir: str, digest: str | None = None) -> str | None:
    """Why ``env_dir`` is not a usable env, or ``None`` when it is.

    Usable means: the marker is valid (:func:`read_marker`), written by this
    :data:`SCHEMA_VERSION`, its digest matches ``digest`` (when given), it was built at this very
    path (a venv's scripts hold absolute paths, so a moved project's envs are broken), and the
    env's ``python`` and its base interpreter still exist (an interpreter upgraded or removed in
    place breaks the env).
    """
    marker = read_marker(env_dir)
    if marker is None:
        return "incomplete build" if os.path.lexists(env_dir) else "absent"
    if marker["schema"] != SCHEMA_VERSION:
        return "made by another vrun version"
    if digest is not None and marker["digest"] != digest:
        return "key mismatch"
    if marker["location"] != env_dir:
        return f"project moved: built at {marker['location']}"
    base = marker["interpreter"]["base_executable"]
    if not (os.path.exists(base) and os.path.exists(os.path.join(env_dir, "bin", "python"))):
        return f"its interpreter is gone ({base})"
    return None


def touch_used(env_dir: str) -> None:
    """Record that the env was used now: the mtime of its ``vrun-used`` file.

    Not the marker's mtime: the marker stays as written, so its signature can vouch for the env
    in the plan cache.
    """
    path = os.path.join(env_dir, USED)
    try:
        os.utime(path, follow_symlinks=False)  # a symlink planted there: its own time, not its target's
    except FileNotFoundError:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
        except OSError:
            pass
    except OSError:
        pass


def link_last_used(root: str, session: str, env_dir: str) -> None:
    """Point ``.venvs/<session>`` at ``env_dir`` (relative symlink, replaced atomically).

    A real file or directory already at that name (not ours) is left alone.
    """
    link = os.path.join(venvs_dir(root), session)
    target = os.path.basename(env_dir)
    try:
        if os.readlink(link) == target:
            return
    except FileNotFoundError:
        pass
    except OSError:  # exists and is not a symlink: not ours to replace
        return
    tmp = os.path.join(venvs_dir(root), f".{session}.{os.getpid()}.link")
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def last_used(root: str, session: str) -> str | None:
    """The env ``.venvs/<session>`` points at, if it is there."""
    try:
        target = os.readlink(os.path.join(venvs_dir(root), session))
    except OSError:
        return None
    path = os.path.join(venvs_dir(root), target)
    return path if split_env_name(target) and os.path.isdir(path) else None


# ---------------------------------------------------------------- inside one env


def project_stamp(env_dir: str) -> str | None:
    """The source digest (:func:`vrun.plan.source.source_digest`) of the project built and installed
    into the env (``install_project = "wheel"`` or ``"sdist"``), or ``None`` when there is none, so
    that a run whose source is unchanged reinstalls nothing. One small read: the session loop
    checks it on every run of such a session."""
    try:
        with open(os.path.join(env_dir, PROJECT_STAMP), "rb") as fh:
            return fh.read(64).decode("ascii", "replace").strip() or None
    except OSError:
        return None


def write_project_stamp(env_dir: str, digest: str | None) -> None:
    """Record that the env's project was built from the source with ``digest`` (atomically);
    ``None`` removes the record (the next run reinstalls the project).

    :raises OSError: it cannot be written or removed.
    """
    path = os.path.join(env_dir, PROJECT_STAMP)
    if digest is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    from vrun.inputs import write_atomic

    write_atomic(path, digest + "\n")


#: The folder of the envs' temp dirs in ``.venvs/`` (:func:`tmp_path`).
TMP = ".tmp"


def tmp_path(env_dir: str) -> str:
    """The temp dir of the env at ``env_dir`` (``{env_tmp_dir}``): ``.venvs/.tmp/<env name>``.

    Outside the env's prefix, unlike tox's ``{envtmpdir}`` (``<envdir>/tmp``): a test suite that
    tells files of its own from the installed packages by their place under ``sys.prefix`` (flask's,
    with ``--basetemp={env_tmp_dir}``) sees its temp files as its own.
    """
    return os.path.join(os.path.dirname(env_dir), TMP, os.path.basename(env_dir))


def site_packages_dirs(env_dir: str) -> list[str]:
    """The env's site-packages directories that exist, found with ``listdir``, not by asking its python.

    venv, virtualenv and uv give an env the interpreter's ``posix_prefix`` purelib (its
    ``sysconfig`` scheme) relative to the env: ``lib/python3.12/site-packages`` for CPython,
    ``lib/python3.13t/site-packages`` for a free-threaded build, ``lib/pypy3.10/site-packages``
    for PyPy 3.8 and newer; older PyPy used ``<env>/site-packages``.
    """
    lib = os.path.join(env_dir, "lib")
    try:
        names = sorted(os.listdir(lib))
    except OSError:
        names = []
    found = [os.path.join(lib, name, "site-packages") for name in names]
    found = [path for path in found if os.path.isdir(path)]
    top = os.path.join(env_dir, "site-packages")
    return found or ([top] if os.path.isdir(top) else [])


def site_packages(env_dir: str) -> str:
    """The env's site-packages directory (purelib): :func:`site_packages_dirs`' first.

    :raises VrunError: the env has none (it is not a complete env).
    """
    found = site_packages_dirs(env_dir)
    if not found:
        raise VrunError(
            f"{env_dir} has no site-packages directory (lib/python*/site-packages)",
            "rebuild the env: vrun -r SESSION",
        )
    return found[0]


def tmp_dir(env_dir: str, *, empty: bool) -> str:
    """The env's temp dir (:func:`tmp_path`), made to exist with its parents; ``empty``: emptied
    first (removed and made anew).

    Only ever deletes inside ``.venvs/.tmp/``, never through a symlink: a symlink at ``.venvs/.tmp``
    is refused, one at the temp dir's name is removed, never followed, and :func:`shutil.rmtree`
    does not follow the symlinks inside the directory either.

    :raises VrunError: it cannot be removed or made (naming the path and why).
    """
    path = tmp_path(env_dir)
    try:
        _check_tmp_parent(path)
        if empty:
            _remove(path)
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise VrunError(f"cannot prepare the temp dir {path}: {exc.strerror or exc}") from exc
    return path


def remove_tmp_dir(env_dir: str) -> None:
    """Remove the env's temp dir (:func:`tmp_path`) if it is there, as :func:`tmp_dir` empties it: for
    ``vrun rm`` and ``vrun gc``, which remove the env.

    :raises OSError: it cannot be removed (``.venvs/.tmp`` a symlink included).
    """
    path = tmp_path(env_dir)
    if os.path.lexists(path):
        _check_tmp_parent(path)
        _remove(path)


def _check_tmp_parent(path: str) -> None:
    """Make ``.venvs/.tmp`` (the parent of ``path``) a real directory, refusing a symlink there.

    :raises OSError: it is a symlink or cannot be made.
    """
    parent = os.path.dirname(path)
    if os.path.islink(parent):  # vrun never deletes through a symlink out of .venvs/
        raise OSError(f"{parent} is a symlink")
    os.makedirs(parent, mode=0o755, exist_ok=True)


def _remove(path: str) -> None:
    """Remove ``path`` whatever it is, never following a symlink (a symlink is removed itself)."""
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
