"""Lock files: ``vrun lock`` writes PEP 751 files, sessions install exactly what they pin, and
``--locked`` / ``locked = true`` / ``vrun lock --check`` refuse a missing or stale lock.

Offline: a wheelhouse of each test's own (alpha 1.0 only, until a test "releases" alpha 2.0 into it),
so a test can show that a lock keeps a pin when a newer version appears.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import Vrun, demo_project, other_python, write_project
from vrun import SUBCOMMANDS
from vrun._compat import tomllib
from vrun.env.installplan import lock_requirements
from vrun.env.pipsettings import for_uv, uncarried
from vrun.errors import ConfigError
from vrun.plan.lockfile import differences, file_name

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
#: Prints the installed versions of the demo project's distributions as JSON.
SHOW = (
    "import json, importlib.metadata as m\n"
    "out = {}\n"
    "for name in ('alpha', 'beta', 'greet', 'demo'):\n"
    "    try:\n"
    "        out[name] = m.version(name)\n"
    "    except m.PackageNotFoundError:\n"
    "        out[name] = None\n"
    "print('VERSIONS', json.dumps(out))\n"
)
DEMO = {
    **demo_project(dependencies=["beta"], optional={"cli": ["greet"]}, layout="package", source=""),
    "vrun.toml": f"""
        [sessions.test]
        deps = ["alpha"]
        extras = ["cli"]
        commands = [["python", "-c", {json.dumps(SHOW)}]]
    """,
}


@pytest.fixture
def house(wheelhouse: Path, tmp_path: Path) -> Path:
    """A wheelhouse of this test's own: the shared one without alpha 2.0 (see :func:`release`)."""
    own = tmp_path / "house"
    own.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("alpha-2.0"):
            shutil.copy(wheel, own)
    return own


def release(wheelhouse: Path, house: Path) -> None:
    """Publish alpha 2.0 into the test's wheelhouse."""
    shutil.copy(next(wheelhouse.glob("alpha-2.0-*.whl")), house)


@pytest.fixture
def vrun(project: Path, offline_env: dict[str, str], house: Path) -> Vrun:
    env = {**offline_env, "PIP_FIND_LINKS": str(house), "UV_FIND_LINKS": str(house)}
    return Vrun(project, env)


def versions(stdout: str) -> dict[str, str | None]:
    line = next(line for line in stdout.splitlines() if line.startswith("VERSIONS "))
    found: dict[str, str | None] = json.loads(line.split(" ", 1)[1])
    return found


def env_dirs(project: Path, session: str) -> set[str]:
    venvs = project / ".venvs"
    return {p.name for p in venvs.glob(f"{session}-*") if p.is_dir() and not p.is_symlink()}


# --- writing -----------------------------------------------------------------------------------


def test_lock_writes_a_pep751_file_with_the_project_dependencies_not_the_project(
    project: Path, vrun: Vrun
) -> None:
    write_project(project, DEMO)
    result = vrun("lock", check=0)
    assert "wrote pylock.test.toml (3 packages)" in result.stderr
    data = tomllib.loads((project / "pylock.test.toml").read_text())
    assert data["lock-version"] == "1.0"
    assert data["requires-python"] == f">={PY}"
    pins = {p["name"]: p["version"] for p in data["packages"]}
    assert pins == {"alpha": "1.0", "beta": "1.0", "greet": "1.0"}
    assert "demo" not in pins  # the project is installed on top, never locked
    tool = data["tool"]["vrun"]
    assert tool["session"] == "test" and re.fullmatch(r"[0-9a-f]{32}", tool["digest"])
    assert tool["inputs"]["requirements"] == ["alpha"]
    assert tool["inputs"]["python"] == PY
    assert tool["inputs"]["project"] == {
        "dependencies": ["beta"],
        "optional-dependencies": {"cli": ["greet"]},
    }
    assert vrun("lock", "--check", check=0).stderr.strip() == "vrun > pylock.test.toml is current (test)"
    # nothing was built: locking resolves, it does not install
    assert not (project / ".venvs").exists()


