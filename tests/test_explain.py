"""``vrun explain`` and ``vrun show``: the env key's inputs and how they changed; a session as it runs.

One env is built for real, once for the module (:func:`built`), to check that ``explain`` reads a
real marker and says "reused as is", then how a real edit differs from it. Every other kind of
change is compared with a marker planted from ``explain --json``'s own components (the same
:func:`vrun.plan.envkey.compute_key` a build records, as the built env shows), edited where a change
cannot be made for real (an interpreter upgrade), so no further env is built.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Vrun, demo_project, offline_environ, other_python, write_project
from vrun.commands.explain import explanation_lines
from vrun.env.rebuild import describe, differences, explain_change, redact

PROJECT = {
    "vrun.toml": """
        [sessions.test]
        deps = ["alpha", "-r requirements.txt", "-c constraints.txt"]
        groups = ["tools"]
        commands = ["python -c 'import alpha, beta, greet, demo'"]
        """,
    **demo_project(
        dependencies=["beta"],
        optional={"fast": ["greet"]},
        groups={"tools": ["greet"]},
        layout="module",
        source="VALUE = 1\n",
    ),
    "requirements.txt": "beta\n",
    "constraints.txt": "alpha<2\n",
}


def explain_json(vrun: Vrun, *args: str) -> list[dict[str, Any]]:
    result = vrun("explain", "--json", *args, check=0)
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, text)
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- one real env ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Vrun:
    """The project with its env built for real (offline), once for the module."""
    root = tmp_path_factory.mktemp("explain") / "proj"
    root.mkdir()
    write_project(root, PROJECT)
    # a vrun cache of its own: a test checks that explain stores no plan in it
    vrun = Vrun(root, offline_environ(wheelhouse, root.parent / "cache", root.parent / "home"))
    vrun("test", check=0)
    return vrun


def plans(vrun: Vrun) -> list[str]:
    return sorted(os.listdir(Path(vrun.env["VRUN_CACHE_DIR"]) / "plans"))


def test_a_built_env_is_reused_as_is(built: Vrun) -> None:
    stored = plans(built)
    result = built("explain", "test", check=0)
    assert "env on disk: reused as is" in result.stdout
    [item] = explain_json(built, "test")
    assert item["state"] == "ready" and item["reused"] and item["reason"] == ""
    assert item["changes"] == [] and item["compared_with"] is None
    marker = json.loads((Path(item["env_dir"]) / "vrun.json").read_text())
    assert marker["components"] == item["components"] and marker["digest"] == item["env_key"]
    for name, value in item["components"].items():  # every input, with its value or digest
        assert f"    {name}:" in result.stdout
        if isinstance(value, str):
            assert f"    {name}: {value}" in result.stdout
    assert (
        "      requirements.txt: " + item["components"]["requirement_files"]["requirements.txt"]
        in result.stdout
    )
    assert f"  env: {item['env_dir']}" in result.stdout
    assert plans(built) == stored  # explain stores no plan


def test_a_real_edit_is_compared_with_the_built_env(built: Vrun) -> None:
    config = built.cwd / "vrun.toml"
    original = config.read_text()
    [before] = explain_json(built, "test")
    try:
        edit(config, '"alpha", ', '"alpha", "greet", ')
        result = built("explain", "test", check=0)
        [item] = explain_json(built, "test")
    finally:
        config.write_text(original)
    assert item["state"] == "stale" and not item["reused"]
    assert item["reason"] == "requirements changed: +greet"  # the line the build would log
    assert item["compared_with"] == {
        "env_dir": before["env_dir"],
        "env_key": before["env_key"],
        "last_used": True,
    }
    assert [c["text"] for c in item["changes"]] == ["requirement added: greet"]
    assert "env on disk: rebuilt by the next run\n" in result.stdout
    assert f"what differs from {Path(before['env_dir']).name} (the env it used last):" in result.stdout
    assert "    requirement added: greet" in result.stdout
    assert not Path(item["env_dir"]).exists()  # nothing built


# --- every kind of change, against a planted marker --------------------------------------------


def plant(vrun: Vrun, components: dict[str, Any], digest: str = "0123456789", *, link: bool = True) -> Path:
    """An env directory holding only a marker with ``components``, as a build writes it."""
    env = vrun.cwd / ".venvs" / f"test-{digest}"
    env.mkdir(parents=True)
    marker = {
        "schema": components["schema"],
        "session": "test",
        "digest": digest,
        "location": str(env),
        "components": components,
        "interpreter": {"base_executable": sys.executable, "version": "x"},
        "backend": components["backend"],
        "created": time.time(),
    }
    (env / "vrun.json").write_text(json.dumps(marker))
    if link:
        (vrun.cwd / ".venvs" / "test").symlink_to(env.name)
    return env


@pytest.fixture
def recorded(project: Path, vrun: Vrun) -> Iterator[dict[str, Any]]:
    """The project, explained before any env exists; its components recorded in a planted marker."""
    write_project(project, PROJECT)
    [item] = explain_json(vrun, "--backend", "uv", "test")
    assert item["state"] == "absent" and item["compared_with"] is None and item["reason"] == "new env"
    yield item


def texts(item: dict[str, Any]) -> list[str]:
    return [change["text"] for change in item["changes"]]


CHANGES: dict[str, tuple[Callable[[Path], None], list[str], str]] = {
    "requirement added": (
        lambda p: edit(p / "vrun.toml", '"alpha", ', '"alpha", "greet>=1", '),
        ["requirement added: greet>=1"],
        "requirements changed: +greet>=1",
    ),
    "requirement removed": (
        lambda p: edit(p / "vrun.toml", '"alpha", ', ""),
        ["requirement removed: alpha"],
        "requirements changed: -alpha",
    ),
    "-r file edited": (
        lambda p: (p / "requirements.txt").write_text("beta\ngreet\n"),
        ["-r file changed: requirements.txt"],
        "requirements changed: requirements.txt",
    ),
    "-c file edited": (
        lambda p: (p / "constraints.txt").write_text("alpha<1.5\n"),
        ["-c file changed: constraints.txt"],
        "constraints changed: constraints.txt",
    ),
    "dependency group changed": (
        lambda p: edit(p / "pyproject.toml", 'tools = ["greet"]', 'tools = ["greet", "alpha>=1"]'),
        ["dependency group requirement added: alpha>=1"],
        "dependency groups changed",
    ),
    "dependency group added": (
        lambda p: (
            edit(p / "vrun.toml", 'groups = ["tools"]', 'groups = ["tools", "more"]'),
            edit(p / "pyproject.toml", 'tools = ["greet"]', 'tools = ["greet"]\nmore = ["alpha"]'),
        ),
        ["dependency group added: more", "dependency group requirement added: alpha"],
        "dependency groups changed",
    ),
    "extra added": (
        lambda p: edit(p / "vrun.toml", 'groups = ["tools"]', 'groups = ["tools"]\nextras = ["fast"]'),
        ["extra added: fast"],
        "extras changed: +fast",
    ),
    "project dependency changed": (
        lambda p: edit(p / "pyproject.toml", 'dependencies = ["beta"]', 'dependencies = ["beta", "alpha"]'),
        ["project metadata file changed: pyproject.toml"],
        "project metadata changed: pyproject.toml",
    ),
    "install mode changed": (
        lambda p: edit(
            p / "vrun.toml", 'groups = ["tools"]', 'groups = ["tools"]\ninstall_project = "wheel"'
        ),
        ["install_project changed: editable -> wheel"],
        "project metadata changed: mode",
    ),
}


@pytest.mark.parametrize("kind", CHANGES)
def test_each_kind_of_change(kind: str, recorded: dict[str, Any], project: Path, vrun: Vrun) -> None:
    change, expected, reason = CHANGES[kind]
    planted = plant(vrun, recorded["components"])
    change(project)
    [item] = explain_json(vrun, "--backend", "uv", "test")
    assert item["state"] == "stale" and item["reason"] == reason
    assert item["compared_with"] == {"env_dir": str(planted), "env_key": "0123456789", "last_used": True}
    found = texts(item)
    assert len(found) == len(expected), found
    for text, start in zip(found, expected):
        assert text.startswith(start), (text, start)
    text = vrun("explain", "--backend", "uv", "test", check=0).stdout
    assert "env on disk: rebuilt by the next run\n" in text
    assert all(f"    {line}" in text for line in found)


def test_a_changed_file_shows_both_digests(recorded: dict[str, Any], project: Path, vrun: Vrun) -> None:
    plant(vrun, recorded["components"])
    (project / "requirements.txt").write_text("beta\ngreet\n")
    [item] = explain_json(vrun, "--backend", "uv", "test")
    old = recorded["components"]["requirement_files"]["requirements.txt"]
    new = item["components"]["requirement_files"]["requirements.txt"]
    assert old != new
    [change] = item["changes"]
    assert change["text"] == f"-r file changed: requirements.txt ({old} -> {new})"
    assert change["component"] == "requirement_files" and change["path"] == ["requirements.txt"]
    assert (change["change"], change["before"], change["after"]) == ("changed", old, new)


def test_a_nested_file_going_missing(project: Path, vrun: Vrun) -> None:
    write_project(project, {**PROJECT, "requirements.txt": "beta\n-r more.txt\n", "more.txt": "greet\n"})
    [before] = explain_json(vrun, "--backend", "uv", "test")
    plant(vrun, before["components"])
    (project / "more.txt").unlink()
    [item] = explain_json(vrun, "--backend", "uv", "test")
    digest = before["components"]["requirement_files"]["more.txt"]
    assert texts(item) == [f"-r file changed: more.txt ({digest} -> missing)"]


def test_backend_changed(recorded: dict[str, Any], vrun: Vrun) -> None:
    plant(vrun, recorded["components"])
    [item] = explain_json(vrun, "--backend", "virtualenv", "test")
    assert "backend changed: uv -> virtualenv" in texts(item)
    assert "backend changed" in item["reason"]
    # uv's key holds uv's variables and pip's (carried into uv's); pip's holds only pip's
    assert "installer variable removed: UV_FIND_LINKS" in texts(item)
    assert not [t for t in texts(item) if "PIP_FIND_LINKS" in t]


def test_interpreter_upgraded_in_a_recorded_marker(recorded: dict[str, Any], vrun: Vrun) -> None:
    """An upgrade simulated: the recorded marker says an older patch release of the same Python."""
    components = dict(recorded["components"])
    implementation, version, rest = components["python"].split(" ", 2)
    major, minor, micro = version.split(".")[:3]
    older = f"{major}.{minor}.{int(micro) - 1}" if micro.isdigit() and int(micro) > 0 else f"{major}.0.0"
    components["python"] = f"{implementation} {older} {rest}"
    plant(vrun, components)
    [item] = explain_json(vrun, "--backend", "uv", "test")
    assert texts(item) == [f"interpreter upgraded: {implementation} {older} -> {version}"]
    assert item["reason"] == f"python changed: {components['python']} -> {recorded['components']['python']}"


def test_another_interpreter(recorded: dict[str, Any], project: Path, vrun: Vrun) -> None:
    other = other_python(vrun.env)
    plant(vrun, recorded["components"])
    edit(project / "vrun.toml", 'groups = ["tools"]', f'groups = ["tools"]\npython = "{other}"')
    [item] = explain_json(vrun, "--backend", "uv", "test")
    [change] = [c for c in item["changes"] if c["component"] == "python"]
    old = recorded["components"]["python"].split()[1]
    new = item["components"]["python"].split()[1]
    verb = "upgraded" if tuple(map(int, new.split("."))) > tuple(map(int, old.split("."))) else "downgraded"
    assert change["text"].startswith(f"interpreter {verb}: CPython {old} -> {new} (")
    assert item["reason"].startswith("python changed: CPython")


def test_no_env_yet(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    result = vrun("explain", "test", check=0)
    assert "env on disk: none yet; the next run builds it" in result.stdout
    assert not (project / ".venvs").exists()


def test_an_interrupted_build(recorded: dict[str, Any], vrun: Vrun) -> None:
    Path(recorded["env_dir"]).mkdir(parents=True)  # the env of this key, without its marker
    [item] = explain_json(vrun, "--backend", "uv", "test")
    assert item["state"] == "incomplete" and item["reason"] == "the previous build was incomplete"
    text = vrun("explain", "--backend", "uv", "test", check=0).stdout
    assert "env on disk: rebuilt by the next run (the previous build was incomplete)" in text


def test_without_the_last_used_link_the_most_recent_env(recorded: dict[str, Any], vrun: Vrun) -> None:
    older = plant(vrun, {**recorded["components"], "extras": ["x"]}, "1111111111", link=False)
    os.utime(older / "vrun.json", (1, 1))
    newer = plant(vrun, {**recorded["components"], "requirements": ["alpha", "zeta"]}, link=False)
    [item] = explain_json(vrun, "--backend", "uv", "test")
    assert item["compared_with"] == {"env_dir": str(newer), "env_key": "0123456789", "last_used": False}
    assert texts(item) == ["requirement removed: zeta"]
    assert item["reason"] == "requirements changed: -zeta"  # what the build logs, compared the same way
    text = vrun("explain", "--backend", "uv", "test", check=0).stdout
    assert "(its most recently used env)" in text


def test_json_shape(recorded: dict[str, Any], vrun: Vrun) -> None:
    assert set(recorded) == {
        "session",
        "base_name",
        "python",
        "error",
        "env_dir",
        "env_key",
        "components",
        "state",
        "reused",
        "reason",
        "compared_with",
        "changes",
        "versions",
        "env_file",
    }
    # no lock file: the installer resolves (docs/lock.md, "uv.lock", for where else versions come from)
    assert recorded["versions"] == {
        "lock": None,
        "text": "resolved afresh by the installer (no lock file applies)",
        "pins": [],
    }
    assert Path(recorded["env_dir"]).name == f"test-{recorded['env_key']}"
    assert list(recorded["components"]) == [
        "schema",
        "python",
        "requirements",
        "requirement_files",
        "constraint_files",
        "groups",
        "extras",
        "project",
        "local",
        "installer",
        "system_site_packages",
        "backend",
    ]
    plant(vrun, recorded["components"])
    edit(vrun.cwd / "vrun.toml", '"alpha", ', '"alpha>=1", ')
    [item] = explain_json(vrun, "--backend", "uv", "test")
    assert item["changes"] == [
        {
            "component": "requirements",
            "path": [],
            "change": "removed",
            "before": "alpha",
            "after": None,
            "text": "requirement removed: alpha",
        },
        {
            "component": "requirements",
            "path": [],
            "change": "added",
            "before": None,
            "after": "alpha>=1",
            "text": "requirement added: alpha>=1",
        },
    ]


# --- a component vrun does not know (one a newer vrun adds) -------------------------


def test_an_unknown_component_is_listed_and_compared_generically() -> None:
    old = {"requirements": ["a"], "sbom": {"bom.json": "1111"}}
    new = {"requirements": ["a"], "sbom": {"bom.json": "2222"}, "sandbox": True}
    assert explain_change(old, new) == "sbom changed: bom.json; sandbox changed"
    assert [describe(d) for d in differences(old, new)] == [
        "sbom changed: bom.json (1111 -> 2222)",
        "sandbox added: true",
    ]
    item = {
        "session": "test",
        "error": None,
        "env_dir": "/p/.venvs/test-0123456789",
        "env_key": "0123456789",
        "components": new,
        "reused": True,
        "state": "ready",
        "reason": "",
        "compared_with": None,
        "changes": [],
        "versions": None,
        "env_file": [],
    }
    lines = explanation_lines(item)
    assert "    sbom:" in lines and "      bom.json: 2222" in lines and "    sandbox: true" in lines


def test_passwords_in_urls_are_redacted() -> None:
    assert redact("https://user:s3cret@pypi.example/simple") == "https://user:****@pypi.example/simple"
    assert redact("https://TOKEN@pypi.example/simple") == "https://****@pypi.example/simple"
    assert redact("alpha @ file:///x") == "alpha @ file:///x"
    old = {"installer": {"variables": {"PIP_INDEX_URL": "https://u:old@a/simple"}}}
    new = {"installer": {"variables": {"PIP_INDEX_URL": "https://u:new@a/simple"}}}
    [diff] = differences(old, new)
    assert diff["text"] == "installer variable changed: PIP_INDEX_URL (a password in it changed)"
    new["installer"]["variables"]["PIP_INDEX_URL"] = "https://u:new@b/simple"
    [diff] = differences(old, new)
    assert diff["text"] == (
        "installer variable changed: PIP_INDEX_URL (https://u:****@a/simple -> https://u:****@b/simple)"
    )


# --- vrun show ---------------------------------------------------------------------------------

SHOWN = {
    "vrun.toml": """
        [sessions.test]
        description = "Run the tests"
        deps = ["alpha", "-r requirements.txt"]
        install_project = false
        commands = [
            "greet {posargs:-q}",
            "python -c 'print(1)' {env_dir} {session} --root={project_root} x{posargs}y",
        ]
        env = { WHERE = "{session}@{project_root}" }
        pass_env = ["SECRET_*", "CI_RUNNER_NAME"]
        timeout = 90
        tags = ["ci"]
        requires = ["lint"]

        [sessions.lint]
        install_project = false
        commands = ["python -c 'print(2)'"]
        """,
    "requirements.txt": "beta\n",
}


def show_json(vrun: Vrun, *args: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(vrun("show", "--json", *args, check=0).stdout)
    return data


def test_show_expands_placeholders_with_posargs(project: Path, vrun: Vrun) -> None:
    write_project(project, SHOWN)
    [item] = show_json(vrun, "test", "--", "-k", "two words")
    env_dir = item["env_dir"]
    assert Path(env_dir).parent == project / ".venvs" and Path(env_dir).name == f"test-{item['env_key']}"
    assert [c["argv"] for c in item["commands"]] == [
        ["greet", "-k", "two words"],
        ["python", "-c", "print(1)", env_dir, "test", f"--root={project}", "x-k 'two words'y"],
    ]
    text = vrun("show", "test", "--", "-k", "two words", check=0).stdout
    assert "    greet -k 'two words'" in text
    assert f"    python -c 'print(1)' {env_dir} test --root={project} 'x-k '\"'\"'two words'\"'\"'y'" in text
    [default] = show_json(vrun, "test")  # no posargs: the defaults
    assert default["commands"][0]["argv"] == ["greet", "-q"] and default["commands"][1]["argv"][-1] == "xy"
    [empty] = show_json(vrun, "test", "--")  # `--` alone: no posargs, not the default
    assert empty["commands"][0]["argv"] == ["greet"]


def test_show_lists_the_resolved_session(project: Path, vrun: Vrun) -> None:
    write_project(project, SHOWN)
    [item] = show_json(vrun, "test")
    assert item["python"]["spec"] is None and item["python"]["version"] == ".".join(
        map(str, sys.version_info[:3])
    )
    assert item["requirements"] == ["alpha"] and item["requirement_files"] == ["requirements.txt"]
    assert item["install_project"] is None and item["backend"] in ("uv", "virtualenv")
    assert item["cwd"] == str(project) and item["timeout"] == 90 and item["requires"] == ["lint"]
    assert item["tags"] == ["ci"] and item["env_ready"] is False and item["takes_posargs"] is True
    text = vrun("show", "test", check=0).stdout
    for line in (
        "session test: Run the tests",
        f"  python: (vrun's) -> {item['python']['implementation']} {item['python']['version']} ",
        "  requirements: alpha",
        "  -r files: requirements.txt",
        "  install_project: false",
        f"  cwd: {project}",
        "  timeout: 90s",
        "  requires: lint",
        "  tags: ci",
    ):
        assert line in text, line


def test_show_gives_set_env_values_and_only_the_names_of_passed_variables(project: Path, vrun: Vrun) -> None:
    write_project(project, SHOWN)
    vrun.env.update(SECRET_TOKEN="hunter2-value", SECRET_KEY="another-secret", LANG="C.UTF-8")
    vrun.env.pop("CI_RUNNER_NAME", None)
    [item] = show_json(vrun, "test")
    assert item["set_env"] == {"WHERE": f"test@{project}"}
    assert item["pass_env"] == {"SECRET_*": ["SECRET_KEY", "SECRET_TOKEN"], "CI_RUNNER_NAME": []}
    assert "LANG" in item["passed_by_default"] and "SECRET_TOKEN" not in item["passed_by_default"]
    result = vrun("show", "test", check=0)
    assert f"    WHERE=test@{project}" in result.stdout
    assert "    SECRET_*: SECRET_KEY, SECRET_TOKEN" in result.stdout
    assert "    CI_RUNNER_NAME: none set" in result.stdout
    json_text = vrun("show", "--json", "test", check=0).stdout
    for out in (result.stdout, result.stderr, json_text):
        assert "hunter2" not in out and "another-secret" not in out


def test_show_and_explain_expand_matrix_names(project: Path, vrun: Vrun) -> None:
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.test]
                python = ["{running}", "3.99"]
                install_project = false
                commands = ["python -c 'print(1)'"]
                """
        },
    )
    for command in ("show", "explain"):
        result = vrun(command, "--json", "test", check=2)  # 3.99 is missing: reported, exit 2
        items = json.loads(result.stdout)
        assert [i["session"] for i in items] == [f"test-{running}", "test-3.99"]
        assert items[0]["error"] is None and items[0]["env_dir"]
        assert "no Python matching '3.99'" in items[1]["error"] and items[1]["env_dir"] is None
        assert result.stderr.count("error:") == 1 and "3.99" in result.stderr
        assert [
            i["session"] for i in json.loads(vrun(command, "--json", f"test-{running}", check=0).stdout)
        ] == [f"test-{running}"]


