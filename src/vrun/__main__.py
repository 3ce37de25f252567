"""``python -m vrun`` and the ``vrun`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line and exit with its status.

    A plain ``vrun NAME...`` whose inputs are all unchanged runs from the plan cache
    (:mod:`vrun.fastpath`); everything else goes through the full command line.
    """
    from vrun.fastpath import try_fast

    code = try_fast(sys.argv[1:])
    if code is None:
        from vrun.cli import main as cli_main

        code = cli_main(sys.argv[1:])
    sys.exit(code)


if __name__ == "__main__":
    main()
