"""End to end: the real CLI builds real envs offline and runs real commands in them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Vrun, demo_project, import_trace, other_python, write_project

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
#: One session ``s`` that installs nothing and runs a no-op: for tests about the env, not its contents.
NOOP = {"vrun.toml": '[sessions.s]\ninstall_project = false\ncommands = ["python -c pass"]\n'}


def envs_of(project: Path, session: str) -> list[Path]:
    return sorted(
        p
        for p in (project / ".venvs").glob(f"{session}-*")
        if p.is_dir() and not p.is_symlink() and "." not in p.name[-11:]
    )


def test_build_then_reuse_without_installing(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "requirements.txt": "alpha==1.0\n",
            "vrun.toml": """
                [sessions.test]
                deps = ["-r requirements.txt", "greet"]
                install_project = false
                commands = ["greet hello", "python -c 'import alpha; print(alpha.VERSION)'"]
            """,
        },
    )
    first = vrun("test", check=0)
    assert "creating env test-" in first.stderr
    assert "greet: hello" in first.stdout
    assert "1.0" in first.stdout
    (env,) = envs_of(project, "test")
    marker = json.loads((env / "vrun.json").read_text())
    assert marker["session"] == "test" and env.name == f"test-{marker['digest']}"
    assert os.readlink(project / ".venvs" / "test") == env.name
    assert (project / ".venvs" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (
        (project / ".venvs" / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )

    second = vrun("test", check=0)
    assert "creating env" not in second.stderr
    assert f"reusing env {env.name}" in second.stderr
    assert "greet: hello" in second.stdout
    assert envs_of(project, "test") == [env]


def test_changed_requirements_file_makes_new_env_and_revert_reuses_old(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "requirements.txt": "alpha==1.0\n",
            "vrun.toml": """
                [sessions.test]
                deps = ["-r requirements.txt"]
                install_project = false
                commands = ["python -c 'import alpha; print(alpha.VERSION)'"]
            """,
        },
    )
    vrun("test", check=0)
    (old,) = envs_of(project, "test")
    (project / "requirements.txt").write_text("alpha==2.0\n")
    changed = vrun("test", check=0)
    assert "requirements changed: requirements.txt" in changed.stderr
    assert "2.0" in changed.stdout
    assert len(envs_of(project, "test")) == 2
    (project / "requirements.txt").write_text("alpha==1.0\n")
    reverted = vrun("test", check=0)
    assert "creating env" not in reverted.stderr
    assert f"reusing env {old.name}" in reverted.stderr
    assert "1.0" in reverted.stdout


def test_nested_requirement_and_constraint_files_are_keyed_by_content(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "reqs/base.txt": "-r more.txt\n-c ../constraints.txt\n",
            "reqs/more.txt": "beta\n",
            "constraints.txt": "alpha==1.0\n",
            "vrun.toml": """
                [sessions.test]
                deps = ["-r reqs/base.txt"]
                install_project = false
                commands = ["python -c 'import alpha; print(\\"alpha\\", alpha.VERSION)'"]
            """,
        },
    )
    assert "alpha 1.0" in vrun("test", check=0).stdout
    (project / "constraints.txt").write_text("alpha==2.0\n")
    run = vrun("test", check=0)
    assert "constraints changed: constraints.txt" in run.stderr
    assert "alpha 2.0" in run.stdout
    (project / "reqs/more.txt").write_text("beta\ngreet\n")
    assert "requirements changed: reqs/more.txt" in vrun("test", check=0).stderr


def test_commands_run_in_env_without_activation_and_with_clean_environment(
    project: Path, vrun: Vrun, tmp_path: Path
) -> None:
    write_project(
        project,
        {
            "show.py": """
                import os, sys
                print("prefix=" + sys.prefix)
                print("venv=" + os.environ["VIRTUAL_ENV"])
                print("path0=" + os.environ["PATH"].split(os.pathsep)[0])
                for k in ("PYTHONPATH", "PYTHONHOME", "PIP_USER", "KEEP_ME", "DROP_ME", "GREETING"):
                    print(k + "=" + os.environ.get(k, "-"))
                print("stale_in_path=" + str(any("stale-venv" in p for p in os.environ["PATH"].split(os.pathsep))))
            """,
            "vrun.toml": """
                [sessions.envdump]
                install_project = false
                pass_env = ["KEEP_ME"]
                env = { GREETING = "hi from {session}" }
                commands = ["python show.py"]
            """,
        },
    )
    stale = tmp_path / "stale-venv"
    (stale / "bin").mkdir(parents=True)
    vrun.env.update(
        PYTHONPATH="/leak",
        PYTHONHOME=sys.base_prefix,  # valid for vrun itself; must not reach the env
        PIP_USER="1",
        KEEP_ME="kept",
        DROP_ME="dropped",
        VIRTUAL_ENV=str(stale),
        PATH=f"{stale / 'bin'}{os.pathsep}{vrun.env['PATH']}",
    )
    out = vrun("envdump", check=0).stdout
    (env,) = envs_of(project, "envdump")
    assert f"prefix={env}" in out
    assert f"venv={env}" in out
    assert f"path0={env / 'bin'}" in out
    for line in (
        "PYTHONPATH=-",
        "PYTHONHOME=-",
        "PIP_USER=-",
        "KEEP_ME=kept",
        "DROP_ME=-",
        "GREETING=hi from envdump",
    ):
        assert line in out
    assert "stale_in_path=False" in out


def test_pythonpath_passes_only_when_named(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.envdump]
                install_project = false
                pass_env = ["PYTHONPATH"]
                commands = [["python", "-c", "import os; print('PP=' + os.environ.get('PYTHONPATH', '-'))"]]
            """,
        },
    )
    vrun.env["PYTHONPATH"] = "/explicit"
    assert "PP=/explicit" in vrun("envdump", check=0).stdout


