"""``python -m vrun`` and the ``vrun`` console script."""

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
    sys.exit(code)


if __name__ == "__main__":
    main()
