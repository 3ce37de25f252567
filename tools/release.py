"""What a release needs before it is published: run by ``.github/workflows/release.yml`` on a version tag.

``python tools/release.py check TAG [--dist DIR]`` exits 0 when

- ``TAG`` is ``v`` + the version, read from its one place, ``__version__`` in
  ``src/vrun/__init__.py`` (``pyproject.toml`` takes it from there: ``dynamic = ["version"]``);
- ``CHANGELOG.md`` has that version's section, ``## [X.Y.Z] - YYYY-MM-DD`` (Keep a Changelog), and
  its link reference, ``[X.Y.Z]: ...``;
- with ``--dist``, ``DIR`` holds exactly that version's sdist and wheel of ``vrun-cli`` (hidden files aside)
  (``vrun_cli-X.Y.Z.tar.gz`` and ``vrun_cli-X.Y.Z-py3-none-any.whl``, PEP 625 and PEP 427 names);

else it prints each problem on its own line and exits 1. The source is read, not imported, so it
runs before vrun is installed.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The distribution's name as its files spell it (PEP 503 normalized, ``-`` as ``_``).
DIST_NAME = "vrun_cli"


def version(repo: Path = REPO) -> str:
    """``__version__`` of ``src/vrun/__init__.py``, read with :mod:`ast` (no import)."""
    tree = ast.parse((repo / "src" / "vrun" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise LookupError("src/vrun/__init__.py has no __version__ string")


def problems(tag: str, repo: Path = REPO, dist: Path | None = None) -> list[str]:
    """What stops ``tag`` from being released from ``repo`` (and ``dist``); empty when nothing does."""
    found = []
    current = version(repo)
    if tag != f"v{current}":
        found.append(f"tag {tag!r} is not v{current}, the version in src/vrun/__init__.py")
    changelog = (repo / "CHANGELOG.md").read_text(encoding="utf-8")
    escaped = re.escape(current)
    if not re.search(rf"^## \[{escaped}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M):
        found.append(f"CHANGELOG.md has no section '## [{current}] - YYYY-MM-DD'")
    if not re.search(rf"^\[{escaped}\]: \S+$", changelog, re.M):
        found.append(f"CHANGELOG.md has no link reference '[{current}]: URL'")
    if dist is not None:
        expected = {f"{DIST_NAME}-{current}.tar.gz", f"{DIST_NAME}-{current}-py3-none-any.whl"}
        # hidden files are no dists: uv build writes a .gitignore there, and dist/* skips them
        present = {p.name for p in dist.iterdir() if not p.name.startswith(".")} if dist.is_dir() else set()
        if present != expected:
            found.append(f"{dist} holds {sorted(present)}, not {sorted(expected)}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/release.py", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check a tag, the changelog and the dists before publishing")
    check.add_argument("tag", help="the tag being released, e.g. v0.1.0")
    check.add_argument("--dist", type=Path, help="the folder holding the built sdist and wheel")
    args = parser.parse_args(argv)
    found = problems(args.tag, dist=args.dist)
    for problem in found:
        print(f"release: {problem}", file=sys.stderr)
    if not found:
        print(f"release: {args.tag} is ready: version {version()}, its CHANGELOG.md section, its dists")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
