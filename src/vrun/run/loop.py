"""The one session loop: order, requires, locks, envs, commands, results, summary, exit status.

:func:`run_plan` takes a plan (:mod:`vrun.plan.planner` made it just now, or :mod:`vrun.plan.cache`
stored it earlier and vouched that every input is unchanged) and runs it. There is no other
loop: a rule about running sessions, the exit status or how results look is made here once
(docs/architecture.md, "The warm path": it is the same path).

Light on purpose: importing it imports, of vrun's, only :mod:`vrun.run.rules`,
:mod:`vrun.run.compose` (with :mod:`vrun.environ` and :mod:`vrun.placeholders`),
:mod:`vrun.env.flock`, :mod:`vrun.env.layout`, :mod:`vrun.process`, :mod:`vrun.output`,
:mod:`vrun.errors` and :mod:`vrun.inputs` (:mod:`vrun.report.ci` only under CI), and of
the standard library only ``os``, ``sys``, ``stat``, ``time``, ``errno`` and ``_signal``; a warm run
adds only :mod:`vrun.__main__` and the plan cache (docs/architecture.md, "The warm path", lists all
seventeen; benchmarks/README.md, "Import costs", what they cost). Building an env imports
:mod:`vrun.env.build` (and through it virtualenv or uv) only when an env is not ready, and
``-p`` imports :mod:`vrun.run.parallel`.
"""

from __future__ import annotations

import os
import time

from vrun import output
from vrun.env.flock import holders, lock_for
from vrun.env.layout import MARKER, link_last_used, project_stamp, touch_used, venvs_usable
from vrun.errors import EXIT_USAGE, CommandNotFoundError, Interrupted, VrunError
from vrun.inputs import signature
from vrun.output import ci_name
from vrun.process import handle, restore, run_command, signal_name
from vrun.run.compose import compose, phases, preview_argvs, unset_variable
from vrun.run.rules import EXIT_TIMEOUT, RunOptions, exit_status, missing_skip, new_result, skip_reason

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Mapping, Sequence

    from vrun._types import Plan, RunnableSessionPlan, SessionPlan, SessionResult
    from vrun.env.flock import EnvLock
    from vrun.process import Outcome
    from vrun.run.compose import Command, Composed
else:  # the C module: ``signal`` builds its enums at import (benchmarks/README.md, "Import costs")
    import _signal as signal


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def run_plan(
    plan: Plan, posargs: Sequence[str] | None, options: RunOptions, environ: Mapping[str, str]
) -> tuple[int, list[SessionResult]]:
    """Run every session of ``plan`` in order, print the summary; return ``(exit status, results)``.

    Posargs go to the sessions the user named (``explicit``), not to those pulled in by
    ``requires``; naming a session that takes none is a usage error (exit 2) before anything runs.
    A session whose requirement did not pass is skipped. SIGTERM and SIGHUP outside a command
    (while vrun itself works, e.g. building) stop the run like Ctrl-C: the partial env is removed,
    the exit status is 128+N. With ``options.jobs`` the sessions run at once (:mod:`vrun.run.parallel`).
    Under GitHub Actions the failed sessions are annotated and the results appended to
    ``$GITHUB_STEP_SUMMARY``. The exit status: :func:`exit_status`.
    """
    for session_plan in plan["sessions"]:
        planned = [c for _, commands in phases(session_plan) for c in commands]
        if posargs and session_plan["explicit"] and planned and not session_plan["posargs"]:
            example = (session_plan["commands"] or planned)[0][2]
            output.error(
                f"session {session_plan['name']} does not take posargs ({' '.join(posargs)})",
                f'add {{posargs}} to one of its commands, e.g. commands = ["{example} {{posargs}}"]',
            )
            return EXIT_USAGE, []
        unset = (
            None
            if options.install_only
            else unset_variable(session_plan, posargs if session_plan["explicit"] else None, environ)
        )
        if unset is not None:
            output.error(unset.message, unset.hint)
            return EXIT_USAGE, []
    for notice in plan["notices"]:
        output.warning(notice)
    old = handle((signal.SIGTERM, signal.SIGHUP), _raise_interrupted)
    try:
        if options.jobs:
            from vrun.run.parallel import run_parallel

            results = run_parallel(plan, posargs, options, environ)
        else:
            results = run_sessions(plan, posargs, options, environ)
    finally:
        restore(old)
    if not options.child:
        output.summary(results)
        report_to_ci(results, environ)
    return exit_status(results), results