def test_lock_names_follow_pep751_and_unknown_sessions_fail(project: Path, vrun: Vrun) -> None:
    assert file_name("test-3.11") == "pylock.test-3-11.toml"
    assert file_name("lint") == "pylock.lint.toml"
    for name in ("test-3.11", "py3.12.1", "a_b+c"):  # PEP 751: ^pylock\.([^.]+)\.toml$
        assert re.fullmatch(r"pylock\.([^.]+)\.toml", file_name(name))
    write_project(project, {"vrun.toml": "[sessions.s]\ninstall_project = false\n"})
    result = vrun("lock", "tset", check=2)
    assert "no session named 'tset'" in result.stderr
    assert "takes no posargs" in vrun("lock", "--", "x", check=2).stderr
    assert "takes no --upgrade" in vrun("lock", "--check", "-U", check=2).stderr
    write_project(project, {"vrun.toml": '[sessions.a-1]\n[sessions."a.1"]\n'})
    clash = vrun("lock", "a-1", check=2)
    assert "sessions a-1 and a.1 would share the lock file pylock.a-1.toml" in clash.stderr


def test_session_without_requirements_locks_to_an_empty_file(project: Path, vrun: Vrun) -> None:
    write_project(
        project, {"vrun.toml": "[sessions.s]\ninstall_project = false\ncommands = ['python -c pass']\n"}
    )
    vrun("lock", check=0)
    data = tomllib.loads((project / "pylock.s.toml").read_text())
    assert data.get("packages", []) == []
    vrun("--locked", "s", check=0)


# --- installing from the lock --------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_a_locked_session_installs_its_pins_even_when_newer_versions_exist(
    project: Path, vrun: Vrun, wheelhouse: Path, house: Path, backend: str
) -> None:
    write_project(project, DEMO)
    vrun("--backend", backend, "lock", check=0)
    release(wheelhouse, house)  # alpha 2.0 appears: a free resolution would take it
    run = vrun("--backend", backend, "--locked", "test", check=0)
    assert f"installing what pylock.test.toml pins, the project (editable, built by vrun) with {backend}" in (
        run.stderr
    )
    assert re.search(r"^vrun > built test-\w+ from pylock\.test\.toml in [\d.]+s$", run.stderr, re.M), (
        run.stderr
    )
    assert versions(run.stdout) == {"alpha": "1.0", "beta": "1.0", "greet": "1.0", "demo": "0.1"}
    if backend == "uv":  # the control: without the lock, the same session resolves freely
        (project / "pylock.test.toml").unlink()
        explained = vrun("--backend", backend, "explain", "test", check=0)
        assert "\n    lock file no longer used: pylock.test.toml\n" in explained.stdout, explained.stdout
        free = vrun("--backend", backend, "test", check=0)
        assert versions(free.stdout)["alpha"] == "2.0"
        # the lock file did not change: the session stopped installing from it
        assert "(lock file no longer used: pylock.test.toml)" in free.stderr, free.stderr
        assert "lock file changed" not in free.stderr
        assert not re.search(r"^vrun > built .* from ", free.stderr, re.M)
        vrun("lock", check=0)
        relocked = vrun("test", check=0)
        assert "(lock file now used: pylock.test.toml)" in relocked.stderr, relocked.stderr


def test_a_local_project_is_locked_by_relative_path_and_installed_editable(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "lib/pyproject.toml": """
                [project]
                name = "lib"
                version = "0.3"
                dependencies = ["alpha"]

                [build-system]
                requires = ["setuptools>=61"]
                build-backend = "setuptools.build_meta"
            """,
            "lib/corelib.py": "WHERE = __file__\n",
            "vrun.toml": """
                [sessions.s]
                deps = ["-e ./lib"]
                install_project = false
                commands = ["python -c 'import alpha, corelib; print(alpha.VERSION, corelib.WHERE)'"]
            """,
        },
    )
    vrun("lock", check=0)
    data = tomllib.loads((project / "pylock.s.toml").read_text())
    lib = next(p for p in data["packages"] if p["name"] == "lib")
    assert lib["directory"] == {"path": "lib", "editable": True}  # portable: relative to the lock file
    assert data["tool"]["vrun"]["inputs"]["requirements"] == ["-e ./lib"]
    # pip gets the pins without hashes (a directory cannot have any) and the project editable
    run = vrun("--backend", "virtualenv", "--locked", "s", check=0)
    assert run.stdout.split() == ["1.0", str(project / "lib" / "corelib.py")]
    (project / "lib/pyproject.toml").write_text(
        (project / "lib/pyproject.toml").read_text().replace("0.3", "0.4")
    )
    assert "local project changed: lib" in vrun("lock", "--check", check=1).stderr


