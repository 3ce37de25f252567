"""Create an env and install into it: one small interface, two implementations.

:class:`VirtualenvBackend` builds with ``virtualenv`` (pip seeded) and installs with that
env's pip; :class:`UvBackend` does both with ``uv``. Both are imported and used only on the
build path: nothing here runs for an env that is reused.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vrun.errors import BuildError, UsageError
from vrun.interpreters import Interpreter

#: Variables that would make pip install somewhere other than the env (pip's ``--user``,
#: ``--target`` and ``--prefix`` as environment variables), or make the env's python look
#: elsewhere for its standard library or packages.
UNSAFE_INSTALL_VARS = ("PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PYTHONHOME", "PYTHONPATH", "PYTHONUSERBASE")


@dataclass(frozen=True)
class InstallPlan:
    """What to install into an env, in installer-neutral terms.

    :param requirements: PEP 508 strings.
    :param requirement_files: ``-r`` files (absolute).
    :param constraint_files: ``-c`` files (absolute).
    :param project: the project root to install, or ``None``.
    :param editable: install the project in editable mode (PEP 660).
    :param extras: the project's extras.
    """

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    constraint_files: tuple[Path, ...] = ()
    project: Path | None = None
    editable: bool = True
    extras: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when there is nothing to install."""
        return not (self.requirements or self.requirement_files or self.project)

    def describe(self) -> str:
        """A short description for the log, e.g. ``"2 requirements, 1 -r file, the project (editable)"``."""
        parts = []
        if self.requirements:
            parts.append(f"{len(self.requirements)} requirement{'s' * (len(self.requirements) != 1)}")
        for label, files in (("-r", self.requirement_files), ("-c", self.constraint_files)):
            if files:
                parts.append(f"{label} {', '.join(p.name for p in files)}")
        if self.project is not None:
            parts.append(f"the project ({'editable' if self.editable else 'wheel'})")
        return ", ".join(parts)

    def project_only(self) -> InstallPlan:
        """This plan without its requirements: what reinstalling the project alone takes."""
        return InstallPlan(project=self.project, editable=self.editable, extras=self.extras)

    def args(self) -> list[str]:
        """The arguments of ``pip install`` (and ``uv pip install``) for this plan."""
        out: list[str] = list(self.requirements)
        for path in self.requirement_files:
            out += ["-r", str(path)]
        for path in self.constraint_files:
            out += ["-c", str(path)]
        if self.project is not None:
            target = str(self.project) + (f"[{','.join(self.extras)}]" if self.extras else "")
            out += ["-e", target] if self.editable else [target]
        return out


class Backend(Protocol):
    """Creates envs and installs into them.

    Implementations raise :class:`~vrun.errors.BuildError` (with the tool's captured output)
    when creating or installing fails.
    """

    name: str

    def create(
        self, interpreter: Interpreter, env_dir: Path, *, prompt: str, system_site_packages: bool
    ) -> None:
        """Create an empty env at ``env_dir`` (which does not exist yet) from ``interpreter``."""

    def install(
        self,
        env_dir: Path,
        plan: InstallPlan,
        *,
        environ: Mapping[str, str],
        verbose: bool,
        reinstall: bool = False,
    ) -> None:
        """Install ``plan`` into the env; ``reinstall`` forces the project to be reinstalled, without deps."""

    def freeze(self, env_dir: Path, *, environ: Mapping[str, str]) -> list[str]:
        """The env's installed distributions as ``name==version`` lines (pip's ``freeze``)."""


def installer_environ(env_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment an installer runs in: the caller's, pointed at the env.

    The caller's ``PIP_*``/``UV_*`` index settings pass through (that is how a user points
    vrun at a mirror or a wheelhouse); :data:`UNSAFE_INSTALL_VARS` are removed, ``VIRTUAL_ENV``
    is set and the env's ``bin/`` leads ``PATH``.
    """
    env = {k: v for k, v in environ.items() if k not in UNSAFE_INSTALL_VARS}
    env["VIRTUAL_ENV"] = str(env_dir)
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), env.get("PATH", os.defpath)])
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


_FAILED_REQ = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"Because (\S+) was not found in the package registry"),
    re.compile(r"No solution found when resolving dependencies:\s*\n\s*╰─▶ Because (\S+)"),
    re.compile(r"ERROR: (?:Could not open requirements file|Invalid requirement): (.+)"),
)


def failing_requirement(output: str) -> str | None:
    """Find the requirement an installer's output blames, from pip's and uv's messages."""
    for pattern in _FAILED_REQ:
        match = pattern.search(output)
        if match:
            return match.group(1).strip()
    return None


