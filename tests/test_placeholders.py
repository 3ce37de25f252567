"""Placeholders (docs/config.md, "Placeholders"): the grammar, the load-time check, the expansion,
and real runs for ``{env_tmp_dir}``, ``{env_site_packages_dir}`` and ``{env:VAR}`` on the warm path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Vrun, import_trace, write_project
from tests.test_plancache import traced, warm
from vrun.config.load import load_config
from vrun.env import layout
from vrun.errors import ConfigError, UsageError
from vrun.placeholders import TOX_NAMES, parse, problem
from vrun.run.compose import Values, command_environ, expand_argv

ROOT = "/src/proj"


def values(tmp_path: Path, caller: dict[str, str] | None = None, tmp: str = "path") -> Values:
    env_dir = tmp_path / ".venvs" / "s-0123456789"
    (env_dir / "lib" / "python3.12" / "site-packages").mkdir(parents=True, exist_ok=True)
    return Values(env_dir=str(env_dir), project_root=ROOT, session="s", caller=caller or {}, tmp=tmp)


CALLER = {"X": "x-value", "TWO": "-x -v", "EMPTY": "", "HOME": "/home/u"}

#: (argv as configured, posargs, what it expands to); ``ENV`` stands for the env's directory.
EXPANSIONS = [
    (["a", "{env_dir}/bin"], None, ["a", "ENV/bin"]),
    (["a", "{project_root}", "{session}"], None, ["a", ROOT, "s"]),
    (["a", "--basetemp={env_tmp_dir}"], None, ["a", "--basetemp=TMPDIR"]),
    (["a", "{env_site_packages_dir}"], None, ["a", "ENV/lib/python3.12/site-packages"]),
    # {env:VAR}: set, unset with a default (which may be empty, hold ':' or other placeholders)
    (["a", "{env:X}"], None, ["a", "x-value"]),
    (["a", "--k={env:X}"], None, ["a", "--k=x-value"]),
    (["a", "{env:UNSET:dflt}"], None, ["a", "dflt"]),
    (["a", "{env:UNSET:http://h:1/p}"], None, ["a", "http://h:1/p"]),
    (["a", "{env:UNSET:{project_root}/sub}"], None, ["a", f"{ROOT}/sub"]),
    (["a", "{env:UNSET:{env:X}}"], None, ["a", "x-value"]),
    (["a", "--k={env:UNSET:}"], None, ["a", "--k="]),
    # standing alone: split like shell words; empty gives no argument
    (["a", "{env:TWO}"], None, ["a", "-x", "-v"]),
    (["a", "{env:EMPTY}"], None, ["a"]),
    (["a", "{env:UNSET:}"], None, ["a"]),
    (["a", "{env:UNSET:-q tests}"], None, ["a", "-q", "tests"]),
    (["a", "--k={env:TWO}"], None, ["a", "--k=-x -v"]),
    # posargs, their default holding placeholders
    (["a", "{posargs}"], ["p q", "r"], ["a", "p q", "r"]),
    (["a", "{posargs:{env:X} --basetemp={env_tmp_dir}}"], None, ["a", "x-value", "--basetemp=TMPDIR"]),
    (["a", "{posargs:{env:X}}"], ["given"], ["a", "given"]),
    (["a", "--k={posargs}"], ["p q"], ["a", "--k='p q'"]),
    # escapes and braces that are text
    (["a", "{{session}}", "{{env:X}}"], None, ["a", "{session}", "{env:X}"]),
    (["a", "{{.ID}}", "{}", "{'k': 1}", "{1,2}"], None, ["a", "{{.ID}}", "{}", "{'k': 1}", "{1,2}"]),
    (["a", "{k: v for k in x}", "{x:>10}"], None, ["a", "{k: v for k in x}", "{x:>10}"]),
    (["a", "${HOME}", "${A:-${B}}", "$HOME", "{"], None, ["a", "${HOME}", "${A:-${B}}", "$HOME", "{"]),
]


@pytest.mark.parametrize(
    ("argv", "posargs", "expected"), EXPANSIONS, ids=[" ".join(a) for a, _, _ in EXPANSIONS]
)
def test_expansion(tmp_path: Path, argv: list[str], posargs: list[str] | None, expected: list[str]) -> None:
    v = values(tmp_path, CALLER)
    got = expand_argv(argv, posargs, shell=False, values=v, environ={})
    assert got == [
        arg.replace("TMPDIR", layout.tmp_path(v.env_dir)).replace("ENV", v.env_dir) for arg in expected
    ]


def test_shell_command_keeps_shell_syntax(tmp_path: Path) -> None:
    v = values(tmp_path, CALLER)
    line = 'echo {posargs} "${HOME}" ${X:-${Y}} {env:TWO} {{session}} {session}'
    got = expand_argv([line], ["a b"], shell=True, values=v, environ={})
    assert got == ["echo 'a b' \"${HOME}\" ${X:-${Y}} -x -v {session} s"]


def test_commands_see_the_command_environment_first(tmp_path: Path) -> None:
    """In a command, ``{env:VAR}`` is VAR as the command sees it (set_env, PATH, VIRTUAL_ENV), then
    the caller's; a set_env value reads the caller's environment."""
    v = values(tmp_path, {"PATH": "/usr/bin", "A": "caller", "B": "b"})
    environ = command_environ(pass_env=(), set_env=[("A", "set-{env:A}"), ("C", "{env:B}")], values=v)
    assert environ["A"] == "set-caller" and environ["C"] == "b"
    got = expand_argv(
        ["e", "{env:A}", "{env:B}", "{env:VIRTUAL_ENV}"], None, shell=False, values=v, environ=environ
    )
    assert got == ["e", "set-caller", "b", v.env_dir]


def test_unset_variable_is_an_error_naming_session_and_key(tmp_path: Path) -> None:
    v = values(tmp_path)
    with pytest.raises(UsageError) as info:
        command_environ(pass_env=(), set_env=[("A", "{env:NOPE}")], values=v)
    assert info.value.message == "session s: env.A uses {env:NOPE}, but NOPE is not set"
    assert "{env:NOPE:DEFAULT}" in str(info.value.hint)
    with pytest.raises(UsageError, match="NOPE is not set"):
        expand_argv(["a", "x{env:NOPE}"], None, shell=False, values=v, environ={})
    # shown, not run: left as written
    assert expand_argv(["a", "{env:NOPE}"], None, shell=False, values=v, environ={}, strict=False) == [
        "a",
        "{env:NOPE}",
    ]


def test_unbalanced_quotes_are_errors_not_tracebacks(tmp_path: Path) -> None:
    v = values(tmp_path, {"Q": '"open'})
    with pytest.raises(UsageError) as info:
        expand_argv(["a", "{env:Q}"], None, shell=False, values=v, environ={})
    assert "cannot split the value of {env:Q} into words" in info.value.message
    assert expand_argv(["a", "--q={env:Q}"], None, shell=False, values=v, environ={}) == ["a", '--q="open']
    found = problem("{posargs:'open}")
    assert found is not None and "the default cannot be split" in found[0]


def test_parse_keeps_escapes_and_text_apart() -> None:
    assert parse("x{env:A:{session}}y{{z}}${W}") == ["x", ("env", "A:{session}"), "y{z}${W}"]
    assert parse("{toxinidir}/a") == [("toxinidir", None), "/a"]


# --- load-time checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TOX_NAMES))
def test_every_tox_name_is_an_error_naming_the_vrun_spelling(name: str) -> None:
    found = problem(f"pytest {{{name}}}")
    assert found is not None
    message, hint = found
    assert message.startswith(f"unknown placeholder {{{name}}}")
    vrun = TOX_NAMES[name]
    assert (f"is {vrun} in vrun" in hint) if vrun else ("no vrun equivalent" in message and "{{" in hint)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{sesion}", "did you mean {session}?"),
        ("{nothing_like_it}", "placeholders: {posargs}"),
        ("{env}", "needs a variable name"),
        ("{env:1X}", "needs a variable name"),
        ("{env_dir:x}", "takes no argument"),
        ("{env:A:{toxinidir}}", "{project_root}"),
        ("{posargs:{envtmpdir}}", "{env_tmp_dir}"),
    ],
)
def test_problems(text: str, fragment: str) -> None:
    found = problem(text)
    assert found is not None and fragment in " ".join(found)


def test_valid_values_have_no_problem() -> None:
    for text in ("{posargs:-q {env:A:{env_tmp_dir}}}", "${HOME} {{x}} {k: v}", "{env:A:}", "plain"):
        assert problem(text) is None, text


def load(tmp_path: Path, text: str) -> ConfigError:
    (tmp_path / "vrun.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "vrun.toml")
    return info.value


def test_config_errors_name_file_and_key(tmp_path: Path) -> None:
    err = load(tmp_path, '[sessions.test]\ncommands = ["pytest --basetemp={envtmpdir}"]\n')
    assert str(tmp_path / "vrun.toml") in str(err) and err.key == "sessions.test.commands[0]"
    assert err.hint == "tox's {envtmpdir} is {env_tmp_dir} in vrun"
    err = load(tmp_path, '[sessions.t]\ncommands = [["python", "-c", "print(f\'{x}\')"]]\n')
    assert err.key == "sessions.t.commands[0][2]" and "{{x}}" in str(err.hint)
    err = load(tmp_path, '[sessions.t]\nenv = { A = "{posargs}" }\n')
    assert err.key == "sessions.t.env.A" and "cannot be used" in err.message
    err = load(tmp_path, '[sessions.t]\ncwd = "{project_root}/docs"\n')
    assert err.key == "sessions.t.cwd"


def test_command_string_keeps_placeholder_defaults_whole(tmp_path: Path) -> None:
    (tmp_path / "vrun.toml").write_text(
        '[sessions.t]\ncommands = ["pytest {posargs:-q {env:A:a b}} --k={env:B:c d}"]\n'
    )
    argv = load_config(tmp_path / "vrun.toml").sessions["t"].commands[0].argv
    assert argv == ("pytest", "{posargs:-q {env:A:a b}}", "--k={env:B:c d}")


# --- real runs -------------------------------------------------------------------------------------

SHOW_TMP = (
    "import os, sys; d = sys.argv[1]; print('TMP', sorted(os.listdir(d)), os.path.isdir(d),"
    " d.startswith(sys.prefix + os.sep)); open(os.path.join(d, 'f'), 'w').close()"
)


def test_env_tmp_dir_is_outside_the_env_made_before_the_commands_and_emptied_each_run(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    """``.venvs/.tmp/<env>``: outside ``sys.prefix`` (flask's tests tell their own files from the
    installed ones by it), there with its parents when the first command starts, emptied before
    each run, never deleted through a symlink, and removed with its env."""
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.s]
                install_project = false
                env = {{ MYTMP = "{{env_tmp_dir}}" }}
                commands = [["python", "-c", "{SHOW_TMP}", "{{env_tmp_dir}}"], ["python", "-c", "import os; print('VAR', os.environ['MYTMP'])"]]
            """
        },
    )
    first = vrun("s", check=0)
    env_dir = next(p for p in (project / ".venvs").glob("s-*") if not p.is_symlink() and p.is_dir())
    tmp = project / ".venvs" / ".tmp" / env_dir.name
    assert "TMP [] True False" in first.stdout and f"VAR {tmp}" in first.stdout
    assert (tmp / "f").exists()
    assert "TMP [] True False" in vrun("s", check=0).stdout  # the file the first run left is gone
    # a symlink planted at the temp dir's name is removed, never followed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    import shutil

    shutil.rmtree(tmp)
    tmp.symlink_to(outside)
    assert "TMP []" in vrun("s", check=0).stdout
    assert (outside / "keep").read_text() == "precious" and not tmp.is_symlink()
    # .venvs/.tmp itself a symlink: refused, nothing deleted through it
    shutil.rmtree(tmp.parent)
    tmp.parent.symlink_to(outside)
    (outside / env_dir.name).mkdir()
    (outside / env_dir.name / "keep").write_text("precious")
    refused = vrun("s", check=1)
    assert f"cannot prepare the temp dir {tmp}: {tmp.parent} is a symlink" in refused.stderr
    assert (outside / env_dir.name / "keep").read_text() == "precious"
    tmp.parent.unlink()
    vrun("s", check=0)
    assert tmp.is_dir()
    vrun("rm", "s", check=0)  # the env goes, and its temp dir with it
    assert not env_dir.exists() and not tmp.exists()


