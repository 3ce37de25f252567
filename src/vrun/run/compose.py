"""What a session's command runs with: its environment and its final argv. Light on purpose.

The session loop (:mod:`vrun.run.loop`), ``vrun run`` and ``vrun shell`` build every command's
environment here, and every argv is expanded here, so there is one rule for each. Commands run
with the env's ``bin/`` first on ``PATH`` and nothing activated (docs/architecture.md, "Running commands").
Placeholders follow the one grammar of :mod:`vrun.placeholders`; :class:`Values` gives them their
values. Imports nothing heavier than ``os`` at import time; ``shlex`` only to split a default.
"""

from __future__ import annotations

import os

from vrun.env import layout
from vrun.environ import ALWAYS_REMOVED, DEFAULT_PASS_ENV, NameFilter, clean_path, passes_pythonpath
from vrun.errors import UsageError, VrunError
from vrun.output import join
from vrun.placeholders import Expander, UnsetVariable, missing

#: ``typing`` is not imported (benchmarks/README.md, "Import costs"): annotations are strings
#: here, so it is needed only by type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from vrun._types import RunnableSessionPlan, SessionPlan


class Values:
    """What one session's placeholders stand for in one run (:mod:`vrun.placeholders` has the grammar).

    ``{env_dir}``, ``{project_root}`` and ``{session}`` are given; ``{env_site_packages_dir}`` is
    found in the env's tree when first used (:func:`vrun.env.layout.site_packages`), and
    ``{env_tmp_dir}`` is ``<env_dir>/tmp``, made ready when first used as ``tmp`` says.

    :param caller: the environment vrun was started in: ``{env:VAR}`` reads it.
    :param tmp: ``"fresh"``: ``{env_tmp_dir}`` is emptied (once) before it is used, as before each
        run of the session's commands; ``"keep"``: made to exist, contents kept (``vrun run``,
        ``vrun shell``); ``"path"``: only named, nothing on disk touched (showing commands).
    """

    __slots__ = ("_ready", "caller", "env_dir", "project_root", "session", "tmp")

    def __init__(
        self, *, env_dir: str, project_root: str, session: str, caller: Mapping[str, str], tmp: str = "fresh"
    ) -> None:
        self.env_dir = env_dir
        self.project_root = project_root
        self.session = session
        self.caller = caller
        self.tmp = tmp
        self._ready = tmp == "path"

    def __call__(self, name: str) -> str:
        """The value of placeholder ``name`` (not ``posargs`` nor ``env``).

        :raises VrunError: the temp dir cannot be made, the env has no site-packages.
        """
        if name == "env_tmp_dir":
            if self._ready:
                return os.path.join(self.env_dir, layout.TMP)
            self._ready = True
            return layout.tmp_dir(self.env_dir, empty=self.tmp == "fresh")
        if name == "env_site_packages_dir":
            return layout.site_packages(self.env_dir)
        return {"env_dir": self.env_dir, "project_root": self.project_root, "session": self.session}[name]


def _unset(session: str, where: str, exc: UnsetVariable) -> UsageError:
    """The error for ``{env:VAR}`` without a default when VAR is unset, naming where it stands."""
    var = exc.variable
    return UsageError(
        f"session {session}: {where} uses {exc.placeholder}, but {var} is not set",
        f"set {var}, or give a default: {{env:{var}:DEFAULT}} ({{env:{var}:}} for empty)",
    )


def set_env_values(
    set_env: Iterable[Sequence[str]], values: Values, *, strict: bool = True
) -> list[tuple[str, str]]:
    """set_env with its placeholders expanded; ``{env:VAR}`` reads the caller's environment.

    :raises UsageError: ``strict`` and a value needs an unset variable (naming ``env.NAME``).
    """
    expand = Expander(values, values.caller.get, join=join, strict=strict)
    out = []
    for key, raw in set_env:
        try:
            out.append((key, expand.text(raw)))
        except UnsetVariable as exc:
            raise _unset(values.session, f"env.{key}", exc) from None
    return out


