"""vrun init: tox and nox configs translated to vrun.toml, always proved by loading the result."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Vrun, demo_project, write_project
from vrun.config.load import Config, load_config
from vrun.errors import UsageError
from vrun.migrate.translate import translate, write_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: A bare ``[project]`` table (no build, no code) that tests extend with more ``[project]`` keys.
PROJECT = demo_project(version="0", build=None, layout=None)["pyproject.toml"]


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"pyproject.toml": PROJECT, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def loaded(root: Path) -> tuple[Config, list[str]]:
    path, notes = write_config(root)
    return load_config(path), notes


def field(config: Config, name: str, attr: str) -> Any:
    value = getattr(config.sessions[name], attr)
    if attr in ("commands_pre", "commands", "commands_post"):
        return [list(c.argv) for c in value]
    if attr == "env":
        return dict(value)
    return value


# Each row: tox.ini text -> {session: {attribute: expected}}; the generated file is loaded.
TOX_CASES = {
    "matrix of python factors": (
        """
        [tox]
        env_list = py39, py310, py311
        [testenv]
        deps = pytest
        commands = pytest {posargs:-q}
        """,
        {
            "test-3.9": {
                "python": "3.9",
                "requirements": ("pytest",),
                "commands": [["pytest", "{posargs:-q}"]],
            },
            "test-3.11": {"python": "3.11"},
        },
    ),
    "generative factors and ranges": (
        """
        [tox]
        envlist = py3{10-11}-django{40,41}
        [testenv]
        deps =
            django40: Django>=4.0,<4.1
            django41: Django>=4.1,<4.2
            !django41: six
            py310-django41: attrs
        commands = python -m django --version
        """,
        {  # one matrix session: its entries read as the tox envs do
            "test-3.10-django40": {"python": "3.10", "requirements": ("Django>=4.0,<4.1", "six")},
            "test-3.10-django41": {"python": "3.10", "requirements": ("Django>=4.1,<4.2", "attrs")},
            "test-3.11-django40": {"python": "3.11", "requirements": ("Django>=4.0,<4.1", "six")},
            "test-3.11-django41": {
                "python": "3.11",
                "requirements": ("Django>=4.1,<4.2",),
                "matrix": (("python", "3.11"), ("django", "41")),
                "commands": [["python", "-m", "django", "--version"]],
            },
        },
    ),
    "base inheritance and overrides": (
        """
        [tox]
        env_list = py312, lint
        [testenv]
        deps = -r requirements-test.txt
        pass_env = CODECOV_TOKEN, CI_*
            HOME
        set_env =
            PYTHONWARNINGS = error
            X=1
        commands = pytest
        [testenv:lint]
        basepython = python3.12
        skip_install = true
        deps = ruff
        commands = ruff check {posargs:src tests}
        labels = static
        """,
        {
            "test-3.12": {
                "requirement_files": "requirements-test.txt",
                "pass_env": ("CODECOV_TOKEN", "CI_*", "HOME"),
                "env": {"PYTHONWARNINGS": "error", "X": "1"},
                "install_project": "sdist",  # tox's default packaging
            },
            "lint": {
                "python": "3.12",
                "requirements": ("ruff",),
                "install_project": None,
                "tags": ("static",),
                "commands": [["ruff", "check", "{posargs:src tests}"]],
                "pass_env": ("CODECOV_TOKEN", "CI_*", "HOME"),
            },
        },
    ),
    "commands_pre, references, placeholders": (
        """
        [tox]
        env_list = docs
        [base]
        flags = -W --keep-going
        [testenv:docs]
        commands_pre = python -c "print('pre')"
        commands =
            sphinx-build {[base]flags} {toxinidir}/docs {envdir}/html {posargs}
            {envpython} -m pytest --rootdir={tox_root} -p {envname}
            {envbindir}/tool
        package = wheel
        extras = docs
        changedir = docs
        depends = lint
        [testenv:lint]
        commands = ruff check
        """,
        {
            "docs": {
                "commands_pre": [["python", "-c", "print('pre')"]],
                "commands": [
                    [
                        "sphinx-build",
                        "-W",
                        "--keep-going",
                        "{project_root}/docs",
                        "{env_dir}/html",
                        "{posargs}",
                    ],
                    ["python", "-m", "pytest", "--rootdir={project_root}", "-p", "{session}"],
                    ["{env_dir}/bin/tool"],
                ],
                "install_project": "wheel",
                "extras": ("docs",),
                "requires": ("lint",),
            },
            "lint": {"commands": [["ruff", "check"]]},
        },
    ),
    "usedevelop, dependency_groups, system_site_packages, no env_list": (
        """
        [testenv:dev]
        usedevelop = true
        dependency_groups = test
        sitepackages = true
        commands = pytest
        """,
        {"dev": {"install_project": "editable", "groups": ("test",), "system_site_packages": True}},
    ),
    "skipsdist": (
        """
        [tox]
        skipsdist = true
        env_list = py311
        [testenv]
        commands = python -V
        """,
        {"test-3.11": {"install_project": None}},
    ),
}


@pytest.mark.parametrize("case", list(TOX_CASES), ids=list(TOX_CASES))
def test_tox_ini_constructs(tmp_path: Path, case: str) -> None:
    tox_ini, expected = TOX_CASES[case]
    root = project(
        tmp_path,
        {
            "tox.ini": tox_ini,
            "requirements-test.txt": "pytest\n",
            "docs/conf.py": "",
        },
    )
    root.joinpath("pyproject.toml").write_text(PROJECT + '[dependency-groups]\ntest = ["pytest"]\n')
    config, _ = loaded(root)
    for name, attrs in expected.items():
        assert name in config.sessions, (name, list(config.sessions))
        for attr, value in attrs.items():
            got = field(config, name, attr)
            if attr == "requirement_files":
                assert [os.path.basename(p) for p in got] == [value]
            else:
                assert got == value, (name, attr)


@pytest.mark.parametrize("fmt", ["ini", "toml"])
def test_tox_packaging_becomes_install_project(tmp_path: Path, fmt: str) -> None:
    """tox's default (an sdist, then the wheel built from it) is ``"sdist"``; ``package = wheel`` is
    ``"wheel"``; ``usedevelop`` and ``package = editable`` (or ``editable-legacy``) are editable;
    ``skip_install`` and ``package = skip`` install nothing."""
    envs = {
        "default": {},
        "sdist": {"package": "sdist"},
        "wheel": {"package": "wheel"},
        "editable": {"package": "editable"},
        "legacy": {"package": "editable-legacy"},
        "develop": {"usedevelop": True},
        "skip": {"package": "skip"},
        "noinstall": {"skip_install": True},
        "external": {"package": "external"},
    }
    if fmt == "ini":
        text = "[tox]\nenv_list = " + ", ".join(envs) + "\n"
        for env, settings in envs.items():
            lines = [f"{k} = {str(v).lower()}" for k, v in settings.items()]
            text += f"[testenv:{env}]\ncommands = pytest\n" + "".join(f"{line}\n" for line in lines)
        files = {"tox.ini": text}
    else:
        text = "env_list = [" + ", ".join(f'"{e}"' for e in envs) + "]\n"
        for env, settings in envs.items():
            keys = {"usedevelop": "use_develop"}
            lines = [
                f"{keys.get(k, k)} = {str(v).lower() if v is True else repr(v)}" for k, v in settings.items()
            ]
            text += f'[env.{env}]\ncommands = [["pytest"]]\n' + "".join(f"{line}\n" for line in lines)
        files = {"tox.toml": text}
    config, notes = loaded(project(tmp_path, files))
    modes = {name: config.sessions[name].install_project for name in envs}
    assert modes == {
        "default": "sdist",
        "sdist": "sdist",
        "wheel": "wheel",
        "editable": "editable",
        "legacy": "editable",
        "develop": "editable",
        "skip": None,
        "noinstall": None,
        "external": "sdist",
    }
    assert any("package = external: not translated; installing from an sdist" in n for n in notes), notes
    assert not any("sdist by default" in n for n in notes)  # translated, not approximated


def test_matrix_default_and_order(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [tox]
            env_list = lint, py311, py312, docs
            [testenv]
            commands = pytest
            [testenv:lint]
            commands = ruff check
            [testenv:docs]
            commands = sphinx-build
            [testenv:extra]
            commands = true
            """
        },
    )
    config, _ = loaded(root)
    assert config.default == ("lint", "test", "docs")
    assert list(config.sessions) == ["lint", "test-3.11", "test-3.12", "docs", "extra"]
    assert config.matrix["test"] == ("test-3.11", "test-3.12")


