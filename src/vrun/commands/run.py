"""``vrun run SESSION -- CMD``: any command in a session's env, as a session command runs."""

from __future__ import annotations

import argparse
import os

from vrun import output
from vrun.commands._common import load, one_session, ready
from vrun.errors import UsageError


def cmd_run(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun run SESSION -- CMD [ARGS...]``: run any command in the session's env.

    Composed and run as a session command is (:func:`vrun.run.compose.compose`,
    :func:`vrun.run.loop.run_composed`): the same environment, program lookup, echoed command
    line, signal rules and ``timeout``, in the current directory. The exit status is the
    command's own (like ``uv run``), 128+N when it was killed by signal N or vrun was interrupted
    by it, :data:`~vrun.run.rules.EXIT_TIMEOUT` (124) past the session's ``timeout``.

    :raises UsageError: no command was given (exit 2).
    :raises CommandNotFoundError: the program is not found (127), or not executable (126).
    """
    import time

    from vrun.run.compose import compose
    from vrun.run.loop import failure_reason, run_composed
    from vrun.run.rules import EXIT_TIMEOUT

    if not posargs:
        raise UsageError("vrun run needs a command", hint=f"vrun run {args.session} -- python -V")
    config = load(args)
    session = one_session(config, args.session)
    session_plan = ready(args, config, session)
    composed = compose(
        session_plan, None, caller=os.environ, project_root=str(config.root), tmp="keep", command=posargs
    )
    deadline = None if composed.timeout is None else time.monotonic() + composed.timeout
    command = composed.commands[0]
    _, outcome = run_composed(composed, command, deadline)
    if outcome.received is not None:
        return 128 + outcome.received
    if outcome.timed_out:
        output.error(failure_reason(outcome, command, composed.timeout) or "timed out")
        return EXIT_TIMEOUT
    return outcome.status