def test_posargs_defaults_and_errors(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.greet]
                deps = ["greet"]
                install_project = false
                commands = ["greet {posargs:default words} --session={session}"]
                [sessions.plain]
                install_project = false
                commands = ["python -c pass"]
            """,
        },
    )
    assert "greet: default words --session=greet" in vrun("greet", check=0).stdout
    assert "greet: a 'b c' --session=greet" in vrun("greet", "--", "a", "'b c'", check=0).stdout
    assert "greet: --session=greet" in vrun("greet", "--", check=0).stdout
    bad = vrun("plain", "--", "-x", check=2)
    assert "session plain does not take posargs" in bad.stderr
    assert "{posargs}" in bad.stderr


def test_exit_codes_pass_through_and_summary(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.ok]
                install_project = false
                commands = ["python -c pass"]
                [sessions.three]
                install_project = false
                commands = ["python -c 'raise SystemExit(3)'", "python -c 'print(\\"never\\")'"]
                [sessions.killed]
                install_project = false
                commands = ["python -c 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)'"]
                [sessions.missing]
                install_project = false
                commands = ["no-such-program-xyz --flag"]
            """,
        },
    )
    run = vrun("ok", "three", check=1)
    assert "never" not in run.stdout
    assert "command failed with exit code 3" in run.stderr
    summary = run.stderr[run.stderr.index("session  ") :]
    assert "ok" in summary and "passed" in summary and "failed" in summary
    assert "command killed by SIGKILL" in vrun("killed", check=128 + 9).stderr  # one session: its status
    missing = vrun("missing", check=127)
    assert "'no-such-program-xyz' not found in the env" in missing.stderr
    assert "nor on PATH" in missing.stderr


