"""Unit tests of the pure pieces: posargs, environment, selection, the env key, output."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import ClassVar

import pytest

from vrun import output
from vrun.config.load import Config, Session
from vrun.config.reqfiles import Walk
from vrun.config.selection import keyword_match, select_sessions
from vrun.env.backends import failing_requirement
from vrun.env.installplan import InstallPlan
from vrun.env.rebuild import explain_change
from vrun.environ import clean_path, installer_environ
from vrun.errors import UsageError
from vrun.output import color_enabled, human_size
from vrun.plan.envkey import compute_key
from vrun.plan.interpreters import Interpreter
from vrun.run.compose import Values, command_environ, expand_argv

ENV = Path("/p/.venvs/s-0123456789")
ROOT = Path("/p")


def expand(argv: tuple[str, ...], posargs: list[str] | None, shell: bool = False) -> list[str]:
    values = Values(env_dir=str(ENV), project_root=str(ROOT), session="s", caller={}, tmp="path")
    return expand_argv(argv, posargs, shell=shell, values=values, environ={})


def session_environ(
    s: Session, env_dir: Path, caller: dict[str, str], *, project_root: Path
) -> dict[str, str]:
    values = Values(env_dir=str(env_dir), project_root=str(project_root), session=s.name, caller=caller)
    return command_environ(pass_env=s.pass_env, set_env=s.env, values=values)


class TestPosargs:
    def test_alone_expands_to_zero_or_more_arguments(self) -> None:
        assert expand(("pytest", "{posargs}"), ["-x", "a b"]) == ["pytest", "-x", "a b"]
        assert expand(("pytest", "{posargs}"), None) == ["pytest"]

    def test_default_is_split_only_when_no_posargs(self) -> None:
        assert expand(("ruff", "{posargs:src tests}"), None) == ["ruff", "src", "tests"]
        assert expand(("ruff", "{posargs:src tests}"), ["x"]) == ["ruff", "x"]
        assert expand(("ruff", "{posargs:src tests}"), []) == ["ruff"]  # `vrun s --` means none

    def test_inside_an_argument_is_quoted_and_joined(self) -> None:
        assert expand(("cmd", "--k={posargs:a}"), ["x y", "z"]) == ["cmd", "--k='x y' z"]

    def test_other_placeholders(self) -> None:
        assert expand(("echo", "{env_dir}/bin", "{project_root}", "{session}", "{{unknown}}"), None) == [
            "echo",
            f"{ENV}/bin",
            str(ROOT),
            "s",
            "{unknown}",
        ]

    def test_shell_command_gets_quoted_posargs(self) -> None:
        assert expand(("echo {posargs} | wc",), ["a b"], shell=True) == ["echo 'a b' | wc"]


def session(**kw: object) -> Session:
    return Session(
        name=str(kw.pop("name", "s")), base_name=str(kw.pop("base_name", "s")), cwd=str(ROOT), **kw
    )  # type: ignore[arg-type]


class TestEnviron:
    CALLER: ClassVar[dict[str, str]] = {
        "PATH": "/old/venv/bin:/usr/bin:/bin:/usr/bin",
        "HOME": "/home/u",
        "LC_ALL": "C",
        "SECRET": "x",
        "PYTHONPATH": "/leak",
        "PYTHONHOME": "/leak",
        "PIP_USER": "1",
        "PIP_INDEX_URL": "http://mirror",
        "VIRTUAL_ENV": "/old/venv",
        "GITHUB_SHA": "abc",
    }

    def test_allow_list_pass_env_and_removals(self) -> None:
        env = session_environ(session(pass_env=("SEC*",)), ENV, self.CALLER, project_root=ROOT)
        assert env["HOME"] == "/home/u" and env["LC_ALL"] == "C" and env["GITHUB_SHA"] == "abc"
        assert env["SECRET"] == "x"
        assert env["PIP_INDEX_URL"] == "http://mirror"
        assert "PYTHONPATH" not in env and "PYTHONHOME" not in env and "PIP_USER" not in env
        assert env["VIRTUAL_ENV"] == str(ENV)

    def test_unlisted_variables_do_not_pass(self) -> None:
        env = session_environ(session(), ENV, self.CALLER, project_root=ROOT)
        assert "SECRET" not in env

    def test_path_has_env_first_and_no_stale_venv_or_duplicates(self) -> None:
        env = session_environ(session(), ENV, self.CALLER, project_root=ROOT)
        assert env["PATH"].split(os.pathsep) == [str(ENV / "bin"), "/usr/bin", "/bin"]

    def test_pythonpath_only_when_named(self) -> None:
        env = session_environ(session(pass_env=("PYTHONPATH",)), ENV, self.CALLER, project_root=ROOT)
        assert env["PYTHONPATH"] == "/leak"
        assert "PYTHONHOME" not in env  # never, whatever pass_env says

    def test_set_env_wins_and_substitutes(self) -> None:
        env = session_environ(
            session(env=(("HOME", "/elsewhere"), ("DATA", "{env_dir}/data"))),
            ENV,
            self.CALLER,
            project_root=ROOT,
        )
        assert env["HOME"] == "/elsewhere"
        assert env["DATA"] == f"{ENV}/data"

    def test_clean_path(self) -> None:
        assert clean_path("/a:/b/:/a:/c::/b", ["/b"]) == "/a:/c"


def config_of(*sessions: Session, default: tuple[str, ...] | None = None) -> Config:
    matrix: dict[str, tuple[str, ...]] = {}
    for s in sessions:
        matrix.setdefault(s.base_name, ())
        matrix[s.base_name] += (s.name,)
    return Config(
        path=ROOT / "vrun.toml",
        root=ROOT,
        sessions={s.name: s for s in sessions},
        matrix=matrix,
        default=default,
    )


class TestSelection:
    CFG = config_of(
        session(name="lint", base_name="lint", tags=("fast",)),
        session(name="test-3.11", base_name="test", python="3.11", requires=("lint",)),
        session(name="test-3.12", base_name="test", python="3.12", requires=("lint",)),
        session(name="docs", base_name="docs"),
        default=("test",),
    )

    def names(self, *names: str, **kw: object) -> list[str]:
        return [s.name for s in select_sessions(self.CFG, names, **kw)]  # type: ignore[arg-type]

    def test_default_expands_matrix_and_pulls_requires_first(self) -> None:
        assert self.names() == ["lint", "test-3.11", "test-3.12"]

    def test_full_name_and_without_requires(self) -> None:
        assert self.names("test-3.12", with_requires=False) == ["test-3.12"]

    def test_keyword_and_tags(self) -> None:
        assert self.names(keyword="3.12 or docs", with_requires=False) == ["test-3.12", "docs"]
        assert self.names(tags=["fast"]) == ["lint"]

    def test_unknown_name_suggests(self) -> None:
        with pytest.raises(UsageError, match="no session named 'tset'") as exc:
            self.names("tset")
        assert exc.value.hint == "did you mean 'test'?"

    @pytest.mark.parametrize(
        ("expr", "expected"),
        [
            ("a", True),
            ("not a", False),
            ("a and b", False),
            ("a or b", True),
            ("not (a and b)", True),
            ("(b)", False),
        ],
    )
    def test_keyword_grammar(self, expr: str, expected: bool) -> None:
        assert keyword_match(expr, session(name="a1", base_name="a1")) is expected

    @pytest.mark.parametrize("expr", ["a and", "(a", "a b", "or a", ")"])
    def test_keyword_errors(self, expr: str) -> None:
        with pytest.raises(UsageError, match="-k"):
            keyword_match(expr, session())


PY = Interpreter("/usr/bin/python3.12", "/usr/bin/python3.12", "CPython", "3.12.1", (3, 12, 1), 64, "x86_64")


class TestEnvKey:
    def key(
        self, tmp_path: Path, s: Session, py: Interpreter = PY, backend: str = "virtualenv"
    ) -> dict[str, object]:
        cfg = config_of(s)
        cfg = Config(path=tmp_path / "vrun.toml", root=tmp_path, sessions=cfg.sessions, matrix=cfg.matrix)
        k = compute_key(s, cfg, py, backend, {})
        return {"digest": k.digest, "components": k.components}

    def test_stable_and_order_insensitive_for_requirements(self, tmp_path: Path) -> None:
        a = self.key(tmp_path, session(requirements=("b", "a  >=1")))
        b = self.key(tmp_path, session(requirements=("a >=1", "b")))
        assert a["digest"] == b["digest"]
        assert len(str(a["digest"])) == 10

    @pytest.mark.parametrize(
        "change",
        [
            {"requirements": ("a", "c")},
            {"extras": ("x",), "install_project": "editable"},
            {"system_site_packages": True},
            {"groups": ("g",), "group_requirements": ("a",)},
        ],
    )
    def test_each_input_changes_the_key(self, tmp_path: Path, change: dict[str, object]) -> None:
        base = self.key(tmp_path, session(requirements=("a",)))
        changed = self.key(tmp_path, session(**{"requirements": ("a",), **change}))
        assert base["digest"] != changed["digest"]

    def test_interpreter_and_backend_change_the_key(self, tmp_path: Path) -> None:
        base = self.key(tmp_path, session())
        newer = Interpreter(PY.executable, PY.base_executable, "CPython", "3.12.4", (3, 12, 4), 64, "x86_64")
        assert self.key(tmp_path, session(), py=newer)["digest"] != base["digest"]
        assert self.key(tmp_path, session(), backend="uv")["digest"] != base["digest"]
        reason = explain_change(base["components"], self.key(tmp_path, session(), py=newer)["components"])  # type: ignore[arg-type]
        assert reason.startswith("python changed: CPython 3.12.1") and "3.12.4" in reason

    def test_requirement_files_are_followed_recursively_without_looping(self, tmp_path: Path) -> None:
        (tmp_path / "a.txt").write_text("-r sub/b.txt\n--constraint=c.txt\nx\n")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub/b.txt").write_text("-r ../a.txt\n-rmissing.txt\ny\n")
        (tmp_path / "c.txt").write_text("x==1\n")
        walk = Walk((str(tmp_path / "a.txt"),), (), str(tmp_path))
        assert set(walk.requirement_files) == {"a.txt", "sub/b.txt", "sub/missing.txt"}
        assert walk.requirement_files["sub/missing.txt"] == "missing"
        assert set(walk.constraint_files) == {"c.txt"}
        assert walk.lines == ["x", "y"]

    def test_explain_change_names_the_file(self) -> None:
        old = {"requirement_files": {"r.txt": "1", "s.txt": "2"}, "requirements": ["a"]}
        new = {"requirement_files": {"r.txt": "9", "s.txt": "2"}, "requirements": ["a", "b"]}
        assert explain_change(old, new) == "requirements changed: +b; requirements changed: r.txt"
        assert explain_change(old, old) == ""


class TestBackendsHelpers:
    def test_install_plan_args(self) -> None:
        plan = InstallPlan(("a>=1", "-e /core"), ("/r.txt",), ("/c.txt",), "/proj", True, ("x", "y"))
        assert plan.args() == ["a>=1", "-e", "/core", "-r", "/r.txt", "-c", "/c.txt", "-e", "/proj[x,y]"]
        assert InstallPlan(project="/p", editable=False).args() == ["/p"]
        assert InstallPlan().empty

    def test_installer_environ_drops_user_target_prefix(self) -> None:
        env = installer_environ(
            str(ENV),
            {
                "PIP_USER": "1",
                "PIP_TARGET": "/t",
                "PIP_ROOT": "/r",
                "UV_SYSTEM_PYTHON": "1",
                "PIP_INDEX_URL": "u",
                "PATH": "/bin",
            },
        )
        assert env["PIP_USER"] == "0"  # overrides `user = true` in a pip config file too
        assert "PIP_TARGET" not in env and "PIP_ROOT" not in env and "UV_SYSTEM_PYTHON" not in env
        assert env["PIP_INDEX_URL"] == "u"
        assert env["PATH"].startswith(str(ENV / "bin"))

    @pytest.mark.parametrize(
        ("output", "blamed"),
        [
            ("ERROR: No matching distribution found for nosuch>=1\n", "nosuch>=1"),
            (
                "  \u00d7 No solution found when resolving dependencies:\n  ╰─▶ Because nosuch was not found",
                "nosuch",
            ),
            ("all good", None),
        ],
    )
    def test_failing_requirement(self, output: str, blamed: str | None) -> None:
        assert failing_requirement(output) == blamed


class TestOutput:
    @pytest.mark.parametrize(
        ("choice", "environ", "tty", "expected"),
        [
            ("always", {"NO_COLOR": "1"}, False, True),
            ("never", {"FORCE_COLOR": "1"}, True, False),
            ("auto", {"NO_COLOR": "1"}, True, False),
            ("auto", {"FORCE_COLOR": "1"}, False, True),
            ("auto", {}, True, True),
            ("auto", {}, False, False),
        ],
    )
    def test_color_enabled(self, choice: str, environ: dict[str, str], tty: bool, expected: bool) -> None:
        stream = io.StringIO()
        stream.isatty = lambda: tty  # type: ignore[method-assign]
        assert color_enabled(choice, environ, stream) is expected

    def test_summary_and_sizes(self, capsys: pytest.CaptureFixture[str]) -> None:
        output.configure(0, "never")
        output.summary(
            [
                {"name": "test-3.12", "status": "passed", "duration": 1.25, "reason": ""},
                {"name": "b", "status": "failed", "duration": 0.5, "reason": "boom"},
            ]
        )
        rows = capsys.readouterr().err.splitlines()
        assert rows[0].split() == ["vrun", ">", "session", "status", "time"]
        assert rows[1].split() == ["vrun", ">", "test-3.12", "passed", "1.2s"]
        assert rows[2].split()[-1] == "boom"
        assert human_size(512) == "512 B"
        assert human_size(3 * 1024 * 1024) == "3.0 MiB"


@pytest.mark.parametrize(
    "arg",
    ["", "plain", "a b", "it's", "$HOME", "-k", "x=1,y=2", "é", "a\nb", "'", '"q"', "*", "~user", "a%b@c+d"],
)
def test_quote_is_shlex_quote(arg: str) -> None:
    import shlex

    from vrun.output import join, quote

    assert quote(arg) == shlex.quote(arg)
    assert join([arg, "x y"]) == shlex.join([arg, "x y"])


def test_every_subcommand_has_a_handler_and_only_its_module_is_imported() -> None:
    """``cli.handler`` knows every verb the parser knows, and dispatching one imports its module
    only (a fresh interpreter: ``vrun list`` must not load ``freeze``'s or ``lock``'s imports)."""
    import subprocess
    import sys

    from vrun import cli
    from vrun.arguments import build_parsers

    for command in build_parsers():
        assert callable(cli.handler(command)), command
    with pytest.raises(KeyError):
        cli.handler("no-such-verb")
    probe = (
        "import sys; from vrun import cli; cli.handler('list');"
        "print(sorted(m for m in sys.modules if m.startswith('vrun.commands.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "['vrun.commands._common', 'vrun.commands.listing']"


def test_changed_inputs_skips_vrun_itself_but_not_the_projects_files(tmp_path: Path) -> None:
    """An install re-checks the files planning read; vrun's own modules decide the plan, not what
    the env holds, so an upgrade of vrun during a build does not fail it."""
    import vrun
    from vrun.env.build import changed_inputs

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha\n")
    own = os.path.join(os.path.dirname(vrun.__file__), "cli.py")
    stale = (1, 1, 1, 1)  # a signature neither file has
    plan = {"root": str(tmp_path), "inputs": {own: stale, str(requirements): stale}}
    assert changed_inputs(plan, {"VRUN_CACHE_DIR": str(tmp_path / "cache")}) == [str(requirements)]  # type: ignore[arg-type]
    # the project's source is not in the env key: a build writing src/demo.egg-info fails nothing
    src = tmp_path / "src"
    src.mkdir()
    plan["inputs"][str(src)] = stale
    plan["sessions"] = [{"install": {"source_files": [str(src)]}}, {"install": None}]
    assert changed_inputs(plan, {"VRUN_CACHE_DIR": str(tmp_path / "cache")}) == [str(requirements)]  # type: ignore[arg-type]
