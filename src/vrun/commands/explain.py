"""``vrun explain``: every input of a session's env key, and what the next run does with its env.

For each session: the components of its env key (:func:`vrun.plan.envkey.compute_key`) with their
values or digests, the env directory they name, and the env on disk: *reused as is* when its
marker matches the key, else what the next run builds and why, compared with the env the session
used last (:func:`vrun.env.rebuild.previous_env`), one line per difference
(:func:`vrun.env.rebuild.differences`:
a requirement added or removed, a file changed, the interpreter upgraded, the backend changed).
The components are walked generically, so a component added to the key shows up without a change
here.

Read-only, as ``vrun list`` and ``vrun path``: planning with ``probe=False`` runs no interpreter
the config names by path, builds nothing, and stores no plan (:mod:`vrun.plan.cache` only stores
what a run of the sessions planned). :mod:`vrun.commands.show` (``vrun show``) plans the same way, through
:func:`planned`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vrun import output
from vrun.commands._common import load_named
from vrun.config.load import Config, Session
from vrun.config.reqfiles import display
from vrun.config.selection import select_sessions
from vrun.env.layout import marker_problem, read_marker
from vrun.env.rebuild import differences, previous_env, rebuild_reason, redact, show_value
from vrun.errors import EXIT_USAGE, UsageError
from vrun.plan.planner import RecordingEnviron, plan_session

if TYPE_CHECKING:
    from typing import Literal, TypedDict

    from vrun._types import KeyComponents, KeyDifference, RunnableSessionPlan, SessionPlan

    class ComparedWith(TypedDict):
        """The env a key was compared with (``vrun explain``'s ``compared_with``): its directory, its
        key's digest, and whether it is the env the session used last (else its most recently used)."""

        env_dir: str
        env_key: str
        last_used: bool

    class Versions(TypedDict):
        """Where a session's versions come from (``vrun explain``'s ``versions``): the lock file it
        installs from (``uv.lock``, ``pylock.<session>.toml``) or ``None``, the line that says so,
        and the pins a ``uv.lock`` gives (``[]`` otherwise: a PEP 751 file lists its own)."""

        lock: str | None
        text: str
        pins: list[str]

    class Explanation(TypedDict):
        """What ``vrun explain`` says about one planned session (the ``--json`` shape); :func:`explanation`
        says what each key holds."""

        session: str
        base_name: str
        python: str | None
        error: str | None
        env_dir: str | None
        env_key: str | None
        components: KeyComponents | None
        state: Literal["ready", "stale", "incomplete", "absent"] | None
        reused: bool
        reason: str | None
        compared_with: ComparedWith | None
        changes: list[KeyDifference]
        versions: Versions | None
        env_file: list[str]


def planned(config: Config, names: Sequence[str], backend: str | None) -> list[tuple[Session, SessionPlan]]:
    """The sessions ``names`` stand for (a matrix base name: each of its entries, in order), each with
    its planned session (:func:`vrun.plan.planner.plan_session`), planned read-only.

    :param backend: ``--backend``, or ``None``.
    :raises UsageError: for an unknown name (with a did-you-mean hint), or an interpreter given as a
        path that vrun has never run (:class:`~vrun.plan.interpreters.NotProbedError`).
    :raises ConfigError: for an invalid ``python`` spec.
    """
    environ = RecordingEnviron(os.environ)
    return [
        (session, plan_session(config, session, environ, backend=backend, probe=False))
        for session in select_sessions(config, names, with_requires=False)
    ]


def report_errors(session_plans: Sequence[SessionPlan]) -> int:
    """Report each planned session whose interpreter is missing (an ``error:`` line, its hint);
    return the exit status: :data:`~vrun.errors.EXIT_USAGE` when there was one, else 0."""
    for session_plan in session_plans:
        if session_plan["error"] is not None:
            output.error(session_plan["error"], session_plan["error_hint"])
    return EXIT_USAGE if any(session_plan["error"] is not None for session_plan in session_plans) else 0


def redacted(value: Any) -> Any:
    """``value`` (JSON-like) with the password of every URL in its strings hidden
    (:func:`vrun.env.rebuild.redact`)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def explanation(config: Config, session: Session, session_plan: SessionPlan) -> Explanation:
    """What ``vrun explain`` says about one planned session, as plain values (the ``--json`` shape).

    :returns: ``session``, ``base_name``, ``python`` (the spec, ``None`` for vrun's own), ``error``
        (no interpreter found; the rest is then ``None`` or empty), ``env_dir``, ``env_key``,
        ``components`` (the key's inputs, as the marker records them), ``state`` (``vrun list``'s:
        ``ready``, ``stale``, ``incomplete``, ``absent``), ``reused`` (the next run reuses the env as
        is), ``reason`` (why the next run builds, the line it logs; ``""`` when reused),
        ``compared_with`` (``env_dir``, ``env_key`` and ``last_used`` of the env the key was compared
        with, or ``None``), ``changes`` (:func:`vrun.env.rebuild.differences` against that env) and
        ``env_file`` (the session's dotenv files, relative to the project root: read for its
        commands, they are not in the key).
    """
    item: Explanation = {
        "session": session.name,
        "base_name": session.base_name,
        "python": session.python,
        "error": session_plan["error"],
        "env_dir": session_plan["env_dir"],
        "env_key": session_plan["digest"],
        "components": redacted(session_plan["components"]),
        "state": None,
        "reused": False,
        "reason": None,
        "compared_with": None,
        "changes": [],
        "versions": None,
        "env_file": [display(f.path, str(config.root)) for f in session.env_file],
    }
    if session_plan["error"] is not None:
        return item
    item["versions"] = versions(session_plan)
    root, env_dir = str(config.root), session_plan["env_dir"]
    problem = marker_problem(env_dir, session_plan["digest"])
    if problem is None:
        item.update({"state": "ready", "reused": True, "reason": ""})
        return item
    item["reason"] = rebuild_reason(root, session_plan)
    if os.path.lexists(env_dir):
        item["state"] = "incomplete" if problem == "incomplete build" else "stale"
        return item
    previous = previous_env(root, session.name)
    marker = read_marker(previous) if previous is not None else None
    if previous is not None and marker is not None:
        from vrun.env.layout import last_used

        item["compared_with"] = {
            "env_dir": previous,
            "env_key": marker["digest"],
            "last_used": previous == last_used(root, session.name),
        }
        item["changes"] = differences(marker["components"], session_plan["components"])
        item["state"] = "stale"
        return item
    from vrun.env.inventory import iter_envs

    others = any(info.session == session.name for info in iter_envs(config.root))
    item["state"] = "stale" if others else "absent"
    return item


def versions(session_plan: RunnableSessionPlan) -> Versions:
    """Where a planned session's versions come from: its current ``pylock.<session>.toml``, the
    project's current ``uv.lock`` (:mod:`vrun.plan.uvlock`, with the ``uv export`` command and its
    pins), or the installer's fresh resolution, with the reason when a lock is there but unused."""
    lock, uv_lock = session_plan["lock"], session_plan["uv_lock"]
    if lock["status"] == "current":
        return {"lock": lock["file"], "text": f"from {lock['file']}, exactly", "pins": []}
    if uv_lock is not None and uv_lock["status"] == "current":
        count = len(uv_lock["pins"])
        command = " ".join(uv_lock["command"])
        text = f"from uv.lock ({command}: {output.plural(count, 'pin')})"
        components = session_plan["components"]
        if components["requirements"] or components["requirement_files"]:
            text += "; deps on top, constrained by them"
        return {"lock": "uv.lock", "text": text, "pins": list(uv_lock["pins"])}
    problem = (
        uv_lock["problem"]
        if uv_lock is not None
        else lock["problem"]
        if lock["status"] != "missing"
        else None
    )
    why = problem or "no lock file applies"
    return {"lock": None, "text": f"resolved afresh by the installer ({why})", "pins": []}


def value_lines(name: str, value: object, depth: int) -> list[str]:
    """``name: value`` indented two spaces per ``depth``; a table as ``name:`` followed by its keys,
    one level deeper; an empty one, an empty list or ``None`` as ``none``
    (:func:`vrun.env.rebuild.show_value`)."""
    pad = "  " * depth
    if isinstance(value, dict) and value:
        lines = [f"{pad}{name}:"]
        for key, sub in value.items():
            lines += value_lines(str(key), sub, depth + 1)
        return lines
    empty = isinstance(value, (dict, list)) and not value
    return [f"{pad}{name}: {show_value(None if empty else value)}"]


def explanation_lines(item: Explanation) -> list[str]:
    """The text ``vrun explain`` prints for one :func:`explanation`."""
    lines = [f"session {item['session']}"]
    if item["error"] is not None:
        return [*lines, f"  no env: {item['error']}"]
    lines.append(f"  env: {item['env_dir']}")
    lines.append(f"  key: {item['env_key']}, the hash of these inputs:")
    for name, value in (item["components"] or {}).items():
        lines += value_lines(name, value, 2)
    if item["versions"] is not None:
        lines.append(f"  versions: {item['versions']['text']}")
        lines += [f"    {pin}" for pin in item["versions"]["pins"]]
    if item["env_file"]:
        lines.append(f"  not in the key: env_file {', '.join(item['env_file'])} (only the commands read it)")
    compared = item["compared_with"]
    if item["reused"]:
        lines.append("  env on disk: reused as is (its marker matches this key)")
    elif item["state"] == "absent":
        lines.append("  env on disk: none yet; the next run builds it")
    elif compared is None:
        lines.append(f"  env on disk: rebuilt by the next run ({item['reason']})")
    else:
        lines.append("  env on disk: rebuilt by the next run")
        which = "the env it used last" if compared["last_used"] else "its most recently used env"
        lines.append(f"  what differs from {os.path.basename(compared['env_dir'])} ({which}):")
        lines += [f"    {change['text']}" for change in item["changes"]] or ["    nothing"]
    return lines


def explain(config: Config, names: Sequence[str], *, backend: str | None, as_json: bool) -> int:
    """``vrun explain SESSION...``: print each session's :func:`explanation` (text, or a JSON array).

    :returns: the exit status: 0, or 2 when a session's interpreter is missing (reported, and the
        other sessions still explained).
    :raises UsageError: see :func:`planned`.
    """
    found = planned(config, names, backend)
    items = [explanation(config, session, session_plan) for session, session_plan in found]
    if as_json:
        output.print_json(items)
    else:
        print("\n\n".join("\n".join(explanation_lines(item)) for item in items))
    return report_errors([session_plan for _, session_plan in found])


def cmd_explain(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun explain SESSION...``: every input of the sessions' env keys, and what the next run does
    with their envs (:mod:`vrun.commands.explain`). Builds nothing."""
    from vrun.commands.explain import explain

    if posargs is not None:
        raise UsageError("vrun explain takes no posargs", hint="posargs are not part of the env key")
    config, names = load_named(args, args.sessions)
    return explain(config, names, backend=args.backend, as_json=args.json)
