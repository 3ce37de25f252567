"""The project as the user's tool had it: wheel and sdist builds cached by the source, true
editable metadata, ``{env_tmp_dir}`` outside the env (issue 16).

Real envs, offline: setuptools comes from the test wheelhouse.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Vrun, demo_project, write_project
from tests.test_plancache import traced, warm
from vrun.plan import source

GIT = shutil.which("git")


def env_of(project: Path, session: str) -> Path:
    (env,) = [p for p in (project / ".venvs").glob(f"{session}-*") if p.is_dir() and not p.is_symlink()]
    return env


def installed(env: Path, name: str) -> Path:
    (found,) = env.glob(f"lib/python*/site-packages/{name}")
    return found


# --- install_project = "wheel": built once per source ----------------------------------------------

PACKAGE = demo_project(source="from demo.word import WORD\n")  # src/demo/: not importable from the root
WORD = {"src/demo/word.py": "WORD = 'one'\n"}


def wheel_project(project: Path, mode: str = "wheel") -> None:
    write_project(
        project,
        {
            **PACKAGE,
            **WORD,
            "vrun.toml": f"""
                [sessions.t]
                install_project = "{mode}"
                commands = ["python -c 'import demo; print(\\"word:\\", demo.WORD, demo.__file__)'"]
            """,
        },
    )


def test_a_warm_wheel_session_reinstalls_nothing_and_an_edit_rebuilds(project: Path, vrun: Vrun) -> None:
    wheel_project(project)
    first = vrun("t", check=0)
    assert first.stderr.count("building the project (wheel)") == 1
    env = env_of(project, "t")
    assert f"word: one {env}" in first.stdout  # the built package, not the source tree
    module = installed(env, "demo/word.py")
    before = module.stat()
    for _ in range(2):  # the first may plan again (the build wrote src/demo.egg-info); nothing is rebuilt
        again, modules = traced(vrun, "t")
        assert again.returncode == 0 and "word: one" in again.stdout
        assert "building the project" not in again.stderr and "reinstalling" not in again.stderr
    assert warm(modules)  # served from the stored plan: the source vouched for by stat alone
    assert (module.stat().st_ino, module.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # touched, not changed: planned again, the same digest, nothing reinstalled
    os.utime(project / "src" / "demo" / "word.py", ns=(before.st_mtime_ns + 10**9,) * 2)
    touched = vrun("t", check=0)
    assert "reinstalling" not in touched.stderr
    (project / "src" / "demo" / "word.py").write_text("WORD = 'two'\n")
    edited = vrun("t", check=0)
    assert "its source changed (install_project = wheel)" in edited.stderr
    assert edited.stderr.count("building the project (wheel)") == 1
    assert "word: two" in edited.stdout
    again = vrun("t", check=0)
    assert "building the project" not in again.stderr and "reinstalling" not in again.stderr
    # back to the first source: its build is still cached, so it is reinstalled, not rebuilt
    (project / "src" / "demo" / "word.py").write_text("WORD = 'one'\n")
    back = vrun("t", check=0)
    assert "reinstalling the project" in back.stderr and "building the project" not in back.stderr
    assert "word: one" in back.stdout


# --- install_project = "sdist": the wheel built from the sdist ------------------------------------


def test_an_sdist_session_fails_when_a_module_is_missing_from_the_sdist(project: Path, vrun: Vrun) -> None:
    """tox's default: the sdist first, the wheel from it, so what MANIFEST.in leaves out is missing
    from what the tests import; a wheel built from the folder has it."""
    write_project(
        project,
        {
            **demo_project(source="from demo.extra import WORD\n"),
            "src/demo/extra.py": "WORD = 'extra'\n",
            "MANIFEST.in": "exclude src/demo/extra.py\n",
            "vrun.toml": """
                [sessions.sdist]
                install_project = "sdist"
                commands = ["python -c 'import demo; print(\\"word:\\", demo.WORD)'"]
                [sessions.wheel]
                install_project = "wheel"
                commands = ["python -c 'import demo; print(\\"word:\\", demo.WORD)'"]
            """,
        },
    )
    failed = vrun("sdist", check=1)
    assert "building the project (sdist, then a wheel from it) with uv" in failed.stderr
    assert "ModuleNotFoundError: No module named 'demo.extra'" in failed.stderr
    assert "session sdist failed: command failed with exit code 1" in failed.stderr
    assert "word: extra" in vrun("wheel", check=0).stdout
    (project / "MANIFEST.in").write_text("")  # MANIFEST.in is source: the sdist is built again
    fixed = vrun("sdist", check=0)
    assert "its source changed (install_project = sdist)" in fixed.stderr
    assert "word: extra" in fixed.stdout
    warm_again = vrun("sdist", check=0)
    assert "building the project" not in warm_again.stderr and "reinstalling" not in warm_again.stderr


def test_an_sdist_that_cannot_be_built_fails_the_session_naming_the_build(project: Path, vrun: Vrun) -> None:
    """The installer cannot build from an sdist, so a failed sdist build is not handed to it."""
    write_project(
        project,
        {
            "pyproject.toml": """
                [build-system]
                requires = []
                build-backend = "no_such_backend"
                [project]
                name = "demo"
                version = "0.1"
            """,
            "vrun.toml": '[sessions.t]\ninstall_project = "sdist"\ncommands = ["python -c pass"]\n',
        },
    )
    failed = vrun("t", check=1)
    assert "building the project's sdist, or its wheel from the sdist, failed: " in failed.stderr
    assert "no_such_backend" in failed.stderr
    assert "the installer builds it instead" not in failed.stderr
    assert "Traceback" not in failed.stderr.split("no_such_backend")[0]
    assert not list((project / ".venvs").glob("t-*/vrun.json"))


# --- what the source is ----------------------------------------------------------------------------


def git(root: Path, *args: str) -> None:
    environ = {"HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1", "PATH": os.environ["PATH"]}
    subprocess.run(["git", *args], cwd=root, env=environ, check=True, capture_output=True)


def test_outside_git_the_source_is_every_file_but_what_builds_and_tools_write(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        dict.fromkeys(
            (
                "pyproject.toml", "src/demo/__init__.py", "src/build/keep.py", "README.md", "tests/test_a.py",
                "build/lib/demo/__init__.py", "dist/demo-0.1.tar.gz", "src/demo.egg-info/PKG-INFO",
                "src/demo/__pycache__/x.cpython-311.pyc", "src/demo/stale.pyc", ".venvs/t-1/x", ".git/HEAD",
                ".tox/x", ".coverage", "tests/.pytest_cache/x",
            ),
            "",
        ),
    )  # fmt: skip
    expected = ["README.md", "pyproject.toml", "src/build/keep.py", "src/demo/__init__.py", "tests/test_a.py"]
    assert source.source_files(str(tmp_path)) == expected


@pytest.mark.skipif(GIT is None, reason="needs git")
def test_in_git_the_source_is_what_git_tracks_and_the_new_files_it_does_not_ignore(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            ".gitignore": "ignored.txt\n",
            "pyproject.toml": "",
            "src/demo/__init__.py": "",
            "build/tracked.py": "",  # tracked: source, whatever its folder
            "ignored.txt": "",
            "src/demo/new.py": "",  # not added yet: still source
            "src/demo.egg-info/PKG-INFO": "",  # not ignored, but what a build writes
            "build/lib/demo/__init__.py": "",
        },
    )
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".gitignore", "pyproject.toml", "src/demo/__init__.py", "build/tracked.py")
    expected = [".gitignore", "build/tracked.py", "pyproject.toml", "src/demo/__init__.py", "src/demo/new.py"]
    assert source.source_files(str(tmp_path)) == expected
    # a project inside a repository that ignores it (a home folder under git): walked instead
    (tmp_path / ".gitignore").write_text("*\n")
    (tmp_path / ".git" / "index").unlink()  # nothing tracked
    assert "src/demo/__init__.py" in source.source_files(str(tmp_path))


def test_the_source_digest_follows_contents_and_records_files_and_folders(tmp_path: Path) -> None:
    from vrun import inputs

    root = write_project(tmp_path / "p", {"pyproject.toml": "", "src/demo/__init__.py": "A = 1\n"})
    environ = {"VRUN_CACHE_DIR": str(tmp_path / "cache")}
    with inputs.recording() as recorder:
        first, paths = source.source_digest(str(root), environ)
    module = str(root / "src" / "demo" / "__init__.py")
    assert {module, str(root / "src"), str(root / "src" / "demo")} <= set(paths) <= set(recorder.files)
    assert str(root) not in recorder.files  # the root's listing: tools write there all the time
    assert recorder.files[module] == inputs.signature(module)
    os.utime(module, ns=(10**18, 10**18))  # touched: the same contents, the same digest
    with inputs.recording():
        assert source.source_digest(str(root), environ)[0] == first
    Path(module).write_text("A = 2\n")
    with inputs.recording():
        second = source.source_digest(str(root), environ)[0]
    assert second != first
    (root / "src" / "demo" / "new.py").write_text("")
    with inputs.recording():
        assert source.source_digest(str(root), environ)[0] not in (first, second)


@pytest.mark.skipif(GIT is None, reason="needs git")
def test_a_new_module_not_yet_added_to_git_rebuilds_the_wheel(project: Path, vrun: Vrun) -> None:
    """A new file changes its folder's signature: the stored plan is not used, and the new source
    is built, before ``git add``."""
    wheel_project(project)
    git(project, "init", "-q")
    git(project, "add", ".")
    vrun("t", check=0)
    vrun("t", check=0)
    (project / "src" / "demo" / "other.py").write_text("WORD = 'other'\n")
    (project / "vrun.toml").write_text(
        '[sessions.t]\ninstall_project = "wheel"\ncommands = ["python -c \'import demo.other as o; print(o.WORD)\'"]\n'
    )
    run = vrun("t", check=0)
    assert "its source changed" in run.stderr and "other" in run.stdout


# --- editable installs look like editable installs --------------------------------------------------


@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_an_editable_project_is_listed_and_frozen_as_editable(
    project: Path, vrun: Vrun, backend: str
) -> None:
    """vrun installs its cached editable build, a wheel file, but the env records what ``pip install
    -e .`` records (PEP 610): the project folder, editable."""
    from vrun.env.choice import find_uv

    write_project(
        project,
        {
            **demo_project(),
            "vrun.toml": f'[sessions.t]\nbackend = "{backend}"\ncommands = ["python -c pass"]\n',
        },
    )
    assert "the project (editable, built by vrun)" in vrun("t", check=0).stderr
    env = env_of(project, "t")
    (info,) = env.glob("lib/python*/site-packages/demo-0.1.dist-info")
    assert json.loads((info / "direct_url.json").read_text()) == {
        "dir_info": {"editable": True},
        "url": project.as_uri(),
    }
    listed = vrun("run", "t", "--", "python", "-m", "pip", "list", "-e", "--format=json", check=0)
    assert [(p["name"], p["editable_project_location"]) for p in json.loads(listed.stdout)] == [
        ("demo", str(project))
    ]
    frozen = vrun("run", "t", "--", "python", "-m", "pip", "freeze", check=0).stdout
    assert f"\n-e {project}\n" in f"\n{frozen}" and ".whl" not in frozen
    uv = find_uv()
    assert uv is not None
    uv_listed = subprocess.run(
        [uv, "pip", "list", "--editable", "--format=json", "--python", str(env / "bin" / "python")],
        env=vrun.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [(p["name"], p["editable_project_location"]) for p in json.loads(uv_listed.stdout)] == [
        ("demo", str(project))
    ]
    # RECORD lists the new file with its own hash: pip uninstalls it cleanly
    record = (info / "RECORD").read_text()
    assert f"{info.name}/direct_url.json,sha256=" in record and "direct_url.json" in record
    vrun("run", "t", "--", "python", "-m", "pip", "uninstall", "-y", "demo", check=0)
    assert not info.exists()


# --- {env_tmp_dir} ---------------------------------------------------------------------------------


def test_gc_removes_the_temp_dir_of_the_envs_it_removes(project: Path, vrun: Vrun) -> None:
    """The temp dir lives beside the envs (``.venvs/.tmp/<env>``); ``vrun gc`` takes a stale env's
    with it and leaves the current env's."""
    config = (
        '[sessions.s]\ninstall_project = false\ndeps = [{}]\ncommands = ["python -c pass {{env_tmp_dir}}"]\n'
    )
    write_project(project, {"vrun.toml": config.format('"alpha==1.0"')})
    vrun("s", check=0)
    old = env_of(project, "s")
    (project / "vrun.toml").write_text(config.format('"alpha==2.0"'))
    vrun("s", check=0)
    new = next(p for p in (project / ".venvs").glob("s-*") if p.is_dir() and p != old and not p.is_symlink())
    tmp = project / ".venvs" / ".tmp"
    assert (tmp / old.name).is_dir() and (tmp / new.name).is_dir()
    vrun("gc", "--keep", "0", check=0)
    assert not old.exists() and not (tmp / old.name).exists()
    assert new.is_dir() and (tmp / new.name).is_dir()


