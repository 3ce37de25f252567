"""vrun list --envs, rm, gc and freeze: real envs, offline, and deletion that stays inside .venvs/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Vrun, build_wheel, other_python, write_project
from vrun.commands.freeze import pinned_requirements
from vrun.env.inventory import remove_env
from vrun.env.layout import SCHEMA_VERSION, prepare_venvs_dir
from vrun.errors import EnvDirError

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def envs_of(project: Path, session: str) -> list[Path]:
    """The real env directories of ``session`` under ``.venvs/``, by name."""
    pattern = re.compile(rf"^{re.escape(session)}-[0-9a-f]{{10}}$")
    venvs = project / ".venvs"
    return sorted(p for p in venvs.iterdir() if pattern.match(p.name) and not p.is_symlink())


def set_last_used(env: Path, when: float) -> None:
    (env / "vrun-used").touch()
    os.utime(env / "vrun-used", (when, when))


# -- freeze filtering, without envs -------------------------------------------------------------


def test_pinned_requirements_drops_seed_packages_and_the_project(tmp_path: Path) -> None:
    other = tmp_path / "other"
    lines = [
        "alpha==1.0",
        "# Editable Git install with no remote (my_demo==0.1)",
        f"-e {tmp_path}",
        "# Editable install with no version control (other==2.0)",
        f"-e {other}",
        "Pygments==2.18.0",
        "My.Demo @ file:///somewhere/my_demo-0.1.whl",
        "pip==24.0",
        "setuptools==70.0.0",
        "wheel==0.43.0",
        "WARNING: Ignoring invalid distribution ~lpha",
    ]
    pins = pinned_requirements(lines, project="my-demo", project_root=tmp_path, requested=set())
    assert pins == [
        "alpha==1.0",
        "# Editable install with no version control (other==2.0)",
        f"-e {other}",
        "Pygments==2.18.0",
    ]
    asked = pinned_requirements(lines, project="my-demo", project_root=tmp_path, requested={"setuptools"})
    assert "setuptools==70.0.0" in asked and "pip==24.0" not in asked
    uv_style = ["-e file://" + str(tmp_path).replace(" ", "%20"), "-e git+https://x/y.git@abc#egg=My_Demo"]
    assert pinned_requirements(uv_style, project="my-demo", project_root=tmp_path, requested=set()) == []


# -- deletion safety of remove_env, without envs -------------------------------------------------


def fake_env(venvs: Path, name: str) -> Path:
    """A directory carrying vrun's marker (enough for remove_env to call it vrun's)."""
    env = venvs / name
    env.mkdir(parents=True)
    marker = {
        "schema": SCHEMA_VERSION,
        "session": name.rsplit("-", 1)[0],
        "digest": name.rsplit("-", 1)[-1],
        "location": str(env),
        "components": {},
        "interpreter": {"base_executable": sys.executable},
        "backend": "virtualenv",
        "created": 0.0,
    }
    (env / "vrun.json").write_text(json.dumps(marker))
    return env


def test_envs_are_listed_and_removed_by_session_not_by_hash(project: Path, vrun: Vrun) -> None:
    """``test-f…`` sorts after ``test-3.11-…`` by name, before it by session: the order of
    ``vrun list --envs``, of ``vrun gc`` and of ``vrun rm`` must not depend on the hashes."""
    write_project(project, {"vrun.toml": "[sessions.other]\ninstall_project = false\n"})
    venvs = Path(prepare_venvs_dir(str(project)))
    for name in ("test-3.11-fedcba9876", "test-f012345678", "test-3.10-aaaaaaaaaa"):
        fake_env(venvs, name)
    listed = vrun("list", "--envs", check=0).stdout.splitlines()
    assert [line.split()[0] for line in listed[1:4]] == ["test", "test-3.10", "test-3.11"]
    gone = vrun("gc", "--keep", "0", check=0).stdout.splitlines()
    assert [line.split()[1].rsplit("/", 1)[1] for line in gone[:3]] == [
        "test-f012345678",
        "test-3.10-aaaaaaaaaa",
        "test-3.11-fedcba9876",
    ]


def test_remove_env_refuses_anything_not_directly_inside_venvs(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    venvs = Path(prepare_venvs_dir(str(root)))  # vrun's: a user's folder is refused as a whole
    inside = fake_env(venvs, "s-0123456789")
    outside = fake_env(tmp_path, "s-abcdef0123")  # carries a marker, but is not in .venvs/
    nested = fake_env(inside, "s-1111111111")
    for path in (venvs / ".." / outside.name, nested, venvs / "s-abcdef0123"):
        with pytest.raises(EnvDirError, match="refusing to delete"):
            remove_env(root, path)
    (venvs / "s-2222222222").symlink_to(outside)
    with pytest.raises(EnvDirError, match="it is a symlink"):
        remove_env(root, venvs / "s-2222222222")
    (venvs / "notanenv").mkdir()
    (venvs / "notanenv" / "vrun.json").write_text("{}")
    with pytest.raises(EnvDirError, match="not named like a vrun env"):
        remove_env(root, venvs / "notanenv")
    assert (outside / "vrun.json").exists() and (nested / "vrun.json").exists()
    assert (venvs / "notanenv").is_dir()
    (venvs / "s").symlink_to(inside.name)
    assert remove_env(root, inside) > 0
    assert not inside.exists() and not (venvs / "s").is_symlink()
    assert not (venvs / "s-0123456789.lock").exists()


# -- list --envs ---------------------------------------------------------------------------------


def test_list_envs_shows_current_stale_and_incomplete_envs(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "reqs.txt": "alpha==1.0\n",
            "vrun.toml": """
                [sessions.a]
                deps = ["-r reqs.txt"]
                install_project = false
                [sessions.old]
                install_project = false
            """,
        },
    )
    vrun("a", "old", check=0)
    (first,) = envs_of(project, "a")
    (old,) = envs_of(project, "old")
    (project / "reqs.txt").write_text("alpha==2.0\n")
    vrun("a", check=0)
    (current,) = set(envs_of(project, "a")) - {first}
    (project / "vrun.toml").write_text(
        '[sessions.a]\ndeps = ["-r reqs.txt"]\ninstall_project = false\n'  # session old removed
    )
    incomplete = project / ".venvs" / "a-0000000000"
    incomplete.mkdir()
    (project / ".venvs" / "a-0000000000.lock").touch()

    rows = {r["name"]: r for r in json.loads(vrun("list", "--envs", "--json", check=0).stdout)}
    assert set(rows) == {first.name, current.name, old.name, incomplete.name}
    assert rows[current.name]["state"] == "current"
    assert rows[first.name]["state"] == "stale"
    assert rows[old.name]["state"] == "stale"
    assert rows[incomplete.name]["state"] == "incomplete"
    row = rows[current.name]
    assert row["session"] == "a" and row["path"] == str(current) and row["python"].startswith(PY + ".")
    assert isinstance(row["size"], int) and row["size"] > 100_000
    assert row["created"] <= row["last_used"] and row["created"].startswith(time.strftime("%Y-"))
    assert rows[incomplete.name]["created"] is None

    table = vrun("list", "--envs", check=0).stdout.splitlines()
    assert table[0].split() == ["session", "state", "python", "size", "created", "last", "used", "env"]
    line = next(line for line in table if current.name in line)
    assert re.match(
        rf"a\s+current\s+{re.escape(PY)}\.\d+\s+[\d.]+ (KiB|MiB)\s+\d{{4}}-\d\d-\d\d \d\d:\d\d", line
    )
    assert re.match(r"old\s+stale\s", next(line for line in table if old.name in line))
    assert re.match(r"a\s+incomplete\s", next(line for line in table if incomplete.name in line))
    assert table[-1].startswith("4 envs, ")


# -- rm ------------------------------------------------------------------------------------------


def test_rm_removes_only_the_named_sessions_envs(project: Path, vrun: Vrun) -> None:
    other_py = other_python(vrun.env)
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.s]
                install_project = false
                [sessions.m]
                python = ["{PY}", "{other_py}"]
                install_project = false
                [sessions.gone]
                install_project = false
            """,
        },
    )
    vrun("s", "m", "gone", check=0)
    text = (project / "vrun.toml").read_text()
    (project / "vrun.toml").write_text(
        text.replace("[sessions.s]\n", "[sessions.s]\nsystem_site_packages = true\n")
    )
    vrun("s", check=0)  # a second env of s, for other inputs
    s_envs = envs_of(project, "s")
    assert len(s_envs) == 2

    out = vrun("rm", "s", check=0).stdout
    for env in s_envs:
        assert f"removed {env} (" in out
        assert not env.exists()
    assert re.search(r"^freed [\d.]+ (KiB|MiB) \(2 envs\)$", out, re.M)
    assert not (project / ".venvs" / "s").is_symlink()
    assert envs_of(project, f"m-{PY}") and envs_of(project, f"m-{other_py}") and envs_of(project, "gone")

    out = vrun("rm", "m", check=0).stdout  # a matrix base name: every entry
    assert not envs_of(project, f"m-{PY}") and not envs_of(project, f"m-{other_py}")
    assert "(2 envs)" in out

    (project / "vrun.toml").write_text("[sessions.s]\ninstall_project = false\n")
    bad = vrun("rm", "gonne", check=2)
    assert "no session named 'gonne'" in bad.stderr and "did you mean 'gone'?" in bad.stderr
    assert envs_of(project, "gone")
    (gone,) = envs_of(project, "gone")
    out = vrun("rm", "gone", check=0).stdout  # no longer in the config, still on disk
    assert f"removed {gone}" in out and not gone.exists()
    assert "no session named 'gone'" in vrun("rm", "gone", check=2).stderr
    assert "has no envs" in vrun("rm", "s", check=0).stderr


