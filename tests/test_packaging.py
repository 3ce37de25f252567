"""vrun as a distribution: its name, license metadata (PEP 639), URLs and classifiers, the
``vrun`` script installers put on PATH, and no doc or hint that installs PyPI's unrelated ``vrun``.

The wheel is built offline (``uv build`` from a copy of the sources, setuptools from the test
wheelhouse); the ``network`` test installs it the way the README says, with ``uv tool install``.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from email.message import Message
from pathlib import Path

import pytest

from tests.conftest import REPO
from vrun import __version__
from vrun._compat import tomllib
from vrun.env.choice import find_uv

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _offline(wheelhouse: Path, home: Path) -> dict[str, str]:
    """uv reading the wheelhouse and nothing else, with a private cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_", "VIRTUAL_ENV"))}
    env.update(UV_OFFLINE="1", UV_FIND_LINKS=str(wheelhouse), UV_NO_CONFIG="1", HOME=str(home))
    env.update(UV_CACHE_DIR=str(home / "uv-cache"))
    return env


def _copy_sources(dest: Path) -> Path:
    """What the build reads, copied to ``dest``, so building (setuptools writes ``build/`` and
    ``*.egg-info`` beside the sources) leaves the repository alone."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, dest / name)
    for name in ("src", "scripts"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


@pytest.fixture(scope="module")
def wheel(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vrun's wheel, built offline with uv (setuptools from the wheelhouse)."""
    uv = find_uv()
    if uv is None:
        pytest.skip("uv is not installed")
    setuptools = [
        w for w in wheelhouse.glob("setuptools-*.whl") if int(w.name.split("-")[1].split(".")[0]) >= 77
    ]
    if not setuptools:
        pytest.skip("the wheelhouse has no setuptools >= 77 (PEP 639 license-files)")
    work = tmp_path_factory.mktemp("build")
    source = _copy_sources(work / "src")
    out = work / "dist"
    proc = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(source)],
        env=_offline(wheelhouse, work / "home"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("*.whl")
    return built


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode())


def test_wheel_metadata(wheel: Path) -> None:
    """The name, version, PEP 639 license fields (with the license file in the wheel), URLs,
    Python range, and the ``vrun`` script as a data script (not an entry point)."""
    assert wheel.name == f"vrun_cli-{__version__}-py3-none-any.whl"
    meta = _metadata(wheel)
    assert meta["Name"] == "vrun-cli"
    assert meta["Version"] == __version__
    assert meta["Metadata-Version"] in ("2.4", "2.5")  # License-Expression needs 2.4
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.9"
    urls = dict(value.split(", ", 1) for value in meta.get_all("Project-URL") or [])
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        license_text = zf.read(f"vrun_cli-{__version__}.dist-info/licenses/LICENSE").decode()
        script = zf.read(f"vrun_cli-{__version__}.data/scripts/vrun").decode()
    assert license_text == (REPO / "LICENSE").read_text(encoding="utf-8")
    assert script.startswith("#!python\n")  # installers rewrite it to the env's interpreter
    assert "vrun/py.typed" in names
    assert not [n for n in names if n.endswith("entry_points.txt")]  # no wrapper importing re


def test_installers_put_the_script_in_bin(wheel: Path, wheelhouse: Path, tmp_path: Path) -> None:
    """Installed into a venv (what pipx and ``uv tool`` do before linking ``bin/vrun``), the script
    lands in ``bin/`` with its ``#!`` pointing at the env's python."""
    uv = find_uv()
    assert uv is not None
    env = _offline(wheelhouse, tmp_path)
    venv = tmp_path / "venv"
    for argv in (
        [uv, "venv", "--python", sys.executable, str(venv)],
        [uv, "pip", "install", "--python", str(venv / "bin" / "python"), "--no-deps", str(wheel)],
    ):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    script = venv / "bin" / "vrun"
    assert os.access(script, os.X_OK)
    first = script.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"#!{venv / 'bin' / 'python'}", first


def test_license_and_classifiers() -> None:
    assert PROJECT["name"] == "vrun-cli"
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    assert "License ::" not in " ".join(PROJECT["classifiers"])  # PEP 639: the expression, not both
    versions = [c.rsplit(" ", 1)[1] for c in PROJECT["classifiers"] if re.fullmatch(r".*:: 3\.\d+", c)]
    assert versions == ["3.9", "3.10", "3.11", "3.12", "3.13"]
    assert PROJECT["requires-python"] == f">={versions[0]}"
    assert "Operating System :: POSIX" in PROJECT["classifiers"]
    assert not [c for c in PROJECT["classifiers"] if "Windows" in c or "OS Independent" in c]


