"""The env key's inputs: every file and variable that decides what an env holds, and nothing else.

Unit tests call :mod:`vrun.plan.envkey` and :mod:`vrun.plan.discovery` directly on throwaway trees; each also
checks that what decided the key was *recorded* (:mod:`vrun.inputs`), since a stored plan is only
invalidated by recorded inputs. Integration tests build real, tiny envs offline.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Vrun, demo_project, write_project
from vrun import inputs
from vrun.config.load import load_config
from vrun.env import rebuild
from vrun.plan import discovery, envkey, interpreters
from vrun.plan.interpreters import Interpreter

AGO_NS = 10_000_000_000


def aged(*paths: Path) -> None:
    """Set the mtime of ``paths`` 10 s back: a later edit then surely changes their signature."""
    for path in paths:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - AGO_NS))


def digest_after(
    root: Path, edit: Callable[[], object], extra: tuple[str, ...] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """``project_inputs(root)`` before and after ``edit()``; checks that every file the first call
    read was recorded and that the edit touched a recorded file when the digest changed."""
    with inputs.recording() as rec:
        before = envkey.project_inputs(str(root), extra)
    edit()
    after = envkey.project_inputs(str(root), extra)
    if before != after:
        assert rec.changed(), "the key changed but no recorded input did: a stored plan would go stale"
    return before, after


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --- the project component ------------------------------------------------------------------------


def test_setuptools_dynamic_dependencies_file(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "p"\nversion = "1"\ndynamic = ["dependencies", "optional-dependencies"]\n'
        '[tool.setuptools.dynamic]\ndependencies = {file = ["requirements.txt"]}\n'
        'optional-dependencies = {dev = {file = ["dev.txt"]}}\n',
    )
    write(tmp_path / "requirements.txt", "alpha==1.0\n")
    write(tmp_path / "dev.txt", "beta\n")
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "requirements.txt", "alpha==2.0.0\n"))
    assert set(before) == {"pyproject.toml", "requirements.txt", "dev.txt"}
    assert before["requirements.txt"] != after["requirements.txt"]
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "dev.txt", "beta>=1\n"))
    assert before["dev.txt"] != after["dev.txt"]


def test_setup_cfg_file_directive(tmp_path: Path) -> None:
    write(tmp_path / "setup.cfg", "[metadata]\nname = p\n[options]\ninstall_requires = file: reqs.txt\n")
    write(tmp_path / "reqs.txt", "alpha==1.0\n")
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "reqs.txt", "alpha==2.0.0\n"))
    assert before["reqs.txt"] != after["reqs.txt"] and before["setup.cfg"] == after["setup.cfg"]


def test_setup_py_naming_a_requirements_file(tmp_path: Path) -> None:
    write(
        tmp_path / "setup.py",
        "from setuptools import setup\n"
        "with open('requirements.txt') as f:\n"
        "    setup(name='p', install_requires=f.read().split())\n",
    )
    write(tmp_path / "requirements.txt", "alpha==1.0\n")
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "requirements.txt", "alpha==2.0.0\n"))
    assert before["requirements.txt"] != after["requirements.txt"]


def test_setup_py_naming_a_file_that_appears_later(tmp_path: Path) -> None:
    write(
        tmp_path / "setup.py", "import setuptools\nsetuptools.setup(name='p', data=open('extra-reqs.txt'))\n"
    )
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "extra-reqs.txt", "alpha\n"))
    assert "extra-reqs.txt" not in before and "extra-reqs.txt" in after


@pytest.mark.parametrize(
    ("table", "edited"),
    [
        ('[tool.poetry]\nname = "p"\n[tool.poetry.dependencies]\nalpha = "1.0"\n', ('"1.0"', '"2.0"')),
        (
            '[tool.pdm]\ndistribution = true\n[tool.pdm.dev-dependencies]\ntest = ["alpha"]\n',
            ("alpha", "beta"),
        ),
        ('[tool.flit.module]\nname = "p"\n', ('"p"', '"q"')),
        ('[tool.uv]\nconstraint-dependencies = ["alpha<2"]\n', ("<2", "<3")),
    ],
    ids=["poetry", "pdm", "flit", "uv"],
)
def test_build_tool_tables_are_metadata(tmp_path: Path, table: str, edited: tuple[str, str]) -> None:
    text = '[project]\nname = "p"\nversion = "1"\n' + table
    write(tmp_path / "pyproject.toml", text)
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "pyproject.toml", text.replace(*edited)))
    assert before["pyproject.toml"] != after["pyproject.toml"]


def test_hatch_metadata_hook_script(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "p"\nversion = "1"\ndynamic = ["dependencies"]\n'
        "[tool.hatch.metadata.hooks.custom]\n",
    )
    write(tmp_path / "hatch_build.py", "DEPS = ['alpha==1.0']\n")
    before, after = digest_after(
        tmp_path, lambda: write(tmp_path / "hatch_build.py", "DEPS = ['alpha==2.0.0']\n")
    )
    assert before["hatch_build.py"] != after["hatch_build.py"]


def test_hatch_requirements_txt_files(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "p"\nversion = "1"\ndynamic = ["dependencies"]\n'
        '[tool.hatch.metadata.hooks.requirements_txt]\nfiles = ["requirements.txt"]\n',
    )
    write(tmp_path / "requirements.txt", "alpha\n")
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "requirements.txt", "alpha==2.0\n"))
    assert before["requirements.txt"] != after["requirements.txt"]


@pytest.mark.parametrize(
    "edit",
    [
        ("[tool.pytest.ini_options]\naddopts = '-q'\n", "[tool.pytest.ini_options]\naddopts = '-x -q'\n"),
        ("[tool.ruff]\nline-length = 100\n", "[tool.ruff]\nline-length = 120\n"),
        ("[tool.vrun.sessions.s]\ncommands = ['a']\n", "[tool.vrun.sessions.s]\ncommands = ['b']\n"),
    ],
    ids=["pytest", "ruff", "vrun"],
)
def test_unrelated_tool_tables_are_not_metadata(tmp_path: Path, edit: tuple[str, str]) -> None:
    head = '[project]\nname = "p"\nversion = "1"\n'
    write(tmp_path / "pyproject.toml", head + edit[0])
    before, after = digest_after(tmp_path, lambda: write(tmp_path / "pyproject.toml", head + edit[1]))
    assert before == after


def test_project_inputs_config_key(tmp_path: Path) -> None:
    write(
        tmp_path / "vrun.toml",
        'project_inputs = ["src/pkg/_deps.py", "requirements/*.in"]\n'
        '[sessions.s]\ninstall_project = "editable"\ncommands = ["python -c pass"]\n',
    )
    write(tmp_path / "pyproject.toml", '[project]\nname = "pkg"\nversion = "1"\n')
    write(tmp_path / "src/pkg/_deps.py", "DEPS = ['alpha==1.0']\n")
    config = load_config(tmp_path / "vrun.toml")
    assert config.project_inputs == ("src/pkg/_deps.py", "requirements/*.in")
    session = config.sessions["s"]

    def key() -> envkey.EnvKey:
        return envkey.compute_key(session, config, running(), "virtualenv", {"HOME": str(tmp_path)})

    with inputs.recording() as rec:
        first = key()
    write(tmp_path / "src/pkg/_deps.py", "DEPS = ['alpha==2.0.0']\n")
    second = key()
    assert first.digest != second.digest and rec.changed()
    assert (
        rebuild.explain_change(first.components, second.components)
        == "project metadata changed: src/pkg/_deps.py"
    )
    with inputs.recording() as rec:
        key()
    write(tmp_path / "requirements/base.in", "alpha\n")  # a new file matching a glob
    third = key()
    assert third.digest != second.digest and rec.changed()
    assert "requirements/base.in" in third.components["project"]


def test_project_inputs_globs_see_new_files_in_subdirectories(tmp_path: Path) -> None:
    write(tmp_path / "setup.py", "import setuptools\nsetuptools.setup()\n")
    (tmp_path / "reqs" / "extra").mkdir(parents=True)
    aged(tmp_path / "reqs", tmp_path / "reqs" / "extra")
    with inputs.recording() as rec:
        before = envkey.project_inputs(str(tmp_path), ("reqs/**/*.txt",))
    write(tmp_path / "reqs/extra/more.txt", "alpha\n")
    after = envkey.project_inputs(str(tmp_path), ("reqs/**/*.txt",))
    assert "reqs/extra/more.txt" in after and "reqs/extra/more.txt" not in before
    assert rec.changed(), "a new file in a subdirectory changes the key: a recorded input must change too"


# --- the installer component ----------------------------------------------------------------------


def running() -> Interpreter:
    return Interpreter(
        executable=sys.executable,
        base_executable=os.path.realpath(sys.executable),
        implementation="CPython",
        version="3.99.0",
        version_info=(3, 99, 0),
        architecture=64,
        machine="x86_64",
    )


@pytest.fixture
def keyed(tmp_path: Path) -> Callable[[dict[str, str]], envkey.EnvKey]:
    """The env key of a minimal session under a given environment."""
    write(
        tmp_path / "proj/vrun.toml",
        '[sessions.s]\ninstall_project = false\ndeps = ["alpha"]\ncommands = ["x"]\n',
    )
    config = load_config(tmp_path / "proj/vrun.toml")
    home = str(tmp_path / "home")

    def key(environ: dict[str, str]) -> envkey.EnvKey:
        env = {"HOME": home, "XDG_CONFIG_DIRS": str(tmp_path / "xdg"), **environ}
        return envkey.compute_key(config.sessions["s"], config, running(), "virtualenv", env)

    return key


def test_index_variables_are_in_the_key(keyed: Callable[[dict[str, str]], envkey.EnvKey]) -> None:
    base = keyed({})
    for name, value in (
        ("PIP_FIND_LINKS", "/some/wheels"),
        ("PIP_INDEX_URL", "https://example.invalid/simple"),
        ("PIP_EXTRA_INDEX_URL", "https://example.invalid/extra"),
        ("PIP_NO_DEPS", "1"),
        ("PIP_PRE", "1"),
    ):
        changed = keyed({name: value})
        assert changed.digest != base.digest, name
        assert rebuild.explain_change(base.components, changed.components) == "installer settings changed"
    assert keyed({"PIP_FIND_LINKS": "/a"}).digest != keyed({"PIP_FIND_LINKS": "/b"}).digest


def test_cache_and_output_variables_are_not(keyed: Callable[[dict[str, str]], envkey.EnvKey]) -> None:
    base = keyed({})
    for name in (
        "PIP_CACHE_DIR",
        "PIP_NO_CACHE_DIR",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "PIP_PROGRESS_BAR",
        "PIP_TIMEOUT",
    ):
        assert keyed({name: "/elsewhere"}).digest == base.digest, name


def test_pip_config_file_counts_by_content(
    tmp_path: Path, keyed: Callable[[dict[str, str]], envkey.EnvKey]
) -> None:
    conf = tmp_path / "pip.conf"
    write(conf, "[global]\nindex-url = https://a.invalid/simple\n")
    base = keyed({})
    first = keyed({"PIP_CONFIG_FILE": str(conf)})
    assert first.digest != base.digest
    with inputs.recording() as rec:
        assert keyed({"PIP_CONFIG_FILE": str(conf)}).digest == first.digest
    write(conf, "[global]\nindex-url = https://b.invalid/simple/\n")
    assert keyed({"PIP_CONFIG_FILE": str(conf)}).digest != first.digest
    assert str(conf) in rec.changed()


def test_pip_config_files_as_pip_chooses_them(
    tmp_path: Path, keyed: Callable[[dict[str, str]], envkey.EnvKey]
) -> None:
    conf = tmp_path / "pip.conf"
    write(conf, "[global]\nno-index = true\n")
    user = tmp_path / "home/.config/pip/pip.conf"
    devnull, named = {"PIP_CONFIG_FILE": os.devnull}, {"PIP_CONFIG_FILE": str(conf)}
    before = [keyed(env).digest for env in ({}, devnull, named)]
    write(user, "[install]\npre = true\n")
    after = [keyed(env).digest for env in ({}, devnull, named)]
    assert after[0] != before[0]  # the user's pip.conf counts...
    assert after[1] == before[1]  # ...not when PIP_CONFIG_FILE=/dev/null (pip reads no file at all)
    assert after[2] == before[2]  # ...nor when PIP_CONFIG_FILE names an existing file (pip skips it)
    write(tmp_path / "xdg/pip/pip.conf", "[install]\nonly-binary = :all:\n")  # site-wide
    assert keyed(named).digest != after[2] and keyed(devnull).digest == after[1]


def test_user_and_site_pip_config_files(
    tmp_path: Path, keyed: Callable[[dict[str, str]], envkey.EnvKey]
) -> None:
    base = keyed({})
    write(tmp_path / "home/.config/pip/pip.conf", "[global]\nno-index = true\n")
    user = keyed({})
    assert user.digest != base.digest
    write(tmp_path / "xdg/pip/pip.conf", "[install]\npre = true\n")
    assert keyed({}).digest != user.digest


def test_installer_settings_of_uv(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root / "pyproject.toml", '[project]\nname = "p"\nversion = "1"\n[tool.uv]\nprerelease = "allow"\n')
    env = {"HOME": str(tmp_path / "home"), "UV_INDEX_URL": "https://a.invalid"}
    settings = envkey.installer_settings("uv", env, str(root))
    assert settings["variables"] == {"UV_INDEX_URL": "https://a.invalid"}
    assert "tool.uv" in settings
    write(root / "uv.toml", 'index-url = "https://b.invalid"\n')
    assert envkey.installer_settings("uv", env, str(root)) != settings
    assert envkey.installer_settings(
        "uv", {**env, "UV_CACHE_DIR": "/x"}, str(root)
    ) == envkey.installer_settings("uv", env, str(root))


def test_constraint_variables_count_by_content(tmp_path: Path) -> None:
    constraints = tmp_path / "c.txt"
    write(constraints, "alpha<2\n")
    env = {"HOME": str(tmp_path), "PIP_CONSTRAINT": str(constraints)}
    first = envkey.installer_settings("virtualenv", env, str(tmp_path))
    write(constraints, "alpha<3\n")
    assert envkey.installer_settings("virtualenv", env, str(tmp_path)) != first


# --- what a spec resolves to ----------------------------------------------------------------------


@pytest.fixture
def path_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "bin"
    folder.mkdir()
    aged(folder)
    yield folder


def test_a_python_appearing_on_path_changes_the_material(tmp_path: Path, path_dir: Path) -> None:
    env = {"PATH": str(path_dir), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    spec = f"{sys.version_info[0]}.{sys.version_info[1]}"
    with inputs.recording() as rec:
        before = discovery.material(spec, env)
    assert discovery.material(spec, env) == before
    (path_dir / "python3.99").symlink_to(os.path.realpath(sys.executable))
    assert discovery.material(spec, env) != before
    assert str(path_dir) in rec.changed()
    assert discovery.material(None, env) == ["current", sys.executable]  # vrun's own: PATH is no input
    assert discovery.material("/opt/py/bin/python3", env) == ["path", "/opt/py/bin/python3"]


def test_a_pyenv_version_installed_changes_the_material(tmp_path: Path) -> None:
    versions = tmp_path / "pyenv" / "versions"
    versions.mkdir(parents=True)
    aged(versions)
    env = {"PATH": "", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    before = discovery.material("3.12", env)
    (versions / "3.12.9").mkdir()
    assert discovery.material("3.12", env) != before


def test_a_cached_resolution_is_recomputed_when_path_changes(
    tmp_path: Path, path_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    env = {"PATH": str(path_dir), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    spec = f"{sys.version_info[0]}.{sys.version_info[1]}"
    discovered: list[str | None] = []
    real = interpreters._discover

    def counting(spec: str | None, *args: Any) -> Interpreter:
        discovered.append(spec)
        return real(spec, *args)

    monkeypatch.setattr(interpreters, "_discover", counting)
    first = interpreters.find_interpreter(spec, cache_dir=cache, environ=env)
    assert discovered == [spec]
    cache_file = cache / interpreters.CACHE_FILE
    assert interpreters.find_interpreter(spec, cache_dir=cache, environ=env) == first
    assert discovered == [spec]  # served from the cache
    entries = set(json.loads(cache_file.read_text())["specs"])
    (path_dir / f"python{spec}").symlink_to(os.path.realpath(sys.executable))
    again = interpreters.find_interpreter(spec, cache_dir=cache, environ=env)
    assert discovered == [spec, spec]  # the new python on PATH made vrun look again
    assert again.version_info[:2] == sys.version_info[:2]
    assert cache_file.exists() and entries < set(json.loads(cache_file.read_text())["specs"])  # nothing wiped


# --- end to end: real envs --------------------------------------------------------------------------

SHOW_ALPHA = "python -c 'import alpha; print(alpha.__name__, alpha.VERSION)'"


def states(vrun: Vrun) -> dict[str, str]:
    return {row["name"]: row["state"] for row in json.loads(vrun("list", "--json", check=0).stdout)}


def test_setuptools_dynamic_dependencies_rebuild_the_editable_env(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            **demo_project(
                dynamic=["dependencies"],
                layout="module",
                source="WHO = 'demo'\n",
                tables="""
                    [tool.setuptools.dynamic]
                    dependencies = {file = ["requirements.txt"]}

                    [tool.pytest.ini_options]
                    addopts = "-q"
                """,
            ),
            "requirements.txt": "alpha==1.0\n",
            "vrun.toml": f"""
                [sessions.s]
                commands = ["python -c 'import demo; print(demo.__file__)'", "{SHOW_ALPHA}"]
            """,
        },
    )
    assert states(vrun) == {"s": "absent"}
    first = vrun("s", check=0)
    assert "alpha 1.0" in first.stdout and str(project / "demo.py") in first.stdout  # editable
    assert states(vrun) == {"s": "ready"}
    text = (project / "pyproject.toml").read_text().replace('"-q"', '"-x"')
    (project / "pyproject.toml").write_text(text)  # [tool.pytest.*] decides nothing installed
    assert states(vrun) == {"s": "ready"}
    (project / "requirements.txt").write_text("alpha==2.0\n")
    assert states(vrun) == {"s": "stale"}
    second = vrun("s", check=0)
    assert "project metadata changed: requirements.txt" in second.stderr
    assert "alpha 2.0" in second.stdout


LIB_PYPROJECT = """
    [build-system]
    requires = ["setuptools"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "{name}"
    version = "0.1"
    dependencies = ["alpha==1.0"]

    [tool.setuptools]
    py-modules = ["{name}_impl"]
"""


def test_a_local_dependencys_own_dependencies_are_in_the_key(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "lib/pyproject.toml": LIB_PYPROJECT.format(name="lib"),
            "lib/lib_impl.py": "",
            "vrun.toml": f"""
                [sessions.s]
                deps = ["./lib"]
                install_project = false
                commands = ["python -c 'import lib_impl'", "{SHOW_ALPHA}"]
            """,
        },
    )
    assert "alpha 1.0" in vrun("s", check=0).stdout
    text = (project / "lib/pyproject.toml").read_text().replace("alpha==1.0", "alpha==2.0")
    (project / "lib/pyproject.toml").write_text(text)
    second = vrun("s", check=0)
    assert "local dependencies changed: lib" in second.stderr
    assert "alpha 2.0" in second.stdout


def test_editable_path_in_a_requirements_file_installs_from_the_root_when_run_from_a_subfolder(
    project: Path, vrun: Vrun
) -> None:
    write_project(
        project,
        {
            "core/pyproject.toml": LIB_PYPROJECT.format(name="core"),
            "core/core_impl.py": "",
            "requirements.txt": "-e ./core\n",
            "sub/notes.txt": "",
            "vrun.toml": f"""
                [sessions.s]
                deps = ["-r requirements.txt"]
                install_project = false
                commands = ["python -c 'import core_impl; print(core_impl.__file__)'", "{SHOW_ALPHA}"]
            """,
        },
    )
    below = Vrun(project / "sub", vrun.env)
    first = below("s", check=0)
    assert str(project / "core" / "core_impl.py") in first.stdout and "alpha 1.0" in first.stdout
    text = (project / "core/pyproject.toml").read_text().replace("alpha==1.0", "alpha==2.0")
    (project / "core/pyproject.toml").write_text(text)
    second = below("s", check=0)
    assert "local dependencies changed: core" in second.stderr
    assert "alpha 2.0" in second.stdout


REWRITING_SETUP = """
import pathlib
from setuptools import setup

# As a `git checkout` in another terminal would, while the installer is at work:
requirements = pathlib.Path(__file__).resolve().parent.parent / "requirements.txt"
text = requirements.read_text()
if "alpha==1.0" in text:
    requirements.write_text(text.replace("alpha==1.0", "alpha==2.0"))
setup()
"""


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_a_requirements_file_changed_during_the_build_is_never_marked_ready(
    project: Path, vrun: Vrun, backend: str
) -> None:
    """The key was computed from the file as planning read it; the installer read it again later.
    An env whose inputs changed meanwhile is removed with one error, and the next run builds it
    from the file as it is."""
    write_project(
        project,
        {
            "core/pyproject.toml": LIB_PYPROJECT.format(name="core").replace('["alpha==1.0"]', "[]"),
            "core/setup.py": REWRITING_SETUP,
            "core/core_impl.py": "",
            "requirements.txt": "./core\nalpha==1.0\n",
            "vrun.toml": f"""
                [sessions.s]
                backend = "{backend}"
                deps = ["-r requirements.txt"]
                install_project = false
                commands = ["{SHOW_ALPHA}"]
            """,
        },
    )
    first = vrun("s", check=1)
    assert f"{project / 'requirements.txt'} changed while s-" in first.stderr
    assert "Traceback" not in first.stderr and "alpha" not in first.stdout
    assert states(vrun) == {"s": "absent"}
    assert not [p for p in (project / ".venvs").glob("s-*") if p.is_dir()]
    second = vrun("s", check=0)
    assert "alpha 2.0" in second.stdout
