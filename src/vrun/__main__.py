"""``python -m vrun`` and the ``vrun`` command (``scripts/vrun``)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run vrun and exit with its status.

    A plain ``vrun NAME... [-- POSARGS]`` whose stored plan still holds (:mod:`vrun.plancache`)
    goes straight to the session loop, :func:`vrun.run.run_plan`, the same one the full command
    line (:mod:`vrun.cli`) plans for and calls; anything else goes through the command line.
    """
    argv = sys.argv[1:]
    from vrun.plancache import lookup

    hit = lookup(argv, os.environ)
    if hit is None:
        from vrun.cli import main as cli_main

        sys.exit(cli_main(argv))
    from vrun.errors import Interrupted
    from vrun.run import RunOptions, run_plan

    plan, posargs = hit
    try:
        code, _ = run_plan(plan, posargs, RunOptions(), os.environ)
    except KeyboardInterrupt:
        code = 130
    except Interrupted as exc:  # SIGTERM/SIGHUP between sessions: as cli.main does, no traceback
        code = 128 + exc.signum
    if "vrun.projectbuild" in sys.modules:  # it built something: let its atexit cleanup run
        sys.exit(code)
    _exit_now(code)


def _exit_now(code: int) -> None:
    """Flush and leave without the interpreter's teardown (~1 ms of a warm run): nothing the warm
    path holds needs it (locks are released, files closed, no atexit handler registered)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            if code == 0:
                code = 1  # output that could not be written is a failure, never a silent success
    os._exit(code)


if __name__ == "__main__":
    main()
