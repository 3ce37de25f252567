"""The shapes of the values that travel between vrun's packages: the plan, the session plan and
their parts, and the session result. Type checkers only: every import of this module sits under
``TYPE_CHECKING``, so it costs a run nothing and the values stay plain dicts and lists (the plan
cache stores them with :mod:`marshal`). docs/architecture.md, "The plan", describes the flow.
"""

from __future__ import annotations

from typing import TypedDict


class InterpreterFacts(TypedDict):
    """What planning learnt about a session's interpreter (:class:`vrun.plan.interpreters.Interpreter`
    as plain values): its executable, the real path of its base executable, ``"CPython"``/``"PyPy"``,
    the full version (``"3.12.1"``) and its parts, the pointer size in bits and the ISA."""

    executable: str
    base_executable: str
    implementation: str
    version: str
    version_info: list[int]
    architecture: int
    machine: str
