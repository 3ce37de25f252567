"""Say why an env is rebuilt: which components of its key changed, and how.

The lesson of tox's ``.tox-info.json``: a rebuild names its reason ("python changed 3.12.1 ->
3.12.4"). An env's marker records its key components (:mod:`vrun.plan.envkey`); a new key is compared
with the marker of the env the session used last (:func:`previous_env`):

- :func:`explain_change`: one line, what the build logs (``creating env NAME (REASON)``);
- :func:`rebuild_reason`: that line, or why the env at the new key itself is unusable;
- :func:`differences` and :func:`describe`: every difference, leaf by leaf, for ``vrun explain``.

Every function walks the components generically, so a component added to the key shows up here
without code changes (named after its key, ``lock changed: ...``). Light on purpose: the build path
imports it, and must not import the config; ``re`` is imported only to redact a URL's password.
"""

from __future__ import annotations

import os

from vrun.env.layout import last_used, marker_problem, read_marker, split_env_name, venvs_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Literal

    from vrun._types import KeyDifference, RunnableSessionPlan

_LABELS = {
    "schema": "vrun's env layout changed",
    "python": "python changed",
    "requirements": "requirements changed",
    "requirement_files": "requirements changed",
    "constraint_files": "constraints changed",
    "groups": "dependency groups changed",
    "extras": "extras changed",
    "project": "project metadata changed",
    "local": "local dependencies changed",
    "installer": "installer settings changed",
    "build_env": "build variables changed",
    "system_site_packages": "system_site_packages changed",
    "backend": "backend changed",
    "lock": "lock file changed",
    "script": "script block changed",
}

#: Components a key has only while the session uses the thing (``lock``: while it installs from a
#: current lock file): what appearing and disappearing mean.
_ONE_SIDED = {"lock": ("lock file now used", "lock file no longer used")}


def _names(old: Mapping[str, object], new: Mapping[str, object]) -> Iterator[str]:
    """The component names of both keys: the known ones in :data:`_LABELS` order, then any other
    (a component a newer vrun added) in the keys' own order."""
    yield from _LABELS
    yield from (n for n in dict.fromkeys([*new, *old]) if n not in _LABELS)


def explain_change(old: Mapping[str, object], new: Mapping[str, object]) -> str:
    """Say in one line why ``new`` differs from ``old`` (two :attr:`EnvKey.components`).

    :returns: e.g. ``"requirements changed: requirements/test.txt"`` or
        ``"python changed: CPython 3.12.1 ... -> CPython 3.12.4 ..."``; ``""`` when equal. A
        component without a label of its own is named as in the key (``"lock changed"``).
    """
    reasons: list[str] = []
    for name in _names(old, new):
        label = _LABELS.get(name, f"{name} changed")
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name in _ONE_SIDED and (before is None) != (after is None):
            # the component came or went as a whole: the session started or stopped using the
            # thing, which did not necessarily change (a lock file that went stale)
            started, stopped = _ONE_SIDED[name]
            present = after if before is None else before
            things = ", ".join(present) if isinstance(present, dict) else show_value(present)
            reasons.append(f"{started if before is None else stopped}: {things}")
        elif isinstance(before, dict) and isinstance(after, dict) and name not in ("groups", "installer"):
            names = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            names = [n for n in names if n != "mode"] or names
            reasons.append(f"{label}: {', '.join(names)}")
        elif name == "python":
            reasons.append(f"{label}: {before} -> {after}")
        elif isinstance(before, list) and isinstance(after, list):
            added = [x for x in after if x not in before]
            removed = [x for x in before if x not in after]
            parts = [f"+{x}" for x in added] + [f"-{x}" for x in removed]
            reasons.append(f"{label}: {', '.join(parts)}" if parts else label)
        else:
            reasons.append(label)
    return "; ".join(dict.fromkeys(reasons))


