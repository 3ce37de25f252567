"""A matrix over any factor (docs/config.md, "Matrices"): entries and their names, ``{matrix:FACTOR}``,
overrides by condition with ``add``, and every entry seen by ``-k``, ``vrun list --json``, ``-p``,
``vrun lock``, the JSON report and the CI fan-out of docs/ci.md. The loader's rules are checked
through the real loader; the rest through real runs that build real envs from the wheelhouse."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, RUNNING, Vrun, load_vrun_toml, vrun_toml_error, write_project
from vrun._compat import tomllib
from vrun.config.matrix import entry_name, parse_condition
from vrun.config.selection import select_sessions
from vrun.plan.lockfile import file_name

config = load_vrun_toml
error = vrun_toml_error


# --- entries and names -----------------------------------------------------------------------------


def test_a_table_makes_the_product_python_first(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        [sessions.test]
        install_project = false
        matrix = { django = ["4.2", "5.0"], python = ["3.11", "3.12"], db = ["sqlite", "pg"] }
        """,
    )
    assert c.matrix["test"] == (
        "test-3.11-django4.2-sqlite",
        "test-3.11-django4.2-pg",
        "test-3.11-django5.0-sqlite",
        "test-3.11-django5.0-pg",
        "test-3.12-django4.2-sqlite",
        "test-3.12-django4.2-pg",
        "test-3.12-django5.0-sqlite",
        "test-3.12-django5.0-pg",
    )
    entry = c.sessions["test-3.12-django5.0-pg"]
    assert entry.python == "3.12" and entry.base_name == "test"
    assert entry.matrix == (("python", "3.12"), ("django", "5.0"), ("db", "pg"))


def test_a_list_of_tables_makes_the_union_of_their_products(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        python = "3.9"
        [sessions.t]
        install_project = false
        matrix = [
            { python = ["3.11", "3.12"], feature = ["a"] },
            { python = ["3.11"], feature = ["a", "b"] },   # 3.11-a again: counted once
            { extra = ["x"] },                              # no python factor: the top-level one
        ]
        """,
    )
    assert c.matrix["t"] == ("t-3.11-a", "t-3.12-a", "t-3.11-b", "t-x")
    assert c.sessions["t-x"].python == "3.9" and c.sessions["t-x"].matrix == (("extra", "x"),)


def test_names_and_the_python_only_form() -> None:
    assert entry_name("t", (("python", "3.12"), ("django", "4.2"), ("db", "pg"))) == "t-3.12-django4.2-pg"
    assert entry_name("t", (("python", "pypy3.10"), ("n", "1"))) == "t-pypy3.10-n1"
    assert entry_name("t", ()) == "t"
    assert parse_condition("3.12") == (("python", "3.12"),)
    assert parse_condition(" python = 3.12 ,django=4.2") == (("python", "3.12"), ("django", "4.2"))
    for bad in ("django", "=4.2", "a=1,a=2", "a=1,", "1x=2"):
        if bad == "django":
            assert parse_condition(bad) == (("python", "django"),)  # a lone word is a python value
            continue
        with pytest.raises(ValueError):
            parse_condition(bad)


def test_python_list_and_matrix_are_one_thing(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        [sessions.a]
        install_project = false
        python = ["3.11", "3.12"]
        [sessions.b]
        install_project = false
        matrix = { python = ["3.11", "3.12"] }
        [sessions.c]
        extends = "a"
        matrix = { python = ["3.12"], n = ["1", "2"] }      # replaces the inherited python list
        [sessions.d]
        extends = "c"
        python = ["3.10"]                                   # replaces the inherited matrix
        [sessions.e]
        extends = "c"
        python = "3.9"                                      # the matrix stays; its python wins
        [sessions.f]
        extends = "c"
        matrix = {}                                         # no matrix
        """,
    )
    assert [s.matrix for s in c.sessions.values() if s.base_name == "a"] == [
        s.matrix for s in c.sessions.values() if s.base_name == "b"
    ]
    assert c.matrix["a"] == ("a-3.11", "a-3.12") and c.matrix["b"] == ("b-3.11", "b-3.12")
    assert c.matrix["c"] == ("c-3.12-n1", "c-3.12-n2")
    assert c.matrix["d"] == ("d-3.10",)
    assert c.matrix["e"] == ("e-3.12-n1", "e-3.12-n2")
    assert c.matrix["f"] == ("f",) and c.sessions["f"].python is None


