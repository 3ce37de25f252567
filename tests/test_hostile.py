"""Hostile trees and bad input: a moved project, a .venvs/ vrun does not own, corrupt markers,
read-only commands that must not run the config's programs, locking and disk-full failures.

Every case runs the real CLI on real envs, offline, and checks the user's promise: one clear
``error:`` line naming the path, a non-zero exit, no traceback, nothing outside ``.venvs/`` changed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project

#: One session ``s`` that installs nothing and runs a no-op.
NOOP = {"vrun.toml": '[sessions.s]\ninstall_project = false\ncommands = ["python -c pass"]\n'}
#: One session ``g`` with the ``greet`` console script from the wheelhouse.
GREET = {"vrun.toml": '[sessions.g]\ninstall_project = false\ndeps = ["greet"]\ncommands = ["greet hi"]\n'}

Snapshot = dict[str, tuple[object, ...]]


def snapshot(top: Path, *, skip: Path | None = None) -> Snapshot:
    """Every entry under ``top`` (symlinks not followed): type, mode, owner, link target, content digest."""
    found: Snapshot = {}
    for dirpath, dirs, files in os.walk(top):
        if skip is not None:
            dirs[:] = [d for d in dirs if os.path.join(dirpath, d) != str(skip)]
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if skip is not None and path == str(skip):
                continue
            st = os.lstat(path)
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            digest = None
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            found[os.path.relpath(path, top)] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                target,
                digest,
            )
    return found


def errors_of(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """vrun's ``error:`` lines, after checking there is no traceback anywhere."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("vrun > error:")]


