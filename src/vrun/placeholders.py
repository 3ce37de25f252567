"""Placeholders in commands and set_env values: the one grammar, its load-time check, its expansion.

The grammar (docs/config.md, "Placeholders"), read left to right:

- ``{NAME}``, NAME a word (a letter or ``_``, then letters, digits, ``_``), is a placeholder;
  so is ``{NAME:ARG}`` when NAME is one of vrun's (:data:`NAMES`) or tox's (:data:`TOX_NAMES`),
  so that a Python dict or format spec (``{k: v}``, ``{x:>10}``) stays text. ARG runs to the
  ``}`` that closes the placeholder (braces inside it must balance) and may hold placeholders
  itself: ``{env:X:{env_tmp_dir}}``, as tox 4 and hatch nest them.
- A placeholder with its braces doubled, ``{{NAME}}`` or ``{{NAME:ARG}}``, is its own text:
  ``{{session}}`` gives ``{session}`` (Python's ``str.format`` escape, kept to placeholders so
  that ``{{.ID}}`` of a ``docker --format`` stays as written).
- Every other brace is text: ``{}``, ``{'a': 1}``, ``{1,2}``, and ``${...}``: a ``$`` right before
  ``{`` makes it shell syntax (``${HOME}``, ``${X:-${Y}}``), never a placeholder.

:func:`problem` checks a value when the config is loaded (an unknown name is a config error, with
the vrun spelling of a tox name from :data:`TOX_NAMES`); :class:`Expander` expands it when the
session runs. :mod:`vrun.run.compose` supplies the values. Light on purpose: the warm path imports this
module, so it imports nothing at import time, and :mod:`shlex` only to split a default.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Union

    #: A parsed value: text, or a placeholder ``(name, ARG or None)``.
    Token = Union[str, tuple[str, Union[str, None]]]

#: vrun's placeholders. ``posargs``, ``env`` and ``matrix`` take an ARG; the others take none.
#: ``{matrix:FACTOR}`` is replaced when the config is loaded (:func:`substitute`), so it never
#: reaches the session loop; the others when the session runs (:class:`Expander`).
NAMES = (
    "posargs",
    "env",
    "env_dir",
    "env_tmp_dir",
    "env_site_packages_dir",
    "project_root",
    "session",
    "matrix",
)
#: Placeholders that may stand in a set_env value (posargs belong to commands).
ENV_VALUE_NAMES = tuple(name for name in NAMES if name != "posargs")
#: tox's substitutions (tox 4 names and their tox 3 spellings, tox 4 "Substitutions") and what vrun
#: writes instead, ``None`` when it has no equivalent. The one table: ``vrun init`` translates with
#: it and the config loader names the vrun spelling when it meets a tox name.
TOX_NAMES: dict[str, str | None] = {
    "toxinidir": "{project_root}",
    "tox_root": "{project_root}",
    "package_root": "{project_root}",
    "envdir": "{env_dir}",
    "envname": "{session}",
    "env_name": "{session}",
    "envtmpdir": "{env_tmp_dir}",
    "temp_dir": "{env_tmp_dir}",
    "envsitepackagesdir": "{env_site_packages_dir}",
    "envpython": "python",
    "env_python": "python",
    "envbindir": "{env_dir}/bin",
    "env_bin_dir": "{env_dir}/bin",
    "toxworkdir": "{project_root}/.venvs",
    "work_dir": "{project_root}/.venvs",
    "homedir": "{env:HOME}",
    "envlogdir": None,
    "env_log_dir": None,
    "distdir": None,
    "distshare": None,
    "basepython": None,
    "base_python": None,
    "py_dot_ver": None,
    "py_impl": None,
    "tty": None,
    "glob": None,
    "factor": None,
}
_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD = _WORD_START | frozenset("0123456789")


#: How deep placeholders may nest in defaults (``{env:A:{env:B:...}}``); deeper is a config error.
MAX_NESTING = 32


def _at(text: str, i: int) -> tuple[str, str | None, int] | None:
    """The placeholder starting at ``text[i]`` (a ``{``): ``(name, ARG or None, index after it)``."""
    n = len(text)
    j = i + 1
    if j >= n or text[j] not in _WORD_START:
        return None
    while j < n and text[j] in _WORD:
        j += 1
    if j >= n:
        return None
    if text[j] == "}":
        return text[i + 1 : j], None, j + 1
    if text[j] != ":" or (text[i + 1 : j] not in NAMES and text[i + 1 : j] not in TOX_NAMES):
        return None  # a Python dict or format spec, ``{k: v}``, ``{x:>10}``: text
    depth = 0
    for k in range(j + 1, n):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            if not depth:
                return text[i + 1 : j], text[j + 1 : k], k + 1
            depth -= 1
    return None


def _scan(text: str) -> list[tuple[int, int, str | None, str | None]]:
    """Every placeholder and escape of ``text``, in order: ``(start, end, name, ARG)``; an escape
    (``{{NAME...}}``) has ``name`` ``None`` and its text in ``ARG``."""
    found: list[tuple[int, int, str | None, str | None]] = []
    i = text.find("{")
    while i >= 0:
        end = i + 1
        if not (i and text[i - 1] == "$"):
            if text.startswith("{", i + 1):
                inner = _at(text, i + 1)
                if inner is not None and text.startswith("}", inner[2]):
                    found.append((i, inner[2] + 1, None, text[i + 1 : inner[2]]))
                    end = inner[2] + 1
            else:
                one = _at(text, i)
                if one is not None:
                    found.append((i, one[2], one[0], one[1]))
                    end = one[2]
        i = text.find("{", end)
    return found


def parse(text: str) -> list[Token]:
    """``text`` as a list of text pieces and placeholders ``(name, ARG or None)``, escapes resolved."""
    if "{" not in text:
        return [text]
    out: list[Token] = []
    last = 0
    for start, end, name, arg in _scan(text):
        if start > last:
            out.append(text[last:start])
        out.append(arg if name is None else (name, arg))  # type: ignore[arg-type]
        last = end
    if last < len(text):
        out.append(text[last:])
    merged: list[Token] = []
    for token in out:
        if isinstance(token, str) and merged and isinstance(merged[-1], str):
            merged[-1] += token
        else:
            merged.append(token)
    return merged


def literal(text: str) -> str:
    """``text`` escaped so that :func:`parse` reads it back as the plain text ``text``: every
    placeholder and every escape in it gets one more pair of braces (``{session}`` becomes
    ``{{session}}``, ``{{session}}`` becomes ``{{{session}}}``); other braces are text already.
    For values that come from outside vrun's syntax (a dotenv file's) and must be taken as written."""
    if "{" not in text:
        return text
    out, last = [], 0
    for start, end, _name, _arg in _scan(text):
        out += [text[last:start], "{", text[start:end], "}"]
        last = end
    out.append(text[last:])
    return "".join(out)


def spans(text: str) -> list[tuple[int, int]]:
    """Where the placeholders with an ARG are in ``text``: a command string is split into words
    around them, so that ``{posargs:-q tests}`` and ``{env:X:a b}`` stay one word each."""
    return [(start, end) for start, end, name, arg in _scan(text) if name is not None and arg is not None]


def split(text: str, held: Sequence[tuple[int, int]] | None = None) -> list[str]:
    """:func:`shlex.split` (POSIX rules), except that each span in ``held`` stays within one word;
    by default the spans are those of :func:`spans`, so ``{posargs:-q tests}`` is one word.

    :raises ValueError: as :func:`shlex.split` does, for unbalanced quotes or a trailing escape.
    """
    import shlex

    held = spans(text) if held is None else held
    masked = text
    for i, (start, end) in reversed(list(enumerate(held))):
        masked = f"{masked[:start]}\0{i}\0{masked[end:]}"
    words = shlex.split(masked)
    for i, (start, end) in enumerate(held):
        words = [word.replace(f"\0{i}\0", text[start:end]) for word in words]
    return words


def uses(text: str, name: str) -> bool:
    """Whether ``text`` holds placeholder ``name``, nested ones included."""
    if "{" not in text:
        return False
    for token in parse(text):
        if isinstance(token, tuple) and (token[0] == name or (token[1] is not None and uses(token[1], name))):
            return True
    return False


def substitute(text: str, name: str, value: Callable[[str | None], str]) -> str:
    """``text`` with every ``{NAME...}`` placeholder of ``name`` replaced by ``value(ARG)`` (``ARG``
    ``None`` for a bare ``{NAME}``), those nested in another placeholder's ARG included
    (``{posargs:-k {matrix:django}}``); escapes (``{{NAME}}``), other placeholders and text stay
    byte for byte. The config loader replaces ``{matrix:FACTOR}`` this way (docs/config.md,
    "Matrices"), before anything else reads the value.

    :raises: whatever ``value`` raises (an unknown factor is the caller's error to name).
    """
    if "{" + name not in text:
        return text
    out = []
    last = 0
    for start, end, found, arg in _scan(text):
        if found == name:
            replacement = value(arg)
        elif found is not None and arg is not None and "{" + name in arg:
            replacement = "{" + found + ":" + substitute(arg, name, value) + "}"
        else:
            continue
        out += [text[last:start], replacement]
        last = end
    out.append(text[last:])
    return "".join(out)


def _env_arg(arg: str) -> tuple[str, str | None]:
    """``{env:ARG}``'s ARG as ``(variable, default or None)``; a default may hold ``:``."""
    var, sep, default = arg.partition(":")
    return var, default if sep else None


def problem(text: str, names: Sequence[str] = NAMES, depth: int = 0) -> tuple[str, str] | None:
    """The first thing wrong with the placeholders of ``text``, as ``(problem, hint)``, or ``None``.

    :param names: the placeholders allowed where ``text`` stands (:data:`NAMES` in commands,
        :data:`ENV_VALUE_NAMES` in set_env values).
    :param depth: how deep ``text`` is nested in defaults; past :data:`MAX_NESTING` is a problem
        (expanding it would exhaust Python's recursion limit).
    """
    if depth > MAX_NESTING:
        return (
            f"placeholders nested more than {MAX_NESTING} deep in defaults",
            "flatten the defaults: set the value in one variable",
        )
    for token in parse(text):
        if not isinstance(token, tuple):
            continue
        name, arg = token
        shown = "{" + name + ("" if arg is None else ":" + arg) + "}"
        literal = f"to write the text {shown} itself, double its braces: {{{shown}}}"
        if name not in NAMES:
            if name in TOX_NAMES:
                vrun = TOX_NAMES[name]
                if vrun is None:
                    return f"unknown placeholder {shown}: tox's {{{name}}} has no vrun equivalent", literal
                return f"unknown placeholder {shown}", f"tox's {{{name}}} is {vrun} in vrun"
            import difflib  # only on the error path

            close = difflib.get_close_matches(name, NAMES, n=1)
            hint = (
                f"did you mean {{{close[0]}}}?"
                if close
                else f"placeholders: {', '.join(f'{{{n}}}' for n in NAMES)}"
            )
            return f"unknown placeholder {shown}", f"{hint} ({literal})"
        if name == "matrix":  # the loader replaced every one it may (substitute): this one it may not
            return f"{shown} cannot be used in this value", "{matrix:FACTOR} stands in a session's own keys"
        if name not in names:
            allowed = ", ".join(f"{{{n}}}" for n in names) or "none"
            return f"{shown} cannot be used in this value", f"placeholders it takes: {allowed}"
        if name == "env":
            var, default = _env_arg(arg or "")
            if not var or var[0] not in _WORD_START or not set(var) <= _WORD:
                return f"{shown} needs a variable name", "write {env:NAME} or {env:NAME:DEFAULT}"
            found = None if default is None else _default_problem(shown, default, names, depth)
            if found is not None:
                return found
        elif name == "posargs":
            found = None if arg is None else _default_problem(shown, arg, names, depth)
            if found is not None:
                return found
        elif arg is not None:
            return f"{shown}: {{{name}}} takes no argument", f"write {{{name}}}"
    return None


def _default_problem(shown: str, default: str, names: Sequence[str], depth: int) -> tuple[str, str] | None:
    """What is wrong with a DEFAULT: its placeholders, or quotes that do not split into words."""
    found = problem(default, names, depth + 1)  # first: nesting too deep stops before split()
    if found is not None:
        return found
    try:
        split(default)
    except ValueError as exc:
        return f"{shown}: the default cannot be split into words: {exc}", "balance its quotes"
    return None


class UnsetVariable(Exception):
    """``{env:VAR}`` without a default, and ``VAR`` is not set."""

    def __init__(self, variable: str, placeholder: str) -> None:
        super().__init__(variable)
        self.variable = variable
        self.placeholder = placeholder


class Expander:
    """Expands the placeholders of one session's values (see the module docstring for the grammar).

    :param value: the value of ``{env_dir}``, ``{env_tmp_dir}``, ``{env_site_packages_dir}``,
        ``{project_root}`` and ``{session}``, by name (called only for those a value holds).
    :param variable: the value of an environment variable, ``None`` when it is not set.
    :param posargs: what followed ``--`` (``None``: no ``--`` was given).
    :param join: how posargs inside a longer argument are joined (:func:`vrun.output.join`,
        :func:`shlex.join`'s quoting).
    :param strict: an unset ``{env:VAR}`` without a default raises :class:`UnsetVariable`;
        otherwise it stays as written (to show a command that will not run).
    """

    def __init__(
        self,
        value: Callable[[str], str],
        variable: Callable[[str], str | None],
        posargs: Sequence[str] | None = None,
        *,
        join: Callable[[Sequence[str]], str],
        strict: bool = True,
    ) -> None:
        self.value = value
        self.variable = variable
        self.posargs = posargs
        self.join = join
        self.strict = strict

    def text(self, text: str) -> str:
        """``text`` with every placeholder replaced by its value as text, posargs joined by
        :attr:`join`: one argument, or a whole ``/bin/sh`` command line.

        :raises UnsetVariable: see :class:`Expander`.
        """
        if "{" not in text:
            return text
        out = []
        for token in parse(text):
            if isinstance(token, str):
                out.append(token)
                continue
            name, arg = token
            if name == "posargs":
                out.append(self.join(self._posargs(arg)))
            elif name == "env":
                out.append(self._env(arg or ""))
            else:
                out.append(self.value(name))
        return "".join(out)

    def words(self, arg: str) -> list[str]:
        """One command argument as zero or more arguments.

        An argument that is exactly one ``{posargs...}`` or ``{env:...}`` placeholder becomes the
        posargs, or the variable's value split as a shell splits words (:func:`shlex.split`), or
        its DEFAULT split that way with each word then expanded; empty, it gives no argument (an
        unquoted ``$X`` in sh). Any other argument is one argument, expanded by :meth:`text`.

        :raises UnsetVariable: see :class:`Expander`.
        :raises ValueError: a variable's value or a default with unbalanced quotes.
        """
        if not arg.startswith("{") or not arg.endswith("}"):
            return [self.text(arg)]
        tokens = parse(arg)
        if len(tokens) != 1 or not isinstance(tokens[0], tuple) or tokens[0][0] not in ("posargs", "env"):
            return [self.text(arg)]
        name, inner = tokens[0]
        if name == "posargs":
            return self._posargs(inner)
        var, default = _env_arg(inner or "")
        found = self.variable(var)
        if found is not None:
            import shlex

            return shlex.split(found)
        if default is None:
            return [self._env(inner or "")]
        return self._split(default)

    def _posargs(self, default: str | None) -> list[str]:
        if self.posargs is not None:
            return list(self.posargs)
        return self._split(default) if default else []

    def _split(self, default: str) -> list[str]:
        """A default split into words (:func:`split`), each word then expanded (a ``{env_tmp_dir}``
        with a space in it stays one word)."""
        return [self.text(word) for word in split(default)]

    def _env(self, arg: str) -> str:
        var, default = _env_arg(arg)
        found = self.variable(var)
        if found is not None:
            return found
        if default is not None:
            return self.text(default)
        if self.strict:
            raise UnsetVariable(var, "{env:" + arg + "}")
        return "{env:" + arg + "}"


def missing(
    texts: Mapping[str, str], variable: Callable[[str], str | None], posargs: Sequence[str] | None = None
) -> tuple[str, UnsetVariable] | None:
    """The first of ``texts`` (label -> text) that needs an unset variable, as ``(label, error)``.

    Only ``{env:...}`` placeholders are looked at (every other value is taken as empty, nothing on
    disk is touched), defaults included where they are used (a ``{posargs:DEFAULT}``'s only when
    ``posargs`` is ``None``).
    """
    check = Expander(lambda name: "", variable, posargs, join=" ".join)  # only variables matter
    for label, text in texts.items():
        if "{env:" not in text:  # nothing to look up (and no posargs default to split)
            continue
        try:
            check.text(text)
        except UnsetVariable as exc:
            return label, exc
    return None


def has_posargs(argv: Iterable[str]) -> bool:
    """True when some argument holds a ``{posargs}`` placeholder (nested ones included)."""
    return any(uses(arg, "posargs") for arg in argv)
