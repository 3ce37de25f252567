"""What a session's command runs with: its environment and its final argv. Light on purpose.

:func:`compose` is the one composition of a session's commands with their environment: the
session loop (:mod:`vrun.run.loop`), ``vrun run``, ``vrun show`` and the report of commands that
did not run all take theirs from it, and ``vrun shell`` its set_env, so there is one rule for
each placeholder, variable, directory and command line. Commands run with the env's ``bin/``
first on ``PATH`` and nothing activated (docs/architecture.md, "Running commands"); the policies about
variables are :mod:`vrun.environ`'s. Placeholders follow the one grammar of
:mod:`vrun.placeholders`; :class:`Values` gives them their values. Imports nothing heavier than
``os`` at import time; ``shlex`` only to split a default.
"""

from __future__ import annotations

import os

from vrun import environ as env_policy
from vrun import output
from vrun.env import layout
from vrun.errors import UsageError, VrunError
from vrun.output import join
from vrun.placeholders import Expander, UnsetVariable, missing
from vrun.process import resolve_program

#: ``typing`` is not imported (benchmarks/README.md, "Import costs"): annotations are strings
#: here, so it is needed only by type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from vrun._types import PlannedCommand, SessionPlan


class Values:
    """What one session's placeholders stand for in one run (:mod:`vrun.placeholders` has the grammar).

    ``{env_dir}``, ``{project_root}`` and ``{session}`` are given; ``{env_site_packages_dir}`` is
    found in the env's tree when first used (:func:`vrun.env.layout.site_packages`), and
    ``{env_tmp_dir}`` is ``.venvs/.tmp/<env name>`` (:func:`vrun.env.layout.tmp_path`: outside the
    env's prefix), made ready with its parents when first used as ``tmp`` says: :func:`compose`
    expands every command and set_env value before the first command runs.

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

    @classmethod
    def of(
        cls,
        session_plan: SessionPlan,
        *,
        caller: Mapping[str, str],
        project_root: str,
        tmp: str = "fresh",
    ) -> Values:
        """The values of ``session_plan``'s placeholders; a session without an env (no interpreter
        was found: nothing will run, it is only shown) leaves ``{env_dir}`` as written."""
        return cls(
            env_dir=session_plan["env_dir"] or "{env_dir}",
            project_root=project_root,
            session=session_plan["name"],
            caller=caller,
            tmp=tmp,
        )

    def __call__(self, name: str) -> str:
        """The value of placeholder ``name`` (not ``posargs`` nor ``env``).

        :raises VrunError: the temp dir cannot be made, the env has no site-packages.
        """
        if name == "env_tmp_dir":
            if self._ready:
                return layout.tmp_path(self.env_dir)
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

    :param strict: an unset ``{env:VAR}`` without a default is an error, and so is a value that
        cannot be expanded; else (showing, not running) each is left as written.
    :raises UsageError: ``strict`` and a value needs an unset variable (naming ``env.NAME``).
    :raises VrunError: ``strict`` and ``{env_tmp_dir}`` cannot be made, or the env has no
        site-packages.
    """
    expand = Expander(values, values.caller.get, join=join, strict=strict)
    out = []
    for key, raw in set_env:
        try:
            out.append((key, expand.text(raw)))
        except UnsetVariable as exc:
            raise _unset(values.session, f"env.{key}", exc) from None
        except VrunError:
            if strict:
                raise
            out.append((key, raw))  # {env_site_packages_dir} of an env not built yet
    return out


def command_environ(
    *, pass_env: Sequence[str], set_env: Iterable[Sequence[str]], values: Values, strict: bool = True
) -> dict[str, str]:
    """The environment a session's commands run in (:func:`vrun.environ.command_environ` has the
    policy), with set_env's placeholders expanded first (:func:`set_env_values`).

    :raises UsageError: see :func:`set_env_values`.
    """
    expanded = set_env_values(set_env, values, strict=strict)
    return env_policy.command_environ(
        values.caller,
        env_dir=values.env_dir,
        project_root=values.project_root,
        pass_env=pass_env,
        set_env=expanded,
    )


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
        texts = {
            f"{phase}[{i}]": " ".join(c[0])
            for phase, planned in phases(session_plan)
            for i, c in enumerate(planned)
        }
        found = missing(texts, lambda v: "" if v in names else caller.get(v), posargs)
    return None if found is None else _unset(session_plan["name"], *found)


#: The keys of a session's commands, in the order they run (tox 4's ``commands_pre``,
#: ``commands``, ``commands_post``): :func:`vrun.run.loop.run_commands` has the rule between them.
PHASES = ("commands_pre", "commands", "commands_post")


def phases(session_plan: SessionPlan) -> list[tuple[str, list[PlannedCommand]]]:
    """``session_plan``'s planned commands by key, in :data:`PHASES` order."""
    return [
        ("commands_pre", session_plan["commands_pre"]),
        ("commands", session_plan["commands"]),
        ("commands_post", session_plan["commands_post"]),
    ]


class Command:
    """One command of a session, composed (:func:`compose`).

    :ivar argv: its arguments, placeholders expanded; the program is looked up only when it is
        about to run (:meth:`Composed.resolve`: an earlier command may install it).
    :ivar shell: the command is one line for ``/bin/sh -c`` (``argv`` has one item).
    :ivar line: the command as vrun shows it: :func:`vrun.output.join` of ``argv``, a shell
        command as it is.
    :ivar phase: the key it comes from, one of :data:`PHASES`.
    """

    __slots__ = ("argv", "line", "phase", "shell")

    def __init__(self, argv: list[str], shell: bool, phase: str = "commands") -> None:
        self.argv = argv
        self.shell = shell
        self.phase = phase
        self.line = argv[0] if shell else join(argv)


