"""Tests for vrun.plan.interpreters: discovery on this machine (PATH, pyenv, the shim trap) and the cache.

Tests that need a given Python look for it among pyenv's versions and skip when it is absent.
Every test caches under a temporary directory; most share one per module so that
python-discovery probes each interpreter once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project
from vrun.errors import InterpreterNotFoundError, UsageError
from vrun.plan.interpreters import (
    CACHE_FILE,
    Interpreter,
    _search_path,
    default_cache_dir,
    find_interpreter,
    list_interpreters,
)

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
RUNNING = sys.version_info[:2]


def interpreter_is_usable(interp: Interpreter) -> bool:
    return os.path.exists(interp.executable) and os.path.exists(interp.base_executable)


def pyenv_python(minor: int) -> Path | None:
    """The newest pyenv ``bin/python3.<minor>`` installed here, or ``None``."""
    found = sorted(
        PYENV_VERSIONS.glob(f"3.{minor}.*/bin/python3.{minor}"),
        key=lambda p: [int(n) for n in p.parent.parent.name.split(".") if n.isdigit()],
    )
    return found[-1] if found else None


def other_pyenv_python() -> tuple[int, Path]:
    """A pyenv CPython 3.x whose minor differs from the running one (so discovery cannot just
    answer with the running interpreter); skips when there is none."""
    for minor in (12, 13, 10, 9, 11):
        exe = pyenv_python(minor)
        if exe is not None and (3, minor) != RUNNING:
            return minor, exe
    pytest.skip("no pyenv CPython other than the running one")


def available(minor: int) -> bool:
    return pyenv_python(minor) is not None or (3, minor) == RUNNING


def is_script(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"#!"


def in_venv(exe: str) -> bool:
    """PEP 405: a ``pyvenv.cfg`` beside the executable or one directory up."""
    return any((d / "pyvenv.cfg").exists() for d in (Path(exe).parent, Path(exe).parent.parent))


def fake_pyenv_root(tmp_path: Path, minor: int, real: Path) -> tuple[Path, Path]:
    """A pyenv root whose shims fail (writing to a marker file when run) and one real version."""
    root = tmp_path / "pyenv"
    marker = tmp_path / "shim-ran"
    (root / "shims").mkdir(parents=True)
    for name in ("python", "python3", f"python3.{minor}"):
        write_failing_shim(root / "shims" / name, marker)
    bin_dir = root / "versions" / f"3.{minor}.99" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / f"python3.{minor}").symlink_to(real)
    return root, marker


def write_failing_shim(path: Path, marker: Path | None = None) -> None:
    """A script like an unselected pyenv shim: prints an error, exits 127."""
    touch = f'echo "$0" >> "{marker}"\n' if marker else ""
    path.write_text(f'#!/bin/sh\n{touch}echo "pyenv: ${{0##*/}}: command not found" >&2\nexit 127\n')
    path.chmod(0o755)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vrun-cache")


@pytest.fixture(scope="module")
def copied_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bin/python`` of a ``--copies`` venv: a real file whose mtime a test may change."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--copies", str(venv)], check=True)
    return venv / "bin" / "python"


# --- default_cache_dir ---------------------------------------------------------------------------


def test_default_cache_dir_precedence(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    assert default_cache_dir({"HOME": home}) == Path(home, ".cache", "vrun")
    assert default_cache_dir({"HOME": home, "XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/vrun")
    assert default_cache_dir({"HOME": home, "XDG_CACHE_HOME": "rel"}) == Path(home, ".cache", "vrun")
    env = {"HOME": home, "XDG_CACHE_HOME": "/xdg", "VRUN_CACHE_DIR": "/v/c"}
    assert default_cache_dir(env) == Path("/v/c")


# --- discovery -----------------------------------------------------------------------------------


def test_none_is_the_running_base_interpreter(tmp_path: Path) -> None:
    interp = find_interpreter(None, cache_dir=tmp_path)
    assert not in_venv(interp.executable)
    assert interp.base_executable == os.path.realpath(interp.executable)
    assert interp.version_info == tuple(sys.version_info[:3])
    assert interp.implementation == ("CPython" if sys.implementation.name == "cpython" else "PyPy")
    assert interp.architecture == (64 if sys.maxsize > 2**32 else 32)
    assert find_interpreter(None, cache_dir=tmp_path) == interp


@pytest.mark.parametrize(
    ("spec", "minor"),
    [
        ("3.12", 12),
        ("3.13", 13),
        ("3.10", 10),
        ("3.9", 9),
        ("3.11", 11),
        ("python3.12", 12),
        ("cpython3.11", 11),
        (" 3.12 ", 12),
    ],
)
def test_version_specs_resolve_on_this_machine(spec: str, minor: int, shared_cache: Path) -> None:
    if not available(minor):
        pytest.skip(f"no Python 3.{minor} here")
    interp = find_interpreter(spec, cache_dir=shared_cache)
    assert interp.version_info[:2] == (3, minor)
    assert interp.implementation == "CPython"
    assert "shims" not in Path(interp.executable).parts
    assert not is_script(interp.executable)
    assert not in_venv(interp.executable)  # not vrun's own venv, though python-discovery proposes it
    assert interp.base_executable == os.path.realpath(interp.base_executable)
    assert interpreter_is_usable(interp)
    on_path = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if "shims" not in Path(d).parts and Path(d, f"python3.{minor}").exists()
    ]
    if not on_path and (3, minor) != RUNNING:  # only pyenv has it: the pyenv version must be found
        assert Path(interp.executable).parent.parent.parent == PYENV_VERSIONS
    assert find_interpreter(spec, cache_dir=shared_cache) == interp  # warm: same answer


def test_exact_patch_version(shared_cache: Path) -> None:
    exe = pyenv_python(12)
    if exe is None:
        pytest.skip("no pyenv 3.12")
    version = exe.parent.parent.name  # e.g. "3.12.1"
    interp = find_interpreter(version, cache_dir=shared_cache)
    assert interp.version == version
    assert Path(interp.executable).parent == exe.parent


def test_specifier_sets(shared_cache: Path) -> None:
    if not (available(12) or available(13)):
        pytest.skip("no Python >= 3.12 here")
    newest = find_interpreter(">=3.12", cache_dir=shared_cache)
    assert newest.version_info >= (3, 12)
    ranged = find_interpreter(">=3.10,<3.13", cache_dir=shared_cache)
    assert (3, 10) <= ranged.version_info < (3, 13)


def test_path_comes_before_pyenv(tmp_path: Path, shared_cache: Path) -> None:
    minor, real = other_pyenv_python()
    first = tmp_path / "first"
    first.mkdir()
    (first / f"python3.{minor}").symlink_to(real)
    env = {**os.environ, "PATH": f"{first}{os.pathsep}{os.environ.get('PATH', '')}"}
    interp = find_interpreter(f"3.{minor}", cache_dir=shared_cache, environ=env)
    assert interp.executable == str(first / f"python3.{minor}")
    assert interp.base_executable == os.path.realpath(real)


def test_failing_shim_on_path_is_skipped(tmp_path: Path, shared_cache: Path) -> None:
    minor, _ = other_pyenv_python()
    shims = tmp_path / "shims"
    shims.mkdir()
    write_failing_shim(shims / f"python3.{minor}")
    write_failing_shim(shims / "python3")
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}"}
    interp = find_interpreter(f"3.{minor}", cache_dir=shared_cache, environ=env)
    assert interp.version_info[:2] == (3, minor)
    assert not interp.executable.startswith(str(shims))


def test_pyenv_shims_are_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    minor, real = other_pyenv_python()
    root, marker = fake_pyenv_root(tmp_path, minor, real)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)  # no .python-version above
    env = {"PATH": f"{root / 'shims'}{os.pathsep}{empty}", "PYENV_ROOT": str(root), "HOME": str(tmp_path)}
    interp = find_interpreter(f"3.{minor}", cache_dir=tmp_path / "cache", environ=env)
    assert interp.executable == str(root / "versions" / f"3.{minor}.99" / "bin" / f"python3.{minor}")
    assert interp.base_executable == os.path.realpath(real)
    assert not marker.exists(), "a pyenv shim was executed"


def test_search_path_expands_pyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pyenv"
    versions = root / "versions"
    for name in ("3.9.1", "3.10.2", "3.10.10", "pypy3.10-7.3.12", "3.8.0/envs/myenv"):  # 3.8.0: no bin/
        (versions / name / "bin").mkdir(parents=True)
    (versions / "myenv").symlink_to(versions / "3.8.0" / "envs" / "myenv")  # pyenv-virtualenv: skipped
    plugin_shims = root / "plugins" / "pyenv-virtualenv" / "shims"
    path = os.pathsep.join([str(plugin_shims), "/a", str(root / "shims"), "/b", ""])
    monkeypatch.chdir(tmp_path)
    bins = [str(versions / n / "bin") for n in ("3.10.10", "3.10.2", "3.9.1", "pypy3.10-7.3.12")]

    env = {"PATH": path, "PYENV_ROOT": str(root), "PYENV_VERSION": "3.10:system"}
    assert _search_path(env) == ["/a", bins[0], "/b", *bins[1:]]  # "3.10" = its newest patch

    env = {"PATH": path, "PYENV_ROOT": str(root)}
    (root / "version").write_text("3.9.1\n")
    assert _search_path(env) == ["/a", bins[2], "/b", bins[0], bins[1], bins[3]]
    (tmp_path / ".python-version").write_text("# a comment\n3.10.2\n")
    assert _search_path(env) == ["/a", bins[1], "/b", bins[0], *bins[2:]]


def test_not_found_says_what_was_searched_and_found(shared_cache: Path) -> None:
    with pytest.raises(InterpreterNotFoundError) as info:
        find_interpreter("3.99", session="test", cache_dir=shared_cache)
    error = info.value
    assert error.spec == "3.99" and error.session == "test"
    assert "searched PATH, pyenv (" in error.message and error.message.endswith(
        ", uv; found " + ", ".join(error.found)
    )
    running = find_interpreter(None, cache_dir=shared_cache)
    assert f"{running.version} (" in ", ".join(error.found)
    assert len(set(error.found)) == len(error.found)
    versions = [tuple(int(n) for n in d.split(" ")[0].split(".")) for d in error.found if d[0].isdigit()]
    assert versions == sorted(versions)
    assert not any("shims" in d for d in error.found)


@pytest.mark.parametrize("spec", ["banana!", "banana3.12", ">=banana", "", "   ", "relative/python"])
def test_invalid_spec_is_a_usage_error(spec: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"invalid Python spec .* for session lint") as info:
        find_interpreter(spec, session="lint", cache_dir=tmp_path)
    assert info.value.hint is not None and ">=3.10,<3.13" in info.value.hint


def test_list_interpreters(shared_cache: Path) -> None:
    found = list_interpreters(cache_dir=shared_cache)
    running = find_interpreter(None, cache_dir=shared_cache)
    assert running.base_executable in {i.base_executable for i in found}
    assert len({i.base_executable for i in found}) == len(found)
    for interp in found:
        assert interpreter_is_usable(interp)
        assert not is_script(interp.executable)
    for minor in (9, 10, 12, 13):
        if available(minor):
            assert any(i.version_info[:2] == (3, minor) for i in found)


# --- absolute paths ------------------------------------------------------------------------------


def test_absolute_path_to_a_venv_python(copied_venv: Path, shared_cache: Path) -> None:
    interp = find_interpreter(str(copied_venv), cache_dir=shared_cache)
    running = find_interpreter(None, cache_dir=shared_cache)
    assert interp.executable == str(copied_venv)
    assert interp.base_executable == running.base_executable
    assert interp.version == running.version


def test_absolute_path_to_a_working_shim_gives_the_binary(tmp_path: Path, shared_cache: Path) -> None:
    _, real = other_pyenv_python()
    shim = tmp_path / "python"
    shim.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    interp = find_interpreter(str(shim), cache_dir=shared_cache)
    assert os.path.realpath(interp.executable) == os.path.realpath(real)
    assert not is_script(interp.executable)


def test_absolute_path_that_is_not_python(tmp_path: Path, shared_cache: Path) -> None:
    write_failing_shim(tmp_path / "python")
    for spec in (str(tmp_path / "python"), str(tmp_path / "absent")):
        with pytest.raises(InterpreterNotFoundError, match=f"searched {spec}"):
            find_interpreter(spec, cache_dir=shared_cache)


# --- the cache -----------------------------------------------------------------------------------


def test_warm_hit_reads_the_cache_and_a_changed_mtime_invalidates_it(
    copied_venv: Path, shared_cache: Path
) -> None:
    exe = str(copied_venv)
    real = find_interpreter(exe, cache_dir=shared_cache)
    cache_file = shared_cache / CACHE_FILE
    data = json.loads(cache_file.read_text())
    data["facts"][exe]["interpreter"]["version"] = "9.9.9"
    cache_file.write_text(json.dumps(data))
    assert find_interpreter(exe, cache_dir=shared_cache).version == "9.9.9"  # served from the cache

    st = os.stat(exe)
    os.utime(exe, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert find_interpreter(exe, cache_dir=shared_cache) == real  # probed again
    assert json.loads(cache_file.read_text())["facts"][exe]["mtime_ns"] == st.st_mtime_ns + 10**9


def test_removed_executable_is_not_served_from_cache(tmp_path: Path, shared_cache: Path) -> None:
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    exe = str(venv / "bin" / "python")
    find_interpreter(exe, cache_dir=shared_cache)
    os.unlink(exe)
    with pytest.raises(InterpreterNotFoundError):
        find_interpreter(exe, cache_dir=shared_cache)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffnot json",
        b"[1, 2]",
        b'{"schema": 1, "facts": [], "specs": {}}',
        b'{"schema": 99, "facts": {}, "specs": {}}',
    ],
)
def test_corrupt_cache_is_empty(content: bytes, tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_bytes(content)
    interp = find_interpreter(None, cache_dir=tmp_path)
    assert interp.version_info == tuple(sys.version_info[:3])
    data = json.loads((tmp_path / CACHE_FILE).read_text())
    assert data["schema"] == 1 and interp.executable in data["facts"]


def test_malformed_facts_entry_is_a_miss(tmp_path: Path) -> None:
    interp = find_interpreter(None, cache_dir=tmp_path)
    cache_file = tmp_path / CACHE_FILE
    data = json.loads(cache_file.read_text())
    data["facts"][interp.executable]["interpreter"]["version_info"] = "3.11"
    cache_file.write_text(json.dumps(data))
    assert find_interpreter(None, cache_dir=tmp_path) == interp


def test_unwritable_cache_dir_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    interp = find_interpreter(None, cache_dir=blocker / "cache")
    assert interp.version_info == tuple(sys.version_info[:3])


def test_warm_path_imports_nothing_heavy(shared_cache: Path) -> None:
    if not available(12):
        pytest.skip("no Python 3.12 here")
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from vrun.plan.interpreters import find_interpreter
        interp = find_interpreter("3.12", cache_dir=Path({str(shared_cache)!r}))
        heavy = sorted(m for m in ("python_discovery", "virtualenv", "subprocess") if m in sys.modules)
        print(interp.executable, heavy)
        """
    )
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    exe = cold.stdout.split()[0]
    assert warm.stdout.strip() == f"{exe} []"


