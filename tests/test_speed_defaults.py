"""Fast by default: the auto backend, pip in uv-built envs, the project build cache, supported Pythons."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import Vrun, demo_project, write_project
from vrun.config.load import load_config
from vrun.env import choice
from vrun.errors import ConfigError, UsageError

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"

if TYPE_CHECKING:
    from vrun._types import InterpreterFacts


def marker_of(project: Path, session: str) -> dict[str, object]:
    (env,) = [p for p in (project / ".venvs").glob(f"{session}-*") if p.is_dir() and not p.is_symlink()]
    data: dict[str, object] = json.loads((env / "vrun.json").read_text())
    return data


def interp(version: tuple[int, int, int], implementation: str = "CPython") -> InterpreterFacts:
    return {
        "executable": "/usr/bin/python",
        "base_executable": "/usr/bin/python",
        "implementation": implementation,
        "version": ".".join(map(str, version)),
        "version_info": list(version),
        "architecture": 64,
        "machine": "x86_64",
    }


# --- choosing the backend ------------------------------------------------------------------------


def test_auto_is_uv_where_uv_runs_and_supports_the_interpreter() -> None:
    assert choice.select_backend("auto", interp((3, 12, 1))) == ("uv", None)
    assert choice.select_backend("auto", interp((3, 10, 1), "PyPy")) == ("uv", None)
    assert choice.select_backend("auto", interp((3, 12, 1), "GraalPy")) == ("virtualenv", None)
    assert choice.select_backend("virtualenv", interp((3, 12, 1))) == ("virtualenv", None)


def test_auto_falls_back_with_one_note_when_uv_cannot_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(choice, "find_uv", lambda: None)
    name, note = choice.select_backend("auto", interp((3, 12, 1)))
    assert name == "virtualenv" and note == "uv is not installed; building with virtualenv + pip instead"
    with pytest.raises(UsageError, match="the uv backend needs uv"):
        choice.select_backend("uv", interp((3, 12, 1)))
    broken = tmp_path / "uv"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(choice, "find_uv", lambda: str(broken))
    name, note = choice.select_backend("auto", interp((3, 12, 1)))
    assert name == "virtualenv" and note is not None and "--version exited 3" in note


def test_interpreters_older_than_supported_get_a_clear_error() -> None:
    with pytest.raises(
        UsageError, match=r"Python 3\.7\.16 .* older than vrun supports for sessions: 3\.8 and newer"
    ):
        choice.select_backend("auto", interp((3, 7, 16)))


def test_backend_config_key(tmp_path: Path) -> None:
    path = tmp_path / "vrun.toml"
    path.write_text('backend = "virtualenv"\n[sessions.a]\n[sessions.b]\nbackend = "uv"\n')
    config = load_config(path)
    assert (config.sessions["a"].backend, config.sessions["b"].backend) == ("virtualenv", "uv")
    path.write_text("[sessions.a]\n")
    assert load_config(path).sessions["a"].backend == "auto"
    path.write_text('[sessions.a]\nbackend = "uvv"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "sessions.a.backend" and "auto, uv, virtualenv" in info.value.problem
    assert info.value.hint == "did you mean 'uv'?"


NOOP = {
    "vrun.toml": """
        [sessions.default]
        install_project = false
        commands = ["python -c pass"]
        [sessions.pinned]
        backend = "virtualenv"
        install_project = false
        commands = ["python -c pass"]
    """
}


def test_default_builds_with_uv_and_the_config_and_flags_choose(project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    vrun("default", "pinned", check=0)
    assert marker_of(project, "default")["backend"] == "uv"
    assert marker_of(project, "pinned")["backend"] == "virtualenv"
    # --backend and VRUN_BACKEND override the config (and the backend is part of the key)
    flagged = vrun("--backend", "virtualenv", "default", check=0)
    assert "creating env default-" in flagged.stderr and "backend changed" in flagged.stderr
    vrun.env["VRUN_BACKEND"] = "uv"
    assert "creating env pinned-" in vrun("pinned", check=0).stderr


def test_uv_built_envs_have_pip_and_freeze_works(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": '[sessions.s]\ninstall_project = false\ndeps = ["alpha==1.0"]\ncommands = ["python -c pass"]\n'
        },
    )
    vrun("s", check=0)
    assert marker_of(project, "s")["backend"] == "uv"
    pip = vrun("run", "s", "--", "pip", "--version", check=0)
    env = next(p for p in (project / ".venvs").glob("s-*") if p.is_dir() and not p.is_symlink())
    assert str(env) in pip.stdout  # the env's own pip, not a global one
    assert vrun("freeze", "s", check=0).stdout == "alpha==1.0\n"


# --- the project build cache -----------------------------------------------------------------------

PROJECT = demo_project(dependencies=["alpha"], layout="module", source="def hello():\n    return 'hello'\n")


def test_editable_build_is_reused_across_envs_and_rebuilt_when_metadata_changes(
    project: Path, vrun: Vrun
) -> None:
    write_project(
        project,
        {
            **PROJECT,
            "vrun.toml": """
                [sessions.a]
                commands = ["python -c 'import demo, alpha; print(demo.hello(), alpha.VERSION)'"]
                [sessions.b]
                deps = ["greet"]
                commands = ["python -c 'import demo; print(demo.hello())'"]
            """,
        },
    )
    first = vrun("a", "b", check=0)
    assert first.stderr.count("building the project (editable)") == 1  # b reuses a's build
    assert first.stdout.count("hello") == 2
    (project / "demo.py").write_text("def hello():\n    return 'edited'\n")
    assert "edited" in vrun("a", check=0).stdout  # editable: the source, not a copy
    vrun("rm", "a", check=0)
    again = vrun("a", check=0)
    assert "creating env a-" in again.stderr and "building the project" not in again.stderr
    text = (project / "pyproject.toml").read_text().replace('["alpha"]', '["alpha", "beta"]')
    (project / "pyproject.toml").write_text(text)
    changed = vrun("a", check=0)
    assert (
        "project metadata changed" in changed.stderr and "building the project (editable)" in changed.stderr
    )


def test_wheel_mode_builds_once_per_run_for_all_sessions(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            **PROJECT,
            "vrun.toml": """
                [sessions.a]
                install_project = "wheel"
                commands = ["python -c 'import demo; print(demo.hello())'"]
                [sessions.b]
                install_project = "wheel"
                deps = ["greet"]
                commands = ["python -c 'import demo; print(demo.hello())'"]
            """,
        },
    )
    first = vrun("a", "b", check=0)
    assert first.stderr.count("building the project (wheel)") == 1
    (project / "demo.py").write_text("def hello():\n    return 'rebuilt'\n")
    second = vrun("a", "b", check=0)  # envs reused; the project is rebuilt once and reinstalled in both
    assert second.stderr.count("building the project (wheel)") == 1
    assert second.stdout.count("rebuilt") == 2


# --- supported interpreters ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["virtualenv", "uv"])
def test_python_3_8_builds_with_either_backend(project: Path, vrun: Vrun, backend: str) -> None:
    found = sorted(PYENV_VERSIONS.glob("3.8.*/bin/python3.8"))
    if not found:
        pytest.skip("no Python 3.8 in pyenv's versions")
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.old]
                python = "{found[-1]}"
                backend = "{backend}"
                install_project = false
                deps = ["alpha"]
                commands = ["python -c 'import sys, alpha; print(sys.version_info[:2], alpha.VERSION)'"]
            """
        },
    )
    assert "(3, 8) 2.0" in vrun("old", check=0).stdout


def test_python_3_7_is_refused_with_the_supported_range(project: Path, vrun: Vrun) -> None:
    found = sorted(PYENV_VERSIONS.glob("3.7.*/bin/python3.7"))
    if not found:
        pytest.skip("no Python 3.7 in pyenv's versions")
    write_project(
        project,
        {
            "vrun.toml": f'[sessions.old]\npython = "{found[-1]}"\ninstall_project = false\ncommands = ["python -V"]\n'
        },
    )
    run = vrun("old", check=2)  # one failed session: its own status, 2 (no usable interpreter)
    assert "older than vrun supports for sessions: 3.8 and newer" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("path", ["/tmp/a b/c%d/ü.whl", "/x/y-1.0-py3-none-any.whl", "/odd/#?;=+@,'&$!"])
def test_file_uri_is_pathlibs(path: str) -> None:
    from vrun.env.installplan import file_uri

    assert file_uri(path) == Path(path).as_uri()
