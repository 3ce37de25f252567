"""The documentation site: ``mkdocs build --strict`` passes and every page of docs/ is in its nav.

The build needs mkdocs-material (in the ``test`` dependency group, so ``vrun test`` has it); the
tests that build skip only where mkdocs cannot be imported. The nav check needs nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, configschema

MKDOCS_YML = REPO / "mkdocs.yml"


def _nav_pages() -> list[str]:
    """The pages mkdocs.yml's nav names (``- Title: page.md``), read as text (the file holds a
    Python tag a plain YAML loader refuses)."""
    text = MKDOCS_YML.read_text(encoding="utf-8")
    nav = re.search(r"^nav:\n((?:[ \t]+.*\n|\n)+)", text, re.M)
    assert nav, "mkdocs.yml has no nav"
    return re.findall(r"^\s*- (?:[^:\n]+: )?(\S+\.md)(?:#\S*)?\s*$", nav.group(1), re.M)


def test_every_docs_page_is_in_the_nav() -> None:
    """A page added to docs/ (by any branch) must be added to mkdocs.yml's nav too."""
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md"))
    nav = _nav_pages()
    missing = [page for page in pages if page not in nav]
    assert not missing, f"add {', '.join(missing)} to the nav of mkdocs.yml"
    assert not [page for page in nav if page not in pages], "the nav names a page docs/ does not have"
    assert len(nav) == len(set(nav)), "a page is in the nav twice"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by ``mkdocs build --strict`` (a warning, a broken link or anchor fails it)."""
    pytest.importorskip("mkdocs", reason="mkdocs-material is not installed (it is in the test group)")
    pytest.importorskip("material", reason="mkdocs-material is not installed (it is in the test group)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(MKDOCS_YML), "-d", str(out)],
        cwd=REPO,  # the changelog's snippet path is relative to the root
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_strict_build(site: Path) -> None:
    """Every page is rendered, the changelog is included, and the schemas are served where their
    ``$id`` says (docs/ files other than pages are copied as they are)."""
    for page in _nav_pages():
        name = page.removesuffix(".md")
        assert (site / ("index.html" if name == "index" else f"{name}/index.html")).is_file(), page
    assert "Unreleased" in (site / "changelog" / "index.html").read_text(encoding="utf-8")
    for name, text in configschema.files().items():
        assert (site / name).read_text(encoding="utf-8") == text
        assert configschema.build_schema()["$id"].startswith(configschema.DOCS_URL)


def test_schema_links_resolve(site: Path) -> None:
    """Every documentation link in the JSON Schema (hover text, taplo's key links) points at a
    page and an anchor the site has."""
    text = configschema.render(configschema.build_schema())
    links = set(re.findall(re.escape(configschema.DOCS_URL) + r"[^\s\"\\]*", text))
    links -= {configschema.build_schema()["$id"]}
    assert len(links) > 5
    for link in links:
        path, _, anchor = link.removeprefix(configschema.DOCS_URL).partition("#")
        page = site / path / "index.html"
        assert page.is_file(), link
        if anchor:
            assert f'id="{anchor}"' in page.read_text(encoding="utf-8"), link
