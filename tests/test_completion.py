"""Shell completion: the session lister, and the bash, zsh and fish scripts driven in real shells.

The scripts get session names from ``vrun completion --list-sessions``; here a fake ``vrun`` first
on ``PATH`` answers it by calling :func:`vrun.commands.completion.list_sessions_main`, so the tests do not
depend on how the CLI wires the subcommand.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project
from vrun import SUBCOMMANDS
from vrun.commands.completion import LIST_SESSIONS_COMMAND, list_sessions_main, script, session_names
from vrun.errors import UsageError

CONFIG = """
[sessions.test]
python = ["3.11", "3.12"]
commands = ["pytest"]

[sessions.lint]
commands = ["ruff check"]
"""


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "vrun.toml").write_text(CONFIG)
    return root


@pytest.fixture
def fake_vrun(tmp_path: Path) -> Path:
    """A directory holding a ``vrun`` that answers the lister from the current directory."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "vrun"
    code = (
        "import sys; from pathlib import Path; from vrun.commands.completion import list_sessions_main; "
        "sys.exit(list_sessions_main(Path.cwd()) if sys.argv[1:] == "
        f"{LIST_SESSIONS_COMMAND.split()[1:]!r} else 2)"
    )
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -c "{code}" "$@"\n')
    exe.chmod(0o755)
    return bin_dir


def test_session_names_with_matrix_from_a_subdirectory(proj: Path) -> None:
    assert session_names(proj / "src" / "pkg") == ["test", "test-3.11", "test-3.12", "lint"]


def test_session_names_follow_extends_for_the_matrix(tmp_path: Path) -> None:
    (tmp_path / "vrun.toml").write_text(
        '[sessions.t]\npython = ["3.11"]\n[sessions.c]\nextends = "t"\n[sessions.x]\nextends = "x"\n'
    )
    assert session_names(tmp_path) == ["t", "t-3.11", "c", "c-3.11", "x"]


def test_session_names_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.vrun.sessions.a]\npython = "3.12"\n')
    assert session_names(tmp_path) == ["a"]


def test_vrun_toml_wins_over_pyproject(proj: Path) -> None:
    (proj / "pyproject.toml").write_text("[tool.vrun.sessions.other]\n")
    assert session_names(proj)[0] == "test"


@pytest.mark.parametrize("text", ["[sessions.test\n", "sessions = 3\n", "[sessions]\ntest = 1\n"])
def test_session_names_never_raises(tmp_path: Path, text: str) -> None:
    (tmp_path / "vrun.toml").write_text(text)
    assert session_names(tmp_path) in ([], ["test"])


def test_session_names_broken_toml_and_none(tmp_path: Path) -> None:
    (tmp_path / "vrun.toml").write_text("[sessions.test\n")
    assert session_names(tmp_path) == []
    assert session_names(tmp_path / "does-not-exist") == []


def test_list_sessions_main(proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert list_sessions_main(proj) == 0
    assert capsys.readouterr().out.split() == ["test", "test-3.11", "test-3.12", "lint"]


def test_unknown_shell() -> None:
    with pytest.raises(UsageError):
        script("powershell")


def run_shell(argv: list[str], cwd: Path, bin_dir: Path) -> str:
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd), "TERM": "dumb"}
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
needs_zsh = pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed")
needs_fish = pytest.mark.skipif(shutil.which("fish") is None, reason="fish not installed")


@needs_bash
def test_bash_registers_completion(tmp_path: Path, fake_vrun: Path) -> None:
    path = tmp_path / "vrun.bash"
    path.write_text(script("bash"))
    out = run_shell(["bash", "-c", f"source {path}; complete -p vrun"], tmp_path, fake_vrun)
    assert "complete -F _vrun_complete vrun" in out


@needs_bash
@pytest.mark.parametrize(
    ("words", "expected", "absent"),
    [
        (["vrun", ""], {"test", "test-3.11", "lint", "shell", "completion", "init"}, set()),
        (["vrun", "te"], {"test", "test-3.11", "test-3.12"}, {"lint"}),
        (["vrun", "shell", ""], {"test", "test-3.12", "lint"}, {"shell"}),
        (["vrun", "-q", "run", "l"], {"lint"}, set()),
        (["vrun", "--color", ""], {"auto", "always", "never"}, set()),
        (["vrun", "--"], {"--no-install", "--recreate", "--skip-missing-interpreters"}, set()),
        (["vrun", "completion", ""], {"bash", "zsh", "fish"}, {"test"}),
        (["vrun", "list", ""], set(), {"test"}),
    ],
)
def test_bash_completes(
    proj: Path, tmp_path: Path, fake_vrun: Path, words: list[str], expected: set[str], absent: set[str]
) -> None:
    path = tmp_path / "vrun.bash"
    path.write_text(script("bash"))
    quoted = " ".join(f"'{w}'" for w in words)
    code = f'source {path}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _vrun_complete; printf "%s\\n" "${{COMPREPLY[@]}}"'
    offered = set(run_shell(["bash", "-c", code], proj / "src", fake_vrun).split())
    assert expected <= offered
    assert not (absent & offered)


