"""Bytecode memo: a new env starts with the ``.pyc`` files an earlier env's run compiled.

The first run of a command in a fresh env spends a large part of its time compiling: pytest's
first import of itself, pluggy, packaging and pygments in a new env takes about twice as long as
the next one (benchmarks/README.md). Compiling everything at install time instead (uv's
``--compile-bytecode``, pip's default) costs more than it saves, because it compiles every module
of every package, imported or not. A shared ``PYTHONPYCACHEPREFIX`` shares nothing, because it is
keyed by the source's path, and every env has its own.

What is shared between envs is the source *file*: uv installs a package by hard-linking the files
of its unpacked wheel from its cache (its default link mode on Linux), so the ``_pytest/main.py``
of every env built from the same wheel is one inode. This module remembers what the one path
computed and reuses it where nothing that decided it changed:

- :func:`harvest`, after the first run in an env vrun built: every timestamp-based ``.pyc`` that
  Python wrote into the env's ``site-packages`` for a source with more than one link is
  hard-linked into ``<cache dir>/bytecode/<tag>/<dev>-<inode>-<mtime_ns>-<size>[.opt-N].pyc``.
- :func:`seed`, when vrun builds an env, after the install: every source whose identity (device,
  inode, modification time in nanoseconds, size) has a remembered ``.pyc`` for the env's cache tag
  gets it hard-linked into its ``__pycache__``.

Python checks each ``.pyc`` against its source anyway (PEP 3147 names, PEP 552 header: the
source's modification time and size), and when it loads one from another path it rewrites the code
objects' file names to the source it imported (``importlib``'s ``_fix_co_filename``), so tracebacks
name the env's files. A ``.pyc`` Python finds stale it recompiles and replaces atomically, never
writing into the shared inode. Only timestamp-based files are remembered (PEP 552 flags 0), never
an unchecked hash-based one. Sources that are not shared (pip copies every file; uv's ``copy`` or
``clone`` link modes) are simply not matched. Nothing here is needed for correctness: every
failure is ignored and the env merely compiles as usual. ``VRUN_BYTECODE_CACHE=0`` turns it off.
"""

from __future__ import annotations

import os

from vrun.env.layout import site_packages_dirs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from vrun._types import InterpreterFacts