def test_python_envs_with_different_settings_share_a_matrix(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [tox]
            env_list = py39, py312
            [testenv]
            deps =
                pytest
                py39: importlib-metadata
            commands = pytest
            """
        },
    )
    text = translate(root)[0]
    assert 'python = ["3.9", "3.12"]' in text and '[sessions.test.overrides."3.9"]' in text, text
    config, _ = loaded(root)
    assert config.matrix["test"] == ("test-3.9", "test-3.12")
    assert config.sessions["test-3.9"].requirements == ("pytest", "importlib-metadata")
    assert config.sessions["test-3.12"].requirements == ("pytest",)
    assert config.sessions["test-3.12"].python == "3.12"


def test_tox_placeholders_become_vrun_placeholders(tmp_path: Path) -> None:
    """tox substitutions map to vrun's placeholders; ``{env:X}`` keeps tox's empty-when-unset meaning;
    one vrun lacks is kept as literal text (escaped), with a note, and the result loads."""
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [testenv:t]
            set_env = TMP={envtmpdir}
                P={toxinidir}{/}src{:}{env:PYTHONPATH:}
            commands = pytest --basetemp={envtmpdir} {envsitepackagesdir} {env_site_packages_dir} {env:HOME} {env:X:dflt} {distdir} {posargs:{env:A}}
            """
        },
    )
    text, notes = translate(root)
    session = tomllib.loads(text)["sessions"]["t"]
    assert session["commands"] == [
        "pytest --basetemp={env_tmp_dir} {env_site_packages_dir} {env_site_packages_dir} {env:HOME:} "
        "{env:X:dflt} {{distdir}} {posargs:{env:A:}}"
    ]
    assert session["env"] == {"TMP": "{env_tmp_dir}", "P": "{project_root}/src:{env:PYTHONPATH:}"}
    assert any("{distdir}" in note for note in notes)
    config, _ = loaded(root)
    assert config.sessions["t"].commands[0].argv[-2:] == ("{{distdir}}", "{posargs:{env:A:}}")


