"""The dotenv files of a session's ``env_file``: the lines python-dotenv and ``uv run --env-file`` read.

The syntax is python-dotenv's parser (``dotenv/parser.py``), on which uv's (the dotenvy crate's)
agrees for these forms:

- blank lines, and lines whose first non-blank character is ``#``, are skipped;
- ``KEY=VALUE`` or ``export KEY=VALUE``, spaces allowed around ``=``; ``KEY`` is any run of
  characters but whitespace, ``=``, ``#`` and quotes, or ``'quoted'``;
- an unquoted VALUE runs to the end of the line; whitespace then ``#`` starts a comment, and
  trailing whitespace is dropped;
- ``'VALUE'`` is taken literally (``\\'`` and ``\\\\`` are its escapes) and may span lines;
- ``"VALUE"`` may span lines and decodes ``\\\\ \\" \\' \\n \\r \\t \\a \\b \\f \\v``;
- after a quoted value, only whitespace and a comment;
- ``${NAME}`` and ``${NAME:-DEFAULT}`` in unquoted and double-quoted values are replaced
  (:func:`resolve`); ``$NAME`` without braces stays as written (python-dotenv's rule; dotenvy
  would replace it).

A line that is none of these (``KEY`` without ``=``, an unterminated quote, text after a closing
quote) is a :class:`DotenvError` naming its line: vrun does not skip what it cannot read.
Nothing here reads a file or the environment: :func:`vrun.config.fields.env_file` does, through
:mod:`vrun.inputs`, so the plan cache knows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Union

    #: A piece of a value: literal text, or ``(NAME, DEFAULT or None)`` for ``${NAME:-DEFAULT}``.
    Atom = Union[str, tuple[str, Union[str, None]]]

#: ``${NAME}`` or ``${NAME:-DEFAULT}`` (python-dotenv's ``_posix_variable``).
_VARIABLE = re.compile(r"\$\{(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")
#: The escapes of a double-quoted value (python-dotenv decodes these with ``unicode-escape``).
_DOUBLE_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_DOUBLE_ESCAPES.update({"a": "\a", "b": "\b", "f": "\f", "v": "\v"})
_KEY = re.compile(r"'(?P<quoted>[^']+)'|(?P<plain>[^=#\s'\"]+)")


class DotenvError(ValueError):
    """A dotenv line vrun cannot read.

    :param line: its 1-based number; :param problem: what is wrong; :param hint: what to write.
    """

    def __init__(self, line: int, problem: str, hint: str | None = None) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem
        self.hint = hint


@dataclass(frozen=True)
class Binding:
    """One ``KEY=VALUE`` of a dotenv file: its name, its value's pieces, and its line."""

    name: str
    atoms: tuple[Atom, ...]
    line: int


@dataclass(frozen=True)
class EnvFile:
    """One entry of a session's ``env_file``, read.

    :param path: the file's absolute path.
    :param optional: written with a leading ``-``: a missing file is no error.
    :param found: the file exists (always true for a file that is not optional).
    :param set_env: the variables it sets, ``${...}`` replaced, as set_env pairs whose values are
        escaped (:func:`vrun.placeholders.literal`) so that a run takes them as written.
    """

    path: str
    optional: bool
    found: bool
    set_env: tuple[tuple[str, str], ...]


