"""What to install into an env, in installer-neutral terms, and how to check it landed.

Both backends (:mod:`vrun.env.backends`) turn an :class:`InstallPlan` into the same arguments for
``pip install`` and ``uv pip install`` (pip's command-line and requirements syntax); after the
install, :meth:`InstallPlan.missing_from` checks the requested distributions are in the env's
site-packages (their ``.dist-info``, named as the wheel spec escapes them). A plan with a lock file
(:mod:`vrun.plan.lockfile`) installs what the lock pins instead of its requirements, then the project
with ``--no-deps`` (:meth:`InstallPlan.project_args`); :func:`lock_requirements` turns a PEP 751
file into requirement lines for pip, which cannot read one yet. A plan with a ``uv.lock``
(:mod:`vrun.plan.uvlock`) carries its pins as requirement lines (:attr:`InstallPlan.pins`) and installs
its requirements on top of them, constrained by them (:func:`constraint_lines`).
"""

from __future__ import annotations

import os
import re

from vrun.env.layout import site_packages_dirs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class InstallPlan:
    """What to install into an env, in installer-neutral terms.

    :param requirements: PEP 508 strings, local paths (``./lib``) and ``-e PATH`` entries.
    :param requirement_files: ``-r`` files (absolute).
    :param constraint_files: ``-c`` files (absolute).
    :param project: the project root to install, or ``None``.
    :param editable: install the project in editable mode (PEP 660).
    :param extras: the project's extras.
    :param project_name: the project's PEP 503-normalized name, when known.
    :param seed: requirements every new env gets from its backend (pip, for uv), installed first.
    :param names: PEP 503-normalized names that must be installed in the env afterwards (the
        named requirements and the project), checked by :meth:`missing_from`.
    :param lock: a PEP 751 lock file to install exactly, without resolving, instead of the
        requirements and ``-r``/``-c`` files (the project then goes on top with ``--no-deps``); or a
        ``uv.lock``, whose pins are :attr:`pins`.
    :param pins: the requirement lines ``lock`` pins (a ``uv.lock``'s export), installed exactly;
        the requirements and ``-r``/``-c`` files then go on top (:meth:`on_top_args`). ``None``:
        ``lock`` is a PEP 751 file, read as it is, which covers the requirements.
    """

    __slots__ = (
        "constraint_files",
        "editable",
        "extras",
        "lock",
        "names",
        "pins",
        "project",
        "project_name",
        "requirement_files",
        "requirements",
        "seed",
    )

    def __init__(
        self,
        requirements: tuple[str, ...] = (),
        requirement_files: tuple[str, ...] = (),
        constraint_files: tuple[str, ...] = (),
        project: str | None = None,
        editable: bool = True,
        extras: tuple[str, ...] = (),
        names: tuple[str, ...] = (),
        project_name: str | None = None,
        seed: tuple[str, ...] = (),
        lock: str | None = None,
        pins: tuple[str, ...] | None = None,
    ) -> None:
        # A plain class, not a dataclass: importing ``dataclasses`` (with ``inspect``) is a
        # noticeable part of building an env with uv (benchmarks/README.md, "Import costs").
        self.requirements = requirements
        self.requirement_files = requirement_files
        self.constraint_files = constraint_files
        self.project = project
        self.editable = editable
        self.extras = extras
        self.names = names
        self.project_name = project_name
        self.seed = seed
        self.lock = lock
        self.pins = pins

    def replace(self, **changes: Any) -> InstallPlan:
        """A copy with ``changes`` applied (like :func:`dataclasses.replace`)."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return InstallPlan(**values)

    @property
    def empty(self) -> bool:
        """True when there is nothing to install."""
        return not (self.seed or self.requirements or self.requirement_files or self.project or self.lock)

    def describe(self) -> str:
        """A short description for the log, e.g. ``"2 requirements, 1 -r file, the project (editable)"``."""
        parts = []
        covered = self.lock is not None and self.pins is None  # a PEP 751 file holds the requirements
        if self.lock is not None:
            parts.append(f"what {os.path.basename(self.lock)} pins")
        requested = []
        if self.requirements and not covered:
            requested.append(f"{len(self.requirements)} requirement{'s' * (len(self.requirements) != 1)}")
        for label, files in (("-r", self.requirement_files), ("-c", self.constraint_files)):
            if files and not covered:
                requested.append(f"{label} {', '.join(os.path.basename(p) for p in files)}")
        if requested and self.lock is not None:
            requested[-1] += " on top"
        parts += requested
        if self.project is not None:
            built = ", built by vrun" if self.project.endswith(".whl") else ""
            parts.append(f"the project ({'editable' if self.editable else 'wheel'}{built})")
        return ", ".join(parts)

    def project_only(self) -> InstallPlan:
        """This plan without its requirements: what reinstalling the project alone takes."""
        return InstallPlan(
            project=self.project,
            editable=self.editable,
            extras=self.extras,
            names=self.names,
            project_name=self.project_name,
        )

    def args(self) -> list[str]:
        """The arguments of ``pip install`` (and ``uv pip install``) for this plan."""
        return [*self.seed, *self.on_top_args(), *self._project()]

    def on_top_args(self) -> list[str]:
        """The arguments that install the requirements and ``-r``/``-c`` files alone: what goes on
        top of a ``uv.lock``'s pins."""
        out: list[str] = []
        for req in self.requirements:
            out += ["-e", req[2:].strip()] if req.startswith("-e") else [req]
        for path in self.requirement_files:
            out += ["-r", path]
        for path in self.constraint_files:
            out += ["-c", path]
        return out

    def project_args(self) -> list[str]:
        """The arguments that install the seed and the project alone, for installing them with
        ``--no-deps`` on top of a lock file's packages."""
        return [*self.seed, *self._project()]

    def _project(self) -> list[str]:
        if self.project is not None and self.project.endswith(".whl"):  # a build from vrun's cache
            name = os.path.basename(self.project).split("-")[0]
            extras = f"[{','.join(self.extras)}]" if self.extras else ""
            return [f"{name}{extras} @ {file_uri(self.project)}"]
        if self.project is not None:
            target = self.project + (f"[{','.join(self.extras)}]" if self.extras else "")
            return ["-e", target] if self.editable else [target]
        return []

    def missing_from(self, env_dir: str) -> list[str]:
        """The :attr:`names` with no ``*.dist-info`` (or ``*.egg-info``) in the env's site-packages.

        What lets vrun refuse to mark an env whose installer wrote elsewhere (a ``target`` in
        pip.conf): the dist-info directory names are normalized as PEP 503 / the wheel spec's
        escaping describe, without running the env's interpreter.
        """
        found: set[str] = set()
        for purelib in site_packages_dirs(env_dir):
            for entry in _listdir(purelib):
                stem, dot, suffix = entry.rpartition(".")
                if dot and suffix in ("dist-info", "egg-info"):
                    found.add(re.sub(r"[-_.]+", "-", stem.split("-")[0]).lower())
        return [name for name in self.names if name not in found]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


