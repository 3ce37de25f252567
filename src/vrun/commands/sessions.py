"""``vrun [NAME...]``: plan the selected sessions, run them in the one session loop, write reports."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from vrun import inputs, output
from vrun.commands._common import load_with_script, options
from vrun.config.load import BUILTIN_COMMANDS
from vrun.config.selection import select_sessions
from vrun.errors import EXIT_FAILURE, EXIT_USAGE, UsageError
from vrun.plan.planner import RecordingEnviron, make_plan
from vrun.plan.pythons import downloads_policy
from vrun.run.loop import run_plan

if TYPE_CHECKING:
    from collections.abc import Callable

    from vrun._types import Plan, SessionResult


def cmd_sessions(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun [NAME...]``: plan the selected sessions, run them, store the plan when allowed. One
    NAME may instead be a script with a PEP 723 block, ``vrun SCRIPT.py [-- ARGS]``: it runs alone,
    as a session of its own planned and run like any other (:func:`vrun.commands._common.load_with_script`).

    Posargs go to the sessions the user selected, not to those pulled in by ``requires``. The plan
    is stored (:mod:`vrun.plan.cache`) only for an invocation in the allow-list (``args.cache_names``).
    ``--report`` and ``--junitxml`` are written from the results. ``--parallel-child PLAN`` (what
    :mod:`vrun.run.parallel` starts) runs the stored plan of one session instead of planning.
    """
    import time

    from vrun.plan import cache

    started, clock = time.time(), time.monotonic()
    if args.parallel_child is not None:
        import marshal

        with open(args.parallel_child, "rb") as fh:
            plan: Plan = marshal.load(fh)  # the plan of one session, made by vrun.run.parallel
        code, results = run_plan(plan, posargs, options(args), os.environ)
        return write_reports(args, results, code, started, time.monotonic() - clock)

    clashing = [n for n in args.sessions if n in BUILTIN_COMMANDS]
    if clashing:
        raise UsageError(
            f"{clashing[0]!r} is a subcommand, not a session",
            hint=f"put options after it: vrun {clashing[0]} ...",
        )
    environ = RecordingEnviron(os.environ)
    with inputs.recording() as recorder:
        config, notices, names = load_with_script(args, args.sessions, environ)
        sessions = select_sessions(config, names, keyword=args.keyword, tags=args.tag)
        direct = select_sessions(config, names, keyword=args.keyword, tags=args.tag, with_requires=False)
        plan = make_plan(
            config,
            sessions,
            explicit={s.name for s in direct},
            environ=environ,
            backend=args.backend,
            notices=notices,
            locked=args.locked,
            refuse=True,
            named=args.sessions,
            downloads=downloads_policy(config.python_downloads, args.download_python, environ),
        )
    plan.update(
        {"inputs": dict(recorder.files), "environ": dict(recorder.environ), "started_ns": recorder.started_ns}
    )
    code, results = run_plan(plan, posargs, options(args), os.environ)
    if args.cache_names is not None and code != EXIT_USAGE:
        cache.store(args.cache_names, plan, os.environ)
    return write_reports(args, results, code, started, time.monotonic() - clock)


def write_reports(
    args: argparse.Namespace, results: list[SessionResult], code: int, started: float, duration: float
) -> int:
    """Write ``--report FILE`` (:func:`vrun.report.results.json_report`) and ``--junitxml FILE``; return the
    exit status: ``code``, or 1 instead of 0 when a file could not be written (an ``error:`` line)."""
    if args.report is None and args.junitxml is None:
        return code
    from vrun import __version__
    from vrun.report.results import json_report, write_json_report, write_junit

    written = True
    if args.report is not None:
        report = json_report(
            results,
            version=__version__,
            argv=sys.argv[1:],
            exit_code=code,
            started=started,
            duration=duration,
        )
        written = _written(args.report, "--report", lambda: write_json_report(args.report, report))
    if args.junitxml is not None:
        written = (
            _written(args.junitxml, "--junitxml", lambda: write_junit(args.junitxml, results)) and written
        )
    return code if written else code or EXIT_FAILURE


def _written(path: str, option: str, write: Callable[[], None]) -> bool:
    """Run ``write``; on failure an ``error:`` line naming ``path`` as given (not the temporary
    file beside it) and False."""
    try:
        write()
    except OSError as exc:
        output.error(f"cannot write {option} {path}: {exc.strerror or exc}")
        return False
    return True
