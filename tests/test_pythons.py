"""A machine with one Python: missing matrix entries skipped or failed by one rule, and Pythons on
demand through uv's managed Pythons (``python_downloads``, :mod:`vrun.plan.pythons`).

Each test builds such a machine: ``PATH`` holds one ``python3`` (the interpreter running the tests,
which discovery finds first anyway), ``PYENV_ROOT`` is empty and ``HOME`` is the test's own, so
uv's managed Pythons live under it. A second Python is "downloaded" offline: the fixture builds a
python-build-standalone style archive (``python/bin/python3.X``, a wrapper that runs a pyenv
CPython of another minor, and the ``lib/python3.X/_sysconfigdata_*.py`` uv patches) and a downloads
list pointing at it by a ``file://`` URL, which uv reads through ``UV_PYTHON_DOWNLOADS_JSON_URL``
(with ``UV_OFFLINE=1`` still set). Only that archive is fake; vrun's rule, uv's install, discovery
and the interpreter cache are the real ones. Tests that need a second Python skip without one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import REPO, RUNNING, Vrun, write_project
from vrun.env.choice import find_uv
from vrun.plan import pythons
from vrun.plan.pythons import downloadable, downloads_policy, missing_hint

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def pyenv_cpython(minor: str) -> Path | None:
    """The newest pyenv ``bin/python3.X`` of ``minor`` (``"3.12"``) installed here, or ``None``."""
    found = sorted(
        PYENV_VERSIONS.glob(f"{minor}.*/bin/python{minor}"),
        key=lambda p: [int(n) for n in p.parent.parent.name.split(".") if n.isdigit()],
    )
    return found[-1] if found else None


def other_pyenv_python() -> Path:
    """A pyenv CPython whose minor differs from the running one; skips the test without one."""
    for minor in ("3.12", "3.13", "3.11", "3.10", "3.9"):
        exe = pyenv_cpython(minor)
        if exe is not None and minor != RUNNING:
            return exe
    pytest.skip(f"needs a pyenv CPython other than {RUNNING}")


def minor_of(exe: Path) -> str:
    return exe.name.removeprefix("python")


def running_base() -> str:
    """The real executable of the interpreter running the tests (not this venv's ``python``)."""
    return os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)


def one_python_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``env`` as on a machine with one Python and no pyenv: ``PATH`` holds a folder with only
    ``python3`` (the running interpreter), ``PYENV_ROOT`` an empty folder, uv's data under ``HOME``."""
    bin_dir = tmp_path / "one-python-bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(running_base())
    pyenv = tmp_path / "no-pyenv"
    pyenv.mkdir()
    env = {k: v for k, v in env.items() if k not in ("XDG_DATA_HOME", "PYENV_VERSION")}
    env.update(PATH=str(bin_dir), PYENV_ROOT=str(pyenv))
    return env


