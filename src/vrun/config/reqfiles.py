"""The one reader of pip's requirements-file syntax, for ``deps`` entries and ``-r``/``-c`` files.

pip's format (https://pip.pypa.io/en/stable/reference/requirements-file-format/): one requirement
per line; ``#`` at the start of a line or after whitespace starts a comment; a trailing ``\\``
joins a line with the next; ``-r FILE`` / ``--requirement FILE`` and ``-c FILE`` /
``--constraint FILE`` name other files, relative to the file that names them; ``-e PATH`` /
``--editable PATH`` and bare paths (``./lib``, ``../core``) are local projects. The config
validator, the env key and ``vrun freeze`` all read through here. Files are read through
:mod:`vrun.inputs`, so the plan cache sees them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence

from vrun import inputs

_OPTIONS = {
    "-r": "-r",
    "--requirement": "-r",
    "-c": "-c",
    "--constraint": "-c",
    "-e": "-e",
    "--editable": "-e",
}


def file_option(entry: str) -> tuple[str, str] | None:
    """``("-r" | "-c" | "-e", value)`` for pip's ``-r FILE``, ``-rFILE``, ``--requirement[= ]FILE``
    forms (likewise ``-c`` and ``-e``), else ``None``. The value may be empty (an error for the caller)."""
    entry = entry.strip()
    for spelled, flag in _OPTIONS.items():
        if not entry.startswith(spelled):
            continue
        rest = entry[len(spelled) :]
        if spelled.startswith("--"):
            if rest[:1] == "=":
                return flag, rest[1:].strip()
            if not rest or rest[0].isspace():
                return flag, rest.strip()
        else:
            return flag, rest.lstrip("=").strip()
    return None


def is_local_path(entry: str) -> bool:
    """Whether a requirement line names a local directory or file rather than a PEP 508 requirement:
    ``./lib``, ``../core``, ``/abs``, ``~/x``, ``file:...`` (pip accepts these as requirements)."""
    return entry.startswith((".", "/", "~", "file:"))


def local_target(entry: str, base: str) -> str | None:
    """The absolute path a requirement line installs from, if it is local, else ``None``.

    Covers bare paths and ``file:`` URLs (see :func:`is_local_path`), ``-e PATH``, and PEP 508
    direct references ``name @ file:///abs/path``. Relative paths are taken from ``base``.
    """
    option = file_option(entry)
    if option is not None:
        if option[0] != "-e":
            return None
        entry = option[1]
    elif " @ " in entry or "@file:" in entry:
        entry = entry.split("@", 1)[1].strip().split(";", 1)[0].strip()
    if not is_local_path(entry):
        return None
    if entry.startswith("file:"):
        from urllib.parse import unquote, urlsplit

        entry = unquote(urlsplit(entry).path)
    entry = entry.split("#", 1)[0].split("[", 1)[0].strip()
    return os.path.normpath(os.path.join(base, os.path.expanduser(entry)))


def logical_lines(path: str) -> list[str]:
    """The requirement lines of one file: continuations joined, comments and blank lines dropped.

    :raises OSError: when the file cannot be read (recorded as such).
    """
    text = inputs.read_text(path)
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = pending + raw
        pending = ""
        if line.lstrip().startswith("#"):
            continue
        cut = line.find(" #")
        cut2 = line.find("\t#")
        cuts = [c for c in (cut, cut2) if c >= 0]
        line = (line[: min(cuts)] if cuts else line).strip()
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


class Walk:
    """Every file reachable from some ``-r`` and ``-c`` files, as pip would read them.

    :ivar requirement_files: display path (relative to the root where possible) -> content digest,
        ``"missing"`` for a referenced file that does not exist (pip will fail on it; the key
        changes once it appears).
    :ivar constraint_files: the same for constraint files; a ``-c`` line inside a requirement file
        adds one (pip's rule).
    :ivar lines: the requirement lines of the ``-r`` files (not of ``-c`` files), references left out.
    :ivar local: absolute paths of local projects those lines install (``-e ../core``, ``./lib``).
    """

    def __init__(self, requirement_files: Sequence[str], constraint_files: Sequence[str], root: str) -> None:
        self.requirement_files: dict[str, str] = {}
        self.constraint_files: dict[str, str] = {}
        self.lines: list[str] = []
        self.local: list[str] = []
        seen: set[tuple[str, str]] = set()
        todo = [("-r", p) for p in requirement_files] + [("-c", p) for p in constraint_files]
        while todo:
            kind, path = todo.pop(0)
            path = os.path.normpath(path)
            if (kind, path) in seen:
                continue
            seen.add((kind, path))
            found = self.requirement_files if kind == "-r" else self.constraint_files
            try:
                lines = logical_lines(path)
                found[display(path, root)] = hashlib.sha256(inputs.read_bytes(path)).hexdigest()[:16]
            except OSError:
                found[display(path, root)] = "missing"
                continue
            for line in lines:
                option = file_option(line)
                if option is not None and option[0] in ("-r", "-c"):
                    todo.append((option[0], os.path.join(os.path.dirname(path), option[1])))
                    continue
                if kind == "-r":
                    self.lines.append(line)
                    # pip resolves relative paths in a requirements file from the working directory,
                    # which is the project root for vrun's installers.
                    target = local_target(line, root)
                    if target is not None:
                        self.local.append(target)


def requirement_lines(requirement_files: Sequence[str], root: str) -> list[str]:
    """The requirement lines of ``-r`` files, following nested ``-r`` references (see :class:`Walk`)."""
    return Walk(requirement_files, (), root).lines


def display(path: str, root: str) -> str:
    """``path`` relative to ``root`` (POSIX separators) when inside it, else as is."""
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def iter_names(lines: Sequence[str], *, with_markers: bool = False) -> Iterator[str]:
    """PEP 503-normalized names of the PEP 508 requirements among ``lines``; local paths and
    options are skipped, and so are requirements with an environment marker (which may not
    apply) unless ``with_markers``."""
    for line in lines:
        if line.startswith("-") or is_local_path(line):
            continue
        # imported for the first requirement only: no requirement, no packaging (~20 ms cold)
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name

        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if with_markers or req.marker is None:
            yield canonicalize_name(req.name)