def test_requires_runs_first_and_failure_skips_dependant(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.build]
                install_project = false
                commands = ["python -c 'print(\\"built\\")'"]
                [sessions.broken]
                install_project = false
                commands = ["python -c 'raise SystemExit(1)'"]
                [sessions.after]
                install_project = false
                requires = ["build"]
                commands = ["python -c 'print(\\"after\\")'"]
                [sessions.blocked]
                install_project = false
                requires = ["broken"]
                commands = ["python -c 'print(\\"blocked ran\\")'"]
            """,
        },
    )
    run = vrun("after", check=0)
    assert run.stdout.index("built") < run.stdout.index("after")
    blocked = vrun("blocked", check=1)
    assert "blocked ran" not in blocked.stdout
    assert "requires broken, which did not pass" in blocked.stderr


def test_missing_interpreter_errors_or_skips(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.future]
                python = "3.99"
                install_project = false
                commands = ["python -c pass"]
            """,
        },
    )
    err = vrun("future", check=2)
    assert "no Python matching '3.99' for session future" in err.stderr
    skipped = vrun("future", "--skip-missing-interpreters", check=1)  # nothing ran: not a pass
    assert "skipped" in skipped.stderr
    assert "passed" not in skipped.stderr
    write_project(project, {"vrun.toml": (project / "vrun.toml").read_text() + NOW})
    mixed = vrun("now", "future", "--skip-missing-interpreters", check=0)  # one ran, one skipped
    assert "skipping future: no interpreter for '3.99'" in mixed.stderr
    vrun.env["CI"] = "true"
    vrun("future", "--skip-missing-interpreters", check=2)
    vrun("now", "future", "--skip-missing-interpreters", check=1)


#: A session on the interpreter running vrun, beside one whose Python is missing.
NOW = """
[sessions.now]
install_project = false
commands = ["python -c pass"]
"""


def test_no_install_and_recreate(project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    refused = vrun("s", "--no-install", check=1)
    assert "has no ready env" in refused.stderr
    assert not envs_of(project, "s")
    vrun("s", check=0)
    assert "reusing env" in vrun("s", "--no-install", check=0).stderr
    (env,) = envs_of(project, "s")
    (env / "sentinel").write_text("x")
    again = vrun("s", "-r", check=0)
    assert "creating env" in again.stderr and "--recreate" in again.stderr
    assert not (env / "sentinel").exists()


def test_failed_install_shows_output_and_leaves_no_env(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                deps = ["nosuchpkg-xyz>=1"]
                install_project = false
                commands = ["python -c pass"]
            """,
        },
    )
    run = vrun("s", check=1)
    assert "could not install nosuchpkg-xyz" in run.stderr
    assert "nosuchpkg-xyz was not found" in run.stderr  # uv's own output, shown
    assert not envs_of(project, "s")


def test_incomplete_build_is_wiped_and_rebuilt(project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    vrun("s", check=0)
    (env,) = envs_of(project, "s")
    (env / "vrun.json").unlink()  # as if the build had been interrupted
    (env / "half-written").write_text("x")
    run = vrun("s", check=0)
    assert "previous build was incomplete" in run.stderr
    assert (env / "vrun.json").exists() and not (env / "half-written").exists()


def test_env_whose_interpreter_vanished_is_rebuilt(project: Path, vrun: Vrun) -> None:
    write_project(project, NOOP)
    vrun("s", check=0)
    (env,) = envs_of(project, "s")
    marker = json.loads((env / "vrun.json").read_text())
    marker["interpreter"]["base_executable"] = "/nonexistent/python3"
    (env / "vrun.json").write_text(json.dumps(marker))
    assert "its interpreter is gone" in vrun("s", check=0).stderr


def test_editable_project_and_metadata_change(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        demo_project(
            dependencies=["alpha==1.0"],
            tables="""
                [tool.vrun.sessions.test]
                commands = ["python -c 'import demo, alpha; print(demo.WORD, alpha.VERSION)'"]
            """,
        ),
    )
    assert "one 1.0" in vrun("test", check=0).stdout
    (project / "src/demo/__init__.py").write_text("WORD = 'two'\n")
    edited = vrun("test", check=0)
    assert "two 1.0" in edited.stdout and "creating env" not in edited.stderr
    text = (project / "pyproject.toml").read_text().replace("alpha==1.0", "alpha==2.0")
    (project / "pyproject.toml").write_text(text)
    changed = vrun("test", check=0)
    assert "project metadata changed: pyproject.toml" in changed.stderr
    assert "two 2.0" in changed.stdout


def test_dependency_group_and_matrix(project: Path, vrun: Vrun) -> None:
    other = other_python(vrun.env)
    write_project(
        project,
        {
            "pyproject.toml": """
                [dependency-groups]
                base = ["alpha==2.0"]
                test = [{include-group = "base"}, "greet"]
            """,
            "vrun.toml": f"""
                [sessions.grp]
                python = ["{PY}", "{other}"]
                groups = ["test"]
                install_project = false
                commands = ["python -c 'import sys, alpha; print(sys.version_info[:2], alpha.VERSION)'", "greet ok"]
            """,
        },
    )
    run = vrun("grp", check=0)
    major, minor = PY.split(".")
    assert f"({major}, {minor}) 2.0" in run.stdout
    assert f"(3, {other.split('.')[1]}) 2.0" in run.stdout
    assert {p.name.rsplit("-", 1)[0] for p in envs_of(project, "grp")} == {f"grp-{PY}", f"grp-{other}"}


def test_concurrent_runs_build_once(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                deps = ["alpha"]
                install_project = false
                commands = ["python -c pass"]
            """,
        },
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "vrun", "s"],
            cwd=project,
            env=vrun.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert sum("creating env" in err for _out, err in outs) == 1
    assert len(envs_of(project, "s")) == 1