def test_notes_for_untranslatable_constructs(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [tox]
            env_list = py311
            requires = tox-uv
            [testenv]
            allowlist_externals = make
            install_command = pip install {opts} {packages}
            deps = -e ../other
            commands =
                - make clean
                ! false
                pytest
            commands_post = coverage report
            """
        },
    )
    config, notes = loaded(root)
    text = "\n".join(notes)
    for construct in (
        "requires",
        "allowlist_externals",
        "install_command",
        "-e ../other",
        "'-'",
        "'!'",
    ):
        assert construct in text, construct
    assert "commands_post" not in text  # vrun has them: translated, not noted
    assert field(config, "test-3.11", "commands") == [["make", "clean"], ["pytest"]]
    assert field(config, "test-3.11", "commands_post") == [["coverage", "report"]]
    # the notes are in the file, as comments
    assert "# Not translated:" in (root / "vrun.toml").read_text()


def test_pythons_the_project_excludes_are_left_out(tmp_path: Path) -> None:
    """tabulate 0.10.0's tox.ini still lists py38/py39 while its requires-python is >=3.10."""
    root = project(
        tmp_path,
        {
            "pyproject.toml": PROJECT + 'requires-python = ">=3.10"\n',
            "tox.ini": """
            [tox]
            env_list = lint, py{38,39,310,311}, py38-extra
            [testenv]
            deps = pytest
            commands = pytest
            [testenv:py38-extra]
            deps = numpy
            [testenv:docs]
            depends = py38-extra
            [testenv:lint]
            skip_install = true
            base_python = python3.8
            commands = ruff check
            """,
        },
    )
    config, notes = loaded(root)
    assert list(config.sessions) == ["lint", "test-3.10", "test-3.11", "docs"]
    assert config.default == ("lint", "test")
    assert config.sessions["lint"].python == "3.8"  # installs no project: any Python will do
    assert config.sessions["docs"].requires == ()
    assert "tox.ini: test on Python 3.8, 3.9 left out: the project's requires-python is '>=3.10'" in notes
    assert any(note.startswith("tox.ini: py38-extra on Python 3.8 left out") for note in notes)


@pytest.mark.parametrize(
    ("setting", "noted"),
    [("", True), ("skip_missing_interpreters = true", True), ("skip_missing_interpreters = false", False)],
)
def test_missing_interpreters_rule_is_noted(tmp_path: Path, setting: str, noted: bool) -> None:
    root = project(
        tmp_path, {"tox.ini": f"[tox]\nenv_list = py311, py312\n{setting}\n[testenv]\ncommands = pytest\n"}
    )
    _, notes = translate(root)
    assert any("vrun --skip-missing-interpreters" in note for note in notes) is noted, notes
    _, notes = translate(
        project(tmp_path, {"tox.ini": f"[tox]\n{setting}\n[testenv:lint]\ncommands = ruff\n"})
    )
    assert not any("--skip-missing-interpreters" in note for note in notes)  # no Python named


def test_shell_operator_becomes_array(tmp_path: Path) -> None:
    root = project(tmp_path, {"tox.ini": "[testenv:x]\ncommands = echo a | b\n"})
    config, _ = loaded(root)
    assert config.sessions["x"].commands[0].argv == ("echo", "a", "|", "b")


def test_tox_toml(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tox.toml": """
            env_list = ["3.13", "3.12", "type"]
            [env_run_base]
            deps = ["pytest"]
            commands = [["pytest", { replace = "posargs", default = ["-q", "tests"], extend = true }]]
            set_env = { FOO = "bar" }
            [env.type]
            deps = [{ replace = "ref", of = ["env_run_base", "deps"], extend = true }, "mypy"]
            commands = [["mypy", "src{/}pkg"]]
            skip_install = true
            """
        },
    )
    config, _ = loaded(root)
    assert config.matrix["test"] == ("test-3.13", "test-3.12")
    assert config.sessions["test-3.12"].commands[0].argv == ("pytest", "{posargs:-q tests}")
    assert config.sessions["type"].requirements == ("pytest", "mypy")
    assert config.sessions["type"].commands[0].argv == ("mypy", "src/pkg")
    assert config.sessions["type"].install_project is None
    assert dict(config.sessions["type"].env) == {"FOO": "bar"}


def test_pyproject_legacy_tox_ini_and_setup_cfg(tmp_path: Path) -> None:
    legacy = (
        PROJECT
        + '[tool.tox]\nlegacy_tox_ini = """\n[tox]\nenvlist = py311\n[testenv]\ncommands = pytest\n"""\n'
    )
    root = project(tmp_path / "a", {"pyproject.toml": legacy})
    text, _ = translate(root)
    assert "pyproject.toml [tool.tox] legacy_tox_ini" in text.splitlines()[0]
    assert load_config(write_config(root)[0]).matrix["test"] == ("test-3.11",)

    root = project(
        tmp_path / "b", {"setup.cfg": "[tox:tox]\nenvlist = lint\n[testenv:lint]\ncommands = ruff\n"}
    )
    assert list(loaded(root)[0].sessions) == ["lint"]


def test_tox_ini_without_tox_sections_is_skipped(tmp_path: Path) -> None:
    root = project(tmp_path, {"tox.ini": "[flake8]\nmax-line-length = 99\n", "tests/test_x.py": ""})
    text, _ = translate(root)
    assert "no tox or nox config" in text.splitlines()[0]


NOXFILE = """
import nox
from nox import session as sess

PYTHONS = ["3.11", "3.12"]
nox.options.sessions = ["lint", "tests"]

@nox.session(python=PYTHONS, tags=["ci"])
def tests(session):
    '''Run the tests.'''
    session.install("-r", "requirements-test.txt", "-c", "constraints.txt")
    session.install("-e", ".[toml]")
    session.env["PYTHONWARNINGS"] = "error"
    session.run("pytest", *(session.posargs or ["-q"]))

@nox.session(python="3.12", reuse_venv=True)
def lint(session):
    session.install("ruff")
    session.run("ruff", "check", *session.posargs, external=True)
    if session.interactive:
        session.run("echo", "hi")

@sess(name="build-docs")
def docs(session: nox.Session) -> None:
    session.install(".")
    session.chdir("docs")
    session.run("sphinx-build", SOURCE)
    session.run("python", "-c", "print(1)")
"""


def test_noxfile(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "noxfile.py": NOXFILE,
            "requirements-test.txt": "",
            "constraints.txt": "",
            "docs/conf.py": "",
        },
    )
    root.joinpath("pyproject.toml").write_text(PROJECT + "[project.optional-dependencies]\ntoml = []\n")
    config, notes = loaded(root)
    assert config.default == ("lint", "tests")
    tests = config.sessions["tests-3.12"]
    assert tests.description == "Run the tests."
    assert [os.path.basename(p) for p in tests.requirement_files] == ["requirements-test.txt"]
    assert [os.path.basename(p) for p in tests.constraint_files] == ["constraints.txt"]
    assert tests.install_project == "editable"
    assert tests.extras == ("toml",)
    assert dict(tests.env) == {"PYTHONWARNINGS": "error"}
    assert tests.tags == ("ci",)
    assert tests.commands[0].argv == ("pytest", "{posargs:-q}")
    lint = config.sessions["lint"]
    assert (lint.python, lint.requirements, lint.install_project) == ("3.12", ("ruff",), None)
    assert lint.commands[0].argv == ("ruff", "check", "{posargs}")
    docs = config.sessions["build-docs"]
    assert docs.install_project == "wheel"
    assert docs.cwd == str(root / "docs")
    assert [c.argv for c in docs.commands] == [("python", "-c", "print(1)")]
    text = "\n".join(notes)
    assert "if session.interactive" in text
    assert "SOURCE" in text


def test_noxfile_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    root = project(
        tmp_path,
        {
            "noxfile.py": f"import nox\nopen({str(marker)!r}, 'w')\n@nox.session\ndef t(session):\n    session.run('true')\n"
        },
    )
    config, _ = loaded(root)
    assert list(config.sessions) == ["t"]
    assert not marker.exists()


def test_from_scratch(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_x.py": "",
            "ruff.toml": "",
            "requirements.txt": "attrs\n",
        },
    )
    root.joinpath("pyproject.toml").write_text(
        PROJECT + '[dependency-groups]\ntest = ["pytest"]\nlint = ["ruff"]\n'
    )
    config, _ = loaded(root)
    assert config.sessions["test"].groups == ("test",)
    assert config.sessions["test"].commands[0].argv == ("pytest", "{posargs}")
    assert config.sessions["lint"].groups == ("lint",)
    assert config.sessions["lint"].install_project is None


def test_from_scratch_requirements_files(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "attrs\n", "requirements/test.txt": "pytest\n"})
    (root / "pyproject.toml").unlink()
    config, _ = loaded(root)
    assert [os.path.basename(p) for p in config.sessions["test"].requirement_files] == [
        "requirements.txt",
        "test.txt",
    ]
    assert config.sessions["test"].install_project is None


@pytest.mark.parametrize("existing", ["vrun.toml", "pyproject"])
def test_write_config_never_overwrites(tmp_path: Path, existing: str) -> None:
    root = project(tmp_path, {"tox.ini": "[testenv:x]\ncommands = true\n"})
    if existing == "vrun.toml":
        (root / "vrun.toml").write_text("# mine\n")
    else:
        (root / "pyproject.toml").write_text(PROJECT + "[tool.vrun]\n")
    with pytest.raises(UsageError):
        write_config(root)
    if existing == "vrun.toml":
        assert (root / "vrun.toml").read_text() == "# mine\n"


def test_toml_string_escaping(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"tox.ini": '[testenv:x]\ndescription = say "hi" \\ there\nset_env = A = it\'s "q" \\ \\t\n'},
    )
    config, _ = loaded(root)
    assert config.sessions["x"].description == 'say "hi" \\ there'
    assert dict(config.sessions["x"].env) == {"A": 'it\'s "q" \\ \\t'}


def test_cli_init_writes_once_and_refuses_to_overwrite(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "tox.ini": """
                [tox]
                env_list = lint
                [testenv:lint]
                skip_install = true
                deps = alpha
                commands = python -c "import alpha; print('lint', alpha.VERSION)"
            """,
        },
    )
    first = vrun("init", check=0)
    assert f"wrote {project / 'vrun.toml'}" in first.stdout
    text = (project / "vrun.toml").read_text()
    assert "[sessions.lint]" in text
    ran = vrun("lint", check=0)
    assert "lint 2.0" in ran.stdout  # the translated session runs
    again = vrun("init", check=2)
    assert "error:" in again.stderr and "vrun.toml" in again.stderr
    assert (project / "vrun.toml").read_text() == text


@pytest.mark.parametrize("name", ["tox.ini", "setup.cfg", "noxfile.py"])
def test_init_on_a_file_that_is_not_utf8_is_one_error_naming_it(project: Path, vrun: Vrun, name: str) -> None:
    header = {"tox.ini": "[tox]\n", "setup.cfg": "[tox:tox]\n", "noxfile.py": "import nox\n"}[name]
    (project / name).write_bytes(header.encode() + b"# caf\xe9\n")
    proc = vrun("init", check=2)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors == [
        f"vrun > error: {project / name}: not UTF-8 text (byte 0xe9 at offset {len(header) + 5})"
    ]
    assert "Traceback" not in proc.stderr and not (project / "vrun.toml").exists()


def test_init_on_a_pathologically_nested_noxfile_notes_it(project: Path, vrun: Vrun) -> None:
    (project / "noxfile.py").write_text("import nox\nx = " + "(" * 200_000 + ")" * 200_000 + "\n")
    proc = vrun("init", check=0)
    assert "Traceback" not in proc.stderr
    assert "noxfile.py: " in proc.stderr and (project / "vrun.toml").is_file()


def test_init_in_a_read_only_folder_is_one_error(project: Path, vrun: Vrun) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    (project / "tox.ini").write_text("[testenv]\ncommands = pytest\n")
    project.chmod(0o555)
    try:
        proc = vrun("init", check=2)
    finally:
        project.chmod(0o755)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors == [f"vrun > error: cannot write {project / 'vrun.toml'}: Permission denied"]


def test_write_config_turns_an_unwritable_folder_into_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the read-only folder above, where the suite runs as root (which writes anyway)."""
    from vrun.errors import UsageError
    from vrun.migrate import translate

    def refused(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    (tmp_path / "tox.ini").write_text("[testenv]\ncommands = pytest\n")
    monkeypatch.setattr(translate, "open", refused, raising=False)
    with pytest.raises(UsageError, match=r"cannot write .*vrun\.toml: Permission denied"):
        translate.write_config(tmp_path)


def test_init_with_nothing_to_translate_or_guess_exits_2_and_writes_nothing(
    project: Path, vrun: Vrun
) -> None:
    (project / "README.md").write_text("a folder with no project in it\n")
    proc = vrun("init", check=2)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "found no tox or nox configuration" in errors[0], proc.stderr
    assert 'write vrun.toml with a session, e.g. [sessions.test] commands = ["pytest"]' in proc.stderr
    assert not (project / "vrun.toml").exists() and proc.stdout == ""


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"tox.ini": "[testenv]\ncommands = pytest\n"}, "tox.ini"),
        ({"tox.toml": 'env_list = ["py"]\n'}, "tox.toml"),
        ({"pyproject.toml": '[tool.tox]\nenv_list = ["py"]\n'}, "[tool.tox] in pyproject.toml"),
        ({"setup.cfg": "[tox:tox]\nenvlist = py\n"}, "[tox:tox] in setup.cfg"),
        ({"noxfile.py": "import nox\n"}, "noxfile.py"),
    ],
)
def test_a_folder_with_only_a_tox_or_nox_config_points_to_vrun_init(
    project: Path, vrun: Vrun, files: dict[str, str], named: str
) -> None:
    write_project(project, files)
    proc = vrun("list", check=2)
    assert f"hint: run vrun init to translate {named} into vrun.toml" in proc.stderr, proc.stderr
    plain = Vrun(project / "sub", vrun.env)
    (project / "sub").mkdir()
    assert "create vrun.toml with a session" in plain("list", check=2).stderr  # only where it is


