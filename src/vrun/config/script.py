"""PEP 723 inline script metadata: the ``# /// script`` block of a single-file script, read and checked.

The rules are the specification's (packaging.python.org, "Inline script metadata", which PEP 723
became): a block opens with the line ``# /// TYPE`` and closes with ``# ///``; every line between is
a comment (``#`` alone, or ``#`` and a space); the content is those lines with the first two
characters taken away (one for a lone ``#``), read as TOML. Of the ``script`` type it takes
``dependencies`` (PEP 508 requirements) and ``requires-python`` (a PEP 440 specifier set), and a
``[tool]`` table; two ``script`` blocks are an error, as the specification requires. The block is
found with the specification's own regular expression (:data:`BLOCK`). An opening line without a
closing one is an error, as uv makes it (the specification would ignore the block: a script runner
then installs nothing, and the script fails on its first import instead).

Every problem is a :class:`~vrun.errors.ConfigError` naming the script and the line. The file is read
through :mod:`vrun.inputs`, so a plan that used it is replanned when it changes; the env key takes
only what the block says (:meth:`ScriptMetadata.component`), so an edit below the block reuses the env.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from vrun import inputs, placeholders
from vrun.config import tomlfile
from vrun.config.keys import Command, Context, string
from vrun.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from vrun._types import ScriptComponent, TomlTable

    #: The line of the block holding a text first (the block's opening line when none does).
    _LineOf = Callable[[str], int]

#: The specification's regular expression for a metadata block (its ``type`` and ``content``).
BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
#: The opening line of a ``script`` block, alone on its line.
OPENING = re.compile(r"(?m)^# /// script$")
#: What a ``script`` block may hold (the specification's fields and its ``[tool]`` table).
KEYS = ("dependencies", "requires-python", "tool")
#: What a hint shows as the smallest block.
EXAMPLE = '# /// script\n# dependencies = ["requests"]\n# ///'


@dataclass(frozen=True)
class ScriptMetadata:
    """A script and what its ``script`` block says.

    :param path: the script's absolute path.
    :param dependencies: the block's ``dependencies``, PEP 508 strings as written (stripped).
    :param requires_python: its ``requires-python``, a PEP 440 specifier set, or ``None``.
    :param tool: 16 hex characters of the SHA-256 of its ``[tool]`` table (as canonical JSON), or
        ``None`` when it has none.
    :param line: the line of its ``# /// script``, or ``None`` when the script has no block.
    """

    path: str
    dependencies: tuple[str, ...] = ()
    requires_python: str | None = None
    tool: str | None = None
    line: int | None = None

    def component(self) -> ScriptComponent:
        """The block's part of the env key that its dependencies (in the session's requirements)
        leave out: ``requires-python`` and the ``[tool]`` table's digest."""
        return {"requires-python": self.requires_python, "tool": self.tool}

    def command(self, cwd: str) -> Command:
        """``python SCRIPT {posargs}``, what a script session runs unless its ``commands`` say
        otherwise (the default of tox's PEP 723 runner, and what ``uv run SCRIPT`` does): the script
        named relative to ``cwd`` (the directory the command runs in) when it is inside it."""
        shown = os.path.relpath(self.path, cwd)
        if shown.startswith(os.pardir):
            shown = self.path
        elif shown.startswith("-"):
            shown = os.path.join(os.curdir, shown)  # not an option of python's
        argv = ("python", shown, "{posargs}")
        return Command(argv, shell=False, source=f"{shlex.join(argv[:2])} {{posargs}}")


def configured(ctx: Context, key: str, value: object) -> ScriptMetadata:
    """A session's ``script``: the path (relative to the config's directory) of an existing file,
    its block read (:func:`read`).

    :raises ConfigError: naming ``key`` for a path that is not a file or holds a placeholder;
        naming the script and the line for a malformed block.
    """
    text = string(ctx, key, value, like="tools/report.py")
    path = os.path.normpath(os.path.join(ctx.root, os.path.expanduser(text)))
    if placeholders.parse(path) != [path]:
        raise ctx.error(key, f"{text!r} holds a placeholder; script is a plain path", "rename the file")
    if not inputs.is_file(path):
        problem = "is not a file" if os.path.exists(path) else "not found"
        raise ctx.error(key, f"script {text!r} {problem} at {path}", f"script is relative to {ctx.root}")
    try:
        return read(path)
    except OSError as exc:
        raise ctx.error(key, f"cannot read script {path}: {exc.strerror or exc}") from exc


