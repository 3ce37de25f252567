"""Create an env and install into it: one small interface, two implementations.

:class:`VirtualenvBackend` builds with ``virtualenv`` (pip seeded) and installs with that
env's pip; :class:`UvBackend` does both with ``uv``. Both are imported and used only on the
build path: nothing here runs for an env that is reused.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence

from vrun import output
from vrun.env.choice import BACKENDS, UV_HINT, find_uv
from vrun.env.flock import EnvLock
from vrun.env.installplan import InstallPlan, constraint_lines, lock_requirements
from vrun.environ import installer_environ
from vrun.errors import BuildError, Interrupted, UsageError
from vrun.process import run_command

TYPE_CHECKING = False
# The Protocol is for type checkers: ``typing`` stays off the build path (benchmarks/README.md,
# "Import costs").
if TYPE_CHECKING:
    from typing import Protocol

else:
    Protocol = object


class Backend(Protocol):
    """Creates envs and installs into them.

    Implementations raise :class:`~vrun.errors.BuildError` (with the tool's captured output)
    when creating or installing fails, and :class:`~vrun.errors.Interrupted` when a signal
    stopped the tool. Every tool they run holds ``lock`` (its descriptor is inherited).
    """

    name: str
    seed: tuple[str, ...]

    def create(
        self,
        python: str,
        env_dir: str,
        *,
        prompt: str,
        system_site_packages: bool,
        lock: EnvLock | None,
    ) -> None:
        """Create an empty env at ``env_dir`` (which does not exist yet) from the interpreter ``python``."""

    def install(
        self,
        env_dir: str,
        plan: InstallPlan,
        *,
        environ: Mapping[str, str],
        cwd: str,
        lock: EnvLock,
        reinstall: bool = False,
    ) -> None:
        """Install ``plan`` into the env, the installer running in ``cwd`` (the project root);
        ``reinstall`` forces the project to be reinstalled, without deps."""

    def install_requirements(
        self, env_dir: str, requirements: Sequence[str], *, environ: Mapping[str, str], cwd: str
    ) -> None:
        """Install plain requirement strings (a build env's build requirements)."""

    def freeze(self, env_dir: str, *, environ: Mapping[str, str]) -> list[str]:
        """The env's installed distributions as ``name==version`` lines (pip's ``freeze``)."""


def _one_line(message: str) -> str:
    """A multi-line message (virtualenv's seeder embeds a whole traceback) as its first line and
    its last, the actual cause: ``failed to build image pip because: OSError: [Errno 28] ...``."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return message.strip()
    return f"{lines[0]} {lines[-1]}"


_FAILED_REQ = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    # uv wraps its messages at the terminal's width: any whitespace between the words
    re.compile(r"Because (\S+) was\s+not\s+found\s+in\s+the\s+package\s+registry"),
    re.compile(r"Because (\S+) was\s+not\s+found\s+in\s+the\s+cache"),  # uv --offline
    re.compile(r"Because (\S+) was\s+not\s+found\s+in\s+the\s+provided\s+package\s+locations"),  # --no-index
    re.compile(r"No solution found when resolving dependencies:\s*\n\s*╰─▶ Because (\S+)"),
    re.compile(r"ERROR: (?:Could not open requirements file|Invalid requirement): (.+)"),
)


def failing_requirement(text: str) -> str | None:
    """Find the requirement an installer's output blames, from pip's and uv's messages."""
    for pattern in _FAILED_REQ:
        match = pattern.search(text)
        if match:
            return match.group(1).strip()
    return None


def run_tool(
    argv: Sequence[str], *, what: str, environ: Mapping[str, str], cwd: str, lock: EnvLock | None = None
) -> str:
    """Run an installer through :func:`vrun.process.run_command`; return its output.

    It runs in a process group of its own, holding ``lock`` (an inherited descriptor), with its
    output captured in a temporary file (shown live with ``-v``), while the build step shown on a
    terminal (:func:`vrun.output.ticker`) keeps its elapsed time up to date.

    :raises BuildError: it failed (with its output, and the requirement it blames).
    :raises Interrupted: vrun received a signal while it ran (the tool's group was stopped).
    """
    keep = () if lock is None or lock.fd is None else (lock.fd,)
    with tempfile.TemporaryFile() as log:
        fd = None if output.verbose() else log.fileno()
        outcome = run_command(
            argv, environ=environ, cwd=cwd, output=fd, keep_fds=keep, interactive=False, tick=output.ticker()
        )
        log.seek(0)
        text = log.read().decode("utf-8", errors="replace")
    if outcome.received is not None:
        raise Interrupted(outcome.received)
    if outcome.status != 0:
        blamed = failing_requirement(text)
        detail = f": could not install {blamed}" if blamed else ""
        if "No space left on device" in text:
            detail = ": No space left on device (the disk is full)"
        raise BuildError(f"{what} failed (exit {outcome.status}){detail}", output=text)
    return text


def install_locked(
    base: list[str],
    plan: InstallPlan,
    *,
    env_dir: str,
    pip: bool,
    environ: Mapping[str, str],
    cwd: str,
    lock: EnvLock,
) -> None:
    """Install exactly what ``plan.lock`` pins into ``env_dir``, then the seed and the project, all
    with ``--no-deps``: two installer calls (uv takes nothing beside a lock file; pip's hash-checking
    mode allows no unhashed requirement, such as the project). With a ``uv.lock``'s pins
    (``plan.pins``), the requirements and ``-r``/``-c`` files go on top, in a call of their own that
    resolves their dependencies under the pins as constraints (so nothing the lock pins moves).

    :param base: the installer's ``install`` command, e.g. ``[uv, "pip", "install", "--python", PY]``.
    :param pip: the installer is pip, which cannot read a PEP 751 file yet: it gets the file's pins
        as requirement lines (:func:`~vrun.env.installplan.lock_requirements`); uv reads the file itself.
    :raises BuildError: the lock file cannot be read, or an install failed.
    """
    what = "pip install" if pip else "uv pip install"
    base = [*base, *([] if output.verbose() else ["--quiet"])]
    env = installer_environ(env_dir, environ)
    source = os.path.basename(str(plan.lock))
    with tempfile.TemporaryDirectory(prefix="vrun-lock-") as work:
        pinned = str(plan.lock)
        if plan.pins is not None or pip:
            try:
                lines = list(plan.pins) if plan.pins is not None else lock_requirements(pinned)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # a hand-edited file
                raise BuildError(f"cannot read the lock file {pinned}: {exc}") from exc
            pinned = _write_lines(work, "pinned.txt", lines)
        run_tool(
            [*base, "--no-deps", "-r", pinned],
            what=f"{what} (what {source} pins)",
            environ=env,
            cwd=cwd,
            lock=lock,
        )
        on_top = plan.on_top_args() if plan.pins is not None else []
        if on_top:
            constraints = _write_lines(work, "constraints.txt", constraint_lines(plan.pins or ()))
            argv = [*base, *on_top, "-c", constraints]
            run_tool(argv, what=f"{what} (on top of {source})", environ=env, cwd=cwd, lock=lock)
    if plan.project_args():
        run_tool([*base, "--no-deps", *plan.project_args()], what=what, environ=env, cwd=cwd, lock=lock)


def _write_lines(folder: str, name: str, lines: Sequence[str]) -> str:
    """Write ``lines`` as the requirements file ``folder/name``; return its path."""
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in lines))
    return path