def report_to_ci(results: Sequence[SessionResult], environ: Mapping[str, str]) -> None:
    """Under GitHub Actions: an ``::error`` annotation per failed session (``::warning`` per skipped
    one) on stdout, and the results table appended to ``$GITHUB_STEP_SUMMARY``."""
    if ci_name(environ) != "github-actions":
        return
    from vrun.report.ci import append_step_summary, github_annotations  # only under CI: not on the warm path

    for line in github_annotations(results):
        output.stdout_line(line)
    try:
        append_step_summary(environ, results)
    except OSError as exc:
        output.warning(f"could not append to GITHUB_STEP_SUMMARY: {exc}")


def run_sessions(
    plan: Plan, posargs: Sequence[str] | None, options: RunOptions, environ: Mapping[str, str]
) -> list[SessionResult]:
    """The session loop. Never raises for a session's own failure: a missing interpreter, a failed
    build or a failed command becomes its result. An interrupt stops the loop after that session."""
    ci = ci_name(environ)
    in_ci = ci is not None
    results: dict[str, SessionResult] = {}
    for session_plan in plan["sessions"]:
        start = time.monotonic()
        result = results[session_plan["name"]] = new_result(session_plan)
        reason = skip_reason(session_plan, results, options)
        if reason is not None:
            result.update({"status": "skipped", "reason": reason})
            output.warning(f"skipping {session_plan['name']}: {reason}")
            continue
        skip = missing_skip(session_plan, options, ci)
        if skip is not None:
            result.update({"status": "skipped", "reason": session_plan["error_reason"] or ""})
            output.warning(skip)
            continue
        if session_plan["error"] is not None and session_plan["missing_interpreter"] and options.skip_missing:
            output.warning(  # in_ci: a missing interpreter there is a broken CI image, not a skip
                f"--skip-missing-interpreters is ignored under CI ({ci}): {session_plan['name']} fails"
            )
        fold = None
        if in_ci and not options.child:  # report.ci is imported only under CI: not on the warm path
            from vrun.report.ci import fold_start

            fold = fold_start(environ, session_plan["name"], f"vrun {session_plan['name']}")
        if fold is not None:
            output.stdout_line(fold)
        output.log(
            output.SESSION,
            f"session {session_plan['name']}"
            + (f": {session_plan['description']}" if session_plan["description"] else ""),
        )
        for note in session_plan["notes"]:
            output.info(note)
        for warning in session_plan["warnings"]:
            output.warning(warning)
        try:
            _run_one(
                plan, session_plan, posargs if session_plan["explicit"] else None, options, environ, result
            )
        except Interrupted as exc:
            result.update({"status": "failed", "reason": f"interrupted by {signal_name(exc.signum)}"})
            result["exit_code"] = 128 + exc.signum
        finally:
            result["duration"] = time.monotonic() - start
            end = None
            if fold is not None:
                from vrun.report.ci import fold_end

                end = fold_end(environ, session_plan["name"])
            if end is not None:
                output.stdout_line(end)
        if result["status"] == "passed":
            output.log(output.SUCCESS, f"session {session_plan['name']} passed in {result['duration']:.1f}s")
        else:
            output.log(output.ERROR, f"session {session_plan['name']} failed: {result['reason']}")
        if result["reason"].startswith("interrupted by"):
            break
    return list(results.values())


def _fail(result: SessionResult, exc: VrunError, reason: str | None = None) -> None:
    output.error(exc.message, exc.hint, getattr(exc, "output", ""))
    result.update(
        {"status": "failed", "reason": exc.message if reason is None else reason, "exit_code": exc.exit_code}
    )


def _run_one(
    plan: Plan,
    session_plan: SessionPlan,
    posargs: Sequence[str] | None,
    options: RunOptions,
    environ: Mapping[str, str],
    result: SessionResult,
) -> None:
    if session_plan["error"] is not None:
        _fail(
            result, VrunError(session_plan["error"], session_plan["error_hint"]), session_plan["error_reason"]
        )
        result["exit_code"] = EXIT_USAGE
        return
    lock = lock_for(session_plan["env_dir"])
    try:
        try:
            built = ready_env(plan, session_plan, options, environ, lock)
        except VrunError as exc:  # a failed build, --no-install with no ready env, an unusable .venvs, ...
            _fail(result, exc)
            return
        except KeyboardInterrupt:
            raise Interrupted(signal.SIGINT) from None
        if not built:
            output.info(f"reusing env {os.path.basename(session_plan['env_dir'])}")
        if options.install_only:
            output.info(
                f"env {os.path.basename(session_plan['env_dir'])} is ready; no command run (--install-only)"
            )
            _not_run(result, preview_argvs(session_plan, plan["root"], posargs, environ))
            return
        try:
            run_commands(plan, session_plan, posargs, environ, result)
        except VrunError as exc:  # {env_tmp_dir} cannot be made, the env has no site-packages
            _fail(result, exc)
            _not_run(
                result, preview_argvs(session_plan, plan["root"], posargs, environ)[len(result["commands"]) :]
            )
        if built:
            from vrun.env.bytecode import remember

            remember(session_plan["env_dir"], session_plan["interpreter"], environ)
    finally:
        lock.release()


