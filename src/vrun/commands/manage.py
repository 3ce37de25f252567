"""Envs on disk as a user manages them: list, remove, collect garbage.

:func:`list_envs` is virtualenvwrapper's ``lsvirtualenv`` and ``showvirtualenv`` in one
table, :func:`remove_sessions` its ``rmvirtualenv``, and :func:`collect_garbage` removes the envs
the config no longer asks for (``vrun freeze`` is :mod:`vrun.commands.freeze`). Every deletion goes through
:func:`vrun.env.inventory.remove_env`, which refuses anything vrun did not make and any env another
vrun process is using.

Each public function returns the exit status: 0 when everything asked for was done, 1 when an
env was in use or a deletion was refused (the others are still removed). Results go to
stdout; progress and problems go to the ``vrun`` logger.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from vrun import output
from vrun.commands._common import load
from vrun.config.load import Config
from vrun.env.inventory import (
    EnvInfo,
    by_session,
    check_deletable,
    dir_size,
    iter_envs,
    orphan_locks,
    orphan_tmp_dirs,
    remove_env,
    remove_orphan_lock,
    remove_orphan_tmp_dir,
)
from vrun.env.layout import check_venvs_dir, marker_problem, split_env_name, venvs_dir
from vrun.errors import EnvDirError, EnvInUseError, UsageError, VrunError
from vrun.output import human_size
from vrun.plan.planner import RecordingEnviron, plan_session

if TYPE_CHECKING:
    from typing import TypedDict

    class ListedEnv(TypedDict):
        """One env of ``vrun list --envs --json``; :func:`list_envs` says what each key holds."""

        session: str
        path: str
        name: str
        digest: str
        python: str
        size: int | None
        created: str | None
        last_used: str | None
        state: str


def current_digests(
    config: Config, backend: str | None, *, probe: bool = True
) -> tuple[dict[str, str], dict[str, str]]:
    """The key digest the config gives each session now.

    :param backend: ``--backend`` (the backend is part of the key), or ``None``.
    :param probe: run an interpreter the config names by path to learn about it (``False`` for
        ``vrun list --envs`` and ``vrun gc``: such a session's key is then unknown).
    :returns: ``(digests, problems)``: full session name -> digest, and full session name ->
        why its key could not be computed (e.g. no interpreter matches its ``python``).
    """
    digests: dict[str, str] = {}
    problems: dict[str, str] = {}
    for session in config.sessions.values():
        try:
            session_plan = plan_session(
                config, session, RecordingEnviron(os.environ), backend=backend, probe=probe
            )
        except VrunError as exc:
            problems[session.name] = exc.message
            continue
        if session_plan["error"] is not None:
            problems[session.name] = session_plan["error"]
        else:
            digests[session.name] = session_plan["digest"]
    return digests, problems


def env_state(info: EnvInfo, digests: Mapping[str, str]) -> str:
    """``"incomplete"`` (no valid marker), ``"current"`` (its digest is the key its session has
    now and it is usable as it is: the env a run would use) or ``"stale"`` (another key, a session
    no longer in the config, or an env a run would rebuild: the project moved since it was built,
    its interpreter is gone)."""
    if info.marker is None:
        return "incomplete"
    if digests.get(info.session) != info.digest:
        return "stale"
    return "current" if marker_problem(str(info.path), info.digest) is None else "stale"


def _iso(timestamp: float | None) -> str | None:
    """Seconds since the epoch as local ISO 8601 with its UTC offset, to the second."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).astimezone().isoformat(timespec="seconds")


def _short_time(timestamp: float | None) -> str:
    return "-" if timestamp is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def list_envs(config: Config, backend: str | None, *, as_json: bool) -> int:
    """``vrun list --envs``: every env under ``.venvs/`` with its state; return 0.

    One row per env directory (see :func:`vrun.env.layout.iter_envs`): session, state (see
    :func:`env_state`), Python version, size on disk, created and last-used time, and the
    directory; by session, its current env first, then the others from the last used. A session
    whose key cannot be computed (no interpreter) has only stale envs.

    :param as_json: print a JSON array of objects with the keys ``session``, ``path``,
        ``name``, ``digest``, ``python``, ``size`` (bytes), ``created`` and ``last_used``
        (ISO 8601 with UTC offset, or ``null``) and ``state``.
    """
    digests, problems = current_digests(config, backend, probe=False)
    infos = sorted(
        iter_envs(config.root, with_size=True),
        key=lambda info: (info.session, env_state(info, digests) != "current", -(info.last_used or 0)),
    )
    for name, problem in problems.items():
        if any(info.session == name for info in infos):
            output.warning(f"session {name}: {problem}; its envs are shown as stale")
    rows: list[ListedEnv] = [
        {
            "session": info.session,
            "path": str(info.path),
            "name": info.path.name,
            "digest": info.digest,
            "python": info.python,
            "size": info.size,
            "created": _iso(info.created),
            "last_used": _iso(info.last_used),
            "state": env_state(info, digests),
        }
        for info in infos
    ]
    if as_json:
        output.print_json(rows)
        return 0
    venvs = venvs_dir(str(config.root))
    if not infos:
        print(f"no envs in {venvs}")
        return 0
    table = [("session", "state", "python", "size", "created", "last used", "env")]
    table += [
        (
            info.session,
            row["state"],
            info.python,
            human_size(info.size or 0),
            _short_time(info.created),
            _short_time(info.last_used),
            info.path.name,
        )
        for info, row in zip(infos, rows)
    ]
    output.print_table(table)
    total = sum(info.size or 0 for info in infos)
    print(f"{output.plural(len(infos), 'env')}, {human_size(total)} in {venvs}")
    return 0


def _on_disk(root: Path) -> list[EnvInfo]:
    """Every entry of ``.venvs/`` named like an env: the envs of :func:`~vrun.env.layout.iter_envs`
    plus symlinks and files with such names (never vrun's; deleting them is refused, and
    said). ``.venvs/<session>`` links to an env are vrun's own and not listed."""
    found = list(iter_envs(root))
    try:
        entries = list(os.scandir(venvs_dir(str(root))))
    except OSError:
        return found
    for entry in entries:
        match = split_env_name(entry.name)
        if not match or (entry.is_dir(follow_symlinks=False) and not entry.is_symlink()):
            continue  # not named like an env, or a real directory: iter_envs has it
        if entry.is_symlink():
            target = split_env_name(os.readlink(entry.path))
            if target and target[0] == entry.name:
                continue  # the last-used link of a session whose name ends like a digest
        found.append(EnvInfo(Path(entry.path), match[0], match[1], None))
    return sorted(found, key=by_session)


def _remove(root: Path, targets: Sequence[EnvInfo], *, dry_run: bool, skip_busy_builds: bool) -> int:
    """Remove ``targets`` one by one, printing each and the total; return the exit status.

    A refused deletion or an env in use is logged and the others are still removed; the
    status is then 1.

    :param dry_run: remove nothing; print what would be removed (refusals are still checked;
        whether an env is in use is not).
    :param skip_busy_builds: an incomplete build another process holds the lock of is being
        built: skip it quietly instead of failing.
    """
    freed = removed = 0
    failed = False
    for info in targets:
        try:
            if dry_run:
                check_deletable(str(root), str(info.path))
                size = dir_size(info.path)
            else:
                size = remove_env(root, info.path)
        except EnvInUseError as exc:
            if skip_busy_builds and info.marker is None:
                output.info(f"skipping {info.path.name}: another vrun process is building it")
            else:
                output.error(exc.message)
                failed = True
            continue
        except EnvDirError as exc:
            output.error(exc.message)
            failed = True
            continue
        except OSError as exc:
            output.log(output.ERROR, f"could not remove {info.path}: {exc}")
            failed = True
            continue
        print(f"{'would remove' if dry_run else 'removed'} {info.path} ({human_size(size)})")
        freed += size
        removed += 1
    if removed:
        envs = output.plural(removed, "env")
        print(f"{'would free' if dry_run else 'freed'} {human_size(freed)} ({envs})")
    return 1 if failed else 0


def remove_sessions(config: Config, names: Sequence[str]) -> int:
    """``vrun rm SESSION...``: remove every env of the named sessions (rmvirtualenv).

    A name is a full session name, or a base name standing for all of its matrix entries. A
    name the config does not know still works when envs of a session of that name are on
    disk (a session since removed from the config). Each removal is printed with its size,
    then the total freed (:func:`vrun.output.human_size`).

    :returns: 0, or 1 when an env was in use or a deletion was refused (see
        :func:`vrun.env.layout.remove_env`).
    :raises UsageError: for a name that is neither a session nor found on disk, with a
        did-you-mean hint; raised before anything is removed.
    :raises EnvDirError: ``.venvs`` is not vrun's (:func:`vrun.env.layout.check_venvs_dir`).
    """
    check_venvs_dir(str(config.root))
    on_disk = _on_disk(config.root)
    disk_sessions = {info.session for info in on_disk}
    wanted: dict[str, None] = {}
    for name in names:
        full = config.matrix.get(name) or ((name,) if name in config.sessions else None)
        if full is None:
            if name not in disk_sessions:
                import difflib

                known = [*config.matrix, *config.sessions, *sorted(disk_sessions)]
                close = difflib.get_close_matches(name, known, n=1)
                raise UsageError(
                    f"no session named {name!r} in {config.path}, nor envs of one in .venvs/",
                    hint=f"did you mean {close[0]!r}?" if close else "`vrun list --envs` shows the envs",
                )
            output.info(f"session {name} is not in {config.path.name}; removing its envs")
            full = (name,)
        wanted.update(dict.fromkeys(full))
    for name in wanted:
        if name not in disk_sessions:
            output.info(f"session {name} has no envs")
    targets = [info for info in on_disk if info.session in wanted]
    return _remove(config.root, targets, dry_run=False, skip_busy_builds=False)


def collect_garbage(config: Config, backend: str | None, *, keep: int, dry_run: bool) -> int:
    """``vrun gc``: remove the envs that no longer match the config.

    Per session (by the name in the env's marker, whether or not the config still has it):
    its current env (:func:`env_state`) is never removed; of its stale envs the ``keep``
    most recently used (by last-used time) are kept and the rest removed. Incomplete builds
    are removed unless another process is building them, and so are the lock files and temp dirs
    (``.venvs/.tmp/<env>``) of envs that no longer exist. A session whose current key cannot
    be computed (its interpreter is missing) keeps all its complete envs, with a warning:
    gc cannot tell which one is current; so does one whose ``python`` is a path vrun has never
    run (gc runs no program the config names).

    :param keep: stale envs kept per session (``>= 0``).
    :param dry_run: remove nothing; print the same list prefixed ``would remove``.
    :returns: 0, or 1 when an env was in use or a deletion was refused.
    :raises EnvDirError: ``.venvs`` is not vrun's (:func:`vrun.env.layout.check_venvs_dir`).
    """
    if check_venvs_dir(str(config.root)) is None:
        print("nothing to remove")
        return 0
    digests, problems = current_digests(config, backend, probe=False)
    stale: dict[str, list[EnvInfo]] = {}
    doomed: list[EnvInfo] = []
    unknown: set[str] = set()
    for info in _on_disk(config.root):
        if info.marker is None:
            doomed.append(info)
        elif info.session in problems:
            unknown.add(info.session)
        elif env_state(info, digests) == "stale":
            stale.setdefault(info.session, []).append(info)
    for name in sorted(unknown):
        output.warning(f"keeping the envs of session {name}: cannot tell which is current ({problems[name]})")
    for infos in stale.values():
        infos.sort(key=lambda info: info.last_used or 0.0, reverse=True)
        for info in infos[:keep]:
            output.info(f"keeping {info.path.name} (last used {_short_time(info.last_used)}; --keep {keep})")
        doomed += infos[keep:]
    locks = orphan_locks(config.root)
    verb = "would remove" if dry_run else "removed"
    for lock in locks:
        if dry_run or remove_orphan_lock(lock):
            print(f"{verb} {lock.name} (the lock of an env that no longer exists)")
    temps = orphan_tmp_dirs(config.root)
    for temp in temps:
        if dry_run or remove_orphan_tmp_dir(temp):
            print(f"{verb} {temp.parent.name}/{temp.name} (the temp dir of an env that no longer exists)")
    if not doomed:
        if not locks and not temps:
            print("nothing to remove")
        return 0
    doomed.sort(key=by_session)
    return _remove(config.root, doomed, dry_run=dry_run, skip_busy_builds=True)


def cmd_rm(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun rm SESSION...``: remove the sessions' envs (rmvirtualenv)."""
    from vrun.commands.manage import remove_sessions

    config = load(args)
    return remove_sessions(config, args.sessions)


def cmd_gc(args: argparse.Namespace, posargs: list[str] | None) -> int:
    """``vrun gc``: remove envs that no longer match the config, keeping ``--keep`` per session."""
    from vrun.commands.manage import collect_garbage

    if args.keep < 0:
        raise UsageError("--keep must be 0 or more")
    config = load(args)
    return collect_garbage(config, args.backend, keep=args.keep, dry_run=args.dry_run)
