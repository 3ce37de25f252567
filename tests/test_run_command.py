"""``vrun run SESSION -- CMD`` runs CMD as a session command runs: the one composition
(:func:`vrun.run.compose.compose`) and the one way to start a command (:func:`vrun.run.loop.run_composed`).

Real envs and real processes, offline; vrun in a process group of its own with stdin not a
terminal, so its command gets its own process group, as in CI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import Vrun, write_project
from tests.test_containment import PARENT, STUBBORN, alive, no_vrun_traceback, read_pid


def project_with(project: Path, extra: str = "") -> None:
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.s]
                install_project = false
                {extra}
                commands = ["python -c 'print(1)'"]
            """
        },
    )


def test_vrun_run_past_the_sessions_timeout_exits_124_and_kills_the_commands_group(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    project_with(project, "timeout = 1")
    vrun("path", "--build", "s", check=0)
    grandchild_file, child_file = tmp_path / "grandchild.pid", tmp_path / "child.pid"
    stubborn_parent = PARENT.replace("import os,", "import os, signal,").replace(
        "time.sleep(600)", "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    )
    argv = ["python", "-c", stubborn_parent, str(grandchild_file), str(child_file), STUBBORN]
    vrun.env["VRUN_KILL_GRACE"] = "0.3"
    proc = vrun("run", "s", "--", *argv, check=124, stdin=subprocess.DEVNULL, start_new_session=True)
    assert "vrun > error: timed out after 1s (timeout = 1): python -c " in proc.stderr
    assert no_vrun_traceback(proc.stderr)
    for pid_file in (child_file, grandchild_file):  # the command and what it started: all gone
        pid = read_pid(pid_file)
        assert pid is not None and not alive(pid)


def test_vrun_run_echoes_its_command_line_as_a_session_command_is_echoed(project: Path, vrun: Vrun) -> None:
    project_with(project)
    session = vrun("s", check=0)
    run = vrun("run", "s", "--", "python", "-c", "print(1)", check=0)
    line = "vrun > python -c 'print(1)'"
    assert line in session.stderr.splitlines()
    assert line in run.stderr.splitlines()
    assert run.stdout == "1\n"
    quiet = vrun("run", "-q", "s", "--", "python", "-c", "print(1)", check=0)
    assert line not in quiet.stderr.splitlines()  # the same level as the loop's: not under -q


def test_vrun_run_keeps_the_commands_own_status_within_the_timeout(project: Path, vrun: Vrun) -> None:
    project_with(project, "timeout = 600")
    vrun("run", "s", "--", "python", "-c", "raise SystemExit(5)", check=5)
    killed = vrun("run", "s", "--", "python", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert killed.returncode == 143, killed.stderr
    assert "timed out" not in killed.stderr


def test_vrun_run_runs_in_the_current_directory_not_the_sessions_cwd(project: Path, vrun: Vrun) -> None:
    project_with(project, 'cwd = "sub"')
    (project / "sub").mkdir()
    here = vrun("run", "s", "--", "python", "-c", "import os; print(os.getcwd())", check=0)
    assert here.stdout.strip() == str(project)
    assert "(in " not in here.stderr


def test_show_and_a_report_compose_commands_as_the_run_does(project: Path, vrun: Vrun) -> None:
    """The set_env value a command reads through ``{env:VAR}`` is the one the session sets, in
    ``vrun show``, in the report of commands that did not run, and in the run."""
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                env = { GREETING = "from-set-env" }
                commands = ["no-such-program-xyz {env:GREETING}", "python -c pass {env:GREETING}"]
            """
        },
    )
    vrun.env["GREETING"] = "from-caller"
    shown = json.loads(vrun("show", "s", "--json", check=0).stdout)[0]
    assert [c["argv"] for c in shown["commands"]] == [
        ["no-such-program-xyz", "from-set-env"],
        ["python", "-c", "pass", "from-set-env"],
    ]
    vrun("--report", "r.json", "s", check=127)
    (session,) = json.loads((project / "r.json").read_text())["sessions"]
    assert [c["argv"] for c in session["commands"]] == [c["argv"] for c in shown["commands"]]
    assert [c["exit_code"] for c in session["commands"]] == [None, None]


def test_show_leaves_a_value_it_cannot_expand_yet_as_written(project: Path, vrun: Vrun) -> None:
    """``{env_site_packages_dir}`` of an env not built yet: ``vrun show`` shows it, as it shows
    such a command, instead of failing."""
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                env = { SITE = "{env_site_packages_dir}" }
                commands = ["python -c pass {env_site_packages_dir}"]
            """
        },
    )
    shown = json.loads(vrun("show", "s", "--json", check=0).stdout)[0]
    assert shown["set_env"] == {"SITE": "{env_site_packages_dir}"}
    assert shown["commands"][0]["argv"] == ["python", "-c", "pass", "{env_site_packages_dir}"]