class VirtualenvBackend:
    """virtualenv to create (pip seeded, so ``pip`` works inside), pip to install."""

    name = "virtualenv"
    #: What every new env gets besides the session's plan: virtualenv seeds pip itself.
    seed: tuple[str, ...] = ()

    def create(
        self,
        python: str,
        env_dir: str,
        *,
        prompt: str,
        system_site_packages: bool,
        lock: EnvLock | None,
    ) -> None:
        """Create the env with virtualenv's API, in this process (no second interpreter start).

        virtualenv is imported here, not at module level, so a reused env never pays for it.
        """
        from virtualenv import cli_run

        _quiet_libraries()
        argv = [env_dir, "--python", python, "--prompt", prompt, "--no-setuptools"]
        argv += ["--no-periodic-update", "--quiet"]
        if system_site_packages:
            argv.append("--system-site-packages")
        try:
            cli_run(argv, setup_logging=False, env=dict(os.environ))
        except OSError as exc:
            raise BuildError(f"creating the env with virtualenv failed: {exc.strerror or exc}") from exc
        except (Exception, SystemExit) as exc:  # virtualenv raises RuntimeError, SystemExit, ...
            raise BuildError(f"creating the env with virtualenv failed: {_one_line(str(exc))}") from exc

    def install(
        self,
        env_dir: str,
        plan: InstallPlan,
        *,
        environ: Mapping[str, str],
        cwd: str,
        lock: EnvLock,
        reinstall: bool = False,
    ) -> None:
        """``<env>/bin/python -m pip install ARGS``; see :meth:`InstallPlan.args`. With a lock file:
        ``pip install --no-deps -r`` its packages (:func:`~vrun.env.installplan.lock_requirements`), then
        the project with ``--no-deps``. ``target``/``prefix``/``root``/``user`` in pip's config
        files are neutralized (:func:`vrun.env.pipsettings.without_redirects`)."""
        from vrun.env.pipsettings import without_redirects

        environ = without_redirects(environ) or environ
        if plan.lock is not None and not reinstall:
            pip = [os.path.join(env_dir, "bin", "python"), "-m", "pip", "install"]
            install_locked(pip, plan, env_dir=env_dir, pip=True, environ=environ, cwd=cwd, lock=lock)
            return
        if reinstall:
            plan = plan.project_only()
        argv = [os.path.join(env_dir, "bin", "python"), "-m", "pip", "install", *plan.args()]
        if reinstall:
            argv[4:4] = ["--force-reinstall", "--no-deps"]
        if not output.verbose():
            argv.insert(4, "--quiet")
        run_tool(argv, what="pip install", environ=installer_environ(env_dir, environ), cwd=cwd, lock=lock)

    def install_requirements(
        self, env_dir: str, requirements: Sequence[str], *, environ: Mapping[str, str], cwd: str
    ) -> None:
        """``<env>/bin/python -m pip install --quiet REQUIREMENTS``."""
        from vrun.env.pipsettings import without_redirects

        environ = without_redirects(environ) or environ
        argv = [os.path.join(env_dir, "bin", "python"), "-m", "pip", "install", "--quiet", *requirements]
        run_tool(argv, what="pip install", environ=installer_environ(env_dir, environ), cwd=cwd)

    def freeze(self, env_dir: str, *, environ: Mapping[str, str]) -> list[str]:
        """``pip freeze --all`` run in the env, as lines."""
        text = run_tool(
            [os.path.join(env_dir, "bin", "python"), "-m", "pip", "freeze", "--all"],
            what="pip freeze",
            environ=installer_environ(env_dir, environ),
            cwd=env_dir,
        )
        return [line for line in text.splitlines() if line.strip()]