# --- {matrix:FACTOR} --------------------------------------------------------------------------------


def test_values_stand_in_every_string_of_the_session(tmp_path: Path) -> None:
    (tmp_path / "tests" / "4.2").mkdir(parents=True)
    (tmp_path / "tests" / "5.0").mkdir(parents=True)
    c = config(
        tmp_path,
        """
        [sessions.t]
        description = "Django {matrix:django} on {matrix:python}"
        install_project = false
        matrix = { python = ["3.12"], django = ["4.2", "5.0"] }
        deps = ["alpha=={matrix:django}", "beta; python_version == '{matrix:python}'"]
        env = { DJANGO = "{matrix:django}", CACHE = "{env:CACHE:{env_tmp_dir}/{matrix:django}}" }
        build_env = { FLAVOUR = "dj{matrix:django}" }
        cwd = "tests/{matrix:django}"
        tags = ["django{matrix:django}"]
        commands = [
            "pytest --ds=settings{matrix:django} {posargs:-k {matrix:python}}",
            ["echo", "{{matrix:django}}", "{matrix:missing:none}"],
        ]
        """,
    )
    s = c.sessions["t-3.12-django5.0"]
    assert s.description == "Django 5.0 on 3.12"
    assert s.requirements == ("alpha==5.0", "beta; python_version == '3.12'")
    assert dict(s.env) == {"DJANGO": "5.0", "CACHE": "{env:CACHE:{env_tmp_dir}/5.0}"}
    assert s.build_env == (("FLAVOUR", "dj5.0"),)
    assert s.cwd == str(tmp_path / "tests" / "5.0") and s.tags == ("django5.0",)
    assert [cmd.argv for cmd in s.commands] == [
        ("pytest", "--ds=settings5.0", "{posargs:-k 3.12}"),
        ("echo", "{{matrix:django}}", "none"),  # an escape stays one until the run turns it into text
    ]
    assert c.sessions["t-3.12-django4.2"].requirements[0] == "alpha==4.2"


def test_a_session_without_a_matrix_takes_the_default(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        [sessions.base]
        install_project = false
        commands = ["echo {matrix:django:none}"]
        [sessions.m]
        extends = "base"
        matrix = { django = ["4.2"] }
        """,
    )
    assert c.sessions["base"].commands[0].argv == ("echo", "none")
    assert c.sessions["m-django4.2"].commands[0].argv == ("echo", "4.2")


# --- overrides ----------------------------------------------------------------------------------------


def test_overrides_by_condition_add_and_apply_in_order(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        [sessions.t]
        install_project = false
        matrix = { python = ["3.11", "3.12"], django = ["4.2", "5.0"] }
        deps = ["pytest"]
        env = { A = "1" }
        commands = ["pytest"]

        [sessions.t.overrides."django=4.2"]
        add.deps = ["alpha=={matrix:django}"]
        env = { B = "django" }
        commands = ["pytest -p no:warnings"]

        [sessions.t.overrides."3.12"]                     # the python factor's short form
        add.deps = ["beta"]
        add.tags = ["new"]
        env = { B = "python" }

        [sessions.t.overrides."python=3.12, django=4.2"]  # both must hold
        commands = ["pytest -x"]
        """,
    )
    s = {name.removeprefix("t-"): session for name, session in c.sessions.items()}
    assert s["3.11-django5.0"].requirements == ("pytest",) and dict(s["3.11-django5.0"].env) == {"A": "1"}
    assert s["3.11-django4.2"].requirements == ("pytest", "alpha==4.2")
    assert s["3.12-django5.0"].requirements == ("pytest", "beta") and s["3.12-django5.0"].tags == ("new",)
    both = s["3.12-django4.2"]
    assert both.requirements == ("pytest", "alpha==4.2", "beta")  # each override's add, in order
    assert dict(both.env) == {"A": "1", "B": "python"}  # env merges, the later override winning
    assert [cmd.argv for cmd in both.commands] == [("pytest", "-x")]
    assert [cmd.argv for cmd in s["3.11-django4.2"].commands] == [("pytest", "-p", "no:warnings")]