# --- issue 16: what init translated wrongly, each with the real lines that showed it -----------


#: stamina 26.1.0's install line, in a session whose command finds unittest modules.
GROUP_NOXFILE = """\
import nox

@nox.session
def tests(session):
    session.install(".", "--group", "tests")
    session.run("python", "-m", "unittest", *session.posargs)
"""


def test_nox_install_options_are_taken_with_their_values(tmp_path: Path) -> None:
    """stamina's ``session.install(".", "--group", "tests")`` gave deps = ["tests"] (a PyPI name
    nobody asked for): an option's value is never a requirement."""
    root = project(
        tmp_path,
        {
            "noxfile.py": GROUP_NOXFILE
            + """
@nox.session
def docs(session):
    session.install("-e", ".", "--group=docs", "-r", "requirements-docs.txt", "-c", "constraints.txt")
    session.install("--index-url", "https://example.invalid/simple", "-e", "./lib", "-rrequirements-docs.txt")
    session.run("sphinx-build", "docs", "out")
""",
            "requirements-docs.txt": "",
            "constraints.txt": "",
            "lib/setup.py": "",
        },
    )
    root.joinpath("pyproject.toml").write_text(PROJECT + "[dependency-groups]\ntests = []\ndocs = []\n")
    config, notes = loaded(root)
    tests = config.sessions["tests"]
    assert (tests.groups, tests.requirements, tests.install_project) == (("tests",), (), "wheel")
    assert field(config, "tests", "commands") == [["python", "-m", "unittest", "{posargs}"]]
    docs = config.sessions["docs"]
    assert docs.install_project == "editable" and docs.groups == ("docs",)
    assert docs.requirements == (f"-e {root / 'lib'}",)
    assert [os.path.basename(p) for p in docs.requirement_files] == ["requirements-docs.txt"] * 2
    assert [os.path.basename(p) for p in docs.constraint_files] == ["constraints.txt"]
    assert any("'--index-url https://example.invalid/simple' not translated" in note for note in notes)


