"""The env key: what decides an env's contents, and nothing else.

An env lives in ``.venvs/<session>-<digest>/``. The digest hashes, in a stable order, every input
that decides what is installed (docs/architecture.md, "The env key"; docs/envs.md, "What goes into
the hash", lists them for users). Each input is a named *component*, so that a rebuild can say
which one changed:

- ``python``: the interpreter's implementation, full version, ISA, pointer size and the real path
  of its base executable;
- ``requirements``: the session's PEP 508 strings and local paths, whitespace-normalized, sorted;
- ``requirement_files`` / ``constraint_files``: the *contents* of every ``-r`` / ``-c`` file,
  followed recursively (pip's requirements-file format, :mod:`vrun.config.reqfiles`);
- ``groups``: the PEP 735 dependency groups with their resolved requirements;
- ``extras`` and ``project``: the install mode and what decides the project's metadata
  (:func:`project_inputs`);
- ``local``: the same for every local project the session installs (``./lib``, ``-e ../core``,
  ``name @ file:///...``), followed through their own local dependencies;
- ``installer``: the installer settings that change what gets installed (index and constraint
  variables, the installer's config files, :func:`installer_settings`);
- ``build_env``: the variables the session sets for the builds of its install, when it sets any;
- ``script``: a script session's PEP 723 block, besides its dependencies (which are in
  ``requirements``): its ``requires-python`` and a digest of its ``[tool]`` table; the rest of the
  script is not an input, so an edit below the block reuses the env;
- ``system_site_packages``, ``backend`` and :data:`vrun.env.layout.SCHEMA_VERSION`;
- ``lock``: the contents of the session's lock file, only when it installs from one
  (:func:`with_lock`; a session without a current lock keeps the key it always had).

Every file is read through :mod:`vrun.inputs` and every variable through the planning
environment, so the plan cache is invalidated by the same changes that change a key.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vrun import inputs
from vrun.config import reqfiles, tomlfile
from vrun.config.load import Config, Session
from vrun.env.layout import DIGEST_LENGTH, SCHEMA_VERSION
from vrun.env.pipsettings import pip_config_files, uv_config_files
from vrun.plan.interpreters import Interpreter

if TYPE_CHECKING:
    from vrun._types import InstallerSettings, InstallerTables, KeyComponents, TomlTable

#: ``[tool.*]`` tables of pyproject.toml that never decide what a build installs: editing them
#: rebuilds nothing. Every other ``[tool.*]`` table (setuptools, poetry, pdm, hatch, flit, uv, ...)
#: is part of the project's metadata.
UNRELATED_TOOLS = frozenset(
    {
        "vrun", "ruff", "black", "isort", "mypy", "pyright", "pylint", "pytest", "coverage", "codespell",
        "tox", "nox", "cibuildwheel", "towncrier", "bumpversion", "commitizen", "pydocstyle", "docformatter",
        "interrogate", "check-manifest", "pyrefly", "ty", "typos", "deptry", "repo-review",
    }
)  # fmt: skip
#: Environment variables that change what pip (the virtualenv backend) or uv installs. Others
#: (``PIP_CACHE_DIR``, ``PIP_TIMEOUT``, ``PIP_PROGRESS_BAR``, ``UV_CACHE_DIR``, ...) do not.
INSTALLER_VARIABLES = {
    "virtualenv": (
        "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT",
        "PIP_BUILD_CONSTRAINT", "PIP_REQUIREMENT", "PIP_EDITABLE", "PIP_NO_DEPS", "PIP_PRE",
        "PIP_ONLY_BINARY", "PIP_NO_BINARY", "PIP_PREFER_BINARY", "PIP_UPGRADE_STRATEGY",
        "PIP_IGNORE_REQUIRES_PYTHON", "PIP_NO_BUILD_ISOLATION", "PIP_CONFIG_SETTINGS",
        "PIP_USE_DEPRECATED", "PIP_USE_FEATURE", "PIP_CONFIG_FILE",
    ),
    "uv": (
        "UV_INDEX", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS",
        "UV_OFFLINE", "UV_CONSTRAINT", "UV_OVERRIDE", "UV_BUILD_CONSTRAINT", "UV_PRERELEASE",
        "UV_RESOLUTION", "UV_EXCLUDE_NEWER", "UV_INDEX_STRATEGY", "UV_NO_BINARY", "UV_NO_BUILD",
        "UV_NO_BUILD_ISOLATION", "UV_NO_SOURCES", "UV_TORCH_BACKEND", "UV_CONFIG_FILE", "UV_NO_CONFIG",
    ),
}  # fmt: skip
#: Variables whose value names files whose *contents* decide the install (split on whitespace).
_FILE_VARIABLES = (
    "PIP_CONSTRAINT", "PIP_BUILD_CONSTRAINT", "PIP_REQUIREMENT", "UV_CONSTRAINT", "UV_OVERRIDE",
    "UV_BUILD_CONSTRAINT",
)  # fmt: skip


@dataclass(frozen=True)
class EnvKey:
    """The key of one session's env.

    :param digest: :data:`~vrun.env.layout.DIGEST_LENGTH` hex characters of SHA-256 over :attr:`components`.
    :param components: the named inputs, JSON-serializable, as stored in the env's marker.
    """

    digest: str
    components: KeyComponents


def file_digest(path: str) -> str:
    """16 hex characters of the SHA-256 of a file's contents (recorded), ``"missing"`` when absent."""
    try:
        return hashlib.sha256(inputs.read_bytes(path)).hexdigest()[:16]
    except OSError:
        return "missing"


