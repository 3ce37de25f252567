"""Machine-readable results of a run, and everything vrun says to a CI system.

Pure functions over *session records* (:class:`SessionRecord`, plain dicts the session loop
builds, one per session): a JSON report (:func:`json_report`, its schema
:data:`REPORT_SCHEMA`, also in ``docs/report.schema.json``), JUnit XML (:func:`junit_xml`),
GitHub Actions annotations and step summary (:func:`github_annotations`,
:func:`step_summary`), CI detection (:func:`ci_name`), and folding of the log into
collapsible groups on GitHub Actions and GitLab CI (:func:`fold_start`, :func:`fold_end`).

Standard library only, and light on purpose (like :mod:`vrun.execute`): nothing beyond ``os`` and
``time`` is imported at module level; ``json``, ``platform``, ``shlex``, ``re``
and ``xml.etree`` are imported by the functions that need them, so importing this module on a
warm run costs next to nothing. Only the writers touch the file system; nothing here reads
``os.environ`` itself (callers pass the environment in).
"""

from __future__ import annotations

import os
import time

#: ``typing`` costs ~10 ms to import; annotations are strings here, so it is needed only by
#: type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any, Literal, TypedDict

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

    class SessionRecord(TypedDict):
        """What the session loop reports about one session.

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
        """The JSON report; see :data:`REPORT_SCHEMA` and :func:`json_report`."""

        report_version: int
        vrun_version: str
        platform: PlatformRecord
        argv: list[str]
        exit_code: int
        started: str
        duration: float
        totals: Totals
        sessions: list[SessionRecord]


#: Bumped when a key of the report changes meaning or disappears (adding a key bumps it too,
#: since the schema forbids unknown keys so that the schema and the code cannot drift apart).
REPORT_VERSION = 1

_NULLABLE_STRING = {"type": ["string", "null"]}
_SECONDS = {"type": "number", "minimum": 0}

#: JSON Schema (draft 2020-12) of :func:`json_report`'s result; ``docs/report.schema.json``
#: holds the same schema (a test checks that they are equal).
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "vrun run report",
    "description": "Written by `vrun --report FILE`: what ran, where, and how each session ended.",
    "type": "object",
    "required": [
        "report_version",
        "vrun_version",
        "platform",
        "argv",
        "exit_code",
        "started",
        "duration",
        "totals",
        "sessions",
    ],
    "additionalProperties": False,
    "properties": {
        "report_version": {"const": REPORT_VERSION, "description": "Format version of this report."},
        "vrun_version": {"type": "string", "description": "The version of vrun that wrote it."},
        "platform": {
            "type": "object",
            "required": ["python_version", "python_implementation", "system", "machine"],
            "additionalProperties": False,
            "properties": {
                "python_version": {"type": "string", "description": "The Python running vrun."},
                "python_implementation": {"type": "string", "description": "CPython, PyPy, ..."},
                "system": {"type": "string", "description": "Linux, Darwin, ... (platform.system())"},
                "machine": {"type": "string", "description": "x86_64, arm64, ... (platform.machine())"},
            },
        },
        "argv": {
            "type": "array",
            "items": {"type": "string"},
            "description": "vrun's command line, without the program name.",
        },
        "exit_code": {"type": "integer", "description": "vrun's own exit status."},
        "started": {"type": "string", "format": "date-time", "description": "ISO 8601, UTC."},
        "duration": {**_SECONDS, "description": "Wall-clock seconds of the whole run."},
        "totals": {
            "type": "object",
            "required": ["passed", "failed", "skipped"],
            "additionalProperties": False,
            "properties": {
                "passed": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "skipped": {"type": "integer", "minimum": 0},
            },
        },
        "sessions": {"type": "array", "items": {"$ref": "#/$defs/session"}},
    },
    "$defs": {
        "session": {
            "type": "object",
            "required": [
                "name",
                "python",
                "env_dir",
                "env_key",
                "status",
                "reason",
                "exit_code",
                "duration",
                "commands",
            ],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "python": {
                    "type": "object",
                    "required": ["spec", "version", "executable"],
                    "additionalProperties": False,
                    "properties": {
                        "spec": _NULLABLE_STRING,
                        "version": _NULLABLE_STRING,
                        "executable": _NULLABLE_STRING,
                    },
                },
                "env_dir": _NULLABLE_STRING,
                "env_key": {"type": ["string", "null"], "pattern": "^[0-9a-f]+$"},
                "status": {"enum": ["passed", "failed", "skipped"]},
                "reason": {"type": "string"},
                "exit_code": {"type": "integer"},
                "duration": _SECONDS,
                "commands": {"type": "array", "items": {"$ref": "#/$defs/command"}},
            },
            "allOf": [
                {
                    "if": {"properties": {"status": {"const": "passed"}}},
                    "then": {"properties": {"reason": {"const": ""}, "exit_code": {"const": 0}}},
                },
                {
                    "if": {"properties": {"status": {"const": "failed"}}},
                    "then": {"properties": {"reason": {"minLength": 1}, "exit_code": {"not": {"const": 0}}}},
                },
            ],
        },
        "command": {
            "type": "object",
            "required": ["argv", "exit_code", "duration", "output_tail"],
            "additionalProperties": False,
            "properties": {
                "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "exit_code": {"type": ["integer", "null"], "description": "null: not run."},
                "duration": _SECONDS,
                "output_tail": _NULLABLE_STRING,
            },
        },
    },
}


# ---------------------------------------------------------------- JSON report


def json_report(
    records: Sequence[SessionRecord],
    *,
    version: str,
    argv: Sequence[str],
    exit_code: int,
    started: float,
    duration: float,
) -> Report:
    """The JSON report of a run, as a dict ready for :func:`json.dumps`; see :data:`REPORT_SCHEMA`.

    :param records: one per session, in run order; copied (the report shares no list with them).
    :param version: vrun's version (``vrun.__version__``).
    :param argv: vrun's command line without the program name (``sys.argv[1:]``).
    :param exit_code: the status vrun exits with.
    :param started: when the run started, seconds since the epoch (``time.time()``); written
        as ISO 8601 in UTC (``"2026-11-21T14:13:07.250000+00:00"``).
    :param duration: wall-clock seconds of the whole run.
    """
    import platform
    from datetime import datetime, timezone

    sessions: list[SessionRecord] = [
        {
            "name": r["name"],
            "python": {
                "spec": r["python"]["spec"],
                "version": r["python"]["version"],
                "executable": r["python"]["executable"],
            },
            "env_dir": r["env_dir"],
            "env_key": r["env_key"],
            "status": r["status"],
            "reason": r["reason"],
            "exit_code": r["exit_code"],
            "duration": r["duration"],
            "commands": [
                {
                    "argv": list(c["argv"]),
                    "exit_code": c["exit_code"],
                    "duration": c["duration"],
                    "output_tail": c["output_tail"],
                }
                for c in r["commands"]
            ],
        }
        for r in records
    ]
    counts = _status_counts(records)
    return {
        "report_version": REPORT_VERSION,
        "vrun_version": version,
        "platform": {
            "python_version": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "system": platform.system(),
            "machine": platform.machine(),
        },
        "argv": list(argv),
        "exit_code": exit_code,
        "started": datetime.fromtimestamp(started, timezone.utc).isoformat(),
        "duration": duration,
        "totals": {"passed": counts["passed"], "failed": counts["failed"], "skipped": counts["skipped"]},
        "sessions": sessions,
    }


def write_json_report(path: str | os.PathLike[str], report: Mapping[str, Any]) -> None:
    """Write ``report`` as indented UTF-8 JSON to ``path`` atomically (see :func:`write_atomic`).

    :raises OSError: the file or its directory cannot be written.
    :raises TypeError: ``report`` holds something JSON cannot represent.
    """
    import json

    write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the new, never half.

    Creates missing parent directories, writes a temporary file in the same directory, then
    ``os.replace``\\ s it over ``path`` (atomic on POSIX and Windows when both are on one file
    system, which the same directory guarantees). The file ends up with mode 0644. The
    temporary file is removed on failure.

    :raises OSError: the directory or the file cannot be written.
    """
    import tempfile

    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(target) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the report from other users and tools
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------- shared helpers


