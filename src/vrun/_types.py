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


# ---- TOML and JSON data -------------------------------------------------------------------------
# What vrun reads from TOML (vrun.toml, pyproject.toml, tox.toml, a lock) and JSON (its interpreter
# cache) files, and writes back. The section keeps its own imports, apart from the plan's types.

import datetime  # noqa: E402
from typing import Union  # noqa: E402

#: A value parsed from TOML (:mod:`tomllib`): the TOML 1.0 types string, integer, float, boolean,
#: offset or local date-time, local date, local time, array and table. Its shape is unknown until
#: checked (``isinstance``), which :mod:`vrun.config.keys` does for every key of vrun's config.
TomlValue = Union[
    str,
    int,
    float,
    bool,
    datetime.datetime,
    datetime.date,
    datetime.time,
    list["TomlValue"],
    dict[str, "TomlValue"],
]
#: A TOML table, a whole parsed document included: key -> value, in file order.
TomlTable = dict[str, TomlValue]
#: A value parsed from JSON (:mod:`json`): null, boolean, number, string, array or object.
JsonValue = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]
#: A JSON object: name -> value.
JsonObject = dict[str, JsonValue]


class FileIdentity(TypedDict):
    """What identifies an executable's file in the interpreter cache (:mod:`vrun.plan.interpreters`):
    ``st_mtime_ns`` and ``st_size`` (links followed) and its real path; an upgrade in place changes
    them."""

    mtime_ns: int
    size: int
    realpath: str


class CachedInterpreter(FileIdentity):
    """One ``facts`` entry of ``interpreters.json``: the executable's :class:`FileIdentity` when it
    was probed, and what was learnt about it."""

    interpreter: InterpreterFacts


class InterpreterCache(TypedDict):
    """``interpreters.json`` (:mod:`vrun.plan.interpreters`), its entries checked when read: the
    schema number, ``facts`` (executable path -> :class:`CachedInterpreter`) and ``specs`` (digest of
    a spec and what steers its discovery -> executable path, oldest first)."""

    schema: int
    facts: dict[str, CachedInterpreter]
    specs: dict[str, str]