def fake_downloads(tmp_path: Path, executables: list[Path]) -> Path:
    """A downloads list (uv's ``download-metadata.json`` format) offering each of ``executables`` as
    a python-build-standalone style archive at a ``file://`` URL; its path."""
    uv = find_uv()
    assert uv is not None
    folder = tmp_path / "pbs"
    folder.mkdir()
    listing = subprocess.run(  # this platform's os, arch and libc, as uv names them
        [uv, "python", "list", "--only-downloads", "--output-format", "json", "3"],
        env={**os.environ, "UV_OFFLINE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    platform = json.loads(listing.stdout)[0]
    entries = {}
    for exe in executables:
        version = exe.parent.parent.name  # the pyenv version folder: 3.12.1
        major, minor, patch = (int(n) for n in version.split("."))
        stage = folder / f"stage-{version}" / "python"
        (stage / "bin").mkdir(parents=True)
        lib = stage / "lib" / f"python{major}.{minor}"
        lib.mkdir(parents=True)
        for sysconfig in exe.parent.parent.glob(f"lib/python{major}.{minor}/_sysconfigdata_*.py"):
            shutil.copy(sysconfig, lib)
        wrapper = stage / "bin" / exe.name
        wrapper.write_text(f'#!/bin/sh\nexec "{exe}" "$@"\n')
        wrapper.chmod(0o755)
        for link in ("python3", "python"):
            (stage / "bin" / link).symlink_to(exe.name)
        archive = folder / f"cpython-{version}-install_only.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(stage, arcname="python")
        key = f"cpython-{version}-{platform['os']}-{platform['arch']}-{platform['libc']}"
        entries[key] = {
            "name": "cpython",
            "arch": {"family": platform["arch"], "variant": None},
            "os": platform["os"],
            "libc": platform["libc"],
            "major": major,
            "minor": minor,
            "patch": patch,
            "prerelease": "",
            "url": archive.as_uri(),
            "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
            "variant": None,
        }
    listing_file = folder / "downloads.json"
    listing_file.write_text(json.dumps(entries), encoding="utf-8")
    return listing_file


def matrix_project(root: Path, pythons: list[str]) -> None:
    """A project whose ``t`` session is a matrix over ``pythons``; each entry prints its version."""
    write_project(
        root,
        {
            "vrun.toml": f"""
                default = ["t"]
                [sessions.t]
                python = {json.dumps(pythons)}
                install_project = false
                commands = ["python -c 'import sys; print(\\"on\\", sys.version.split()[0])'"]
            """,
        },
    )


def uv_pythons(home: Path) -> list[str]:
    root = home / ".local" / "share" / "uv" / "python"
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


# --- the rule --------------------------------------------------------------------------------------


def test_unnamed_missing_entry_is_skipped_with_a_command_that_gets_it(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    """A bare ``vrun``, ``vrun t`` and ``vrun -p 2 t``: the missing entry is skipped in one line
    naming the uv vrun uses by its full path; the entry whose Python is here runs; exit 0 since
    one ran."""
    other = other_pyenv_python()
    minor = minor_of(other)
    matrix_project(project, [RUNNING, minor])
    vrun.env = one_python_env(vrun.env, tmp_path)
    vrun.env["VRUN_PYTHON_DOWNLOADS"] = "never"
    uv = find_uv()
    for argv in ((), ("t",), ("-p", "2", "t")):  # -p: the same rule, applied in its children
        proc = vrun(*argv, check=0)
        assert f"on {RUNNING}." in proc.stdout
        shown = proc.stderr + proc.stdout  # under -p a child's lines come whole, on stdout
        (line,) = [line for line in shown.splitlines() if "skipping" in line]
        assert line == (
            f"vrun > skipping t-{minor}: no interpreter for '{minor}'; `{uv} python install {minor}` "
            "installs it, or let vrun do it (--download-python auto); or change `python`"
        )
        assert re.search(rf"t-{minor}\s+skipped", proc.stderr)
        assert "error:" not in proc.stderr


def test_named_entry_ci_and_plain_sessions_fail(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """What stays a failure: the entry named in full, any session under CI, a session that is not
    a matrix entry; and a run where every session was skipped exits 1."""
    other = other_pyenv_python()
    minor = minor_of(other)
    matrix_project(project, [RUNNING, minor])
    vrun.env = one_python_env(vrun.env, tmp_path)
    vrun.env["VRUN_PYTHON_DOWNLOADS"] = "never"
    named = vrun(f"t-{minor}", check=2)
    assert f"error: no Python matching '{minor}' for session t-{minor}; searched PATH" in named.stderr
    assert f"hint: `{find_uv()} python install {minor}` installs it" in named.stderr
    vrun(f"t-{RUNNING}", f"t-{minor}", check=1)  # both named: the missing one fails

    ci = Vrun(project, {**vrun.env, "CI": "true"})("t", check=1)
    assert f"on {RUNNING}." in ci.stdout and "skipping" not in ci.stderr
    assert re.search(rf"t-{minor}\s+failed", ci.stderr)

    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.plain]
                python = "{minor}"
                install_project = false
                commands = ["python -V"]
                [sessions.gone]
                python = ["3.98", "3.99"]
                install_project = false
                commands = ["python -V"]
            """
        },
    )
    assert "skipping" not in vrun("plain", check=2).stderr
    nothing = vrun("gone", check=1)  # both entries skipped: nothing was tested
    assert nothing.stderr.count("skipping gone-3.9") == 2
    assert "install Python 3.98 another way" in nothing.stderr  # uv has no 3.98: no uv command
    vrun("gone", "--skip-missing-interpreters", check=1)


# --- Pythons on demand -----------------------------------------------------------------------------


def test_missing_python_is_installed_with_uv_and_found_next_time(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    """With the default ``python_downloads = "auto"``, vrun says it installs the missing Python,
    uv installs it among its managed Pythons (no ``python3.X`` link in ``~/.local/bin``), the
    session runs on it, and the next run finds it without installing."""
    other = other_pyenv_python()
    minor, version = minor_of(other), other.parent.parent.name
    matrix_project(project, [RUNNING, minor])
    vrun.env = one_python_env(vrun.env, tmp_path)
    vrun.env["UV_PYTHON_DOWNLOADS_JSON_URL"] = str(fake_downloads(tmp_path, [other]))
    home = Path(vrun.env["HOME"])

    first = vrun("t", check=0)
    assert f"on {RUNNING}." in first.stdout and f"on {version}" in first.stdout
    assert (
        f'vrun > installing Python {minor} for t-{minor} with uv (python_downloads = "auto"): '
        f"{find_uv()} python install {minor}"
    ) in first.stderr
    assert f"vrun > installed Python {version} (" in first.stderr
    assert [name for name in uv_pythons(home) if name.startswith(f"cpython-{version}-")], uv_pythons(home)
    assert not (home / ".local" / "bin").exists()  # UV_PYTHON_INSTALL_BIN=0

    again = vrun("t", check=0)
    assert "installing" not in again.stderr and f"on {version}" in again.stdout
    assert again.stderr.count("reusing env") == 2
    cache = json.loads((Path(vrun.env["VRUN_CACHE_DIR"]) / "interpreters.json").read_text())
    assert any(f["interpreter"]["version"] == version for f in cache["facts"].values())


def test_the_hints_command_installs_it(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """The command the skip line names, run as it stands, gets the Python: the next run has it."""
    other = other_pyenv_python()
    minor, version = minor_of(other), other.parent.parent.name
    matrix_project(project, [RUNNING, minor])
    vrun.env = one_python_env(vrun.env, tmp_path)
    vrun.env["UV_PYTHON_DOWNLOADS_JSON_URL"] = str(fake_downloads(tmp_path, [other]))
    skipped = vrun("t", "--download-python", "never", check=0)
    command = re.search(r"`([^`]+ python install [^`]+)` installs it", skipped.stderr)
    assert command is not None, skipped.stderr
    subprocess.run(shlex.split(command.group(1)), env=vrun.env, check=True, capture_output=True)
    after = vrun("t", "--download-python", "never", check=0)
    assert f"on {version}" in after.stdout and "skipping" not in after.stderr


def test_a_failed_install_is_said_once_and_the_entry_skipped(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    """uv cannot get it (offline, no such download): one line saying so and why, then the skip."""
    matrix_project(project, [RUNNING, "3.99"])
    vrun.env = one_python_env(vrun.env, tmp_path)
    proc = vrun("t", check=0)
    assert "installing Python 3.99 for t-3.99 with uv" in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if "skipping" in line]
    assert "(uv could not install it: No download found for request: cpython-3.99" in line
    assert line.endswith('or change `python`; python_downloads = "never" stops vrun trying uv')


def test_read_only_commands_and_never_do_not_install(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """``vrun list``, ``explain`` and ``show`` plan without installing; so does ``python_downloads =
    "never"`` in the config, and ``UV_PYTHON_DOWNLOADS=manual`` (uv's user asked for no automatic
    downloads) when vrun's own setting is absent."""
    other = other_pyenv_python()
    minor = minor_of(other)
    matrix_project(project, [RUNNING, minor])
    vrun.env = one_python_env(vrun.env, tmp_path)
    vrun.env["UV_PYTHON_DOWNLOADS_JSON_URL"] = str(fake_downloads(tmp_path, [other]))
    home = Path(vrun.env["HOME"])
    for argv in (("list",), ("explain", "t"), ("show", "t")):
        assert "installing" not in vrun(*argv).stderr
    manual = Vrun(project, {**vrun.env, "UV_PYTHON_DOWNLOADS": "manual"})
    assert "installing" not in manual("t", check=0).stderr
    toml = (project / "vrun.toml").read_text()
    (project / "vrun.toml").write_text('python_downloads = "never"\n' + toml)
    assert "installing" not in vrun("t", check=0).stderr
    assert uv_pythons(home) == []
    assert "installing" in vrun("t", "--download-python", "auto", check=0).stderr  # the flag wins


# --- the parts -------------------------------------------------------------------------------------


def test_downloads_policy_precedence() -> None:
    assert downloads_policy(None, None, {}) == "auto"
    assert downloads_policy("never", None, {}) == "never"
    assert downloads_policy("never", None, {"VRUN_PYTHON_DOWNLOADS": "auto"}) == "auto"
    assert downloads_policy("auto", "never", {"VRUN_PYTHON_DOWNLOADS": "auto"}) == "never"
    for uv_setting, expected in (("never", "never"), ("Manual", "never"), ("automatic", "auto")):
        assert downloads_policy(None, None, {"UV_PYTHON_DOWNLOADS": uv_setting}) == expected
    assert downloads_policy("auto", None, {"UV_PYTHON_DOWNLOADS": "never"}) == "auto"  # vrun's own wins
    with pytest.raises(pythons.UsageError, match="VRUN_PYTHON_DOWNLOADS='sometimes' is not one of auto"):
        downloads_policy(None, None, {"VRUN_PYTHON_DOWNLOADS": "sometimes"})


def test_what_can_be_downloaded_and_the_hints() -> None:
    assert downloadable("3.12") and downloadable("pypy3.10") and downloadable(">=3.10,<3.13")
    assert not downloadable(None) and not downloadable("/usr/bin/python3") and not downloadable(" ")
    assert missing_hint("/opt/py/bin/python", "auto", None, {}) == "install it, or change `python`"
    uv = find_uv()
    env = {**os.environ, "UV_OFFLINE": "1"}
    assert missing_hint(">=3.10,<3.13", "auto", None, env) == (
        f"`{uv} python install '>=3.10,<3.13'` installs it; or change `python`"
    )
    assert missing_hint("3.12", "auto", "offline", env).endswith(
        'python_downloads = "never" stops vrun trying uv'
    )
    offered = "or let vrun do it (--download-python auto)"
    assert offered in missing_hint("3.12", "never", None, env)
    assert offered not in missing_hint("3.12", None, None, env)  # vrun show, explain: they install nothing


def test_uv_reason_keeps_the_error_and_its_last_cause() -> None:
    text = (
        "error: Failed to install cpython-3.10.22-linux-x86_64-gnu\n"
        "  cause: Failed to download `https://example/cpython.tar.gz`\n"
        "  cause: failed to lookup address information: Name or service not known\n"
    )
    assert pythons._uv_reason(text) == (
        "Failed to install cpython-3.10.22-linux-x86_64-gnu: failed to lookup address information: "
        "Name or service not known"
    )
    assert pythons._uv_reason("something odd\n") == "something odd"


def test_the_default_and_the_choices_are_documented() -> None:
    config = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    cli = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert '| `python_downloads` | `"auto"` or `"never"` | `"auto"` |' in config
    assert "--download-python" in cli and "VRUN_PYTHON_DOWNLOADS" in cli
    assert pythons.DEFAULT_DOWNLOADS == "auto"


# --- the README's quick start ----------------------------------------------------------------------

#: README.md's quick start, step 1, as a reader types it.
STEP_ONE = (
    "python3 -m venv .venv && .venv/bin/python -m pip install . && cd example_project && "
    "../.venv/bin/vrun test"
)


@pytest.mark.network
def test_quick_start_step_one_passes_with_one_python(tmp_path: Path) -> None:
    """Step 1's ``vrun test`` in the example project on a machine with one Python and no pyenv:
    the matrix's other Pythons are installed through uv (from local archives here; from
    python-build-standalone on a real machine) and both entries pass. Needs PyPI for pytest."""
    from tests.test_realcases import _real_index_env, _skip_if_unreachable

    assert STEP_ONE in (REPO / "README.md").read_text(encoding="utf-8")
    example = REPO / "example_project"
    matrix = re.search(r"^python = (\[.*\])", (example / "vrun.toml").read_text(), re.M)
    assert matrix is not None
    wanted = json.loads(matrix.group(1))
    assert wanted == ["3.11", "3.12"]  # what the README says it needs
    missing = [v for v in wanted if v != RUNNING]
    others = [exe for exe in map(pyenv_cpython, missing) if exe is not None]
    if len(others) < len(missing):
        pytest.skip(f"needs pyenv's CPython {', '.join(missing)} to stand for the downloads")
    project = shutil.copytree(
        example,
        tmp_path / "example_project",
        ignore=shutil.ignore_patterns(".venvs", "__pycache__", "*.egg-info"),
    )
    env = one_python_env(_real_index_env(tmp_path / "home", tmp_path / "vrun-cache"), tmp_path)
    env["UV_PYTHON_DOWNLOADS_JSON_URL"] = str(fake_downloads(tmp_path, others))
    proc = Vrun(project, env)("test", timeout=600)
    _skip_if_unreachable("vrun test", proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for version in missing:
        assert f"installing Python {version} for test-{version} with uv" in proc.stderr
    for version in wanted:
        assert re.search(rf"test-{re.escape(version)}\s+passed", proc.stderr), proc.stderr
