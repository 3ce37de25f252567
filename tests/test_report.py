"""vrun.report.results: the JSON report against its schema, JUnit XML read back, GitHub and GitLab output, CI detection."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO, REPORT_SCHEMA
from vrun import __version__, output
from vrun.report import ci, results

if TYPE_CHECKING:
    from vrun._types import SessionResult


def jsonschema_module() -> Any:
    """``jsonschema``, or skip: only the schema tests need it (test group: jsonschema)."""
    return pytest.importorskip("jsonschema")


def passed_record() -> SessionResult:
    return {
        "name": "test-3.11",
        "python": {"spec": "3.11", "version": "3.11.7", "executable": "/usr/bin/python3.11"},
        "env_dir": "/src/proj/.venvs/test-3.11-1a2b3c4d5e",
        "env_key": "1a2b3c4d5e",
        "status": "passed",
        "reason": "",
        "exit_code": 0,
        "duration": 1.25,
        "commands": [{"argv": ["pytest", "-q"], "exit_code": 0, "duration": 1.0, "output_tail": None}],
    }


def failed_record() -> SessionResult:
    return {
        "name": "lint",
        "python": {"spec": None, "version": "3.12.1", "executable": "/usr/bin/python3.12"},
        "env_dir": "/src/proj/.venvs/lint-448bc57249",
        "env_key": "448bc57249",
        "status": "failed",
        "reason": "command failed: ruff check src",
        "exit_code": 3,
        "duration": 0.5,
        "commands": [
            {"argv": ["ruff", "check", "src tests"], "exit_code": 3, "duration": 0.4,
             "output_tail": "\x1b[31msrc/a.py:1:1: F401 `os` imported but unused\x1b[0m\x00 <&>"},
            {"argv": ["ruff", "format", "--check"], "exit_code": None, "duration": 0.0, "output_tail": None},
        ],
    }  # fmt: skip


def skipped_record() -> SessionResult:
    return {
        "name": "test-3.13",
        "python": {"spec": "3.13", "version": None, "executable": None},
        "env_dir": None,
        "env_key": None,
        "status": "skipped",
        "reason": "no interpreter matches python = '3.13'",
        "exit_code": 0,
        "duration": 0.01,
        "commands": [{"argv": ["pytest"], "exit_code": None, "duration": 0.0, "output_tail": None}],
    }


def install_failed_record() -> SessionResult:
    return {
        "name": "docs",
        "python": {"spec": "3.12", "version": "3.12.1", "executable": "/usr/bin/python3.12"},
        "env_dir": "/src/proj/.venvs/docs-0123456789",
        "env_key": "0123456789",
        "status": "failed",
        "reason": "could not install requirements: pip exited with status 1",
        "exit_code": 1,
        "duration": 3.0,
        "commands": [
            {"argv": ["sphinx-build", "docs", "out"], "exit_code": None, "duration": 0.0, "output_tail": None}
        ],
    }


def all_records() -> list[SessionResult]:
    return [passed_record(), failed_record(), skipped_record(), install_failed_record()]


def make_report(records: list[SessionResult]) -> Any:
    return results.json_report(
        records, version=__version__, argv=["-t", "ci"], exit_code=1, started=1_700_000_000.5, duration=4.2
    )


# ---------------------------------------------------------------- JSON report and schema


def test_schema_states_the_report_version_vrun_writes() -> None:
    assert REPORT_SCHEMA["properties"]["report_version"] == {
        "const": results.REPORT_VERSION,
        "description": "Format version of this report.",
    }
    assert REPORT_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema = jsonschema_module()
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)


@pytest.mark.parametrize(
    "records",
    [[], [passed_record()], [failed_record()], [skipped_record()], all_records()],
    ids=["none", "passed", "failed", "skipped", "all"],
)
def test_report_validates_against_schema(records: list[SessionResult]) -> None:
    data = make_report(records)
    # through JSON and back: what a consumer of the file sees
    data = json.loads(json.dumps(data))
    jsonschema = jsonschema_module()
    jsonschema.Draft202012Validator(
        REPORT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)


def test_report_content() -> None:
    data = make_report(all_records())
    assert data["report_version"] == results.REPORT_VERSION
    assert data["vrun_version"] == __version__
    assert data["argv"] == ["-t", "ci"]
    assert data["exit_code"] == 1
    assert data["started"] == "2023-11-14T22:13:20.500000+00:00"
    assert data["totals"] == {"passed": 1, "failed": 2, "skipped": 1}
    assert [s["name"] for s in data["sessions"]] == ["test-3.11", "lint", "test-3.13", "docs"]
    assert data["sessions"][1] == failed_record()
    assert data["platform"]["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert set(data["platform"]) == {"python_version", "python_implementation", "system", "machine"}


def test_report_copies_the_records() -> None:
    records = [failed_record()]
    data = make_report(records)
    records[0]["commands"][0]["argv"].append("--fix")
    assert data["sessions"][0]["commands"][0]["argv"] == ["ruff", "check", "src tests"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"status": "passed", "reason": "x"}, "reason"),
        ({"status": "failed", "exit_code": 0}, "exit_code"),
        ({"status": "broken"}, "status"),
        ({"env_key": "NOT-HEX"}, "env_key"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_schema_rejects_inconsistent_records(change: dict[str, Any], where: str) -> None:
    data = json.loads(json.dumps(make_report([passed_record()])))
    data["sessions"][0].update(change)
    jsonschema = jsonschema_module()
    errors = list(jsonschema.Draft202012Validator(REPORT_SCHEMA).iter_errors(data))
    assert errors
    assert any(where in json.dumps([*e.absolute_path, e.message]) for e in errors)


def test_write_json_report_is_atomic_and_creates_dirs(tmp_path: Path) -> None:
    target = tmp_path / "out" / "deep" / "report.json"
    data = make_report(all_records())
    results.write_json_report(target, data)
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(json.dumps(data))
    results.write_json_report(str(target), make_report([]))  # replaces, str path too
    assert json.loads(target.read_text(encoding="utf-8"))["sessions"] == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]  # no temp files left
    assert target.stat().st_mode & 0o777 == 0o644


def test_write_atomic_leaves_old_file_and_no_temp_on_error(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(TypeError):
        results.write_json_report(target, {"not json": object()})
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


# ---------------------------------------------------------------- JUnit XML


def test_junit_read_back_with_junitparser(tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    path = tmp_path / "reports" / "junit.xml"
    results.write_junit(path, all_records())
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == "vrun"
    assert (suite.tests, suite.failures, suite.skipped, suite.errors) == (4, 2, 1, 0)
    assert suite.time == pytest.approx(4.76, abs=0.001)
    cases = {case.name: case for case in suite}
    assert set(cases) == {"test-3.11", "lint", "test-3.13", "docs"}
    assert all(case.classname == "vrun" for case in cases.values())
    assert cases["test-3.11"].is_passed
    assert cases["test-3.11"].time == pytest.approx(1.25)

    (failure,) = cases["lint"].result
    assert isinstance(failure, junitparser.Failure)
    assert failure.message == "command failed with exit code 3: ruff check 'src tests'"
    assert failure.text is not None
    assert failure.text.startswith("ruff check 'src tests'\n\n")
    # ANSI codes removed, NUL replaced, markup escaped and read back intact
    assert "src/a.py:1:1: F401 `os` imported but unused\ufffd <&>" in failure.text
    assert "\x1b" not in failure.text

    (skip,) = cases["test-3.13"].result
    assert isinstance(skip, junitparser.Skipped)
    assert skip.message == "no interpreter matches python = '3.13'"

    (install,) = cases["docs"].result
    assert isinstance(install, junitparser.Failure)
    assert install.message == "could not install requirements: pip exited with status 1"


def test_junit_is_well_formed_for_hostile_names() -> None:
    import xml.etree.ElementTree as ET

    record = failed_record()
    record["name"] = 'a"<b>&\x07'
    record["reason"] = "line1\nline2"
    root = ET.fromstring(results.junit_xml([record], suite_name="s&s"))
    case = root.find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == 'a"<b>&\ufffd'
    assert root.get("name") == "s&s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b]8;;https://x.example\x07link\x1b]8;;\x1b\\", "link"),
        ("a\x1bMb", "ab"),
        ("bell\x07 nul\x00 tab\t ok", "bell\ufffd nul\ufffd tab\t ok"),
        ("\ud800 \ufffe \U0001f600", "\ufffd \ufffd \U0001f600"),
    ],
)
def test_xml_safe(text: str, expected: str) -> None:
    assert results.xml_safe(text) == expected


def test_junit_empty_run() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(results.junit_xml([]))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("0", "0", "0")


# ---------------------------------------------------------------- GitHub Actions


def test_escape_data_and_property() -> None:
    assert ci.escape_data("50%\r\nnext: a, b") == "50%25%0D%0Anext: a, b"
    assert ci.escape_property("50%\r\nnext: a, b") == "50%25%0D%0Anext%3A a%2C b"
    # % first: a literal "%0A" must not come out as a newline
    assert ci.escape_data("%0A") == "%250A"


def test_github_annotations() -> None:
    lines = ci.github_annotations(all_records())
    assert lines == [
        "::error title=vrun session lint failed::command `ruff check 'src tests'` exited with status 3",
        "::warning title=vrun session test-3.13 skipped::no interpreter matches python = '3.13'",
        "::error title=vrun session docs failed::could not install requirements: pip exited with status 1",
    ]


def test_github_annotations_escape_properties_and_data() -> None:
    record = failed_record()
    record["name"] = "odd:name,100%"
    record["commands"][0]["argv"] = ["sh", "-c", "echo 1\necho 2%"]
    (line,) = ci.github_annotations([record])
    assert line == (
        "::error title=vrun session odd%3Aname%2C100%25 failed::"
        "command `sh -c 'echo 1%0Aecho 2%25'` exited with status 3"
    )
    assert "\n" not in line and "\r" not in line


def test_messages_name_a_program_of_the_env_as_the_log_echoes_it() -> None:
    """The report keeps the path that ran; the annotation, the JUnit message and the step summary
    say the command as written (a program from outside the env keeps its path)."""
    record = failed_record()
    record["commands"][0]["argv"] = ["/src/proj/.venvs/lint-448bc57249/bin/ruff", "check", "src tests"]
    assert results.failure_message(record) == "command failed with exit code 3: ruff check 'src tests'"
    (line,) = ci.github_annotations([record])
    assert line.endswith("::command `ruff check 'src tests'` exited with status 3")
    assert (
        "<failure message=\"command failed with exit code 3: ruff check 'src tests'\">"
        in results.junit_xml([record])
    )
    record["commands"][0]["argv"][0] = "/usr/bin/ruff"
    assert results.failure_message(record).endswith(": /usr/bin/ruff check 'src tests'")


def test_group_helpers() -> None:
    assert ci.github_group_start("vrun test\n100%") == "::group::vrun test%0A100%25"
    assert ci.github_group_end() == "::endgroup::"


def test_step_summary_table() -> None:
    text = ci.step_summary(all_records())
    lines = text.splitlines()
    assert lines[2] == "| session | python | status | duration | reason |"
    assert lines[4] == "| test-3.11 | 3.11.7 | passed | 1.2s |  |"
    assert lines[5] == (
        "| lint | 3.12.1 | failed | 0.5s | command failed with exit code 3: ruff check 'src tests' |"
    )
    assert lines[6] == "| test-3.13 | 3.13 | skipped | 0.0s | no interpreter matches python = '3.13' |"
    assert lines[-1] == "1 passed, 2 failed, 1 skipped in 4.8s"
    # no emoji or other pictographs anywhere
    assert all(ord(ch) < 0x2000 for ch in text)


def test_step_summary_escapes_cells() -> None:
    record = skipped_record()
    record["reason"] = "a | b\n<script> `x`"
    row = ci.step_summary([record]).splitlines()[4]
    assert row.endswith("| a \\| b \\<script\\> \\`x\\` |")
    assert row.count(" | ") == 4  # five cells, the escaped pipe not among the separators


def test_append_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier output\n", encoding="utf-8")
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert ci.append_step_summary(environ, [passed_record()]) is True
    assert ci.append_step_summary(environ, [failed_record()]) is True
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier output\n### vrun\n")
    assert text.count("### vrun") == 2
    assert "| lint | 3.12.1 | failed |" in text


def test_append_step_summary_without_variable(tmp_path: Path) -> None:
    assert ci.append_step_summary({}, [passed_record()]) is False
    assert ci.append_step_summary({"GITHUB_STEP_SUMMARY": ""}, [passed_record()]) is False


# ---------------------------------------------------------------- CI detection and GitLab sections


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"CI": "true"}, "ci"),
        ({"CI": "1"}, "ci"),
        ({"CI": "yes"}, "ci"),
        ({"CI": "woodpecker"}, "ci"),
        ({"CI": "false"}, None),
        ({"CI": "FALSE"}, None),
        ({"CI": "0"}, None),
        ({"CI": ""}, None),
        ({"CI": "no"}, None),
        ({"GITHUB_ACTIONS": "true", "CI": "true"}, "github-actions"),
        ({"GITHUB_ACTIONS": "false"}, None),
        ({"GITHUB_ACTIONS": "true", "CI": "false"}, "github-actions"),
        ({"GITLAB_CI": "true"}, "gitlab-ci"),
        ({"TF_BUILD": "True"}, "azure-pipelines"),
        ({"BUILDKITE": "true"}, "buildkite"),
        ({"CIRCLECI": "true"}, "circleci"),
        ({"CIRRUS_CI": "true"}, "cirrus-ci"),
        ({"TRAVIS": "true"}, "travis-ci"),
        ({"JENKINS_URL": "https://ci.example/"}, "jenkins"),
        ({"APPVEYOR": "True"}, "appveyor"),
        ({"TEAMCITY_VERSION": "2023.05"}, "teamcity"),
        ({"TEAMCITY_VERSION": "LOCAL"}, None),
        ({"BITBUCKET_BUILD_NUMBER": "7"}, "bitbucket-pipelines"),
        ({"CODEBUILD_BUILD_ID": "proj:1"}, "aws-codebuild"),
        ({"DRONE": "true"}, "drone"),
        ({"HEROKU_TEST_RUN_ID": "x"}, "heroku-ci"),
        ({"bamboo.buildKey": "K"}, "bamboo"),
        ({"BUILD_ID": "42"}, None),
    ],
)
def test_ci_name(environ: dict[str, str], expected: str | None) -> None:
    assert output.ci_name(environ) == expected


def test_gitlab_sections() -> None:
    start = ci.gitlab_section_start("test-3.11", "vrun test-3.11\nnext", timestamp=1700000000)
    assert start == "\x1b[0Ksection_start:1700000000:test-3.11[collapsed=true]\r\x1b[0Kvrun test-3.11 next"
    assert ci.gitlab_section_end("test-3.11", timestamp=1700000005) == (
        "\x1b[0Ksection_end:1700000005:test-3.11\r\x1b[0K"
    )
    opened = ci.gitlab_section_start("a b/c", "t", collapsed=False, timestamp=1)
    assert opened == "\x1b[0Ksection_start:1:a_b_c\r\x1b[0Kt"
    now = int(time.time())
    stamp = int(re.findall(r"section_end:(\d+):", ci.gitlab_section_end("x"))[0])
    assert now <= stamp <= now + 5


def test_fold_start_and_end() -> None:
    github = {"GITHUB_ACTIONS": "true", "CI": "true"}
    assert ci.fold_start(github, "lint", "vrun lint") == "::group::vrun lint"
    assert ci.fold_end(github, "lint") == "::endgroup::"
    gitlab = {"GITLAB_CI": "true", "CI": "true"}
    start = ci.fold_start(gitlab, "lint", "vrun lint")
    assert start is not None and start.startswith("\x1b[0Ksection_start:")
    assert start.endswith(":lint[collapsed=true]\r\x1b[0Kvrun lint")
    end = ci.fold_end(gitlab, "lint")
    assert end is not None and end.startswith("\x1b[0Ksection_end:")
    assert ci.fold_start({"CI": "true"}, "lint", "vrun lint") is None
    assert ci.fold_end({}, "lint") is None


def test_module_imports_light() -> None:
    """A warm run may import vrun.report.results: it must not pull in typing, logging, dataclasses, json or xml."""
    code = "import sys; before = set(sys.modules); import vrun.report.results; print(sorted(set(sys.modules) - before))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    ).stdout
    loaded = set(ast.literal_eval(out))
    heavy = {"typing", "logging", "dataclasses", "json", "xml.etree.ElementTree", "platform", "shlex", "re"}
    assert not loaded & heavy, loaded & heavy