def test_relock_keeps_pins_upgrade_package_moves_one_and_a_new_lock_is_a_new_env(
    project: Path, vrun: Vrun, wheelhouse: Path, house: Path
) -> None:
    write_project(project, DEMO)
    locked = vrun("lock", check=0)
    assert locked.stderr.splitlines()[-1] == "vrun > wrote pylock.test.toml (3 packages)"  # a first lock
    first = vrun("test", check=0)
    (env1,) = env_dirs(project, "test")
    release(wheelhouse, house)
    before = (project / "pylock.test.toml").read_text()
    relocked = vrun("lock", check=0)  # re-locking keeps what is pinned (uv reads the old file as preferences)
    assert (project / "pylock.test.toml").read_text() == before
    assert relocked.stderr.splitlines()[-1] == "vrun > wrote pylock.test.toml (3 packages; no pin changed)"
    again = vrun("test", check=0)
    assert f"reusing env {env1}" in again.stderr and versions(again.stdout) == versions(first.stdout)

    moved = vrun("lock", "--upgrade-package", "alpha", check=0)
    assert moved.stderr.splitlines()[1:] == [
        "vrun > alpha 1.0 -> 2.0",
        "vrun > wrote pylock.test.toml (3 packages)",
    ]
    data = tomllib.loads((project / "pylock.test.toml").read_text())
    assert {p["name"]: p["version"] for p in data["packages"]}["alpha"] == "2.0"
    upgraded = vrun("test", check=0)
    assert "lock file changed: pylock.test.toml" in upgraded.stderr
    assert versions(upgraded.stdout)["alpha"] == "2.0"
    assert len(env_dirs(project, "test") - {env1}) == 1  # a new env; the old one stays for gc
    # and back: the old lock's env is reused as it was
    (project / "pylock.test.toml").write_text(before)
    back = vrun("test", check=0)
    assert f"reusing env {env1}" in back.stderr and versions(back.stdout)["alpha"] == "1.0"


def test_upgrade_moves_every_package(project: Path, vrun: Vrun, wheelhouse: Path, house: Path) -> None:
    write_project(project, {"vrun.toml": '[sessions.s]\ndeps = ["beta"]\ninstall_project = false\n'})
    vrun("lock", check=0)
    release(wheelhouse, house)
    upgraded = vrun("lock", "-U", check=0)
    data = tomllib.loads((project / "pylock.s.toml").read_text())
    assert {p["name"]: p["version"] for p in data["packages"]} == {"alpha": "2.0", "beta": "1.0"}
    assert upgraded.stderr.splitlines() == [
        "vrun > locking s for Python " + PY,
        "vrun > alpha 1.0 -> 2.0",  # each moved pin, by name; beta stayed
        "vrun > wrote pylock.s.toml (2 packages)",
    ]


# --- stale locks ---------------------------------------------------------------------------------

STALE = {
    "requirements.txt": "alpha\n",
    "vrun.toml": """
        [sessions.s]
        deps = ["-r requirements.txt"]
        install_project = false
        commands = ["python -c 'import alpha; print(\\"alpha\\", alpha.VERSION)'"]
    """,
}


def test_stale_or_missing_lock_is_refused_before_building_and_named(project: Path, vrun: Vrun) -> None:
    write_project(project, STALE)
    missing = vrun("--locked", "s", check=1)
    assert "session s must install from its lock file (--locked), but there is no pylock.s.toml" in (
        missing.stderr
    )
    assert "hint: run `vrun lock s`" in missing.stderr
    assert vrun("lock", "--check", check=1).stderr.count("there is no pylock.s.toml") == 1
    vrun("lock", check=0)
    vrun("lock", "--check", check=0)

    config = (project / "vrun.toml").read_text()
    (project / "vrun.toml").write_text(
        config.replace('"-r requirements.txt"', '"-r requirements.txt", "greet"')
    )
    refused = vrun("--locked", "s", check=1)
    assert "pylock.s.toml is stale: requirement added: greet" in refused.stderr
    assert not (project / ".venvs").exists()  # refused before anything was built
    check = vrun("lock", "--check", check=1)
    assert "session s: pylock.s.toml is stale: requirement added: greet" in check.stderr
    assert "hint: run `vrun lock s` and commit the result" in check.stderr

    (project / "vrun.toml").write_text("locked = true\n" + config)  # greet gone again: current
    (project / "requirements.txt").write_text("alpha<2\n")
    by_config = vrun("s", check=1)
    assert "(locked = true), but pylock.s.toml is stale: requirements file changed: requirements.txt" in (
        by_config.stderr
    )
    (project / "vrun.toml").write_text(config)
    loose = vrun("s", check=0)  # not locked: a note, and the session resolves freely
    assert "pylock.s.toml is stale: requirements file changed: requirements.txt; installing without it" in (
        loose.stderr
    )
    assert "installing -r requirements.txt with" in loose.stderr

    vrun("lock", check=0)  # re-lock after editing
    vrun("lock", "--check", check=0)
    assert "installing what pylock.s.toml pins" in vrun("--locked", "s", check=0).stderr


