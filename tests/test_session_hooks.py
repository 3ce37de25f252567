"""``commands_pre``, ``commands_post`` and ``env_file``: tox 4's order and exit status, dotenv files.

Real envs and real processes, offline (one env without deps per test), driven through the real
command line; the dotenv reader and the placeholder escape are also tested directly.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project
from tests.test_plancache import traced, warm
from vrun import placeholders
from vrun.config.dotenv import DotenvError, parse, resolve
from vrun.config.load import load_config
from vrun.errors import ConfigError


def say(text: str, status: int = 0) -> str:
    """A command (TOML array text) that prints ``text`` and exits with ``status``."""
    return json.dumps(["python", "-c", f"print({text!r}); raise SystemExit({status})"])


def session(project: Path, body: str, files: dict[str, str] | None = None) -> None:
    write_project(project, {"vrun.toml": f"[sessions.s]\ninstall_project = false\n{body}\n", **(files or {})})


def report(project: Path) -> list[tuple[list[str], int | None]]:
    (result,) = json.loads((project / "r.json").read_text())["sessions"]
    return [(c["argv"][-1].split("(")[1].split(")")[0], c["exit_code"]) for c in result["commands"]]


# --- the order and the exit status (tox 4: tox.session.cmd.run.single.run_commands) ------------


def test_post_runs_after_a_failed_command_and_the_first_failure_decides(project: Path, vrun: Vrun) -> None:
    session(
        project,
        f"""
        commands_pre = [{say("pre")}]
        commands = [{say("main", 3)}, {say("main2")}]
        commands_post = [{say("post")}, {say("post2", 5)}, {say("post3")}]
        """,
    )
    proc = vrun("--report", "r.json", "s", check=3)  # main's status, not post2's
    assert proc.stdout.split() == ["pre", "main", "post", "post2"]
    assert "commands_post failed too: command failed with exit code 5" in proc.stderr
    assert "session s failed: command failed with exit code 3" in proc.stderr
    assert report(project) == [
        ("'pre'", 0),
        ("'main'", 3),
        ("'main2'", None),
        ("'post'", 0),
        ("'post2'", 5),
        ("'post3'", None),
    ]
    from vrun.report.results import failure_message

    (result,) = json.loads((project / "r.json").read_text())["sessions"]
    assert "exit code 3" in failure_message(result)  # the first failure, for JUnit too


def test_a_failed_pre_skips_commands_and_still_runs_post(project: Path, vrun: Vrun) -> None:
    session(
        project,
        f"""
        commands_pre = [{say("pre", 4)}, {say("pre2")}]
        commands = [{say("main")}]
        commands_post = [{say("post")}]
        """,
    )
    proc = vrun("--report", "r.json", "s", check=4)
    assert proc.stdout.split() == ["pre", "post"]
    assert report(project) == [("'pre'", 4), ("'pre2'", None), ("'main'", None), ("'post'", 0)]


def test_a_failed_post_alone_fails_the_session_with_its_status(project: Path, vrun: Vrun) -> None:
    session(project, f"commands = [{say('main')}]\ncommands_post = [{say('post', 6)}]")
    proc = vrun("s", check=6)
    assert proc.stdout.split() == ["main", "post"]
    assert "session s failed: command failed with exit code 6" in proc.stderr


def test_a_program_not_found_is_a_failure_and_post_still_runs(project: Path, vrun: Vrun) -> None:
    session(project, f'commands = ["no-such-program-xyz"]\ncommands_post = [{say("post")}]')
    proc = vrun("s", check=127)
    assert proc.stdout.split() == ["post"]
    assert "command 'no-such-program-xyz' not found" in proc.stderr


def test_the_timeout_covers_all_three_and_stops_post_too(project: Path, vrun: Vrun) -> None:
    session(
        project,
        f"""
        timeout = 1
        commands = [["python", "-c", "import time; time.sleep(600)"]]
        commands_post = [{say("post")}]
        """,
    )
    vrun.env["VRUN_KILL_GRACE"] = "0.3"
    proc = vrun("s", check=124)
    assert "post" not in proc.stdout.split()


def test_pre_and_post_are_commands_like_the_others(project: Path, vrun: Vrun) -> None:
    """shell, placeholders and posargs work in them as in ``commands``; --install-only runs none."""
    session(
        project,
        """
        shell = true
        env = { WHO = "world" }
        commands_pre = ["echo pre-$WHO {session} | tr a-z A-Z"]
        commands_post = ["echo post {posargs:none}"]
        """,
    )
    assert vrun("s", check=0).stdout.split() == ["PRE-WORLD", "S", "post", "none"]
    assert vrun("s", "--", "x", check=0).stdout.split() == ["PRE-WORLD", "S", "post", "x"]
    assert vrun("--install-only", "s", check=0).stdout == ""
    shown = json.loads(vrun("show", "s", "--json", "--", "y", check=0).stdout)[0]
    assert [c["line"] for c in shown["commands_pre"]] == ["echo pre-$WHO s | tr a-z A-Z"]
    assert shown["commands"] == []
    assert [c["line"] for c in shown["commands_post"]] == ["echo post y"]
    assert shown["takes_posargs"] is True
    text = vrun("show", "s", check=0).stdout
    assert "  commands_pre:\n    echo pre-" in text and "  commands: none\n  commands_post:\n" in text


def test_a_session_whose_post_lacks_posargs_refuses_them(project: Path, vrun: Vrun) -> None:
    session(project, f"commands_post = [{say('post')}]")
    proc = vrun("s", "--", "x", check=2)
    assert "session s does not take posargs (x)" in proc.stderr


# --- env_file ----------------------------------------------------------------------------------

PRINT_ENV = json.dumps(
    ["python", "-c", "import os; print(*(os.environ.get(k, '-') for k in ('A', 'B', 'C', 'D')))"]
)


def test_env_file_precedence_pass_env_then_files_then_env(project: Path, vrun: Vrun) -> None:
    session(
        project,
        f"""
        pass_env = ["A", "B", "C", "D"]
        env_file = [".env", "-.env.local", "-.env.none"]
        env = {{ D = "from env" }}
        commands = [{PRINT_ENV}]
        """,
        {".env": "A=file\nB=file\nD=file\n", ".env.local": "B=local\n"},
    )
    vrun.env.update({"A": "caller", "B": "caller", "C": "caller", "D": "caller"})
    assert vrun("s", check=0).stdout.split("\n")[0] == "file local caller from env"
    shown = json.loads(vrun("show", "s", "--json", check=0).stdout)[0]
    assert shown["env_file"] == [
        {"file": ".env", "optional": False, "found": True, "variables": ["A"]},
        {"file": ".env.local", "optional": True, "found": True, "variables": ["B"]},
        {"file": ".env.none", "optional": True, "found": False, "variables": []},
    ]
    text = vrun("show", "s", check=0).stdout
    assert "  env_file: .env.none (optional, not found)" in text
    assert "    A=file  (from .env)" in text and "    D=from env\n" in text
    explained = json.loads(vrun("explain", "s", "--json", check=0).stdout)[0]
    assert explained["env_file"] == [".env", ".env.local", ".env.none"]


def test_env_file_syntax_as_uv_and_python_dotenv_read_it(project: Path, vrun: Vrun) -> None:
    """typer's scripts/test.sh style (export lines), quotes, comments, ``${...}``; values are taken
    as written, vrun's placeholders included."""
    dotenv = """\
# test settings
export A=1
B = "two {session} ${A}"   # a comment
C='${A} stays'
export D="line1
line2"
"""
    session(project, f'env_file = ".env"\ncommands = [{PRINT_ENV}]', {".env": dotenv})
    assert vrun("s", check=0).stdout == "1 two {session} 1 ${A} stays line1\nline2\n"