class Composed:
    """A session's commands with everything they run with; :func:`compose` makes it.

    :ivar commands: the :class:`Command` s, in the order they run: ``commands_pre``, ``commands``,
        ``commands_post`` (each knows its :attr:`~Command.phase`).
    :ivar environ: the environment each of them gets (:func:`vrun.environ.command_environ`).
    :ivar set_env: the session's set_env, placeholders expanded (name -> value).
    :ivar cwd: the directory they run in.
    :ivar timeout: the seconds they may take together (the session's ``timeout``), or ``None``.
    :ivar env_dir: the session's env.
    :ivar external: the programs the session lets run from outside its env (``external``).
    """

    __slots__ = ("commands", "cwd", "env_dir", "environ", "external", "set_env", "timeout")

    def __init__(
        self,
        commands: list[Command],
        *,
        environ: dict[str, str],
        set_env: dict[str, str],
        cwd: str,
        timeout: float | None,
        env_dir: str,
        external: Sequence[str],
    ) -> None:
        self.commands = commands
        self.environ = environ
        self.set_env = set_env
        self.cwd = cwd
        self.timeout = timeout
        self.env_dir = env_dir
        self.external = external

    def echo(self, command: Command) -> None:
        """Log ``command`` as vrun shows a command about to run: its line at
        :data:`vrun.output.COMMAND`, with ``(in CWD)`` when it runs elsewhere than vrun's cwd."""
        elsewhere = self.cwd != os.getcwd()
        output.log(output.COMMAND, command.line + (f"  (in {self.cwd})" if elsewhere else ""))

    def resolve(self, command: Command) -> tuple[list[str], str | None]:
        """``command``'s argv with its program found in the env's ``bin/``, then on ``PATH``
        (:func:`vrun.process.resolve_program` has the rule), and the note to log, or ``None``; a
        shell command as it is (``/bin/sh`` finds its programs).

        :raises CommandNotFoundError: not found, another Python's script (127), not executable (126).
        """
        if command.shell:
            return command.argv, None
        return resolve_program(
            command.argv, self.environ, cwd=self.cwd, env_dir=self.env_dir, external=self.external
        )


def compose(
    session_plan: SessionPlan,
    posargs: Sequence[str] | None,
    *,
    caller: Mapping[str, str],
    project_root: str,
    tmp: str = "fresh",
    strict: bool = True,
    command: Sequence[str] | None = None,
) -> Composed:
    """Compose ``session_plan``'s commands (``commands_pre``, ``commands``, ``commands_post``, in
    that order) with their environment: the one place that does it.

    The environment: :func:`vrun.environ.command_environ` from the caller's, set_env expanded once
    (:func:`set_env_values`). Each command expanded with ``posargs`` (:func:`expand_argv`,
    ``{env:VAR}`` reading that environment first); they run in the session's ``cwd``, within its
    ``timeout``.

    :param caller: the environment vrun was started in.
    :param tmp: what ``{env_tmp_dir}`` does (:class:`Values`): ``"fresh"`` before a run of the
        session's commands, ``"keep"`` for ``vrun run``, ``"path"`` to show them.
    :param strict: ``False`` to show commands, not run them: an unset ``{env:VAR}`` stays as
        written, and a value or command that cannot be expanded (``{env_site_packages_dir}`` of an
        env not built yet) is shown as written.
    :param command: ``vrun run``'s command instead of the session's: taken as given (the user's
        shell expanded it), run in the current directory, within the session's ``timeout``.
    :raises UsageError: ``strict``, and a value or command needs an unset variable, or a
        variable's value standing alone as an argument has unbalanced quotes.
    :raises VrunError: ``strict``, and ``{env_tmp_dir}`` cannot be made or the env has no
        site-packages.
    """
    values = Values.of(session_plan, caller=caller, project_root=project_root, tmp=tmp)
    set_env = set_env_values(session_plan["set_env"], values, strict=strict)
    environ = env_policy.command_environ(
        caller,
        env_dir=values.env_dir,
        project_root=project_root,
        pass_env=session_plan["pass_env"],
        set_env=set_env,
    )
    if command is not None:
        commands, cwd = [Command(list(command), False)], os.getcwd()
    else:
        commands, cwd = [], session_plan["cwd"]
        for phase, planned in phases(session_plan):
            for template, shell, _source in planned:
                try:
                    argv = expand_argv(
                        template, posargs, shell=shell, values=values, environ=environ, strict=strict
                    )
                except VrunError:
                    if strict:
                        raise
                    argv = list(template)
                commands.append(Command(argv, shell, phase))
    return Composed(
        commands,
        environ=environ,
        set_env=dict(set_env),
        cwd=cwd,
        timeout=session_plan["timeout"],
        env_dir=values.env_dir,
        external=session_plan["external"],
    )


def preview_argvs(
    session_plan: SessionPlan,
    project_root: str,
    posargs: Sequence[str] | None,
    caller: Mapping[str, str],
) -> list[list[str]]:
    """The argvs of ``session_plan``'s commands as :func:`compose` shows them without touching the
    env (``{env_tmp_dir}`` only named, an unset ``{env:VAR}`` left as written): what a report
    shows for commands that did not run. A command that cannot be expanded is shown as written."""
    shown = compose(session_plan, posargs, caller=caller, project_root=project_root, tmp="path", strict=False)
    return [command.argv for command in shown.commands]