def test_session_locked_key_and_a_foreign_lock_file(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.a]
                install_project = false
                locked = true
                [sessions.b]
                install_project = false
            """,
        },
    )
    refused = vrun("b", "a", check=1)
    assert "session a must install from its lock file (locked = true)" in refused.stderr
    assert "session b" not in refused.stderr
    vrun("b", check=0)  # only a is locked
    (project / "pylock.a.toml").write_text('lock-version = "1.0"\ncreated-by = "hand"\n')
    foreign = vrun("a", check=1)
    assert "pylock.a.toml has no [tool.vrun] table (it was not written by `vrun lock`)" in foreign.stderr
    (project / "pylock.a.toml").write_text('lock-version = "1.0"\n[tool.vrun]\nsession = "b"\n')
    assert "pylock.a.toml is the lock file of session 'b', not 'a'" in vrun("a", check=1).stderr
    (project / "pylock.a.toml").write_text('lock-version = "2.0"\n')
    assert "pylock.a.toml has lock-version '2.0'; vrun reads 1.x" in vrun("a", check=1).stderr
    vrun("lock", check=0)  # a bare `vrun lock`: the default sessions (both) and the locked one
    assert (project / "pylock.a.toml").is_file() and (project / "pylock.b.toml").is_file()
    vrun("a", check=0)


def test_bare_lock_takes_default_sessions_and_those_already_locked(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                default = ["a"]
                [sessions.a]
                install_project = false
                [sessions.b]
                install_project = false
                [sessions.c]
                install_project = false
            """,
        },
    )
    vrun("lock", check=0)
    assert sorted(p.name for p in project.glob("pylock.*")) == ["pylock.a.toml"]
    vrun("lock", "c", check=0)
    result = vrun("lock", "--check", check=0)
    assert "pylock.a.toml is current (a)" in result.stderr and "pylock.c.toml is current (c)" in result.stderr
    assert "(b)" not in result.stderr


