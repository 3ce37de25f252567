"""Reuse in config: ``extends``, per-entry ``overrides`` of a python matrix, and ``build_env``
(docs/config.md). The merge rule is checked through the real loader; matrix overrides and build
variables through real runs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import RUNNING, Vrun, load_vrun_toml, other_python, vrun_toml_error, write_project
from vrun.config.load import Session

config = load_vrun_toml
error = vrun_toml_error


BASE = """
    [sessions.base]
    description = "the base"
    install_project = false
    deps = ["alpha", "beta"]
    pass_env = ["A_*"]
    env = { A = "1", B = "2" }
    tags = ["ci"]
    timeout = 60
    commands = ["pytest {posargs}"]
"""


def test_extends_inherits_and_own_keys_replace(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        BASE
        + """
    [sessions.child]
    extends = "base"
    deps = ["greet"]
    env = { B = "3", C = "4" }
    [sessions.grandchild]
    extends = "child"
    description = "mine"
    commands = ["ruff check"]
    """,
    )
    child, grand = c.sessions["child"], c.sessions["grandchild"]
    assert child.requirements == ("greet",)  # arrays replace
    assert child.env == (("A", "1"), ("B", "3"), ("C", "4"))  # env merges key by key
    assert child.pass_env == ("A_*",) and child.tags == ("ci",) and child.timeout == 60
    assert child.commands == c.sessions["base"].commands
    assert child.description == ""  # not inherited
    assert grand.requirements == ("greet",) and grand.env == child.env  # chains
    assert [cmd.argv for cmd in grand.commands] == [("ruff", "check")] and grand.description == "mine"
    assert list(c.sessions) == ["base", "child", "grandchild"]


def test_a_matrix_extends_and_is_extended(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        BASE
        + """
    [sessions.test]
    extends = "base"
    python = ["3.11", "3.12"]
    [sessions.test.overrides."3.12"]
    env = { DEV = "1" }
    [sessions.cov]
    extends = "test"
    deps = ["coverage"]
    [sessions.one]
    extends = "test"
    python = ["3.11"]
    """,
    )
    assert c.matrix["test"] == ("test-3.11", "test-3.12") and c.matrix["cov"] == ("cov-3.11", "cov-3.12")
    assert dict(c.sessions["test-3.12"].env)["DEV"] == "1" and "DEV" not in dict(c.sessions["test-3.11"].env)
    assert dict(c.sessions["cov-3.12"].env)["DEV"] == "1"  # overrides are inherited with the rest
    assert c.sessions["cov-3.12"].requirements == ("coverage",)
    assert c.matrix["one"] == ("one-3.11",)  # its inherited override for 3.12 has no entry: dropped


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('[sessions.a]\nextends = "a"', "sessions.a.extends", "extends cycle: a -> a"),
        (
            '[sessions.a]\nextends = "b"\n[sessions.b]\nextends = "c"\n[sessions.c]\nextends = "a"',
            "sessions.c.extends",
            "extends cycle: a -> b -> c -> a",
        ),
        ('[sessions.a]\nextends = "bsae"\n[sessions.base]', "sessions.a.extends", "unknown session 'bsae'"),
        ('[sessions.a]\nextends = ["b"]', "sessions.a.extends", "expected a string"),
        (
            '[sessions.a]\nextends = "t-3.12"\n[sessions.t]\npython = ["3.12"]',
            "sessions.a.extends",
            "unknown",
        ),
        # an error in an inherited value names the key where it was written
        ('[sessions.a]\nextends = "b"\n[sessions.b]\ndeps = ["not a req!"]', "sessions.b.deps[0]", "invalid"),
        ('[sessions.a]\ntemplate = "b"', "sessions.a.template", "unknown key"),
    ],
)
def test_extends_errors(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    err = error(tmp_path, text)
    assert err.key == key and fragment in err.message, (err.key, err.message)


def test_extends_hints(tmp_path: Path) -> None:
    assert error(tmp_path, '[sessions.a]\nextends = "bsae"\n[sessions.base]').hint == "did you mean 'base'?"
    err = error(tmp_path, '[sessions.a]\nextends = "t-3.12"\n[sessions.t]\npython = ["3.12"]')
    assert "t-3.12 is an entry of the matrix t" in str(err.hint)
    assert error(tmp_path, '[sessions.a]\ntemplate = "b"').hint == "did you mean 'extends'?"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            'python = ["3.11"]\n[sessions.t.overrides."3.12"]\nenv = {A = "1"}',
            'sessions.t.overrides."3.12"',
            "not in",
        ),
        ('python = "3.11"\n[sessions.t.overrides."3.11"]\nenv = {A = "1"}', "sessions.t.overrides", "no"),
        ('python = ["3.11"]\n[sessions.t.overrides."3.11"]\npython = "3.12"', '."3.11".python', "cannot be"),
        ('python = ["3.11"]\n[sessions.t.overrides."3.11"]\nrequires = []', '."3.11".requires', "cannot be"),
        ('python = ["3.11"]\n[sessions.t.overrides."3.11"]\nextends = "x"', '."3.11".extends', "cannot be"),
        ('python = ["3.11"]\n[sessions.t.overrides."3.11"]\nsetenv = {}', '."3.11".setenv', "unknown key"),
        ('python = ["3.11"]\noverrides = {"3.11" = 1}', 'sessions.t.overrides."3.11"', "expected a table"),
        (
            'python = ["3.11"]\n[sessions.t.overrides."3.11"]\ncommands = ["x {envdir}"]',
            'sessions.t.overrides."3.11".commands[0]',
            "unknown placeholder {envdir}",
        ),
    ],
)
def test_override_errors(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    err = error(tmp_path, "[sessions.t]\ninstall_project = false\n" + text)
    assert err.key is not None and err.key.endswith(key) and fragment in err.message, (err.key, err.message)


def test_override_changes_only_its_entry(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        [sessions.test]
        install_project = false
        python = ["3.11", "3.12"]
        env = { A = "1" }
        commands = ["pytest {posargs}"]
        [sessions.test.overrides."3.12"]
        env = { PYTHONDEVMODE = "1" }
        commands = ["pytest --deselect tests/test_x.py::test_y {posargs}"]
        tags = ["slow"]
        """,
    )
    old, new = c.sessions["test-3.11"], c.sessions["test-3.12"]
    assert old.env == (("A", "1"),) and new.env == (("A", "1"), ("PYTHONDEVMODE", "1"))
    assert new.commands[0].argv[1:3] == ("--deselect", "tests/test_x.py::test_y")
    assert old.tags == () and new.tags == ("slow",) and new.python == "3.12"