def parse(text: str) -> list[Binding]:
    """The ``KEY=VALUE`` lines of a dotenv file's ``text``, in order (the module docstring has the syntax).

    :raises DotenvError: a line that is not one of the forms, naming it.
    """
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    out: list[Binding] = []
    pos, n = 0, len(text)
    while pos < n:
        line = text.count("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = n if end < 0 else end
        body = text[pos:end].strip()
        if not body or body.startswith("#"):
            pos = end + 1
            continue
        at = pos + len(text[pos:end]) - len(text[pos:end].lstrip())
        export = re.match(r"export[ \t]+", text[at:end])
        if export:
            at += export.end()
        key = _KEY.match(text, at, end)
        if key is None:
            raise DotenvError(line, f"expected KEY=VALUE, got {body!r}")
        name = key.group("quoted") or key.group("plain")
        at = _skip_blanks(text, key.end(), end)
        if at >= end or text[at] != "=":
            raise DotenvError(line, f"expected KEY=VALUE, got {body!r}", f"write {name}= for an empty value")
        at = _skip_blanks(text, at + 1, end)
        atoms, pos = _value(text, at, line)
        out.append(Binding(name, tuple(atoms), line))
    return out


def _skip_blanks(text: str, at: int, end: int) -> int:
    while at < end and text[at] in " \t":
        at += 1
    return at


def _value(text: str, at: int, line: int) -> tuple[list[Atom], int]:
    """The value starting at ``text[at]`` and where the next line starts."""
    n = len(text)
    quote = text[at] if at < n and text[at] in "'\"" else None
    if quote is None:
        end = text.find("\n", at)
        end = n if end < 0 else end
        raw = re.sub(r"\s+#.*", "", text[at:end]).rstrip()
        return _atoms(raw), end + 1
    chars: list[str] = []
    i = at + 1
    while True:
        if i >= n:
            raise DotenvError(line, f"the value's {quote} is never closed", f"end the value with {quote}")
        char = text[i]
        if char == "\\" and i + 1 < n:
            follow = text[i + 1]
            if quote == "'" and follow in "'\\":
                chars.append(follow)
                i += 2
                continue
            if quote == '"' and follow in _DOUBLE_ESCAPES:
                chars.append(_DOUBLE_ESCAPES[follow])
                i += 2
                continue
        if char == quote:
            break
        chars.append(char)
        i += 1
    end = text.find("\n", i)
    end = n if end < 0 else end
    rest = text[i + 1 : end].strip()
    if rest and not rest.startswith("#"):
        closed = text.count("\n", 0, i) + 1
        raise DotenvError(closed, f"unexpected {rest!r} after the closing {quote}")
    value = "".join(chars)
    return ([value] if quote == "'" else _atoms(value)), end + 1


def _atoms(value: str) -> list[Atom]:
    """``value`` split into literal text and ``${NAME:-DEFAULT}`` references."""
    atoms: list[Atom] = []
    last = 0
    for match in _VARIABLE.finditer(value):
        if match.start() > last:
            atoms.append(value[last : match.start()])
        atoms.append((match.group("name"), match.group("default")))
        last = match.end()
    if last < len(value) or not atoms:
        atoms.append(value[last:])
    return atoms


def resolve(
    bindings: Iterable[Binding], known: dict[str, str], variable: Callable[[str], str | None]
) -> list[tuple[str, str]]:
    """The final values of ``bindings``, each ``${NAME:-DEFAULT}`` replaced by the value NAME got
    earlier (``known``, which this updates: earlier lines and earlier files), else ``variable(NAME)``
    (the environment vrun was started in), else DEFAULT, else nothing. Earlier values win over the
    environment because a session's env files win over it too: python-dotenv's interpolation with
    ``override=True``.

    :returns: ``(name, value)`` pairs in file order.
    """
    out = []
    for binding in bindings:
        parts = []
        for atom in binding.atoms:
            if isinstance(atom, str):
                parts.append(atom)
                continue
            name, default = atom
            found = known.get(name)
            if found is None:
                found = variable(name) if name else None
            parts.append(found if found is not None else default or "")
        value = "".join(parts)
        known[binding.name] = value
        out.append((binding.name, value))
    return out


def set_env(files: Sequence[EnvFile], env: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """A session's set_env: what its env files set (a later file winning over an earlier one), less
    what its ``env`` sets, then its ``env`` (docs/config.md, "env_file": ``env`` wins)."""
    own = list(env)
    from_files = {name: value for file in files for name, value in file.set_env}
    for name, _ in own:
        from_files.pop(name, None)
    return [*from_files.items(), *own]