def previous_env(root: str, session: str) -> str | None:
    """The env a new key of ``session`` is compared with: the one ``.venvs/<session>`` points to
    (the env it used last), else its most recently used env with a valid marker.

    :returns: the env directory, or ``None`` when the session has no complete env on disk.
    """
    linked = last_used(root, session)
    if linked is not None and read_marker(linked) is not None:
        return linked
    venvs = venvs_dir(root)
    try:
        names = os.listdir(venvs)
    except OSError:
        return None
    found: list[tuple[float, str]] = []
    for name in names:
        path = os.path.join(venvs, name)
        parts = split_env_name(name)
        if parts is None or parts[0] != session or os.path.islink(path):
            continue
        marker = read_marker(path)
        if marker is None or marker["session"] != session:
            continue
        try:
            used = os.stat(os.path.join(path, "vrun-used")).st_mtime
        except OSError:
            used = float(marker["created"])
        found.append((used, path))
    return max(found)[1] if found else None


def rebuild_reason(root: str, session_plan: RunnableSessionPlan) -> str:
    """Why the next run builds ``session_plan``'s env (a session of the plan, not ready): the line
    ``creating env NAME (REASON)`` shows.

    :param session_plan: a planned session: ``name``, ``env_dir``, ``digest`` and ``components``.
    :returns: ``"the previous build was incomplete"``, ``"the old env is unusable: ..."`` or
        ``"project moved: was ..."`` when a directory for this key exists; else
        :func:`explain_change` against :func:`previous_env`; ``"new env"`` when there is none.
    """
    env_dir = session_plan["env_dir"]
    if os.path.lexists(env_dir):
        marker = read_marker(env_dir)
        problem = marker_problem(env_dir, session_plan["digest"])
        if marker is not None and problem and problem.startswith("project moved"):
            return f"project moved: was {os.path.dirname(os.path.dirname(marker['location']))}"
        return (
            "the previous build was incomplete"
            if problem == "incomplete build"
            else f"the old env is unusable: {problem}"
        )
    previous = previous_env(root, session_plan["name"])
    marker = read_marker(previous) if previous else None
    if marker is None:
        return "new env"
    return explain_change(marker["components"], session_plan["components"]) or "new env"


_ABSENT = object()


def differences(old: Mapping[str, object], new: Mapping[str, object]) -> list[KeyDifference]:
    """Every difference between two sets of key components, leaf by leaf.

    Tables are compared key by key, lists item by item (an item added or removed), anything else
    as a whole. A component or a key present on one side only is added or removed as a whole.

    :returns: one dict per difference, in component order (:func:`explain_change`'s): ``component``
        (its name in the key), ``path`` (the keys below it, a list of strings), ``change``
        (``"added"``, ``"removed"``, ``"changed"``), ``before`` and ``after`` (``None`` on the side
        where it is absent) and ``text`` (:func:`describe`).
    """
    out: list[KeyDifference] = []
    for name in _names(old, new):
        _walk(name, [], old.get(name, _ABSENT), new.get(name, _ABSENT), out)
    for item in out:
        item["text"] = describe(item)
    return out


def _walk(name: str, path: list[str], before: object, after: object, out: list[KeyDifference]) -> None:
    def add(change: Literal["added", "removed", "changed"], old: object, new: object) -> None:
        old, new = (None if v is _ABSENT else v for v in (old, new))
        out.append(
            {"component": name, "path": path, "change": change, "before": old, "after": new, "text": ""}
        )

    if before == after:
        return
    if before is _ABSENT or after is _ABSENT:
        add("added" if before is _ABSENT else "removed", before, after)
    elif isinstance(before, dict) and isinstance(after, dict):
        for key in dict.fromkeys([*before, *after]):
            _walk(name, [*path, str(key)], before.get(key, _ABSENT), after.get(key, _ABSENT), out)
    elif isinstance(before, list) and isinstance(after, list):
        removed = [x for x in before if x not in after]
        added = [x for x in after if x not in before]
        for item in removed:
            add("removed", item, None)
        for item in added:
            add("added", None, item)
        if not (added or removed):  # the same items in another order
            add("changed", before, after)
    else:
        add("changed", before, after)


