"""Values of the wrong shape in the files vrun reads but does not validate: a ``pyproject.toml``
whose ``[project]`` or ``tool`` is not a table, a ``tox.toml`` reference path that is not strings,
an interpreter cache entry that is not a path. Each is read as absent, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vrun.plan.interpreters import CACHE_FILE, find_interpreter


def test_a_spec_cached_as_a_non_path_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_text(json.dumps({"schema": 1, "facts": {}, "specs": {"k": ["x"], "j": {}}}))
    interp = find_interpreter(None, cache_dir=tmp_path)
    assert interp.version_info == tuple(sys.version_info[:3])
    specs = json.loads((tmp_path / CACHE_FILE).read_text())["specs"]
    assert list(specs.values()) == [interp.executable]
