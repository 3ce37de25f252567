"""The project's source: the files a wheel or sdist of it is built from, and one digest of them.

``install_project = "wheel"`` and ``"sdist"`` install a built copy of the project, so the env holds
the source as it was when that copy was built. vrun builds it again only when the source changed:
the build is cached by :func:`source_digest` (:mod:`vrun.env.wheel`) and the env remembers the digest
it was installed from (:func:`vrun.env.layout.project_stamp`), so a run whose source is unchanged
reinstalls nothing, and the run after an edit rebuilds and reinstalls the project.

What counts as the source (:func:`source_files`):

- in a git checkout, the files git tracks and the untracked files it does not ignore
  (``git ls-files --cached --others --exclude-standard``): what hatchling, flit and setuptools-scm
  take for the project, and what a new module holds before its first ``git add``;
- elsewhere (an unpacked sdist, a copy), every file under the project root.

Untracked files and the files found by walking leave out what builds and tools write into a
project (:func:`generated`): hidden files and folders (``.venvs``, ``.git``, ``.tox``, caches),
``__pycache__`` and ``*.pyc``, ``*.egg-info``, and the top-level ``build/`` and ``dist/``.

Every file is recorded (:mod:`vrun.inputs`) with its signature, and so is every folder holding
one except the project root (a file added to a folder changes the folder's signature): the plan
cache then validates the source by ``stat`` alone, and a warm run with nothing changed never
lists or reads it. When a signature changed, planning hashes the contents again, so a file that
was only touched (``git checkout`` of the same content, an editor's save) changes no digest: a
file's hash is reused while its signature is the one it had when hashed (a memo in
``<cache dir>/sources/``, entries trusted only when the file was older than
:data:`vrun.inputs.RACY_WINDOW_NS` then, git's racy-clean rule). The root's own listing is not
recorded: tools write there all the time (``.coverage``, reports, ``build/``), and a file new
there is found by the next planning.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time

from vrun import inputs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from vrun.inputs import Signature

#: The name of a top-level folder that build backends write into (setuptools' ``build/``, the
#: ``dist/`` of ``python -m build``): not the source, outside git's list of tracked files.
_BUILD_OUTPUT = ("build", "dist")
#: Seconds ``git ls-files`` may take before the project is walked instead.
_GIT_TIMEOUT = 30.0


def generated(relpath: str) -> bool:
    """Whether ``relpath`` (``/``-separated, relative to the project root) is something a build or
    a tool writes into a project rather than its source: a hidden file or folder anywhere, a
    ``__pycache__``, a ``*.pyc``/``*.pyo``, a ``*.egg-info`` folder, a top-level ``build/`` or
    ``dist/`` folder."""
    parts = relpath.split("/")
    if len(parts) > 1 and parts[0] in _BUILD_OUTPUT:
        return True
    if parts[-1].endswith((".pyc", ".pyo")):
        return True
    return any(p.startswith(".") or p == "__pycache__" or p.endswith(".egg-info") for p in parts)


def _git_files(root: str) -> list[str] | None:
    """The files of ``root`` that git tracks, and the untracked ones it does not ignore and
    :func:`generated` does not exclude, or ``None`` when ``root`` is not in a git work tree (or git
    is missing or fails)."""
    argv = ["git", "ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard"]
    environ = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # list, never refresh the index
    try:
        done = subprocess.run(
            argv, cwd=root, env=environ, capture_output=True, timeout=_GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    found: list[str] = []
    for entry in done.stdout.split(b"\0"):
        if len(entry) < 3:
            continue
        tag, path = entry[:1], os.fsdecode(entry[2:])
        if tag == b"?" and generated(path):  # untracked: what a build or a tool wrote
            continue
        found.append(path)
    return found


def _walked_files(root: str) -> list[str]:
    """Every file under ``root`` that :func:`generated` does not exclude (symlinked folders not
    followed)."""
    found: list[str] = []
    for here, dirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        dirs[:] = sorted(d for d in dirs if not generated(prefix + d + "/x"))
        found += [prefix + name for name in sorted(files) if not generated(prefix + name)]
    return found


def source_files(root: str) -> list[str]:
    """The project's source files, ``/``-separated paths relative to ``root``, sorted and unique
    (see the module docstring for what counts; a project inside a git work tree that lists none of
    its files, one the repository ignores, is walked)."""
    found = _git_files(root)
    return sorted(set(found or _walked_files(root)))  # none listed: a project git ignores


def _memo_path(root: str, environ: Mapping[str, str]) -> str:
    name = hashlib.sha256(os.fsencode(root)).hexdigest()[:16]
    return os.path.join(inputs.cache_dir(environ), "sources", f"{name}.json")


def _read_memo(path: str) -> dict[str, list[object]]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _file_hash(path: str, memo: dict[str, list[object]], fresh: dict[str, list[object]]) -> str | None:
    """The SHA-256 (16 hex characters) of the file at ``path``, recorded; ``None`` for anything but a
    regular file (a deleted tracked file, a submodule's folder). The memo's hash is used while the
    file's signature is the one it was hashed with; new hashes go into ``fresh``."""
    sig: Signature = inputs.signature(path)
    if sig is None:
        inputs.active().note(path, None)
        return None
    entry = memo.get(path)
    if isinstance(entry, list) and len(entry) == 5 and tuple(entry[:4]) == sig and isinstance(entry[4], str):
        inputs.active().note(path, sig)
        fresh[path] = entry
        return entry[4]
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            inputs.active().note(path, sig)
            return None
        digest = hashlib.sha256(inputs.read_bytes(path)).hexdigest()[:16]
    except OSError:
        inputs.active().note(path, sig)
        return "unreadable"
    now = inputs.signature(path)
    if now == sig and sig[0] < time.time_ns() - inputs.RACY_WINDOW_NS:  # git's racy-clean rule
        fresh[path] = [*sig, digest]
    return digest


#: The digest of each root, for the recorder that recorded it: planning several sessions of one
#: project lists and hashes its source once.
_DIGESTS: dict[str, tuple[object, tuple[str, list[str]]]] = {}


def source_digest(root: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """One digest of the project's source (16 hex characters of a SHA-256 over each file's path and
    contents), and the paths it recorded (its files and the folders holding them, absolute).

    Reads the files through :mod:`vrun.inputs` (recorded); see the module docstring for the rules.

    :param environ: the planning environment (where vrun's cache is).
    """
    done = _DIGESTS.get(root)
    if done is not None and done[0] is inputs.active():
        return done[1]
    memo_path = _memo_path(root, environ)
    memo = _read_memo(memo_path)
    fresh: dict[str, list[object]] = {}
    total = hashlib.sha256()
    folders: set[str] = set()
    paths: list[str] = []
    for rel in source_files(root):
        path = os.path.join(root, *rel.split("/"))
        paths.append(path)
        found = _file_hash(path, memo, fresh)
        if found is not None:
            total.update(f"{rel}\0{found}\n".encode("utf-8", "surrogateescape"))
        parent = os.path.dirname(rel)
        while parent and parent not in folders:
            folders.add(parent)
            parent = os.path.dirname(parent)
    for rel in sorted(folders):
        path = os.path.join(root, *rel.split("/"))
        inputs.stat_file(path)
        paths.append(path)
    if fresh != memo:
        try:
            os.makedirs(os.path.dirname(memo_path), exist_ok=True)
            inputs.write_atomic(memo_path, json.dumps(fresh, separators=(",", ":")))
        except OSError:
            pass  # a memo: hashing again next time is correct, only slower
    result = total.hexdigest()[:16], paths
    _DIGESTS[root] = (inputs.active(), result)
    return result