def test_inherited_overrides_for_values_the_matrix_lacks_are_dropped(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        [sessions.t]
        install_project = false
        matrix = { python = ["3.11", "3.12"], django = ["4.2", "5.0"] }
        [sessions.t.overrides."django=4.2"]
        env = { OLD = "1" }
        [sessions.t.overrides."3.11"]
        env = { PY = "1" }
        [sessions.u]
        extends = "t"
        matrix = { python = ["3.11"], db = ["pg"] }
        """,
    )
    assert dict(c.sessions["u-3.11-pg"].env) == {"PY": "1"}


@pytest.mark.parametrize(
    ("text", "key", "fragment", "hint"),
    [
        (
            'matrix = { "dj.ango" = ["4.2"] }',
            'sessions.t.matrix."dj.ango"',
            "not a factor name",
            "{matrix:NAME}",
        ),
        ("matrix = { django = [] }", "sessions.t.matrix.django", "non-empty array", 'django = ["1.0"'),
        ('matrix = { django = "4.2" }', "sessions.t.matrix.django", "non-empty array", None),
        ("matrix = { django = [4.2] }", "sessions.t.matrix.django[0]", "quote it", None),
        ('matrix = { django = [">=4"] }', "sessions.t.matrix.django[0]", "cannot be part of a session", None),
        (
            'matrix = { d = ["1", "1"] }',
            "sessions.t.matrix.d[1]",
            "already used by sessions.t.matrix.d[0]",
            None,
        ),
        ('matrix = { d = ["1"] }\npython = ["3.12"]', "sessions.t.matrix", "python list and a matrix", None),
        ('matrix = "django"', "sessions.t.matrix", "expected a table of factors", None),
        ('matrix = [{ d = ["1"] }, {}]', "sessions.t.matrix[1]", "empty table makes no entries", None),
        ('matrix = [{ a = ["x"] }, { b = ["x"] }]', "sessions.t.matrix[1]", "already used by", None),
        (
            'matrix = { django = ["4.2"] }\ncommands = ["x {matrix:djagno}"]',
            "sessions.t.commands[0]",
            "entry django=4.2 has no factor 'djagno'",
            "did you mean 'django'?",
        ),
        (
            'commands = ["x {matrix:a}"]',
            "sessions.t.commands[0]",
            "the session has no matrix",
            "{matrix:a:DEFAULT}",
        ),
        ('matrix = { a = ["1"] }\ndeps = ["{matrix}"]', "sessions.t.deps[0]", "needs a factor", None),
        ('matrix = { a = ["1"] }\ncwd = "{env:X}"', "sessions.t.cwd", "cannot be used", None),
        (
            'matrix = { django = ["4.2"] }\n[sessions.t.overrides."djang=4.2"]',
            'sessions.t.overrides."djang=4.2"',
            "djang '4.2' is not in the session's matrix",
            "did you mean 'django'?",
        ),
        (
            'matrix = { django = ["4.2", "5.0"] }\n[sessions.t.overrides."django=5.1"]',
            'sessions.t.overrides."django=5.1"',
            "django '5.1' is not in",
            "did you mean '5.0'?",
        ),
        (
            'matrix = { django = ["4.2"] }\n[sessions.t.overrides."4.2"]',
            'sessions.t.overrides."4.2"',
            "python '4.2' is not in",
            'write FACTOR=VALUE, e.g. "django=4.2"',
        ),
        (
            'matrix = { django = ["4.2"] }\n[sessions.t.overrides."django"]',
            "sessions.t.overrides.django",
            "python 'django' is not in",
            None,
        ),
        (
            'matrix = { a = ["1"] }\n[sessions.t.overrides."a=1,a=1"]',
            'sessions.t.overrides."a=1,a=1"',
            "is not a condition: a is named twice",
            None,
        ),
        (
            'matrix = [{ a = ["1"], b = ["x"] }, { a = ["2"], b = ["y"] }]\n[sessions.t.overrides."a=1, b=y"]',
            'sessions.t.overrides."a=1, b=y"',
            "no entry of the session's matrix has a=1, b=y",
            None,
        ),
        (
            'matrix = { a = ["1"] }\n[sessions.t.overrides."a=1"]\nmatrix = {}',
            'sessions.t.overrides."a=1".matrix',
            "cannot be overridden",
            None,
        ),
        (
            'matrix = { a = ["1"] }\n[sessions.t.overrides."a=1"]\nadd = { env = { A = "1" } }',
            'sessions.t.overrides."a=1".add.env',
            "add appends to arrays; env is not one",
            "env merges by name",
        ),
        (
            'matrix = { a = ["1"] }\n[sessions.t.overrides."a=1"]\nadd.dep = ["x"]',
            'sessions.t.overrides."a=1".add.dep',
            "unknown key 'dep'",
            "did you mean 'deps'?",
        ),
        (
            'matrix = { a = ["1"] }\n[sessions.t.overrides."a=1"]\nadd.deps = "x"',
            'sessions.t.overrides."a=1".add.deps',
            "expected an array",
            None,
        ),
        (  # an appended item's error names where it was written
            'matrix = { a = ["1"] }\ndeps = ["ok"]\n[sessions.t.overrides."a=1"]\nadd.deps = ["not ok!"]',
            'sessions.t.overrides."a=1".add.deps[0]',
            "invalid requirement 'not ok!'",
            None,
        ),
        (
            'matrix = { a = ["1"] }\n[sessions.t.overrides."a=1"]\nadd.commands = ["x {matrix:b}"]',
            'sessions.t.overrides."a=1".add.commands[0]',
            "has no factor 'b'",
            None,
        ),
    ],
)
def test_matrix_errors(tmp_path: Path, text: str, key: str, fragment: str, hint: str | None) -> None:
    err = error(tmp_path, "[sessions.t]\ninstall_project = false\n" + text)
    assert err.key == key and fragment in err.message, (err.key, err.message)
    if hint is not None:
        assert hint in str(err.hint), err.hint


def test_keyword_matches_factor_values(tmp_path: Path) -> None:
    c = config(
        tmp_path,
        """
        [sessions.t]
        install_project = false
        matrix = { python = ["3.11", "3.12"], django = ["4.2", "5.0"] }
        [sessions.lint]
        install_project = false
        """,
    )

    def picked(expr: str) -> list[str]:
        return [s.name for s in select_sessions(c, [], keyword=expr)]

    assert picked("django=4.2") == ["t-3.11-django4.2", "t-3.12-django4.2"]
    assert picked("python=3.12 and not django5.0") == ["t-3.12-django4.2"]
    assert picked("not django") == ["lint"]


# --- real runs ----------------------------------------------------------------------------------------

SHOW = (
    "import importlib.metadata as m, os; "
    "print('ENTRY', os.environ['VRUN_SESSION_NAME'], m.version('alpha'), os.environ['MODE'], "
    "[d.metadata['Name'] for d in m.distributions() if d.metadata['Name'] == 'beta'])"
)
PROJECT = {
    "vrun.toml": f"""
        [sessions.t]
        install_project = false
        matrix = {{ alpha = ["1.0", "2.0"], mode = ["fast", "slow"] }}
        deps = ["alpha=={{matrix:alpha}}"]
        env = {{ MODE = "{{matrix:mode}}", VRUN_SESSION_NAME = "{{session}}" }}
        commands = [["python", "-c", {json.dumps(SHOW)}]]

        [sessions.t.overrides."mode=slow"]
        add.deps = ["beta"]
    """
}
NAMES = ["t-alpha1.0-fast", "t-alpha1.0-slow", "t-alpha2.0-fast", "t-alpha2.0-slow"]


def entries_run(stdout: str) -> dict[str, str]:
    return {
        line.split()[1]: " ".join(line.split()[2:])
        for line in stdout.splitlines()
        if line.startswith("ENTRY ")
    }


def test_every_entry_is_listed_selected_run_in_parallel_and_reported(project: Path, vrun: Vrun) -> None:
    write_project(project, PROJECT)
    listed = json.loads(vrun("list", "--json", check=0).stdout)
    assert [row["name"] for row in listed] == NAMES
    assert {row["base_name"] for row in listed} == {"t"} and all(row["default"] for row in listed)
    assert listed[1]["matrix"] == {"alpha": "1.0", "mode": "slow"}
    shown = json.loads(vrun("show", "--json", "t-alpha1.0-slow", check=0).stdout)
    assert shown[0]["matrix"] == {"alpha": "1.0", "mode": "slow"}
    assert shown[0]["requirements"] == ["alpha==1.0", "beta"]
    assert "  matrix: alpha=1.0, mode=slow" in vrun("show", "t-alpha1.0-slow", check=0).stdout

    one = vrun("-k", "alpha=2.0 and slow", check=0)
    assert entries_run(one.stdout) == {"t-alpha2.0-slow": "2.0 slow ['beta']"}

    both = vrun("-p", "2", "--report", "report.json", "t", check=0)
    assert entries_run(both.stdout) == {
        "t-alpha1.0-fast": "1.0 fast []",
        "t-alpha1.0-slow": "1.0 slow ['beta']",
        "t-alpha2.0-fast": "2.0 fast []",
        "t-alpha2.0-slow": "2.0 slow ['beta']",
    }
    report = json.loads((project / "report.json").read_text())
    assert [s["name"] for s in report["sessions"]] == NAMES
    assert {s["status"] for s in report["sessions"]} == {"passed"}
    # each entry's deps decide its env: four envs, four keys
    assert len({s["env_key"] for s in report["sessions"]}) == 4


def test_each_entry_is_locked_for_its_own_values(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.t]
                install_project = false
                matrix = { alpha = ["1.0", "2.0"] }
                deps = ["alpha=={matrix:alpha}"]
            """
        },
    )
    vrun("lock", "t", check=0)
    for name, version in (("t-alpha1.0", "1.0"), ("t-alpha2.0", "2.0")):
        data = tomllib.loads((project / file_name(name)).read_text())
        assert data["tool"]["vrun"]["session"] == name
        assert {p["name"]: p["version"] for p in data["packages"]} == {"alpha": version}
    assert "is current (t-alpha2.0)" in vrun("lock", "--check", "t", check=0).stderr


