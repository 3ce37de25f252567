"""Machine-readable results of a run: the JSON report and JUnit XML.

Pure functions over *session records*, the results the session loop builds, one per session
(:class:`vrun._types.SessionResult`, plain dicts): a JSON report (:func:`json_report`, its schema
``docs/report.schema.json``) and JUnit XML (:func:`junit_xml`).
What vrun says to a CI system (annotations, step summary, log folding, CI detection) is
:mod:`vrun.report.ci`'s.

Standard library only, and light on purpose (like :mod:`vrun.process`): nothing beyond ``os`` and
``time`` is imported at module level; ``json``, ``platform``, ``shlex``, ``re``
and ``xml.etree`` are imported by the functions that need them, so importing this module on a
warm run costs next to nothing. Only the writers touch the file system; nothing here reads
``os.environ`` itself (callers pass the environment in).
"""

from __future__ import annotations

import os

#: ``typing`` is not imported (benchmarks/README.md, "Import costs"): annotations are strings
#: here, so it is needed only by type checkers (which treat any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from vrun._types import CommandRecord, Report, SessionResult, Totals


#: The version of the ``--report`` file's format (its ``report_version``); ``docs/report.schema.json``,
#: the format's JSON Schema, which tests check reports against, says the same.
REPORT_VERSION = 1


def json_report(
    records: Sequence[SessionResult],
    *,
    version: str,
    argv: Sequence[str],
    exit_code: int,
    started: float,
    duration: float,
) -> Report:
    """The JSON report of a run, as a dict ready for :func:`json.dumps`; see ``docs/report.schema.json``.

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

    sessions: list[SessionResult] = [
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
    counts = status_counts(records)
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


def write_json_report(path: str | os.PathLike[str], report: Report) -> None:
    """Write ``report`` as indented UTF-8 JSON to ``path`` atomically (:func:`vrun.inputs.write_atomic`),
    creating missing parent directories.

    :raises OSError: the file or its directory cannot be written.
    :raises TypeError: ``report`` holds something JSON cannot represent.
    """
    import json

    try:
        data = json.dumps(report, indent=2, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # bytes that are not UTF-8 (posargs, paths), kept as \udcXX escapes
        data = json.dumps(report, indent=2).encode()
    _write(path, data + b"\n")


def _write(path: str | os.PathLike[str], text: str | bytes) -> None:
    from vrun.inputs import write_atomic

    target = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    write_atomic(target, text)


# ---------------------------------------------------------------- shared helpers


def failing_command(record: SessionResult) -> CommandRecord | None:
    """The command that failed the session: the first one that ran and exited non-zero (a
    ``commands_post`` may fail after it; the first failure decides, as in tox 4).

    :returns: None when the session did not fail through a command (it passed, was skipped,
        or failed before any command ran, e.g. an install error).
    """
    if record["status"] != "failed":
        return None
    for command in record["commands"]:
        code = command["exit_code"]
        if code is not None and code != 0:
            return command
    return None


def command_line(argv: Sequence[str]) -> str:
    """``argv`` as one line a POSIX shell would split back into it (:func:`shlex.join`)."""
    import shlex

    return shlex.join(argv)


def failure_message(record: SessionResult) -> str:
    """One line saying why a failed session failed.

    ``command failed with exit code N: CMD`` when a command failed (N is the command's own
    status), else the record's ``reason`` (or ``exit code N`` when that is empty).
    """
    command = failing_command(record)
    if command is not None:
        return f"command failed with exit code {command['exit_code']}: {command_line(command['argv'])}"
    return one_line(record["reason"]) or f"exit code {record['exit_code']}"


def one_line(text: str) -> str:
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


def junit_xml(records: Sequence[SessionResult], *, suite_name: str = "vrun") -> str:
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

    status = status_counts(records)
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
    path: str | os.PathLike[str], records: Sequence[SessionResult], *, suite_name: str = "vrun"
) -> None:
    """Write :func:`junit_xml` of ``records`` to ``path`` atomically, creating missing parent
    directories.

    :raises OSError: the file or its directory cannot be written.
    """
    _write(path, junit_xml(records, suite_name=suite_name))


def status_counts(records: Iterable[SessionResult]) -> Totals:
    """``{"passed": n, "failed": n, "skipped": n}`` over ``records``."""
    counts: Totals = {"passed": 0, "failed": 0, "skipped": 0}
    for record in records:
        counts[record["status"]] += 1
    return counts
