"""What a run tells CI: ``--report`` (checked against its schema), ``--junitxml`` (read back with
junitparser), GitHub annotations and step summary, GitLab sections, CI detection, the exit-status
table, and a stdout reader that goes away early."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import REPORT_SCHEMA, Vrun, to_a_reader_that_left, write_project

jsonschema = pytest.importorskip("jsonschema")
junitparser = pytest.importorskip("junitparser")

MIXED = {
    "vrun.toml": """
        [sessions.good]
        commands = ["python -c 'print(\\"all good\\")'"]
        [sessions.bad]
        commands = ["python -c 'import sys; print(\\"boom\\"); sys.exit(3)'", "python -V"]
        [sessions.blocked]
        requires = ["bad"]
        commands = ["python -V"]
    """
}


@pytest.mark.parametrize("extra", [[], ["-p", "3"]], ids=["serial", "parallel"])
def test_json_report_matches_schema(project: Path, vrun: Vrun, extra: list[str]) -> None:
    write_project(project, MIXED)
    vrun(*extra, "--report", "out/report.json", "good", "bad", "blocked", check=1)
    report = json.loads((project / "out" / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert report["exit_code"] == 1
    assert report["argv"][-3:] == ["good", "bad", "blocked"]
    assert report["totals"] == {"passed": 1, "failed": 1, "skipped": 1}
    good, bad, blocked = report["sessions"]
    assert good["status"] == "passed" and good["python"]["version"] == "{}.{}.{}".format(
        *sys.version_info[:3]
    )
    assert good["env_dir"].endswith(f"good-{good['env_key']}")
    assert bad["exit_code"] == 3
    assert [c["exit_code"] for c in bad["commands"]] == [3, None]  # the second never ran
    assert blocked["reason"] == "requires bad, which did not pass"
    if extra:  # under -p the output is captured: the failing command's tail is in the report
        assert "boom" in bad["commands"][0]["output_tail"]


def test_junitxml_read_back(project: Path, vrun: Vrun) -> None:
    write_project(project, MIXED)
    vrun("-p", "2", "--junitxml", "junit.xml", "good", "bad", "blocked", check=1)
    xml = junitparser.JUnitXml.fromfile(str(project / "junit.xml"))
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.skipped) == (3, 1, 1)
    cases = {case.name: case for case in suite}
    assert cases["good"].is_passed
    (failure,) = cases["bad"].result
    assert isinstance(failure, junitparser.Failure)
    assert failure.message.startswith("command failed with exit code 3: ")
    assert "sys.exit(3)" in failure.text and "boom" in failure.text
    (skipped,) = cases["blocked"].result
    assert isinstance(skipped, junitparser.Skipped)


@pytest.mark.parametrize("extra", [[], ["-p", "2"]], ids=["serial", "parallel"])
def test_github_actions_groups_annotations_summary(
    project: Path, vrun: Vrun, tmp_path: Path, extra: list[str]
) -> None:
    write_project(project, MIXED)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n")
    vrun.env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    proc = vrun(*extra, "good", "bad", "blocked", check=1)
    lines = proc.stdout.splitlines()
    assert "::group::vrun good" in lines and "::group::vrun bad" in lines
    assert lines.count("::endgroup::") == 2
    (error,) = [line for line in lines if line.startswith("::error ")]
    assert error.startswith("::error title=vrun session bad failed::command `")
    assert error.endswith("sys.exit(3)'` exited with status 3")
    assert any(line.startswith("::warning title=vrun session blocked skipped::") for line in lines)
    text = summary.read_text()
    assert text.startswith("earlier step output\n### vrun\n")
    assert "| good |" in text and "| failed |" in text
    assert "1 passed, 1 failed, 1 skipped" in text


def test_github_summary_on_the_warm_path(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    """A plain `vrun NAME` may run from the plan cache: it reports to GitHub all the same."""
    write_project(project, MIXED)
    summary = tmp_path / "summary.md"
    vrun.env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    for _ in range(2):
        proc = vrun("bad", check=3)
        assert "::error title=vrun session bad failed::" in proc.stdout
    assert summary.read_text().count("### vrun") == 2


def test_gitlab_sections(project: Path, vrun: Vrun) -> None:
    write_project(project, MIXED)
    vrun.env["GITLAB_CI"] = "true"
    proc = vrun("good", check=0)
    assert "section_start:" in proc.stdout and ":good[collapsed=true]" in proc.stdout
    assert "section_end:" in proc.stdout
    assert "::group::" not in proc.stdout


@pytest.mark.parametrize(
    ("ci", "expected"), [({}, 0), ({"CI": "false"}, 0), ({"CI": "true"}, 1), ({"BUILDKITE": "true"}, 1)]
)
def test_ci_detection_for_skip_missing_interpreters(
    project: Path, vrun: Vrun, ci: dict[str, str], expected: int
) -> None:
    """Outside CI the missing one is skipped and the other passes (0); under CI it fails (1)."""
    config = '[sessions.future]\npython = "3.99"\ncommands = ["python -V"]\n'
    config += '[sessions.now]\ninstall_project = false\ncommands = ["python -V"]\n'
    write_project(project, {"vrun.toml": config})
    vrun.env.update(ci)
    proc = vrun("now", "future", "--skip-missing-interpreters", check=expected)
    ignored = "--skip-missing-interpreters is ignored under CI (" in proc.stderr
    assert ignored == (expected == 1), proc.stderr


def test_exit_status_table(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.three]
                commands = ["python -c 'raise SystemExit(3)'"]
                [sessions.two]
                commands = ["python -c 'raise SystemExit(2)'"]
                [sessions.missing]
                commands = ["no-such-program-xyz"]
                [sessions.future]
                python = "3.99"
                commands = ["python -V"]
            """
        },
    )
    # one session: its own status, as tox 4 (the failing command's; 2 for no interpreter)
    for name, status in (("three", 3), ("two", 2), ("missing", 127), ("future", 2)):
        assert "failed" in vrun(name, check=status).stderr
    # several: 1, whatever their commands said; each one's own status is in the log
    assert "exit code 2" in vrun("two", "three", check=1).stderr
    vrun("nosuch", check=2)  # vrun's own usage error
    vrun("--no-such-option", check=2)
    vrun("run", "three", "--", "python", "-c", "raise SystemExit(5)", check=5)  # passed through
    (project / "vrun.toml").write_text("[sessions.x\n")
    vrun("x", check=2)  # configuration error