def ready_env(
    plan: Plan,
    session_plan: RunnableSessionPlan,
    options: RunOptions,
    environ: Mapping[str, str],
    lock: EnvLock,
) -> bool:
    """Make the env of ``session_plan`` ready and hold its shared lock; True when this call built it.

    An env the plan found ready is reused when its marker still has the signature planning
    recorded (and its ``python`` is there): a ``stat``, no parsing. Anything else is handed to
    :func:`vrun.env.build.build_env`, which decides under the exclusive lock; the signature of the
    marker it wrote goes back into the plan (``plan["changed"]``), so a plan stored again finds
    the env ready next time.
    The marker is not a recorded input of the plan: an env deleted or rebuilt behind vrun's back
    is rebuilt here, from the same plan. With ``install_project = "wheel"`` or ``"sdist"`` a reused
    env gets the project rebuilt and reinstalled when its source changed: the env's stamp
    (:func:`vrun.env.layout.project_stamp`, one small read) names another source digest than the
    plan's.
    """
    env_dir = session_plan["env_dir"]
    marker = os.path.join(env_dir, MARKER)

    def waiting() -> None:
        who = holders(lock.path)
        output.info(
            f"waiting for {os.path.basename(session_plan['env_dir'])}: another process is using or"
            f" building it ({', '.join(who) if who else 'not known which'}); it goes on when that ends"
        )

    if not options.recreate and session_plan["marker"] is not None and venvs_usable(plan["root"]):
        lock.acquire(exclusive=False, on_wait=waiting)
        if (
            session_plan["marker"] is not None
            and signature(marker) == session_plan["marker"]
            and os.path.exists(os.path.join(session_plan["env_dir"], "bin", "python"))
        ):
            touch_used(session_plan["env_dir"])
            link_last_used(plan["root"], session_plan["name"], session_plan["env_dir"])
            source = session_plan["install"]["source"]  # a built project: reinstalled if its source changed
            if source is not None and not options.no_install and project_stamp(env_dir) != source:
                _reinstall(plan, session_plan, environ, lock)
            return False
        lock.release()
    from vrun.env.build import build_env

    built = build_env(
        plan,
        session_plan,
        environ,
        lock,
        recreate=options.recreate,
        no_install=options.no_install,
        on_wait=waiting,
    )
    session_plan["marker"] = signature(marker)
    plan["changed"] = True  # worth storing again: the next run finds this env ready
    return built


def _reinstall(
    plan: Plan, session_plan: RunnableSessionPlan, environ: Mapping[str, str], lock: EnvLock
) -> None:
    """Reinstall the project into a reused env (``install_project = "wheel"`` or ``"sdist"``) under
    the *exclusive* lock, so no other vrun runs commands in the env while it changes, unless another
    process did it meanwhile; when another process is using the env, skip it with a warning rather
    than wait for it (a ``vrun shell`` may hold it for hours)."""
    if not lock.acquire(exclusive=True, blocking=False):
        lock.acquire(exclusive=False)  # flock(2) may drop the shared lock while trying to convert it
        output.warning(
            f"not reinstalling the project into {os.path.basename(session_plan['env_dir'])}: "
            "another vrun process is using the env; its project may be older than the source"
        )
        return
    try:
        if project_stamp(session_plan["env_dir"]) != session_plan["install"]["source"]:
            from vrun.env.build import reinstall_project

            reinstall_project(plan, session_plan, environ, lock)
    finally:
        lock.acquire(exclusive=False)