# -- gc ------------------------------------------------------------------------------------------


def test_gc_keeps_current_and_most_recently_used_stale_envs(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "reqs.txt": "alpha==1.0\n",
            "vrun.toml": """
                [sessions.t]
                deps = ["-r reqs.txt"]
                install_project = false
                [sessions.other]
                install_project = false
            """,
        },
    )
    vrun("t", "other", check=0)
    (v1,) = envs_of(project, "t")
    (project / "reqs.txt").write_text("alpha==2.0\n")
    vrun("t", check=0)
    (v2,) = set(envs_of(project, "t")) - {v1}
    (project / "reqs.txt").write_text("beta\n")
    vrun("t", check=0)
    (v3,) = set(envs_of(project, "t")) - {v1, v2}
    (other,) = envs_of(project, "other")
    now = time.time()
    set_last_used(v2, now - 3000)
    set_last_used(v1, now - 1000)  # used after v2: the most recent stale env
    set_last_used(v3, now - 5000)  # current: kept whatever its age
    broken = project / ".venvs" / "t-0000000000"
    (broken / "bin").mkdir(parents=True)
    (project / ".venvs" / "t-0000000000.lock").touch()  # an interrupted build nobody holds

    dry = vrun("gc", "--dry-run", check=0)
    assert all(p.exists() for p in (v1, v2, v3, broken, other))
    real = vrun("gc", check=0)
    assert real.stdout == dry.stdout.replace("would remove", "removed").replace("would free", "freed")
    assert f"removed {v2} (" in real.stdout and f"removed {broken} (" in real.stdout
    assert "(2 envs)" in real.stdout
    assert f"keeping {v1.name}" in real.stderr
    assert envs_of(project, "t") == sorted([v1, v3]) and other.exists() and not broken.exists()

    zero = vrun("gc", "--keep", "0", check=0)
    assert f"removed {v1} (" in zero.stdout
    assert envs_of(project, "t") == [v3] and other.exists()
    assert vrun("gc", "--keep", "0", check=0).stdout == "nothing to remove\n"
    assert "--keep must be 0 or more" in vrun("gc", "--keep", "-1", check=2).stderr