def vrun_traceback(stderr: str) -> list[str]:
    """Lines of a traceback through vrun's own code, or Python's complaint at exit."""
    lines = stderr.splitlines()
    return [
        x for x in lines if "Exception ignored" in x or (x.strip().startswith('File "') and "/vrun/" in x)
    ]


@pytest.mark.parametrize("github", [False, True])
def test_broken_stdout_pipe_never_turns_failure_into_success(project: Path, vrun: Vrun, github: bool) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.bad]
                commands = ["python -c 'raise SystemExit(3)'"]
                [sessions.silent]
                commands = ["python -c 'pass'"]
            """
        },
    )
    if github:
        vrun.env["GITHUB_ACTIONS"] = "true"
    for _ in range(2):  # cold, then from the plan cache
        failed = to_a_reader_that_left(vrun, "bad")
        assert failed.returncode == 3, failed.stderr
        assert not vrun_traceback(failed.stderr)  # the command's own BrokenPipeError is its business
        passed = to_a_reader_that_left(vrun, "silent")
        assert passed.returncode == 0, passed.stderr
        assert not vrun_traceback(passed.stderr)
    parallel = to_a_reader_that_left(vrun, "-p", "2", "silent", "bad")
    assert parallel.returncode == 1, parallel.stderr
    assert not vrun_traceback(parallel.stderr)


def test_a_report_naming_a_folder_is_one_error_naming_it(project: Path, vrun: Vrun) -> None:
    write_project(project, MIXED)
    (project / "reports").mkdir()
    proc = vrun("--report", "reports", "--junitxml", "reports", "good", check=1)
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert lines == [
        f"vrun > error: cannot write --report reports: {os.strerror(errno.EISDIR)}",
        f"vrun > error: cannot write --junitxml reports: {os.strerror(errno.EISDIR)}",
    ], proc.stderr
    assert [p.name for p in (project / "reports").iterdir()] == []  # no temporary file left


def test_posargs_that_are_not_utf8_are_reported_whole(project: Path, vrun: Vrun) -> None:
    write_project(project, {"vrun.toml": '[sessions.echo]\ncommands = ["python -c pass {posargs}"]\n'})
    arg = os.fsdecode(b"caf\xe9")  # a Latin-1 file name, as a shell passes it
    proc = vrun("--report", "r.json", "--junitxml", "r.xml", "echo", "--", arg, check=0)
    assert "Traceback" not in proc.stderr
    report = json.loads((project / "r.json").read_text(encoding="utf-8"))
    assert report["argv"][-1] == arg and report["sessions"][0]["commands"][0]["argv"][-1] == arg
    jsonschema.validate(report, REPORT_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert len(list(junitparser.JUnitXml.fromfile(str(project / "r.xml")))) == 1


def test_report_unwritable_is_an_error(project: Path, vrun: Vrun) -> None:
    write_project(project, MIXED)
    (project / "afile").write_text("")
    proc = vrun("--report", "afile/report.json", "good", check=1)
    assert "cannot write" in proc.stderr