def test_sigterm_reaches_command_and_vrun_exits_143(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    flag = tmp_path / "started"
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.sleep]
                install_project = false
                commands = [["python", "-c", "import pathlib, time; pathlib.Path({str(flag)!r}).touch(); time.sleep(60)"]]
            """,
        },
    )
    vrun("sleep", "--no-install", check=1)  # not built yet; builds nothing
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrun", "sleep"],
        cwd=project,
        env=vrun.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 143
    children = subprocess.run(["pgrep", "-f", str(flag)], check=False, capture_output=True, text=True)
    assert children.stdout.strip() == ""


def test_sigint_gives_130(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    flag = tmp_path / "started"
    write_project(
        project,
        {
            "vrun.toml": f"""
                [sessions.sleep]
                install_project = false
                commands = [["python", "-c", "import pathlib, time; pathlib.Path({str(flag)!r}).touch(); time.sleep(60)"]]
            """,
        },
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrun", "sleep"],
        cwd=project,
        env=vrun.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130


def test_warm_run_imports_no_virtualenv_pip_or_discovery(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.noop]
                install_project = false
                commands = ["python -c pass"]
            """,
        },
    )
    vrun("noop", check=0)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vrun", "noop"],
        cwd=project,
        env=vrun.env,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {name.split(".")[0] for name in import_trace(proc.stderr)[0]}
    assert "vrun" in imported
    assert not imported & {"virtualenv", "pip", "python_discovery", "filelock", "dependency_groups"}


def test_list_shows_env_states(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "requirements.txt": "alpha\n",
            "vrun.toml": """
                default = ["a"]
                [sessions.a]
                description = "first one"
                deps = ["-r requirements.txt"]
                install_project = false
                tags = ["fast"]
                [sessions.b]
                install_project = false
            """,
        },
    )
    vrun("a", check=0)
    listing = vrun("list", check=0).stdout
    assert any(
        line.startswith("* a") and "ready" in line and "first one" in line and "fast" in line
        for line in listing.splitlines()
    )
    assert any(line.startswith("  b") and "absent" in line for line in listing.splitlines())
    (project / "requirements.txt").write_text("alpha==1.0\n")
    rows = {r["name"]: r for r in json.loads(vrun("list", "--json", check=0).stdout)}
    assert rows["a"]["state"] == "stale"
    assert rows["b"]["state"] == "absent"