def _run_tool(
    argv: Sequence[str], *, what: str, environ: Mapping[str, str], verbose: bool, cwd: Path | None = None
) -> str:
    """Run an installer; capture its output unless ``verbose``; raise BuildError on failure."""
    if verbose:
        returncode = subprocess.run(list(argv), env=dict(environ), cwd=cwd, check=False).returncode
        output = ""
    else:
        proc = subprocess.run(
            list(argv),
            env=dict(environ),
            cwd=cwd,
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        returncode, output = proc.returncode, proc.stdout
    if returncode != 0:
        blamed = failing_requirement(output)
        detail = f": could not install {blamed}" if blamed else ""
        raise BuildError(f"{what} failed (exit {returncode}){detail}", output=output)
    return output


class VirtualenvBackend:
    """virtualenv to create (pip seeded, so ``pip`` works inside), pip to install."""

    name = "virtualenv"

    def create(
        self, interpreter: Interpreter, env_dir: Path, *, prompt: str, system_site_packages: bool
    ) -> None:
        """Create the env with virtualenv's API, in this process (no second interpreter start).

        virtualenv is imported here, not at module level, so a reused env never pays for it.
        """
        from virtualenv import cli_run

        argv = [
            str(env_dir),
            "--python",
            interpreter.executable,
            "--prompt",
            prompt,
            "--no-setuptools",
            "--no-periodic-update",
            "--quiet",
        ]
        if system_site_packages:
            argv.append("--system-site-packages")
        try:
            cli_run(argv, setup_logging=False, env=dict(os.environ))
        except (Exception, SystemExit) as exc:  # virtualenv raises RuntimeError, SystemExit, OSError ...
            raise BuildError(f"creating the env with virtualenv failed: {exc}") from exc

    def install(
        self,
        env_dir: Path,
        plan: InstallPlan,
        *,
        environ: Mapping[str, str],
        verbose: bool,
        reinstall: bool = False,
    ) -> None:
        """``<env>/bin/python -m pip install ARGS``; see :meth:`InstallPlan.args`."""
        if reinstall:
            plan = plan.project_only()
        argv = [str(env_dir / "bin" / "python"), "-m", "pip", "install", *plan.args()]
        if reinstall:
            argv[4:4] = ["--force-reinstall", "--no-deps"]
        if not verbose:
            argv.insert(4, "--quiet")
        _run_tool(argv, what="pip install", environ=installer_environ(env_dir, environ), verbose=verbose)

    def freeze(self, env_dir: Path, *, environ: Mapping[str, str]) -> list[str]:
        """``pip freeze --all`` run in the env, as lines."""
        out = _run_tool(
            [str(env_dir / "bin" / "python"), "-m", "pip", "freeze", "--all"],
            what="pip freeze",
            environ=installer_environ(env_dir, environ),
            verbose=False,
        )
        return [line for line in out.splitlines() if line.strip()]


def find_uv() -> str | None:
    """The ``uv`` executable: the one of the ``uv`` Python package, else ``uv`` on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


class UvBackend:
    """uv to create (``uv venv``) and to install (``uv pip install``): same plan, far faster."""

    name = "uv"

    def __init__(self, uv: str) -> None:
        self.uv = uv

    def create(
        self, interpreter: Interpreter, env_dir: Path, *, prompt: str, system_site_packages: bool
    ) -> None:
        """``uv venv``: like nox's and tox-uv's uv envs, without pip (``uv pip`` serves instead)."""
        argv = [
            self.uv,
            "venv",
            "--quiet",
            "--python",
            interpreter.executable,
            "--prompt",
            prompt,
            str(env_dir),
        ]
        if system_site_packages:
            argv.append("--system-site-packages")
        env = dict(os.environ)
        env["UV_PYTHON_DOWNLOADS"] = "never"
        _run_tool(argv, what="uv venv", environ=env, verbose=False)

    def install(
        self,
        env_dir: Path,
        plan: InstallPlan,
        *,
        environ: Mapping[str, str],
        verbose: bool,
        reinstall: bool = False,
    ) -> None:
        """``uv pip install --python <env>/bin/python ARGS``."""
        if reinstall:
            plan = plan.project_only()
        argv = [self.uv, "pip", "install", "--python", str(env_dir / "bin" / "python"), *plan.args()]
        if reinstall:
            argv[3:3] = (
                ["--reinstall-package", _project_name(plan.project), "--no-deps"] if plan.project else []
            )
        if not verbose:
            argv.insert(3, "--quiet")
        _run_tool(argv, what="uv pip install", environ=installer_environ(env_dir, environ), verbose=verbose)

    def freeze(self, env_dir: Path, *, environ: Mapping[str, str]) -> list[str]:
        """``uv pip freeze`` for the env."""
        out = _run_tool(
            [self.uv, "pip", "freeze", "--python", str(env_dir / "bin" / "python")],
            what="uv pip freeze",
            environ=installer_environ(env_dir, environ),
            verbose=False,
        )
        return [line for line in out.splitlines() if line.strip()]


def _project_name(root: Path | None) -> str:
    if root is None:
        return ""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with (root / "pyproject.toml").open("rb") as fh:
            return str(tomllib.load(fh)["project"]["name"])
    except (OSError, KeyError, ValueError):
        return root.name


#: The backends by name.
BACKENDS = ("virtualenv", "uv")


def get_backend(name: str) -> Backend:
    """The backend called ``name``.

    :raises UsageError: for an unknown name, or ``uv`` when uv is not installed.
    """
    if name == "virtualenv":
        return VirtualenvBackend()
    if name == "uv":
        uv = find_uv()
        if uv is None:
            raise UsageError("the uv backend needs uv", hint="pip install 'vrun[uv]' or put uv on PATH")
        return UvBackend(uv)
    raise UsageError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
