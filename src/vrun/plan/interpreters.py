"""Find a Python interpreter for a spec; cache what is learnt about it.

Discovery is python-discovery's (``get_interpreter``/``iter_interpreters``): the running
interpreter first, then ``PATH`` left to right, then uv-managed Pythons. vrun changes only the
``PATH`` it hands over (:func:`_search_path`): pyenv's shim directories are replaced by the
``bin/`` directories of the versions the shims would run, and every installed pyenv version is
appended after ``PATH``, newest first. A pyenv shim for a version that is not selected fails
("pyenv: python3.12: command not found") after ~200 ms, and python-discovery retries a failed
probe and never caches the failure, so probing shims would make every cold lookup slow.

Two caches keep planning to a JSON read and a few ``stat`` calls, without importing
python-discovery (planning's costliest import: benchmarks/README.md, "Import costs") or running
any interpreter. Both live in ``<cache_dir>/interpreters.json``:

* ``facts``: executable path -> its :class:`Interpreter`, valid while the file's ``st_mtime_ns``,
  ``st_size`` and real path are unchanged (an upgrade in place changes them);
* ``specs``: a digest of (spec, the inputs that steer discovery) -> executable path.

python-discovery keeps its own per-interpreter cache in ``<cache_dir>/py_info/``, which makes
cold lookups after the first one cheap too. A corrupt or unreadable cache is an empty one; the
file is written atomically (temporary file and ``os.replace``), last writer wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vrun import inputs, output
from vrun.errors import InterpreterNotFoundError, UsageError
from vrun.inputs import cache_dir
from vrun.plan.discovery import material, pyenv_root, pyenv_selected

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    from python_discovery import PythonInfo

    from vrun._types import CachedInterpreter, FileIdentity, InterpreterCache, InterpreterFacts, JsonValue

    _T = TypeVar("_T")

#: The cache file's name inside the cache directory, and its schema; another schema is ignored.
CACHE_FILE = "interpreters.json"
_SCHEMA = 1
#: At most this many spec resolutions are kept (the oldest are dropped first).
_MAX_SPECS = 256
#: A pyenv version name: an optional name (``pypy``, ``miniconda``), then a release (``3.10``).
_VERSION_NAME = re.compile(r"([A-Za-z-]*)(\d+(?:\.\d+)*)?")
_SPEC_HINT = (
    "use a version (3.12, 3.12.1), a name (python3.12, cpython3.11, pypy3.10), "
    "a version specifier (>=3.10,<3.13) or an absolute path"
)


@dataclass(frozen=True)
class Interpreter:
    """Facts about one interpreter, as cached.

    :param executable: absolute path of the executable to build envs with (never a shim).
    :param base_executable: real path (symlinks resolved) of the base, system executable.
    :param implementation: ``"CPython"``, ``"PyPy"``, ...
    :param version: the full version, e.g. ``"3.12.1"``.
    :param version_info: e.g. ``(3, 12, 1)``.
    :param architecture: pointer size in bits, 64 or 32.
    :param machine: the ISA, e.g. ``"x86_64"``.
    """

    executable: str
    base_executable: str
    implementation: str
    version: str
    version_info: tuple[int, ...]
    architecture: int
    machine: str

    @classmethod
    def from_facts(cls, facts: InterpreterFacts) -> Interpreter:
        """The interpreter that :meth:`facts` describes."""
        return cls(
            executable=facts["executable"],
            base_executable=facts["base_executable"],
            implementation=facts["implementation"],
            version=facts["version"],
            version_info=tuple(facts["version_info"]),
            architecture=facts["architecture"],
            machine=facts["machine"],
        )

    def facts(self) -> InterpreterFacts:
        """The interpreter as plain values (``version_info`` a list), as a plan or the cache holds it."""
        return {
            "executable": self.executable,
            "base_executable": self.base_executable,
            "implementation": self.implementation,
            "version": self.version,
            "version_info": list(self.version_info),
            "architecture": self.architecture,
            "machine": self.machine,
        }

    @property
    def short(self) -> str:
        """``"3.12"`` (``"pypy3.10"`` for non-CPython)."""
        mm = f"{self.version_info[0]}.{self.version_info[1]}"
        return mm if self.implementation == "CPython" else f"{self.implementation.lower()}{mm}"

    @property
    def description(self) -> str:
        """``"3.12.1 (/usr/bin/python3.12)"``; non-CPython names the implementation first."""
        name = self.version if self.implementation == "CPython" else f"{self.implementation} {self.version}"
        return f"{name} ({self.executable})"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """vrun's cache directory as a path; see :func:`vrun.plan.discovery.cache_dir`."""
    return Path(cache_dir(environ))