def test_keyword_and_tag_selection(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.unit]
                install_project = false
                tags = ["fast"]
                commands = ["python -c 'print(\\"ran unit\\")'"]
                [sessions.integration]
                install_project = false
                commands = ["python -c 'print(\\"ran integration\\")'"]
            """,
        },
    )
    out = vrun("-k", "unit and not integration", check=0).stdout
    assert "ran unit" in out and "ran integration" not in out
    out = vrun("-t", "fast", check=0).stdout
    assert "ran unit" in out and "ran integration" not in out
    out = vrun(check=0).stdout
    assert "ran unit" in out and "ran integration" in out
    bad = vrun("unti", check=2)
    assert "did you mean 'unit'" in bad.stderr


def test_cwd_and_shell_commands(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "sub/marker.txt": "here\n",
            "vrun.toml": """
                [sessions.s]
                install_project = false
                cwd = "sub"
                shell = true
                commands = ["cat marker.txt && echo \\"$VIRTUAL_ENV\\" | grep -q .venvs && echo shell-ok {posargs}"]
            """,
        },
    )
    out = vrun("s", "--", "x y", check=0).stdout
    assert "here" in out and "shell-ok x y" in out


def test_uv_backend_builds_its_own_env(project: Path, vrun: Vrun, tmp_path: Path) -> None:
    pytest.importorskip("uv")
    write_project(
        project,
        demo_project(
            dependencies=["alpha==2.0"],
            source="WORD = 'uv-built'\n",
            tables="""
                [tool.vrun.sessions.test]
                deps = ["greet"]
                commands = ["greet uv", "python -c 'import demo, alpha; print(demo.WORD, alpha.VERSION)'"]
            """,
        ),
    )
    vrun.env.update(
        UV_OFFLINE="1", UV_FIND_LINKS=vrun.env["PIP_FIND_LINKS"], UV_CACHE_DIR=str(tmp_path / "uv")
    )
    run = vrun("--backend", "uv", "test", check=0)
    assert "with uv" in run.stderr
    assert "greet: uv" in run.stdout and "uv-built 2.0" in run.stdout
    (env,) = envs_of(project, "test")
    assert json.loads((env / "vrun.json").read_text())["backend"] == "uv"
    vrun.env["VRUN_BACKEND"] = "uv"
    assert f"reusing env {env.name}" in vrun("test", check=0).stderr
    del vrun.env["VRUN_BACKEND"]
    switched = vrun("--backend", "virtualenv", "test", check=0)
    assert "backend changed" in switched.stderr
    assert len(envs_of(project, "test")) == 2


def test_run_and_path_subcommands(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                deps = ["greet"]
                install_project = false
                pass_env = ["KEEP_ME"]
            """,
        },
    )
    absent = vrun("path", "s", check=1)
    assert "has no ready env" in absent.stderr and absent.stdout == ""
    built = vrun("path", "--build", "s", check=0).stdout.strip()
    (env,) = envs_of(project, "s")
    assert built == str(env)
    assert vrun("path", "s", check=0).stdout.strip() == str(env)
    vrun.env.update(KEEP_ME="kept", DROP_ME="dropped", PYTHONPATH="/leak")
    shown = vrun(
        "run",
        "s",
        "--",
        "python",
        "-c",
        "import os, sys; print(sys.prefix, os.environ.get('KEEP_ME'), os.environ.get('DROP_ME'), os.environ.get('PYTHONPATH'))",
        check=0,
    )
    assert shown.stdout.split() == [str(env), "kept", "None", "None"]
    assert "greet: x" in vrun("run", "s", "--", "greet", "x", check=0).stdout
    vrun("run", "s", "--", "python", "-c", "raise SystemExit(5)", check=5)
    assert "'nope-xyz' not found in the env" in vrun("run", "s", "--", "nope-xyz", check=127).stderr
    assert "needs a command" in vrun("run", "s", check=2).stderr


def test_invalid_python_spec_names_file_and_key(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        {
            "vrun.toml": '[sessions.s]\npython = "banana!"\ninstall_project = false\ncommands = ["python -c pass"]\n'
        },
    )
    err = vrun("s", check=2).stderr
    assert f"{project / 'vrun.toml'}: sessions.s.python: invalid Python spec 'banana!'" in err


def test_extras_wheel_mode_and_system_site_packages(project: Path, vrun: Vrun) -> None:
    write_project(
        project,
        demo_project(
            optional={"fancy": ["beta"]},
            tables="""
                [tool.vrun.sessions.test]
                extras = ["fancy"]
                install_project = "wheel"
                system_site_packages = true
                commands = [
                    "python -c 'import beta, alpha, demo; print(\\"extra ok\\", demo.WORD, demo.__file__)'",
                ]
            """,
        ),
    )
    first = vrun("test", check=0)
    (env,) = envs_of(project, "test")
    assert "extra ok one" in first.stdout
    assert str(env) in first.stdout  # a real install, not a link back to src/
    assert "include-system-site-packages = true" in (env / "pyvenv.cfg").read_text()
    (project / "src/demo/__init__.py").write_text("WORD = 'two'\n")
    second = vrun("test", check=0)
    assert "reinstalling the project" in second.stderr and "extra ok two" in second.stdout
