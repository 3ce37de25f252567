"""The rules the serial session loop (:mod:`vrun.run.loop`) and ``-p`` (:mod:`vrun.run.parallel`)
share: the run options, a session's result before it runs, why a session must not start, and
vrun's exit status for a run's results. Both import this module; neither imports the other's
internals (nox keeps the same rules in ``sessions`` below ``tasks`` and ``_parallel``).
"""

from __future__ import annotations

from vrun.errors import EXIT_FAILURE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from vrun._types import SessionPlan, SessionResult


#: The exit status of a session that ran past its ``timeout`` (GNU ``timeout``'s convention).
EXIT_TIMEOUT = 124


class RunOptions:
    """How to run a plan: the command line's choices.

    :param recreate: rebuild envs even when one is ready (``-r``).
    :param no_install: reuse envs as they are; fail a session whose env is not ready (``--no-install``).
    :param skip_missing_interpreters: a session whose interpreter is missing is SKIPPED instead of
        FAILED; never in CI (:func:`vrun.output.ci_name`), as tox does (:func:`missing_skip`).
    :param fail_fast: after the first failed session start no other; the rest are skipped (``-x``).
    :param install_only: make the envs ready, run no command (``--install-only``).
    :param jobs: run up to this many sessions at once (``-p N``, :mod:`vrun.run.parallel`); 0: one by one.
    :param child: this vrun runs one session for a ``-p`` parent, which prints the summary, folds
        the log and reports to CI itself.
    """

    __slots__ = ("child", "fail_fast", "install_only", "jobs", "no_install", "recreate", "skip_missing")

    def __init__(
        self,
        *,
        recreate: bool = False,
        no_install: bool = False,
        skip_missing_interpreters: bool = False,
        fail_fast: bool = False,
        install_only: bool = False,
        jobs: int = 0,
        child: bool = False,
    ) -> None:
        self.recreate = recreate
        self.no_install = no_install
        self.skip_missing = skip_missing_interpreters
        self.fail_fast = fail_fast
        self.install_only = install_only
        self.jobs = jobs
        self.child = child


def exit_status(results: Sequence[SessionResult]) -> int:
    """vrun's exit status for these session results, as tox 4 chooses it (tox PR #3768).

    An interrupt wins: 128+N for signal N. One session that failed gives its own status: the
    failing command's (3 for ``exit 3``, 128+N when a signal N killed it, 127 not found,
    126 not executable, 124 past ``timeout``), 2 for an error in its configuration, 1 when its env
    could not be built. Several sessions give 1 when any failed, or was skipped because a
    session it requires did not pass (each command's own status is in the log and the report).
    A run in which every session was skipped (their Pythons missing: :func:`missing_skip`) gives 1:
    it tested nothing, so it did not pass (tox 4 does the same: tox-dev/tox#2206, #2828). Else 0.
    """
    for result in results:
        if result["reason"].startswith("interrupted by"):
            return int(result["exit_code"])
    if len(results) == 1 and results[0]["status"] == "failed":
        return int(results[0]["exit_code"]) or EXIT_FAILURE
    for result in results:
        if result["status"] == "failed" or result["reason"].startswith("requires "):
            return EXIT_FAILURE
    if results and all(result["status"] == "skipped" for result in results):
        return EXIT_FAILURE
    return 0


def missing_skip(session_plan: SessionPlan, options: RunOptions, ci: str | None) -> str | None:
    """Whether the session of ``session_plan``, whose interpreter planning did not find, is skipped
    rather than failed: the line that says so (naming how to get the interpreter), else ``None``.

    Skipped outside CI (``ci`` is :func:`vrun.output.ci_name`'s answer) with
    ``--skip-missing-interpreters``, and without it for a matrix entry the command line did not
    name by its full name (``vrun test`` or a bare ``vrun`` on a laptop with one of the matrix's
    Pythons missing: the others still run). A session named in full (``vrun test-3.12``), a
    session that is not a matrix entry, and any session under CI (a missing Python there is a
    broken CI image, as tox holds) fail. Not for a session whose interpreter was found.
    """
    if session_plan["error"] is None or not session_plan["missing_interpreter"] or ci is not None:
        return None
    if not options.skip_missing and (session_plan["named"] or not session_plan["matrix"]):
        return None
    reason = session_plan["error_reason"]
    return f"skipping {session_plan['name']}: {reason}; {session_plan['error_hint']}"


def new_result(session_plan: SessionPlan) -> SessionResult:
    """The result of ``session_plan``'s session before it runs: passed, no commands."""
    interpreter = session_plan["interpreter"]
    return {
        "name": session_plan["name"],
        "python": {
            "spec": session_plan["python"],
            "version": None if interpreter is None else interpreter["version"],
            "executable": None if interpreter is None else interpreter["executable"],
        },
        "env_dir": session_plan["env_dir"],
        "env_key": session_plan["digest"],
        "status": "passed",
        "reason": "",
        "exit_code": 0,
        "duration": 0.0,
        "commands": [],
    }


def skip_reason(
    session_plan: SessionPlan, results: Mapping[str, SessionResult], options: RunOptions
) -> str | None:
    """Why ``session_plan``'s session must not start, given the results so far: ``fail-fast`` (``-x`` after a
    failure) or a session it requires that did not pass; None when it may run."""
    if options.fail_fast and any(r["status"] == "failed" for r in results.values()):
        return "fail-fast"
    blocked = [r for r in session_plan["requires"] if r not in results or results[r]["status"] != "passed"]
    if blocked:
        return f"requires {', '.join(blocked)}, which did not pass"
    return None
