"""The bytecode memo: a new env starts with the ``.pyc`` files an earlier env's first run compiled."""

from __future__ import annotations

import os
import py_compile
import sys
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project
from vrun.env import bytecode

TAG = sys.implementation.cache_tag
SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


def test_cache_tag_follows_pep_3147() -> None:
    assert bytecode.cache_tag("CPython", (3, 12, 1)) == "cpython-312"
    assert bytecode.cache_tag("PyPy", (3, 10, 14)) == "pypy310"
    assert bytecode.cache_tag("GraalPy", (3, 11, 7)) is None
    assert bytecode.cache_tag(sys.implementation.name.replace("cpython", "CPython"), sys.version_info) == TAG


def shared_env(root: Path, name: str, source: Path, *, copy: bool = False) -> Path:
    """An env whose ``pkg/mod.py`` is ``source`` hard-linked (as uv installs), or a copy of it."""
    target = root / name / SITE / "pkg" / "mod.py"
    target.parent.mkdir(parents=True)
    if copy:
        target.write_bytes(source.read_bytes())
    else:
        os.link(source, target)
    return root / name


def compile_in(
    env: Path, mode: py_compile.PycInvalidationMode = py_compile.PycInvalidationMode.TIMESTAMP
) -> Path:
    source = env / SITE / "pkg" / "mod.py"
    pyc = source.parent / "__pycache__" / f"mod.{TAG}.pyc"
    py_compile.compile(str(source), cfile=str(pyc), invalidation_mode=mode, doraise=True)
    return pyc


@pytest.fixture
def uv_file(tmp_path: Path) -> Path:
    """A source file in a stand-in for uv's cache."""
    path = tmp_path / "uv-cache" / "mod.py"
    path.parent.mkdir()
    path.write_text("def f():\n    return 1\n")
    return path


def test_harvest_then_seed_links_the_same_bytecode(tmp_path: Path, uv_file: Path) -> None:
    cache = tmp_path / "cache"
    first = shared_env(tmp_path, "a", uv_file)
    pyc = compile_in(first)
    assert bytecode.harvest(str(first), TAG, str(cache)) == 1
    assert bytecode.harvest(str(first), TAG, str(cache)) == 0  # remembered once
    (stored,) = (cache / "bytecode" / TAG).iterdir()
    assert stored.stat().st_ino == pyc.stat().st_ino
    second = shared_env(tmp_path, "b", uv_file)
    assert bytecode.seed(str(second), TAG, str(cache)) == 1
    assert (second / SITE / "pkg" / "__pycache__" / f"mod.{TAG}.pyc").stat().st_ino == pyc.stat().st_ino
    # another interpreter's tag finds nothing
    assert bytecode.seed(str(shared_env(tmp_path, "c", uv_file)), "cpython-27", str(cache)) == 0


def test_unshared_changed_or_unchecked_sources_are_not_memoized(tmp_path: Path, uv_file: Path) -> None:
    cache = tmp_path / "cache"
    copied = shared_env(tmp_path, "copied", uv_file, copy=True)  # pip copies: nothing to share
    compile_in(copied)
    assert bytecode.harvest(str(copied), TAG, str(cache)) == 0
    hashed = shared_env(tmp_path, "hashed", uv_file)  # PEP 552 unchecked: never trusted blindly
    compile_in(hashed, py_compile.PycInvalidationMode.UNCHECKED_HASH)
    assert bytecode.harvest(str(hashed), TAG, str(cache)) == 0
    good = shared_env(tmp_path, "good", uv_file)
    compile_in(good)
    assert bytecode.harvest(str(good), TAG, str(cache)) == 1
    assert bytecode.seed(str(shared_env(tmp_path, "copy2", uv_file, copy=True)), TAG, str(cache)) == 0
    os.utime(uv_file, ns=(0, 10**9))  # the source changed: its identity is not the remembered one
    assert bytecode.seed(str(shared_env(tmp_path, "later", uv_file)), TAG, str(cache)) == 0


SESSION = {
    "vrun.toml": """
        [sessions.s]
        install_project = false
        deps = ["greet"]
        commands = ["python -c 'import greet; print(greet.main.__code__.co_filename)'"]
    """
}


def greet_pyc(project: Path) -> Path:
    (env,) = [p for p in (project / ".venvs").glob("s-*") if p.is_dir() and not p.is_symlink()]
    return env / SITE / "__pycache__" / f"greet.{TAG}.pyc"


def test_a_rebuilt_env_starts_compiled_and_names_its_own_files(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    vrun.env.pop("PYTHONDONTWRITEBYTECODE", None)
    vrun.env["VRUN_CACHE_DIR"] = str(tmp_path / "own-cache")
    write_project(project, SESSION)
    first = vrun("s", check=0)
    pyc = greet_pyc(project)
    assert first.stdout.strip() == str(pyc.parent.parent / "greet.py")
    (stored,) = (tmp_path / "own-cache" / "bytecode" / TAG).iterdir()
    assert stored.stat().st_ino == pyc.stat().st_ino
    vrun("rm", "s", check=0)
    again = vrun("s", check=0)
    # the new env's bytecode is the remembered file (Python would have replaced a stale one), and
    # the code it holds names the new env's source, not the env that compiled it
    assert greet_pyc(project).stat().st_ino == stored.stat().st_ino
    assert again.stdout.strip() == str(greet_pyc(project).parent.parent / "greet.py")
    vrun("rm", "s", check=0)
    vrun.env["VRUN_BYTECODE_CACHE"] = "0"
    vrun("s", check=0)
    assert greet_pyc(project).stat().st_ino != stored.stat().st_ino
