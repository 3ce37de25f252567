"""PEP 723 scripts: ``script = "..."`` sessions and ``vrun SCRIPT.py``, with real envs.

The block's reader is tested on its own (the specification's rules and every malformed block it
turns into a config error naming the line), then script sessions and the ad-hoc form run for real
against the offline wheelhouse: a changed pin gets a new env, posargs reach the script, an edit
below the block reuses the env, and ``vrun SCRIPT.py`` works inside and outside a project.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project
from vrun.config.load import load_config
from vrun.config.script import read
from vrun.errors import ConfigError

#: A script that prints alpha's version and its arguments.
REPORT = """\
    #!/usr/bin/env python3
    # /// script
    # requires-python = ">=3.9"
    # dependencies = [
    #   "alpha==1.0",
    # ]
    # ///
    import sys

    import alpha

    print("alpha", alpha.VERSION, "args", sys.argv[1:])
"""


def script(tmp_path: Path, text: str, name: str = "s.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def config_error(path: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        read(path)
    return info.value


# --- the block -----------------------------------------------------------------------------------


def test_the_block_is_read(tmp_path: Path) -> None:
    found = read(script(tmp_path, REPORT))
    assert found.dependencies == ("alpha==1.0",)
    assert found.requires_python == ">=3.9"
    assert found.tool is None and found.line == 2
    assert found.component() == {"requires-python": ">=3.9", "tool": None}


def test_a_script_without_a_block_has_no_metadata(tmp_path: Path) -> None:
    found = read(script(tmp_path, "# /// other\n# x = 1\n# ///\nprint(1)\n"))
    assert found.line is None and found.dependencies == () and found.requires_python is None


def test_the_specification_s_examples(tmp_path: Path) -> None:
    """The closing line is the last ``# ///`` before a line that is no comment; a lone ``#`` is an
    empty line of content; CRLF line ends read as LF; a ``[tool]`` table goes into a digest."""
    text = (
        "# /// script\r\n"
        '# dependencies = ["beta"]\r\n'
        "#\r\n"
        "# [tool.some-tool]\r\n"
        '# text = """\r\n'
        "# ///\r\n"
        '# """\r\n'
        "# ///\r\n"
        "import beta\r\n"
    )
    path = tmp_path / "crlf.py"
    path.write_bytes(text.encode())
    found = read(str(path))
    assert found.dependencies == ("beta",) and found.tool is not None and found.line == 1


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (
            "# /// script\n# dependencies = []\n# ///\nx = 1\n# /// script\n#\n# ///\n",
            5,
            "a second script block",
        ),
        (
            "# /// script\n# dependencies = []\n# ///\n# /// script\n#\n# ///\n",
            4,
            "opens inside the one at line 1",
        ),
        ("x = 1\n# /// script\n# dependencies = []\nimport os\n", 2, "never closed"),
        ("# /// script\n# /// script\n# ///\n", 2, "opens inside the one at line 1"),
        ('# /// script\n# requires-python = ">=3.9"\n# dependencies = [\n# ///\n', 3, "invalid TOML"),
        ('# /// script\n# dependencies = ["ok", "bad==="]\n# ///\n', 2, "invalid requirement 'bad==='"),
        ('# /// script\n# dependencies = [\n#   "ok",\n#   "bad name",\n# ]\n# ///\n', 4, "'bad name'"),
        ('# /// script\n# dependencies = "alpha"\n# ///\n', 2, "dependencies must be an array"),
        ('# /// script\n# requires-python = "3.9"\n# ///\n', 2, "invalid requires-python '3.9'"),
        ("# /// script\n# requires-python = 3.9\n# ///\n", 2, "requires-python must be a version"),
        ('# /// script\n#\n# name = "x"\n# ///\n', 3, "unknown key 'name'"),
        ("# /// script\n# tool = 1\n# ///\n", 2, "tool must be a table"),
    ],
)
def test_a_malformed_block_is_a_config_error_naming_the_line(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    path = script(tmp_path, text)
    error = config_error(path)
    assert error.line == line, error.message
    assert error.message.startswith(f"{path}:{line}"), error.message
    assert says in error.message


def test_a_toml_error_names_the_column_in_the_script(tmp_path: Path) -> None:
    error = config_error(script(tmp_path, '# /// script\n# dependencies = ["a"] x\n# ///\n'))
    assert (error.line, error.column) == (2, 24), error.message  # at the x


def test_a_script_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes(b"# /// script\n# dependencies = []\n# ///\nprint('\xe9')\n")
    assert "not UTF-8 text" in config_error(str(path)).message


# --- the config ------------------------------------------------------------------------------------


def test_a_script_session_takes_its_block(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "demo"\nversion = "1"\n',
            "tools/report.py": REPORT,
            "vrun.toml": """
                [sessions.report]
                script = "tools/report.py"
                deps = ["beta"]
                [sessions.other]
                script = "tools/report.py"
                install_project = true
                commands = ["python tools/report.py --all"]
            """,
        },
    )
    config = load_config(tmp_path / "vrun.toml")
    report, other = config.sessions["report"], config.sessions["other"]
    assert report.requirements == ("alpha==1.0", "beta")  # the block's first
    assert report.install_project is None  # a script is not the project
    assert [c.argv for c in report.commands] == [("python", "tools/report.py", "{posargs}")]
    assert report.script is not None and report.script.path == str(tmp_path / "tools" / "report.py")
    assert other.install_project == "editable"
    assert [c.source for c in other.commands] == ["python tools/report.py --all"]