def test_nox_group_session_runs_and_finds_its_tests(project: Path, vrun: Vrun) -> None:
    """Done when: the nox ``--group`` case, translated, builds its env offline (the group's
    requirement and the project) and its command finds the tests."""
    write_project(
        project,
        {
            **demo_project(groups={"tests": ["alpha"]}, layout="module"),
            "noxfile.py": GROUP_NOXFILE,
            "test_demo.py": """
                import unittest

                import alpha
                import demo

                class TestDemo(unittest.TestCase):
                    def test_word(self):
                        self.assertEqual((demo.WORD, alpha.VERSION), ("one", "2.0"))
            """,
        },
    )
    vrun("init", check=0)
    ran = vrun("tests", check=0)
    assert "Ran 1 test" in ran.stderr and "\nOK" in ran.stderr, ran.stderr


def test_a_setup_py_project_with_a_root_test_file_gets_a_session_that_finds_it(
    project: Path, vrun: Vrun
) -> None:
    """Done when: six and simplejson got a config with no sessions (their tests are a root
    ``test_six.py``, or ``simplejson/tests/``; no tests/ folder). A setup.py-only project with a
    root unittest module: the guessed session runs offline and finds the test."""
    write_project(
        project,
        {
            "setup.py": 'from setuptools import setup\nsetup(name="demo", version="0.1", py_modules=["demo"])\n',
            "demo.py": "WORD = 'one'\n",
            "test_demo.py": """
                import unittest

                import demo

                class TestDemo(unittest.TestCase):
                    def test_word(self):
                        self.assertEqual(demo.WORD, "one")
            """,
        },
    )
    assert "wrote" in vrun("init", check=0).stdout
    config = load_config(project / "vrun.toml")
    assert field(config, "test", "commands") == [["python", "-m", "unittest", "{posargs}"]]
    assert config.sessions["test"].install_project == "editable"
    ran = vrun("test", check=0)
    assert "Ran 1 test" in ran.stderr and "\nOK" in ran.stderr, ran.stderr


@pytest.mark.parametrize(
    ("files", "commands", "deps", "extras"),
    [
        (  # six 1.17.0: test_six.py at the root, [tool:pytest] in setup.cfg, tests_require
            {
                "setup.py": 'from setuptools import setup\nsetup(name="six", tests_require=["pytest"])\n',
                "setup.cfg": "[tool:pytest]\nminversion = 2.2.0\n",
                "test_six.py": "import pytest\n",
            },
            ["pytest {posargs}"],
            ["pytest"],
            [],
        ),
        (  # simplejson 4.3.0: unittest modules inside the package, no pytest anywhere
            {
                "setup.py": "from setuptools import setup\nsetup(name='simplejson')\n",
                "simplejson/__init__.py": "",
                "simplejson/tests/__init__.py": "import unittest\n",
                "simplejson/tests/test_decode.py": "from unittest import TestCase\n",
            },
            ["python -m unittest {posargs}"],
            [],
            [],
        ),
        (  # a src layout's package tests: discovery must start there
            {
                "setup.py": "from setuptools import setup\nsetup(name='pkg')\n",
                "src/pkg/__init__.py": "",
                "src/pkg/tests/__init__.py": "",
                "src/pkg/tests/test_x.py": "import unittest\n",
            },
            ["python -m unittest discover -s src/pkg/tests -t src {posargs}"],
            [],
            [],
        ),
        (  # setuptools' test_suite names the suite
            {
                "setup.py": "from setuptools import setup\nsetup(name='p')\n",
                "setup.cfg": "[options]\ntest_suite = p.tests\ntests_require =\n    mock\n",
            },
            ["python -m unittest {posargs:p.tests}"],
            ["mock"],
            [],
        ),
        (  # [pytest] in a tox.ini that has no tox sections
            {"setup.py": "", "tox.ini": "[pytest]\naddopts = -q\n", "checks/test_a.py": ""},
            ["pytest {posargs}"],
            ["pytest"],
            [],
        ),
        (  # idna 3.20: its test dependencies are in the extra "all", with pytest and hypothesis
            {
                "pyproject.toml": PROJECT
                + '[project.optional-dependencies]\nall = ["ruff", "pytest >= 8.3.2", "hypothesis"]\n',
                "tests/test_idna.py": "import unittest\n",
            },
            ["pytest {posargs}"],
            [],
            ["all"],
        ),
        (  # [tool.pytest.ini_options], a plain-assert module at the root
            {"pyproject.toml": PROJECT + "[tool.pytest.ini_options]\naddopts = '-q'\n", "x_test.py": ""},
            ["pytest {posargs}"],
            ["pytest"],
            [],
        ),
    ],
    ids=["six", "simplejson", "src-layout", "test_suite", "tox-ini-pytest", "idna", "pyproject-pytest"],
)
def test_the_guess_finds_root_and_package_tests_and_their_runner(
    tmp_path: Path, files: dict[str, str], commands: list[str], deps: list[str], extras: list[str]
) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    text, _ = translate(tmp_path)
    test = tomllib.loads(text)["sessions"]["test"]
    assert test["commands"] == commands
    assert test.get("deps", []) == deps and test.get("extras", []) == extras
    load_config(write_config(tmp_path)[0])


