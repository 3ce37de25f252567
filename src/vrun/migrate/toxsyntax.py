"""tox's value syntax, as ``vrun init`` reads it: list values, generative env names, python
factors, substitutions and command lines.

The rules are the tox 4 documentation's: "Configuration" (list values, ``base_python``),
"Generative environments" (``py{39,310}-django{40,41}``, ranges ``py3{9-12}``; a factor such as
``py310`` names a Python) and "Substitutions" (``{toxinidir}``, ``{env_name}``, ``{posargs}``,
``{env:NAME}`` and their tox 3 spellings).
"""

from __future__ import annotations

import re

from vrun.config.fields import split_keeping_placeholders
from vrun.migrate.model import Notes
from vrun.placeholders import NAMES, TOX_NAMES, problem

#: A tox python factor: ``py39``, ``py3.10``, ``py3``, ``pypy310``, ``cpython3.12``, ``3.12``, ``py313t``.
_PY_FACTOR = re.compile(
    r"(?:(?P<impl>py|pypy|cpython|python|jython|graalpy)(?P<major>[23])(?:\.?(?P<minor>\d+))?"
    r"|(?P<dmajor>[23])\.(?P<dminor>\d+))(?P<t>t?)"
)


def split_list(value: str) -> list[str]:
    """A tox list value (``deps``, ``extras``, ``pass_env``...): items separated by commas,
    whitespace or newlines (tox 4, "Configuration")."""
    return [item for item in re.split(r"[\s,]+", value) if item]


def split_top(value: str) -> list[str]:
    """Split an ``env_list`` (or a label's list) on commas, whitespace and newlines outside braces,
    so that ``py{39,310}`` stays one generative name (tox 4, "Generative environments")."""
    items, depth, current = [], 0, ""
    for char in value:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        if depth == 0 and (char == "," or char.isspace()):
            if current:
                items.append(current)
            current = ""
        else:
            current += char
    if current:
        items.append(current)
    return items


def expand(name: str, notes: Notes) -> list[str]:
    """Expand a tox generative name (tox 4, "Generative environments").

    ``py{39,310}-x`` gives ``py39-x`` and ``py310-x``; ``{9-12}`` is an inclusive range. An open
    range (``{9-}``) cannot be expanded: it is left out, with a note in ``notes``.

    :return: the env names, in the order tox lists them.
    """
    match = re.search(r"\{([^{}]*)\}", name)
    if match is None:
        return [name]
    alternatives: list[str] = []
    for raw_alt in match.group(1).split(","):
        alt = raw_alt.strip()
        bounds = re.fullmatch(r"(\d+)-(\d*)", alt)
        if bounds and bounds.group(2):
            low, high = int(bounds.group(1)), int(bounds.group(2))
            alternatives += [str(i) for i in range(low, high + 1)]
        elif bounds:
            notes.add(f"env_list: open range {{{alt}}} in {name!r} not expanded; list the versions")
        else:
            alternatives.append(alt)
    out: list[str] = []
    for alt in alternatives:
        out += expand(name[: match.start()] + alt + name[match.end() :], notes)
    return out


def python_factor(factor: str) -> str | None:
    """The vrun python spec a tox factor names, or ``None`` when it names no Python.

    Factors follow tox 4's "Generative environments" rule: ``py310`` and ``python3.10`` are
    ``3.10``, ``pypy310`` is ``pypy3.10``, ``3.12t`` stays free-threaded; a bare ``py``, ``python``
    or ``cpython`` gives ``""`` (some Python, the env's ``base_python`` or vrun's default).
    """
    if factor in ("py", "python", "cpython"):
        return ""
    if factor == "pypy":
        return "pypy"
    match = _PY_FACTOR.fullmatch(factor)
    if match is None:
        return None
    if match["dmajor"]:
        return f"{match['dmajor']}.{match['dminor']}{match['t']}"
    version = match["major"] + (f".{match['minor']}" if match["minor"] else "")
    impl = match["impl"]
    if impl in ("py", "cpython", "python"):
        return version + match["t"]
    return f"{impl}{version}{match['t']}"


def python_spec(value: str) -> str:
    """A tox ``base_python`` value as a vrun spec: ``python3.12`` and ``py312`` become ``3.12``;
    anything else (a path, ``python3``) is kept as written."""
    value = value.strip()
    spec = python_factor(value)
    return spec if spec else value


#: tox's separators, ``{/}`` and ``{:}`` (``os.sep`` and ``os.pathsep``), as POSIX spells them.
_SEPARATORS = {"/": "/", ":": ":"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def placeholders(text: str, where: str, notes: Notes) -> str:
    """Translate the tox substitutions in ``text`` (tox 4, "Substitutions") to vrun's placeholders.

    tox names become vrun's through :data:`vrun.placeholders.TOX_NAMES` (``{toxinidir}`` is
    ``{project_root}``, ``{envtmpdir}`` ``{env_tmp_dir}``, tox 3 spellings too); ``{/}`` and
    ``{:}`` become ``/`` and ``:``; vrun's own names, ``{posargs}`` and ``{env:NAME:DEFAULT}`` stay
    as they are, and ``{env:NAME}`` becomes ``{env:NAME:}`` (tox gives an unset variable's value as
    empty, vrun stops without a default). A substitution vrun does not have is written as literal
    text (``{{distdir}}``, which vrun reads as ``{distdir}``), with a note naming ``where``.
    """

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        name, colon, _arg = inner.partition(":")
        if inner in _SEPARATORS:
            return _SEPARATORS[inner]
        if name == "env" and _arg and ":" not in _arg:
            return "{" + inner + ":}"
        if name in NAMES:
            return match.group(0)
        if not colon and TOX_NAMES.get(name):
            return TOX_NAMES[name] or ""
        notes.add(f"{where}: substitution {match.group(0)} has no vrun equivalent; kept as text")
        return "{" + match.group(0) + "}" if problem(match.group(0)) else match.group(0)

    return _PLACEHOLDER.sub(one, text)


#: Any ``{...}`` placeholder, one level of nested braces included (``{posargs:{env:X}}``).
_ANY_PLACEHOLDER = re.compile(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")


def split_command(text: str) -> list[str]:
    """Split a tox command line with POSIX :mod:`shlex` rules (tox 4, "Configuration": commands),
    keeping every ``{...}`` substitution in one word.

    :raises ValueError: for unbalanced quotes or a trailing escape, as :func:`shlex.split` does.
    """
    return split_keeping_placeholders(text, _ANY_PLACEHOLDER)