def _normalize(req: str) -> str:
    return " ".join(req.split())


def _table_digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def project_inputs(root: str, extra: Iterable[str] = ()) -> dict[str, str]:
    """Digest what decides how a project is built and what it depends on, as its build backend sees it.

    - ``pyproject.toml``: ``[project]``, ``[build-system]`` and every ``[tool.*]`` table except
      :data:`UNRELATED_TOOLS` (Poetry, PDM, Flit and Hatch keep metadata there);
    - files those name: setuptools' ``[tool.setuptools.dynamic]`` ``file`` directives, Hatch's
      metadata hooks (``hatch_build.py`` or their ``path``, and ``files`` lists such as
      hatch-requirements-txt's);
    - ``setup.cfg`` and every ``file:`` it names (setuptools' declarative config);
    - ``setup.py`` and every existing project file it names in a string literal (what a
      ``setup.py`` that reads ``requirements.txt`` depends on);
    - ``extra``: further glob patterns relative to ``root`` (the ``project_inputs`` key).

    :returns: display name -> digest; what is absent is left out (its absence is still recorded).
    """
    out: dict[str, str] = {}
    named: list[str] = []
    data = tomlfile.pyproject(root)
    if data is not None:
        found = data.get("tool")
        tools: TomlTable = found if isinstance(found, dict) else {}
        relevant: dict[str, object] = {k: data.get(k) for k in ("project", "build-system")}
        relevant["tool"] = {k: v for k, v in tools.items() if k not in UNRELATED_TOOLS}
        out["pyproject.toml"] = _table_digest(relevant)
        named += _setuptools_dynamic_files(tools.get("setuptools"))
        named += _hatch_hook_files(tools.get("hatch"))
    elif inputs.stat_file(os.path.join(root, "pyproject.toml")) is not None:
        out["pyproject.toml"] = file_digest(os.path.join(root, "pyproject.toml"))  # invalid TOML: its bytes
    setup_cfg = os.path.join(root, "setup.cfg")
    if inputs.is_file(setup_cfg):
        out["setup.cfg"] = file_digest(setup_cfg)
        named += _setup_cfg_files(inputs.read_text(setup_cfg))
    setup_py = os.path.join(root, "setup.py")
    if inputs.is_file(setup_py):
        out["setup.py"] = file_digest(setup_py)
        named += [n for n in _string_literals(inputs.read_text(setup_py)) if _is_project_file(root, n)]
    for pattern in extra:
        named += _glob(root, pattern)
    for name in dict.fromkeys(named):
        path = os.path.normpath(os.path.join(root, name))
        out[reqfiles.display(path, root)] = file_digest(path)
    return out


def _setuptools_dynamic_files(setuptools: object) -> list[str]:
    dynamic = setuptools.get("dynamic") if isinstance(setuptools, dict) else None
    files: list[str] = []
    for value in (dynamic or {}).values() if isinstance(dynamic, dict) else ():
        entries = value.values() if isinstance(value, dict) and "file" not in value else [value]
        for entry in entries:
            if isinstance(entry, dict) and "file" in entry:
                found = entry["file"]
                files += [found] if isinstance(found, str) else [f for f in found if isinstance(f, str)]
    return files


