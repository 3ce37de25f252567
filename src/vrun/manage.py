"""Envs on disk as a user manages them: list, remove, collect garbage, freeze.

:func:`list_envs` is virtualenvwrapper's ``lsvirtualenv`` and ``showvirtualenv`` in one
table, :func:`remove_sessions` its ``rmvirtualenv``, :func:`collect_garbage` removes the envs
the config no longer asks for, and :func:`freeze` is the ``pip freeze > requirements.txt``
habit. Every deletion goes through :func:`vrun.envs.remove_env`, which refuses anything vrun
did not make and any env another vrun process is using.

Each public function returns the exit status: 0 when everything asked for was done, 1 when an
env was in use or a deletion was refused (the others are still removed). Results go to
stdout; progress and problems go to the ``vrun`` logger.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from vrun.config import Config, Session
from vrun.envkey import requirement_lines
from vrun.envs import (
    _ENV_NAME,
    EnvInfo,
    _check_deletable,
    dir_size,
    iter_envs,
    lock_for,
    orphan_locks,
    remove_env,
    remove_orphan_lock,
    require_ready,
    venvs_dir,
)
from vrun.errors import EnvInUseError, EnvNotReadyError, UnsafeDeleteError, UsageError, VrunError
from vrun.output import human_size
from vrun.workflow import load_pyproject, plan_session

_LOG = logging.getLogger("vrun")

#: What vrun's backends seed into every env: virtualenv seeds pip (vrun passes
#: ``--no-setuptools``; older virtualenv releases also seed wheel), ``uv venv --seed`` seeds
#: pip, and setuptools and wheel on Python < 3.12.
SEED_PACKAGES = frozenset({"pip", "setuptools", "wheel"})

# A distribution name at the start of a requirement (PEP 508 names).
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
# A pinned line of `pip freeze` / `uv pip freeze`: "name==1.0", "name===x", "name @ url".
_PIN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\]\s*)?(?:===?|@)")


def normalize_name(name: str) -> str:
    """A distribution name normalized per PEP 503: runs of ``-_.`` become ``-``, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def current_digests(config: Config, backend: str) -> tuple[dict[str, str], dict[str, str]]:
    """The key digest the config gives each session now.

    :param backend: the backend name (it is part of the key).
    :returns: ``(digests, problems)``: full session name -> digest, and full session name ->
        why its key could not be computed (e.g. no interpreter matches its ``python``).
    """
    digests: dict[str, str] = {}
    problems: dict[str, str] = {}
    for session in config.sessions.values():
        try:
            plan = plan_session(config, session, backend, environ=os.environ, cache_dir=None)
        except VrunError as exc:
            problems[session.name] = exc.message
            continue
        digests[session.name] = plan.key.digest
    return digests, problems


def env_state(info: EnvInfo, digests: Mapping[str, str]) -> str:
    """``"incomplete"`` (no marker), ``"current"`` (its digest is the key its session has
    now: the env a run would use) or ``"stale"`` (another key, or a session no longer in
    the config)."""
    if info.marker is None:
        return "incomplete"
    return "current" if digests.get(info.session) == info.digest else "stale"