# -- deletion safety through the CLI -------------------------------------------------------------


def test_rm_and_gc_never_delete_outside_venvs_or_what_vrun_did_not_make(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    write_project(project, {"vrun.toml": "[sessions.test]\ninstall_project = false\n"})
    vrun("test", check=0)
    (env,) = envs_of(project, "test")
    venvs = project / ".venvs"
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.txt").write_text("keep me")
    (venvs / "test-0123456789").symlink_to(outside)  # (a) a symlink named like an env
    (venvs / "mystuff").mkdir()  # (b) not vrun's
    (venvs / "mystuff" / "notes.txt").write_text("mine")
    foreign = venvs / "test-abcdef0123"  # (b) named like an env: no marker, no lock
    foreign.mkdir()
    (foreign / "file.txt").write_text("mine too")
    (env / "escape").symlink_to(outside)  # a symlink inside a real env is removed, not followed

    for argv in (("gc", "--keep", "0"), ("rm", "test")):
        run = vrun(*argv, check=1)
        assert f"refusing to delete {venvs / 'test-0123456789'}: it is a symlink" in run.stderr
        assert (
            f"refusing to delete {foreign}: it has neither vrun's marker nor vrun's build lock" in run.stderr
        )
        assert "mystuff" not in run.stdout + run.stderr
        assert (outside / "data.txt").read_text() == "keep me"
        assert (venvs / "mystuff" / "notes.txt").read_text() == "mine"
        assert (foreign / "file.txt").read_text() == "mine too"
        assert (venvs / "test-0123456789").is_symlink()
    assert not env.exists()  # removed by rm, with its inner symlink; the target stays
    assert sorted(p.name for p in outside.iterdir()) == ["data.txt"]


def test_env_in_use_is_not_removed(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    write_project(
        project,
        {"vrun.toml": "[sessions.s]\ninstall_project = false\n[sessions.t]\ninstall_project = false\n"},
    )
    vrun("s", "t", check=0)
    (env,) = envs_of(project, "s")
    (other,) = envs_of(project, "t")
    flag = tmp_path / "running"
    code = f"import pathlib, time; pathlib.Path({str(flag)!r}).touch(); time.sleep(60)"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrun", "run", "s", "--", "python", "-c", code],
        cwd=project,
        env=vrun.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        busy = vrun("rm", "s", "t", check=1)
        assert f"not removing {env}: another vrun process is using it" in busy.stderr
        assert f"removed {other}" in busy.stdout  # the others are still removed
        assert (env / "vrun.json").exists()
        (project / "vrun.toml").write_text(
            "[sessions.s]\ninstall_project = false\nsystem_site_packages = true\n"
        )
        stale = vrun("gc", "--keep", "0", check=1)  # s's env is stale now, but in use
        assert f"not removing {env}" in stale.stderr
        assert (env / "vrun.json").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert f"removed {env}" in vrun("gc", "--keep", "0", check=0).stdout


def test_symlinked_venvs_dir_removes_inside_the_real_dir_only(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    write_project(project, {"vrun.toml": "[sessions.s]\ninstall_project = false\n"})
    real = tmp_path / "elsewhere" / "venvs"
    real.mkdir(parents=True)
    (project / ".venvs").symlink_to(real)
    vrun("s", check=0)
    (env,) = envs_of(project, "s")
    assert (real / env.name / "vrun.json").exists()
    decoy = tmp_path / "elsewhere" / "s-abcdef0123"  # beside the real dir, with a marker
    decoy.mkdir()
    (decoy / "vrun.json").write_text(json.dumps({"session": "s"}))
    (real / "s-abcdef0123").symlink_to(decoy)
    run = vrun("rm", "s", check=1)
    assert f"removed {env}" in run.stdout
    assert "s-abcdef0123: it is a symlink" in run.stderr
    assert not (real / env.name).exists()
    assert (decoy / "vrun.json").exists() and (project / ".venvs").is_symlink() and real.is_dir()


# -- freeze --------------------------------------------------------------------------------------


def test_freeze_prints_pins_without_seed_packages_or_the_project(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    # The project, installed as a wheel (fast; no build backend): freeze must leave it out by
    # its PEP 503 name. Editable installs are covered by the pinned_requirements test above.
    wheel = build_wheel(tmp_path, "My_Demo", "0.1", requires=("beta",))
    write_project(
        project,
        {
            "pyproject.toml": """
                [project]
                name = "my.demo"
                version = "0.1"
            """,
            "pins.txt": "alpha\n",
            "vrun.toml": f"""
                [sessions.test]
                deps = ["alpha==1.0", "My_Demo @ {wheel.as_uri()}"]
                install_project = false
                [sessions.pinned]
                deps = ["-r pins.txt"]
                install_project = false
                [sessions.seeded]
                deps = ["pip", "alpha==2.0"]
                install_project = false
            """,
        },
    )
    refused = vrun("freeze", "test", check=1)
    assert "session test has no ready env" in refused.stderr and "vrun test" in refused.stderr
    vrun("test", "seeded", "pinned", check=0)
    frozen = vrun("freeze", "test", check=0)
    assert frozen.stdout == "alpha==1.0\nbeta==1.0\n"
    assert frozen.stderr == ""  # not uv's "Using Python 3.12.1 environment at: ."
    verbose = vrun("-v", "freeze", "test", check=0)
    assert verbose.stdout == frozen.stdout  # -v shows the installer's messages, not its raw result
    assert "environment at" in verbose.stderr
    one = vrun("freeze", "pinned", "-o", "one.txt", check=0)
    assert one.stderr == "vrun > wrote 1 pin of pinned to one.txt\n"
    seeded = vrun("freeze", "seeded", check=0).stdout.splitlines()
    assert seeded[0] == "alpha==2.0" and seeded[1].startswith("pip==")  # asked for explicitly

    written = vrun("freeze", "test", "-o", "pins.txt", check=0)
    assert written.stdout == ""
    assert (project / "pins.txt").read_text() == "alpha==1.0\nbeta==1.0\n"
    assert "wrote 2 pins of test to pins.txt; pinned uses it in deps" in written.stderr
    assert "new env" in written.stderr
    assert not list(project.glob(".pins.txt.*"))  # no temp file left behind
    again = vrun("freeze", "test", "-o", "pins.txt", check=0)
    assert "already holds these 2 pins" in again.stderr
    assert vrun("freeze", "test", "-o", "no/such/dir/pins.txt", check=2).stderr.count("cannot write") == 1


def test_gc_removes_lock_files_of_envs_that_are_gone(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": '[sessions.s]\ninstall_project = false\ndeps = ["nosuchpkg-xyz"]\ncommands = ["python -c pass"]\n'
        },
    )
    vrun("s", check=1)  # the build fails: its env is removed, its lock file stays
    (lock,) = (project / ".venvs").glob("s-*.lock")
    (project / ".venvs" / "unrelated.lock").write_text("not ours")
    assert f"would remove {lock.name}" in vrun("gc", "--dry-run", check=0).stdout
    assert lock.exists()
    assert f"removed {lock.name}" in vrun("gc", check=0).stdout
    assert not lock.exists()
    assert (project / ".venvs" / "unrelated.lock").exists()
