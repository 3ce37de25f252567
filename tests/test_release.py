"""A release as .github/workflows/release.yml makes it, offline: the sdist and the wheel built from
a copy of the sources, ``twine check --strict`` on both, and ``tools/release.py check`` (the tag
is the version from its one place, CHANGELOG.md has its dated section, dist/ holds those two files).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, _load_tool
from tests.test_packaging import _copy_sources, _offline
from vrun import __version__
from vrun.env.choice import find_uv

release = _load_tool("release")


@pytest.fixture(scope="module")
def dists(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding vrun's sdist and wheel, built offline with uv (setuptools from the
    wheelhouse), the wheel from the sdist as ``python -m build`` makes it."""
    uv = find_uv()
    if uv is None:
        pytest.skip("uv is not installed")
    if not any(int(w.name.split("-")[1].split(".")[0]) >= 77 for w in wheelhouse.glob("setuptools-*.whl")):
        pytest.skip("the wheelhouse has no setuptools >= 77 (PEP 639 license-files)")
    work = tmp_path_factory.mktemp("release")
    source = _copy_sources(work / "src")
    out = work / "dist"
    proc = subprocess.run(
        [uv, "build", "--out-dir", str(out), str(source)],
        env=_offline(wheelhouse, work / "home"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_both_dists_pass_twine_check(dists: Path) -> None:
    pytest.importorskip("twine")
    files = sorted(p for p in dists.iterdir() if not p.name.startswith("."))  # dist/*, as the workflow
    assert [p.name for p in files] == [
        f"vrun_cli-{__version__}-py3-none-any.whl",
        f"vrun_cli-{__version__}.tar.gz",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_release_check_as_the_workflow_runs_it(dists: Path) -> None:
    """``python tools/release.py check TAG --dist DIR``: 0 for this version's tag, 1 naming what is
    wrong for another tag or a dist folder holding something else."""
    script = [sys.executable, str(REPO / "tools" / "release.py"), "check"]
    ok = subprocess.run(
        [*script, f"v{__version__}", "--dist", str(dists)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert f"v{__version__} is ready" in ok.stdout
    wrong = subprocess.run([*script, "v9.9.9"], capture_output=True, text=True, check=False)
    assert wrong.returncode == 1
    assert f"tag 'v9.9.9' is not v{__version__}, the version in src/vrun/__init__.py" in wrong.stderr


def test_the_version_has_one_place_and_a_changelog_section(tmp_path: Path) -> None:
    assert release.version() == __version__
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'version = { attr = "vrun.__version__" }' in pyproject
    assert release.problems(f"v{__version__}") == []
    # a repository whose changelog lacks the section, and a dist folder with a stray file
    repo = tmp_path / "repo"
    (repo / "src" / "vrun").mkdir(parents=True)
    shutil.copy(REPO / "src" / "vrun" / "__init__.py", repo / "src" / "vrun" / "__init__.py")
    (repo / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n", encoding="utf-8")
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / f"vrun_cli-{__version__}.tar.gz").write_bytes(b"")
    assert release.problems(f"v{__version__}", repo, dist) == [
        f"CHANGELOG.md has no section '## [{__version__}] - YYYY-MM-DD'",
        f"CHANGELOG.md has no link reference '[{__version__}]: URL'",
        f"{dist} holds ['vrun_cli-{__version__}.tar.gz'], not "
        f"['vrun_cli-{__version__}-py3-none-any.whl', 'vrun_cli-{__version__}.tar.gz']",
    ]