def run_commands(
    plan: Plan,
    session_plan: RunnableSessionPlan,
    posargs: Sequence[str] | None,
    environ: Mapping[str, str],
    result: SessionResult,
) -> None:
    """Run the session's commands in its env (:func:`vrun.run.compose.compose` composes them), as
    tox 4 runs them (``tox.session.cmd.run.single.run_commands``): ``commands_pre``, then
    ``commands`` if every one of those passed, then ``commands_post`` whatever happened before.
    Within each key the first failure stops that key's commands.

    The first failure decides the session's result: its reason and exit code (the command's own
    status, 128+N for signal N, 127 or 126 for a program not found or not executable,
    :data:`EXIT_TIMEOUT` past the session's ``timeout``); a ``commands_post`` failing after it is
    logged. The session's ``timeout`` covers all three keys: past it nothing more runs,
    ``commands_post`` included; so it is after an interrupt. Each command's argv, exit status and
    duration go into ``result["commands"]``, those that did not run with exit status ``None``.

    :raises Interrupted: vrun received SIGINT, SIGTERM or SIGHUP while a command ran.
    """
    composed = compose(session_plan, posargs, caller=environ, project_root=plan["root"])
    deadline = None if composed.timeout is None else time.monotonic() + composed.timeout
    failed = False
    stopped: str | None = None  # the key whose remaining commands do not run
    commands = composed.commands
    for index, command in enumerate(commands):
        if command.phase == stopped or (command.phase == "commands" and failed):
            _not_run(result, [command.argv])
            continue
        try:
            argv, outcome = run_composed(composed, command, deadline)
        except CommandNotFoundError as exc:
            output.error(exc.message, exc.hint)
            _not_run(result, [command.argv])
            reason, code, timed_out = exc.message, exc.exit_code, False
        else:
            result["commands"].append(
                {"argv": argv, "exit_code": outcome.status, "duration": outcome.duration, "output_tail": None}
            )
            if outcome.received is not None:
                _not_run(result, [c.argv for c in commands[index + 1 :]])
                raise Interrupted(outcome.received)
            found = failure_reason(outcome, command, composed.timeout)
            if found is None:
                continue
            reason, timed_out = found, outcome.timed_out
            code = EXIT_TIMEOUT if timed_out else outcome.status
        stopped = command.phase
        if not failed:
            failed = True
            result.update({"status": "failed", "reason": reason, "exit_code": code})
        else:
            output.warning(f"{command.phase} failed too: {reason}")
        if timed_out:
            _not_run(result, [c.argv for c in commands[index + 1 :]])
            return


def run_composed(composed: Composed, command: Command, deadline: float | None) -> tuple[list[str], Outcome]:
    """Run one composed command as every session command runs (and ``vrun run``'s): its line
    echoed (:meth:`~vrun.run.compose.Composed.echo`), its program looked up (a note when it comes
    from outside the env), run in the session's environment and cwd until it ends or
    ``deadline`` (a :func:`time.monotonic` time, or ``None``) passes
    (:func:`vrun.process.run_command`: then its process group is stopped).

    :returns: the argv run, with its program's path, and the :class:`~vrun.process.Outcome`.
    :raises CommandNotFoundError: the program is not found, or not executable.
    """
    composed.echo(command)
    argv, note = composed.resolve(command)
    if note:
        output.info(note)
    remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
    outcome = run_command(
        argv, environ=composed.environ, cwd=composed.cwd, shell=command.shell, timeout=remaining
    )
    return argv, outcome


def failure_reason(outcome: Outcome, command: Command, timeout: float | None) -> str | None:
    """Why a command that ran failed, in a session result's words, or ``None`` when it passed:
    past ``timeout`` (seconds), killed by a signal, or its own non-zero exit status (a shell's
    128+N named as its report of signal N)."""
    status, shown = outcome.status, command.line
    if outcome.timed_out:
        return f"timed out after {timeout:g}s (timeout = {timeout:g}): {shown}"
    if status == 0:
        return None
    if outcome.signal is not None:
        return f"command killed by {signal_name(outcome.signal)} (exit {status}): {shown}"
    if command.shell and 128 < status < 128 + 65:  # the shell's report of a signal, or its own code
        meaning = f"the shell's status for {signal_name(status - 128)}"
        return f"command failed with exit code {status} ({meaning}): {shown}"
    return f"command failed with exit code {status}: {shown}"


def _not_run(result: SessionResult, argvs: Sequence[list[str]]) -> None:
    """Record commands (their argvs) as not run: ``exit_code`` None."""
    for argv in argvs:
        result["commands"].append({"argv": argv, "exit_code": None, "duration": 0.0, "output_tail": None})
