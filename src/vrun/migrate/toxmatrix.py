"""tox's generative envs as vrun matrices, for ``vrun init``: ``py{311,312}-django{42,50}`` becomes
one session whose matrix is python x django, its factor-conditional settings overrides.

The rules read are tox 4's "Generative environments": an ``env_list`` item is split at ``-`` into
factors, each brace group (``{311,312}``, a range ``{8-12}``) a choice; a factor such as ``py311``
names a Python. Each choice becomes a matrix factor: the python one ``python``, another named by
the text before its braces (``django{42,50}``: ``django``, values ``42`` and ``50``, so the entry
``test-3.11-django42`` reads as the tox env ``py311-django42``), else ``variant``. Items whose
factors other than the Python are the same join one matrix (``py3{8-12}-tests`` and
``pypy3-tests``); the session is named after those other factors (``tests``), or ``test``.

Each env's settings, read as tox reads them (conditional lines filtered for its factors), are then
split into what all entries share and what one factor's value, or one combination, adds or
changes (:func:`build`): an item found only in some envs' ``deps`` (or ``extras``, ``groups``,
``pass_env``, ``tags``) goes in the ``add`` of the override of the values that have it, a
variable of ``set_env`` in that override's ``env``, a ``commands`` (or ``description``,
``install_project``, ``change_dir``, ``system_site_packages``) that differs replaces the session's
there. Envs that cannot share one session (different ``depends``, or a Python that is not their
factor's) stay sessions of their own.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from vrun.config.matrix import FACTOR_NAME, VALUE, describe
from vrun.migrate.model import Notes, Session
from vrun.migrate.toxsyntax import expand, python_factor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

#: One env's matrix values, python first (:data:`vrun.config.matrix.Pairs`, a python value ``None``
#: when its factor names no version: ``py``).
Combo = tuple[tuple[str, "str | None"], ...]
#: Keys whose items an entry adds to (order does not matter to vrun for them).
ADDED = ("deps", "groups", "extras", "pass_env", "tags")
#: Keys an entry replaces whole.
REPLACED = (
    "description",
    "install_project",
    "system_site_packages",
    "cwd",
    "commands_pre",
    "commands",
    "commands_post",
    "env_file",
    "build_env",
    "locked",
    "uv_lock",
)


@dataclass
class _Axis:
    """One factor of a generative name: its matrix factor name (``""`` until named), values, and
    the tox factor each value is written as."""

    name: str
    values: list[str | None]
    factors: list[str]


@dataclass
class Group:
    """Envs that become one matrix session.

    :param constants: the factors every env of it has (``("tests",)``), in order.
    :param axes: factor name -> values, python first: the product its matrix makes.
    :param factors: each factor but python: the tox factor each value is written as -> the value.
    :param rows: each env and its values, in tox's order.
    :param extra: the values of envs beyond the product (``pypy-without-extensions`` beside
        ``py{38,39}-{with,without}-extensions``), each a table of the matrix of its own.
    """

    constants: tuple[str, ...]
    axes: dict[str, list[str | None]]
    factors: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: list[tuple[str, Combo]] = field(default_factory=list)
    extra: list[Combo] = field(default_factory=list)


def _parse(item: str, notes: Notes) -> list[_Axis | str] | None:
    """``item``'s factors: a constant factor as text, a choice as an :class:`_Axis`; ``None`` when it
    is not a product of choices vrun can name (a brace holding ``-``, two in one factor, a factor
    mixing Pythons and other text, two Python choices)."""
    parts: list[_Axis | str] = []
    depth, current, pieces = 0, "", []
    for char in item:
        depth += char == "{"
        depth -= char == "}"
        if char == "-" and depth == 0:
            pieces.append(current)
            current = ""
        else:
            current += char
    pieces.append(current)
    for piece in pieces:
        if "{" not in piece and "}" not in piece:
            spec = python_factor(piece)
            parts.append(piece if spec is None else _Axis("python", [spec or None], [piece]))
            continue
        if piece.count("{") != 1 or piece.count("}") != 1 or piece.index("{") > piece.index("}"):
            return None
        head, _, rest = piece.partition("{")
        tail = rest.partition("}")[2]
        factors = expand(piece, notes)
        alternatives = [f[len(head) : len(f) - len(tail)] for f in factors]
        if not factors or any(not alt or "-" in alt for alt in alternatives):
            return None
        specs = [python_factor(f) for f in factors]
        if all(spec is not None for spec in specs):
            parts.append(_Axis("python", [spec or None for spec in specs], factors))
        elif any(spec is not None for spec in specs) or not all(VALUE.fullmatch(f) for f in factors):
            return None
        elif head and not tail and FACTOR_NAME.fullmatch(head) and head != "python":
            parts.append(_Axis(head, list(alternatives), factors))
        else:
            parts.append(_Axis("", list(factors), factors))
    if sum(isinstance(p, _Axis) and p.name == "python" for p in parts) > 1:
        return None
    return parts


def groups(items: Sequence[str], notes: Notes) -> list[Group | str]:
    """The envs of ``items`` (``env_list`` items, unexpanded) in tox's order: a :class:`Group` for
    those a matrix holds, an env's name for each other env (``lint``, or one a name such as
    ``py{3-a,3-b}`` makes); packaging envs (``.pkg``) and repeats left out."""
    out: list[Group | str] = []
    by_key: dict[Hashable, Group] = {}
    seen: set[str] = set()
    for item in items:
        parts = _parse(item, notes)
        if parts is None or not any(isinstance(p, _Axis) for p in parts):
            for env in expand(item, notes):
                if env not in seen and not env.startswith("."):
                    seen.add(env)
                    out.append(env)
            continue
        axes = [p for p in parts if isinstance(p, _Axis)]
        constants = tuple(p for p in parts if isinstance(p, str))
        others = [a for a in axes if a.name != "python"]
        for n, axis in enumerate(a for a in others if not a.name):
            axis.name = "variant" if n == 0 else f"variant{n + 1}"
            while any(b is not axis and b.name == axis.name for b in others):
                axis.name += "_"
        key = (
            constants,
            tuple((a.name, tuple(a.values)) for a in others),
            any(a.name == "python" for a in axes),
        )
        group = by_key.get(key)
        joined = None if group is not None or others else _join(list(by_key.values()), constants, axes)
        if joined is not None:
            group, fixed = joined
        elif group is None:
            python = [a for a in axes if a.name == "python"]
            group = Group(constants, {a.name: [] for a in (*python, *others)})
            group.factors = {a.name: dict(zip(a.factors, [str(v) for v in a.values])) for a in others}
            by_key[key] = group
            out.append(group)
        for env, values in _envs(parts):
            if env in seen:
                continue
            seen.add(env)
            if joined is not None:
                combo = tuple((name, values.get(name, fixed.get(name))) for name in group.axes)
                group.extra.append(combo)
                group.rows.append((env, combo))
                continue
            for name, value in values.items():
                if value not in group.axes[name]:
                    group.axes[name].append(value)
            group.rows.append((env, tuple((name, values[name]) for name in group.axes)))
    return out


def _join(
    found: list[Group], constants: tuple[str, ...], axes: list[_Axis]
) -> tuple[Group, dict[str, str]] | None:
    """The group whose matrix the envs of an item with only a python choice extend, and the values
    its other factors are written as in the item (``pypy-without-extensions`` joins
    ``py{38,39}-{with,without}-extensions`` with ``variant=without``), or ``None``."""
    if len(axes) != 1 or None in axes[0].values:
        return None
    for group in found:
        if "python" not in group.axes or not group.factors or not set(group.constants) <= set(constants):
            continue
        rest = [c for c in constants if c not in group.constants]
        fixed: dict[str, str] = {}
        for factor in rest:
            axis = next((name for name, spelled in group.factors.items() if factor in spelled), None)
            if axis is None or axis in fixed:
                break
            fixed[axis] = group.factors[axis][factor]
        else:
            if len(fixed) == len(group.factors):
                return group, fixed
    return None


def _envs(parts: list[_Axis | str]) -> list[tuple[str, dict[str, str | None]]]:
    """The envs ``parts`` make, as tox expands them (the first choice varying slowest), each with
    its values."""
    choices = [[(p, None)] if isinstance(p, str) else list(zip(p.factors, p.values)) for p in parts]
    out = []
    for picked in itertools.product(*choices):
        env = "-".join(text for text, _ in picked)
        values = {p.name: value for p, (_, value) in zip(parts, picked) if isinstance(p, _Axis)}
        out.append((env, values))
    return out


def condition(pairs: Combo, python_only: bool) -> str:
    """The ``overrides`` key for entries with ``pairs``: ``"3.12"`` in a matrix of Pythons alone,
    else ``"django=42"``, ``"python=3.12, django=42"``."""
    if python_only:
        return str(pairs[0][1])
    return describe(tuple((name, str(value)) for name, value in pairs))


def build(
    name: str, group: Group, sessions: Sequence[Session], install_default: str | bool
) -> Session | None:
    """One matrix session for ``group``, whose envs read as ``sessions`` (in ``group.rows``' order),
    or ``None`` when they cannot share one: their ``requires`` differ, or, without a python factor,
    their Pythons.

    :param install_default: ``install_project``'s value where an entry wants vrun's default (an
        override must write it out): ``"editable"``, or ``False`` without a project.
    """
    rows = [pairs for _, pairs in group.rows]
    first = sessions[0]
    if any(s.requires != first.requires for s in sessions):
        return None
    axes = dict(group.axes)
    if "python" in axes and None in axes["python"]:
        if axes["python"] != [None]:
            return None
        del axes["python"]
        rows = [tuple(pair for pair in pairs if pair[0] != "python") for pairs in rows]
    if "python" not in axes and any(s.python != first.python for s in sessions):
        return None
    out = Session(name=name, requires=list(first.requires), dropped=sum(s.dropped for s in sessions))
    values: dict[str, list[str]] = {axis: [str(v) for v in vals] for axis, vals in axes.items()}
    python_only = list(values) == ["python"]
    if python_only:
        out.python = values["python"]
    else:
        out.python = None if "python" in values else first.python
        out.matrix = values
        if group.extra:
            out.matrix = [values, *({name: [str(v)] for name, v in pairs} for pairs in group.extra)]
    found: dict[Combo, dict[str, object]] = {}

    def at(pairs: Combo) -> dict[str, object]:
        return found.setdefault(pairs, {})

    known = {
        axis: list(dict.fromkeys([*vals, *(pairs[n][1] for pairs in rows)]))
        for n, (axis, vals) in enumerate(axes.items())
    }

    def targets(keys: list[Hashable]) -> list[tuple[Combo, int]]:
        """Where a setting that is ``keys[i]`` in row ``i`` is set: one condition per value of the
        one factor it depends on, else per row; each with a row that has it."""
        for axis_index, axis in enumerate(axes):
            by_value: dict[str | None, Hashable] = {}
            if all(by_value.setdefault(pairs[axis_index][1], k) == k for pairs, k in zip(rows, keys)):
                firsts = {pairs[axis_index][1]: i for i, pairs in reversed(list(enumerate(rows)))}
                return [(((axis, value),), firsts[value]) for value in known[axis] if value in firsts]
        return [(pairs, i) for i, pairs in enumerate(rows)]

    for key in ADDED:
        lists: list[list[str]] = [getattr(s, key) for s in sessions]
        common = [item for item in lists[0] if all(item in other for other in lists)]
        setattr(out, key, common)
        for item in dict.fromkeys(x for items in lists for x in items if x not in common):
            has = [item in items for items in lists]
            for where, i in targets(list(has)):
                if has[i]:
                    add = at(where).setdefault("add", {})
                    assert isinstance(add, dict)
                    add.setdefault(key, []).append(item)
    out.env = {}
    for variable in dict.fromkeys(v for s in sessions for v in s.env):
        env_values = [s.env.get(variable) for s in sessions]
        base = None if None in env_values else Counter(env_values).most_common(1)[0][0]
        if base is not None:
            out.env[variable] = base
        for where, i in targets(list(env_values)):
            value = env_values[i]
            if value is not None and value != base:
                env = at(where).setdefault("env", {})
                assert isinstance(env, dict)
                env[variable] = value
    for key in REPLACED:
        whole = [getattr(s, key) for s in sessions]
        shown = [repr(v) for v in whole]
        base_shown = Counter(shown).most_common(1)[0][0]
        base = whole[shown.index(base_shown)]
        setattr(out, key, base)
        for where, i in targets(list(shown)):
            if shown[i] != base_shown:
                at(where)[key] = _written(key, whole[i], install_default)
    order = {pairs: n for n, pairs in enumerate(rows)}

    def rank(pairs: Combo) -> tuple[int, int, int]:
        """One factor's values first, in the matrix's order, then combinations in the envs'."""
        if len(pairs) == 1:
            return (0, list(axes).index(pairs[0][0]), known[pairs[0][0]].index(pairs[0][1]))
        return (1, order[pairs], 0)

    for pairs in sorted(found, key=rank):
        keys = found[pairs]
        if "add" in keys:
            keys["add"] = keys.pop("add")  # written last
        out.overrides[condition(pairs, python_only)] = keys
    return out


def _written(key: str, value: object, install_default: str | bool) -> object:
    """A replaced value as an override writes it: vrun's default spelled out (an override cannot
    leave a key out to mean it)."""
    if value is None:
        if key == "uv_lock":
            return True  # vrun's default: install from uv.lock where there is one
        return install_default if key == "install_project" else "."  # cwd: the project root
    return value
