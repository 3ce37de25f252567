"""The command line's grammar: vrun's argparse parsers, one per subcommand, and the two rewrites
applied before parsing (``-p`` without a number, options before a subcommand). :mod:`vrun.cli`
parses with them; completion (:mod:`vrun.commands.completion`) reads its options from them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vrun import __version__
from vrun.config.keys import BACKEND_CHOICES, DOWNLOAD_CHOICES
from vrun.config.load import BUILTIN_COMMANDS


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more output (installer output too)"
    )
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less output")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour vrun's output (default: auto)",
    )
    parser.add_argument(
        "-f",
        "--config",
        metavar="FILE",
        type=Path,
        help="use this vrun.toml or pyproject.toml instead of searching",
    )
    parser.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default=None,
        help="how envs are built and installed into (default: $VRUN_BACKEND, else the config's backend, "
        "else auto: uv where it can, else virtualenv + pip)",
    )


def _build_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--recreate", action="store_true", help="rebuild the env even if one is ready")
    parser.add_argument(
        "--no-install", action="store_true", help="reuse the env as it is; fail if it has never been built"
    )
    parser.add_argument(
        "--skip-missing-interpreters",
        action="store_true",
        help="mark sessions whose Python is missing as skipped instead of failed (ignored when CI is set)",
    )
    parser.add_argument(
        "--locked",
        action="store_true",
        help="refuse to build unless each session's lock file (vrun lock) exists and matches its "
        "requirements",
    )
    parser.add_argument(
        "--download-python",
        choices=DOWNLOAD_CHOICES,
        default=None,
        help="auto: install a session's missing Python with uv (uv's managed Pythons); never: fail or "
        "skip instead (default: $VRUN_PYTHON_DOWNLOADS, else the config's python_downloads, else auto)",
    )


#: The run options of :func:`_build_flags` and of the session loop's own flags (``-x``,
#: ``--install-only``, ``-p``, ``--parallel-child``), at the values that change nothing.
_BUILD_DEFAULTS = {
    "recreate": False,
    "no_install": False,
    "skip_missing_interpreters": False,
    "download_python": None,
}
_LOOP_DEFAULTS = {"fail_fast": False, "install_only": False, "parallel": 0, "parallel_child": None}


def _one_session(parser: argparse.ArgumentParser) -> None:
    """A parser that builds one session's env (``shell``, ``activate``, ``run``): the build
    flags, and the session loop's own options at their defaults, so that its arguments hold
    every run option :func:`vrun.commands._common.options` reads."""
    _build_flags(parser)
    parser.set_defaults(**_LOOP_DEFAULTS)


def _jobs(value: str) -> int:
    """``-p``'s value: a positive number of sessions, or ``auto`` (one per CPU)."""
    if value == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number or auto, got {value!r}")
    return int(value)