def test_the_guess_takes_a_group_that_holds_a_test_tool(tmp_path: Path) -> None:
    root = project(tmp_path, {"tests/test_a.py": ""})
    root.joinpath("pyproject.toml").write_text(
        PROJECT + '[dependency-groups]\nlint = ["ruff"]\nci = ["hypothesis", "coverage"]\n'
    )
    assert loaded(root)[0].sessions["test"].groups == ("ci",)


def test_tox_depends_expands_braces_and_matches_patterns(tmp_path: Path) -> None:
    """attrs 26.1.0: ``depends = py3{9,10,14}-tests`` was split on the commas inside the braces;
    structlog 26.1.0: ``depends = *-tests*`` (an fnmatch pattern, as tox 4 takes it) was dropped."""
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [tox]
            env_list = py3{9,10,14}-tests, py311-tests, coverage-combine, coverage-all
            [testenv]
            commands = pytest
            [testenv:py3{9,10,14}-tests]
            commands = coverage run -m pytest
            [testenv:coverage-combine]
            depends = py3{9,10,14}-tests
            skip_install = true
            commands = coverage combine
            [testenv:coverage-all]
            depends = *-tests*
            skip_install = true
            commands = coverage report
            """
        },
    )
    config, _ = loaded(root)

    def required(name: str) -> set[str]:  # full session names, whatever a matrix calls them
        return {full for r in config.sessions[name].requires for full in config.matrix.get(r, (r,))}

    tests = [n for n in config.sessions if not n.startswith("coverage")]
    three = [n for n in tests if "3.11" not in n and "311" not in n]
    assert len(tests) == 4 and len(three) == 3
    assert required("coverage-combine") == set(three)
    assert required("coverage-all") == set(tests)


def test_a_reference_to_a_generative_section_resolves(tmp_path: Path) -> None:
    """attrs 26.1.0 / structlog 26.1.0: ``base_python = {[testenv:docs-build]base_python}`` in
    ``[testenv:docs-watch]``, where docs-build is defined by ``[testenv:docs-{build,doctests,linkcheck}]``."""
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [testenv:docs-{build,doctests,linkcheck}]
            base_python = py313
            dependency_groups = docs
            commands =
                build: sphinx-build -b html docs out
                linkcheck: sphinx-build -b linkcheck docs out
            [testenv:docs-watch]
            base_python = {[testenv:docs-build]base_python}
            dependency_groups = {[testenv:docs-build]dependency_groups}
            commands = {[testenv:docs-build]commands}
            """
        },
    )
    root.joinpath("pyproject.toml").write_text(PROJECT + "[dependency-groups]\ndocs = []\n")
    config, notes = loaded(root)
    watch = config.sessions["docs-watch"]
    assert (watch.python, watch.groups) == ("3.13", ("docs",))
    assert field(config, "docs-watch", "commands") == [["sphinx-build", "-b", "html", "docs", "out"]]
    assert not any("reference" in note for note in notes)


def test_commands_pre_post_and_set_env_files_are_translated_and_run(project: Path, vrun: Vrun) -> None:
    """tox's commands_pre and commands_post keep their meaning (post runs after a failure), and
    ``set_env = file|.env`` (typer's three variables) becomes env_file; the translation runs."""
    write_project(
        project,
        {
            "tox.ini": """
                [testenv:t]
                skip_install = true
                set_env =
                    file|{toxinidir}/.env
                    TERMINAL_WIDTH = 80
                    file|.env.ci
                commands_pre = python -c "print('pre')"
                commands = python -c "import os, sys; print(os.environ['TERMINAL_WIDTH'], os.environ['_TYPER_FORCE_DISABLE_TERMINAL']); sys.exit(4)"
                commands_post = python -c "print('post')"
            """,
            ".env": """
                export TERMINAL_WIDTH=3000
                export _TYPER_FORCE_DISABLE_TERMINAL=1
                export _TYPER_RUN_INSTALL_COMPLETION_TESTS=1
            """,
        },
    )
    init = vrun("init", check=0)
    assert 'written as env_file "-.env.ci"' in init.stderr + init.stdout
    config = load_config(project / "vrun.toml")
    t = config.sessions["t"]
    assert [f.path for f in t.env_file] == [str(project / ".env"), str(project / ".env.ci")]
    assert [f.optional for f in t.env_file] == [False, True]
    ran = vrun("t", check=4)
    assert ran.stdout.split() == ["pre", "80", "1", "post"]  # env wins over the file, as in tox


