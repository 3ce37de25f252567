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
    line (:mod:`vrun.cli`) plans for and calls; anything else goes through the command line, with
    the plan-cache names derived here once (:func:`vrun.plan.cache.parse`). Both run inside the one
    error boundary (:class:`vrun.errors.Boundary`), which owns the exit status.
    """
    from vrun.errors import Boundary
    from vrun.plan.cache import lookup, parse

    with Boundary() as boundary:
        parsed = parse(argv)
        plan = None if parsed is None else lookup(parsed[0], os.environ)
        if parsed is None or plan is None:
            from vrun.cli import main as cli_main

            boundary.code = cli_main(argv, None if parsed is None else parsed[0])
        else:
            from vrun.run.loop import run_plan
            from vrun.run.rules import RunOptions

            names, posargs = parsed
            boundary.code, _ = run_plan(plan, posargs, RunOptions(), os.environ)
            if plan.get("changed") and boundary.code < 128:  # an env was built: store where it is
                from vrun.plan.cache import store

                store(names, plan, os.environ)
    return boundary.code


def leave(code: int) -> NoReturn:
    """Exit with ``code`` as the ``vrun`` command does: flush, then leave without the interpreter's
    teardown (~1 ms of a warm run; nothing vrun holds needs it: vrun registers no atexit cleanup, a
    project build removes its temporary folders itself). Output that could not be written turns
    success into 1; its stream then points at ``/dev/null`` (:func:`vrun.output.stream_gone`), so
    that the teardown's own flush cannot fail again (Python would exit 120)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            from vrun.output import stream_gone

            stream_gone(stream)
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    leave(run(sys.argv[1:]))
