"""The one reader of TOML files (``vrun.toml``, ``pyproject.toml``): parsed once per process, recorded;
and the one writer of TOML values (:func:`dumps_value`, for ``vrun init`` and ``vrun lock``).

Every module that needs a TOML file's data calls :func:`load` (or :func:`pyproject`), so a file is
read once, through :func:`vrun.inputs.read_bytes` (its signature recorded when read), and parsed
once. Errors are restated with line and column (:func:`error_position`).
"""

from __future__ import annotations

import os

from vrun import inputs
from vrun._compat import tomllib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlTable

#: path -> (the signature the parsed data was read with, the data)
_CACHE: dict[str, tuple[inputs.Signature, TomlTable]] = {}

TOMLDecodeError = tomllib.TOMLDecodeError


def load(path: str) -> TomlTable:
    """The parsed TOML document at ``path``.

    :raises OSError: when it cannot be read.
    :raises UnicodeDecodeError: when it is not UTF-8.
    :raises TOMLDecodeError: when it is not valid TOML (see :func:`error_position`).
    """
    path = os.path.abspath(path)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == inputs.signature(path):
        inputs.active().note(path, cached[0])
        return cached[1]
    raw = inputs.read_bytes(path)
    data = tomllib.loads(raw.decode("utf-8"))
    _CACHE[path] = (inputs.active().files.get(path), data)
    return data


def loads(text: str) -> TomlTable:
    """Parse TOML ``text`` that is not a project file (a tool's output): nothing is recorded.

    :raises TOMLDecodeError: when it is not valid TOML.
    """
    return tomllib.loads(text)


def pyproject(root: str) -> TomlTable | None:
    """``root/pyproject.toml`` parsed, or ``None`` when it is absent, unreadable or invalid.

    For readers that only look into it (the env key, freeze); the config loader reports its
    errors instead.
    """
    try:
        return load(os.path.join(root, "pyproject.toml"))
    except (OSError, ValueError):
        return None


def error_position(exc: ValueError, path: str) -> tuple[str, int | None, int | None]:
    """Split a TOML decode error into ``(problem, line, column)``.

    Python >= 3.14 (and tomli >= 2.1) carry ``msg``, ``lineno`` and ``colno``; older versions end the
    message with ``(at line X, column Y)``, or ``(at end of document)``, in which case the position
    of the file's end is computed.
    """
    line: int | None = getattr(exc, "lineno", None)
    column: int | None = getattr(exc, "colno", None)
    problem = getattr(exc, "msg", None)
    if not isinstance(problem, str):
        problem = str(exc)
    tail = problem.rfind(" (at ")
    if tail >= 0 and problem.endswith(")"):
        where = problem[tail + 5 : -1]
        problem = problem[:tail]
        if where.startswith("line ") and line is None:
            try:
                parts = where[5:].split(", column ")
                line, column = int(parts[0]), int(parts[1])
            except (ValueError, IndexError):
                pass
        elif where == "end of document" and line is None:
            line, column = _end_of(path)
    return problem, line, column


def _end_of(path: str) -> tuple[int | None, int | None]:
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None, None
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


# --- writing -----------------------------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def basic_string(value: str) -> str:
    """``value`` as a TOML basic string: in double quotes, with ``"``, ``\\``, newline and tab
    escaped and other control characters written ``\\uXXXX`` (the TOML 1.0 spec, "String")."""
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def key_part(name: str) -> str:
    """A key as it is written in TOML (a dotted key's part, a table name): bare when it holds only
    ``A-Za-z0-9_-`` (TOML's bare keys), else a :func:`basic_string`."""
    return name if name and set(name) <= _BARE else basic_string(name)


def _string(value: str) -> str:
    """A TOML string: a literal string when that reads better (backslashes, quotes), else basic."""
    plain = all(ch == "\t" or (" " <= ch != "\x7f") for ch in value)
    if plain and "'" not in value and ('"' in value or "\\" in value):
        return f"'{value}'"
    return basic_string(value)


def dumps_value(value: object, indent: str = "") -> str:
    """``value`` (a bool, an int, a string, a list or a dict of these) as a TOML value: tables inline,
    an array on one line when it fits in 90 characters, else one item per line below ``indent``.

    :raises TypeError: for another type (a float, ``None``: nothing vrun writes).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{key_part(k)} = {dumps_value(v)}" for k, v in value.items()) + " }"
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"cannot write {type(value).__name__} as TOML")
    items = [dumps_value(v, indent + "    ") for v in value]
    one_line = "[" + ", ".join(items) + "]"
    if len(one_line) <= 90 and "\n" not in one_line:
        return one_line
    return "[\n" + "".join(f"{indent}    {item},\n" for item in items) + f"{indent}]"