def test_tox_toml_set_env_file_and_commands_post(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tox.toml": """
            [env_pkg_base]
            set_env = { SETUPTOOLS_SCM_PRETEND_VERSION = "1.0" }
            pass_env = ["X"]
            [env.t]
            set_env = { file = ".env", X = "1" }
            commands_pre = [["python", "-V"]]
            commands = [["pytest"]]
            commands_post = [["coverage", "report"]]
            """,
            ".env": "A=1\n",
        },
    )
    config, notes = loaded(root)
    t = config.sessions["t"]
    assert [os.path.basename(f.path) for f in t.env_file] == [".env"] and dict(t.env) == {"X": "1"}
    assert dict(t.build_env) == {"SETUPTOOLS_SCM_PRETEND_VERSION": "1.0"}
    assert "tox.toml [env_pkg_base] pass_env: not translated" in notes
    assert field(config, "t", "commands_pre") == [["python", "-V"]]
    assert field(config, "t", "commands_post") == [["coverage", "report"]]


def test_build_time_set_env_reaches_build_env(tmp_path: Path) -> None:
    """tox 4 builds the project in its packaging env, with ``[pkgenv]``'s and ``[testenv:.pkg]``'s
    set_env, and installs with the env's own set_env: those reach vrun's builds through build_env,
    for the sessions that install the project."""
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [pkgenv]
            set_env = SETUPTOOLS_SCM_PRETEND_VERSION = 1.0
            [testenv:.pkg]
            set_env =
                CFLAGS = -O0 -I{toxinidir}/include
                NOT_FOR_BUILD = {env:X}
            [testenv:t]
            set_env =
                FROZENLIST_NO_EXTENSIONS = 1
                PYTHONWARNINGS = error
            commands = pytest
            [testenv:lint]
            skip_install = true
            commands = ruff check
            """
        },
    )
    config, notes = loaded(root)
    assert dict(config.sessions["t"].build_env) == {
        "SETUPTOOLS_SCM_PRETEND_VERSION": "1.0",
        "CFLAGS": f"-O0 -I{root}/include",
        "FROZENLIST_NO_EXTENSIONS": "1",
    }
    assert dict(config.sessions["t"].env) == {"FROZENLIST_NO_EXTENSIONS": "1", "PYTHONWARNINGS": "error"}
    assert config.sessions["lint"].build_env == ()
    assert any("NOT_FOR_BUILD" in note for note in notes)