#: What a leaf of the key is called in a sentence, by its component and the keys leading to it
#: (the longest match wins; what remains of the path names the thing, e.g. a file).
_NOUNS = {
    ("schema",): "vrun's env layout version",
    ("python",): "interpreter",
    ("requirements",): "requirement",
    ("requirement_files",): "-r file",
    ("constraint_files",): "-c file",
    ("groups", "names"): "dependency group",
    ("groups", "requirements"): "dependency group requirement",
    ("extras",): "extra",
    ("project", "mode"): "install_project",
    ("project",): "project metadata file",
    ("local",): "local project",
    ("installer", "variables"): "installer variable",
    ("installer", "files"): "installer config file",
    ("installer", "tool.uv"): "[tool.uv] table",
    ("build_env",): "build variable",
    ("lock",): "lock file",
    ("script", "requires-python"): "script requires-python",
    ("script", "tool"): "script [tool] table",
}


def describe(difference: KeyDifference) -> str:
    """One line saying what a :func:`differences` item changed, in the key's terms.

    E.g. ``"requirement added: pytest-xdist"``, ``"-r file changed: requirements.txt (1a2b3c4d ->
    9f8e7d6c)"``, ``"interpreter upgraded: CPython 3.12.1 -> 3.12.4"``, ``"backend changed: uv ->
    virtualenv"``; an unknown component is named as in the key (``"sbom changed: ..."``).
    Passwords in URLs are shown as ``****`` (pip's rule for index URLs in its logs).
    """
    name, path, change = difference["component"], list(difference["path"]), difference["change"]
    before, after = difference["before"], difference["after"]
    if name in _ONE_SIDED and not path and change != "changed":
        present = after if change == "added" else before
        things = ", ".join(present) if isinstance(present, dict) else show_value(present)
        return f"{_ONE_SIDED[name][change == 'removed']}: {things}"
    if name == "python" and change == "changed" and isinstance(before, str) and isinstance(after, str):
        return _python_change(before, after)
    noun, rest = name, path
    for size in range(len(path) + 1, 0, -1):
        found = _NOUNS.get((name, *path[: size - 1]))
        if found is not None:
            noun, rest = found, path[size - 1 :]
            break
    subject = "/".join(rest)
    if change == "changed":
        values = f"{show_value(before)} -> {show_value(after)}"
        if show_value(before) == show_value(after):  # what differs is hidden
            values = "a password in it changed"
        return f"{noun} changed: {subject} ({values})" if subject else f"{noun} changed: {values}"
    value = after if change == "added" else before
    return f"{noun} {change}: {subject or show_value(value)}"


def _python_change(before: str, after: str) -> str:
    """``interpreter upgraded: CPython 3.12.1 -> 3.12.4`` (and the path when it changed too)."""
    old, new = before.split(" ", 4), after.split(" ", 4)
    if len(old) == len(new) == 5 and old[0] == new[0] and old[1] != new[1]:
        verb = "upgraded" if _version(new[1]) > _version(old[1]) else "downgraded"
        moved = f" ({old[4]} -> {new[4]})" if old[4] != new[4] else ""
        return f"interpreter {verb}: {old[0]} {old[1]} -> {new[1]}{moved}"
    return f"interpreter changed: {before} -> {after}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in text.split("."))


def show_value(value: object) -> str:
    """A value in a sentence: strings as they are (passwords in URLs redacted), ``None`` as
    ``none``, booleans as ``true``/``false``, lists joined, tables as compact JSON."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return ", ".join(show_value(v) for v in value) or "none"
    if isinstance(value, dict):
        import json

        return redact(json.dumps(value, sort_keys=True))
    return str(value)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``****``, and a user name alone
    (a token, as in ``https://TOKEN@host``) too: pip's ``redact_auth_from_url`` rule."""
    if "@" not in text:
        return text
    import re

    def hide(match: re.Match[str]) -> str:
        user, sep, _password = match.group(1).partition(":")
        return f"://{user}:****@" if sep else "://****@"

    return re.sub(r"://([^/@\s]+)@", hide, text)