def one_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Check ``proc`` failed with exactly one ``error:`` line containing every needle; return it."""
    assert proc.returncode != 0, proc.stderr
    lines = errors_of(proc)
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], proc.stderr
    return lines[0]


def envs_of(project: Path, session: str) -> list[Path]:
    venvs = project / ".venvs"
    return sorted(
        p
        for p in venvs.glob(f"{session}-*")
        if p.is_dir() and not p.is_symlink() and not p.name.endswith(".lock")
    )


def list_json(vrun: Vrun, *args: str) -> list[dict[str, object]]:
    proc = vrun("list", "--json", *args, check=0)
    assert "Traceback" not in proc.stderr
    rows: list[dict[str, object]] = json.loads(proc.stdout)
    return rows


def state_of(vrun: Vrun, session: str) -> str:
    (row,) = [r for r in list_json(vrun) if r["name"] == session]
    return str(row["state"])


# -- 1. a moved project --------------------------------------------------------------------------


def test_moved_project_rebuilds_with_a_reason_and_console_scripts_work(
    tmp_path: Path, project: Path, offline_env: dict[str, str]
) -> None:
    write_project(project, GREET)
    first = Vrun(project, offline_env)("g", check=0)
    assert "greet: hi" in first.stdout
    moved = tmp_path / "moved"
    project.rename(moved)
    vrun = Vrun(moved, offline_env)
    (old_env,) = envs_of(moved, "g")
    # the script's shebang still points into the old location: the env is not usable as it is
    assert str(project) in (old_env / "bin" / "greet").read_text().splitlines()[0]

    (listed,) = [r for r in list_json(vrun) if r["name"] == "g"]
    assert listed["state"] == "stale" and listed["detail"] == f"project moved: built at {old_env}".replace(
        str(moved), str(project)
    ), listed
    (row,) = list_json(vrun, "--envs")
    assert row["state"] != "current", row
    table = vrun("list", "--envs", check=0)
    assert "current" not in table.stdout and "Traceback" not in table.stderr

    again = vrun("g", check=0)
    assert f"project moved: was {project}" in again.stderr
    assert "greet: hi" in again.stdout
    (env,) = envs_of(moved, "g")
    assert str(moved) in (env / "bin" / "greet").read_text().splitlines()[0]
    assert state_of(vrun, "g") == "ready"
    (row,) = list_json(vrun, "--envs")
    assert row["state"] == "current"
    ran = vrun("run", "g", "--", "greet", "again", check=0)
    assert "greet: again" in ran.stdout


# -- 2. a hostile .venvs ---------------------------------------------------------------------------


def assert_refused(
    vrun: Vrun, tmp_path: Path, needle: str, *, skip: Path | None = None, commands: bool = True
) -> None:
    """``vrun s`` (and ``rm``/``gc``) fail with one error naming ``needle``; nothing under tmp_path changed."""
    before = snapshot(tmp_path, skip=skip)
    one_error(vrun("s"), needle)
    if commands:
        for args in (("rm", "s"), ("gc",), ("path", "--build", "s")):
            proc = vrun(*args)
            assert proc.returncode != 0 or args == ("rm", "s"), (args, proc.stderr)
            errors_of(proc)
    assert snapshot(tmp_path, skip=skip) == before


def test_venvs_is_a_regular_file(tmp_path: Path, project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    (project / ".venvs").write_text("my notes\n")
    before = snapshot(tmp_path)
    one_error(vrun("s"), f"{project / '.venvs'} is not a directory")
    one_error(vrun("path", "--build", "s"), str(project / ".venvs"))
    errors_of(vrun("gc"))
    errors_of(vrun("list", "--envs"))
    assert snapshot(tmp_path) == before


def test_venvs_symlink_to_a_folder_vrun_did_not_make_is_refused(
    tmp_path: Path, project: Path, vrun: Vrun
) -> None:
    write_project(project, NOOP)
    theirs = tmp_path / "theirs"
    # looks like an env vrun could delete: named like one, with a lock file beside it
    (theirs / "s-0123456789").mkdir(parents=True)
    (theirs / "s-0123456789" / "precious.txt").write_text("keep me\n")
    (theirs / "s-0123456789.lock").write_text("")
    (project / ".venvs").symlink_to(theirs)
    before = snapshot(tmp_path)
    one_error(vrun("s"), str(project / ".venvs"), "vrun did not create")
    for args in (("gc",), ("rm", "s")):
        proc = vrun(*args)
        assert proc.returncode != 0, (args, proc.stdout, proc.stderr)
        one_error(proc, str(project / ".venvs"))
    assert snapshot(tmp_path) == before
    assert not (theirs / "CACHEDIR.TAG").exists() and not (theirs / ".gitignore").exists()


def test_venvs_symlink_to_an_empty_folder_is_used(tmp_path: Path, project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    elsewhere = tmp_path / "fast-disk"
    elsewhere.mkdir()
    (project / ".venvs").symlink_to(elsewhere)
    vrun("s", check=0)
    assert (elsewhere / "CACHEDIR.TAG").is_file() and (elsewhere / ".gitignore").is_file()
    assert len(envs_of(project, "s")) == 1
    assert "reusing env" in vrun("s", check=0).stderr
    vrun("rm", "s", check=0)
    assert envs_of(project, "s") == [] and (project / ".venvs").is_symlink()


def test_venvs_owned_by_another_user(tmp_path: Path, project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    venvs = project / ".venvs"
    venvs.mkdir()
    try:
        os.chown(venvs, 65534, -1)
    except PermissionError:
        pytest.skip("chown to another user is not permitted here")
    assert_refused(vrun, tmp_path, f"{venvs} belongs to another user")


def test_venvs_writable_by_everyone(tmp_path: Path, project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    venvs = project / ".venvs"
    venvs.mkdir()
    venvs.chmod(0o777)
    assert_refused(vrun, tmp_path, f"{venvs} is writable by every user")


def test_venvs_broken_symlink(tmp_path: Path, project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    (project / ".venvs").symlink_to(tmp_path / "nowhere")
    assert_refused(vrun, tmp_path, f"{project / '.venvs'} is a broken symlink")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("target_exists", [True, False], ids=["target", "dangling"])
def test_symlinked_lock_file_is_never_followed(
    tmp_path: Path, project: Path, vrun: Vrun, target_exists: bool
) -> None:
    write_project(project, NOOP)
    vrun("s", check=0)
    (env,) = envs_of(project, "s")
    lock = Path(f"{env}.lock")
    elsewhere = tmp_path / "elsewhere"
    if target_exists:
        elsewhere.write_text("not a lock\n")
        elsewhere.chmod(0o600)
    lock.unlink()
    lock.symlink_to(elsewhere)
    venvs = project / ".venvs"
    before = snapshot(tmp_path, skip=venvs)
    # reusing the env, rebuilding it, removing it: the lock is never opened through the link
    one_error(vrun("s"), str(lock), "symlink")
    one_error(vrun("s", "--recreate"), str(lock), "symlink")
    one_error(vrun("rm", "s"), str(lock), "symlink")
    errors_of(vrun("gc", "--keep", "0"))
    assert snapshot(tmp_path, skip=venvs) == before
    assert lock.is_symlink() and env.is_dir()
    # and the same before any build: the env's lock name is known from its key
    shutil.rmtree(env)
    one_error(vrun("s"), str(lock), "symlink")
    assert snapshot(tmp_path, skip=venvs) == before
    assert not env.exists()


def test_symlinks_planted_inside_venvs_are_never_followed(tmp_path: Path, project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    vrun("s", check=0)
    (env,) = envs_of(project, "s")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    os.utime(precious, (1_000_000, 1_000_000))
    # the last-used file, then the env directory itself
    (env / "vrun-used").unlink()
    (env / "vrun-used").symlink_to(precious)
    vrun("s", check=0)
    assert precious.stat().st_mtime == 1_000_000
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine\n")
    shutil.rmtree(env)
    env.symlink_to(theirs)
    venvs = project / ".venvs"
    before = snapshot(tmp_path, skip=venvs)
    one_error(vrun("s"), f"refusing to delete {env}: it is a symlink")
    one_error(vrun("rm", "s"), f"refusing to delete {env}: it is a symlink")
    one_error(vrun("gc"), f"refusing to delete {env}: it is a symlink")
    assert snapshot(tmp_path, skip=venvs) == before
    assert env.is_symlink()


# -- 3. bad config -----------------------------------------------------------------------------------


def test_session_name_too_long_for_a_file_name(project: Path, vrun: Vrun) -> None:
    name = "s" * 250
    write_project(project, {"vrun.toml": f'[sessions.{name}]\ncommands = ["python -c pass"]\n'})
    for args in ((name,), ("list",), ("list", "--envs"), ("gc",)):
        proc = vrun(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        line = one_error(proc, str(project / "vrun.toml"), f"sessions.{name}", "too long")
        assert "bytes" in line
    assert not (project / ".venvs").exists()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[sessions.t]\ncommands = ["python -c pass"]\n[sessions.t', ":3:12:"),
        ('[sessions.t]\ncommands = ["python -c pass"]\ndescription = "abc', ":3:19:"),
        ("[sessions.t]\ncommands = [\n", ":3:1:"),
    ],
    ids=["table-header", "string", "array"],
)
def test_toml_error_at_end_of_file_has_line_and_column(
    project: Path, vrun: Vrun, text: str, where: str
) -> None:
    (project / "vrun.toml").write_text(text)
    proc = vrun("list")
    assert proc.returncode == 2
    one_error(proc, f"{project / 'vrun.toml'}{where}")


# -- 4. corrupt markers ------------------------------------------------------------------------------

CORRUPT_MARKERS = {
    "empty-object": lambda m: "{}",
    "array": lambda m: "[]",
    "schema-str": lambda m: json.dumps({**m, "schema": str(m["schema"])}),
    "truncated": lambda m: json.dumps(m)[:40],
    "interpreter-str": lambda m: json.dumps({**m, "interpreter": "/usr/bin/python3"}),
    "no-location": lambda m: json.dumps({k: v for k, v in m.items() if k != "location"}),
    "created-bool": lambda m: json.dumps({**m, "created": True}),
    "empty-file": lambda m: "",
    "not-utf8": lambda m: "\udcff",
}


def test_corrupt_marker_counts_as_absent_everywhere(project: Path, vrun: Vrun) -> None:
    """Each kind of corrupt marker, one session per kind in one project (one build for all, and
    one ``list``/``gc`` that must see every kind at once): incomplete to every command, rebuilt by
    a run, removed by ``gc``."""
    kinds = {f"s{i}": kind for i, kind in enumerate(CORRUPT_MARKERS)}
    write_project(
        project,
        {
            "vrun.toml": "".join(
                f'[sessions.{name}]\ninstall_project = false\ncommands = ["python -c pass"]\n'
                for name in kinds
            )
        },
    )
    vrun(*kinds, check=0)
    envs = {name: envs_of(project, name)[0] for name in kinds}
    good = {name: json.loads((env / "vrun.json").read_text()) for name, env in envs.items()}

    def corrupt() -> None:
        for name, kind in kinds.items():
            text = CORRUPT_MARKERS[kind](good[name])
            (envs[name] / "vrun.json").write_bytes(text.encode("utf-8", "surrogateescape"))

    corrupt()
    assert {r["name"]: r["state"] for r in list_json(vrun)} == dict.fromkeys(kinds, "incomplete")
    listed = vrun("list", check=0)
    assert " ready " not in listed.stdout and "Traceback" not in listed.stderr
    rows = list_json(vrun, "--envs")
    assert sorted(str(r["path"]) for r in rows) == sorted(str(e) for e in envs.values())
    assert {r["state"] for r in rows} == {"incomplete"}
    table = vrun("list", "--envs", check=0)
    assert table.stdout.count("incomplete") >= len(kinds) and "Traceback" not in table.stderr
    for name, kind in kinds.items():
        path = vrun("path", name)
        assert path.returncode == 1 and path.stdout == "", kind
        one_error(path, "no ready env")

    dry = vrun("gc", "--dry-run", check=0)
    assert "Traceback" not in dry.stderr
    for name, env in envs.items():
        assert f"would remove {env}" in dry.stdout, kinds[name]
    rebuilt = vrun(*kinds, check=0)
    assert rebuilt.stderr.count("the previous build was incomplete") == len(kinds)
    for name, env in envs.items():
        assert json.loads((env / "vrun.json").read_text())["digest"] == good[name]["digest"], kinds[name]

    corrupt()
    gone = vrun("gc", check=0)
    assert "Traceback" not in gone.stderr
    for name, env in envs.items():
        assert f"removed {env}" in gone.stdout and not env.exists(), kinds[name]


# -- 5. read-only commands never run the config's programs ------------------------------------------


@pytest.fixture
def evil(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An executable that records being run, then behaves as the Python running the tests."""
    ran = tmp_path / "EVIL-RAN"
    script = tmp_path / "bin" / "evil"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" >> "{ran}"\nexec "{sys.executable}" "$@"\n')
    script.chmod(0o755)
    yield script, ran