#: Name of the bytecode memo's folder in vrun's cache directory.
FOLDER = "bytecode"
#: The optimization suffixes a ``.pyc`` name may carry (PEP 488): none, ``-O``, ``-OO``.
_OPT_SUFFIXES = ("", ".opt-1", ".opt-2")


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether the memo is used: unless ``VRUN_BYTECODE_CACHE`` is ``0``."""
    return environ.get("VRUN_BYTECODE_CACHE", "") != "0"


def cache_tag(implementation: str, version_info: Sequence[int]) -> str | None:
    """``sys.implementation.cache_tag`` of an interpreter from its facts, or None when unknown.

    CPython's tag is ``cpython-XY`` and PyPy's ``pypyXY`` (PEP 3147; PyPy's ``sys.implementation``).
    """
    major, minor = version_info[0], version_info[1]
    if implementation == "CPython":
        return f"cpython-{major}{minor}"
    if implementation == "PyPy":
        return f"pypy{major}{minor}"
    return None


def _site_packages(env_dir: str) -> list[str]:
    """The env's site-packages folders, leaving out a symlinked one (never walk out of the env)."""
    return [path for path in site_packages_dirs(env_dir) if not os.path.islink(path)]


def _identity(st: os.stat_result) -> str:
    return f"{st.st_dev}-{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"


def _folders(top: str) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """Each folder under ``top`` (symlinks not followed, ``*.dist-info`` skipped) with its entries."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        yield folder, entries
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and not entry.name.endswith((".dist-info", ".data")):
                stack.append(entry.path)


def _shared_source(path: str) -> os.stat_result | None:
    """The source's ``lstat`` when it is a regular file with more than one link, else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if st.st_nlink > 1 and (st.st_mode & 0o170000) == 0o100000 else None


def _timestamp_based(path: str) -> bool:
    """Whether the ``.pyc`` at ``path`` has PEP 552 flags 0 (validated by source mtime and size)."""
    try:
        with open(path, "rb") as f:
            header = f.read(8)
    except OSError:
        return False
    return len(header) == 8 and header[4:8] == b"\0\0\0\0"


def harvest(env_dir: str, tag: str | None, cache_dir: str) -> int:
    """Remember the ``.pyc`` files of ``env_dir`` whose sources are shared; return how many were added.

    :param env_dir: an env vrun built, after a command ran in it.
    :param tag: the env interpreter's cache tag (:func:`cache_tag`); nothing is done when None.
    :param cache_dir: vrun's cache directory (:func:`vrun.plan.discovery.cache_dir`).
    """
    if tag is None:
        return 0
    store = os.path.join(cache_dir, FOLDER, tag)
    added = 0
    made = False
    for top in _site_packages(env_dir):
        for folder, entries in _folders(top):
            if os.path.basename(folder) != "__pycache__":
                continue
            parent = os.path.dirname(folder)
            for entry in entries:
                module, dot, rest = entry.name.partition(".")
                if not dot or not rest.startswith(tag) or not rest.endswith(".pyc"):
                    continue
                opt = rest[len(tag) : -len(".pyc")]
                source = _shared_source(os.path.join(parent, module + ".py"))
                if opt not in _OPT_SUFFIXES or source is None or not _timestamp_based(entry.path):
                    continue
                if not made:
                    try:
                        os.makedirs(store, exist_ok=True)
                    except OSError:
                        return added
                    made = True
                try:
                    os.link(entry.path, os.path.join(store, f"{_identity(source)}{opt}.pyc"))
                except FileExistsError:
                    continue
                except OSError:  # another file system, no hard links, no space: give up quietly
                    return added
                added += 1
    return added


def seed(env_dir: str, tag: str | None, cache_dir: str) -> int:
    """Link remembered ``.pyc`` files into ``env_dir``'s ``__pycache__`` folders; return how many.

    Called on a freshly installed env, before its marker is written.

    :param env_dir: the env.
    :param tag: the env interpreter's cache tag (:func:`cache_tag`); nothing is done when None.
    :param cache_dir: vrun's cache directory (:func:`vrun.plan.discovery.cache_dir`).
    """
    if tag is None:
        return 0
    store = os.path.join(cache_dir, FOLDER, tag)
    try:
        known = set(os.listdir(store))
    except OSError:
        return 0
    if not known:
        return 0
    linked = 0
    for top in _site_packages(env_dir):
        for folder, entries in _folders(top):
            for entry in entries:
                if not entry.name.endswith(".py"):
                    continue
                source = _shared_source(entry.path)
                if source is None:
                    continue
                ident = _identity(source)
                for opt in _OPT_SUFFIXES:
                    name = f"{ident}{opt}.pyc"
                    if name not in known:
                        continue
                    pycache = os.path.join(folder, "__pycache__")
                    try:
                        os.makedirs(pycache, exist_ok=True)
                        os.link(
                            os.path.join(store, name),
                            os.path.join(pycache, f"{entry.name[:-3]}.{tag}{opt}.pyc"),
                        )
                    except OSError:
                        continue
                    linked += 1
    return linked


def _where(interpreter: InterpreterFacts, environ: Mapping[str, str]) -> tuple[str | None, str] | None:
    """The cache tag of ``interpreter`` and vrun's cache dir; None when the memo is turned off."""
    if not enabled(environ):
        return None
    from vrun.inputs import cache_dir

    return cache_tag(interpreter["implementation"], interpreter["version_info"]), cache_dir(environ)


def prime(env_dir: str, interpreter: InterpreterFacts, environ: Mapping[str, str]) -> int:
    """:func:`seed` the env at ``env_dir`` that vrun just built with ``interpreter`` (a session
    plan's ``env_dir`` and ``interpreter``); return how many ``.pyc`` files were linked."""
    where = _where(interpreter, environ)
    return 0 if where is None else seed(env_dir, *where)


def remember(env_dir: str, interpreter: InterpreterFacts, environ: Mapping[str, str]) -> int:
    """:func:`harvest` the env at ``env_dir`` (built with ``interpreter``) after the first run in
    it; return how many ``.pyc`` files were remembered."""
    where = _where(interpreter, environ)
    return 0 if where is None else harvest(env_dir, *where)