# --- real runs -------------------------------------------------------------------------------------


def test_matrix_override_reaches_only_its_entry(project: Path, vrun: Vrun) -> None:
    other = other_python(vrun.env)
    show = "import os, sys; print('ENTRY', sys.version_info[:2], os.environ.get('PYTHONDEVMODE'), sys.flags.dev_mode)"
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.base]
                install_project = false
                commands = [["python", "-c", "{show}"]]
                [sessions.test]
                extends = "base"
                python = ["{RUNNING}", "{other}"]
                [sessions.test.overrides."{other}"]
                env = {{ PYTHONDEVMODE = "1" }}
            """
        },
    )
    out = vrun("test", check=0).stdout
    major, minor = (int(x) for x in other.split("."))
    assert f"ENTRY ({major}, {minor}) 1 True" in out, out
    assert f"ENTRY ({sys.version_info[0]}, {sys.version_info[1]}) None False" in out, out


#: A setuptools project whose build writes ``demo_flag.FLAG`` from ``DEMO_FLAG`` in the build's
#: environment: what a ``FOO_NO_EXTENSIONS=1`` switch does to a real project.
BUILD_READS_A_VARIABLE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
    """,
    "setup.py": """
        import os
        from setuptools import setup
        from setuptools.command.build_py import build_py

        class BuildPy(build_py):
            def run(self):
                super().run()
                with open(os.path.join(self.build_lib, "demo_flag.py"), "w") as fh:
                    fh.write(f"FLAG = {os.environ.get('DEMO_FLAG', 'unset')!r}\\n")

        setup(name="demo", version="1.0", py_modules=["demo"], cmdclass={"build_py": BuildPy})
    """,
    "demo.py": "",
}
SESSION = """
    [sessions.s]
    install_project = "wheel"
    build_env = {{ DEMO_FLAG = "{flag}" }}
    commands = ["python -c 'import demo_flag; print(\\"FLAG\\", demo_flag.FLAG)'"]
"""


def env_dirs(project: Path) -> set[str]:
    return {p.name for p in (project / ".venvs").glob("s-*") if p.is_dir() and not p.is_symlink()}


def test_build_env_reaches_the_build_and_changes_the_env_key(project: Path, vrun: Vrun) -> None:
    write_project(project, {**BUILD_READS_A_VARIABLE, "vrun.toml": SESSION.format(flag="on")})
    vrun.env["DEMO_FLAG"] = "from-the-caller"  # build_env wins over the caller's environment
    first = vrun("s", check=0)
    assert "FLAG on" in first.stdout, first.stdout + first.stderr
    (project / "vrun.toml").write_text(textwrap.dedent(SESSION.format(flag="off")))
    second = vrun("s", check=0)
    assert "FLAG off" in second.stdout and "build variables changed" in second.stderr, second.stderr
    assert len(env_dirs(project)) == 2  # a new env: build_env is part of the env key


def test_build_env_in_the_keys(tmp_path: Path) -> None:
    from vrun.env.wheel import build_key
    from vrun.plan.envkey import compute_key
    from vrun.plan.interpreters import Interpreter

    interp = Interpreter(
        "/usr/bin/python3", "/usr/bin/python3", "CPython", "3.12.1", (3, 12, 1), 64, "x86_64"
    )
    cfg = config(
        tmp_path, '[sessions.s]\ninstall_project = false\nbuild_env = { X = "{project_root}/inc" }\n'
    )
    session = cfg.sessions["s"]
    assert session.build_env == (("X", f"{tmp_path}/inc"),)
    bare = Session(name="s", base_name="s", cwd=str(tmp_path))
    with_vars, without = (compute_key(s, cfg, interp, "uv", {}) for s in (session, bare))
    assert with_vars.digest != without.digest and "build_env" not in without.components
    plan = {"interpreter": {"implementation": "CPython", "version": "3.12.1", "machine": "x86_64"}}
    plan.update(install={"project": str(tmp_path)}, components=with_vars.components)
    assert build_key({**plan, "build_env": {"X": "1"}}, "editable") != build_key(
        {**plan, "build_env": {}}, "editable"
    )


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_build_env_reaches_the_installers_build_of_a_local_project(
    project: Path, vrun: Vrun, backend: str
) -> None:
    write_project(project, {f"lib/{name}": text for name, text in BUILD_READS_A_VARIABLE.items()})
    session = SESSION.replace(
        'install_project = "wheel"', f'install_project = false\ndeps = ["./lib"]\nbackend = "{backend}"'
    )
    write_project(project, {"vrun.toml": session.format(flag="on")})
    assert "FLAG on" in vrun("s", check=0).stdout
    (project / "vrun.toml").write_text(textwrap.dedent(session.format(flag="off")))
    assert "FLAG off" in vrun("s", check=0).stdout
