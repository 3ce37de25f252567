"""The resolver behind ``vrun lock``: ``uv pip compile --format pylock.toml``, run for one session.

vrun resolves nothing itself. For each session it gives uv a requirements file of the session's
requirements (:func:`vrun.plan.lockfile.resolver_input_lines`), the project's metadata file with ``--extra``
for its extras (so uv lists the project's dependencies, never the project), the session's Python
(``--universal --python-version X.Y``, see :mod:`vrun.plan.lockfile`; ``--python`` for what must be built),
and ``-o`` a copy of the existing lock file: uv keeps the versions pinned there unless the
requirements no longer allow them or ``--upgrade`` / ``--upgrade-package`` say otherwise (uv's
rule for an existing output file). The result, with a header and vrun's ``[tool.vrun]`` table, is
written over the lock file atomically.

uv reads its own settings (``UV_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_OFFLINE``, ``uv.toml`` ...) as
always; for a session built by the virtualenv backend, pip's index variables (``PIP_INDEX_URL``,
``PIP_EXTRA_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``, ``PIP_PRE``, ``PIP_CONSTRAINT``) are
passed as uv's options too, so the lock comes from the index pip installs from.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from vrun.config import tomlfile
from vrun.config.load import Config, Session
from vrun.env.backends import UV_HINT, find_uv, run_tool, tool_environ, uv_problem
from vrun.env.build import with_build_env
from vrun.errors import BuildError, UsageError
from vrun.inputs import write_atomic
from vrun.plan.lockfile import resolver_input_lines

#: pip's spellings of true for a boolean option in the environment (pip's ``strtobool``).
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})


def pip_index_options(environ: Mapping[str, str]) -> list[str]:
    """pip's index settings in ``environ`` as ``uv pip compile`` options (pip's variables, its
    ``PIP_<OPTION>`` naming; list values split on whitespace)."""
    out: list[str] = []
    if environ.get("PIP_INDEX_URL"):
        out += ["--index-url", environ["PIP_INDEX_URL"]]
    for variable, option in (
        ("PIP_EXTRA_INDEX_URL", "--extra-index-url"),
        ("PIP_FIND_LINKS", "--find-links"),
        ("PIP_CONSTRAINT", "--constraints"),
    ):
        for value in (environ.get(variable) or "").split():
            out += [option, value]
    if (environ.get("PIP_NO_INDEX") or "").lower() in _TRUE:
        out.append("--no-index")
    if (environ.get("PIP_PRE") or "").lower() in _TRUE:
        out += ["--prerelease", "allow"]
    return out


def project_source(root: str) -> str:
    """The file uv reads the project's dependencies from: ``pyproject.toml`` when it has a
    ``[project]`` table, else ``setup.py`` or ``setup.cfg`` (uv builds those to get the metadata),
    else ``pyproject.toml``."""
    pyproject = os.path.join(root, "pyproject.toml")
    if isinstance((tomlfile.pyproject(root) or {}).get("project"), dict):
        return pyproject
    for name in ("setup.py", "setup.cfg"):
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    return pyproject


def compile_lock(
    config: Config,
    session: Session,
    entry: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    tool_table: str,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> int:
    """Resolve ``session`` (its planned ``entry``) and write its lock file.

    :param tool_table: the ``[tool.vrun]`` table to append (:mod:`vrun.plan.lockfile`).
    :returns: how many packages the lock file pins.
    :raises UsageError: uv is missing or cannot run.
    :raises BuildError: uv failed (its output attached, and the requirement it blames).
    :raises Interrupted: a signal arrived while uv ran.
    """
    uv = find_uv()
    problem = uv_problem(uv)
    if problem or uv is None:
        raise UsageError(f"vrun lock resolves with uv: {problem}", hint=UV_HINT)
    root = str(config.root)
    state = entry["lock"]
    path = state["path"]
    stem = os.path.basename(path)[len("pylock.") : -len(".toml")]
    # uv wants its output named pylock.<name>.toml, and writes local paths relative to it: a scratch
    # file beside the real one, holding the current pins (uv keeps them as preferences).
    scratch = os.path.join(root, f"pylock.{stem}-vrun{os.getpid()}.toml")
    work = tempfile.mkdtemp(prefix="vrun-lock-")
    try:
        source = os.path.join(work, "requirements.in")
        with open(source, "w", encoding="utf-8") as fh:
            fh.write("".join(f"{line}\n" for line in resolver_input_lines(config, session)))
        argv = [uv, "pip", "compile", "--format", "pylock.toml", "--no-header", "--universal"]
        argv += [
            "--python-version",
            state["inputs"]["python"],
            "--python",
            entry["interpreter"]["executable"],
        ]
        argv += ["-o", scratch, source]
        if session.install_project:
            argv.append(project_source(root))
            for extra in session.extras:
                argv += ["--extra", extra]
        if entry["backend"] == "virtualenv":
            argv += pip_index_options(environ)
        if upgrade:
            argv.append("--upgrade")
        for name in upgrade_packages:
            argv += ["--upgrade-package", name]
        if state["status"] in ("current", "stale", "foreign"):  # a PEP 751 file uv can read
            shutil.copyfile(path, scratch)
        # uv builds what it must read metadata from (setup.py projects, sdists) as the install would
        env = tool_environ(with_build_env(entry, environ))
        env["UV_PYTHON_DOWNLOADS"] = "never"
        run_tool(argv, what=f"uv pip compile (locking {session.name})", environ=env, cwd=root)
        with open(scratch, encoding="utf-8") as fh:
            body = fh.read()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        try:
            os.unlink(scratch)
        except OSError:
            pass
    try:
        packages = tomlfile.loads(body).get("packages", [])
    except tomlfile.TOMLDecodeError as exc:
        raise BuildError(f"uv pip compile wrote a lock file vrun cannot read: {exc}", output=body) from exc
    name = session.name
    header = (
        f"# The lock file of session {name}, written by `vrun lock` (uv pip compile, universal,\n"
        f"# Python >= {state['inputs']['python']}). Do not edit it: re-lock with `vrun lock {name}`,\n"
        f"# upgrade a package with `vrun lock {name} --upgrade-package NAME` (vrun's docs/lock.md).\n"
    )
    write_atomic(path, header + body.rstrip("\n") + "\n\n" + tool_table)
    return len(packages)
