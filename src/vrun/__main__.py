"""``python -m vrun`` and the ``vrun`` command (``scripts/vrun``)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def main() -> None:
    """Run vrun with ``sys.argv`` and exit with its status (:func:`run`)."""
    sys.exit(run(sys.argv[1:]))


def run(argv: list[str]) -> int:
    """Run vrun with ``argv`` (without the program name); return the exit status.

    A plain ``vrun NAME... [-- POSARGS]`` whose stored plan still holds (:mod:`vrun.plan.cache`)
    goes straight to the session loop, :func:`vrun.run.loop.run_plan`, the same one the full command
    line (:mod:`vrun.cli`) plans for and calls; anything else goes through the command line.
    """
    from vrun.plan.cache import lookup

    hit = lookup(argv, os.environ)
    if hit is None:
        from vrun.cli import main as cli_main

        return cli_main(argv)
    from vrun.errors import Interrupted
    from vrun.run.loop import run_plan
    from vrun.run.rules import RunOptions

    plan, posargs = hit
    try:
        code, _ = run_plan(plan, posargs, RunOptions(), os.environ)
    except KeyboardInterrupt:
        code = 130
    except Interrupted as exc:  # SIGTERM/SIGHUP between sessions: as cli.main does, no traceback
        code = 128 + exc.signum
    if plan.get("changed") and code < 128:  # an env was (re)built: the next run finds it ready
        from vrun.plan.cache import store

        store(argv[: argv.index("--")] if "--" in argv else argv, plan, os.environ)
    return code


def leave(code: int) -> NoReturn:
    """Exit with ``code`` as the ``vrun`` command does: flush, then leave without the interpreter's
    teardown (~1 ms of a warm run; nothing vrun holds needs it) unless an atexit cleanup is due (a
    project build's temporary folders). Output that could not be written turns success into 1."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    if "vrun.env.wheel" in sys.modules:
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    leave(run(sys.argv[1:]))