@pytest.mark.parametrize("command", ["show", "explain"])
def test_an_unknown_session_is_one_error(command: str, project: Path, vrun: Vrun) -> None:
    write_project(project, SHOWN)
    result = vrun(command, "tset", check=2)
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "'tset'" in errors[0], result.stderr
    assert "did you mean 'test'?" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_explain_takes_no_posargs(project: Path, vrun: Vrun) -> None:
    write_project(project, SHOWN)
    result = vrun("explain", "test", "--", "-x", check=2)
    assert "vrun explain takes no posargs" in result.stderr


def test_show_warns_about_posargs_a_session_does_not_take(project: Path, vrun: Vrun) -> None:
    write_project(project, SHOWN)
    result = vrun("show", "lint", "--", "-x", check=0)
    assert "session lint does not take posargs" in result.stderr
    assert "    python -c 'print(2)'" in result.stdout


def test_the_docs_examples_run(project: Path, vrun: Vrun) -> None:
    from tests.test_docs import PROJECT as DOCS_PROJECT
    from tests.test_docs import _shown

    write_project(project, DOCS_PROJECT)
    assert "env on disk: none yet" in vrun(*_shown("vrun explain test"), check=0).stdout
    assert "greet -k x" in vrun(*_shown("vrun show test -- -k x"), check=0).stdout
    assert json.loads(vrun("explain", "--json", "test", check=0).stdout)[0]["state"] == "absent"