def test_read_only_commands_never_run_a_python_path_from_the_config(
    project: Path, vrun: Vrun, evil: tuple[Path, Path]
) -> None:
    script, ran = evil
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.e]
                python = "{script}"
                install_project = false
                commands = ["python -c pass"]

                [sessions.ok]
                install_project = false
                commands = ["python -c pass"]
            """
        },
    )
    vrun("ok", check=0)  # a .venvs with an env in it: gc and rm have something to look at
    for args in (("list",), ("list", "--json"), ("list", "--envs"), ("list", "--envs", "--json")):
        proc = vrun(*args, check=0)
        assert "Traceback" not in proc.stderr
    assert "not probed" in vrun("list", check=0).stdout
    assert {r["name"]: r["state"] for r in list_json(vrun)} == {"e": "not probed", "ok": "ready"}
    for args in (("--help",), ("list", "-h"), ("path", "-h"), ("help",), ("show", "ok"), ("explain", "ok")):
        vrun(*args, check=0)
    for args in (("show", "e"), ("explain", "e"), ("completion", "--list-sessions")):
        assert "Traceback" not in vrun(*args).stderr
    check = vrun("lock", "--check", "e")
    assert check.returncode != 0 and "Traceback" not in check.stderr
    one_error(check, "not probed", str(script))
    path = vrun("path", "e")
    assert path.returncode != 0 and path.stdout == ""
    one_error(path, "not probed", str(script))
    for args in (("gc", "--dry-run"), ("gc",), ("gc", "--keep", "0")):
        proc = vrun(*args, check=0)
        assert "Traceback" not in proc.stderr and "removed" not in proc.stdout
    vrun("rm", "ok", check=0)
    assert not ran.exists()

    vrun("e", check=0)  # running the session does run it: the check above is meaningful
    assert ran.exists()


# -- 6. locking unsupported, disk full -------------------------------------------------------------


def test_flock_unsupported_is_one_clear_error(
    project: Path,
    offline_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ENOLCK cannot be provoked for real without a network filesystem: ``fcntl.flock`` raises it here."""
    import fcntl

    from vrun.cli import main

    write_project(project, NOOP)
    for key in [k for k in os.environ if k.startswith(("PIP_", "VRUN_"))]:
        monkeypatch.delenv(key)
    for key, value in offline_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VRUN_PLAN_CACHE", "0")
    monkeypatch.chdir(project)

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    assert main(["s"]) == 1
    err = capsys.readouterr().err
    lock = next((project / ".venvs").glob("s-*.lock"))
    errors = [line for line in err.splitlines() if line.startswith("vrun > error:")]
    assert errors == [f"vrun > error: cannot lock {lock}: {os.strerror(errno.ENOLCK)}"], err
    assert "vrun > hint: the filesystem of .venvs/ must support flock(2)" in err
    assert envs_of(project, "s") == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: too small for an env with pip. Needs root and mount(2)."""
    mount = shutil.which("mount")
    mnt = tmp_path / "small"
    mnt.mkdir()
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_disk_full_during_build_is_one_error_and_leaves_no_partial_env(
    small_disk: Path, offline_env: dict[str, str]
) -> None:
    project = write_project(small_disk / "proj", NOOP)
    vrun = Vrun(project, offline_env)
    before = snapshot(project, skip=project / ".venvs")
    proc = vrun("s")
    assert proc.returncode == 1, proc.stderr
    line = one_error(proc)
    assert "No space left on device" in line or "disk" in line.lower(), proc.stderr
    assert envs_of(project, "s") == []
    assert snapshot(project, skip=project / ".venvs") == before
    # nothing half-built is left that a later run would trust
    assert state_of(vrun, "s") == "absent"


# -- recursion limits: a config error naming the key, never a RecursionError ----------------------


def test_placeholders_nested_too_deep_are_a_config_error_naming_the_key(project: Path, vrun: Vrun) -> None:
    default = "x"
    for i in range(1000):
        default = f"{{env:V{i}:{default}}}"
    write_project(
        project, {"vrun.toml": f'[sessions.s]\ncommands = ["python -c pass"]\nenv = {{ A = "{default}" }}\n'}
    )
    for args in (("list",), ("s",)):
        proc = vrun(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        one_error(proc, "sessions.s.env.A", "nested more than 32 deep")


def test_a_long_requires_chain_is_ordered(tmp_path: Path) -> None:
    """1200 sessions, each requiring the one before, ordered without recursion (Python's limit is 1000)."""
    from vrun.config.load import load_config
    from vrun.config.selection import select_sessions

    tables = ['[sessions.s0]\ncommands = ["python -c pass"]\n']
    tables += [f'[sessions.s{i}]\nrequires = ["s{i - 1}"]\n' for i in range(1, 1200)]
    (tmp_path / "vrun.toml").write_text("".join(tables))
    config = load_config(tmp_path / "vrun.toml")
    ordered = [s.name for s in select_sessions(config, ["s1199", "s5"])]
    assert ordered == [f"s{i}" for i in range(1200)]


def test_both_configs_warn_once_in_every_command_naming_the_one_used(project: Path, vrun: Vrun) -> None:
    """docs/config.md: a directory with both ``vrun.toml`` and ``[tool.vrun]`` uses ``vrun.toml``, with a warning."""
    write_project(
        project,
        {
            "vrun.toml": '[sessions.s]\ninstall_project = false\ncommands = ["python -c pass"]\n',
            "pyproject.toml": '[tool.vrun.sessions.other]\ncommands = ["python -c pass"]\n',
        },
    )
    for args in (("list",), ("show", "s"), ("explain", "s"), ("s",), ("s",)):  # the last one warm
        proc = vrun(*args, check=0)
        lines = [line for line in proc.stderr.splitlines() if "define vrun config" in line]
        assert len(lines) == 1 and lines[0].endswith("using vrun.toml"), (args, proc.stderr)