def test_gc_removes_the_temp_dirs_of_envs_removed_by_hand(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """An env deleted with ``rm -rf`` leaves its temp dir: ``vrun gc`` removes it (``--dry-run``
    only says so), keeps the current env's, and lists nothing through a symlinked ``.venvs/.tmp``."""
    write_project(
        project,
        {"vrun.toml": '[sessions.s]\ninstall_project = false\ncommands = ["python -c pass {env_tmp_dir}"]\n'},
    )
    vrun("s", check=0)
    current = env_of(project, "s")
    tmp = project / ".venvs" / ".tmp"
    (tmp / "gone-0123456789" / "sub").mkdir(parents=True)
    (tmp / "gone-0123456789" / "sub" / "f").write_text("left by a test")
    dry = vrun("gc", "--dry-run", check=0)
    assert "would remove .tmp/gone-0123456789 (the temp dir of an env that no longer exists)" in dry.stdout
    assert (tmp / "gone-0123456789").is_dir()
    removed = vrun("gc", check=0)
    assert "removed .tmp/gone-0123456789 (the temp dir of an env that no longer exists)" in removed.stdout
    assert not (tmp / "gone-0123456789").exists() and (tmp / current.name).is_dir()
    assert current.is_dir()

    outside = tmp_path / "outside"
    (outside / "gone-0123456789").mkdir(parents=True)
    shutil.rmtree(tmp)
    tmp.symlink_to(outside)  # vrun never deletes through a symlink out of .venvs/
    vrun("gc", check=0)
    assert (outside / "gone-0123456789").is_dir()


def test_the_cache_keeps_the_last_builds_of_a_project(tmp_path: Path) -> None:
    """Each source gets its own build; the 3 most recently used of a key stay, others of the key
    go, and other keys' builds are left alone."""
    from vrun.env import wheel

    key, other = "a" * 16, "b" * 16
    names = [f"{key}-{n}" for n in ("old", "mid", "new", "newest")] + [key, f"{other}-x"]
    for age, name in enumerate(reversed(names)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "wheel").write_text("demo-0.1-py3-none-any.whl")
        os.utime(tmp_path / name / "wheel", (10**9 - age, 10**9 - age))  # names[0] the oldest
    wheel._prune(str(tmp_path), key, keep=str(tmp_path / f"{key}-newest"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{key}-mid", f"{key}-new", f"{key}-newest", key, f"{other}-x"]
    )