@pytest.mark.parametrize(
    ("session", "says"),
    [
        ('script = "nope.py"', "sessions.r.script: script 'nope.py' not found at"),
        ('script = "tools"', "sessions.r.script: script 'tools' is not a file"),
        ("script = 1", "sessions.r.script: expected a string"),
        ('script = "tools/report.py"\nextras = ["x"]', "a script session installs the project only with"),
    ],
)
def test_script_key_errors(tmp_path: Path, session: str, says: str) -> None:
    write_project(tmp_path, {"tools/report.py": REPORT, "vrun.toml": f"[sessions.r]\n{session}\n"})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "vrun.toml")
    assert says in info.value.message


# --- real envs -----------------------------------------------------------------------------------

PROJECT = {
    "tools/report.py": REPORT,
    "vrun.toml": """
        [sessions.lint]
        commands = ["python -c 'print(1)'"]

        [sessions.report]
        description = "The weekly report"
        script = "tools/report.py"
    """,
}


def envs(root: Path, session: str) -> list[Path]:
    return sorted(p for p in (root / ".venvs").glob(f"{session}-*") if p.is_dir() and not p.is_symlink())


def test_a_script_session_runs_with_its_block(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    first = vrun("report", "--", "--since", "2024", check=0)
    assert "alpha 1.0 args ['--since', '2024']" in first.stdout  # posargs reach the script
    assert "python tools/report.py --since 2024" in first.stderr
    assert "picked by the requires-python '>=3.9' of tools/report.py (the session names no python)" in (
        first.stderr
    )
    [env] = envs(project, "report")

    body = (project / "tools" / "report.py").read_text() + "print('one more line')\n"
    (project / "tools" / "report.py").write_text(body)
    again = vrun("report", check=0)
    assert "one more line" in again.stdout and "reusing env" in again.stderr
    assert envs(project, "report") == [env]  # an edit below the block reuses the env

    (project / "tools" / "report.py").write_text(body.replace("alpha==1.0", "alpha==2.0"))
    pinned = vrun("report", check=0)
    assert "alpha 2.0" in pinned.stdout
    assert "requirements changed: +alpha==2.0, -alpha==1.0" in pinned.stderr
    assert len(envs(project, "report")) == 2  # a changed pin: a new env


def test_a_malformed_block_stops_the_run_naming_the_line(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    text = (project / "tools" / "report.py").read_text()
    (project / "tools" / "report.py").write_text(text.replace('"alpha==1.0",', '"alpha==1.0" "beta",'))
    result = vrun("lint", check=2)  # the whole config is refused, as for any config error
    assert f"error: {project / 'tools' / 'report.py'}:5:18: script block: invalid TOML" in result.stderr
    assert "Traceback" not in result.stderr


def test_requires_python_is_checked_and_can_pick(project: Path, vrun: Vrun) -> None:
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    write_project(
        project,
        {
            "future.py": '# /// script\n# requires-python = ">=3.99"\n# ///\nprint("never")\n',
            "vrun.toml": f"""
                [sessions.picked]
                script = "future.py"
                [sessions.pinned]
                script = "future.py"
                python = "{running}"
            """,
        },
    )
    picked = vrun("picked", check=2)
    assert "no Python matching '>=3.99' for session picked" in picked.stderr
    pinned = vrun("pinned", check=2)
    assert f"({running!r}) of session pinned does not satisfy the requires-python '>=3.99' of future.py" in (
        pinned.stderr
    )
    assert "hint: give the session a python that satisfies it" in pinned.stderr


def test_the_ad_hoc_form_inside_a_project(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    result = vrun("tools/report.py", "--", "-x", check=0)
    assert "alpha 1.0 args ['-x']" in result.stdout
    assert "session report.py" in result.stderr
    [env] = envs(project, "report.py")
    again = vrun("tools/report.py", check=0)
    assert "reusing env" in again.stderr and envs(project, "report.py") == [env]
    both = vrun("lint", "tools/report.py", check=2)
    assert "tools/report.py is a script, and a script runs alone" in both.stderr
    vrun("gc", check=0)  # an env of no session of the config: kept, as the last one used
    assert envs(project, "report.py") == [env]
    vrun("gc", "--keep", "0", check=0)
    assert envs(project, "report.py") == []


def test_the_ad_hoc_form_outside_a_project(tmp_path: Path, offline_env: dict[str, str]) -> None:
    folder = write_project(tmp_path / "anywhere", {"report.py": REPORT})
    cache = tmp_path / "cache"
    vrun = Vrun(folder, {**offline_env, "VRUN_CACHE_DIR": str(cache)})
    result = vrun("report.py", "--", "a", "b", check=0)
    assert "alpha 1.0 args ['a', 'b']" in result.stdout
    assert not (folder / ".venvs").exists()
    [env] = envs(cache / "scripts", "report.py")
    again = vrun("report.py", check=0)
    assert "reusing env" in again.stderr and envs(cache / "scripts", "report.py") == [env]
    (folder / "plain.py").write_text("print(1)\n")
    plain = vrun("plain.py", check=2)
    assert "plain.py has no PEP 723 script block" in plain.stderr
    missing = vrun("nope.py", check=2)
    assert f"error: no script at {folder / 'nope.py'}" in missing.stderr


def test_show_explain_list_and_lock_know_script_sessions(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    [listed] = [s for s in json.loads(vrun("list", "--json", check=0).stdout) if s["name"] == "report"]
    assert listed["python"] == ">=3.9" and listed["env_key"]
    shown = json.loads(vrun("show", "report", "--json", check=0).stdout)[0]
    assert shown["script"] == "tools/report.py" and shown["requirements"] == ["alpha==1.0"]
    assert shown["commands"][0]["line"] == "python tools/report.py"
    vrun("report", check=0)
    explained = json.loads(vrun("explain", "report", "--json", check=0).stdout)[0]
    assert explained["reused"] and explained["components"]["script"] == {
        "requires-python": ">=3.9",
        "tool": None,
    }
    vrun("lock", "report", check=0)
    assert 'name = "alpha"' in (project / "pylock.report.toml").read_text()
    locked = vrun("--locked", "report", check=0)
    assert "installing what pylock.report.toml pins" in locked.stderr
    text = (project / "tools" / "report.py").read_text()
    (project / "tools" / "report.py").write_text(text.replace("alpha==1.0", "alpha==2.0"))
    stale = vrun("--locked", "report", check=1)
    assert "pylock.report.toml is stale" in stale.stderr
    adhoc = json.loads(vrun("show", "tools/report.py", "--json", check=0).stdout)[0]
    assert adhoc["session"] == "report.py" and adhoc["requirements"] == ["alpha==2.0"]


def test_a_script_path_is_a_plain_invocation() -> None:
    from vrun.plan.cache import parse

    assert parse(["tools/report.py", "--", "-x"]) == (["tools/report.py"], ["-x"])
    assert parse(["../my script.py"]) == (["../my script.py"], None)
    for argv in (["-x.py"], ["tools/report"], ["-v", "report.py"]):
        assert parse(argv) is None, argv


def test_a_warm_ad_hoc_run_is_served_from_the_plan_cache(project: Path, offline_env: dict[str, str]) -> None:
    """``vrun SCRIPT.py`` is a plain invocation: its plan is stored, and the next run goes from it to
    the one session loop without planning; an edit of the script replans (and reuses the env)."""
    from tests.test_plancache import traced, warm

    write_project(project, PROJECT)
    cache = project.parent / "plan-cache"
    vrun = Vrun(project, {**offline_env, "VRUN_CACHE_DIR": str(cache)})
    vrun("tools/report.py", "--", "1", check=0)
    hot, modules = traced(vrun, "tools/report.py", "--", "2")
    assert hot.returncode == 0 and warm(modules), hot.stderr
    assert "alpha 1.0 args ['2']" in hot.stdout and "reusing env report.py-" in hot.stderr
    path = project / "tools" / "report.py"
    path.write_text(path.read_text() + "print('edited')\n")
    edited, modules = traced(vrun, "tools/report.py")
    assert edited.returncode == 0 and not warm(modules)
    assert "edited" in edited.stdout and "reusing env report.py-" in edited.stderr


def test_the_ci_fan_out_runs_a_script_session(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """docs/ci.md's GitHub recipe, its ``list`` and ``key`` steps run as written (with ``jq``): the
    script session is in the matrix, and its cache key is the env a run of it builds."""
    import shutil
    import subprocess

    from tests.test_workflows import doc_blocks, is_github_workflow

    if shutil.which("jq") is None:
        pytest.skip("needs jq, as GitHub's runners have it")
    write_project(project, PROJECT)
    (project / "vrun.toml").write_text('default = ["report"]\n' + textwrap.dedent(PROJECT["vrun.toml"]))
    recipe = next(b for b in doc_blocks() if is_github_workflow(b))

    def step(job: str, step_id: str, **env: str) -> dict[str, str]:
        outputs = tmp_path / f"{step_id}.out"
        run = next(s for s in recipe["jobs"][job]["steps"] if s.get("id") == step_id)["run"]
        shell = f'vrun() {{ "{sys.executable}" -m vrun "$@"; }}\n{run}'
        env = {**vrun.env, **env, "GITHUB_OUTPUT": str(outputs)}
        subprocess.run(["bash", "-ec", shell], cwd=project, env=env, check=True)
        return dict(line.split("=", 1) for line in outputs.read_text().splitlines())

    sessions = json.loads(step("sessions", "list")["sessions"])
    assert sessions == [{"name": "report", "python": "3.12"}]  # requires-python is no setup-python version
    key = step("run", "key", SESSION="report")["env_key"]
    vrun("--report", "report.json", "report", check=0)
    assert [p.name for p in envs(project, "report")] == [f"report-{key}"]


# --- vrun init -----------------------------------------------------------------------------------

NOXFILE = """
import nox

SCRIPT = nox.project.load_toml("tools/report.py")
PYPROJECT = nox.project.load_toml("pyproject.toml")


@nox.session
def report(session):
    session.install(*SCRIPT["dependencies"])
    session.run("python", "tools/report.py", *session.posargs)


@nox.session(python="3.12")
def check(session):
    deps = nox.project.load_toml("tools/check.py")["dependencies"]
    session.install(*deps, "beta")
    session.run("python", "tools/check.py", "--strict")


@nox.session
def gone(session):
    session.install(*nox.project.load_toml("tools/gone.py")["dependencies"])
"""


def scripts_project(root: Path, files: dict[str, str]) -> Path:
    return write_project(
        root,
        {
            "pyproject.toml": '[project]\nname = "demo"\nversion = "1"\n',
            "tools/report.py": REPORT,
            "tools/check.py": '# /// script\n# dependencies = ["alpha"]\n# ///\n',
            **files,
        },
    )


def test_init_translates_nox_load_toml_sessions(tmp_path: Path) -> None:
    from vrun.migrate.translate import write_config

    root = scripts_project(tmp_path, {"noxfile.py": NOXFILE})
    path, notes = write_config(root)
    config = load_config(path)
    report, check = config.sessions["report"], config.sessions["check"]
    assert report.script is not None and report.script.path == str(root / "tools" / "report.py")
    assert [c.argv for c in report.commands] == [("python", "tools/report.py", "{posargs}")]
    assert report.install_project is None and report.requirements == ("alpha==1.0",)
    assert "commands" not in path.read_text().split("[sessions.report]")[1].split("[sessions.")[0]
    assert check.python == "3.12" and check.requirements == ("alpha", "beta")
    assert [c.argv for c in check.commands] == [("python", "tools/check.py", "--strict")]
    assert "noxfile.py:22: script 'tools/gone.py' does not exist; its dependencies not translated" in notes


def test_init_translates_tox_pep723_runners(tmp_path: Path) -> None:
    from vrun.migrate.translate import write_config

    tox_ini = """
        [tox]
        env_list = check, report
        [testenv]
        deps = pytest
        [testenv:check]
        runner = virtualenv-pep-723
        script = tools/check.py
        [testenv:report]
        runner = uv-venv-pep-723
        script = tools/report.py
        commands = python tools/report.py --weekly {posargs}
        [testenv:lock]
        runner = uv-venv-lock-runner
        commands = pytest
    """
    root = scripts_project(tmp_path / "ini", {"tox.ini": tox_ini})
    path, notes = write_config(root)
    config = load_config(path)
    check, report = config.sessions["check"], config.sessions["report"]
    assert check.script is not None and check.requirements == ("alpha",)  # [testenv] deps: not for it
    assert [c.argv for c in check.commands] == [("python", "tools/check.py", "{posargs}")]
    assert check.install_project is None
    assert [c.argv for c in report.commands] == [("python", "tools/report.py", "--weekly", "{posargs}")]
    assert "tox.ini [testenv] deps: the PEP 723 runner ignores it (the script's block says); dropped" in notes
    assert "tox.ini [testenv:lock] runner: runner 'uv-venv-lock-runner' not translated" in notes

    tox_toml = """
        env_list = ["check"]
        [env.check]
        runner = "virtualenv-pep-723"
        script = "tools/check.py"
        commands = [["python", "tools/check.py", { replace = "posargs" }]]
    """
    root = scripts_project(tmp_path / "toml", {"tox.toml": tox_toml})
    path, notes = write_config(root)
    assert load_config(path).sessions["check"].script is not None
    assert "commands" not in path.read_text() and not notes


# --- docs/scripts.md, run ------------------------------------------------------------------------


def page_blocks(lang: str) -> list[str]:
    """The text of docs/scripts.md's ```LANG blocks, in order."""
    from tests.test_docs import BLOCKS

    return [b.text for b in BLOCKS if b.where.startswith("scripts.md:") and b.lang == lang]


@pytest.fixture
def docs_vrun(project: Path, offline_env: dict[str, str], wheelhouse: Path, tmp_path: Path) -> Vrun:
    """A project as docs/scripts.md has it (a ``src/`` to count, its script and config), offline,
    with tabulate 0.9 beside the shared wheelhouse's wheels."""
    import shutil

    from tests.conftest import build_wheel
    from tests.test_docs_output import TABULATE

    house = tmp_path / "house"
    shutil.copytree(wheelhouse, house)
    build_wheel(house, "tabulate", "0.9", modules={"tabulate.py": TABULATE})
    env = {**offline_env, "PIP_FIND_LINKS": str(house), "UV_FIND_LINKS": str(house)}
    [script_text] = [b for b in page_blocks("python") if b.startswith("# tools/report.py")]
    [config] = [b for b in page_blocks("toml") if b.startswith("# vrun.toml")]
    write_project(
        project,
        {
            "src/demo/__init__.py": "WORD = 'one'\n",
            "tools/report.py": script_text,
            "vrun.toml": config,
        },
    )
    return Vrun(project, env)


def test_the_page_s_examples_run(project: Path, docs_vrun: Vrun) -> None:
    """docs/scripts.md's examples that tests/test_docs_output.py does not run: the error of a
    malformed block, and ``vrun tools/report.py`` printing what the session printed (the session's
    output blocks are compared there, line by line)."""
    [*_, adhoc] = page_blocks("console")
    result = docs_vrun("report", "--", "src", check=0)

    path = project / "tools" / "report.py"
    text = path.read_text()
    path.write_text(text.replace('"tabulate>=0.9"', '"tabulate=>0.9"'))
    broken = docs_vrun("report", check=2)
    [error] = [b for b in page_blocks("text") if b.startswith("error:")]
    assert error.strip().replace("/home/me/project", str(project)) in broken.stderr

    path.write_text(text)
    alone = docs_vrun(*adhoc.strip().removeprefix("$ vrun ").split(), check=0)
    assert alone.stdout == result.stdout and "session report.py" in alone.stderr
    assert [p.name.split("-")[0] for p in envs(project, "report.py")] == ["report.py"]