def test_editing_an_env_file_replans_without_rebuilding(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """The file (and a variable ``${NAME}`` reads, and an optional file that appears) is an input of
    the plan cache, not of the env key."""
    cache = tmp_path / "vrun-cache"
    cache.mkdir()
    shared = Path(vrun.env["VRUN_CACHE_DIR"]) / "interpreters.json"
    if shared.exists():
        shutil.copy(shared, cache / shared.name)
    vrun.env["VRUN_CACHE_DIR"] = str(cache)
    session(
        project,
        f'env_file = [".env", "-.env.local"]\ncommands = [{PRINT_ENV}]',
        {".env": "A=${OUTSIDE:-unset}\nB=1\n"},
    )
    old = 1_000_000_000
    os.utime(project / ".env", (old, old))  # older than the racy window: the plan is stored
    os.utime(project / "vrun.toml", (old, old))
    assert vrun("s", check=0).stdout.split() == ["unset", "1", "-", "-"]
    proc, modules = traced(vrun, "s")
    assert warm(modules) and proc.stdout.split() == ["unset", "1", "-", "-"]
    (project / ".env").write_text("A=${OUTSIDE:-unset}\nB=2\n")
    proc, modules = traced(vrun, "s")
    assert not warm(modules) and proc.stdout.split() == ["unset", "2", "-", "-"]
    assert "reusing env" in proc.stderr
    proc, modules = traced(vrun, "s", OUTSIDE="set")
    assert proc.stdout.split()[0] == "set" and not warm(modules)
    (project / ".env.local").write_text("C=3\n")
    assert vrun("s", check=0).stdout.split() == ["unset", "2", "3", "-"]


def write(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> Path:
    write_project(tmp_path, {"vrun.toml": f"[sessions.s]\n{body}\n", **(files or {})})
    return tmp_path / "vrun.toml"


@pytest.mark.parametrize(
    ("body", "files", "message"),
    [
        ('env_file = ".env"', {}, "sessions.s.env_file: env file '.env' does not exist"),
        ('env_file = ["a.env", "b.env"]', {"a.env": ""}, "sessions.s.env_file[1]: env file 'b.env' does not"),
        ('env_file = "-sub"', {"sub/x": ""}, "sessions.s.env_file: env file 'sub' is not a file"),
        ('env_file = ".env"', {".env": "A=1\nexport B\n"}, "sessions.s.env_file: .env:2: expected KEY=VALUE"),
        ('env_file = ".env"', {".env": "A='x\n"}, ".env:1: the value's ' is never closed"),
        ('env_file = ".env"', {".env": 'A="x" y\n'}, ".env:1: unexpected 'y' after the closing \""),
        ('env_file = ".env"', {".env": "A=1\nPYTHONHOME=/x\n"}, ".env:2: a session cannot set PYTHONHOME"),
        ('env_file = ["-"]', {}, "sessions.s.env_file[0]: '-' names no file"),
        ("env_file = 1", {}, "sessions.s.env_file: expected a path or an array of paths, got an integer"),
        ('env_file = [".env", 2]', {".env": ""}, "sessions.s.env_file[1]: expected a string"),
    ],
)
def test_env_file_errors_name_the_key_the_file_and_the_line(
    tmp_path: Path, body: str, files: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, body, files))
    assert message in caught.value.message


def test_extends_and_overrides_take_the_new_keys_as_other_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        install_project = false
        env_file = ".env"
        commands_pre = ["echo pre"]
        commands_post = ["echo post"]
        [sessions.t]
        extends = "s"
        python = ["3.11", "3.12"]
        commands_post = ["echo other"]
        [sessions.t.overrides."3.12"]
        commands_pre = []
        env_file = []
        """,
        {".env": "A=1\n"},
    )
    config = load_config(path)
    first, second = config.sessions["t-3.11"], config.sessions["t-3.12"]
    assert [c.argv for c in first.commands_pre] == [("echo", "pre")]
    assert [c.argv for c in first.commands_post] == [("echo", "other")]
    assert [f.set_env for f in first.env_file] == [(("A", "1"),)]
    assert second.commands_pre == () and second.env_file == ()


# --- the reader, directly ----------------------------------------------------------------------


def values(text: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    return dict(resolve(parse(text), {}, (environ or {}).get))


def test_dotenv_lines() -> None:
    assert values("") == {} and values("# only\n\n   # comments\n") == {}
    assert values("A=1\nexport B=2\n  C = 3  \nexport\tD=4") == {"A": "1", "B": "2", "C": "3", "D": "4"}
    assert values("A=x # comment\nB=x#not\nC=#not\nD=") == {"A": "x", "B": "x#not", "C": "#not", "D": ""}
    assert values("'K'=v\nE=it's\r\nF=a=b") == {"K": "v", "E": "it's", "F": "a=b"}
    assert values("A='a \\' \\\\ \\n'") == {"A": "a ' \\ \\n"}
    assert values('A="a \\" \\\\ \\n \\t \\$"  # c') == {"A": 'a " \\ \n \t \\$'}
    assert values('A="one\ntwo"\nB=3') == {"A": "one\ntwo", "B": "3"}
    assert values("\ufeffA=1") == {"A": "1"}


def test_dotenv_interpolation() -> None:
    """``${NAME}`` reads earlier lines first (the files win over the environment, so their values do
    in interpolation too: python-dotenv with override=True), then the environment, then the default."""
    env = {"HOME": "/home/me", "A": "from-env"}
    assert values("A=1\nB=${A}-${HOME}-${NONE}-${NONE:-dflt}", env) == {
        "A": "1",
        "B": "1-/home/me--dflt",
    }
    assert values("B=${A}\nA=1", env) == {"B": "from-env", "A": "1"}
    assert values("A='${HOME}'\nB=\"${HOME}\"\nC=$HOME", env) == {
        "A": "${HOME}",
        "B": "/home/me",
        "C": "$HOME",
    }
    known: dict[str, str] = {}
    resolve(parse("A=1"), known, env.get)
    assert dict(resolve(parse("B=${A}"), known, env.get)) == {"B": "1"}  # an earlier file's value


@pytest.mark.parametrize(
    ("text", "line"), [("A", 1), ("A=1\n\n=2", 3), ("A='x", 1), ('A="x"y', 1), ('A=1\nB="\nx" z', 3)]
)
def test_dotenv_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(DotenvError) as caught:
        parse(text)
    assert caught.value.line == line


def test_literal_is_read_back_as_plain_text() -> None:
    """Every string of up to six pieces of ``{ } $ : env x`` (all the grammar's characters, and a
    placeholder name) comes back from :func:`vrun.placeholders.parse` as the text it was."""
    pieces = ["{", "}", "$", ":", "env", "x"]
    for n in range(7):
        for combo in itertools.product(pieces, repeat=n):
            text = "".join(combo)
            assert placeholders.parse(placeholders.literal(text)) == ([text] if text else [""]), text
