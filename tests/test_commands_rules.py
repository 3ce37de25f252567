"""What a session's command may run and with what: program lookup, exit statuses, environment rules.

Real envs, real processes, offline: each test builds at most one or two envs (no deps, no
project) and drives them through the real command line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project
from vrun.process import is_python_script, resolve_program

#: A console script of "another interpreter": prints GLOBAL when it runs.
GLOBAL_SCRIPT = f'#!{sys.executable}\nimport sys\nprint("GLOBAL")\nsys.exit(0)\n'
#: pip's form for an interpreter path too long for a ``#!`` line.
LONG_SHEBANG_SCRIPT = (
    "#!/bin/sh\n"
    f"'''exec' {sys.executable} \"$0\" \"$@\"\n"
    "' '''\n"
    'import sys\nprint("GLOBAL-LONG")\nsys.exit(0)\n'
)


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def global_bin(tmp_path: Path, vrun: Vrun) -> Path:
    """A directory first on the caller's PATH holding a global ``pytest``, a long-shebang
    ``longtool`` (both Python console scripts) and ``mytool`` (a shell script)."""
    bin_dir = tmp_path / "globalbin"
    executable(bin_dir / "pytest", GLOBAL_SCRIPT)
    executable(bin_dir / "longtool", LONG_SHEBANG_SCRIPT)
    executable(bin_dir / "mytool", "#!/bin/sh\necho TOOL-RAN\n")
    vrun.env["PATH"] = f"{bin_dir}{os.pathsep}{vrun.env['PATH']}"
    return bin_dir


# --- program lookup -----------------------------------------------------------------------------


def test_python_script_detection(tmp_path: Path) -> None:
    assert is_python_script(str(executable(tmp_path / "a", GLOBAL_SCRIPT)))
    assert is_python_script(str(executable(tmp_path / "b", "#!/usr/bin/env python3\nprint(1)\n")))
    assert is_python_script(str(executable(tmp_path / "c", LONG_SHEBANG_SCRIPT)))
    assert not is_python_script(str(executable(tmp_path / "d", "#!/bin/sh\necho hi\n")))
    assert not is_python_script("/bin/true")


def test_resolve_program_rules(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    executable(env_dir / "bin" / "inenv", GLOBAL_SCRIPT)
    other = tmp_path / "other"
    script = executable(other / "pytest", GLOBAL_SCRIPT)
    environ = {"PATH": f"{env_dir / 'bin'}{os.pathsep}{other}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    kw = {"cwd": str(tmp_path), "env_dir": str(env_dir)}

    assert resolve_program(["inenv", "x"], environ, **kw) == ([str(env_dir / "bin" / "inenv"), "x"], None)
    from vrun.errors import CommandNotFoundError

    with pytest.raises(CommandNotFoundError) as info:
        resolve_program(["pytest"], environ, **kw)
    assert info.value.exit_code == 127 and str(script) in info.value.message
    assert info.value.hint is not None and "deps" in info.value.hint and "external" in info.value.hint
    assert resolve_program(["pytest"], environ, external=["pytest"], **kw) == ([str(script)], None)
    assert resolve_program(["pytest"], environ, external=[str(script)], **kw) == ([str(script)], None)
    argv, note = resolve_program(["true"], environ, **kw)
    assert os.path.basename(argv[0]) == "true" and note is not None and "\n" not in note


def test_global_console_script_of_another_python_is_refused_unless_external(
    project: Path, vrun: Vrun, global_bin: Path
) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.bare]
                install_project = false
                commands = ["pytest -q"]

                [sessions.ext]
                install_project = false
                external = ["pytest"]
                commands = ["pytest -q"]
            """,
        },
    )
    refused = vrun("bare", check=127)  # one failed session: its own status
    assert f"({global_bin / 'pytest'})" in refused.stderr
    assert "deps" in refused.stderr and 'external = ["pytest"]' in refused.stderr
    assert "GLOBAL" not in refused.stdout
    assert "Traceback" not in refused.stderr

    allowed = vrun("ext", check=0)
    assert "GLOBAL" in allowed.stdout
    assert "not in the env" not in allowed.stderr  # listed: no note

    long_form = vrun("run", "bare", "--", "longtool", check=127)
    assert str(global_bin / "longtool") in long_form.stderr and "GLOBAL-LONG" not in long_form.stdout

    other = vrun("run", "bare", "--", "mytool", check=0)
    assert "TOOL-RAN" in other.stdout
    notes = [line for line in other.stderr.splitlines() if "mytool" in line]
    assert notes == [  # echoed, then the note, as for a session's command
        "vrun > mytool",
        f"vrun > mytool is not in the env; running {global_bin / 'mytool'} from PATH",
    ]


# --- exit statuses ------------------------------------------------------------------------------


