"""How a session's table is put together before it is validated: ``extends``, and the merge rule
that matrix ``overrides`` use too (:mod:`vrun.config.matrix`).

One merge rule serves both (docs/config.md, "extends" and "Matrix overrides"), the rule of hatch's
``template`` and tox 4's ``base``: a key the session (or the override) sets replaces the inherited
one, arrays included; the ``env`` and ``build_env`` tables merge key by key, the session's values
winning. ``description`` and ``extends`` itself are not inherited (:data:`vrun.config.keys.NOT_INHERITED`).

Every key remembers the table it was written in, so an error in an inherited value names the key
where it stands (``sessions.base.deps[0]``), not the session that inherited it. The values are raw
TOML here; :mod:`vrun.config.load` validates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vrun.config.keys import NOT_INHERITED, Context, string, suggest
from vrun.config.tomlfile import key_part

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlTable

#: Tables that merge key by key instead of being replaced.
MERGED = ("env", "build_env")


@dataclass
class Table:
    """A session's raw values, each with the dotted key of the table it came from.

    :param values: key -> raw TOML value.
    :param origin: key -> the dotted key of the table that set it (``sessions.base``); for a merged
        table (``env``), the last table that set any of it.
    """

    values: TomlTable = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)

    def key(self, name: str) -> str:
        """The dotted key of value ``name`` where it was written (``sessions.base.deps``)."""
        return f"{self.origin[name]}.{name}"


def merged(base: Table, own: TomlTable, where: str, *, skip: tuple[str, ...] = ()) -> Table:
    """``base`` with ``own`` (the table at dotted key ``where``) laid over it by the merge rule;
    keys in ``skip`` are taken from ``own`` only."""
    # A python list is a matrix too: a table that sets one kind replaces an inherited other.
    if "matrix" in own and "python" not in own and isinstance(base.values.get("python"), list):
        skip = (*skip, "python")
    elif isinstance(own.get("python"), list) and "matrix" not in own:
        skip = (*skip, "matrix")
    out = Table(
        {k: v for k, v in base.values.items() if k not in skip},
        {k: v for k, v in base.origin.items() if k not in skip},
    )
    for name, value in own.items():
        inherited = out.values.get(name)
        if name in MERGED and isinstance(value, dict) and isinstance(inherited, dict):
            out.values[name] = {**inherited, **value}
        else:
            out.values[name] = value
        out.origin[name] = where
    return out


def resolve(ctx: Context, tables: dict[str, TomlTable]) -> dict[str, Table]:
    """Each ``[sessions.NAME]`` table with the tables it ``extends`` merged in, chains followed.

    :param tables: base name -> its raw table, in file order.
    :raises ConfigError: ``extends`` is not a string, names no ``[sessions.NAME]`` table, or
        makes a cycle (``extends cycle: a -> b -> a``), naming ``sessions.NAME.extends``.
    """
    done: dict[str, Table] = {}

    def visit(base: str, chain: list[str]) -> Table:
        if base in done:
            return done[base]
        own = tables[base]
        where = f"sessions.{key_part(base)}"
        parent = Table()
        if "extends" in own:
            key = f"{where}.extends"
            target = string(ctx, key, own["extends"], like="test")
            if target not in tables:
                stem = target.rpartition("-")[0]
                hint = (
                    f"extends names a [sessions.NAME] table; {target} is an entry of the matrix {stem}"
                    if stem in tables
                    else suggest(target, list(tables)) or f"sessions: {', '.join(tables)}"
                )
                raise ctx.error(key, f"unknown session {target!r}", hint)
            if target in chain:
                cycle = [*chain[chain.index(target) :], target]
                raise ctx.error(key, f"extends cycle: {' -> '.join(cycle)}")
            parent = visit(target, [*chain, target])
        done[base] = merged(parent, own, where, skip=NOT_INHERITED)
        return done[base]

    return {base: visit(base, [base]) for base in tables}