def test_short_and_description() -> None:
    cpython = Interpreter("/x/python3.12", "/x/python3.12", "CPython", "3.12.1", (3, 12, 1), 64, "x86_64")
    pypy = dataclasses.replace(
        cpython, executable="/y/pypy3", implementation="PyPy", version="3.10.14", version_info=(3, 10, 14)
    )
    assert (cpython.short, cpython.description) == ("3.12", "3.12.1 (/x/python3.12)")
    assert (pypy.short, pypy.description) == ("pypy3.10", "PyPy 3.10.14 (/y/pypy3)")


def old_python() -> Path | None:
    """A Python older than python-discovery can query (< 3.6): pyenv's, else ``python2`` on PATH."""
    import shutil

    for exe in sorted(PYENV_VERSIONS.glob("2.*/bin/python2")) + sorted(
        PYENV_VERSIONS.glob("3.[0-5].*/bin/python3")
    ):
        return exe
    found = shutil.which("python2")
    return Path(found) if found else None


def test_discovery_says_nothing_of_its_own_unless_verbose(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """python-discovery logs a warning for each interpreter too old to query; without a handler it
    reached stderr bare, before the run's summary. Now every line is vrun's, and ``-v`` shows it."""
    old = old_python()
    if old is None:
        pytest.skip("needs a Python older than 3.6 (pyenv's 2.7, or python2 on PATH)")
    on_path = tmp_path / "old-bin"
    on_path.mkdir()
    (on_path / "python2.7").symlink_to(old)
    write_project(project, {"vrun.toml": '[sessions.t]\npython = "3.99"\ncommands = ["python -V"]\n'})
    vrun.env["PATH"] = f"{on_path}{os.pathsep}{vrun.env['PATH']}"
    # python-discovery caches no failed query: it probes (and warns) on every search, cold cache or not
    run = vrun("t", check=2)
    assert "no Python matching '3.99' for session t" in run.stderr
    assert [line for line in run.stderr.splitlines() if not line.startswith("vrun > ")] == []
    verbose = vrun("-v", "t", check=2)
    assert [line for line in verbose.stderr.splitlines() if not line.startswith("vrun > ")] == []
    assert re.search(r"^vrun > python_discovery\S*: \S+ is Python 2\.\S+, older than", verbose.stderr, re.M)