def failing_command(record: SessionRecord) -> CommandRecord | None:
    """The command that failed the session: the last one that ran and exited non-zero.

    :returns: None when the session did not fail through a command (it passed, was skipped,
        or failed before any command ran, e.g. an install error).
    """
    if record["status"] != "failed":
        return None
    for command in reversed(record["commands"]):
        code = command["exit_code"]
        if code is not None and code != 0:
            return command
    return None


def command_line(argv: Sequence[str]) -> str:
    """``argv`` as one line a POSIX shell would split back into it (:func:`shlex.join`)."""
    import shlex

    return shlex.join(argv)


def failure_message(record: SessionRecord) -> str:
    """One line saying why a failed session failed.

    ``command failed with exit code N: CMD`` when a command failed (N is the command's own
    status), else the record's ``reason`` (or ``exit code N`` when that is empty).
    """
    command = failing_command(record)
    if command is not None:
        return f"command failed with exit code {command['exit_code']}: {command_line(command['argv'])}"
    return _one_line(record["reason"]) or f"exit code {record['exit_code']}"


def _one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


# ---------------------------------------------------------------- JUnit XML

#: ANSI escape sequences (ECMA-48): CSI ``ESC [ params final``, OSC ``ESC ] ... BEL`` or
#: ``... ESC \\``, and two-character ``ESC X`` with X in ``@``..``_``. Colour codes in
#: captured output, meaningless in a report.
_ANSI = r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-_])"
#: Characters XML 1.0 forbids even as references (https://www.w3.org/TR/xml/#charsets):
#: control characters other than tab, LF and CR; lone surrogates; U+FFFE and U+FFFF.
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def xml_safe(text: str) -> str:
    """``text`` without ANSI escape sequences, other XML-forbidden characters made ``\\ufffd``.

    ElementTree escapes ``<``, ``&`` and quotes but writes forbidden characters as they are,
    which makes the document unreadable to every XML parser; captured output is full of them
    (colour codes). The rule is XML 1.0 section 2.2 (Char).
    """
    import re

    return re.sub(_NOT_XML, "\ufffd", re.sub(_ANSI, "", text))


