"""Values of the wrong shape in the files vrun reads but does not validate: a ``pyproject.toml``
whose ``[project]`` or ``tool`` is not a table, a ``tox.toml`` reference path that is not strings,
an interpreter cache entry that is not a path. Each is read as absent, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vrun.commands.completion import session_names
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
