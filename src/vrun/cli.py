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


def handler(command: str) -> Handler:
    """The handler of ``command`` (``""`` runs sessions): one module per verb (:mod:`vrun.commands`),
    each handler taking the parsed arguments and the posargs and returning the exit status.

    Only the module of the verb asked for is imported (``vrun list`` does not load what ``freeze``
    or ``lock`` need: about 40 ms of imports on every cold run); the warm path never reaches the cli.

    :raises KeyError: ``command`` is not a subcommand.
    """
    if command == "":
        from vrun.commands.sessions import cmd_sessions

        return cmd_sessions
    if command in ("list", "path"):
        from vrun.commands import listing

        return listing.cmd_list if command == "list" else listing.cmd_path
    if command in ("shell", "activate"):
        from vrun.commands import shell

        return shell.cmd_shell if command == "shell" else shell.cmd_activate
    if command == "run":
        from vrun.commands.run import cmd_run

        return cmd_run
    if command in ("rm", "gc"):
        from vrun.commands import manage

        return manage.cmd_rm if command == "rm" else manage.cmd_gc
    if command == "freeze":
        from vrun.commands.freeze import cmd_freeze

        return cmd_freeze
    if command == "explain":
        from vrun.commands.explain import cmd_explain

        return cmd_explain
    if command == "show":
        from vrun.commands.show import cmd_show

        return cmd_show
    if command == "lock":
        from vrun.commands.lock import cmd_lock

        return cmd_lock
    if command == "init":
        from vrun.commands.init import cmd_init

        return cmd_init
    if command == "completion":
        from vrun.commands.completion import cmd_completion

        return cmd_completion
    raise KeyError(command)


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
    return handler(command)(args, posargs)


#: Subcommands whose work is their output: when its reader leaves (`vrun list | head`), they are done.
_OUTPUT_ONLY = frozenset({"list", "path", "activate", "freeze", "completion", "init", "explain", "show"})
