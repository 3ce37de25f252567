"""Say in one line why an env is rebuilt: which component of its key changed, and how.

The lesson of tox's ``.tox-info.json``: a rebuild names its reason ("python changed 3.12.1 ->
3.12.4"). Light on purpose (no imports): the build path reads the old env's marker and compares
its key components (:mod:`vrun.envkey`) with the new ones, and must not import the config.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

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
    "system_site_packages": "system_site_packages changed",
    "backend": "backend changed",
    "lock": "lock file changed",
}


def explain_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Say in one line why ``new`` differs from ``old`` (two :attr:`EnvKey.components`).

    :returns: e.g. ``"requirements changed: requirements/test.txt"`` or
        ``"python changed: CPython 3.12.1 ... -> CPython 3.12.4 ..."``; ``""`` when equal.
    """
    reasons: list[str] = []
    for name, label in _LABELS.items():
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and name not in ("groups", "installer"):
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
