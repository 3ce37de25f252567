"""The shapes of the values that travel between vrun's packages: the plan, the session plan and
their parts, an env's marker, and the session result with the report made of it. Type checkers
only: every import of this module sits under ``TYPE_CHECKING``, so it costs a run nothing and the
values stay plain dicts, lists and tuples (the plan cache stores them with :mod:`marshal`).
docs/architecture.md, "The plan", describes the flow.

The plan cache's contract is these types: :mod:`vrun.plan.planner` builds a :class:`Plan` whose
sessions are :data:`SessionPlan` values, and the session loop (:mod:`vrun.run.loop`), the
builders (:mod:`vrun.env.build`) and the commands read only the keys declared here, so a key set
in planning is a key the loop reads, whether the plan was made just now or stored by an earlier run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict, Union

if TYPE_CHECKING:
    from vrun.inputs import Signature


class InterpreterFacts(TypedDict):
    """What planning learnt about a session's interpreter (:class:`vrun.plan.interpreters.Interpreter`
    as plain values): its executable, the real path of its base executable, ``"CPython"``/``"PyPy"``,
    the full version (``"3.12.1"``) and its parts, the pointer size in bits and the ISA."""

    executable: str
    base_executable: str
    implementation: str
    version: str
    version_info: list[int]
    architecture: int
    machine: str


# ---------------------------------------------------------------- the env key


class KeyGroups(TypedDict):
    """The ``groups`` component of an env key: the PEP 735 dependency groups the session names and
    their resolved requirements (whitespace-normalized, sorted)."""

    names: list[str]
    requirements: list[str]


#: The ``installer`` entries whose keys are not identifiers: ``tool.uv``, the digest of the
#: project's ``[tool.uv]`` table, only for the uv backend and only when the table exists.
InstallerTables = TypedDict("InstallerTables", {"tool.uv": str}, total=False)


class InstallerSettings(InstallerTables):
    """The ``installer`` component of an env key (:func:`vrun.plan.envkey.installer_settings`): the
    installer variables that are set (name -> value) and the installer's config files that exist
    (path -> 16 hex characters of their SHA-256)."""

    variables: dict[str, str]
    files: dict[str, str]


#: The ``script`` component of an env key (:meth:`vrun.config.script.ScriptMetadata.component`): what
#: a PEP 723 block says besides its dependencies (they are in ``requirements``): its
#: ``requires-python`` and the digest of its ``[tool]`` table, ``None`` where it has none.
ScriptComponent = TypedDict("ScriptComponent", {"requires-python": "str | None", "tool": "str | None"})


class _KeyExtras(TypedDict, total=False):
    """The components an env key has only when they apply, so that the keys of envs without them
    stay as they were: ``build_env`` (the session's build variables, when it sets any), ``lock``
    (the lock file's name -> digest of its contents, when the session installs from a current one)
    and ``script`` (a script session's PEP 723 block)."""

    build_env: dict[str, str]
    lock: dict[str, str]
    script: ScriptComponent


class KeyComponents(_KeyExtras):
    """The named inputs of an env key (:attr:`vrun.plan.envkey.EnvKey.components`), JSON-serializable,
    as stored in the env's marker; the module docstring of :mod:`vrun.plan.envkey` says what each is.

    ``requirement_files``, ``constraint_files``: display path -> content digest (``"missing"``);
    ``project``: ``mode`` (``install_project``) and display path -> digest of each metadata input;
    ``local``: each local project's display path -> its own such table (``{"file": digest}`` for a
    wheel or sdist). A marker written by another vrun version may hold other components:
    :mod:`vrun.env.rebuild` walks them generically.
    """

    schema: int
    python: str
    requirements: list[str]
    requirement_files: dict[str, str]
    constraint_files: dict[str, str]
    groups: KeyGroups
    extras: list[str]
    project: dict[str, str | None]
    local: dict[str, dict[str, str]]
    installer: InstallerSettings
    system_site_packages: bool
    backend: str


class KeyDifference(TypedDict):
    """One difference between two sets of key components, leaf by leaf
    (:func:`vrun.env.rebuild.differences`, what ``vrun explain`` lists).

    :param component: the component's name in the key; :param path: the keys below it.
    :param change: ``"added"``, ``"removed"`` or ``"changed"``.
    :param before: the old value, ``None`` where it was absent; :param after: the new one.
    :param text: the difference in one line (:func:`vrun.env.rebuild.describe`).
    """

    component: str
    path: list[str]
    change: Literal["added", "removed", "changed"]
    before: object
    after: object
    text: str


class Marker(TypedDict):
    """An env's marker, ``vrun.json`` (:func:`vrun.env.build.write_marker` writes it last;
    :func:`vrun.env.layout.read_marker` reads it back, checking each field's type): the layout's
    :data:`~vrun.env.layout.SCHEMA_VERSION`, the session, the key's digest and components, the
    env's absolute location, the interpreter, the backend that built it, vrun's version and the
    build time (seconds since the epoch)."""

    schema: int
    session: str
    digest: str
    location: str
    components: KeyComponents
    interpreter: InterpreterFacts
    backend: str
    vrun: str
    created: float


# ---------------------------------------------------------------- lock files

#: ``project`` of :class:`ResolutionInputs` (:func:`vrun.plan.lockfile._project_dependencies`): empty
#: without ``install_project``; ``metadata`` (the env key's ``project`` table without ``mode``) when
#: the project's dependencies are dynamic; else its static ``dependencies`` and the
#: ``optional-dependencies`` of the session's extras.
ProjectDependencies = TypedDict(
    "ProjectDependencies",
    {
        "metadata": "dict[str, str | None]",
        "dependencies": "list[str]",
        "optional-dependencies": "dict[str, list[str]]",
    },
    total=False,
)

#: What decides a session's resolution, as its lock file's ``[tool.vrun.inputs]`` records it
#: (:func:`vrun.plan.lockfile.resolution_inputs`); the keys are TOML's, hence the functional form.
ResolutionInputs = TypedDict(
    "ResolutionInputs",
    {
        "schema": int,
        "python": str,
        "requirements": "list[str]",
        "requirement-files": "dict[str, str]",
        "constraint-files": "dict[str, str]",
        "groups": "list[str]",
        "group-requirements": "list[str]",
        "extras": "list[str]",
        "project": "ProjectDependencies",
        "local": "dict[str, dict[str, str]]",
    },
)


#: How a session's lock file stands (:class:`LockState`'s ``status``).
LockStatus = Literal["current", "missing", "stale", "foreign", "invalid"]


class LockState(TypedDict):
    """Whether a session's lock file is current (:func:`vrun.plan.lockfile.lock_state`).

    :param path: the lock file's absolute path; :param file: its name.
    :param status: ``current``, ``missing``, ``stale``, ``foreign`` (a PEP 751 file not written by
        ``vrun lock``) or ``invalid`` (unreadable, another ``lock-version``).
    :param problem: ``None`` when current, else one phrase naming the file and what differs.
    :param inputs: the resolution inputs now; :param digest: their digest.
    """

    path: str
    file: str
    status: LockStatus
    problem: str | None
    inputs: ResolutionInputs
    digest: str


#: How a project's ``uv.lock`` stands for a session (:class:`UvLockState`'s ``status``): ``current``,
#: ``stale`` (uv says it no longer matches ``pyproject.toml``) or ``invalid`` (uv cannot use it).
UvLockStatus = Literal["current", "stale", "invalid"]


class UvLockAnswer(TypedDict):
    """What ``uv export --locked`` answered for a session, as :mod:`vrun.plan.uvlock` memoizes it: the
    memo's ``schema``, the ``status``, the ``problem`` (``None`` when current) and the ``pins`` as uv
    printed them (requirement lines; ``[]`` unless current)."""

    schema: int
    status: UvLockStatus
    problem: str | None
    pins: list[str]


class UvLockState(TypedDict):
    """Whether a session installs from the project's ``uv.lock`` (:func:`vrun.plan.uvlock.uv_lock_state`).

    :param path: the lock's absolute path; :param file: ``uv.lock``.
    :param status: see :data:`UvLockStatus`; :param problem: ``None`` when current, else one phrase.
    :param pins: the session's pins (requirement lines with markers, local paths absolute), ``[]``
        unless current; :param command: the ``uv export`` command that gives them (for ``explain``).
    """

    path: str
    file: str
    status: UvLockStatus
    problem: str | None
    pins: list[str]
    command: list[str]


# ---------------------------------------------------------------- the plan


class InstallSpec(TypedDict):
    """What a session installs, as plain values (:func:`vrun.plan.planner.install_spec`; the builder
    makes an :class:`vrun.env.installplan.InstallPlan` of it).

    :param requirements: its PEP 508 requirements and local paths, then its dependency groups'.
    :param requirement_files: ``-r`` files; :param constraint_files: ``-c`` files (absolute).
    :param project: the project root when the project is installed, else ``None``.
    :param project_name: the project's PEP 503 name (from ``[project].name``), or ``None``.
    :param mode: ``install_project``: ``"editable"``, ``"wheel"``, ``"sdist"`` or ``None``.
    :param extras: the project's extras to install.
    :param names: the PEP 503 names that must land in the env (checked after installing).
    :param lock: the current lock file to install from instead of resolving, or ``None``.
    :param source: for ``"wheel"`` and ``"sdist"``, the digest of the project's source
        (:func:`vrun.plan.source.source_digest`): the env holds the project built from it when its
        stamp says so (:func:`vrun.env.layout.project_stamp`); else ``None``.
    :param source_files: the paths that digest recorded (files and folders, absolute): inputs of
        the plan, not of the env key, so a build does not check them (they change the project's
        build, which the stamp follows, not the env).
    :param pins: with a ``uv.lock`` for ``lock``: the requirement lines it pins for the session,
        installed exactly; the requirements and files then go on top, constrained by them. ``None``
        for a PEP 751 ``lock`` (read as it is, and covering the requirements) or no lock.
    """

    requirements: list[str]
    requirement_files: list[str]
    constraint_files: list[str]
    project: str | None
    project_name: str | None
    mode: str | None
    extras: list[str]
    names: list[str]
    lock: str | None
    source: str | None
    source_files: list[str]
    pins: list[str] | None


#: One command of a session plan: its argv template (placeholders unexpanded), whether it runs
#: through the shell (then the argv is one string), and its source line as the config wrote it.
PlannedCommand = tuple[list[str], bool, str]


class SessionPlanBase(TypedDict):
    """What every session of a :class:`Plan` has (:func:`vrun.plan.planner.plan_session`), runnable or
    not: the config's :class:`vrun.config.load.Session` flattened into plain values, so the session
    loop never needs the config. :data:`SessionPlan` is the type of a planned session.

    :param name: the full session name (``"test-3.11"``).
    :param description: its description (``""`` for none); :param python: its interpreter spec,
        ``None`` for the interpreter running vrun.
    :param error_hint: how to fix ``error``, or ``None``.
    :param missing_interpreter: ``error`` is a missing interpreter (``--skip-missing-interpreters``
        skips the session).
    :param backend: the backend that builds the env (``auto`` resolved once there is an interpreter).
    :param system_site_packages: the env sees the interpreter's site-packages.
    :param commands: its commands in order (:data:`PlannedCommand`); :param commands_pre: those run
        before them (a failure skips ``commands``); :param commands_post: those run after them, even
        when one failed.
    :param set_env: ``[name, value]`` pairs its ``env_file`` files and then its ``env`` set
        (placeholders unexpanded), in order.
    :param build_env: the variables its install's builds see; :param pass_env: the name patterns it
        lets through from the caller; :param cwd: the absolute directory its commands run in.
    :param requires: the sessions that must pass before it starts (names in the plan).
    :param posargs: a command takes ``{posargs}``; :param explicit: the user named it (it gets them).
    :param named: the command line named it by its full name (``vrun test-3.12``; not ``vrun
        test``, a bare ``vrun``, ``-k`` or ``-t``); :param matrix: it is one entry of a ``python``
        list (with ``named``, whether a missing interpreter skips it: :func:`vrun.run.rules.missing_skip`).
    :param notes: lines to log before it runs (a backend fallback, a stale lock file).
    :param warnings: lines to log as warnings before it runs (a stale ``uv.lock``).
    :param timeout: seconds all its commands may take, or ``None``.
    :param external: the programs outside the env its commands may run without a note.
    :param tags: its tags; :param parallel: it may run beside others under ``-p``.
    """

    name: str
    description: str
    python: str | None
    error_hint: str | None
    missing_interpreter: bool
    backend: str
    system_site_packages: bool
    commands_pre: list[PlannedCommand]
    commands: list[PlannedCommand]
    commands_post: list[PlannedCommand]
    set_env: list[list[str]]
    build_env: dict[str, str]
    pass_env: list[str]
    cwd: str
    requires: list[str]
    posargs: bool
    explicit: bool
    named: bool
    matrix: bool
    notes: list[str]
    warnings: list[str]
    timeout: float | None
    external: list[str]
    tags: list[str]
    parallel: bool


class RunnableSessionPlan(SessionPlanBase):
    """A planned session with an interpreter and an env key: what the loop builds an env for and runs.

    :param error: ``None``; :param error_reason: ``None``.
    :param interpreter: the interpreter found.
    :param env_dir: the env's directory; ``digest`` and ``components``: its key.
    :param marker: the signature of the env's marker when the env was ready (the loop reuses the env
        while the marker keeps it; it stores a new one after building), else ``None``.
    :param install: what to install; :param lock: its lock file's state.
    :param uv_lock: the state of the project's ``uv.lock`` when the session would install from it,
        else ``None``.
    """

    error: None
    error_reason: None
    interpreter: InterpreterFacts
    env_dir: str
    digest: str
    components: KeyComponents
    marker: Signature
    install: InstallSpec
    lock: LockState
    uv_lock: UvLockState | None


class UnrunnableSessionPlan(SessionPlanBase):
    """A planned session that cannot run: no interpreter found, or a backend that cannot serve it.
    The loop reports it as that session's failure (or skips it); it has no env.

    :param error: why (an ``error:`` line), with ``error_hint``; :param error_reason: the short
        reason its result gives.
    """

    error: str
    error_reason: str
    interpreter: None
    env_dir: None
    digest: None
    components: None
    marker: None
    install: None
    lock: None
    uv_lock: None


#: A planned session, runnable or not (``session_plan["error"] is None`` tells which, and narrows it).
SessionPlan = Union[RunnableSessionPlan, UnrunnableSessionPlan]


class _PlanAfterPlanning(TypedDict, total=False):
    """The keys a plan gets after planning: ``environ`` (each variable planning read -> its value,
    ``None`` when unset) and ``started_ns`` (when recording began, :func:`time.time_ns`), set by
    ``vrun [NAME...]`` once its inputs are recorded, for :mod:`vrun.plan.cache`; ``changed``, set by
    the session loop when it built an env (the plan is worth storing again); ``key``, the
    invocation's cache key, which :func:`vrun.plan.cache.store` writes into a stored plan."""

    environ: dict[str, str | None]
    started_ns: int
    changed: bool
    key: str


class Plan(_PlanAfterPlanning):
    """The plan of a run (:func:`vrun.plan.planner.make_plan`): what the session loop
    (:func:`vrun.run.loop.run_plan`) runs, and what :mod:`vrun.plan.cache` stores.

    :param schema: :data:`vrun.plan.cache.PLAN_SCHEMA`.
    :param root: the project root; :param config: the config file's path.
    :param notices: lines to show before running (e.g. two configs found).
    :param sessions: the sessions in run order.
    :param inputs: each file planning read -> its signature as read (``None``: looked for, absent);
        empty until ``vrun [NAME...]`` fills it in.
    """

    schema: int
    root: str
    config: str
    notices: list[str]
    sessions: list[SessionPlan]
    inputs: dict[str, Signature]


# ---------------------------------------------------------------- results and the report


class PythonRecord(TypedDict):
    """The session's interpreter.

    :param spec: the session's ``python`` value (``"3.11"``), or None when it names none.
    :param version: the interpreter's full version (``"3.11.7"``), or None when no
        interpreter was found.
    :param executable: its path, or None when none was found.
    """

    spec: str | None
    version: str | None
    executable: str | None


class CommandRecord(TypedDict):
    """One command of a session, in order.

    :param argv: the command as run (after placeholder substitution).
    :param exit_code: its exit status; 128+N when killed by signal N; None when it was not
        run (an earlier command failed, or ``--install-only``).
    :param duration: wall-clock seconds (0.0 when not run).
    :param output_tail: the last lines of its output when vrun captured them, else None
        (vrun normally does not capture command output; see docs/cli.md).
    """

    argv: list[str]
    exit_code: int | None
    duration: float
    output_tail: str | None


class SessionResult(TypedDict):
    """What the session loop reports about one session (:func:`vrun.run.rules.new_result` makes it;
    the JSON report's ``sessions`` entries and the JUnit test cases are made of it).

    :param name: the full session name (``"test-3.11"``).
    :param python: see :class:`PythonRecord`.
    :param env_dir: the env's directory, or None when no env was found or built.
    :param env_key: the env's hash (the suffix of its directory name,
        ``"1a2b3c4d5e"``), or None when it could not be computed (no interpreter).
    :param status: ``"passed"``, ``"failed"`` or ``"skipped"``.
    :param reason: why it failed or was skipped; ``""`` when it passed.
    :param exit_code: the failing command's own exit status, vrun's own error status
        when no command failed (an install error: 1), or 0.
    :param duration: wall-clock seconds, env build included.
    :param commands: every command of the session, run or not.
    """

    name: str
    python: PythonRecord
    env_dir: str | None
    env_key: str | None
    status: Literal["passed", "failed", "skipped"]
    reason: str
    exit_code: int
    duration: float
    commands: list[CommandRecord]


class PlatformRecord(TypedDict):
    """The machine vrun ran on (from :mod:`platform`)."""

    python_version: str
    python_implementation: str
    system: str
    machine: str


class Totals(TypedDict):
    """How many sessions ended each way."""

    passed: int
    failed: int
    skipped: int


class Report(TypedDict):
    """The JSON report; see ``docs/report.schema.json`` and :func:`vrun.report.results.json_report`."""

    report_version: int
    vrun_version: str
    platform: PlatformRecord
    argv: list[str]
    exit_code: int
    started: str
    duration: float
    totals: Totals
    sessions: list[SessionResult]


# ---- TOML and JSON data -------------------------------------------------------------------------
# What vrun reads from TOML (vrun.toml, pyproject.toml, tox.toml, a lock) and JSON (its interpreter
# cache) files, and writes back. The section keeps its own imports, apart from the plan's types.

import datetime  # noqa: E402
from typing import Union  # noqa: E402

#: A value parsed from TOML (:mod:`tomllib`): the TOML 1.0 types string, integer, float, boolean,
#: offset or local date-time, local date, local time, array and table. Its shape is unknown until
#: checked (``isinstance``), which :mod:`vrun.config.keys` does for every key of vrun's config.
TomlValue = Union[
    str,
    int,
    float,
    bool,
    datetime.datetime,
    datetime.date,
    datetime.time,
    list["TomlValue"],
    dict[str, "TomlValue"],
]
#: A TOML table, a whole parsed document included: key -> value, in file order.
TomlTable = dict[str, TomlValue]
#: A value parsed from JSON (:mod:`json`): null, boolean, number, string, array or object.
JsonValue = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]
#: A JSON object: name -> value.
JsonObject = dict[str, JsonValue]


class FileIdentity(TypedDict):
    """What identifies an executable's file in the interpreter cache (:mod:`vrun.plan.interpreters`):
    ``st_mtime_ns`` and ``st_size`` (links followed) and its real path; an upgrade in place changes
    them."""

    mtime_ns: int
    size: int
    realpath: str


class CachedInterpreter(FileIdentity):
    """One ``facts`` entry of ``interpreters.json``: the executable's :class:`FileIdentity` when it
    was probed, and what was learnt about it."""

    interpreter: InterpreterFacts


class InterpreterCache(TypedDict):
    """``interpreters.json`` (:mod:`vrun.plan.interpreters`), its entries checked when read: the
    schema number, ``facts`` (executable path -> :class:`CachedInterpreter`) and ``specs`` (digest of
    a spec and what steers its discovery -> executable path, oldest first)."""

    schema: int
    facts: dict[str, CachedInterpreter]
    specs: dict[str, str]
