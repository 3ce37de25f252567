"""The command line: parse, dispatch, print errors, choose the exit status. No other logic.

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
from vrun.errors import Interrupted, VrunError

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


def main(argv: Sequence[str]) -> int:
    """Run vrun with ``argv`` (without the program name); return the exit status.

    Exit statuses are documented in docs/cli.md; vrun's own errors are reported here, once, as an
    ``error:`` line and an optional ``hint:`` line (pypa/build's CLI boundary does the same).
    """
    from vrun.plan.cache import parse

    allowed = parse(argv)
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
    args.cache_names = allowed[0] if allowed is not None and not command else None
    # a -p child's output is captured and shown whole: its parent draws the one status line
    output.configure(args.verbose - args.quiet, args.color, getattr(args, "parallel_child", None) is None)
    try:
        return handlers()[command](args, posargs)
    except VrunError as exc:
        output.error(exc.message, exc.hint, getattr(exc, "output", ""))
        return exc.exit_code
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    except Interrupted as exc:
        output.error("interrupted")
        return 128 + exc.signum
    except BrokenPipeError:  # `vrun list | head`: the reader left; nothing more to say
        output.stdout_gone()
        return 0 if command in _OUTPUT_ONLY else 1


#: Subcommands whose work is their output: when its reader leaves (`vrun list | head`), they are done.
_OUTPUT_ONLY = frozenset({"list", "path", "activate", "freeze", "completion", "init", "explain", "show"})