def _iso(timestamp: float | None) -> str | None:
    """Seconds since the epoch as local ISO 8601 with its UTC offset, to the second."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).astimezone().isoformat(timespec="seconds")


def _short_time(timestamp: float | None) -> str:
    return "-" if timestamp is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def list_envs(config: Config, backend: str, *, as_json: bool) -> int:
    """``vrun list --envs``: every env under ``.venvs/`` with its state; return 0.

    One row per env directory (see :func:`vrun.envs.iter_envs`): session, state (see
    :func:`env_state`), Python version, size on disk, created and last-used time, and the
    directory. A session whose key cannot be computed (no interpreter) has only stale envs.

    :param as_json: print a JSON array of objects with the keys ``session``, ``path``,
        ``name``, ``digest``, ``python``, ``size`` (bytes), ``created`` and ``last_used``
        (ISO 8601 with UTC offset, or ``null``) and ``state``.
    """
    digests, problems = current_digests(config, backend)
    infos = list(iter_envs(config.root, with_size=True))
    for name, problem in problems.items():
        if any(info.session == name for info in infos):
            _LOG.warning("session %s: %s; its envs are shown as stale", name, problem)
    rows: list[dict[str, Any]] = [
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
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    venvs = venvs_dir(config.root)
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
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    total = sum(info.size or 0 for info in infos)
    print(f"{len(infos)} env{'s' if len(infos) != 1 else ''}, {human_size(total)} in {venvs}")
    return 0


def _on_disk(root: Path) -> list[EnvInfo]:
    """Every entry of ``.venvs/`` named like an env: the envs of :func:`~vrun.envs.iter_envs`
    plus symlinks and files with such names (never vrun's; deleting them is refused, and
    said). ``.venvs/<session>`` links to an env are vrun's own and not listed."""
    found = list(iter_envs(root))
    try:
        entries = list(os.scandir(venvs_dir(root)))
    except OSError:
        return found
    for entry in entries:
        match = _ENV_NAME.match(entry.name)
        if not match or (entry.is_dir(follow_symlinks=False) and not entry.is_symlink()):
            continue  # not named like an env, or a real directory: iter_envs has it
        if entry.is_symlink():
            target = _ENV_NAME.match(os.readlink(entry.path))
            if target and target["session"] == entry.name:
                continue  # the last-used link of a session whose name ends like a digest
        found.append(EnvInfo(Path(entry.path), match["session"], match["digest"], None))
    return sorted(found, key=lambda info: info.path.name)


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
                _check_deletable(root, info.path)
                size = dir_size(info.path)
            else:
                size = remove_env(root, info.path)
        except EnvInUseError as exc:
            if skip_busy_builds and info.marker is None:
                _LOG.info("skipping %s: another vrun process is building it", info.path.name)
            else:
                _LOG.error("error: %s", exc.message)
                failed = True
            continue
        except UnsafeDeleteError as exc:
            _LOG.error("error: %s", exc.message)
            failed = True
            continue
        except OSError as exc:
            _LOG.error("could not remove %s: %s", info.path, exc)
            failed = True
            continue
        print(f"{'would remove' if dry_run else 'removed'} {info.path} ({human_size(size)})")
        freed += size
        removed += 1
    if removed:
        envs = f"{removed} env{'s' if removed != 1 else ''}"
        print(f"{'would free' if dry_run else 'freed'} {human_size(freed)} ({envs})")
    return 1 if failed else 0


def remove_sessions(config: Config, names: Sequence[str]) -> int:
    """``vrun rm SESSION...``: remove every env of the named sessions (rmvirtualenv).

    A name is a full session name, or a base name standing for all of its matrix entries. A
    name the config does not know still works when envs of a session of that name are on
    disk (a session since removed from the config). Each removal is printed with its size,
    then the total freed (:func:`vrun.output.human_size`).

    :returns: 0, or 1 when an env was in use or a deletion was refused (see
        :func:`vrun.envs.remove_env`).
    :raises UsageError: for a name that is neither a session nor found on disk, with a
        did-you-mean hint; raised before anything is removed.
    """
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
            _LOG.info("session %s is not in %s; removing its envs", name, config.path.name)
            full = (name,)
        wanted.update(dict.fromkeys(full))
    for name in wanted:
        if name not in disk_sessions:
            _LOG.info("session %s has no envs", name)
    targets = [info for info in on_disk if info.session in wanted]
    return _remove(config.root, targets, dry_run=False, skip_busy_builds=False)


def collect_garbage(config: Config, backend: str, *, keep: int, dry_run: bool) -> int:
    """``vrun gc``: remove the envs that no longer match the config.

    Per session (by the name in the env's marker, whether or not the config still has it):
    its current env (:func:`env_state`) is never removed; of its stale envs the ``keep``
    most recently used (by last-used time) are kept and the rest removed. Incomplete builds
    are removed unless another process is building them. A session whose current key cannot
    be computed (its interpreter is missing) keeps all its complete envs, with a warning:
    gc cannot tell which one is current.

    :param keep: stale envs kept per session (``>= 0``).
    :param dry_run: remove nothing; print the same list prefixed ``would remove``.
    :returns: 0, or 1 when an env was in use or a deletion was refused.
    """
    digests, problems = current_digests(config, backend)
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
        _LOG.warning(
            "keeping the envs of session %s: cannot tell which is current (%s)", name, problems[name]
        )
    for infos in stale.values():
        infos.sort(key=lambda info: info.last_used or 0.0, reverse=True)
        for info in infos[:keep]:
            _LOG.info(
                "keeping %s (last used %s; --keep %d)", info.path.name, _short_time(info.last_used), keep
            )
        doomed += infos[keep:]
    locks = orphan_locks(config.root)
    for lock in locks:
        verb = "would remove" if dry_run else "removed"
        if dry_run or remove_orphan_lock(lock):
            print(f"{verb} {lock.name} (the lock of an env that no longer exists)")
    if not doomed:
        if not locks:
            print("nothing to remove")
        return 0
    doomed.sort(key=lambda info: info.path.name)
    return _remove(config.root, doomed, dry_run=dry_run, skip_busy_builds=True)


def _requested_names(config: Config, session: Session) -> set[str]:
    """Normalized names the session asks for explicitly: its ``deps`` (``-r`` files followed,
    pip's format), its groups, and the project's own dependencies when it is installed."""
    lines = [
        *session.requirements,
        *session.group_requirements,
        *requirement_lines(session.requirement_files),
    ]
    if session.install_project:
        project = (load_pyproject(config) or {}).get("project", {})
        lines += [str(dep) for dep in project.get("dependencies", [])]
        optional = project.get("optional-dependencies", {})
        lines += [str(dep) for extra in session.extras for dep in optional.get(extra, [])]
    return {normalize_name(match[1]) for match in map(_NAME.match, lines) if match}


