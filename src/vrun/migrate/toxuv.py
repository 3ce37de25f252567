"""tox-uv's runners in ``vrun init``: ``uv-venv-lock-runner`` becomes vrun's ``uv.lock`` support.

tox-uv's lock runner installs an env with ``uv sync --locked`` from the project's ``uv.lock``
(tox-uv's README, "uv.lock support"), selected by ``extras``, ``dependency_groups``,
``only_groups``, ``no_default_groups`` and ``uv_sync_flags``; its ``deps`` are ignored. vrun
installs from ``uv.lock`` wherever it exists (docs/lock.md, "uv.lock"), so the translation is the
selection: the groups and extras the lock runner would install become ``groups`` and ``extras``,
``uv_sync_locked`` (true by default: a stale lock fails) becomes ``locked = true``. An env on
another runner, in a project with a ``uv.lock``, installs as tox installs it, resolving afresh:
``uv_lock = false``, when vrun would otherwise take its versions from the lock.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from pathlib import Path

from vrun.config import tomlfile
from vrun.migrate.model import Notes, Session, install_value, project_default

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlValue

#: tox-uv's runner that installs from ``uv.lock``.
LOCK_RUNNER = "uv-venv-lock-runner"
#: The runners that resolve afresh, as vrun does without a lock: tox's own and tox-uv's default.
RESOLVING_RUNNERS = ("virtualenv", "uv-venv-runner")
#: tox-uv's settings for its lock runner (the canonical names of :data:`vrun.migrate.tox.TOX_KEYS`).
LOCK_RUNNER_KEYS = ("uv_sync_flags", "uv_sync_locked", "only_groups", "no_default_groups")
#: ``uv sync`` flags that change nothing vrun does (it installs into a fresh env, from the lock).
_HARMLESS_FLAGS = ("--locked", "--inexact", "--exact", "--no-progress", "--quiet", "-q")


class RunnerTranslation:
    """One tox env's ``runner`` (and the lock runner's settings), applied to its session.

    :param raw: the env's settings (canonical names); :param root: the project directory.
    :param where: names the env in a note (``tox.toml [docs]``); :param at: names a key of it, in
        the table that set it (``tox.toml [env_run_base] runner``).
    :param items: a list value's items; :param boolean: a tox boolean (the reader's helpers).
    """

    def __init__(
        self,
        raw: Mapping[str, TomlValue],
        root: Path,
        notes: Notes,
        *,
        where: str,
        at: Callable[[str], str],
        items: Callable[[TomlValue], list[str]],
        boolean: Callable[[TomlValue], bool],
    ) -> None:
        self.raw, self.root, self.notes = raw, root, notes
        self.where, self.at, self.items, self.boolean = where, at, items, boolean

    def apply(self, s: Session) -> None:
        """Translate the env's runner into session ``s``, in place (see the module docstring)."""
        raw, at = self.raw, self.at
        runner = " ".join(self.items(raw["runner"])) if "runner" in raw else ""
        if runner == LOCK_RUNNER:
            self.lock_runner(s)
            return
        if runner and runner not in RESOLVING_RUNNERS:
            self.notes.add(f"{at('runner')}: {runner} not translated")
        for key in LOCK_RUNNER_KEYS:
            if key in raw:
                self.notes.add(f"{at(key)}: only tox-uv's {LOCK_RUNNER} reads it; dropped")
        takes_from_lock = s.groups or (
            s.install_project is not False and project_default(self.root) is not None
        )
        if (self.root / "uv.lock").is_file() and takes_from_lock:
            s.uv_lock = False

    def lock_runner(self, s: Session) -> None:
        """tox-uv's ``uv-venv-lock-runner`` as vrun's ``uv.lock`` support: its selection (tox-uv's
        ``_run_lock.py``: ``--group``, ``--only-group``, ``--extra``, ``--no-default-groups`` unless
        ``no_default_groups`` says otherwise, which it does when there are ``dependency_groups``)."""
        raw, root, notes, at = self.raw, self.root, self.notes, self.at
        if s.install_project == "sdist" and "package" not in raw:  # tox's default packaging:
            s.install_project = install_value(root, "editable", at("runner"), notes)  # uv sync's is editable
        if s.deps:
            notes.add(f"{at('deps')}: tox-uv's {LOCK_RUNNER} ignores deps; dropped")
            s.deps = []
        groups = list(s.groups)
        only = self.items(raw.get("only_groups", []))
        no_default = self.boolean(raw["no_default_groups"]) if "no_default_groups" in raw else bool(groups)
        frozen = False
        words = shlex.split(" ".join(self.items(raw.get("uv_sync_flags", []))))
        while words:
            word = words.pop(0)
            flag, _, value = word.partition("=")
            if not value and words and not words[0].startswith("-"):  # a flag's value: --group test
                value = words.pop(0)
                word = f"{word} {value}"
            if flag == "--group" and value:
                groups.append(value)
            elif flag == "--only-group" and value:
                only.append(value)
            elif flag == "--extra" and value:
                s.extras.append(value)
            elif flag == "--all-groups":
                groups += _table_names(root, "dependency-groups")
            elif flag == "--all-extras":
                s.extras += _table_names(root, "project", "optional-dependencies")
            elif flag in ("--no-default-groups", "--no-dev"):
                no_default = True
            elif flag == "--no-install-project":
                s.install_project = install_value(root, None, at("uv_sync_flags"), notes)
            elif flag == "--no-editable":
                s.install_project = install_value(root, "wheel", at("uv_sync_flags"), notes)
            elif flag == "--frozen":
                frozen = True
                notes.add(f"{at('uv_sync_flags')}: --frozen (no check of the lock) has no vrun equivalent")
            elif flag not in _HARMLESS_FLAGS:
                notes.add(f"{at('uv_sync_flags')}: {word} not translated")
        if only:
            groups += only
            s.install_project = install_value(root, None, at("only_groups"), notes)
        elif not no_default:
            groups += _default_groups(root)
        if s.install_project is False and groups and not only:
            notes.add(
                f"{self.where}: tox-uv's {LOCK_RUNNER} installs the project's dependencies without the "
                "project; vrun installs only the groups of a session that does not install the project"
            )
        s.groups = list(dict.fromkeys(groups))
        s.extras = list(dict.fromkeys(s.extras))
        locked = self.boolean(raw["uv_sync_locked"]) if "uv_sync_locked" in raw else True
        s.locked = locked and not frozen


def _table_names(root: Path, *keys: str) -> list[str]:
    """The keys of a table of the project's ``pyproject.toml`` (``dependency-groups``,
    ``project.optional-dependencies``), or ``[]``."""
    node: object = tomlfile.pyproject(str(root)) or {}
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return list(node) if isinstance(node, dict) else []


def _default_groups(root: Path) -> list[str]:
    """The groups ``uv sync`` installs by default: ``[tool.uv] default-groups`` (a list, or
    ``"all"``), else ``dev`` (uv's documentation, "Default groups"); only those the project has."""
    data = tomlfile.pyproject(str(root)) or {}
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    wanted = uv.get("default-groups", ["dev"]) if isinstance(uv, dict) else ["dev"]
    known = _table_names(root, "dependency-groups")
    if wanted == "all":
        return known
    return [g for g in wanted if isinstance(g, str) and g in known] if isinstance(wanted, list) else []