def test_exit_statuses(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                commands = ["python -c pass"]

                [sessions.segv]
                install_project = false
                commands = [["python", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]]

                [sessions.own139]
                install_project = false
                commands = [["python", "-c", "import sys; sys.exit(139)"]]

                [sessions.three]
                install_project = false
                commands = [["python", "-c", "import sys; sys.exit(3)"]]

                [sessions.five]
                install_project = false
                commands = [["python", "-c", "import sys; sys.exit(5)"]]

                [sessions.missing]
                install_project = false
                commands = ["no-such-program-xyz"]
            """,
            "noexec.sh": "#!/bin/sh\necho hi\n",
            "badinterp.sh": "#!/nonexistent/interpreter\necho hi\n",
        },
    )
    (project / "badinterp.sh").chmod(0o755)
    env_dir = Path(vrun("path", "--build", "s", check=0).stdout.strip())
    (env_dir / "bin" / "noexec-tool").write_text("#!/bin/sh\necho hi\n")  # no x bit

    not_exec = vrun("run", "s", "--", "noexec-tool", check=126)
    assert str(env_dir / "bin" / "noexec-tool") in not_exec.stderr
    vrun("run", "s", "--", "./noexec.sh", check=126)
    bad = vrun("run", "s", "--", "./badinterp.sh", check=126)
    assert "Traceback" not in bad.stderr and "/nonexistent/interpreter" in bad.stderr

    def session_statuses(*names: str, status: int) -> tuple[subprocess.CompletedProcess[str], list[int]]:
        """Run ``names`` expecting vrun's ``status``; each session's own status is in the report."""
        proc = vrun("--report", "r.json", *names, check=status)
        report = json.loads((project / "r.json").read_text())
        return proc, [s["exit_code"] for s in report["sessions"]]

    # one session: vrun exits with its failing command's status, as tox 4 does
    missing, statuses = session_statuses("missing", status=127)
    assert "command 'no-such-program-xyz' not found" in missing.stderr and statuses == [127]
    segv, statuses = session_statuses("segv", status=128 + signal.SIGSEGV)
    assert "command killed by SIGSEGV (exit 139)" in segv.stderr and statuses == [128 + signal.SIGSEGV]
    own, statuses = session_statuses("own139", status=139)
    assert "exit code 139" in own.stderr and "SIGSEGV" not in own.stderr and statuses == [139]
    assert session_statuses("three", status=3)[1] == [3]
    # several: 1, each session's own status in the report
    assert session_statuses("five", "three", status=1)[1] == [5, 3]
    assert session_statuses("s", "three", status=1)[1] == [0, 3]


# --- environment rules --------------------------------------------------------------------------

PRINT_ENV = (
    "import json, os; print('ENV=' + json.dumps({k: os.environ.get(k) for k in "
    "['PYTHONNOUSERSITE', 'PIP_ROOT', 'PIP_TARGET', 'UV_SYSTEM_PYTHON', 'UV_PYTHON', 'OTHER', 'PATH']}))"
)


def printed_env(stdout: str) -> dict[str, str | None]:
    import json

    (line,) = [ln for ln in stdout.splitlines() if ln.startswith("ENV=")]
    data: dict[str, str | None] = json.loads(line[4:])
    return data


def test_redirecting_variables_never_reach_commands(project: Path, vrun: Vrun) -> None:
    (project / "tools").mkdir(parents=True)
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.all]
                install_project = false
                pass_env = ["*"]
                env = {{ PATH = "tools" }}
                commands = [["python", "-c", "{PRINT_ENV}"]]

                [sessions.named]
                install_project = false
                pass_env = ["PIP_ROOT", "PIP_TARGET", "UV_*"]
                commands = [["python", "-c", "{PRINT_ENV}"]]
            """,
        },
    )
    vrun.env.update(
        PYTHONNOUSERSITE="1",
        PIP_ROOT="/tmp/elsewhere-root",
        PIP_TARGET="/tmp/elsewhere-target",
        UV_SYSTEM_PYTHON="1",
        UV_PYTHON="/usr/bin/python3",
        OTHER="other",
    )
    for name in ("all", "named"):
        got = printed_env(vrun(name, check=0).stdout)
        assert got["PYTHONNOUSERSITE"] == "1"
        assert got["PIP_ROOT"] is None and got["PIP_TARGET"] is None
        assert got["UV_SYSTEM_PYTHON"] is None and got["UV_PYTHON"] is None
    got = printed_env(vrun("all", check=0).stdout)
    assert got["OTHER"] == "other"
    path = (got["PATH"] or "").split(os.pathsep)
    (env_dir,) = (p for p in (project / ".venvs").glob("all-*") if p.is_dir() and not p.is_symlink())
    assert path[:2] == [str(env_dir / "bin"), str(project / "tools")]
    assert path[2:] == list(dict.fromkeys(p for p in vrun.env["PATH"].split(os.pathsep) if p))


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ('env = { VIRTUAL_ENV = "/x" }', "sessions.s.env.VIRTUAL_ENV", "cannot set VIRTUAL_ENV"),
        ('env = { PYTHONHOME = "/x" }', "sessions.s.env.PYTHONHOME", "cannot set PYTHONHOME"),
        ('pass_env = ["A=1"]', "sessions.s.pass_env[0]", "set values in env"),
        ('pass_env = ["has space"]', "sessions.s.pass_env[0]", "not a variable name or glob"),
        ("timeout = 0", "sessions.s.timeout", "positive number of seconds"),
        ('timeout = "1"', "sessions.s.timeout", "positive number of seconds"),
        ('external = ["bin/x"]', "sessions.s.external[0]", "neither a program name nor an absolute path"),
    ],
)
def test_config_errors_name_the_key(project: Path, vrun: Vrun, body: str, key: str, words: str) -> None:
    write_project(
        project,
        {"vrun.toml": f'[sessions.s]\ninstall_project = false\n{body}\ncommands = ["python -c pass"]\n'},
    )
    proc = vrun("s", check=2)
    assert key in proc.stderr and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project / ".venvs").exists() or not list((project / ".venvs").glob("s-*"))