def _resolution_key(spec: str | None, env: Mapping[str, str]) -> str:
    """Digest of :func:`vrun.plan.discovery.material`: the spec and what can change what it resolves to."""
    return hashlib.sha256(json.dumps(material(spec, env)).encode()).hexdigest()


def find_interpreter(
    spec: str | None,
    *,
    session: str | None = None,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    probe: bool = True,
) -> Interpreter:
    """Return the interpreter a session's ``python`` spec names.

    A spec is ``None`` (the interpreter running vrun, as its base interpreter, never a venv's
    python), a version (``"3.12"``, ``"3.12.1"``), a name (``"python3.12"``, ``"cpython3.11"``,
    ``"pypy3.10"``), a PEP 440 specifier set (``">=3.10,<3.13"``) or an absolute path. Discovery
    order and caching are described in this module's docstring. A warm call does not import
    python-discovery and runs no interpreter.

    :param spec: the spec as written.
    :param session: the session asking, named in errors.
    :param cache_dir: where to cache; :func:`default_cache_dir` when ``None``.
    :param environ: the environment whose ``PATH``, ``PYENV_ROOT``, ``PYENV_VERSION``, ``HOME``,
        ``XDG_DATA_HOME`` and ``UV_PYTHON_INSTALL_DIR`` steer discovery; ``os.environ`` when ``None``.
    :param probe: run interpreters to learn about them. ``False`` for read-only commands
        (``vrun list``, ``vrun path``): a path the config names is then never executed, only its
        cached facts are used.
    :raises NotProbedError: with ``probe=False``, for a path spec whose facts are not cached.
    :raises UsageError: the spec is not one of the forms above.
    :raises InterpreterNotFoundError: nothing matches; names what was searched and what was found.
    """
    env = os.environ if environ is None else environ
    cache_root = default_cache_dir(env) if cache_dir is None else cache_dir
    text = None if spec is None else spec.strip()
    cache_file = cache_root / CACHE_FILE
    key = _resolution_key(text, env)
    data = _load(cache_file)
    exe = data["specs"].get(key)
    if exe is not None:
        cached = _cached_facts(data, exe)
        if cached is not None:
            return cached
    if not probe and text is not None and os.path.isabs(text):
        raise NotProbedError(
            f"python {text!r} of session {session} is not probed: vrun does not run a program the "
            "config names for a read-only command",
            f"`vrun {session}` (or `vrun path --build {session}`) runs it",
        )
    interp = _discover(text, session, env, cache_root)
    _store(cache_file, key, interp)
    return interp


class NotProbedError(UsageError):
    """A read-only command would have had to run an interpreter the config names (exit 2)."""


