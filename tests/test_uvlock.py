"""uv.lock: a session of a project with a ``uv.lock`` installs the versions it pins.

Real envs, offline: the lock is made by the real ``uv lock`` from the shared wheelhouse, which holds
alpha 1.0 and 2.0. The project says ``alpha`` and its ``[tool.uv] constraint-dependencies`` keep the
lock at alpha 1.0 (a constraint only ``uv lock`` reads), so an env with alpha 1.0 got its version
from the lock and one with alpha 2.0 was resolved afresh.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Vrun, write_project
from tests.test_explain import edit
from tests.test_lock import SHOW, versions
from tests.test_plancache import traced, warm
from vrun.config.load import load_config
from vrun.env.choice import find_uv
from vrun.env.installplan import InstallPlan, constraint_lines
from vrun.migrate.translate import translate
from vrun.plan import uvlock
from vrun.plan.cache import lookup
from vrun.plan.interpreters import find_interpreter

PYPROJECT = """
    [build-system]
    requires = ["setuptools>=64"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "demo"
    version = "0.1"
    requires-python = ">=3.9"
    dependencies = ["alpha"]

    [dependency-groups]
    test = ["beta ; sys_platform == 'win32'"]
    tools = ["greet"]

    [tool.setuptools]
    py-modules = ["demo"]

    [tool.uv]
    constraint-dependencies = ["alpha<2"]
"""
VRUN_TOML = f"""
    [sessions.test]
    groups = ["test"]
    deps = ["alpha>=1", "greet"]
    commands = [["python", "-c", {json.dumps(SHOW)}]]

    [sessions.tools]
    groups = ["tools"]
    install_project = false
    commands = [["python", "-c", {json.dumps(SHOW)}]]

    [sessions.lint]
    install_project = false
    deps = ["alpha"]
    commands = [["python", "-c", {json.dumps(SHOW)}]]
"""


def uv_lock(project: Path, env: dict[str, str], *args: str) -> None:
    """``uv lock ARGS`` in ``project``, offline from the wheelhouse of ``env`` (as a user runs it)."""
    uv = find_uv()
    assert uv is not None
    subprocess.run(
        [uv, "lock", "--quiet", "--python", sys.executable, *args],
        cwd=project,
        env={**env, "UV_PYTHON_DOWNLOADS": "never"},
        check=True,
    )


@pytest.fixture
def locked(project: Path, vrun: Vrun) -> Vrun:
    """The project above with its ``uv.lock`` (alpha 1.0); the :class:`Vrun` for it."""
    write_project(project, {"pyproject.toml": PYPROJECT, "vrun.toml": VRUN_TOML, "demo.py": ""})
    uv_lock(project, vrun.env)
    assert 'name = "alpha"\nversion = "1.0"' in (project / "uv.lock").read_text()
    return vrun


def explained(vrun: Vrun, session: str) -> dict[str, Any]:
    [item] = json.loads(vrun("explain", "--json", session, check=0).stdout)
    found: dict[str, Any] = item
    return found


# --- installing from the lock ---------------------------------------------------------------------


def test_a_session_installs_the_lock_versions_and_its_deps_on_top(project: Path, locked: Vrun) -> None:
    result = locked("test", check=0)
    # alpha from the lock (the index's newest is 2.0), even though deps asks for alpha>=1 on top;
    # beta is pinned only for Windows (its marker is evaluated for the env); greet is not in the
    # lock for this session (another group): it goes on top
    assert versions(result.stdout) == {"alpha": "1.0", "beta": None, "greet": "1.0", "demo": "0.1"}
    assert "installing what uv.lock pins, 2 requirements on top, the project (editable" in result.stderr
    item = explained(locked, "test")
    assert item["versions"]["lock"] == "uv.lock"
    assert item["versions"]["pins"] == ["alpha==1.0", "beta==1.0 ; sys_platform == 'win32'"]
    assert item["versions"]["text"].startswith(
        "from uv.lock (uv export --locked --format requirements-txt --no-hashes --no-header "
        "--no-annotate --no-emit-project --no-default-groups --group test: 2 pins)"
    )
    assert item["versions"]["text"].endswith("; deps on top, constrained by them")  # its deps
    assert list(item["components"]["lock"]) == ["uv.lock"]  # the lock's digest is in the env key
    assert item["reused"] is True
    text = locked("explain", "test", check=0).stdout
    assert "  versions: from uv.lock (" in text and "    alpha==1.0" in text
    assert "  lock: uv.lock (current: installs what it pins)" in locked("show", "test", check=0).stdout


def test_what_a_session_selects_from_the_lock(locked: Vrun) -> None:
    # install_project = false: only the group, none of the project's dependencies
    tools = locked("tools", check=0)
    assert versions(tools.stdout) == {"alpha": None, "beta": None, "greet": "1.0", "demo": None}
    tools_item = explained(locked, "tools")
    assert tools_item["versions"]["pins"] == ["greet==1.0"]
    assert tools_item["versions"]["text"].endswith("--only-group tools: 1 pin)")  # nothing on top
    # neither the project nor a group: nothing to take from the lock, a fresh resolve
    lint = explained(locked, "lint")
    assert lint["versions"] == {
        "lock": None,
        "text": "resolved afresh by the installer (no lock file applies)",
        "pins": [],
    }
    assert "lock" not in lint["components"]


def test_the_virtualenv_backend_installs_the_same_pins(locked: Vrun) -> None:
    result = locked("--backend", "virtualenv", "test", check=0)
    assert versions(result.stdout) == {"alpha": "1.0", "beta": None, "greet": "1.0", "demo": "0.1"}
    assert "installing what uv.lock pins, 2 requirements on top" in result.stderr
    assert "with virtualenv" in result.stderr


@pytest.mark.parametrize("where", ["session", "top level"])
def test_uv_lock_false_opts_out(project: Path, locked: Vrun, where: str) -> None:
    config = project / "vrun.toml"
    if where == "session":
        edit(config, 'groups = ["test"]\n', 'groups = ["test"]\nuv_lock = false\n')
    else:
        config.write_text("uv_lock = false\n" + config.read_text())
    result = locked("test", check=0)
    assert versions(result.stdout)["alpha"] == "2.0"  # the index's newest: resolved afresh
    assert "uv.lock" not in result.stderr
    item = explained(locked, "test")
    assert item["versions"]["lock"] is None and "lock" not in item["components"]


# --- a lock that no longer matches ------------------------------------------------------------------


def test_a_stale_lock_warns_and_resolves_afresh_and_locked_refuses_it(project: Path, locked: Vrun) -> None:
    edit(project / "pyproject.toml", 'dependencies = ["alpha"]', 'dependencies = ["alpha", "greet"]')
    stale = "uv.lock needs to be updated: it no longer matches pyproject.toml (uv export --locked)"
    refused = locked("--locked", "test", check=1)
    assert f"error: session test must install from its lock file (--locked), but {stale}" in refused.stderr
    assert "hint: run `uv lock` to update uv.lock, then commit the result" in refused.stderr
    assert not (project / ".venvs").exists()  # refused before building anything
    result = locked("-q", "test", check=0)  # a warning: shown under -q too
    assert f"vrun > {stale}; resolving afresh instead (`uv lock` updates it)" in result.stderr
    assert versions(result.stdout)["alpha"] == "2.0"
    item = explained(locked, "test")
    assert item["versions"] == {
        "lock": None,
        "text": f"resolved afresh by the installer ({stale})",
        "pins": [],
    }
    assert f"  lock: uv.lock (stale, not used: {stale})" in locked("show", "test", check=0).stdout
    # locked = true in the config refuses it the same way
    edit(project / "vrun.toml", 'groups = ["test"]\n', 'groups = ["test"]\nlocked = true\n')
    assert stale in locked("test", check=1).stderr
    # `uv lock` makes it current again: installed from it
    uv_lock(project, locked.env)
    assert versions(locked("test", check=0).stdout)["alpha"] == "1.0"


def test_vrun_lock_leaves_uv_lock_sessions_to_uv_unless_named(project: Path, locked: Vrun) -> None:
    config = project / "vrun.toml"
    config.write_text('default = ["test", "lint"]\n' + config.read_text())
    written = locked("lock", check=0)
    assert "vrun > test installs from uv.lock (`uv lock` updates it)" in written.stderr
    assert not (project / "pylock.test.toml").exists() and (project / "pylock.lint.toml").is_file()
    check = locked("lock", "--check", check=0)
    assert "vrun > uv.lock is current (test)" in check.stderr
    edit(project / "pyproject.toml", 'dependencies = ["alpha"]', 'dependencies = ["alpha", "greet"]')
    check = locked("lock", "--check", check=1)
    assert "error: session test: uv.lock needs to be updated" in check.stderr
    assert "hint: run `uv lock` and commit the result" in check.stderr
    # named, it gets a vrun lock file of its own, which then decides its versions
    named = locked("lock", "test", check=0)
    assert "pylock.test.toml now decides test's versions, not uv.lock (delete it to go back)" in named.stderr
    assert explained(locked, "test")["versions"]["lock"] == "pylock.test.toml"


# --- the warm path and the memo ----------------------------------------------------------------------


def test_a_warm_run_only_stats_the_lock(project: Path, locked: Vrun, monkeypatch: pytest.MonkeyPatch) -> None:
    locked("test", check=0)
    proc, modules = traced(locked, "test")
    assert proc.returncode == 0 and warm(modules), proc.stderr
    monkeypatch.chdir(project)
    plan = lookup(["test"], locked.env)
    assert plan is not None and str(project / "uv.lock") in plan["inputs"]
    # a changed lock is seen: the next run plans again, and installs from the new lock
    edit(project / "pyproject.toml", "alpha<2", "alpha<3")
    uv_lock(project, locked.env, "--upgrade-package", "alpha")
    proc, modules = traced(locked, "test")
    assert not warm(modules) and versions(proc.stdout)["alpha"] == "2.0"
    assert "lock file changed: uv.lock" in proc.stderr


def fake_uv(tmp_path: Path, stdout: str, stderr: str = "", status: int = 0) -> Path:
    """A ``uv`` that logs its arguments and answers ``export`` with ``stdout``/``stderr``/``status``."""
    script = tmp_path / "bin" / "uv"
    script.parent.mkdir(exist_ok=True)
    (tmp_path / "out").write_text(stdout)
    (tmp_path / "err").write_text(stderr)
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path / "calls"}\n'
        'if [ "$1" = --version ]; then echo "uv 0.0.0"; exit 0; fi\n'
        f"cat {tmp_path / 'out'}; cat {tmp_path / 'err'} >&2; exit {status}\n"
    )
    script.chmod(0o755)
    return script


def calls(tmp_path: Path) -> list[str]:
    return [
        line for line in (tmp_path / "calls").read_text().splitlines() if not line.startswith("--version")
    ]


@pytest.mark.parametrize(
    ("stdout", "stderr", "status", "state", "memoized"),
    [
        ("alpha==1.0\n-e ./lib\n", "", 0, "current", True),
        (
            "",
            "error: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided.\n",
            2,
            "stale",
            True,
        ),
        ("", "error: Failed to parse `uv.lock`\n", 2, "invalid", False),
    ],
)
def test_uv_answers_once_per_change(
    project: Path,
    tmp_path: Path,
    offline_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    stdout: str,
    stderr: str,
    status: int,
    state: str,
    memoized: bool,
) -> None:
    write_project(
        project, {"pyproject.toml": PYPROJECT, "vrun.toml": VRUN_TOML, "demo.py": "", "uv.lock": "x"}
    )
    uv = fake_uv(tmp_path, stdout, stderr, status)
    monkeypatch.setattr("vrun.env.choice.find_uv", lambda: str(uv))
    config = load_config(project / "vrun.toml")
    interpreter = find_interpreter(None, cache_dir=Path(offline_env["VRUN_CACHE_DIR"]))
    env = {**offline_env, "VRUN_CACHE_DIR": str(tmp_path / "cache")}
    first = uvlock.uv_lock_state(config, config.sessions["test"], interpreter, env)
    assert first is not None and first["status"] == state
    if state == "current":  # local paths made absolute, for whichever directory installs them
        assert first["pins"] == ["alpha==1.0", f"-e {project / 'lib'}"]
        assert constraint_lines(tuple(first["pins"])) == ["alpha==1.0"]
    elif state == "invalid":
        assert first["problem"] == "uv.lock cannot be used: Failed to parse `uv.lock`"
    [call] = calls(tmp_path)
    assert call.startswith("export --locked ") and call.endswith(
        f"--group test --python {interpreter.executable}"
    )
    again = uvlock.uv_lock_state(config, config.sessions["test"], interpreter, env)
    assert again == first
    assert len(calls(tmp_path)) == (1 if memoized else 2)
    # an edited pyproject.toml asks uv again (it decides whether the lock still matches)
    edit(project / "pyproject.toml", 'version = "0.1"', 'version = "0.2"')
    uvlock.uv_lock_state(config, config.sessions["test"], interpreter, env)
    assert len(calls(tmp_path)) == (2 if memoized else 3)


def test_export_arguments_follow_the_session() -> None:
    from vrun.config.load import Session

    with_project = Session("t", "t", install_project="editable", extras=("cli",), groups=("test",))
    assert uvlock.export_args(with_project)[-4:] == ["--extra", "cli", "--group", "test"]
    groups_only = Session("t", "t", groups=("lint", "docs"))
    assert uvlock.export_args(groups_only)[-4:] == ["--only-group", "lint", "--only-group", "docs"]
    described = InstallPlan(requirements=("greet",), lock="/p/uv.lock", pins=("alpha==1.0",), project="/p")
    assert described.describe() == "what uv.lock pins, 1 requirement on top, the project (editable)"
    pylock = InstallPlan(requirements=("greet",), lock="/p/pylock.test.toml", project="/p")
    assert pylock.describe() == "what pylock.test.toml pins, the project (editable)"


# --- vrun init: tox-uv's lock runner -----------------------------------------------------------------

TOX = """
    [project]
    name = "demo"
    version = "1"
    [project.optional-dependencies]
    fast = ["greet"]
    [dependency-groups]
    dev = ["greet"]
    tests = ["beta"]
    lint = ["alpha"]
    [tool.uv]
    default-groups = ["dev", "tests"]
    [tool.tox]
    env_list = ["3.12", "style", "typing", "plain"]
    [tool.tox.env_run_base]
    runner = "uv-venv-lock-runner"
    dependency_groups = ["tests"]
    deps = ["pytest"]
    commands = [["pytest"]]
    [tool.tox.env.style]
    dependency_groups = ["lint"]
    skip_install = true
    uv_sync_locked = false
    commands = [["ruff", "check"]]
    [tool.tox.env.typing]
    dependency_groups = []
    extras = ["fast"]
    uv_sync_flags = ["--no-editable", "--group=lint", "--prerelease", "allow"]
    commands = [["mypy"]]
    [tool.tox.env.plain]
    runner = "uv-venv-runner"
    commands = [["pytest"]]
"""


def test_init_maps_the_lock_runner_to_uv_lock(tmp_path: Path) -> None:
    write_project(tmp_path, {"pyproject.toml": TOX, "uv.lock": ""})
    text, notes = translate(tmp_path)
    from vrun._compat import tomllib

    sessions = tomllib.loads(text)["sessions"]
    # deps are ignored by tox-uv's lock runner; dependency_groups given: no default groups
    assert sessions["test"] == {
        "python": ["3.12"],
        "groups": ["tests"],
        "commands": ["pytest"],
        "locked": True,
    }
    # skip_install: the group alone; uv_sync_locked = false: a stale lock resolves afresh
    assert sessions["style"] == {"groups": ["lint"], "install_project": False, "commands": ["ruff check"]}
    # no dependency_groups: uv's default groups ([tool.uv] default-groups) join the flags' group
    assert sessions["typing"] == {
        "groups": ["lint", "dev", "tests"],
        "extras": ["fast"],
        "install_project": "wheel",
        "commands": ["mypy"],
        "locked": True,
    }
    # another runner resolves afresh in tox: so it does in vrun
    assert sessions["plain"]["uv_lock"] is False and sessions["plain"]["deps"] == ["pytest"]
    assert any("[env_run_base] deps: tox-uv's uv-venv-lock-runner ignores deps; dropped" in n for n in notes)
    assert any("[env.typing] uv_sync_flags: --prerelease allow not translated" in n for n in notes)
    assert any(
        "[style]: tox-uv's uv-venv-lock-runner installs the project's dependencies" in n for n in notes
    )
    # what init wrote loads
    (tmp_path / "vrun.toml").write_text(text)
    assert load_config(tmp_path / "vrun.toml").sessions["plain"].uv_lock is False
