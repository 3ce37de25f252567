"""What decides which interpreter a spec resolves to, and where vrun caches. Light on purpose.

The interpreter cache (:mod:`vrun.plan.interpreters`) trusts a cached resolution while
:func:`material` is unchanged; every file and directory it looks at is read through
:mod:`vrun.inputs`, so a plan that used the resolution is invalidated by the same changes.
Imports nothing beyond ``os`` and ``sys``.
"""

from __future__ import annotations

import os
import sys

#: Neither ``typing`` nor ``collections.abc`` is imported (benchmarks/README.md, "Import costs"):
#: annotations are strings here, so they are needed only by type checkers (which treat any
#: ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def pyenv_root(env: Mapping[str, str]) -> str:
    """``$PYENV_ROOT``, else ``~/.pyenv`` (pyenv's default), normalized."""
    return os.path.normpath(os.path.expanduser(env.get("PYENV_ROOT") or os.path.join(home(env), ".pyenv")))


def pyenv_selected(env: Mapping[str, str], root: str) -> list[str]:
    """The pyenv versions a shim would run, as pyenv selects them.

    ``$PYENV_VERSION`` (``:``-separated), else the nearest ``.python-version`` from the working
    directory up, else ``$PYENV_ROOT/version`` (pyenv's ``pyenv-version-file``). ``system`` is
    left out: that Python is found on ``PATH`` anyway.
    """
    if env.get("PYENV_VERSION"):
        names = env["PYENV_VERSION"].split(":")
    else:
        names = nearest_version_file() or read_version_file(os.path.join(root, "version"))
    return [n for n in names if n and n not in {"system", ".", ".."} and "/" not in n]


def nearest_version_file() -> list[str]:
    """The versions in the nearest ``.python-version`` from the working directory up, or ``[]``."""
    try:
        here = os.getcwd()
    except OSError:  # the working directory was removed
        return []
    while True:
        names = read_version_file(os.path.join(here, ".python-version"))
        parent = os.path.dirname(here)
        if names or parent == here:
            return names
        here = parent


def read_version_file(path: str) -> list[str]:
    """The first word of each line of a pyenv version file, comments skipped (``pyenv-version-file-read``)."""
    from vrun import inputs

    try:
        text = inputs.read_text(path)[:4096]
    except OSError:
        return []
    return [
        line.split()[0] for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def uv_roots(env: Mapping[str, str]) -> list[str]:
    """Where uv keeps managed Pythons, as python-discovery looks for them."""
    if env.get("UV_PYTHON_INSTALL_DIR"):
        return [os.path.expanduser(env["UV_PYTHON_INSTALL_DIR"])]
    user_home = home(env)
    roots = (
        [os.path.join(user_home, "Library", "Application Support", "uv", "python")]
        if sys.platform == "darwin"
        else []
    )
    xdg = env.get("XDG_DATA_HOME", "")
    roots.append(
        os.path.join(xdg, "uv", "python")
        if os.path.isabs(xdg)
        else os.path.join(user_home, ".local", "share", "uv", "python")
    )
    return roots


def dir_signature(path: str) -> list[int] | None:
    """A directory's signature (recorded by :mod:`vrun.inputs`): it changes when an entry is added
    or removed, e.g. a new ``python3.13`` in a ``PATH`` directory or a new pyenv version."""
    from vrun import inputs

    sig = inputs.stat_file(path)
    return None if sig is None else list(sig)


def material(spec: str | None, env: Mapping[str, str]) -> list[Any]:
    """*spec* and everything that can change what it resolves to, as a JSON- and marshal-able list.

    ``None`` depends on the running interpreter only, an absolute path on nothing else. Other
    specs depend on the running interpreter (tried first), ``PATH`` and the signature of each of
    its directories (a Python installed into one of them), pyenv's root, selected versions and
    installed versions (the ``versions/`` directory's signature), and uv's install roots.
    """
    parts: list[Any]
    if spec is None:
        parts = ["current", sys.executable]
    elif os.path.isabs(spec):
        parts = ["path", spec]
    else:
        root = pyenv_root(env)
        parts = [
            "search",
            spec,
            sys.executable,
            [[d, dir_signature(d)] for d in env.get("PATH", os.defpath).split(os.pathsep) if d],
            root,
            pyenv_selected(env, root),
            dir_signature(os.path.join(root, "versions")),
            [[r, dir_signature(r)] for r in uv_roots(env)],
        ]
    return parts
