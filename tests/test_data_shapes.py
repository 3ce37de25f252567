"""Values of the wrong shape in the files vrun reads but does not validate: a ``pyproject.toml``
whose ``[project]`` or ``tool`` is not a table, a ``tox.toml`` reference path that is not strings,
an interpreter cache entry that is not a path. Each is read as absent, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import write_project
from vrun.commands import freeze
from vrun.commands.completion import session_names
from vrun.config.load import Config, Session
from vrun.migrate.translate import translate
from vrun.plan import envkey, lockfile
from vrun.plan.interpreters import CACHE_FILE, find_interpreter


def test_a_spec_cached_as_a_non_path_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_text(json.dumps({"schema": 1, "facts": {}, "specs": {"k": ["x"], "j": {}}}))
    interp = find_interpreter(None, cache_dir=tmp_path)
    assert interp.version_info == tuple(sys.version_info[:3])
    specs = json.loads((tmp_path / CACHE_FILE).read_text())["specs"]
    assert list(specs.values()) == [interp.executable]


@pytest.mark.parametrize("extends", ['["a"]', "{ name = 'a' }", "1"])
def test_completion_lists_sessions_beside_an_extends_that_is_not_a_name(tmp_path: Path, extends: str) -> None:
    (tmp_path / "vrun.toml").write_text(
        f'[sessions.a]\npython = ["3.12"]\n[sessions.b]\nextends = {extends}\n', encoding="utf-8"
    )
    assert session_names(tmp_path) == ["a", "a-3.12", "b"]


def test_init_guesses_beside_a_project_that_is_not_a_table(tmp_path: Path) -> None:
    write_project(tmp_path, {"pyproject.toml": 'project = "p"\n', "tests/test_a.py": ""})
    text, _ = translate(tmp_path)
    assert "[sessions.test]" in text


def test_init_drops_a_tox_reference_whose_path_is_not_strings(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "tox.toml": """
                env_list = ["a"]
                [env.a]
                deps = ["attrs", { replace = "ref", of = [["env_run_base"], "deps"] }]
                commands = [["pytest"]]
            """
        },
    )
    text, notes = translate(tmp_path)
    assert 'deps = ["attrs"]' in text
    assert any("reference" in note and "not found; dropped" in note for note in notes)


def _session(**fields: object) -> Session:
    return Session(name="s", base_name="s", install_project="editable", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pyproject", "names", "name"),
    [
        ('project = "p"\n', {"iniconfig"}, None),
        (
            '[project]\nname = "P_q"\ndependencies = "attrs"\noptional-dependencies = "x"\n',
            {"iniconfig"},
            "p-q",
        ),
        (
            '[project]\nname = "p"\ndependencies = ["attrs"]\noptional-dependencies.t = "pytest"\n',
            {"iniconfig", "attrs"},
            "p",
        ),
    ],
)
def test_freeze_reads_project_arrays_only(
    tmp_path: Path, pyproject: str, names: set[str], name: str | None
) -> None:
    write_project(tmp_path, {"pyproject.toml": pyproject})
    config = Config(tmp_path / "vrun.toml", tmp_path, {}, {})
    assert freeze._requested_names(config, _session(requirements=("iniconfig",), extras=("t",))) == names
    assert freeze._project_name(config) == name


@pytest.mark.parametrize("tool", ["tool = 1\n", 'tool = "uv"\n', "[tool]\nuv = 1\n"])
def test_uv_settings_beside_a_tool_that_is_not_a_table(tmp_path: Path, tool: str) -> None:
    write_project(tmp_path, {"pyproject.toml": tool})
    settings = envkey.installer_settings("uv", {"HOME": str(tmp_path / "home")}, str(tmp_path))
    assert ("tool.uv" in settings) == tool.startswith("[tool]")


@pytest.mark.parametrize(
    ("table", "found"),
    [
        ('dynamic = 1\ndependencies = ["attrs  >=1"]\n', {"dependencies": ["attrs >=1"]}),
        ('dynamic = "dependencies"\ndependencies = ["attrs"]\n', {"dependencies": ["attrs"]}),
        ('dependencies = "attrs"\noptional-dependencies.t = "pytest"\n', {"dependencies": []}),
        ('dynamic = [["x"], "dependencies"]\n', {"metadata": {}}),
    ],
)
def test_lock_inputs_read_project_arrays_only(tmp_path: Path, table: str, found: dict[str, object]) -> None:
    write_project(tmp_path, {"pyproject.toml": f'[project]\nname = "p"\n{table}'})
    if "metadata" not in found:
        found = {**found, "optional-dependencies": {"t": []}}
    session = _session(extras=("t",))
    assert lockfile._project_dependencies(str(tmp_path), session, {"mode": "editable"}) == found
