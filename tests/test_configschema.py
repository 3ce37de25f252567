"""vrun's JSON Schema (``tools/configschema.py``) cannot drift from the loader.

- The committed ``docs/*.schema.json`` files are what the generator writes now.
- Its keys are :data:`vrun.config.keys.TOP_KEYS` and :data:`~vrun.config.keys.SESSION_KEYS`; a key without a
  description stops the generator with a message saying what to add.
- It accepts every config in the repository (vrun.toml, example_project, the benchmark's) and every
  config the tests write that vrun loads; the docs' examples are checked by tests/test_docs.py.
- It rejects a typo'd key, a wrong type, a bad backend and the like, each of which vrun rejects too.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from tests.conftest import REPO, configschema, write_project
from tests.test_docs import make_inputs
from vrun._compat import tomllib
from vrun.config.keys import SESSION_KEYS, TOP_KEYS
from vrun.config.load import load_config
from vrun.errors import ConfigError, UsageError

SCHEMA = configschema.build_schema()
PYPROJECT_SCHEMA = configschema.build_pyproject_schema()
#: SchemaStore's pyproject.toml schema stands in as "anything" offline; tests check vrun's part.
_REGISTRY: Registry[Any] = Registry().with_resource(
    configschema.SCHEMASTORE_PYPROJECT,
    Resource.from_contents({"$schema": configschema.DRAFT, "type": "object"}),
)


def errors(instance: object, schema: dict[str, Any] = SCHEMA) -> list[str]:
    """The schema's complaints about ``instance``, each as ``path: message``."""
    validator = jsonschema.Draft7Validator(schema, registry=_REGISTRY)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(instance)]