def test_matrix_entries_each_get_a_lock_file(project: Path, vrun: Vrun) -> None:
    other = other_python(vrun.env)
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.test]
                python = ["{PY}", "{other}"]
                deps = ["alpha"]
                install_project = false
                commands = ["python -c 'import alpha, sys; print(sys.version_info[:2], alpha.VERSION)'"]
            """,
        },
    )
    vrun("lock", "test", check=0)
    for version in (PY, other):
        path = project / f"pylock.test-{version.replace('.', '-')}.toml"
        data = tomllib.loads(path.read_text())
        assert data["requires-python"] == f">={version}"
        assert data["tool"]["vrun"]["session"] == f"test-{version}"
        assert data["tool"]["vrun"]["inputs"]["python"] == version
    run = vrun("--locked", "test", check=0)
    assert run.stderr.count("installing what pylock.test-") == 2
    (project / f"pylock.test-{other.replace('.', '-')}.toml").unlink()
    check = vrun("lock", "--check", "test", check=1)
    assert f"pylock.test-{PY.replace('.', '-')}.toml is current (test-{PY})" in check.stderr
    assert f"session test-{other}: there is no pylock.test-{other.replace('.', '-')}.toml" in check.stderr


def test_warm_plan_sees_a_lock_go_stale(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    from tests.test_plancache import traced, warm

    (tmp_path / "plans-cache").mkdir()
    vrun.env["VRUN_CACHE_DIR"] = str(tmp_path / "plans-cache")
    write_project(project, STALE)
    (project / "vrun.toml").write_text("locked = true\n" + (project / "vrun.toml").read_text())
    vrun("lock", check=0)
    vrun("s", check=0)
    proc, modules = traced(vrun, "s")
    assert proc.returncode == 0 and warm(modules), proc.stderr
    (project / "requirements.txt").write_text("alpha\ngreet\n")
    proc, modules = traced(vrun, "s")
    assert proc.returncode == 1 and not warm(modules)
    assert "requirements file changed: requirements.txt" in proc.stderr
    vrun("lock", check=0)
    proc, modules = traced(vrun, "s")
    assert proc.returncode == 0 and not warm(modules)  # the lock file changed: planned again
    assert "installing what pylock.s.toml pins" in proc.stderr


# --- units ---------------------------------------------------------------------------------------


def test_differences_name_what_changed() -> None:
    old = {
        "python": "3.11",
        "requirements": ["alpha", "pytest>=7", "./lib"],
        "requirement-files": {"requirements.txt": "1"},
        "constraint-files": {},
        "groups": ["test"],
        "extras": [],
        "project": {"dependencies": ["attrs"], "optional-dependencies": {}},
        "local": {"lib": {"pyproject.toml": "1"}},
    }
    new = {
        **old,
        "python": "3.12",
        "requirements": ["pytest>=8", "./lib", "greet"],
        "requirement-files": {"requirements.txt": "2"},
        "constraint-files": {"c.txt": "1"},
        "groups": [],
        "extras": ["cli"],
        "project": {"dependencies": [], "optional-dependencies": {"cli": ["greet"]}},
        "local": {"lib": {"pyproject.toml": "2"}},
    }
    assert differences(old, new) == [
        "python changed: 3.11 -> 3.12",
        "requirement added: greet",
        "requirement removed: alpha",
        "requirement changed: pytest>=7 -> pytest>=8",
        "requirements file changed: requirements.txt",
        "constraints file added: c.txt",
        "dependency group removed: test",
        "extra added: cli",
        "project dependency removed: attrs",
        "project dependency [cli] added: greet",
        "local project changed: lib",
    ]
    assert differences(new, new) == []
    dynamic = {"project": {"metadata": {"setup.py": "1"}}}
    assert differences(dynamic, {"project": {"metadata": {"setup.py": "2"}}}) == [
        "project metadata changed: setup.py"
    ]
    # a hand-edited [tool.vrun] table: one phrase per input, never a traceback
    edited = {**old, "project": {"dependencies": "attrs", "optional-dependencies": ["cli"]}, "groups": 3}
    assert differences(edited, new)[-4:] == [
        "dependency group changed: 3 -> []",
        "extra added: cli",
        "project changed",
        "local project changed: lib",
    ]


def test_read_only_commands_do_not_refuse_a_locked_session(project: Path, vrun: Vrun) -> None:
    """locked = true stops builds, not `vrun path`, `show` or `explain`, which build nothing."""
    write_project(project, {"vrun.toml": "[sessions.a]\ninstall_project = false\nlocked = true\n"})
    path = vrun("path", "a", check=1)  # not built yet: says so, not that a lock is missing
    assert "session a has no ready env" in path.stderr and "lock file" not in path.stderr
    vrun("explain", "a", check=0)
    shown = vrun("show", "a", check=0).stdout
    assert "  lock: none (the installer resolves)" in shown and "  build_env: none" in shown
    refused = vrun("path", "--build", "a", check=1)
    assert "session a must install from its lock file (locked = true)" in refused.stderr
    (project / "vrun.toml").write_text("[sessions.a]\ninstall_project = false\n")
    assert (
        "must install from its lock file (--locked)"
        in vrun("path", "--build", "--locked", "a", check=1).stderr
    )
    (project / "vrun.toml").write_text("[sessions.a]\ninstall_project = false\nlocked = true\n")
    vrun("lock", "a", check=0)
    assert "  lock: pylock.a.toml (current: installs what it pins)" in vrun("show", "a", check=0).stdout
    (project / "vrun.toml").write_text(
        '[sessions.a]\ninstall_project = false\nlocked = true\ndeps = ["alpha"]\n'
    )
    stale = vrun("show", "a", "--json", check=0).stdout
    assert json.loads(stale)[0]["lock"]["status"] == "stale"


def test_lock_requirements_for_pip(tmp_path: Path) -> None:
    lock = tmp_path / "pylock.x.toml"
    lock.write_text(
        """
        lock-version = "1.0"
        [[packages]]
        name = "alpha"
        version = "1.0"
        marker = "python_full_version < '3.13'"
        wheels = [{ url = "https://example.org/alpha-1.0-py3-none-any.whl", hashes = { sha256 = "aa", md5 = "x" } }]
        sdist = { url = "https://example.org/alpha-1.0.tar.gz", hashes = { sha512 = "bb" } }
        [[packages]]
        name = "alpha"
        version = "2.0"
        marker = "python_full_version >= '3.13'"
        wheels = [{ url = "https://example.org/alpha-2.0-py3-none-any.whl", hashes = { sha256 = "cc" } }]
        [[packages]]
        name = "zeta"
        archive = { path = "dist/zeta-1.tar.gz", hashes = { sha256 = "dd" } }
        """.replace("\n        ", "\n")
    )
    assert lock_requirements(str(lock)) == [
        "alpha==1.0 ; python_full_version < '3.13' --hash=sha256:aa --hash=sha512:bb",
        "alpha==2.0 ; python_full_version >= '3.13' --hash=sha256:cc",
        f"zeta @ {(tmp_path / 'dist/zeta-1.tar.gz').as_uri()} --hash=sha256:dd",
    ]
    # a directory cannot be hashed, and pip's hash-checking mode allows no unhashed line: no hashes
    with lock.open("a") as fh:
        fh.write('[[packages]]\nname = "lib"\ndirectory = { path = "lib", editable = true }\n')
        fh.write('[[packages]]\nname = "v"\nvcs = { type = "git", url = "https://g/v", commit-id = "abc" }\n')
    assert lock_requirements(str(lock)) == [
        "alpha==1.0 ; python_full_version < '3.13'",
        "alpha==2.0 ; python_full_version >= '3.13'",
        f"zeta @ {(tmp_path / 'dist/zeta-1.tar.gz').as_uri()}",
        f"-e {tmp_path / 'lib'}",
        "v @ git+https://g/v@abc",
    ]


def test_pip_index_settings_reach_uv(tmp_path: Path) -> None:
    """One translation of pip's settings for uv (vrun.env.pipsettings), for installs and locks."""
    environ = {
        "HOME": str(tmp_path),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": "https://mirror/simple",
        "PIP_EXTRA_INDEX_URL": "https://a/simple https://b/simple",
        "PIP_FIND_LINKS": "/wheels /more",
        "PIP_NO_INDEX": "yes",
        "PIP_PRE": "0",
        "PIP_TRUSTED_HOST": "mirror",
    }
    settings = for_uv(environ, str(tmp_path))
    assert settings.environ == {
        "UV_INDEX_URL": "https://mirror/simple",
        "UV_EXTRA_INDEX_URL": "https://a/simple https://b/simple",
        "UV_FIND_LINKS": "/wheels,/more",
        "UV_INSECURE_HOST": "mirror",
        "UV_INDEX_STRATEGY": "unsafe-best-match",  # pip's: the best version across its indexes
    }
    assert settings.args == ["--no-index"] and uncarried(environ) is None
    quiet = {"HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull}  # no site-wide pip.conf either
    pre = for_uv({**quiet, "PIP_PRE": "true", "PIP_NO_INDEX": "off"}, str(tmp_path))
    assert pre.environ == {"UV_PRERELEASE": "allow"} and pre.args == []
    # uv's own setting wins; a setting uv cannot take is named
    own_environ = {**environ, "UV_INDEX_URL": "https://uv/simple", "PIP_ONLY_BINARY": "alpha"}
    own = for_uv(own_environ, str(tmp_path))
    assert "UV_INDEX_URL" not in own.environ
    assert uncarried(own_environ) == "pip's only-binary (PIP_ONLY_BINARY) has no uv equivalent"


def test_locked_key_is_validated_and_lock_is_no_session_name(tmp_path: Path) -> None:
    from vrun.config.load import load_config

    (tmp_path / "vrun.toml").write_text('locked = "yes"\n[sessions.s]\n')
    with pytest.raises(ConfigError) as top:
        load_config(tmp_path / "vrun.toml")
    assert top.value.key == "locked" and "expected true or false" in top.value.problem
    (tmp_path / "vrun.toml").write_text("[sessions.s]\nlocked = 1\n")
    with pytest.raises(ConfigError) as own:
        load_config(tmp_path / "vrun.toml")
    assert own.value.key == "sessions.s.locked"
    (tmp_path / "vrun.toml").write_text("locked = true\n[sessions.s]\n[sessions.t]\nlocked = false\n")
    config = load_config(tmp_path / "vrun.toml")
    assert config.sessions["s"].locked and not config.sessions["t"].locked
    assert "lock" in SUBCOMMANDS
    (tmp_path / "vrun.toml").write_text("[sessions.lock]\n")
    with pytest.raises(ConfigError, match="is a vrun command"):
        load_config(tmp_path / "vrun.toml")


def test_completion_offers_lock_and_locked() -> None:
    from vrun.commands.completion import script

    bash = script("bash")
    assert " lock " in bash and "--locked" in bash