def _project_name(config: Config) -> str | None:
    """The project's ``[project].name`` from pyproject.toml, PEP 503 normalized, or ``None``."""
    name = (load_pyproject(config) or {}).get("project", {}).get("name")
    return normalize_name(name) if isinstance(name, str) else None


def _editable_is_project(target: str, project: str | None, root: Path) -> bool:
    """Whether a ``-e`` line of a freeze names the project: by ``#egg=`` name, else by path."""
    egg = re.search(r"[#&]egg=([^&]+)", target)
    if egg:
        return normalize_name(egg[1]) == project
    path = unquote(target[len("file://") :]) if target.startswith("file://") else target
    return os.path.realpath(path) == os.path.realpath(root)


def pinned_requirements(
    lines: Sequence[str], *, project: str | None, project_root: Path, requested: set[str]
) -> list[str]:
    """Filter an installer's freeze output down to the pins a user keeps.

    Drops the project itself (by ``project``, a PEP 503 normalized name, or an editable
    install of ``project_root``) and the :data:`SEED_PACKAGES` not in ``requested``
    (normalized names). A comment line (pip's "# Editable install ...") goes with the line
    after it. Lines that are not requirements (an installer's warnings) are logged and dropped.
    """
    out: list[str] = []
    pending: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            pending.append(line)
            continue
        if line.startswith("-e "):
            keep = not _editable_is_project(line[3:].strip(), project, project_root)
        else:
            pin = _PIN.match(line)
            if pin is None:
                _LOG.warning("freeze: %s", line)
                pending = []
                continue
            name = normalize_name(pin[1])
            keep = name != project and (name not in SEED_PACKAGES or name in requested)
        if keep:
            out += [*pending, line]
        pending = []
    return out


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path`` and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def freeze(config: Config, session: Session, backend: str, *, output: Path | None) -> int:
    """``vrun freeze SESSION [-o FILE]``: the env's distributions as pinned requirements.

    The installer's freeze (``pip freeze --all`` or ``uv pip freeze``, see
    :meth:`vrun.backends.Backend.freeze`), run under the env's shared lock, filtered by
    :func:`pinned_requirements`: without the project and without the seed packages the
    session does not ask for. Printed to stdout, or with ``output`` written atomically
    (a symlink is written through). Writing to a file of the session's ``deps`` pins it:
    its key changes, so its next run builds a new env (the log line says so).

    :raises EnvNotReadyError: when the session's current env is not built.
    :raises UsageError: when ``output`` cannot be written.
    :raises BuildError: when the installer's freeze fails.
    :raises InterpreterNotFoundError: when the session's interpreter is missing.
    """
    from vrun.backends import get_backend

    installer = get_backend(backend)
    plan = plan_session(config, session, installer.name, environ=os.environ, cache_dir=None)
    hint = f"build it first: vrun {session.name}"
    try:
        require_ready(plan.env_dir, session.name, plan.key.digest)
        lock = lock_for(plan.env_dir)
        lock.acquire(exclusive=False)
        try:
            require_ready(plan.env_dir, session.name, plan.key.digest)  # removed while we waited?
            lines = installer.freeze(plan.env_dir, environ=os.environ)
        finally:
            lock.release()
    except EnvNotReadyError as exc:
        raise EnvNotReadyError(exc.message, hint=hint) from None
    pins = pinned_requirements(
        lines,
        project=_project_name(config),
        project_root=config.root,
        requested=_requested_names(config, session),
    )
    text = "".join(pin + "\n" for pin in pins)
    if output is None:
        sys.stdout.write(text)
        return 0
    target = Path(os.path.realpath(output))
    try:
        unchanged = target.read_text(encoding="utf-8") == text
    except (OSError, ValueError):
        unchanged = False
    count = sum(1 for pin in pins if not pin.startswith("#"))
    if unchanged:
        _LOG.info("%s already holds these %d pins; left as it is", output, count)
        return 0
    try:
        _write_atomic(target, text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    users = [
        s.name
        for s in config.sessions.values()
        if target in {Path(os.path.realpath(p)) for p in (*s.requirement_files, *s.constraint_files)}
    ]
    if users:
        _LOG.info(
            "wrote %d pins of %s to %s; %s use%s it in deps: the next run builds a new env with them",
            count,
            session.name,
            output,
            ", ".join(users),
            "s" if len(users) == 1 else "",
        )
    else:
        _LOG.info("wrote %d pins of %s to %s", count, session.name, output)
    return 0