def read(path: str) -> ScriptMetadata:
    """Read the ``script`` block of the script at ``path`` (recorded by :mod:`vrun.inputs`).

    :param path: the script's absolute path.
    :returns: what the block says; a script without a block has no dependencies (``line`` is ``None``).
    :raises OSError: when the file cannot be read.
    :raises ConfigError: naming the script and the line: not UTF-8 text; two ``script`` blocks; an
        opening line never closed, or inside another block; invalid TOML; a key other than
        ``dependencies``, ``requires-python`` and ``tool``; a value of the wrong type; an invalid
        requirement or specifier set.
    """
    raw = inputs.read_bytes(path)
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            Path(path), None, f"not UTF-8 text: {exc.reason} at byte {exc.start}", "PEP 723 scripts are UTF-8"
        ) from None
    blocks = [m for m in BLOCK.finditer(text) if m.group("type") == "script"]
    for opening in OPENING.finditer(text):
        start = opening.start()
        inside = next((m for m in blocks if m.start() < start < m.end()), None)
        if inside is not None:
            raise _error(
                path,
                _line(text, start),
                f"a script block opens inside the one at line {_line(text, inside.start())}",
            )
        if not any(m.start() == start for m in blocks):
            raise _error(
                path,
                _line(text, start),
                "the script block is never closed",
                "end it with a line `# ///`; every line up to it starts with `#`, blank lines too",
            )
    if len(blocks) > 1:
        first = _line(text, blocks[0].start())
        raise _error(
            path, _line(text, blocks[1].start()), f"a second script block (the first is at line {first})"
        )
    if not blocks:
        return ScriptMetadata(path)
    return _metadata(path, text, blocks[0])


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _error(path: str, line: int, problem: str, hint: str | None = None) -> ConfigError:
    return ConfigError(Path(path), None, f"script block: {problem}", hint, line=line)


def _metadata(path: str, text: str, block: re.Match[str]) -> ScriptMetadata:
    """What the ``script`` block ``block`` of ``text`` says, checked."""
    opening = _line(text, block.start())
    lines = block.group("content").splitlines(keepends=True)
    content = "".join(line[2:] if line.startswith("# ") else line[1:] for line in lines)
    try:
        data = tomlfile.loads(content)
    except tomlfile.TOMLDecodeError as exc:
        problem, line, column = tomlfile.error_position(exc, "")
        at = opening + (line if line is not None else len(lines))
        if column is not None and line is not None and 0 < line <= len(lines):
            column += 2 if lines[line - 1].startswith("# ") else 1
        raise ConfigError(
            Path(path), None, f"script block: invalid TOML: {problem}", line=at, column=column
        ) from exc

    def line_of(needle: str) -> int:
        """The line of the block holding ``needle`` first, else the opening line."""
        return next((opening + 1 + i for i, line in enumerate(lines) if needle in line), opening)

    for key in data:
        if key not in KEYS:
            raise _error(
                path,
                line_of(key),
                f"unknown key {key!r}",
                "a script block holds dependencies, requires-python and [tool]",
            )
    return ScriptMetadata(
        path=path,
        dependencies=_dependencies(path, data, line_of),
        requires_python=_requires_python(path, data, line_of),
        tool=_tool(path, data, line_of),
        line=opening,
    )


def _dependencies(path: str, data: TomlTable, line_of: _LineOf) -> tuple[str, ...]:
    from packaging.requirements import InvalidRequirement, Requirement

    value = data.get("dependencies", [])
    if not isinstance(value, list):
        raise _error(path, line_of("dependencies"), "dependencies must be an array of strings")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise _error(path, line_of("dependencies"), f"dependencies must be strings, got {item!r}")
        try:
            Requirement(item)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise _error(path, line_of(item), f"invalid requirement {item!r}: {reason}") from None
        out.append(item.strip())
    return tuple(out)


def _requires_python(path: str, data: TomlTable, line_of: _LineOf) -> str | None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    value = data.get("requires-python")
    if value is None:
        return None
    where = line_of("requires-python")
    if not isinstance(value, str) or not value.strip():
        raise _error(path, where, 'requires-python must be a version specifier like ">=3.11"')
    try:
        SpecifierSet(value)
    except InvalidSpecifier as exc:
        raise _error(
            path, where, f"invalid requires-python {value!r}: {exc}", 'write e.g. ">=3.11"'
        ) from None
    return value.strip()


def _tool(path: str, data: TomlTable, line_of: _LineOf) -> str | None:
    value = data.get("tool")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _error(path, line_of("tool"), "tool must be a table ([tool.NAME])")
    blob = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