def list_interpreters(
    *, cache_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[Interpreter]:
    """Return every interpreter discovery can see, in discovery order, one per base executable.

    Slow on a cold cache (each candidate is run once); for error messages and ``vrun list``.
    Interpreters python-discovery cannot query (older than 3.6) are left out.

    :param cache_dir: where to cache; :func:`default_cache_dir` when ``None``.
    :param environ: the environment; ``os.environ`` when ``None``.
    """
    from python_discovery import DiskCache, iter_interpreters

    output.quiet_library_logs()
    env = os.environ if environ is None else environ
    cache_root = default_cache_dir(env) if cache_dir is None else cache_dir
    infos = iter_interpreters(None, cache=DiskCache(cache_root), env=_discovery_env(env))
    return [_to_interpreter(info, _choose_executable(info, explicit=False)) for info in infos]


# --- the slow path ------------------------------------------------------------------------------


def _discover(spec: str | None, session: str | None, env: Mapping[str, str], cache_root: Path) -> Interpreter:
    """Run python-discovery for *spec* (imported here: it is the slow path)."""
    from python_discovery import DiskCache, PythonInfo, get_interpreter

    output.quiet_library_logs()
    disk = DiskCache(cache_root)
    search_env = _discovery_env(env)
    info: PythonInfo | None
    if spec is None:
        info = PythonInfo.from_exe(_running_executable(), disk, raise_on_error=False, env=search_env)
        if info is not None:
            return _to_interpreter(info, info.system_executable or info.executable)
        searched = [_running_executable()]
    elif _parse_spec(spec, session):
        info = None
        if os.path.isfile(spec) and os.access(spec, os.X_OK):
            info = PythonInfo.from_exe(spec, disk, raise_on_error=False, env=search_env)
        if info is not None:
            return _to_interpreter(info, _choose_executable(info, explicit=True))
        searched = [spec]
    else:
        info = get_interpreter(spec, cache=disk, env=search_env)
        if info is not None:
            return _to_interpreter(info, _choose_executable(info, explicit=False))
        searched = ["PATH", f"pyenv ({os.path.join(pyenv_root(env), 'versions')})", "uv"]
    found = list_interpreters(cache_dir=cache_root, environ=env)
    order = {i.description: (i.implementation != "CPython", i.implementation, i.version_info) for i in found}
    raise InterpreterNotFoundError(
        spec or _running_executable(), session, searched, sorted(order, key=lambda d: (order[d], d))
    )


def _parse_spec(spec: str, session: str | None) -> bool:
    """Check *spec* the way python-discovery will read it; return whether it is an absolute path.

    :raises UsageError: the spec is empty, an unparsable specifier, a relative path or an unknown
        implementation name.
    """
    from python_discovery import KNOWN_IMPLEMENTATIONS, PythonSpec

    who = f" for session {session}" if session else ""
    problem = "it is empty" if not spec else ""
    if not problem:
        try:
            parsed = PythonSpec.from_string_spec(spec)
        except ValueError as exc:
            problem = str(exc)
        else:
            if parsed.is_abs:
                return True
            if parsed.path is not None:
                problem = "it is neither a version, a name, a specifier nor an absolute path"
            elif parsed.implementation and parsed.implementation.lower() not in KNOWN_IMPLEMENTATIONS:
                problem = f"unknown implementation {parsed.implementation!r}"
    if problem:
        raise UsageError(f"invalid Python spec {spec!r}{who}: {problem}", _SPEC_HINT)
    return False


def _choose_executable(info: PythonInfo, *, explicit: bool) -> str:
    """Pick the path to build envs with from what discovery found.

    The base (system) executable replaces a shim script (pyenv, asdf and mise shims are shell
    scripts that ``exec`` the real binary) and, unless the user named the path, an executable
    inside a virtual environment (PEP 405: a ``pyvenv.cfg`` beside the executable or one directory
    up), which python-discovery proposes for the running interpreter.
    """
    found = info.executable
    system = info.system_executable or found
    folder = os.path.dirname(found)
    in_venv = any(os.path.isfile(os.path.join(d, "pyvenv.cfg")) for d in (folder, os.path.dirname(folder)))
    return system if _is_script(found) or (in_venv and not explicit) else found


def _is_script(path: str) -> bool:
    """Return whether *path* is a ``#!`` script rather than a binary."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def _to_interpreter(info: PythonInfo, executable: str) -> Interpreter:
    """Build the :class:`Interpreter` for *executable* from python-discovery's facts."""
    vi = info.version_info
    version = f"{vi.major}.{vi.minor}.{vi.micro}"
    pre = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(vi.releaselevel)
    if pre:  # PEP 440 spelling, as sys.version prints it: 3.13.0rc1
        version += f"{pre}{vi.serial}"
    return Interpreter(
        executable=os.path.abspath(executable),
        base_executable=os.path.realpath(info.system_executable or info.executable),
        implementation=info.implementation,
        version=version,
        version_info=(vi.major, vi.minor, vi.micro),
        architecture=info.architecture,
        machine=info.machine,
    )


def _running_executable() -> str:
    """The interpreter running vrun; its base interpreter where Python already knows it (3.11+)."""
    return getattr(sys, "_base_executable", "") or sys.executable


# --- the search path: PATH, then pyenv, then uv ---------------------------------------------------


def _discovery_env(env: Mapping[str, str]) -> dict[str, str]:
    """*env* with ``PATH`` replaced by :func:`_search_path`, for python-discovery (a plain copy:
    what discovery reads is already part of :func:`vrun.plan.discovery.material`)."""
    plain = getattr(env, "plain", None)
    copy = plain() if callable(plain) else dict(env)
    return {**copy, "PATH": os.pathsep.join(_search_path(env))}


def _search_path(env: Mapping[str, str]) -> list[str]:
    """Return the directories python-discovery should search, in order.

    ``PATH`` as given, except that pyenv's ``shims`` directory is replaced by the ``bin/`` of each
    selected pyenv version (what a shim would run) and a plugin's shim directory under
    ``$PYENV_ROOT`` is dropped; then every installed pyenv version's ``bin/``, newest first.
    """
    root = pyenv_root(env)
    installed = _pyenv_installed(root)
    versions = os.path.join(root, "versions")
    shims = os.path.join(root, "shims")
    dirs: list[str] = []
    for raw in env.get("PATH", os.defpath).split(os.pathsep):
        entry = os.path.normpath(raw) if raw else ""
        if entry == shims:
            names = (_pyenv_pick(name, installed) for name in pyenv_selected(env, root))
            dirs.extend(os.path.join(versions, name, "bin") for name in names if name)
        elif entry and not (os.path.basename(entry) == "shims" and entry.startswith(root + os.sep)):
            dirs.append(entry)
    dirs.extend(os.path.join(versions, name, "bin") for name in installed)
    return list(dict.fromkeys(dirs))


def _pyenv_installed(root: str) -> list[str]:
    """Names of the installed pyenv versions that have a ``bin/``, newest first.

    Symbolic links are skipped: pyenv-virtualenv's envs and version aliases are links to an
    installed version, which is listed itself.
    """
    versions = os.path.join(root, "versions")
    try:
        names = os.listdir(versions)
    except OSError:
        return []
    names = [
        n
        for n in names
        if not os.path.islink(os.path.join(versions, n)) and os.path.isdir(os.path.join(versions, n, "bin"))
    ]
    return sorted(names, key=_version_sort_key)


def _version_sort_key(name: str) -> tuple[bool, str, list[int], str]:
    """Sort CPython's ``3.13.0`` before ``3.9.18`` (newest first), then named ones (``pypy3.10-7.3.12``)."""
    match = _VERSION_NAME.match(name)
    head, release = (match[1], match[2] or "") if match else ("", "")
    return (bool(head), head, [-int(part) for part in release.split(".") if part], name)


def _pyenv_pick(name: str, installed: list[str]) -> str:
    """*name* if installed, else the newest installed ``name.*`` (pyenv resolves ``3.12`` so), else ``""``."""
    if name in installed:
        return name
    return next((n for n in installed if n.startswith(name + ".")), "")


# --- the cache -------------------------------------------------------------------------------------


def _empty() -> InterpreterCache:
    return {"schema": _SCHEMA, "facts": {}, "specs": {}}


def _load(path: Path) -> InterpreterCache:
    """Read the cache; anything unreadable or malformed reads as an empty cache, and an entry of
    the wrong shape as no entry."""
    try:
        with open(path, encoding="utf-8") as f:
            data: JsonValue = json.load(f)
    except (OSError, ValueError):
        return _empty()
    if not isinstance(data, dict) or data.get("schema") != _SCHEMA:
        return _empty()
    facts, specs = data.get("facts"), data.get("specs")
    if not isinstance(facts, dict) or not isinstance(specs, dict):
        return _empty()
    return {
        "schema": _SCHEMA,
        "facts": {exe: entry for exe, value in facts.items() if (entry := _entry(value)) is not None},
        "specs": {key: exe for key, exe in specs.items() if isinstance(exe, str)},
    }


def _entry(value: JsonValue) -> CachedInterpreter | None:
    """A ``facts`` entry read from the cache file, or ``None`` when it is not what :func:`_store`
    writes (an integer is never a boolean here)."""
    if not isinstance(value, dict):
        return None
    facts = value.get("interpreter")
    if not isinstance(facts, dict):
        return None
    try:
        return {
            "mtime_ns": _typed(value["mtime_ns"], int),
            "size": _typed(value["size"], int),
            "realpath": _typed(value["realpath"], str),
            "interpreter": {
                "executable": _typed(facts["executable"], str),
                "base_executable": _typed(facts["base_executable"], str),
                "implementation": _typed(facts["implementation"], str),
                "version": _typed(facts["version"], str),
                "version_info": [_typed(n, int) for n in _typed(facts["version_info"], list)],
                "architecture": _typed(facts["architecture"], int),
                "machine": _typed(facts["machine"], str),
            },
        }
    except (KeyError, TypeError):
        return None


def _typed(value: JsonValue, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(value)
    return value


def _stat_id(exe: str) -> FileIdentity | None:
    """What identifies the file *exe* now: mtime, size (following links) and real path (recorded)."""
    sig = inputs.stat_file(exe)
    if sig is None:
        return None
    return {"mtime_ns": sig[0], "size": sig[1], "realpath": os.path.realpath(exe)}


def _cached_facts(data: InterpreterCache, exe: str) -> Interpreter | None:
    """The cached :class:`Interpreter` for *exe*, if the file is unchanged and its base still exists."""
    entry = data["facts"].get(exe)
    if entry is None:
        return None
    ident = _stat_id(exe)
    if ident is None or any(entry.get(k) != v for k, v in ident.items()):
        return None
    interp = Interpreter.from_facts(entry["interpreter"])
    base_gone = inputs.stat_file(interp.base_executable) is None
    if interp.executable != exe or len(interp.version_info) < 2 or base_gone:
        return None
    return interp


def _store(path: Path, key: str, interp: Interpreter) -> None:
    """Record *interp* and the resolution *key* -> it; failing to write is not an error.

    The file is re-read first so that entries written meanwhile by another vrun survive; entries
    whose executable is gone are dropped.
    """
    ident = _stat_id(interp.executable)
    if ident is None:
        return
    data = _load(path)
    facts = {exe: entry for exe, entry in data["facts"].items() if os.path.exists(exe)}
    facts[interp.executable] = {**ident, "interpreter": interp.facts()}
    specs = {k: exe for k, exe in data["specs"].items() if exe in facts and k != key}
    specs[key] = interp.executable
    data = {"schema": _SCHEMA, "facts": facts, "specs": dict(list(specs.items())[-_MAX_SPECS:])}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        inputs.write_atomic(str(path), json.dumps(data, separators=(",", ":")))
    except OSError:
        pass  # a cache: failing to write it is not an error