def test_urls_are_one_repository() -> None:
    urls = PROJECT["urls"]
    repository = urls["Source"]
    assert urls["Homepage"] == repository
    assert urls["Issues"] == f"{repository}/issues"
    assert urls["Changelog"] == f"{repository}/blob/main/CHANGELOG.md"
    assert (REPO / "CHANGELOG.md").is_file()
    mkdocs = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^repo_url: (\S+)$", mkdocs, re.M)[1] == repository  # type: ignore[index]


#: An install of PyPI's unrelated ``vrun`` (or of the ``uv`` extra vrun-cli no longer has):
#: ``pip install vrun``, ``pipx install --python X vrun``, ``uv tool install 'vrun[uv]'``...
_WRONG_INSTALL = re.compile(
    r"\b(?:pip|pipx|uv\s+tool|uv\s+pip)\s+install\s+"
    r"(?:-[^\s`]+\s+(?:\"[^\"]*\"\s+|[^\s`'\"-][^\s`]*\s+)?)*['\"]?vrun(?![\w-])"
)


def _files_that_talk_about_installing() -> Mapping[str, str]:
    paths = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
    paths += [*sorted((REPO / "src" / "vrun").glob("*.py")), REPO / ".ci" / "run"]
    paths += [*sorted((REPO / ".github").rglob("*.yml")), REPO / "benchmarks" / "README.md"]
    return {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in paths if p.is_file()}


def test_no_doc_or_hint_installs_the_wrong_vrun() -> None:
    found = [
        f"{name}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
        for name, text in _files_that_talk_about_installing().items()
        for m in _WRONG_INSTALL.finditer(text)
    ]
    assert not found, "PyPI's vrun is another project; install vrun-cli:\n" + "\n".join(found)
    assert not [name for name, text in _files_that_talk_about_installing().items() if "vrun[uv]" in text]


def test_the_wrong_install_pattern_has_teeth() -> None:
    for line in (
        "pip install vrun",
        "python -m pip install 'vrun[uv]'",
        'pipx install --python "${{ x }}" vrun',
        "uv tool install vrun",
    ):
        assert _WRONG_INSTALL.search(line), line
    for line in (
        "pipx install vrun-cli",
        "pip install . && .venv/bin/vrun test",
        "uv tool install vrun-cli",
        "`pipx install --python` runs vrun",
        "install vrun into a venv",
    ):
        assert not _WRONG_INSTALL.search(line), line


@pytest.mark.network
@pytest.mark.parametrize("installer", ["uv tool", "pipx"])
def test_tool_installers_expose_vrun(installer: str, tmp_path: Path) -> None:
    """``uv tool install`` and ``pipx install`` (the README's installs) put a working ``vrun`` on
    PATH, although it is a script file rather than an entry point."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PIPX_", "UV_TOOL"))}
    bin_dir = tmp_path / "bin"
    source = _copy_sources(tmp_path / "src")
    if installer == "uv tool":
        uv = find_uv()
        assert uv is not None
        env.update(UV_TOOL_DIR=str(tmp_path / "tools"), UV_TOOL_BIN_DIR=str(bin_dir))
        argv = [uv, "tool", "install", "--python", sys.executable, "--from", str(source), "vrun-cli"]
    else:
        pipx = shutil.which("pipx")
        if pipx is None:
            pytest.skip("pipx is not installed")
        env.update(
            PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(bin_dir), PIPX_MAN_DIR=str(tmp_path / "man")
        )
        argv = [pipx, "install", "--python", sys.executable, str(source)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    version = subprocess.run([str(bin_dir / "vrun"), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"vrun {__version__}"


@pytest.mark.parametrize(
    ("page", "heading"),
    [
        ("README.md", "## Install\n"),
        ("docs/index.md", "## Install and platforms\n"),
        ("docs/tutorial.md", "## 1. Install vrun\n"),
    ],
)
def test_install_sections_lead_with_an_install_that_works_today(page: str, heading: str) -> None:
    """vrun-cli is not on PyPI until its first release: each install section gives an install from
    a clone first (``pipx install .``, ``uv tool install .``), and the PyPI one only after saying
    it is the way once released."""
    text = (REPO / page).read_text(encoding="utf-8")
    start = text.index(heading)
    section = text[start : text.find("\n## ", start + len(heading))]
    clone, pypi = section.find("pipx install ."), section.find("install vrun-cli")
    assert "git clone https://github.com/vrun-dev/vrun" in section
    assert 0 <= clone < pypi, section
    assert "uv tool install ." in section[:pypi]
    assert "first release" in section[:pypi]