def junit_xml(records: Sequence[SessionRecord], *, suite_name: str = "vrun") -> str:
    """The run as a JUnit XML document: one test case per session.

    Layout (what pytest's ``--junitxml``, Jenkins, GitLab and the GitHub reporters read):
    ``<testsuites>`` holding one ``<testsuite name=SUITE tests failures errors skipped time>``
    holding one ``<testcase classname="vrun" name=SESSION time=SECONDS>`` per session. A failed
    session has ``<failure message="command failed with exit code N: CMD">`` (see
    :func:`failure_message`) whose text is the command line and then its output tail, when
    captured, or the reason; a skipped one has ``<skipped message=REASON/>``. Times are
    seconds with three decimals. ANSI codes and XML-forbidden characters are removed
    (:func:`xml_safe`).

    :returns: the document, with an XML declaration, as text (UTF-8 when encoded).
    """
    import xml.etree.ElementTree as ET

    status = _status_counts(records)
    attrs = {
        "name": xml_safe(suite_name),
        "tests": str(len(records)),
        "failures": str(status["failed"]),
        "errors": "0",
        "skipped": str(status["skipped"]),
        "time": f"{sum(r['duration'] for r in records):.3f}",
    }
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", attrs)
    for record in records:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": "vrun", "name": xml_safe(record["name"]), "time": f"{record['duration']:.3f}"},
        )
        if record["status"] == "failed":
            failure = ET.SubElement(case, "failure", {"message": xml_safe(failure_message(record))})
            command = failing_command(record)
            if command is not None:
                parts = [command_line(command["argv"])]
                if command["output_tail"]:
                    parts.append(command["output_tail"])
                if record["reason"]:
                    parts.append(record["reason"])
                failure.text = xml_safe("\n\n".join(parts))
            else:
                failure.text = xml_safe(record["reason"])
        elif record["status"] == "skipped":
            ET.SubElement(case, "skipped", {"message": xml_safe(record["reason"])})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(
    path: str | os.PathLike[str], records: Sequence[SessionRecord], *, suite_name: str = "vrun"
) -> None:
    """Write :func:`junit_xml` of ``records`` to ``path`` atomically (see :func:`write_atomic`).

    :raises OSError: the file or its directory cannot be written.
    """
    write_atomic(path, junit_xml(records, suite_name=suite_name))


