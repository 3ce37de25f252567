"""``vrun lock``: write or ``--check`` each session's PEP 751 lock file."""

from __future__ import annotations

import argparse
import os

from vrun.commands._common import load, refuse_error
from vrun.errors import UsageError
from vrun.plan.planner import RecordingEnviron


def cmd_lock(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun lock [SESSION...]``: write each session's lock file, or ``--check`` them
    (:mod:`vrun.plan.lockfile`)."""
    from vrun.plan.lockfile import check_locks, sessions_to_lock, write_locks
    from vrun.plan.planner import plan_session

    if posargs is not None:
        raise UsageError("vrun lock takes no posargs")
    if args.check and (args.upgrade or args.upgrade_package):
        raise UsageError("--check writes nothing, so it takes no --upgrade or --upgrade-package")
    config, _ = load(args)
    sessions = sessions_to_lock(config, args.sessions)
    environ = RecordingEnviron(os.environ)
    entries = [plan_session(config, s, environ, backend=args.backend) for s in sessions]
    for entry in entries:
        refuse_error(entry)
    if args.check:
        return check_locks(entries)
    write_locks(
        config, sessions, entries, os.environ, upgrade=args.upgrade, upgrade_packages=args.upgrade_package
    )
    return 0