def command_environ(
    *, pass_env: Sequence[str], set_env: Iterable[Sequence[str]], values: Values, strict: bool = True
) -> dict[str, str]:
    """The environment a session's commands run in.

    The caller's variables (``values.caller``) that match :data:`DEFAULT_PASS_ENV` or ``pass_env``
    get through; ``PYTHONPATH`` only when ``pass_env`` names it (it would leak other code into the
    env); :data:`ALWAYS_REMOVED` never. A ``VIRTUAL_ENV`` that was active in the caller's shell (an
    inherited shell, a tmux pane) has its ``bin/`` taken off ``PATH``. Then ``VIRTUAL_ENV`` is
    set, the env's ``bin/`` goes first on ``PATH``, and set_env is applied last, its placeholders
    expanded (:func:`set_env_values`). A ``PATH`` in set_env is *inserted*: its directories come
    right after the env's ``bin/`` and before the caller's ``PATH`` (relative ones are taken from
    the project root), so the env always comes first.

    :raises UsageError: see :func:`set_env_values`.
    """
    caller, env_dir = values.caller, values.env_dir
    passes = NameFilter((*DEFAULT_PASS_ENV, *pass_env))
    env = {k: v for k, v in caller.items() if passes(k) and k not in ALWAYS_REMOVED}
    if "PYTHONPATH" in caller and passes_pythonpath(pass_env):
        env["PYTHONPATH"] = caller["PYTHONPATH"]
    else:
        env.pop("PYTHONPATH", None)
    stale = caller.get("VIRTUAL_ENV")
    drop = [os.path.join(stale, "bin")] if stale else []
    bin_dir = os.path.join(env_dir, "bin")
    rest = clean_path(caller.get("PATH", os.defpath), [*drop, bin_dir])
    env["PATH"] = os.pathsep.join(filter(None, [bin_dir, rest]))
    env["VIRTUAL_ENV"] = env_dir
    for key, value in set_env_values(set_env, values, strict=strict):
        if key == "PATH":
            extra = [os.path.join(values.project_root, d) for d in value.split(os.pathsep) if d]
            env["PATH"] = os.pathsep.join(filter(None, [bin_dir, *extra, rest]))
        else:
            env[key] = value
    return env


def expand_argv(
    argv: Sequence[str],
    posargs: Sequence[str] | None,
    *,
    shell: bool,
    values: Values,
    environ: Mapping[str, str],
    strict: bool = True,
) -> list[str]:
    """Expand the placeholders of one command, giving its final argv (docs/config.md, "Placeholders").

    An argument that is exactly ``{posargs}``, ``{posargs:DEFAULT}`` or ``{env:...}`` becomes zero
    or more arguments (:meth:`vrun.placeholders.Expander.words`): the posargs as given
    (``posargs is None``: no ``--``, so DEFAULT is used, split with :func:`shlex.split`; ``vrun
    test --`` gives an empty list), a variable's value split that way. Inside a longer argument
    posargs are joined with :func:`shlex.join` (tox's rule) and values inserted as text. A shell
    command (a 1-tuple) is expanded as text, posargs quoted.

    :param environ: the command's environment (:func:`command_environ`): ``{env:VAR}`` reads it
        first, then ``values.caller``, so a variable the session's ``env`` sets has its value.
    :param strict: an unset ``{env:VAR}`` without a default is an error (else left as written).
    :raises UsageError: ``strict`` and an argument needs an unset variable; a variable's value,
        standing alone as an argument, with unbalanced quotes.
    :raises VrunError: ``{env_tmp_dir}`` cannot be made, or the env has no site-packages.
    """
    if not any("{" in arg for arg in argv):
        return list(argv)

    def variable(name: str) -> str | None:
        found = environ.get(name)
        return values.caller.get(name) if found is None else found

    expand = Expander(values, variable, posargs, join=join, strict=strict)
    try:
        if shell:
            return [expand.text(arg) for arg in argv]
        out: list[str] = []
        for arg in argv:
            try:
                out += expand.words(arg)
            except ValueError as exc:  # shlex: a variable's value with unbalanced quotes
                raise UsageError(
                    f"session {values.session}: cannot split the value of {arg} into words: {exc}",
                    "balance the quotes in the variable, or use it inside a longer argument",
                ) from None
        return out
    except UnsetVariable as exc:
        raise _unset(values.session, "a command", exc) from None


def unset_variable(
    session_plan: SessionPlan, posargs: Sequence[str] | None, caller: Mapping[str, str]
) -> UsageError | None:
    """The error for the first ``{env:VAR}`` without a default whose VAR is unset in ``session_plan``
    (its set_env values, then its commands with ``posargs``), or ``None``: checked before anything
    runs, so that a run does not build envs only to stop there.

    A command sees the variables its session's ``env`` sets, and ``PATH`` and ``VIRTUAL_ENV``.
    """
    found = missing({f"env.{k}": v for k, v in session_plan["set_env"]}, caller.get)
    if found is None:
        names = {k for k, _ in session_plan["set_env"]} | {"PATH", "VIRTUAL_ENV"}
        texts = {f"commands[{i}]": " ".join(c[0]) for i, c in enumerate(session_plan["commands"])}
        found = missing(texts, lambda v: "" if v in names else caller.get(v), posargs)
    return None if found is None else _unset(session_plan["name"], *found)


def preview_argvs(
    session_plan: RunnableSessionPlan,
    project_root: str,
    posargs: Sequence[str] | None,
    caller: Mapping[str, str],
) -> list[list[str]]:
    """The argvs of ``session_plan``'s commands, expanded as far as they can be without touching
    the env (``{env_tmp_dir}`` only named, an unset ``{env:VAR}`` left as written): what a report
    shows for commands that did not run. A command that cannot be expanded is shown as written."""
    values = Values(
        env_dir=session_plan["env_dir"],
        project_root=project_root,
        session=session_plan["name"],
        caller=caller,
        tmp="path",
    )
    out = []
    for template, shell, _source in session_plan["commands"]:
        try:
            out.append(expand_argv(template, posargs, shell=shell, values=values, environ={}, strict=False))
        except VrunError:  # an env without site-packages
            out.append(list(template))
    return out
