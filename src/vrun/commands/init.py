"""``vrun init``: write a ``vrun.toml`` translated from the project's tox or nox config."""

from __future__ import annotations

import argparse
from pathlib import Path

from vrun import output


def cmd_init(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun init``: write a vrun.toml translated from the project's tox or nox config
    (:mod:`vrun.migrate.translate`)."""
    from vrun.migrate.translate import write_config

    path, notes = write_config(Path.cwd())
    print(f"wrote {path}")
    for note in notes:
        output.warning(f"not translated: {note}")
    return 0