# ---------------------------------------------------------------- GitHub Actions


def escape_data(text: str) -> str:
    """Escape the message of a GitHub workflow command (the part after the second ``::``).

    ``%`` -> ``%25``, CR -> ``%0D``, LF -> ``%0A``, ``%`` first so the others are not
    re-escaped. Source: ``escapeData`` in actions/toolkit ``packages/core/src/command.ts``,
    which the runner decodes; GitHub's "Workflow commands for GitHub Actions" page.
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value of a GitHub workflow command (``title=VALUE``).

    As :func:`escape_data`, and also ``:`` -> ``%3A`` and ``,`` -> ``%2C``, which would end
    the property list or the value. Source: ``escapeProperty`` in actions/toolkit
    ``packages/core/src/command.ts``.
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **properties: str) -> str:
    """One GitHub workflow command line: ``::COMMAND k=v,k=v::MESSAGE`` (no newline).

    Property values are escaped with :func:`escape_property`, the message with
    :func:`escape_data`; properties appear in the order given.
    """
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def github_annotations(records: Sequence[SessionRecord]) -> list[str]:
    """Workflow commands that annotate the run on GitHub, one line per session that did not pass.

    A failed session: ``::error title=vrun session NAME failed::command `CMD` exited with
    status N`` (N the command's own status), or ``::error ...::REASON`` when it failed before
    a command ran. A skipped session: ``::warning title=vrun session NAME skipped::REASON``.
    Escaped per :func:`workflow_command`. Print them to stdout (GitHub reads workflow commands
    from a step's stdout); GitHub shows at most 10 errors and 10 warnings per step.
    """
    lines = []
    for record in records:
        name = record["name"]
        if record["status"] == "failed":
            command = failing_command(record)
            if command is not None:
                message = (
                    f"command `{command_line(command['argv'])}` exited with status {command['exit_code']}"
                )
            else:
                message = record["reason"] or f"exit status {record['exit_code']}"
            lines.append(workflow_command("error", message, title=f"vrun session {name} failed"))
        elif record["status"] == "skipped":
            lines.append(workflow_command("warning", record["reason"], title=f"vrun session {name} skipped"))
    return lines


def _cell(text: str) -> str:
    """``text`` fit for one cell of a GitHub-flavoured Markdown table.

    Newlines become spaces, ``|`` is escaped (GFM spec, "Tables": ``\\|`` in a cell), and the
    characters that start HTML or inline markup (``<``, ``>``, `````, ``*``, ``_``, ``[``,
    ``]``) are backslash-escaped so that a reason renders as the text it is.
    """
    out = _one_line(text).replace("\\", "\\\\")
    for char in "|<>`*_[]":
        out = out.replace(char, "\\" + char)
    return out


def step_summary(records: Sequence[SessionRecord]) -> str:
    """A Markdown table of the run for ``$GITHUB_STEP_SUMMARY``, ending in a newline.

    A heading, one row per session (session | python | status | duration | reason), then a
    totals line. ``python`` is the interpreter's version, else the session's spec, else
    ``-``; status is the plain word (``passed``, ``failed``, ``skipped``: no emoji, so it reads
    the same in a terminal, a screen reader and a grep); duration is seconds with one decimal.
    For a failed session the reason column is :func:`failure_message`.
    """
    lines = [
        "### vrun",
        "",
        "| session | python | status | duration | reason |",
        "|---------|--------|--------|---------:|--------|",
    ]
    for record in records:
        python = record["python"]["version"] or record["python"]["spec"] or "-"
        reason = failure_message(record) if record["status"] == "failed" else record["reason"]
        row = [
            _cell(record["name"]),
            _cell(python),
            record["status"],
            f"{record['duration']:.1f}s",
            _cell(reason),
        ]
        lines.append("| " + " | ".join(row) + " |")
    counts = _status_counts(records)
    total = sum(r["duration"] for r in records)
    lines += [
        "",
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped in {total:.1f}s",
    ]
    return "\n".join(lines) + "\n"


def append_step_summary(environ: Mapping[str, str], records: Sequence[SessionRecord]) -> bool:
    """Append :func:`step_summary` to the file named by ``GITHUB_STEP_SUMMARY``, if set.

    GitHub Actions gives each step that file and renders it as Markdown on the run's page;
    appending (never truncating) keeps what earlier tools of the same step wrote.

    :param environ: the environment to read (``os.environ``).
    :returns: True if written, False when ``GITHUB_STEP_SUMMARY`` is unset or empty.
    :raises OSError: the file cannot be opened for appending.
    """
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(step_summary(records))
    return True


# ---------------------------------------------------------------- CI detection

#: ``(variable, value or None, name)``, checked in order; None: present (any value) means CI.
#: The list is tox's (``tox.util.ci``, itself from Adam Johnson's "How to detect if your
#: tests are running on CI"), with the vendors nox and the brief add; values compared
#: case-insensitively (Azure Pipelines sets ``TF_BUILD=True``). Hudson's generic ``BUILD_ID``
#: is left out: Jenkins sets ``JENKINS_URL`` too, and ``BUILD_ID`` alone is set by unrelated tools.
_CI_VARIABLES: tuple[tuple[str, str | None, str], ...] = (
    ("GITHUB_ACTIONS", "true", "github-actions"),
    ("GITLAB_CI", None, "gitlab-ci"),
    ("TF_BUILD", "true", "azure-pipelines"),
    ("BUILDKITE", "true", "buildkite"),
    ("CIRCLECI", "true", "circleci"),
    ("CIRRUS_CI", "true", "cirrus-ci"),
    ("TRAVIS", "true", "travis-ci"),
    ("JENKINS_URL", None, "jenkins"),
    ("APPVEYOR", "true", "appveyor"),
    ("TEAMCITY_VERSION", None, "teamcity"),
    ("BITBUCKET_BUILD_NUMBER", None, "bitbucket-pipelines"),
    ("CODEBUILD_BUILD_ID", None, "aws-codebuild"),
    ("DRONE", "true", "drone"),
    ("HEROKU_TEST_RUN_ID", None, "heroku-ci"),
    ("bamboo.buildKey", None, "bamboo"),
)

#: Values of ``CI`` that say "not CI" (tox's rule: the generic flag is the one users toggle).
_CI_OPT_OUT = frozenset({"", "0", "false", "no", "off"})


def ci_name(environ: Mapping[str, str]) -> str | None:
    """The CI system vrun runs under, judged from ``environ``, or None when not under CI.

    A vendor's own variable wins (``"github-actions"``, ``"gitlab-ci"``, ``"jenkins"``, ...;
    see ``_CI_VARIABLES``): each is present, or has the documented value (``"true"``,
    case-insensitive). ``TEAMCITY_VERSION=LOCAL`` is a local TeamCity build, not CI.
    Otherwise the generic ``CI`` variable, which nearly every CI system sets: any value but
    ``""``, ``0``, ``false``, ``no``, ``off`` (case-insensitive) gives ``"ci"``. So ``CI=false``
    is an opt-out of the generic flag only; it does not hide a vendor's variable (as tox
    does: those keep their meaning).
    """
    for variable, expected, name in _CI_VARIABLES:
        value = environ.get(variable)
        if value is None:
            continue
        if expected is not None and value.strip().lower() != expected:
            continue
        if variable == "TEAMCITY_VERSION" and value == "LOCAL":
            continue
        return name
    generic = environ.get("CI")
    if generic is not None and generic.strip().lower() not in _CI_OPT_OUT:
        return "ci"
    return None


# ---------------------------------------------------------------- folding the log


def github_group_start(title: str) -> str:
    """``::group::TITLE``: starts a collapsible group in a GitHub Actions log (on stdout)."""
    return "::group::" + escape_data(title)


def github_group_end() -> str:
    """``::endgroup::``: ends the group :func:`github_group_start` began (groups do not nest)."""
    return "::endgroup::"


def gitlab_section_name(name: str) -> str:
    """``name`` made a valid GitLab section name: characters outside ``[A-Za-z0-9_.-]`` -> ``_``.

    Source: GitLab docs, "Custom collapsible sections" (the section name may contain only
    letters, digits, ``_``, ``.`` and ``-``; GitLab's ``logs_section_prefix_regex``).
    """
    import re

    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def gitlab_section_start(
    name: str, title: str, *, collapsed: bool = True, timestamp: int | None = None
) -> str:
    """Start a collapsible section of a GitLab CI job log (print it on its own line).

    ``ESC[0Ksection_start:UNIX_TS:NAME[collapsed=true]\\rESC[0KTITLE``, the format of GitLab's
    "Custom collapsible sections" docs. ``NAME`` goes through :func:`gitlab_section_name`
    and must match the one given to :func:`gitlab_section_end`; ``TITLE`` is shown on the
    section's header line (its CR and LF become spaces so it stays one line).

    :param collapsed: show the section folded when the log loads.
    :param timestamp: seconds since the epoch; default now. GitLab shows the section's
        duration from the two timestamps.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    options = "[collapsed=true]" if collapsed else ""
    return f"\x1b[0Ksection_start:{ts}:{gitlab_section_name(name)}{options}\r\x1b[0K{_one_line(title)}"


def gitlab_section_end(name: str, *, timestamp: int | None = None) -> str:
    """End the GitLab section :func:`gitlab_section_start` began: ``ESC[0Ksection_end:TS:NAME\\rESC[0K``."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"\x1b[0Ksection_end:{ts}:{gitlab_section_name(name)}\r\x1b[0K"


def fold_start(environ: Mapping[str, str], name: str, title: str) -> str | None:
    """The line that starts folding a session's log under the CI system in ``environ``.

    GitHub Actions (``GITHUB_ACTIONS=true``): :func:`github_group_start` of ``title``; GitLab
    CI (``GITLAB_CI`` set): :func:`gitlab_section_start` of ``name`` (collapsed) and
    ``title``; anything else: None (print nothing). Print the line on stdout, where the
    commands' output goes, so the two interleave in order.
    """
    ci = ci_name(environ)
    if ci == "github-actions":
        return github_group_start(title)
    if ci == "gitlab-ci":
        return gitlab_section_start(name, title)
    return None


def fold_end(environ: Mapping[str, str], name: str) -> str | None:
    """The line that ends what :func:`fold_start` began, or None when it began nothing."""
    ci = ci_name(environ)
    if ci == "github-actions":
        return github_group_end()
    if ci == "gitlab-ci":
        return gitlab_section_end(name)
    return None


def _status_counts(records: Iterable[SessionRecord]) -> dict[str, int]:
    """``{"passed": n, "failed": n, "skipped": n}`` over ``records``."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for record in records:
        counts[record["status"]] += 1
    return counts