class UvBackend:
    """uv to create (``uv venv``) and to install (``uv pip install``): same plan, far faster.

    Its envs get pip too (:attr:`seed`, installed with the env's first install): people run
    ``pip install`` inside ``vrun shell``, and a global pip found on PATH would install elsewhere
    (docs/envs.md has the cost).
    """

    name = "uv"
    #: What every new env gets besides the session's plan.
    seed: tuple[str, ...] = ("pip",)

    def __init__(self, uv: str) -> None:
        self.uv = uv

    def create(
        self,
        python: str,
        env_dir: str,
        *,
        prompt: str,
        system_site_packages: bool,
        lock: EnvLock | None,
    ) -> None:
        """``uv venv``, never downloading a Python."""
        argv = [self.uv, "venv", "--quiet", "--python", python, "--prompt", prompt, env_dir]
        if system_site_packages:
            argv.append("--system-site-packages")
        env = installer_environ(env_dir, os.environ)
        env["UV_PYTHON_DOWNLOADS"] = "never"
        run_tool(argv, what="uv venv", environ=env, cwd=os.path.dirname(env_dir), lock=lock)

    def install(
        self,
        env_dir: str,
        plan: InstallPlan,
        *,
        environ: Mapping[str, str],
        cwd: str,
        lock: EnvLock,
        reinstall: bool = False,
    ) -> None:
        """``uv pip install --python <env>/bin/python ARGS``. With a lock file: ``uv pip install -r``
        it (uv installs a PEP 751 file as it is, resolving nothing), then the seed and the project
        with ``--no-deps`` (uv takes nothing else beside a lock file)."""
        environ, carried = with_pip_settings(environ, cwd)
        if plan.lock is not None and not reinstall:
            uv = [self.uv, "pip", "install", "--python", os.path.join(env_dir, "bin", "python"), *carried]
            install_locked(uv, plan, env_dir=env_dir, pip=False, environ=environ, cwd=cwd, lock=lock)
            return
        if reinstall:
            plan = plan.project_only()
        python = os.path.join(env_dir, "bin", "python")
        argv = [self.uv, "pip", "install", "--python", python, *carried, *plan.args()]
        if reinstall and plan.project_name:
            argv[3:3] = ["--reinstall-package", plan.project_name, "--no-deps"]
        if not output.verbose():
            argv.insert(3, "--quiet")
        run_tool(argv, what="uv pip install", environ=installer_environ(env_dir, environ), cwd=cwd, lock=lock)

    def install_requirements(
        self, env_dir: str, requirements: Sequence[str], *, environ: Mapping[str, str], cwd: str
    ) -> None:
        """``uv pip install --quiet --python <env>/bin/python REQUIREMENTS``."""
        environ, carried = with_pip_settings(environ, cwd)
        argv = [self.uv, "pip", "install", "--quiet", "--python", os.path.join(env_dir, "bin", "python")]
        env = installer_environ(env_dir, environ)
        run_tool([*argv, *carried, *requirements], what="uv pip install", environ=env, cwd=cwd)

    def freeze(self, env_dir: str, *, environ: Mapping[str, str]) -> list[str]:
        """``uv pip freeze`` for the env."""
        text = run_tool(
            [self.uv, "pip", "freeze", "--python", os.path.join(env_dir, "bin", "python")],
            what="uv pip freeze",
            environ=installer_environ(env_dir, environ),
            cwd=env_dir,
        )
        return [line for line in text.splitlines() if line.strip()]


def with_pip_settings(environ: Mapping[str, str], cwd: str) -> tuple[dict[str, str], list[str]]:
    """``environ`` with the user's pip settings carried into uv's (:func:`vrun.env.pipsettings.for_uv`),
    and the arguments they add to ``uv pip install``/``uv pip compile`` (``--no-index``).

    :param cwd: the project root, where uv looks for its own ``uv.toml``.
    """
    from vrun.env.pipsettings import for_uv

    settings = for_uv(environ, cwd)
    return {**environ, **settings.environ}, settings.args


def get_backend(name: str) -> Backend:
    """The backend called ``name``.

    :raises UsageError: for an unknown name, or ``uv`` when uv is not installed.
    """
    if name == "virtualenv":
        return VirtualenvBackend()
    if name == "uv":
        uv = find_uv()
        if uv is None:
            raise UsageError("the uv backend needs uv", hint=UV_HINT)
        return UvBackend(uv)
    raise UsageError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


def _quiet_libraries() -> None:
    """virtualenv and its helpers log through :mod:`logging`; show only their errors (``-vv``: all)."""
    import logging

    for noisy in ("filelock", "virtualenv", "python_discovery", "distlib"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if output.verbose() else logging.ERROR)
