"""Tests for vrun.config.load: discovery, parsing, and every validation rule (pure unit tests)."""

from __future__ import annotations

import shlex
import textwrap
from pathlib import Path

import pytest

from vrun.config.load import (
    BUILTIN_COMMANDS,
    Command,
    Config,
    find_config,
    load_config,
    load_project_config,
)
from vrun.errors import EXIT_USAGE, ConfigError, UsageError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, name: str = "vrun.toml") -> Config:
    return load_config(write(tmp_path / name, text))


def load_error(tmp_path: Path, text: str, name: str = "vrun.toml") -> ConfigError:
    path = write(tmp_path / name, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert error.exit_code == EXIT_USAGE
    assert error.path == path
    assert str(error).startswith(str(path))
    return error


# --- discovery ---------------------------------------------------------------------------------


def test_find_config_walks_up_to_nearest(tmp_path: Path) -> None:
    outer = write(tmp_path / "vrun.toml", "")
    inner = write(tmp_path / "a" / "vrun.toml", "")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config(deep) == inner
    assert find_config(tmp_path / "a") == inner
    assert find_config(tmp_path) == outer


def test_find_config_takes_pyproject_with_tool_vrun(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", "[tool.vrun.sessions.t]\n")
    (tmp_path / "sub").mkdir()
    assert find_config(tmp_path / "sub") == pyproject


def test_find_config_skips_pyproject_without_tool_vrun(tmp_path: Path) -> None:
    outer = write(tmp_path / "vrun.toml", "")
    write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'x'\n[tool.other]\n")
    assert find_config(tmp_path / "pkg") == outer


def test_find_config_relative_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "vrun.toml", "")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    found = find_config(Path("sub"))
    assert found == config
    assert found.is_absolute()


def test_find_config_none_found(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(UsageError) as info:
        find_config(tmp_path)
    assert info.value.exit_code == EXIT_USAGE
    assert info.value.message == (
        f"no vrun.toml or [tool.vrun] in pyproject.toml found in {tmp_path} or any parent"
    )


def test_find_config_broken_pyproject_on_the_way(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", "[tool.vrun\n")
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path)
    assert info.value.path == path
    assert info.value.line == 1


def test_vrun_toml_wins_over_pyproject_with_notice(tmp_path: Path) -> None:
    write(tmp_path / "vrun.toml", "[sessions.from_vrun]\n")
    write(tmp_path / "pyproject.toml", "[tool.vrun.sessions.from_pyproject]\n")
    config, notices = load_project_config(tmp_path)
    assert config.path == tmp_path / "vrun.toml"
    assert list(config.sessions) == ["from_vrun"]
    assert len(notices) == 1
    assert "both vrun.toml and [tool.vrun] in pyproject.toml define vrun config" in notices[0]
    assert notices[0].endswith("using vrun.toml")


def test_no_notice_when_pyproject_has_no_tool_vrun(tmp_path: Path) -> None:
    write(tmp_path / "vrun.toml", "[sessions.a]\n")
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    _config, notices = load_project_config(tmp_path / ".")
    assert notices == []


def test_load_from_pyproject(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [tool.vrun]
        python = "3.12"
        default = ["lint"]
        [tool.vrun.sessions.lint]
        commands = ["ruff check ."]
        """,
    )
    config, notices = load_project_config(tmp_path)
    assert notices == []
    assert config.path == tmp_path / "pyproject.toml"
    assert config.root == tmp_path
    assert config.python == "3.12"
    assert config.default == ("lint",)
    assert config.sessions["lint"].python == "3.12"


def test_pyproject_errors_name_tool_vrun_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[tool.vrun.sessions.a]\ndesc = 'x'\n", name="pyproject.toml")
    assert error.key == "tool.vrun.sessions.a.desc"


def test_load_config_pyproject_without_tool_vrun(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[project]\nname = 'x'\n", name="pyproject.toml")
    assert "no [tool.vrun] table" in error.problem


def test_tool_vrun_not_a_table(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[tool]\nvrun = 1\n", name="pyproject.toml")
    assert error.key == "tool.vrun"
    assert "got an integer (1)" in error.problem


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "vrun.toml")
    assert "cannot read" in info.value.problem


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "vrun.toml"
    path.write_bytes(b"a = '\xff'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "not UTF-8" in info.value.problem


# --- TOML syntax -------------------------------------------------------------------------------


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.a]\ncommands = ["x"\ndeps = []\n')
    assert error.key is None
    assert error.line == 3
    assert error.column is not None
    assert error.problem.startswith("invalid TOML: ")
    assert "(at line" not in error.problem
    assert str(error).startswith(f"{tmp_path / 'vrun.toml'}:3:{error.column}: invalid TOML")


def test_toml_duplicate_table(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[sessions.a]\n[sessions.a]\n")
    assert error.line == 2


# --- values ------------------------------------------------------------------------------------


def test_empty_config(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert config.sessions == {}
    assert config.matrix == {}
    assert config.default is None
    assert config.python is None


def test_session_defaults(tmp_path: Path) -> None:
    session = load(tmp_path, "[sessions.bare]\n").sessions["bare"]
    assert session.name == session.base_name == "bare"
    assert session.python is None
    assert session.commands == ()
    assert session.install_project is None
    assert session.cwd == str(tmp_path)
    assert session.system_site_packages is False


def test_full_session(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    config = load(
        tmp_path,
        """
        python = "3.11"
        [sessions.docs]
        description = "Build the docs"
        deps = [" sphinx>=7 ", "furo; python_version >= '3.8'"]
        env = { B = "2", A = "1" }
        pass_env = ["CI", "GITHUB_*"]
        system_site_packages = true
        tags = ["ci", "docs"]
        cwd = "docs"
        commands = ["sphinx-build -b html . _build"]
        """,
    )
    session = config.sessions["docs"]
    assert session.description == "Build the docs"
    assert session.python == "3.11"
    assert session.requirements == ("sphinx>=7", "furo; python_version >= '3.8'")
    assert session.env == (("B", "2"), ("A", "1"))
    assert session.pass_env == ("CI", "GITHUB_*")
    assert session.system_site_packages is True
    assert session.tags == ("ci", "docs")
    assert session.cwd == str(tmp_path / "docs")
    assert config.matrix == {"docs": ("docs",)}


def test_session_python_overrides_top_level(tmp_path: Path) -> None:
    config = load(tmp_path, 'python = "3.11"\n[sessions.a]\npython = "pypy3.10"\n[sessions.b]\n')
    assert config.sessions["a"].python == "pypy3.10"
    assert config.sessions["b"].python == "3.11"


def test_matrix_expansion(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        python = "3.9"
        default = ["test", "lint-3.12"]
        [sessions.test]
        python = ["3.11", "3.12"]
        commands = ["pytest"]
        [sessions.lint]
        python = ["3.12"]
        [sessions.other]
        """,
    )
    assert list(config.sessions) == ["test-3.11", "test-3.12", "lint-3.12", "other"]
    assert config.matrix == {
        "test": ("test-3.11", "test-3.12"),
        "lint": ("lint-3.12",),
        "other": ("other",),
    }
    assert config.sessions["test-3.12"].python == "3.12"
    assert config.sessions["test-3.12"].base_name == "test"
    assert config.sessions["test-3.11"].commands == config.sessions["test-3.12"].commands
    assert config.sessions["other"].python == "3.9"
    assert config.default == ("test", "lint-3.12")


def test_matrix_name_collision(tmp_path: Path) -> None:
    text = '[sessions.test]\npython = ["3.11"]\n[sessions."test-3.11"]\n'
    error = load_error(tmp_path, text)
    assert error.key == 'sessions."test-3.11"'
    assert "'test-3.11' is already used by sessions.test.python[0]" in error.problem


def test_matrix_name_collision_other_order(tmp_path: Path) -> None:
    text = '[sessions."test-3.11"]\n[sessions.test]\npython = ["3.11"]\n'
    error = load_error(tmp_path, text)
    assert error.key == "sessions.test.python[0]"


def test_matrix_duplicate_version(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.test]\npython = ["3.11", "3.11"]\n')
    assert error.key == "sessions.test.python[1]"
    assert "already used" in error.problem


def test_matrix_base_name_colliding_with_full_name(tmp_path: Path) -> None:
    text = '[sessions.t]\npython = ["1"]\n[sessions.t-1]\npython = ["3.12"]\n'
    error = load_error(tmp_path, text)
    assert error.key == "sessions.t-1"


# --- deps --------------------------------------------------------------------------------------


def test_requirement_and_constraint_files(tmp_path: Path) -> None:
    for name in ("req/test.txt", "req/more.txt", "c.txt", "d.txt", "e.txt", "f.txt"):
        write(tmp_path / name, "")
    (tmp_path / "sub").mkdir()
    session = load(
        tmp_path,
        """
        [sessions.t]
        deps = [
          "pytest",
          "-r req/test.txt",
          "-rreq/more.txt",
          "--requirement ./req/../req/test.txt",
          "--requirement=req/more.txt",
          "-c c.txt",
          "-cd.txt",
          "--constraint e.txt",
          "--constraint=f.txt",
        ]
        cwd = "sub"
        """,
    ).sessions["t"]
    assert session.requirements == ("pytest",)
    assert session.requirement_files == tuple(
        str(tmp_path / n) for n in ("req/test.txt", "req/more.txt", "req/test.txt", "req/more.txt")
    )
    assert session.constraint_files == tuple(str(tmp_path / n) for n in ("c.txt", "d.txt", "e.txt", "f.txt"))


def test_requirement_file_relative_to_config_not_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "proj" / "r.txt", "")
    path = write(tmp_path / "proj" / "vrun.toml", '[sessions.t]\ndeps = ["-r r.txt"]\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(path).sessions["t"].requirement_files == (str(tmp_path / "proj" / "r.txt"),)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("-r missing.txt", "requirements file 'missing.txt' not found"),
        ("-c missing.txt", "constraints file 'missing.txt' not found"),
        ("--requirement=nope.txt", "requirements file 'nope.txt' not found"),
        ("-r", "-r needs a path"),
        ("--constraint", "-c needs a path"),
        ("-e ./nope", "editable project './nope' not found"),
        ("--no-deps", "unsupported option '--no-deps'"),
        ("--index-url https://x", "unsupported option"),
        ("pytest>>8", "invalid requirement 'pytest>>8': Expected"),
        ("foo bar", "invalid requirement 'foo bar'"),
        ("", "expected a non-empty string"),
    ],
)
def test_bad_deps(tmp_path: Path, entry: str, fragment: str) -> None:
    error = load_error(tmp_path, f'[sessions.t]\ndeps = ["pytest", "{entry}"]\n')
    assert error.key == "sessions.t.deps[1]"
    assert fragment in error.problem
    assert "\n" not in str(error)


def test_requirement_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    error = load_error(tmp_path, '[sessions.t]\ndeps = ["-r reqs"]\n')
    assert error.key == "sessions.t.deps[0]"
    assert "not found" in error.problem


def test_local_projects_in_deps(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\ndeps = ["./pkg"]\n')
    assert "local project './pkg' not found" in error.problem
    assert error.hint is not None and str(tmp_path) in error.hint
    (tmp_path / "pkg").mkdir()
    (tmp_path / "core").mkdir()
    session = load(tmp_path, '[sessions.t]\ndeps = ["./pkg", "-e core", "--editable=./core"]\n').sessions["t"]
    assert session.requirements == (
        str(tmp_path / "pkg"),
        f"-e {tmp_path / 'core'}",
        f"-e {tmp_path / 'core'}",
    )


def test_deps_given_as_string(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\ndeps = "pytest"\n')
    assert error.key == "sessions.t.deps"
    assert error.problem == 'expected an array of strings, got a string ("pytest")'
    assert error.hint == 'write deps = ["pytest"]'


# --- dependency groups -------------------------------------------------------------------------


GROUPS = """
[dependency-groups]
test = ["pytest>=8", {include-group = "cov"}]
cov = ["coverage[toml]", "pytest>=8"]
typing = ["mypy"]
loop-a = [{include-group = "loop-b"}]
loop-b = [{include-group = "loop-a"}]
broken = ["not a requirement!"]
"""


def test_groups_resolved_with_include_group(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", GROUPS)
    session = load(tmp_path, '[sessions.t]\ngroups = ["test", "typing"]\ninstall_project = false\n').sessions[
        "t"
    ]
    assert session.groups == ("test", "typing")
    assert session.group_requirements == ("pytest>=8", "coverage[toml]", "mypy")


def test_groups_from_pyproject_config(tmp_path: Path) -> None:
    text = GROUPS + '[tool.vrun.sessions.t]\ngroups = ["cov"]\n'
    session = load(tmp_path, text, name="pyproject.toml").sessions["t"]
    assert session.group_requirements == ("coverage[toml]", "pytest>=8")


@pytest.mark.parametrize(
    ("group", "fragment", "hint"),
    [
        ("tset", "no dependency group 'tset'", "did you mean 'test'?"),
        ("loop-a", "dependency group 'loop-a'", None),
        ("broken", "dependency group 'broken' has an invalid requirement", None),
    ],
)
def test_bad_group(tmp_path: Path, group: str, fragment: str, hint: str | None) -> None:
    write(tmp_path / "pyproject.toml", GROUPS)
    error = load_error(tmp_path, f'[sessions.t]\ngroups = ["typing", "{group}"]\n')
    assert error.key == "sessions.t.groups[1]"
    assert fragment in error.problem
    if hint:
        assert error.hint == hint


def test_group_cycle_named(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", GROUPS)
    error = load_error(tmp_path, '[sessions.t]\ngroups = ["loop-a"]\n')
    assert "Cyclic" in error.problem


def test_groups_without_pyproject(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\ngroups = ["test"]\n')
    assert error.key == "sessions.t.groups"
    assert "does not exist" in error.problem


def test_groups_without_dependency_groups_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    error = load_error(tmp_path, '[sessions.t]\ngroups = ["test"]\n')
    assert error.key == "sessions.t.groups"
    assert "[dependency-groups]" in error.problem


def test_dependency_groups_not_a_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "dependency-groups = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path / "vrun.toml", '[sessions.t]\ngroups = ["test"]\n'))
    assert info.value.path == tmp_path / "pyproject.toml"
    assert info.value.key == "dependency-groups"


# --- install_project ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, None),
        ({"pyproject.toml": "[project]\nname = 'x'\n"}, "editable"),
        ({"pyproject.toml": "[tool.black]\n"}, None),
        ({"setup.py": ""}, "editable"),
        ({"pyproject.toml": "[tool.black]\n", "setup.py": ""}, "editable"),
    ],
)
def test_install_project_default(tmp_path: Path, files: dict[str, str], expected: str | None) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    assert load(tmp_path, "[sessions.t]\n").sessions["t"].install_project == expected


def test_install_project_default_from_pyproject_config(tmp_path: Path) -> None:
    text = "[project]\nname = 'x'\n[tool.vrun.sessions.t]\n"
    assert load(tmp_path, text, name="pyproject.toml").sessions["t"].install_project == "editable"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", "editable"),
        ("false", None),
        ('"editable"', "editable"),
        ('"wheel"', "wheel"),
        ('"sdist"', "sdist"),
    ],
)
def test_install_project_explicit(tmp_path: Path, value: str, expected: str | None) -> None:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    session = load(tmp_path, f"[sessions.t]\ninstall_project = {value}\n").sessions["t"]
    assert session.install_project == expected


def test_install_project_bad_value(tmp_path: Path) -> None:
    write(tmp_path / "setup.py", "")
    error = load_error(tmp_path, '[sessions.t]\ninstall_project = "editabel"\n')
    assert error.key == "sessions.t.install_project"
    assert error.hint == "did you mean 'editable'?"
    assert error.problem == 'expected "editable", "wheel", "sdist" or false, got \'editabel\''
    error = load_error(tmp_path, "[sessions.t]\ninstall_project = 1\n")
    assert "got an integer (1)" in error.problem


def test_install_project_without_project(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\ninstall_project = "wheel"\n')
    assert error.key == "sessions.t.install_project"
    assert "no pyproject.toml or setup.py" in error.problem


def test_extras(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    session = load(tmp_path, '[sessions.t]\nextras = ["toml", "dev_tools"]\n').sessions["t"]
    assert session.extras == ("toml", "dev_tools")


def test_extras_without_project(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\nextras = ["toml"]\n')
    assert error.key == "sessions.t.extras"
    write(tmp_path / "setup.py", "")
    error = load_error(tmp_path, '[sessions.t]\nextras = ["toml"]\ninstall_project = false\n')
    assert "install_project is false" in error.problem


def test_invalid_extra_name(tmp_path: Path) -> None:
    write(tmp_path / "setup.py", "")
    error = load_error(tmp_path, '[sessions.t]\nextras = ["ok", "not ok"]\n')
    assert error.key == "sessions.t.extras[1]"


# --- commands ----------------------------------------------------------------------------------


def test_commands_split_and_argv(tmp_path: Path) -> None:
    session = load(
        tmp_path,
        """
        [sessions.t]
        commands = [
          "pytest {posargs:-q} -k 'a and b'",
          ["python", "-c", "print('x | y')", ""],
          "grep -E 'a|b' file",
          "echo '|' \\\\&&",
        ]
        """,
    ).sessions["t"]
    assert session.commands == (
        Command(("pytest", "{posargs:-q}", "-k", "a and b"), False, "pytest {posargs:-q} -k 'a and b'"),
        Command(
            ("python", "-c", "print('x | y')", ""), False, shlex.join(["python", "-c", "print('x | y')", ""])
        ),
        Command(("grep", "-E", "a|b", "file"), False, "grep -E 'a|b' file"),
        Command(("echo", "|", "&&"), False, "echo '|' \\&&"),
    )


def test_shell_commands_kept_whole(tmp_path: Path) -> None:
    session = load(
        tmp_path,
        """
        [sessions.t]
        shell = true
        commands = ["pytest -q && coverage report > out.txt", ["echo", "hi"]]
        """,
    ).sessions["t"]
    assert session.commands == (
        Command(("pytest -q && coverage report > out.txt",), True, "pytest -q && coverage report > out.txt"),
        Command(("echo", "hi"), False, "echo hi"),
    )


@pytest.mark.parametrize("operator", ["&&", "||", "|", ";", ">", ">>", "<", "2>", "&"])
def test_shell_operator_without_shell(tmp_path: Path, operator: str) -> None:
    error = load_error(tmp_path, f'[sessions.t]\ncommands = ["ok", "a {operator} b"]\n')
    assert error.key == "sessions.t.commands[1]"
    assert f"shell operator {operator!r}" in error.problem
    assert error.hint == "set shell = true or split into separate commands"


@pytest.mark.parametrize(
    ("command", "key", "fragment"),
    [
        ('"echo \'unbalanced"', "sessions.t.commands[0]", 'cannot split command "echo \'unbalanced"'),
        ('""', "sessions.t.commands[0]", "empty command"),
        ('"   "', "sessions.t.commands[0]", "empty command"),
        ("\"'' x\"", "sessions.t.commands[0]", "empty program name"),
        ("[]", "sessions.t.commands[0]", "empty command"),
        ('["", "x"]', "sessions.t.commands[0]", "empty command"),
        ('["a", 1]', "sessions.t.commands[0][1]", "expected a string, got an integer (1)"),
        ("1", "sessions.t.commands[0]", "expected a string or an array of strings, got an integer (1)"),
    ],
)
def test_bad_commands(tmp_path: Path, command: str, key: str, fragment: str) -> None:
    error = load_error(tmp_path, f"[sessions.t]\ncommands = [{command}]\n")
    assert error.key == key
    assert fragment in error.problem


def test_commands_given_as_string(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\ncommands = "pytest"\n')
    assert error.hint == 'write commands = ["pytest"]'


# --- env, cwd, booleans ------------------------------------------------------------------------


def test_env_value_must_be_string(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[sessions.t]\nenv = { OK = 'x', DEBUG = 1 }\n")
    assert error.key == "sessions.t.env.DEBUG"
    assert error.problem == "expected a string, got an integer (1): quote it"


def test_env_bad_name(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\nenv = { "A=B" = "x" }\n')
    assert error.key == 'sessions.t.env."A=B"'


def test_env_not_a_table(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\nenv = ["A=1"]\n')
    assert error.problem == "expected a table, got an array"


def test_pass_env_rejects_assignment(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\npass_env = ["CI", "A=1"]\n')
    assert error.key == "sessions.t.pass_env[1]"


def test_cwd_must_be_existing_directory(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\ncwd = "nope"\n')
    assert error.key == "sessions.t.cwd"
    assert "does not exist" in error.problem
    write(tmp_path / "file", "")
    error = load_error(tmp_path, '[sessions.t]\ncwd = "file"\n')
    assert "is not a directory" in error.problem


@pytest.mark.parametrize("key", ["shell", "system_site_packages"])
def test_booleans(tmp_path: Path, key: str) -> None:
    error = load_error(tmp_path, f'[sessions.t]\n{key} = "yes"\n')
    assert error.key == f"sessions.t.{key}"
    assert error.problem == 'expected true or false, got a string ("yes")'


# --- types of python, description, tags ---------------------------------------------------------


def test_python_float_says_quote_it(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[sessions.t]\npython = 3.10\n")
    assert error.key == "sessions.t.python"
    assert error.problem == 'expected a string like "3.10", got a float (3.1): quote it'


def test_top_level_python_float(tmp_path: Path) -> None:
    error = load_error(tmp_path, "python = 3.10\n")
    assert error.key == "python"
    assert "got a float (3.1): quote it" in error.problem


def test_top_level_python_list(tmp_path: Path) -> None:
    error = load_error(tmp_path, 'python = ["3.11"]\n')
    assert error.key == "python"
    assert error.hint is not None
    assert "session" in error.hint


@pytest.mark.parametrize(
    ("value", "key", "fragment"),
    [
        ("[]", "sessions.t.python", "got an empty array"),
        ('["3.11", 3.12]', "sessions.t.python[1]", "got a float (3.12): quote it"),
        ('""', "sessions.t.python", "non-empty"),
        ("true", "sessions.t.python", "got a boolean (true)"),
    ],
)
def test_bad_session_python(tmp_path: Path, value: str, key: str, fragment: str) -> None:
    error = load_error(tmp_path, f"[sessions.t]\npython = {value}\n")
    assert error.key == key
    assert fragment in error.problem


@pytest.mark.parametrize(
    ("line", "key", "fragment"),
    [
        ("description = 1", "sessions.t.description", "expected a string, got an integer (1)"),
        ('tags = ["a", 2]', "sessions.t.tags[1]", "got an integer (2)"),
        ("requires = 1979-05-27", "sessions.t.requires", "got a date (1979-05-27)"),
        ('groups = [""]', "sessions.t.groups[0]", "non-empty"),
    ],
)
def test_wrong_types(tmp_path: Path, line: str, key: str, fragment: str) -> None:
    error = load_error(tmp_path, f"[sessions.t]\n{line}\n")
    assert error.key == key
    assert fragment in error.problem


def test_session_not_a_table(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[sessions]\nt = 1\n")
    assert error.key == "sessions.t"
    assert "expected a table" in error.problem


def test_sessions_not_a_table(tmp_path: Path) -> None:
    error = load_error(tmp_path, "sessions = 1\n")
    assert error.key == "sessions"


# --- unknown keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("defualt = []\n", "defualt", "did you mean 'default'?"),
        ("[sessions.t]\ncommand = []\n", "sessions.t.command", "did you mean 'commands'?"),
        ("[sessions.t]\npassenv = []\n", "sessions.t.passenv", "did you mean 'pass_env'?"),
        ("[sessions.t]\ndependencies = []\n", "sessions.t.dependencies", "did you mean 'deps'?"),
        ("[sessions.t]\nzzz = 1\n", "sessions.t.zzz", "known keys: description, python"),
        ("[test]\ncommands = []\n", "test", "a session goes in [sessions.test]"),
        ("zzz = 1\n", "zzz", "known keys: default, python, backend, sessions, project_inputs"),
    ],
)
def test_unknown_keys(tmp_path: Path, text: str, key: str, hint: str) -> None:
    error = load_error(tmp_path, text)
    assert error.key == key
    assert error.problem == f"unknown key {key.rsplit('.', 1)[-1]!r}"
    assert error.hint is not None
    assert error.hint.startswith(hint)


# --- session names -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "test_1", "py3.12", "c++", "Z-9", "0day"])
def test_valid_session_names(tmp_path: Path, name: str) -> None:
    assert name in load(tmp_path, f'[sessions."{name}"]\n').sessions


@pytest.mark.parametrize("name", ["-x", "_x", ".x", "a b", "a/b", "é", ""])
def test_invalid_session_names(tmp_path: Path, name: str) -> None:
    error = load_error(tmp_path, f'[sessions."{name}"]\n')
    assert "is not a valid session name" in error.problem


@pytest.mark.parametrize("name", sorted(BUILTIN_COMMANDS))
def test_builtin_command_names_rejected(tmp_path: Path, name: str) -> None:
    error = load_error(tmp_path, f"[sessions.{name}]\n")
    assert error.key == f"sessions.{name}"
    assert "is a vrun command" in error.problem


def test_matrix_name_rejected(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.t]\npython = ["3.12", ">=3.10"]\n')
    assert error.key == "sessions.t.python[1]"
    assert "makes the session name 't->=3.10'" in error.problem


# --- requires and default ----------------------------------------------------------------------


def test_requires_base_and_full_names(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [sessions.build]
        python = ["3.11", "3.12"]
        [sessions.test]
        requires = ["build-3.11", "lint"]
        [sessions.lint]
        requires = ["build"]
        """,
    )
    assert config.sessions["test"].requires == ("build-3.11", "lint")
    assert config.sessions["lint"].requires == ("build",)


def test_requires_unknown(tmp_path: Path) -> None:
    error = load_error(tmp_path, '[sessions.lint]\n[sessions.t]\nrequires = ["lnit"]\n')
    assert error.key == "sessions.t.requires[0]"
    assert error.problem == "unknown session 'lnit'"
    assert error.hint == "did you mean 'lint'?"


@pytest.mark.parametrize(
    ("text", "key", "cycle"),
    [
        ('[sessions.a]\nrequires = ["a"]\n', "sessions.a.requires[0]", "a -> a"),
        (
            '[sessions.a]\nrequires = ["b"]\n[sessions.b]\nrequires = ["a"]\n',
            "sessions.b.requires[0]",
            "a -> b -> a",
        ),
        (
            '[sessions.x]\n[sessions.a]\nrequires = ["x", "b"]\n[sessions.b]\nrequires = ["c"]\n'
            '[sessions.c]\npython = ["3.12"]\nrequires = ["a"]\n',
            "sessions.c.requires[0]",
            "a -> b -> c -> a",
        ),
        (
            '[sessions.a]\npython = ["3.11"]\nrequires = ["b"]\n[sessions.b]\nrequires = ["a-3.11"]\n',
            "sessions.b.requires[0]",
            "a -> b -> a-3.11",
        ),
    ],
)
def test_requires_cycles(tmp_path: Path, text: str, key: str, cycle: str) -> None:
    error = load_error(tmp_path, text)
    assert error.key == key
    assert error.problem == f"requires cycle: {cycle}"


def test_requires_diamond_is_not_a_cycle(tmp_path: Path) -> None:
    text = """
    [sessions.a]
    requires = ["b", "c"]
    [sessions.b]
    requires = ["d"]
    [sessions.c]
    requires = ["d"]
    [sessions.d]
    """
    assert set(load(tmp_path, text).sessions) == {"a", "b", "c", "d"}


def test_default_unknown(tmp_path: Path) -> None:
    error = load_error(tmp_path, 'default = ["test", "tset-3.11"]\n[sessions.test]\npython = ["3.11"]\n')
    assert error.key == "default[1]"
    assert error.hint == "did you mean 'test-3.11'?"


def test_default_no_sessions_hint(tmp_path: Path) -> None:
    error = load_error(tmp_path, 'default = ["x"]\n')
    assert error.hint == "sessions: none"


def test_default_must_be_array(tmp_path: Path) -> None:
    error = load_error(tmp_path, 'default = "test"\n[sessions.test]\n')
    assert error.key == "default"
    assert error.hint == 'write default = ["test"]'


def test_error_message_format(tmp_path: Path) -> None:
    error = load_error(tmp_path, "[sessions.t]\nenv = { X = 1 }\n")
    assert str(error) == f"{tmp_path / 'vrun.toml'}: sessions.t.env.X: {error.problem}"