PURELIB = "import sys, sysconfig; got, real = sys.argv[1], sysconfig.get_path('purelib'); print('SP', got == real, got, real)"


@pytest.mark.parametrize("backend", ["virtualenv", "uv"])
def test_env_site_packages_dir_is_the_envs_purelib(project: Path, vrun: Vrun, backend: str) -> None:
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.s]
                install_project = false
                backend = "{backend}"
                commands = [["python", "-c", "{PURELIB}", "{{env_site_packages_dir}}"]]
            """
        },
    )
    out = vrun("s", check=0).stdout
    assert "SP True" in out, out


def test_unset_variable_stops_the_run_before_anything_is_built(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                commands = ["python -c pass", "python -c pass --x={env:VRUN_TEST_NOPE}"]
            """
        },
    )
    proc = vrun("s", check=2)
    assert "session s: commands[1] uses {env:VRUN_TEST_NOPE}, but VRUN_TEST_NOPE is not set" in proc.stderr
    assert not (project / ".venvs").exists()


def test_env_variable_follows_the_live_environment_on_the_warm_path(project: Path, vrun: Vrun) -> None:
    """``{env:VAR}`` is read when the session runs, not when it is planned: a stored plan never
    holds a value, so changing VAR between two warm runs changes the output."""
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                env = { SEEN = "{env:VRUN_TEST_VAR:none}" }
                commands = [["python", "-c", "import os, sys; print('GOT', sys.argv[1], os.environ['SEEN'])", "{env:VRUN_TEST_VAR:none}"]]
            """
        },
    )
    assert "GOT none none" in vrun("s", check=0).stdout  # builds, stores the plan
    hot, modules = traced(vrun, "s", VRUN_TEST_VAR="one")
    assert warm(modules) and "GOT one one" in hot.stdout, hot.stderr
    hot, modules = traced(vrun, "s", VRUN_TEST_VAR="two")
    assert warm(modules) and "GOT two two" in hot.stdout, hot.stderr


def test_vrun_run_and_report_show_expanded_commands(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """A command that does not run is reported with its placeholders expanded; ``vrun run`` sees
    the session's set_env expanded, its temp dir made."""
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                env = { T = "{env_tmp_dir}" }
                commands = ["python -c 'import sys; sys.exit(3)'", "echo {session} {env:VRUN_TEST_UNSET_B:dflt}"]
            """
        },
    )
    report = tmp_path / "r.json"
    vrun("s", "--report", str(report), check=3)
    commands = json.loads(report.read_text())["sessions"][0]["commands"]
    assert commands[1] == {**commands[1], "argv": ["echo", "s", "dflt"], "exit_code": None}
    proc = vrun("run", "s", "--", "python", "-c", "import os; print(os.path.isdir(os.environ['T']))", check=0)
    assert proc.stdout.strip() == "True"


def test_shell_command_with_shell_variables_runs(project: Path, vrun: Vrun) -> None:
    if not os.path.exists("/bin/sh"):
        pytest.skip("needs /bin/sh")
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                shell = true
                env = { A = "from-env" }
                commands = ['echo "${A}-${UNSET_SH_VAR:-dflt}" {session} {{session}}']
            """
        },
    )
    out = vrun("s", check=0).stdout
    assert "from-env-dflt s {session}" in out


def test_placeholder_modules_stay_light() -> None:
    """The warm path imports the placeholder grammar: it must not pull in re, shlex or typing."""
    code = "import vrun.placeholders, vrun.env.layout"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=False
    )
    imported, _ = import_trace(proc.stderr)
    assert "vrun.placeholders" in imported and not imported & {
        "re",
        "shlex",
        "typing",
        "pathlib",
        "dataclasses",
    }


def test_the_docs_tox_table_is_the_code_table() -> None:
    """docs/config.md's table of tox names says what :data:`TOX_NAMES` does, row for row."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    table = text[text.index("| tox | vrun |") :].split("\n\n")[0].splitlines()[2:]
    documented: dict[str, str | None] = {}
    for row in table:
        tox, vrun = (cell.strip() for cell in row.strip("|").split("|"))
        target = re.match(r"`([^`]*)`", vrun)
        for name in re.findall(r"`\{(\w+)\}`", tox):
            documented[name] = target.group(1) if target and vrun != "none" else None
    assert documented == TOX_NAMES