def test_a_session_whose_commands_were_all_dropped_is_left_out(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [tox]
            env_list = a, b, c
            [testenv:a]
            commands = ! false
            [testenv:b]
            commands = pytest
            [testenv:c]
            deps = pytest
            """
        },
    )
    config, notes = loaded(root)
    assert list(config.sessions) == ["b", "c"]  # c has no commands in tox either: an env to use
    assert config.default == ("b", "c")
    assert "tox.ini: session a left out: none of its commands could be translated" in " ".join(notes)
    assert "[sessions.a]" not in (root / "vrun.toml").read_text()


# --- factor envs and @nox.parametrize become one matrix session -------------------------------------

#: tox.ini files whose generative envs become one matrix session each, as real projects write them:
#: structlog (deps conditional on the Python and on another factor), wrapt (set_env conditional,
#: and an env beyond the product), Django's own style (conditions naming two factors).
FACTOR_CASES = {
    "structlog": (
        """
        [tox]
        envlist = {py38,py39,pypy3}-{threads,greenlets}, flake8
        [testenv]
        deps =
            coverage
            greenlets: greenlet
            pytest
            py38: ordereddict
            py39,pypy3: twisted
        setenv =
            PYTHONHASHSEED = 0
            threads: TRICKS = 1
        commands = coverage run -m pytest tests {posargs}
        [testenv:flake8]
        deps = flake8
        commands = flake8 src
        """,
        "test",
        {"python": ["3.8", "3.9", "pypy3"], "variant": ["threads", "greenlets"]},
    ),
    "wrapt": (
        """
        [tox]
        envlist =
          py{38,39}-{without,install,disable}-extensions,
          pypy-without-extensions
        [testenv]
        deps = pytest
        commands = pytest -v {posargs}
        setenv =
          without-extensions: WRAPT_INSTALL_EXTENSIONS = false
          install-extensions,disable-extensions: WRAPT_INSTALL_EXTENSIONS = true
          disable-extensions: WRAPT_DISABLE_EXTENSIONS = true
        """,
        "extensions",
        [
            {"python": ["3.8", "3.9"], "variant": ["without", "install", "disable"]},
            {"python": ["pypy"], "variant": ["without"]},
        ],
    ),
    "django": (
        """
        [tox]
        envlist = py3{10-11}-django{42,50}, lint
        [testenv]
        deps =
            pytest
            django42: Django>=4.2,<4.3
            django50: Django>=5.0,<5.1
            py310-django50: backports.zoneinfo
        commands =
            django42: pytest --ds=old {posargs}
            django50: pytest {posargs}
        [testenv:lint]
        deps = ruff
        commands = ruff check
        """,
        "test",
        {"python": ["3.10", "3.11"], "django": ["42", "50"]},
    ),
}


@pytest.mark.parametrize("case", list(FACTOR_CASES))
def test_factor_envs_become_one_matrix_whose_entries_are_the_tox_envs(tmp_path: Path, case: str) -> None:
    """Each tox env, read as tox reads it, is a matrix entry with the same deps, set_env and commands."""
    from vrun.config.matrix import entry_name
    from vrun.migrate.model import Notes
    from vrun.migrate.toxini import IniTox, parse_ini
    from vrun.migrate.toxmatrix import Group, groups

    tox_ini, base, matrix = FACTOR_CASES[case]
    root = project(tmp_path, {"tox.ini": tox_ini})
    text = translate(root)[0]
    data = tomllib.loads(text)["sessions"][base]
    assert data["matrix"] == matrix, text
    config, _ = loaded(root)
    assert config.default is not None and base in config.default
    reader = IniTox(root, parse_ini(textwrap.dedent(tox_ini), "tox") or {}, "tox.ini", Notes())
    (group,) = [g for g in groups(reader.env_items() or [], Notes()) if isinstance(g, Group)]
    assert config.matrix[base] == tuple(entry_name(base, pairs) for _, pairs in group.rows)
    for env, pairs in group.rows:
        tox = reader.session(env)[0]
        entry = config.sessions[entry_name(base, pairs)]
        assert sorted(entry.requirements) == sorted(tox.deps), (env, entry.name)
        assert dict(entry.env) == tox.env, (env, entry.name)
        assert [c.source for c in entry.commands] == tox.commands, (env, entry.name)


def test_conditions_on_one_factor_or_two_become_overrides(tmp_path: Path) -> None:
    root = project(tmp_path, {"tox.ini": FACTOR_CASES["django"][0]})
    sessions = tomllib.loads(translate(root)[0])["sessions"]
    assert list(sessions) == ["test", "lint"]
    test = sessions["test"]
    assert test["deps"] == ["pytest"] and test["commands"] == ["pytest --ds=old {posargs}"]
    assert test["overrides"] == {
        "django=42": {"add": {"deps": ["Django>=4.2,<4.3"]}},
        "django=50": {"commands": ["pytest {posargs}"], "add": {"deps": ["Django>=5.0,<5.1"]}},
        "python=3.10, django=50": {"add": {"deps": ["backports.zoneinfo"]}},
    }


def test_tox_factor_envs_run_as_one_matrix_session(project: Path, vrun: Vrun) -> None:
    """The issue's done-when: a tox.ini with factor-conditional deps becomes one matrix session with
    two entries, and each entry's env holds what its tox env would."""
    write_project(
        project,
        {
            "tox.ini": """
                [tox]
                envlist = alpha{1,2}
                [testenv]
                skip_install = true
                deps =
                    alpha1: alpha==1.0
                    alpha2: alpha==2.0
                commands = python -c "import alpha; print('ALPHA', alpha.VERSION)"
            """
        },
    )
    vrun("init", check=0)
    config = load_config(project / "vrun.toml")
    assert config.matrix == {"test": ("test-alpha1", "test-alpha2")}
    assert config.default == ("test",)
    out = vrun("test", check=0).stdout
    assert "ALPHA 1.0" in out and "ALPHA 2.0" in out, out
    assert vrun("test-alpha2", check=0).stdout.count("ALPHA") == 1


def test_generative_sections_and_tox_toml_make_matrices_too(tmp_path: Path) -> None:
    ini = project(
        tmp_path / "ini",
        {
            "tox.ini": """
            [testenv:py{311,312}-django{42,50}]
            deps = django42: Django>=4.2,<4.3
            commands = pytest
            """
        },
    )
    config, _ = loaded(ini)
    assert config.matrix["test"] == (
        "test-3.11-django42",
        "test-3.11-django50",
        "test-3.12-django42",
        "test-3.12-django50",
    )
    assert config.sessions["test-3.12-django42"].requirements == ("Django>=4.2,<4.3",)
    assert config.sessions["test-3.12-django50"].requirements == ()
    toml = project(
        tmp_path / "toml",
        {
            "tox.toml": """
            env_list = ["py3{11,12}-tests", "pypy3-tests", "docs-{html,pdf}"]
            [env_run_base]
            commands = [["pytest"]]
            [env."docs-{html,pdf}"]
            commands = [["sphinx-build", "-b", "html"]]
            """
        },
    )
    config, _ = loaded(toml)
    assert config.matrix["tests"] == ("tests-3.11", "tests-3.12", "tests-pypy3")
    assert config.matrix["docs"] == ("docs-html", "docs-pdf")
    assert config.default == ("tests", "docs")


def test_envs_that_cannot_share_a_session_stay_apart(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tox.ini": """
            [tox]
            envlist = py{311,312}-lint, lint
            [testenv]
            commands = ruff check
            depends = py312-lint: lint
            """
        },
    )
    config, _ = loaded(root)
    assert list(config.sessions) == ["py311-lint", "py312-lint", "lint"]
    assert config.sessions["py312-lint"].requires == ("lint",)


def test_excluded_pythons_leave_a_factor_matrix_with_their_overrides(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "pyproject.toml": PROJECT + 'requires-python = ">=3.10"\n',
            "tox.ini": """
            [tox]
            envlist = py{39,310}-django{42,50}
            [testenv]
            deps =
                py39: importlib-metadata
                django42: Django>=4.2,<4.3
            commands = pytest
            """,
        },
    )
    config, notes = loaded(root)
    assert config.matrix["test"] == ("test-3.10-django42", "test-3.10-django50")
    assert any("3.9 left out" in note for note in notes)
    assert "python=3.9" not in (root / "vrun.toml").read_text()


PARAMETRIZED = """
import nox

@nox.session(python=["3.11", "3.12"])
@nox.parametrize("django", ["4.2", "5.0"])
def tests(session, django):
    session.install(f"django=={django}", "pytest")
    session.run("pytest", "--ds", django, *session.posargs)

@nox.session
@nox.parametrize("db, version", [("pg", 15), nox.param("sqlite", "3", id="lite")])
@nox.parametrize("mode", ["fast", "slow"])
def db(session, db, version, mode):
    session.run("echo", f"{db}:{version}:{mode}")

@nox.session
@nox.parametrize("python", ["3.11", "3.12"])
def pythons(session):
    session.run("python", "-V")

@nox.session
@nox.parametrize("dep", ["django<4", "django>=4"])
def unnamed(session, dep):
    session.install(dep)
    session.run("true")
"""


def test_nox_parametrize_becomes_one_matrix_session(tmp_path: Path) -> None:
    root = project(tmp_path, {"noxfile.py": PARAMETRIZED})
    sessions = tomllib.loads(translate(root)[0])["sessions"]
    assert sessions["tests"]["matrix"] == {"python": ["3.11", "3.12"], "django": ["4.2", "5.0"]}
    assert sessions["db"]["matrix"] == [
        {"db": ["pg"], "version": ["15"], "mode": ["fast", "slow"]},
        {"db": ["sqlite"], "version": ["3"], "mode": ["fast", "slow"]},
    ]
    assert sessions["pythons"]["python"] == ["3.11", "3.12"] and "matrix" not in sessions["pythons"]
    config, notes = loaded(root)
    entry = config.sessions["tests-3.12-django5.0"]
    assert entry.requirements == ("django==5.0", "pytest")
    assert entry.commands[0].argv == ("pytest", "--ds", "5.0", "{posargs}")
    assert config.matrix["db"] == (
        "db-pg-version15-fast",
        "db-pg-version15-slow",
        "db-sqlite-version3-fast",
        "db-sqlite-version3-slow",
    )
    assert config.sessions["db-sqlite-version3-slow"].commands[0].argv == ("echo", "sqlite:3:slow")
    assert config.matrix["pythons"] == ("pythons-3.11", "pythons-3.12")
    # values vrun cannot name entries with: noted, the session kept without them
    assert config.matrix["unnamed"] == ("unnamed",)
    text = "\n".join(notes)
    assert "'django<4' cannot name a vrun matrix entry" in text
    assert "session.install argument `dep` not translated" in text
    assert "ids not translated" in text