def normalize(argv: list[str], parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    """The command line as the parsers take it: ``-p`` without a number means ``-p auto``, and
    options before a subcommand move after it (:func:`hoist_subcommand`)."""
    return hoist_subcommand(_optional_jobs(argv), parsers)


def _optional_jobs(argv: list[str]) -> list[str]:
    """``-p``/``--parallel`` without a number means ``auto``: ``vrun -p test`` runs test."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg in ("-p", "--parallel"):
            nxt = argv[i + 1] if i + 1 < len(argv) else ""
            if nxt != "auto" and not nxt.isdigit():
                out.append("auto")
    return out


def build_parsers() -> dict[str, argparse.ArgumentParser]:
    """The top-level parser (key ``""``) and one parser per subcommand."""
    top = argparse.ArgumentParser(
        prog="vrun",
        description="Run a project's sessions, each in its own hashed virtual environment under .venvs/.",
        epilog=f"subcommands: {', '.join(BUILTIN_COMMANDS)} (`vrun SUBCOMMAND -h`). "
        "Arguments after `--` are the posargs.",
    )
    top.add_argument(
        "sessions",
        nargs="*",
        metavar="SESSION",
        help="sessions to run (default: `default`, or all), or one SCRIPT.py with a PEP 723 block",
    )
    top.add_argument("--version", action="version", version=f"vrun {__version__}")
    top.add_argument("-k", "--keyword", metavar="EXPR", help="only sessions matching EXPR (pytest -k syntax)")
    top.add_argument(
        "-t", "--tag", action="append", default=[], metavar="TAG", help="only sessions tagged TAG"
    )
    top.add_argument(
        "-p",
        "--parallel",
        metavar="N|auto",
        type=_jobs,
        default=0,
        help="run up to N sessions at once (`auto` or no N: one per CPU); each session's output is "
        "printed whole when it ends",
    )
    top.add_argument(
        "-x", "--fail-fast", action="store_true", help="after the first failed session, start no other"
    )
    top.add_argument(
        "--install-only", action="store_true", help="build or update the selected envs; run no command"
    )
    top.add_argument("--report", metavar="FILE", type=Path, help="write a JSON report of the run to FILE")
    top.add_argument("--junitxml", metavar="FILE", type=Path, help="write JUnit XML of the run to FILE")
    top.add_argument("--parallel-child", metavar="PLAN", help=argparse.SUPPRESS)
    _common(top)
    _build_flags(top)
    parsers: dict[str, argparse.ArgumentParser] = {"": top}

    p = parsers["list"] = argparse.ArgumentParser(
        prog="vrun list", description="List sessions, or envs on disk."
    )
    p.add_argument("--envs", action="store_true", help="list every env under .venvs/ instead (lsvirtualenv)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)

    for name, desc in (
        ("shell", "Open an interactive shell with the session's env activated."),
        ("activate", 'Print shell code that activates the session\'s env: eval "$(vrun activate test)".'),
    ):
        p = parsers[name] = argparse.ArgumentParser(prog=f"vrun {name}", description=desc)
        p.add_argument("session", metavar="SESSION")
        p.add_argument(
            "--shell", metavar="NAME", help="bash, zsh, fish, sh, dash, csh or tcsh (default: detected)"
        )
        _common(p)
        _one_session(p)

    p = parsers["run"] = argparse.ArgumentParser(
        prog="vrun run", description="Run any command in a session's env: vrun run SESSION -- CMD [ARGS...]"
    )
    p.add_argument("session", metavar="SESSION")
    _common(p)
    _one_session(p)

    p = parsers["path"] = argparse.ArgumentParser(
        prog="vrun path", description="Print the session's env path."
    )
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--build", action="store_true", help="build the env first if it is not ready")
    p.add_argument(
        "--locked", action="store_true", help="with --build: refuse unless the session's lock file is current"
    )
    _common(p)
    p.set_defaults(**_BUILD_DEFAULTS, **_LOOP_DEFAULTS)  # --build builds as `vrun run` does, flags aside

    p = parsers["rm"] = argparse.ArgumentParser(prog="vrun rm", description="Remove the sessions' envs.")
    p.add_argument("sessions", nargs="+", metavar="SESSION")
    _common(p)

    p = parsers["gc"] = argparse.ArgumentParser(
        prog="vrun gc", description="Remove envs that no longer match the config."
    )
    p.add_argument("--keep", type=int, default=1, metavar="N", help="stale envs kept per session (default 1)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    _common(p)

    p = parsers["freeze"] = argparse.ArgumentParser(
        prog="vrun freeze", description="Print the env's distributions as pinned requirements."
    )
    p.add_argument("session", metavar="SESSION")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    _common(p)

    for name, desc in (
        (
            "explain",
            "Show every input of each session's env key, and whether its next run reuses the env or "
            "builds one, and why. Builds nothing.",
        ),
        (
            "show",
            "Show each session as vrun would run it: its Python, env, what it installs, its commands "
            "with placeholders expanded (posargs after --), the variables it sets and passes.",
        ),
    ):
        p = parsers[name] = argparse.ArgumentParser(prog=f"vrun {name}", description=desc)
        p.add_argument("sessions", nargs="+", metavar="SESSION", help="full or matrix base names")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        _common(p)
    p = parsers["lock"] = argparse.ArgumentParser(
        prog="vrun lock",
        description="Resolve the sessions' requirements and write a PEP 751 lock file per session, "
        "pylock.<session>.toml, next to the config. Without SESSIONs: what a bare `vrun` runs, plus every "
        "session already locked.",
    )
    p.add_argument("sessions", nargs="*", metavar="SESSION")
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any lock file is missing or stale"
    )
    p.add_argument(
        "-U", "--upgrade", action="store_true", help="let every package move to its newest version"
    )
    p.add_argument(
        "-P",
        "--upgrade-package",
        action="append",
        default=[],
        metavar="NAME",
        help="let this package move to its newest version (repeat for more)",
    )
    _common(p)

    p = parsers["init"] = argparse.ArgumentParser(
        prog="vrun init",
        description="Write a vrun.toml for the project here, translated from tox.ini, tox.toml, [tool.tox] "
        "or noxfile.py, or guessed from its files. Never overwrites a config.",
    )
    _common(p)

    p = parsers["completion"] = argparse.ArgumentParser(
        prog="vrun completion",
        description="Print a shell completion script: source <(vrun completion bash)",
    )
    p.add_argument("shell", nargs="?", choices=("bash", "zsh", "fish"), help="the shell to complete in")
    p.add_argument("--list-sessions", action="store_true", help=argparse.SUPPRESS)
    _common(p)
    return parsers


_VALUE_OPTIONS = frozenset(
    {"--color", "-f", "--config", "--backend", "-k", "--keyword", "-t", "--tag", "-p", "--parallel"}
    | {"--download-python"}
    | {"--report", "--junitxml", "--parallel-child"}
)


def hoist_subcommand(argv: list[str], parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    """Let options come before the subcommand, git-style: ``vrun -q run test`` = ``vrun run -q test``."""
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        i += 2 if argv[i] in _VALUE_OPTIONS else 1
    if 0 < i < len(argv) and argv[i] in BUILTIN_COMMANDS:
        return [argv[i], *argv[:i], *argv[i + 1 :]]
    return argv
