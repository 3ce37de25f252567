"""The plan cache: a plan stored after a run, handed back while every recorded input holds.

A plain ``vrun NAME... [-- POSARGS]`` (the allow-list: session names and posargs, nothing else)
stores the plan :mod:`vrun.plan.planner` made, with the signature of every file and the value of every
variable planning read, each taken when it was read (:mod:`vrun.inputs`), vrun's own modules
included. The next identical invocation checks those with ``stat`` calls and ``environ`` lookups
and gives the plan to the same session loop (:func:`vrun.run.loop.run_plan`) a full run uses; anything
it cannot vouch for falls back to planning before anything has run (docs/architecture.md, "The warm
path").

A plan is not stored when an input changed while the run went on (a session that rewrote its
own requirements file), when an input was modified so shortly before planning that a later
change could keep its signature (:data:`vrun.inputs.RACY_WINDOW_NS`), or when planning found an
error. ``VRUN_PLAN_CACHE=0`` neither reads nor writes plans. Plans live in
``<cache dir>/plans/<crc32 of the key>.marshal``: the CRC-32 of the body (4 bytes, big-endian),
then the :mod:`marshal`-ed plan; the full key is stored inside and compared, and a body that does
not match its CRC (truncated, or mangled by anything but vrun) is not read.
Light on purpose: before the loop, a warm run imports only this module and :mod:`vrun.inputs`
(with :mod:`marshal` and :mod:`zlib`).
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

from vrun import inputs
from vrun.inputs import cache_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from vrun._types import Plan

#: The shape of a stored plan (:mod:`vrun.plan.planner` builds it); a new shape never reads an old plan.
PLAN_SCHEMA = 13
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")
#: The directory of the vrun package running (the one :func:`vrun.plan.planner.record_code_identity` records).
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(argv: Sequence[str]) -> tuple[list[str], list[str] | None] | None:
    """``(session names, posargs)`` when ``argv`` is in the allow-list, ``NAME... [-- POSARGS]``
    with valid session names (subcommands can never be session names) or a script's path
    (``vrun SCRIPT.py``: a name ending in ``.py``), else ``None``."""
    cut = argv.index("--") if "--" in argv else len(argv)
    names = list(argv[:cut])
    posargs = list(argv[cut + 1 :]) if cut < len(argv) else None
    for name in names:
        script = name.endswith(".py") and name[0] != "-"
        if not script and (not name or name[0] in "-+._" or not set(name) <= _NAME_CHARS):
            return None
    return names, posargs


def plan_key(names: Sequence[str]) -> str:
    """Everything about the invocation a plan depends on besides its recorded inputs: the schema,
    the interpreter, the copy of vrun running (its recorded modules vouch for their contents, not
    for being the code that runs: a checkout on ``PYTHONPATH`` beside an installed vrun), the
    working directory and the session names."""
    return "\0".join([str(PLAN_SCHEMA), sys.executable, _PACKAGE, os.getcwd(), *names])


def _path(key: str, environ: Mapping[str, str]) -> str:
    return os.path.join(cache_dir(environ), "plans", f"{zlib.crc32(key.encode()):08x}.marshal")


def holds(plan: Plan, environ: Mapping[str, str]) -> bool:
    """Whether every input the plan recorded still has its recorded signature or value."""
    for path, sig in plan["inputs"].items():
        if not inputs.holds(path, sig):
            return False
    return all(environ.get(name) == value for name, value in plan["environ"].items())


def lookup(names: Sequence[str], environ: Mapping[str, str]) -> Plan | None:
    """The stored plan for session ``names`` (of an invocation :func:`parse` allows), if there is
    one and it still holds, else ``None``."""
    if environ.get("VRUN_PLAN_CACHE") == "0":
        return None
    key = plan_key(names)
    try:
        with open(_path(key, environ), "rb") as fh:
            data = fh.read()
        body = data[4:]
        if len(data) < 4 or zlib.crc32(body) != int.from_bytes(data[:4], "big"):
            return None  # truncated, or changed by something other than store()
        plan: Plan = marshal.loads(body)  # checked below: a dict with this invocation's key
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(plan, dict) or plan.get("key") != key or not holds(plan, environ):
        return None
    return plan


def store(names: Sequence[str], plan: Plan, environ: Mapping[str, str]) -> bool:
    """Store ``plan`` for ``names`` unless it must not be (see the module docstring); True if stored.

    Failing to write is not an error: it is a cache.
    """
    if environ.get("VRUN_PLAN_CACHE") == "0" or any(
        session_plan["error"] for session_plan in plan["sessions"]
    ):
        return False
    if not holds(plan, environ):
        return False
    if inputs.racy(plan["inputs"], plan["started_ns"]):
        return False
    plan.pop("changed", None)  # the run's own note that it built an env
    key = plan_key(names)
    path = _path(key, environ)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        body = marshal.dumps({**plan, "key": key})
        inputs.write_atomic(path, zlib.crc32(body).to_bytes(4, "big") + body)
    except (OSError, ValueError):
        return False
    return True