@needs_zsh
def test_zsh_script_parses_and_completes(proj: Path, tmp_path: Path, fake_vrun: Path) -> None:
    path = tmp_path / "_vrun"
    path.write_text(script("zsh"))
    run_shell(["zsh", "-n", str(path)], tmp_path, fake_vrun)
    # compadd and compdef stubbed: the function's logic, without zsh's completion system
    code = (
        "compadd() { [[ $1 == -- ]] && shift; print -l -- $@ }; compdef() { print compdef $@ }; "
        f"source {path}; words=(vrun ''); CURRENT=2; _vrun"
    )
    out = run_shell(["zsh", "-f", "-c", code], proj, fake_vrun).split()
    assert out[:3] == ["compdef", "_vrun", "vrun"]
    assert {"test", "test-3.11", "lint", *SUBCOMMANDS} <= set(out)


@needs_fish
def test_fish_script_parses_and_completes(proj: Path, tmp_path: Path, fake_vrun: Path) -> None:
    path = tmp_path / "vrun.fish"
    path.write_text(script("fish"))
    run_shell(["fish", "--no-execute", str(path)], tmp_path, fake_vrun)
    out = run_shell(
        ["fish", "--no-config", "-c", f"source {path}; complete -C 'vrun shell '; complete -C 'vrun --col'"],
        proj,
        fake_vrun,
    )
    offered = {line.split("\t")[0] for line in out.splitlines()}
    assert {"test", "test-3.11", "test-3.12", "lint", "--color"} <= offered


def test_cli_prints_scripts_and_lists_sessions(project: Path, vrun: Vrun) -> None:
    write_project(project, {"vrun.toml": '[sessions.test]\npython = ["3.11", "3.12"]\n[sessions.lint]\n'})
    listed = vrun("completion", "--list-sessions", check=0).stdout.split()
    assert {"test", "test-3.11", "test-3.12", "lint"} <= set(listed)
    script = vrun("completion", "bash", check=0).stdout
    assert "complete -F _vrun_complete vrun" in script
    for option in ("--recreate", "--no-install", "--keyword"):
        assert option in script  # read from the command line's own parser
    assert vrun("completion", "tcsh", check=2).returncode == 2


HOSTILE = ("$(touch${IFS}PWNED)", "`touch PWNED`", "x;touch PWNED", "a b", "*")


def test_session_names_are_only_names_vrun_accepts(tmp_path: Path) -> None:
    """The file is the project's: a name vrun would refuse is never offered to a shell."""
    tables = "".join(f"[sessions.{json.dumps(name)}]\n" for name in HOSTILE)
    (tmp_path / "vrun.toml").write_text(f'[sessions.safe]\npython = ["3.12", "$(x)"]\n{tables}')
    assert session_names(tmp_path) == ["safe", "safe-3.12"]


@needs_bash
def test_bash_offers_names_as_literal_words_and_runs_none(tmp_path: Path) -> None:
    """Even a lister that prints hostile names (an older vrun) gets them offered escaped, unexpanded."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lister = bin_dir / "vrun"
    lister.write_text("#!/bin/sh\nprintf '%s\\n' " + " ".join(shlex.quote(n) for n in HOSTILE) + " safe\n")
    lister.chmod(0o755)
    path = tmp_path / "vrun.bash"
    path.write_text(script("bash"))
    for cur in ("", "$", "`", "x"):
        code = (
            f"source {path}; COMP_WORDS=(vrun {shlex.quote(cur)}); COMP_CWORD=1; _vrun_complete; "
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        offered = run_shell(["bash", "-c", code], tmp_path, bin_dir).splitlines()
        assert not list(tmp_path.glob("PWNED*")), cur
        expected = {
            subprocess.run(
                ["bash", "-c", 'printf %q "$1"', "-", n], capture_output=True, text=True, check=True
            ).stdout
            for n in (*HOSTILE, "safe")
            if n.startswith(cur)
        }
        assert expected <= set(offered), (cur, offered)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_backend_values_include_auto(shell: str) -> None:
    """``--backend`` completes to every value it accepts, ``auto`` included."""
    from vrun.arguments import build_parsers
    from vrun.commands.completion import script

    accepted = next(a.choices for a in build_parsers()[""]._actions if "--backend" in a.option_strings)
    text = script(shell)
    assert accepted is not None and "@BACKENDS@" not in text
    assert " ".join(accepted) in text, text
    assert set(accepted) == {"auto", "virtualenv", "uv"}
