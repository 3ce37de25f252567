"""The command line: parse and dispatch, inside the one error boundary. No other logic.

``vrun [NAME...] [-- POSARGS]`` runs sessions; a first word naming a built-in subcommand
(``list``, ``shell``, ``activate``, ``run``, ``path``, ``rm``, ``gc``, ``freeze``, ``explain``,
``show``, ``lock``, ...) runs that
instead. Exit statuses (docs/cli.md): 0 every selected session passed; 1 a session failed (its
command's own status is in the log and the report); 2 bad configuration or usage; 128+N
interrupted by signal N; ``vrun run`` and ``vrun shell`` pass their command's status through.
"""

from __future__ import annotations

from collections.abc import Sequence

from vrun import __version__, output
from vrun.arguments import build_parsers, normalize
from vrun.errors import Boundary

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    Handler = Callable[[argparse.Namespace, "list[str] | None"], int]


def handlers() -> dict[str, Handler]:
    """The subcommand handlers, by subcommand (``""`` runs sessions): one module per verb
    (:mod:`vrun.commands`), each handler taking the parsed arguments and the posargs and returning
    the exit status. Imported here, on the full path only: the warm path never reaches the cli."""
    from vrun.commands import (
        completion,
        explain,
        freeze,
        init,
        listing,
        lock,
        manage,
        run,
        sessions,
        shell,
        show,
    )

    return {
        "": sessions.cmd_sessions,
        "list": listing.cmd_list,
        "path": listing.cmd_path,
        "shell": shell.cmd_shell,
        "activate": shell.cmd_activate,
        "run": run.cmd_run,
        "rm": manage.cmd_rm,
        "gc": manage.cmd_gc,
        "freeze": freeze.cmd_freeze,
        "explain": explain.cmd_explain,
        "show": show.cmd_show,
        "lock": lock.cmd_lock,
        "init": init.cmd_init,
        "completion": completion.cmd_completion,
    }


def main(argv: Sequence[str], cache_names: list[str] | None = None) -> int:
    """Run vrun with ``argv`` (without the program name); return the exit status.

    Exit statuses are documented in docs/cli.md; vrun's own errors are reported by the one error
    boundary (:class:`vrun.errors.Boundary`), once, as an ``error:`` line and an optional
    ``hint:`` line (pypa/build's CLI boundary does the same).

    :param cache_names: the session names a plain invocation gives :mod:`vrun.plan.cache`
        (:func:`vrun.plan.cache.parse` of ``argv``, which :func:`vrun.__main__.run` derived); a
        plan made for it is stored under them. ``None``: nothing is stored.
    """
    with Boundary() as boundary:
        boundary.code = _dispatch(argv, cache_names, boundary)
    return boundary.code


def _dispatch(argv: Sequence[str], cache_names: list[str] | None, boundary: Boundary) -> int:
    """Parse ``argv`` and run its handler; :attr:`Boundary.output_only` says whether its work is
    its output (what argparse prints, ``--help``, is)."""
    boundary.output_only = True
    argv = list(argv)
    posargs: list[str] | None = None
    if "--" in argv:
        cut = argv.index("--")
        argv, posargs = argv[:cut], argv[cut + 1 :]
    parsers = build_parsers()
    argv = normalize(argv, parsers)
    if argv[:1] == ["help"]:
        target = argv[1] if len(argv) > 1 and argv[1] in parsers else ""
        parsers[target].print_help()
        return 0
    if argv[:1] == ["version"]:
        print(f"vrun {__version__}")
        return 0
    command = argv[0] if argv and argv[0] in parsers and argv[0] != "" else ""
    args = parsers[command].parse_args(argv[1:] if command else argv)
    args.cache_names = None if command else cache_names
    boundary.output_only = command in _OUTPUT_ONLY
    # a -p child's output is captured and shown whole: its parent draws the one status line
    output.configure(args.verbose - args.quiet, args.color, command != "" or args.parallel_child is None)
    return handlers()[command](args, posargs)


#: Subcommands whose work is their output: when its reader leaves (`vrun list | head`), they are done.
_OUTPUT_ONLY = frozenset({"list", "path", "activate", "freeze", "completion", "init", "explain", "show"})