#: The bytes a ``file:`` URI's path keeps as they are: RFC 3986's unreserved characters and ``/``.
_URI_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def file_uri(path: str) -> str:
    """The ``file://`` URI of an absolute POSIX path, percent-encoded as :meth:`pathlib.Path.as_uri`
    does (RFC 8089), without importing :mod:`pathlib` and :mod:`urllib` on the build path
    (benchmarks/README.md, "Import costs")."""
    return "file://" + "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}" for b in os.fsencode(path))


#: A pin that can be a constraint: a name and an exact version.
_NAMED_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==")


def constraint_lines(pins: tuple[str, ...]) -> list[str]:
    """The pins (requirement lines) that can constrain an install on top of them, with their
    markers: ``name==version`` ones, since pip takes no editable, path or URL requirement as a
    constraint ("Editable requirements are not allowed as constraints")."""
    return [line for line in pins if _NAMED_PIN.match(line)]


#: Hash algorithms pip's ``--hash`` accepts (pip's ``FAVORITE_HASH`` and ``STRONG_HASHES``).
_PIP_HASHES = ("sha256", "sha384", "sha512")


def lock_requirements(path: str) -> list[str]:
    """The packages of a PEP 751 lock file as lines of a pip requirements file, to install with
    ``pip install --no-deps -r`` (pip cannot read a ``pylock.toml`` yet).

    Each package becomes ``name==version`` (an index package), ``name @ URL`` (an archive),
    ``name @ git+URL@COMMIT`` (VCS) or a path (a directory; ``-e PATH`` when editable), relative
    paths taken from the lock file's directory as PEP 751 says, with its ``marker`` after ``;`` so
    that pip skips what does not apply to the env's interpreter. The PEP 751 ``hashes`` of its files
    become ``--hash`` options (any one matching file is accepted) when every package has some and
    none is a directory or VCS checkout; pip's hash-checking mode allows no unhashed line.

    :raises OSError: the file cannot be read.
    :raises ValueError: it is not TOML, or a package has no ``name``.
    """
    from vrun._compat import tomllib

    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    base = os.path.dirname(os.path.abspath(path))
    lines: list[tuple[str, list[str] | None]] = []  # a line and its hashes (None: cannot have any)
    for package in data.get("packages", []):
        name = package["name"]
        marker = f" ; {package['marker']}" if package.get("marker") else ""
        hashes: list[str] = []
        if "directory" in package:
            where = os.path.normpath(os.path.join(base, package["directory"]["path"]))
            lines.append(((f"-e {where}" if package["directory"].get("editable") else where), None))
            continue
        if "vcs" in package:
            vcs = package["vcs"]
            url = vcs.get("url") or file_uri(os.path.join(base, vcs["path"]))
            sub = f"#subdirectory={vcs['subdirectory']}" if vcs.get("subdirectory") else ""
            lines.append((f"{name} @ {vcs['type']}+{url}@{vcs['commit-id']}{sub}{marker}", None))
            continue
        if "archive" in package:
            archive = package["archive"]
            url = archive.get("url") or file_uri(os.path.normpath(os.path.join(base, archive["path"])))
            line = f"{name} @ {url}"
            files = [archive]
        else:
            line = f"{name}=={package['version']}" if package.get("version") else name
            files = [*package.get("wheels", []), *([package["sdist"]] if package.get("sdist") else [])]
        for entry in files:
            hashes += [f"{a}:{h}" for a, h in (entry.get("hashes") or {}).items() if a in _PIP_HASHES]
        lines.append((line + marker, hashes))
    if not all(hashes for _, hashes in lines):
        return [line for line, _ in lines]
    return [line + "".join(f" --hash={h}" for h in hashes or ()) for line, hashes in lines]
