"""Everything vrun says to a CI system, over the session records of :mod:`vrun.report.results`.

GitHub Actions annotations and step summary (:func:`github_annotations`, :func:`step_summary`),
CI detection (:func:`ci_name`), and folding of the log into collapsible groups on GitHub Actions
and GitLab CI (:func:`fold_start`, :func:`fold_end`). Light on purpose (the session loop imports
it on every run): nothing beyond ``os`` and ``time`` at module level; nothing here reads
``os.environ`` itself (callers pass the environment in).
"""

from __future__ import annotations

import time

from vrun.output import ci_name
from vrun.report.results import failing_command, failure_message, one_line, shown_command, status_counts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from vrun._types import SessionResult


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


def github_annotations(records: Sequence[SessionResult]) -> list[str]:
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
                    f"command `{shown_command(record, command)}` exited with status {command['exit_code']}"
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
    out = one_line(text).replace("\\", "\\\\")
    for char in "|<>`*_[]":
        out = out.replace(char, "\\" + char)
    return out


def step_summary(records: Sequence[SessionResult]) -> str:
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
    counts = status_counts(records)
    total = sum(r["duration"] for r in records)
    lines += [
        "",
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped in {total:.1f}s",
    ]
    return "\n".join(lines) + "\n"


def append_step_summary(environ: Mapping[str, str], records: Sequence[SessionResult]) -> bool:
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
    return f"\x1b[0Ksection_start:{ts}:{gitlab_section_name(name)}{options}\r\x1b[0K{one_line(title)}"


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