def test_committed_schemas_are_generated() -> None:
    for name, text in configschema.files().items():
        committed = (REPO / "docs" / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/{name} is stale: run `{configschema.REGENERATE}` from the root"


def test_schemas_are_valid_draft_07() -> None:
    for schema in (SCHEMA, PYPROJECT_SCHEMA):
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
        jsonschema.Draft7Validator.check_schema(schema)


def test_keys_are_the_loaders() -> None:
    """Top level and session tables: exactly vrun's keys, in its order, each described, nothing else."""
    assert list(SCHEMA["properties"]) == list(TOP_KEYS)
    session = SCHEMA["definitions"]["session"]
    assert list(session["properties"]) == list(SESSION_KEYS)
    for table in (SCHEMA, session):
        assert table["additionalProperties"] is False
        for name, prop in table["properties"].items():
            assert prop["description"].strip(), name
    assert SCHEMA["properties"]["backend"]["enum"] == ["auto", "uv", "virtualenv"]


@pytest.mark.parametrize(
    ("where", "keys"), [("SESSION_KEYS", (*SESSION_KEYS, "sandbox")), ("TOP_KEYS", (*TOP_KEYS, "sandbox"))]
)
def test_a_new_key_without_description_stops_the_generator(
    where: str,
    keys: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A key another branch adds to vrun's key lists makes the generator fail, naming the key,
    where its description goes and the command that regenerates the files."""
    monkeypatch.setattr(configschema, where, keys)
    with pytest.raises(configschema.UndescribedKeyError) as info:
        configschema.build_schema()
    message = str(info.value)
    assert "sandbox" in message and configschema.REGENERATE in message
    assert ("SESSION_PROPERTIES" if where == "SESSION_KEYS" else "TOP_PROPERTIES") in message
    assert configschema.main(["--write", str(tmp_path)]) == 2
    assert "error: the JSON Schema has no description for" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_described_key_vrun_dropped_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configschema, "SESSION_KEYS", tuple(k for k in SESSION_KEYS if k != "tags"))
    with pytest.raises(configschema.UndescribedKeyError, match="describes tags, which vrun no longer has"):
        configschema.build_schema()


def test_main_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert configschema.main([]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA
    assert configschema.main(["--pyproject"]) == 0
    assert json.loads(capsys.readouterr().out) == PYPROJECT_SCHEMA
    assert configschema.main(["--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(configschema.files())


def test_patterns_are_portable() -> None:
    """Editors validate with ECMA-262 regular expressions: no Python-only syntax in a pattern."""

    def patterns(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    yield value
                yield from patterns(value)
        elif isinstance(node, list):
            for item in node:
                yield from patterns(item)

    found = list(patterns(SCHEMA))
    assert len(found) >= 5
    for pattern in found:
        re.compile(pattern)
        assert not re.search(r"\(\?P|\(\?[aiLmsux]|\\[AZ]|\(\?#", pattern), pattern


# --- what it accepts --------------------------------------------------------------------------


def _benchmark_config() -> str:
    """The vrun.toml that benchmarks/run.py writes."""
    spec = importlib.util.spec_from_file_location("vrun_benchmark_run", REPO / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        text: str = module.vrun_toml(["3.11", "3.12"])
    finally:
        del sys.modules[spec.name]
    return text


def test_accepts_the_repositorys_configs() -> None:
    configs = {
        "vrun.toml": (REPO / "vrun.toml").read_text(encoding="utf-8"),
        "example_project/vrun.toml": (REPO / "example_project" / "vrun.toml").read_text(encoding="utf-8"),
        "benchmarks/run.py": _benchmark_config(),
    }
    for where, text in configs.items():
        assert not errors(tomllib.loads(text)), where
    for pyproject in (REPO / "pyproject.toml", REPO / "example_project" / "pyproject.toml"):
        assert not errors(tomllib.loads(pyproject.read_text(encoding="utf-8")), PYPROJECT_SCHEMA), pyproject


def _fixture_configs() -> list[tuple[str, str, str]]:
    """``(where, file name, text)`` of every vrun.toml, and every pyproject.toml with [tool.vrun],
    the tests write as a literal: ``{"vrun.toml": "..."}`` and ``(... / "vrun.toml").write_text("...")``."""
    found = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            pairs: list[tuple[ast.expr | None, ast.expr]] = []
            if isinstance(node, ast.Dict):
                pairs = list(zip(node.keys, node.values))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "write_text"
                and isinstance(node.func.value, ast.BinOp)
                and node.args
            ):
                pairs = [(node.func.value.right, node.args[0])]
            for key, value in pairs:
                if not (isinstance(key, ast.Constant) and key.value in ("vrun.toml", "pyproject.toml")):
                    continue
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    text = textwrap.dedent(value.value).lstrip("\n")
                    if key.value == "vrun.toml" or "[tool.vrun" in text:
                        found.append((f"{path.name}:{value.lineno}", key.value, text))
    return found


FIXTURE_CONFIGS = _fixture_configs()


def test_every_config_vrun_loads_in_the_tests_passes_the_schema(tmp_path: Path) -> None:
    """The schema never flags a config vrun accepts: each literal config of the test suite that
    parses and loads (once the files it names exist) passes it."""
    loaded = 0
    for i, (where, name, text) in enumerate(FIXTURE_CONFIGS):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue  # a test of vrun's TOML error
        config = data.get("tool", {}).get("vrun") if name == "pyproject.toml" else data
        if not isinstance(config, dict):
            continue
        root = tmp_path / str(i)
        root.mkdir()
        try:
            extra = make_inputs(root, config, data)
        except (AttributeError, TypeError, OSError):
            continue  # a wrongly typed config: vrun's error is another test's
        if name == "vrun.toml" and extra:
            write_project(root, {"pyproject.toml": extra})
        (root / name).write_text(text if name == "vrun.toml" else text + "\n" + extra, encoding="utf-8")
        try:
            load_config(root / name)
        except (ConfigError, UsageError):
            continue  # the loader is stricter than the schema: nothing to compare
        loaded += 1
        assert not errors(config), f"{where}: vrun loads it, the schema rejects it: {errors(config)}"
    assert loaded > 50, f"only {loaded} of {len(FIXTURE_CONFIGS)} fixture configs loaded"


# --- what it rejects --------------------------------------------------------------------------

#: Configs with one mistake each, and the JSON path the schema names. vrun rejects each too.
REJECTED = {
    "typo'd session key": ('[sessions.test]\ndepz = ["pytest"]', "$.sessions.test"),
    "typo'd top-level key": ('sesions = {}\n[sessions.test]\ncommands = ["pytest"]', "$"),
    "python as a float": ("[sessions.test]\npython = 3.10", "$.sessions.test.python"),
    "deps as a string": ('[sessions.test]\ndeps = "pytest"', "$.sessions.test.deps"),
    "a bad backend": ('backend = "pipenv"\n[sessions.test]\ncommands = ["pytest"]', "$.backend"),
    "a bad session backend": ('[sessions.test]\nbackend = "conda"', "$.sessions.test.backend"),
    "install_project develop": (
        '[sessions.test]\ninstall_project = "develop"',
        "$.sessions.test.install_project",
    ),
    "a session name with a space": ('[sessions."my test"]\ncommands = ["pytest"]', "$.sessions"),
    "a session named like a command": ('[sessions.list]\ncommands = ["pytest"]', "$.sessions"),
    "an empty matrix": ("[sessions.test]\npython = []", "$.sessions.test.python"),
    "a top-level matrix": ('python = ["3.11", "3.12"]\n[sessions.test]\ncommands = ["pytest"]', "$.python"),
    "a zero timeout": ("[sessions.test]\ntimeout = 0", "$.sessions.test.timeout"),
    "a boolean timeout": ("[sessions.test]\ntimeout = true", "$.sessions.test.timeout"),
    "VIRTUAL_ENV in env": ('[sessions.test]\nenv = { VIRTUAL_ENV = "/x" }', "$.sessions.test.env"),
    "a number in env": ("[sessions.test]\nenv = { N = 1 }", "$.sessions.test.env.N"),
    "a value in pass_env": ('[sessions.test]\npass_env = ["A=B"]', "$.sessions.test.pass_env[0]"),
    "an empty argv": ("[sessions.test]\ncommands = [[]]", "$.sessions.test.commands[0]"),
    "a blank command": ('[sessions.test]\ncommands = ["  "]', "$.sessions.test.commands[0]"),
    "a bad extra name": ('[sessions.test]\nextras = ["-x"]', "$.sessions.test.extras[0]"),
    "a session that is not a table": ('[sessions]\ntest = "pytest"', "$.sessions.test"),
    "default as a string": ('default = "test"\n[sessions.test]\ncommands = ["pytest"]', "$.default"),
}


@pytest.mark.parametrize(("text", "path"), list(REJECTED.values()), ids=list(REJECTED))
def test_rejects_a_mistake_vrun_rejects(text: str, path: str, tmp_path: Path) -> None:
    data = tomllib.loads(text)
    found = errors(data)
    assert found, "the schema accepts it"
    assert any(error.startswith(path + ":") for error in found), found
    write_project(tmp_path, {"pyproject.toml": '[project]\nname = "p"\nversion = "1"\n', "vrun.toml": text})
    with pytest.raises(ConfigError):
        load_config(tmp_path / "vrun.toml")


def test_the_pyproject_schema_checks_tool_vrun_only() -> None:
    good = {
        "project": {"name": "p"},
        "tool": {"vrun": {"sessions": {"t": {"deps": ["x"]}}}, "ruff": {"x": 1}},
    }
    assert not errors(good, PYPROJECT_SCHEMA)
    bad = {"tool": {"vrun": {"sessions": {"t": {"depz": ["x"]}}}}}
    assert [e.split(":")[0] for e in errors(bad, PYPROJECT_SCHEMA)] == ["$.tool.vrun.sessions.t"]


def test_docs_url_is_the_sites_and_the_projects() -> None:
    """One documentation URL: the schema's links, pyproject's Documentation, mkdocs' site_url."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["urls"]["Documentation"] == configschema.DOCS_URL
    mkdocs = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^site_url: (\S+)$", mkdocs, re.M)[1] == configschema.DOCS_URL  # type: ignore[index]
