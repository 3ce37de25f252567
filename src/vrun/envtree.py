"""Inside one env: its site-packages, found without running its python, and its temp dir. Light.

``{env_site_packages_dir}`` and ``{env_tmp_dir}`` (:mod:`vrun.placeholders`) and the check that an
install landed in the env (:mod:`vrun.env.installplan`) read the env's tree from here. Imports only
``os`` (``shutil`` when a temp dir is emptied).
"""

from __future__ import annotations

import os

from vrun.errors import VrunError

#: The per-session temp dir's name inside the env (tox's ``{envtmpdir}`` is ``<envdir>/tmp`` too).
TMP = "tmp"


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
    """``<env_dir>/tmp``, made to exist; ``empty``: emptied first (removed and made anew).

    Only ever deletes inside the env: a symlink at that name is removed, never followed, and
    :func:`shutil.rmtree` does not follow the symlinks inside the directory either.

    :raises VrunError: it cannot be removed or made (naming the path and why).
    """
    path = os.path.join(env_dir, TMP)
    if os.path.islink(env_dir):  # vrun never deletes through a symlink out of .venvs/
        raise VrunError(f"cannot prepare the temp dir {path}: the env {env_dir} is a symlink")
    try:
        if empty and os.path.islink(path):
            os.unlink(path)
        elif empty and os.path.isdir(path):
            import shutil

            shutil.rmtree(path)
        elif empty and os.path.lexists(path):
            os.unlink(path)
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise VrunError(f"cannot prepare the temp dir {path}: {exc.strerror or exc}") from exc
    return path