def test_the_ci_fan_out_lists_every_entry_with_its_python(project: Path, vrun: Vrun) -> None:
    """docs/ci.md's jq program, on the real ``vrun list --json``: one job per entry."""
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed")
    write_project(
        project,
        {
            "vrun.toml": f"""
                default = ["t"]
                [sessions.t]
                install_project = false
                matrix = {{ python = ["{RUNNING}", "pypy3.10"], alpha = ["1.0", "2.0"] }}
                [sessions.other]
                install_project = false
            """
        },
    )
    match = re.search(
        r"vrun list --json \| jq -c '(.*?)'\)", (REPO / "docs" / "ci.md").read_text(), re.DOTALL
    )
    assert match is not None
    listed = vrun("list", "--json", check=0).stdout
    jobs = json.loads(
        subprocess.run(
            [jq, "-c", match.group(1)], input=listed, capture_output=True, text=True, check=True
        ).stdout
    )
    assert jobs == [
        {"name": f"t-{RUNNING}-alpha1.0", "python": RUNNING},
        {"name": f"t-{RUNNING}-alpha2.0", "python": RUNNING},
        {"name": "t-pypy3.10-alpha1.0", "python": "pypy3.10"},
        {"name": "t-pypy3.10-alpha2.0", "python": "pypy3.10"},
    ]