def _hatch_hook_files(hatch: object) -> list[str]:
    metadata = hatch.get("metadata") if isinstance(hatch, dict) else None
    hooks = metadata.get("hooks") if isinstance(metadata, dict) else None
    files: list[str] = []
    for hook in (hooks or {}).values() if isinstance(hooks, dict) else ():
        if not isinstance(hook, dict):
            continue
        files.append(hook["path"] if isinstance(hook.get("path"), str) else "hatch_build.py")
        listed = hook.get("files")
        if isinstance(listed, list):
            files += [f for f in listed if isinstance(f, str)]
    return files


def _setup_cfg_files(text: str) -> list[str]:
    """Files named by ``file:`` directives in setup.cfg (setuptools' declarative config)."""
    files: list[str] = []
    for line in text.splitlines():
        if "file:" in line:
            files += [f.strip() for f in line.split("file:", 1)[1].split(",") if f.strip()]
    return files


def _string_literals(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_project_file(root: str, name: str) -> bool:
    """Whether a string literal of ``setup.py`` names a file of the project (not a ``.py`` module:
    editing the package must not rebuild an editable env). Looks like a file name (an extension or
    a directory), recorded even when absent: a ``requirements.txt`` that appears changes the key."""
    if not name or len(name) > 200 or name.startswith("/") or name.endswith(".py") or name != name.strip():
        return False
    if any(c.isspace() for c in name) or ("." not in os.path.basename(name) and "/" not in name):
        return False
    path = os.path.normpath(os.path.join(root, name))
    return path.startswith(os.path.join(root, "")) and inputs.is_file(path)


def _glob(root: str, pattern: str) -> list[str]:
    """The files matching ``pattern`` under ``root``, every directory the match looked into
    recorded (an entry appearing in one changes its signature), or the file itself when the
    pattern has no wildcard."""
    import glob

    if not glob.has_magic(pattern):
        return [pattern] if inputs.is_file(os.path.join(root, pattern)) else []
    parts = pattern.replace(os.sep, "/").split("/")
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    base = os.path.join(root, *parts[:fixed])
    depth = None if "**" in parts else len(parts) - fixed - 1  # directory levels below base
    for here, dirs, _files in os.walk(base):
        inputs.stat_file(here)
        level = os.path.relpath(here, base).count(os.sep) + (here != base)
        dirs[:] = [] if depth is not None and level >= depth else [d for d in dirs if not d.startswith(".")]
    inputs.stat_file(base)  # recorded even when absent
    found = glob.glob(os.path.join(root, pattern), recursive=True)
    return sorted(os.path.relpath(p, root) for p in found if os.path.isfile(p))


def local_projects(
    session: Session, root: str, project: Mapping[str, object] | None, walk: reqfiles.Walk
) -> list[str]:
    """Absolute paths of the local projects the session installs, besides the project itself."""
    lines = [*session.requirements, *session.group_requirements]
    if session.install_project and project:
        deps = project.get("dependencies")
        lines += [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []
        optional = project.get("optional-dependencies")
        for extra in session.extras:
            group = optional.get(extra) if isinstance(optional, dict) else None
            lines += [d for d in group if isinstance(d, str)] if isinstance(group, list) else []
    found = [p for p in (reqfiles.local_target(line, root) for line in lines) if p]
    return list(dict.fromkeys([*found, *walk.local]))


def local_inputs(paths: Iterable[str], root: str) -> dict[str, dict[str, str]]:
    """:func:`project_inputs` of each local project, and of the local projects *they* depend on."""
    out: dict[str, dict[str, str]] = {}
    todo = list(paths)
    while todo:
        path = todo.pop(0)
        name = reqfiles.display(path, root)
        if name in out or os.path.normpath(path) == os.path.normpath(root):
            continue
        if not inputs.is_dir(path):
            out[name] = {"file": file_digest(path)}  # a wheel or an sdist: its bytes
            continue
        out[name] = project_inputs(path)
        project = (tomlfile.pyproject(path) or {}).get("project")
        deps = project.get("dependencies") if isinstance(project, dict) else None
        for dep in deps if isinstance(deps, list) else ():
            target = reqfiles.local_target(dep, path) if isinstance(dep, str) else None
            if target:
                todo.append(target)
    return out


def installer_settings(backend: str, environ: Mapping[str, str], root: str) -> InstallerSettings:
    """The settings that change what ``backend``'s installer installs: variables and config files.

    ``virtualenv`` (pip): :data:`INSTALLER_VARIABLES` and pip's config files (``PIP_CONFIG_FILE``,
    the site-wide ``/etc/pip.conf`` and ``$XDG_CONFIG_DIRS/pip/pip.conf``, the user's
    ``~/.config/pip/pip.conf`` and ``~/.pip/pip.conf``, as pip's docs list them). ``uv``: its
    variables, ``uv.toml`` in the project root, the user's and system's ``uv.toml``, and the
    project's ``[tool.uv]`` table, and pip's too (they are carried into uv's:
    :mod:`vrun.env.pipsettings`). Files named by ``PIP_CONSTRAINT``/``UV_CONSTRAINT``-like
    variables count by content.
    """
    names = INSTALLER_VARIABLES.get(backend, ())
    if backend == "uv":  # pip's settings are carried into uv's (vrun.env.pipsettings)
        names = (*names, *INSTALLER_VARIABLES["virtualenv"])
    variables = {n: environ.get(n) for n in names}
    tables: InstallerTables = {}
    if backend == "uv":
        files = uv_config_files(environ, root)
        tools = (tomlfile.pyproject(root) or {}).get("tool")
        tool = tools.get("uv") if isinstance(tools, dict) else None
        if tool is not None:
            tables["tool.uv"] = _table_digest(tool)
        files += pip_config_files(environ)
    else:
        files = pip_config_files(environ)
    for name in _FILE_VARIABLES:
        files += (variables.get(name) or "").split()
    found = {f: file_digest(f) for f in dict.fromkeys(files)}
    return {
        "variables": {k: v for k, v in variables.items() if v is not None},
        **tables,
        "files": {f: d for f, d in found.items() if d != "missing"},
    }


def compute_key(
    session: Session, config: Config, interpreter: Interpreter, backend: str, environ: Mapping[str, str]
) -> EnvKey:
    """Compute the env key of ``session``; see the module's docstring for what goes in.

    :param environ: the planning environment (installer variables, ``HOME``).
    :returns: the key. Reads files; raises nothing for a missing ``-r`` or ``-c`` file (it counts
        as ``"missing"``, and pip reports it).
    """
    root = str(config.root)
    walk = reqfiles.Walk(session.requirement_files, session.constraint_files, root)
    project = (tomlfile.pyproject(root) or {}).get("project") if session.install_project else None
    local = local_projects(session, root, project if isinstance(project, dict) else None, walk)
    components: KeyComponents = {
        "schema": SCHEMA_VERSION,
        "python": (
            f"{interpreter.implementation} {interpreter.version} {interpreter.machine} "
            f"{interpreter.architecture}bit {interpreter.base_executable}"
        ),
        "requirements": sorted(_normalize(r) for r in session.requirements),
        "requirement_files": walk.requirement_files,
        "constraint_files": walk.constraint_files,
        "groups": {
            "names": list(session.groups),
            "requirements": sorted(_normalize(r) for r in session.group_requirements),
        },
        "extras": sorted(session.extras),
        "project": (
            {"mode": session.install_project, **project_inputs(root, config.project_inputs)}
            if session.install_project
            else {"mode": None}
        ),
        "local": local_inputs(local, root),
        "installer": installer_settings(backend, environ, root),
        "system_site_packages": session.system_site_packages,
        "backend": backend,
    }
    if session.build_env:  # only when set: the keys of envs without it stay as they were
        components["build_env"] = dict(session.build_env)
    if session.script is not None:  # its dependencies are in requirements
        components["script"] = session.script.component()
    return EnvKey(_digest(components), components)


def _digest(components: KeyComponents) -> str:
    blob = json.dumps(components, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:DIGEST_LENGTH]


def with_lock(key: EnvKey, lock: str, root: str) -> EnvKey:
    """``key`` with the component ``lock``: the lock file's name and a digest of its contents (read
    through :mod:`vrun.inputs`, recorded), for a session that installs from it (:mod:`vrun.plan.lockfile`).
    A re-lock that changes a pin makes a new env; one that changes nothing keeps it."""
    components: KeyComponents = {**key.components, "lock": {reqfiles.display(lock, root): file_digest(lock)}}
    return EnvKey(_digest(components), components)
