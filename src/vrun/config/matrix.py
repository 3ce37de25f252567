"""Matrices: a session's entries, their names, the overrides that reach each, ``{matrix:FACTOR}``.

A session's ``matrix`` is a table of factors, each a non-empty list of values
(``{ python = ["3.11", "3.12"], django = ["4.2", "5.0"] }``), or a list of such tables: a table
makes the product of its factors, a list the union of its tables' products (hatch's
``[[tool.hatch.envs.NAME.matrix]]``, entries made twice counted once). ``python = ["3.11",
"3.12"]`` is the matrix with the one factor ``python``. Each entry is a session of its own, named
after the session and its values (:func:`entry_name`, ``test-3.12-django4.2``).

``overrides`` are keyed by a condition on the values (:func:`parse_condition`: ``"django=4.2"``,
``"python=3.12, django=4.2"``, or ``"3.12"`` for the python factor); every override whose
condition an entry meets is laid over the session, in the order written, by the merge rule of
``extends`` (:func:`vrun.config.extends.merged`), and its ``add`` table appends to arrays. Then
``{matrix:FACTOR}`` and ``{matrix:FACTOR:DEFAULT}`` (hatch's ``{matrix:NAME:DEFAULT}``) are replaced
by the entry's values in every string of the session (:data:`NOT_SUBSTITUTED` aside), before
anything is validated, so an entry's ``deps`` decide its env key like any session's.
docs/config.md, "Matrices", has the rules and compares them with tox factors, nox
``parametrize`` and hatch matrices.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from vrun import placeholders
from vrun.config import fields
from vrun.config.extends import Table, merged
from vrun.config.keys import (
    ADD_KEYS,
    OVERRIDE_KEYS,
    SESSION_KEYS,
    Context,
    array,
    check_keys,
    got,
    string,
    suggest,
    table,
)
from vrun.config.tomlfile import key_part

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from vrun._types import TomlTable, TomlValue

#: One entry's values: ``(factor, value)`` pairs, ``python`` first, then the factors in the order
#: its matrix table writes them; ``()`` for a session without a matrix.
Pairs = tuple[tuple[str, str], ...]

#: A factor's name: a word, as a placeholder's (``{matrix:django}``) and a nox argument's are.
FACTOR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A factor's value: what a session name may hold (it becomes part of the entry's name).
VALUE = re.compile(r"[A-Za-z0-9_.+-]+")
#: Keys whose strings keep ``{matrix:...}`` as written: what makes the matrix and what its entries
#: share (``requires``).
NOT_SUBSTITUTED = ("python", "matrix", "overrides", "extends", "requires")


@dataclass(frozen=True)
class Entry:
    """One entry of a session's matrix.

    :param pairs: its values (:data:`Pairs`).
    :param key: the dotted key that made it, for errors about its name (``sessions.test.python[1]``,
        ``sessions.test.matrix``, ``sessions.test.matrix[2]``).
    """

    pairs: Pairs
    key: str


def name_part(factor: str, value: str) -> str:
    """What a value adds to an entry's name: a python value as it is (``3.12``, ``pypy3.10``); any
    other value as it is when it starts with a letter (``postgres``), else after its factor's name
    (``django4.2``): a bare number says nothing, and this is how tox spells such factors."""
    return value if factor == "python" or not value[:1].isdigit() else factor + value


def entry_name(base: str, pairs: Pairs) -> str:
    """An entry's session name: the session's name and each :func:`name_part`, joined by ``-``
    (``test``, ``[("python", "3.12"), ("django", "4.2")]`` -> ``test-3.12-django4.2``)."""
    return "-".join([base, *(name_part(factor, value) for factor, value in pairs)])


def describe(pairs: Pairs) -> str:
    """``pairs`` as a condition is written: ``python=3.12, django=4.2``."""
    return ", ".join(f"{factor}={value}" for factor, value in pairs)


def parse_condition(text: str) -> Pairs:
    """An ``overrides`` key as the values an entry must have: ``FACTOR=VALUE`` terms separated by
    commas, all of which must hold (``"python=3.12, django=4.2"``); a lone term without ``=`` is a
    python value (``"3.12"``, the key a python matrix's overrides have always had).

    :raises ValueError: a malformed condition, with the problem as its message.
    """
    terms = [term.strip() for term in text.split(",")]
    if len(terms) == 1 and "=" not in terms[0] and terms[0]:
        return (("python", terms[0]),)
    out: list[tuple[str, str]] = []
    for term in terms:
        factor, sep, value = (part.strip() for part in term.partition("="))
        if not sep or not FACTOR_NAME.fullmatch(factor) or not value:
            raise ValueError(f"{term!r} is not FACTOR=VALUE")
        if any(factor == seen for seen, _ in out):
            raise ValueError(f"{factor} is named twice")
        out.append((factor, value))
    return tuple(out)


def entries(ctx: Context, base: str, session: Table) -> list[Entry] | None:
    """The entries of the session ``base`` (its table with what it extends merged in), in order:
    each table's product with its first factor varying slowest (python first), tables in order,
    an entry that an earlier table made already left out. ``None`` when it has no matrix (no
    ``matrix``, ``matrix = {}``, ``python`` not a list).

    :raises ConfigError: a python list beside a matrix, a matrix that is not a table or a
        non-empty array of tables, a factor name that is not a word, a factor without values, a
        value that is not a string fit for a session name, a value listed twice.
    """
    values = session.values
    if "matrix" not in values:
        if not isinstance(values.get("python"), list):
            return None
        key = session.key("python")
        specs = fields.pythons(ctx, key, values["python"])
        return [Entry((("python", spec),), f"{key}[{i}]") for i, spec in enumerate(specs)]
    key = session.key("matrix")
    if isinstance(values.get("python"), list):
        raise ctx.error(
            key,
            "the session has a python list and a matrix; it can have one matrix",
            'put the Pythons in the matrix: matrix = { python = ["3.11", "3.12"], ... }',
        )
    raw = values["matrix"]
    if isinstance(raw, dict):
        tables = [(key, raw)]
    elif isinstance(raw, list) and raw:
        tables = [(f"{key}[{i}]", table(ctx, f"{key}[{i}]", item)) for i, item in enumerate(raw)]
    else:
        raise ctx.error(
            key,
            f"expected a table of factors or a non-empty array of them, got {got(raw)}",
            'write matrix = { python = ["3.11", "3.12"], django = ["4.2", "5.0"] }',
        )
    out: list[Entry] = []
    seen: set[frozenset[tuple[str, str]]] = set()
    for where, factors in tables:
        found = _factors(ctx, where, factors)
        if not found:
            if len(tables) == 1:
                return None
            raise ctx.error(where, "an empty table makes no entries", "give it factors, or leave it out")
        for combo in itertools.product(*(values for _, values in found)):
            pairs = tuple((name, value) for (name, _), value in zip(found, combo))
            if frozenset(pairs) not in seen:
                seen.add(frozenset(pairs))
                out.append(Entry(pairs, where))
    return out


def _factors(ctx: Context, where: str, factors: TomlTable) -> list[tuple[str, list[str]]]:
    """One matrix table's factors and their values, python first."""
    out: list[tuple[str, list[str]]] = []
    for name, raw in factors.items():
        key = f"{where}.{key_part(name)}"
        if not FACTOR_NAME.fullmatch(name):
            raise ctx.error(
                key,
                f"{name!r} is not a factor name",
                "a factor is named like a Python variable (django, db_backend): it is written {matrix:NAME}",
            )
        if not isinstance(raw, list) or not raw:
            shown = "an empty array" if raw == [] else got(raw)
            raise ctx.error(
                key, f"expected a non-empty array of values, got {shown}", f'write {name} = ["1.0", "2.0"]'
            )
        listed: dict[str, str] = {}
        for i, item in enumerate(raw):
            value = string(ctx, f"{key}[{i}]", item, like="4.2")
            if not VALUE.fullmatch(value):
                raise ctx.error(
                    f"{key}[{i}]",
                    f"{name} {value!r} cannot be part of a session name",
                    "a matrix value holds only letters, digits, '_', '.', '+' and '-' (it names entries)",
                )
            if value in listed:
                raise ctx.error(f"{key}[{i}]", f"{name} {value!r} is already used by {listed[value]}")
            listed[value] = f"{key}[{i}]"
        out.append((name, list(listed)))
    out.sort(key=lambda factor: factor[0] != "python")  # stable: the others keep their order
    return out


def entry_tables(
    ctx: Context, session: Table, found: list[Entry], where: str, check: Callable[[Table], object]
) -> dict[Pairs, Table]:
    """The tables of the entries that differ from ``session`` (an override reaches them, or a
    ``{matrix:...}`` takes their values): their pairs -> the merged table.

    ``found`` are the session's entries (one ``Entry((), where)`` for a session without a matrix,
    whose ``{matrix:FACTOR:DEFAULT}`` take their defaults); ``where`` is the dotted key of the
    session's own table. Overrides the session inherited by ``extends`` whose condition names a
    factor or value its own matrix lacks are dropped; its own such overrides are an error.

    :param check: validates a table of session keys (the arrays of an ``add`` table, at their own
        keys, with the entry's ``shell`` and ``install_project``), raising :class:`ConfigError`.
    :raises ConfigError: as :func:`_overrides` and :func:`_substitute`.
    """
    overrides = _overrides(ctx, session, found, where)
    plain = Table(
        {k: v for k, v in session.values.items() if k != "overrides"},
        {k: v for k, v in session.origin.items() if k != "overrides"},
    )
    out: dict[Pairs, Table] = {}
    for entry in found:
        laid = plain
        adds: list[tuple[str, TomlTable]] = []
        for condition, values, key in overrides:
            if set(condition) <= set(entry.pairs):
                laid = merged(laid, {k: v for k, v in values.items() if k != "add"}, key)
                if "add" in values:
                    adds.append((f"{key}.add", table(ctx, f"{key}.add", values["add"])))
        laid = _substitute(ctx, laid, entry.pairs)
        for key, add in adds:
            items = {
                name: _value(ctx, f"{key}.{key_part(name)}", value, entry.pairs)
                for name, value in add.items()
            }
            context = [name for name in ("shell", "install_project") if name in laid.values]
            check(
                Table(
                    {**{name: laid.values[name] for name in context}, **items},
                    {**{name: laid.origin[name] for name in context}, **dict.fromkeys(items, key)},
                )
            )
            laid = _appended(laid, items, key)
        if laid is not plain:
            out[entry.pairs] = laid
    return out


def _overrides(
    ctx: Context, session: Table, found: list[Entry], where: str
) -> list[tuple[Pairs, TomlTable, str]]:
    """The session's overrides that apply to its matrix, in order: ``(condition, keys, dotted key)``.

    :raises ConfigError: ``overrides`` without a matrix, a malformed condition, one the matrix
        cannot meet, a key an entry cannot override (:data:`vrun.config.keys.OVERRIDE_KEYS`), an
        ``add`` that is not a table of arrays of :data:`vrun.config.keys.ADD_KEYS`, a value that is
        not a table.
    """
    if "overrides" not in session.values:
        return []
    key = session.key("overrides")
    own = session.origin["overrides"] == where
    overrides = table(ctx, key, session.values["overrides"])
    factors: dict[str, list[str]] = {}
    for entry in found:
        for factor, value in entry.pairs:
            factors.setdefault(factor, [])
            if value not in factors[factor]:
                factors[factor].append(value)
    if not overrides or (not factors and not own):
        return []
    if not factors:
        raise ctx.error(
            key,
            "overrides change entries of a matrix, and this session has none",
            'give the session a matrix (python = ["3.11", "3.12"], or matrix = { ... }), or set the '
            "keys in the session itself",
        )
    out: list[tuple[Pairs, TomlTable, str]] = []
    for text, raw in overrides.items():
        entry_key = f"{key}.{key_part(text)}"
        try:
            condition = parse_condition(text)
        except ValueError as exc:
            raise ctx.error(
                entry_key,
                f"{text!r} is not a condition: {exc}",
                'name values of the matrix: "django=4.2", or "python=3.12, django=4.2" for both',
            ) from None
        unmet = _unmet(text, condition, factors, found)
        if unmet is not None:
            if not own:
                continue
            raise ctx.error(entry_key, *unmet)
        values = table(ctx, entry_key, raw)
        for name in values:
            if name not in OVERRIDE_KEYS and name in SESSION_KEYS:
                raise ctx.error(
                    f"{entry_key}.{key_part(name)}",
                    f"{name} cannot be overridden for one entry of a matrix",
                    "requires is shared by a matrix's entries" if name == "requires" else None,
                )
        check_keys(ctx, entry_key + ".", values, (*OVERRIDE_KEYS, "add"))
        if "add" in values:
            _check_add(ctx, f"{entry_key}.add", values["add"])
        out.append((condition, values, entry_key))
    return out


def _unmet(
    text: str, condition: Pairs, factors: dict[str, list[str]], found: list[Entry]
) -> tuple[str, str] | None:
    """Why no entry meets ``condition``, as ``(problem, hint)``, or ``None`` when one does."""
    for factor, value in condition:
        if factor not in factors:
            bare = "=" not in text
            others = [f for f in factors if f != "python"]
            hint = (
                f'the matrix has no python factor; write FACTOR=VALUE, e.g. "{others[0]}={value}"'
                if bare and others
                else suggest(factor, list(factors)) or f"its factors: {', '.join(factors)}"
            )
            return f"{factor} {value!r} is not in the session's matrix", hint
        if value not in factors[factor]:
            hint = suggest(value, factors[factor]) or f"{factor} is one of {', '.join(factors[factor])}"
            return f"{factor} {value!r} is not in the session's matrix", hint
    if not any(set(condition) <= set(entry.pairs) for entry in found):
        return f"no entry of the session's matrix has {describe(condition)}", "`vrun list` shows the entries"
    return None


def _check_add(ctx: Context, key: str, value: TomlValue) -> None:
    """An override's ``add``: a table of :data:`vrun.config.keys.ADD_KEYS`, each an array."""
    for name, items in table(ctx, key, value).items():
        if name in SESSION_KEYS and name not in ADD_KEYS:
            merges = name in ("env", "build_env")
            raise ctx.error(
                f"{key}.{key_part(name)}",
                f"add appends to arrays; {name} is not one",
                f"{name} merges by name: set it in the override itself"
                if merges
                else f"add takes {', '.join(ADD_KEYS)}",
            )
        check_keys(ctx, key + ".", {name: items}, ADD_KEYS)
        array(ctx, f"{key}.{key_part(name)}", items, "commands" if name == "commands" else "strings")


def _appended(laid: Table, items: TomlTable, where: str) -> Table:
    """``laid`` with each array of ``items`` appended to its own (which ``items`` start when it has
    none; a value that is not an array stays, for the validator to report where it was written)."""
    out = Table(dict(laid.values), dict(laid.origin))
    for name, value in items.items():
        current = out.values.get(name)
        if name not in out.values:
            out.values[name] = value
            out.origin[name] = where
        elif isinstance(current, list) and isinstance(value, list):
            out.values[name] = [*current, *value]
    return out


def _substitute(ctx: Context, laid: Table, pairs: Pairs) -> Table:
    """``laid`` with ``{matrix:...}`` replaced by ``pairs``' values (:func:`_value`); ``laid`` itself
    when it holds none."""
    changed = {
        name: new
        for name, value in laid.values.items()
        if name not in NOT_SUBSTITUTED and (new := _value(ctx, laid.key(name), value, pairs)) is not value
    }
    if not changed:
        return laid
    return Table({**laid.values, **changed}, dict(laid.origin))


def fill(text: str, pairs: Pairs, missing: Callable[[str | None], str]) -> str:
    """``text`` with ``{matrix:FACTOR}`` and ``{matrix:FACTOR:DEFAULT}`` replaced by the values of
    ``pairs`` (a DEFAULT where they lack FACTOR, its own placeholders replaced too).

    :param missing: the text of a placeholder ``pairs`` cannot fill, from its ARG (``None`` for a
        bare ``{matrix}``); it may raise instead.
    """
    values = dict(pairs)

    def one(arg: str | None) -> str:
        factor, sep, default = (arg or "").partition(":")
        if arg and factor in values:
            return values[factor]
        if arg and sep:
            return fill(default, pairs, missing)
        return missing(arg)

    return placeholders.substitute(text, "matrix", one)


def _value(ctx: Context, key: str, value: TomlValue, pairs: Pairs) -> TomlValue:
    """A raw value (dotted key ``key``) with ``{matrix:FACTOR}`` and ``{matrix:FACTOR:DEFAULT}``
    replaced in its strings, nested arrays and tables included; the value itself when unchanged.

    :raises ConfigError: a bare ``{matrix}``, or a factor the entry lacks without a default.
    """
    if isinstance(value, str):
        return fill(value, pairs, lambda arg: _missing(ctx, key, arg, pairs))
    if isinstance(value, list):
        items = [_value(ctx, f"{key}[{i}]", item, pairs) for i, item in enumerate(value)]
        return items if any(new is not old for new, old in zip(items, value)) else value
    if isinstance(value, dict):
        table_ = {k: _value(ctx, f"{key}.{key_part(k)}", v, pairs) for k, v in value.items()}
        return table_ if any(table_[k] is not v for k, v in value.items()) else value
    return value


def _missing(ctx: Context, key: str, arg: str | None, pairs: Pairs) -> str:
    """Raise the error of a ``{matrix:ARG}`` the entry with ``pairs`` cannot fill."""
    values = dict(pairs)
    if not arg:
        hint = f"its factors: {', '.join(values)}" if values else "give the session a matrix"
        raise ctx.error(key, "{matrix} needs a factor: write {matrix:FACTOR}", hint)
    shown = "{matrix:" + arg + "}"
    factor = arg.partition(":")[0]
    if not values:
        problem = f"{shown}: the session has no matrix"
        hint = f"give it one, or a default: {{matrix:{factor}:DEFAULT}}"
    else:
        problem = f"{shown}: the matrix entry {describe(pairs)} has no factor {factor!r}"
        hint = suggest(factor, list(values)) or f"give a default: {{matrix:{factor}:DEFAULT}}"
    raise ctx.error(key, problem, hint)
