"""Tests of ``vrun.commands.usershell``: the pure functions directly, and real shells started from the plans.

Each real-shell test runs the planned shell with ``-i`` and its commands on stdin, in a fresh HOME
under tmp_path and a session of its own (no controlling terminal), then reads ``@NAME=value@``
lines it printed. A test is skipped when its shell is not installed
(``apt-get install zsh fish tcsh csh dash``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from vrun.commands.activation import SUPPORTED_SHELLS, activate_code, own_command, plan_shim
from vrun.commands.usershell import (
    ShellPlan,
    default_rc_root,
    detect_shell,
    exec_shell,
    inherited_env_problem,
    refuse_nested,
    shell_exec_plan,
    shell_kind,
    write_rc_files,
    write_shim,
)
from vrun.environ import clean_environ
from vrun.errors import CommandNotFoundError, UsageError, VrunError

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"

#: Print NAME=value lines; ``{py}`` is replaced by the shell's way to find ``python``.
_PRINT = (
    'printf "@%s=%s@\\n" VE "$VIRTUAL_ENV" VEP "$VIRTUAL_ENV_PROMPT" PATH "$PATH" PY "{py}" PROMPT "{prompt}"'
)
PROBES = {
    "bash": _PRINT.format(py="$(command -v python)", prompt="${PS1@P}"),
    "zsh": _PRINT.format(py="$(command -v python)", prompt="${(%)PS1}"),
    "sh": _PRINT.format(py="$(command -v python)", prompt="$PS1"),
    "dash": _PRINT.format(py="$(command -v python)", prompt="$PS1"),
    "csh": _PRINT.format(py="`which python`", prompt="$prompt:q"),
    "tcsh": _PRINT.format(py="`which python`", prompt="$prompt:q"),
    "fish": _PRINT.format(py="$(command -v python)", prompt="$(fish_prompt)").replace(
        '"$PATH"', "(string join : $PATH)"
    ),
}


def need(kind: str) -> str:
    exe = shutil.which(kind, path=BASE_PATH)
    if exe is None:
        pytest.skip(f"{kind} is not installed")
    return exe


def make_env(dest: Path, prompt: str | None) -> Path:
    cmd = [sys.executable, "-m", "virtualenv", "--no-seed", "--no-periodic-update", str(dest)]
    if prompt is not None:
        cmd[4:4] = ["--prompt", prompt]
    subprocess.run(
        cmd,
        check=True,
        capture_output=True,
        env={**os.environ, "VIRTUALENV_OVERRIDE_APP_DATA": str(dest.parent / "appdata")},
    )
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An env made as vrun makes one: its prompt is the session's name."""
    return make_env(tmp_path_factory.mktemp("envs") / "test-0123", "test")


@pytest.fixture(scope="module")
def unnamed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An env whose activate scripts carry no prompt, so they would show its directory's name."""
    return make_env(tmp_path_factory.mktemp("envs") / "other-env", None)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def environ(home: Path) -> dict[str, str]:
    return {"PATH": BASE_PATH, "HOME": str(home), "TERM": "dumb", "LANG": "C.UTF-8"}


@pytest.fixture
def rc_root(tmp_path: Path) -> Path:
    path = tmp_path / "rc"
    path.mkdir(mode=0o700)
    return path


def run(argv: tuple[str, ...] | list[str], env: Mapping[str, str], script: str) -> dict[str, str]:
    """Run a shell with ``script`` on stdin; return the ``@NAME=value@`` pairs it printed."""
    proc = subprocess.run(
        argv,
        check=False,
        env=dict(env),
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    found = dict(re.findall(r"@(\w+)=(.*?)@\n", proc.stdout, re.DOTALL))
    assert found, f"no output from {argv}:\n{proc.stdout}\n{proc.stderr}"
    return found


def run_plan(plan: ShellPlan, script: str) -> dict[str, str]:
    write_rc_files(plan)
    return run(plan.argv, plan.env, script + "\nexit\n")


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("bash", "bash"),
        ("-zsh", "zsh"),
        ("/usr/local/bin/fish", "fish"),
        ("tcsh", "tcsh"),
        ("nu", None),
        ("bash5", None),
    ],
)
def test_shell_kind(name: str, kind: str | None) -> None:
    assert shell_kind(name) == kind


def test_detect_override_by_name_and_path(environ: dict[str, str]) -> None:
    sh = shutil.which("sh", path=BASE_PATH)
    assert detect_shell(environ, "sh") == ("sh", sh)
    assert detect_shell(environ, "/bin/sh") == ("sh", "/bin/sh")


def test_detect_unknown_override_lists_supported(environ: dict[str, str]) -> None:
    with pytest.raises(UsageError) as err:
        detect_shell(environ, "nu")
    assert "'nu'" in err.value.message
    assert ", ".join(SUPPORTED_SHELLS) in err.value.message
    assert err.value.exit_code == 2


def test_detect_override_missing(environ: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="not found"):
        detect_shell({**environ, "PATH": "/nonexistent"}, "zsh")


def test_detect_parent_shell(environ: dict[str, str]) -> None:
    bash = need("bash")
    # ``read`` is a builtin: bash itself waits, with no child holding the pipes open
    parent = subprocess.Popen(
        [bash, "-c", "echo ready; read -r _"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline() == "ready\n"  # bash runs: the fork has exec'd
        assert detect_shell({**environ, "SHELL": "/bin/sh"}, ppid=parent.pid) == (
            "bash",
            os.path.realpath(bash),
        )
    finally:
        parent.kill()
        parent.communicate()


def test_detect_falls_back_to_SHELL_when_parent_is_not_a_shell(environ: dict[str, str]) -> None:
    # the parent given is this Python process
    assert detect_shell({**environ, "SHELL": "/bin/sh"}, ppid=os.getpid()) == ("sh", "/bin/sh")


@pytest.mark.parametrize("shell", ["/usr/bin/nu", None])
def test_detect_unknown_SHELL(environ: dict[str, str], shell: str | None) -> None:
    if shell is not None:
        environ["SHELL"] = shell
    with pytest.raises(UsageError, match="unsupported shell") as err:
        detect_shell(environ, ppid=os.getpid())
    assert "bash, zsh, fish, sh, dash, csh, tcsh" in err.value.message
    assert "--shell" in (err.value.hint or "")


# --- inherited, stale and nested environments ------------------------------------------------


def test_active_env_is_no_problem() -> None:
    assert inherited_env_problem({"PATH": BASE_PATH}) is None
    assert inherited_env_problem({"VIRTUAL_ENV": "/e", "PATH": "/e/bin:" + BASE_PATH}) is None
    assert inherited_env_problem({"VIRTUAL_ENV": "/e/", "PATH": "/e/bin/:" + BASE_PATH}) is None


def test_inherited_env_is_explained_in_one_line() -> None:
    problem = inherited_env_problem({"VIRTUAL_ENV": "/e", "PATH": "/usr/bin:/e/bin:/bin"})
    assert problem is not None
    assert "/e" in problem
    assert "not active" in problem
    assert "\n" not in problem


def test_clean_environ_removes_a_stale_env() -> None:
    environ = {
        "VIRTUAL_ENV": "/stale",
        "VIRTUAL_ENV_PROMPT": "stale",
        "VRUN_SHELL": "/stale",
        "_OLD_VIRTUAL_PATH": "/old",
        "_OLD_VIRTUAL_PYTHONHOME": "/ph",
        "_OLD_FISH_PROMPT_OVERRIDE": "/stale",
        "_OLD_PKG_CONFIG_PATH": "",
        "PKG_CONFIG_PATH": "/stale/lib/pkgconfig",
        "PATH": "/usr/bin:/stale/bin:/bin:/usr/bin:/stale/bin/:/bin",
        "PYTHONHOME": "/ph",
        "HOME": "/h",
    }
    assert clean_environ(environ) == {"PATH": "/usr/bin:/bin", "PYTHONHOME": "/ph", "HOME": "/h"}
    assert environ["VIRTUAL_ENV"] == "/stale"  # not modified


def test_clean_environ_removes_the_target_env_and_keeps_order() -> None:
    environ = {"PATH": "/a:/target/bin:/b:/a:/c", "PKG_CONFIG_PATH": "/target/lib/pkgconfig:/p"}
    assert clean_environ(environ, Path("/target")) == {"PATH": "/a:/b:/c", "PKG_CONFIG_PATH": "/p"}


def test_refuse_nested() -> None:
    inside = {"VRUN_SHELL": "/e", "VIRTUAL_ENV": "/e", "PATH": "/e/bin:/usr/bin"}
    with pytest.raises(UsageError, match="already in a vrun shell for /e") as err:
        refuse_nested(inside)
    assert err.value.exit_code == 2
    refuse_nested({**inside, "PATH": "/usr/bin:/e/bin"})  # a tmux pane that only inherited it
    refuse_nested({k: v for k, v in inside.items() if k != "VIRTUAL_ENV"})  # after deactivate
    refuse_nested({k: v for k, v in inside.items() if k != "VRUN_SHELL"})  # a plain activated venv


# --- plans -----------------------------------------------------------------------------------


def test_plan_environment_and_rc_files(venv: Path, environ: dict[str, str], rc_root: Path) -> None:
    environ.update(VIRTUAL_ENV="/stale", PATH=f"/stale/bin:{venv}/bin:{BASE_PATH}", ZDOTDIR="/zd", ENV="/e")
    bash = shell_exec_plan("bash", "/bin/bash", venv, "test", environ, rc_root)
    (rc,) = bash.files
    assert rc.parent.parent == rc_root
    assert bash.argv == ("/bin/bash", "--rcfile", str(rc), "-i")
    assert bash.env["PATH"] == BASE_PATH
    assert bash.env["VRUN_SHELL"] == str(venv)
    assert "VIRTUAL_ENV" not in bash.env
    assert shell_exec_plan("bash", "/bin/bash", venv, "test", environ, rc_root).files == bash.files
    assert (
        shell_exec_plan("bash", "/bin/bash", venv, "other", environ, rc_root).files.keys()
        != bash.files.keys()
    )

    zsh = shell_exec_plan("zsh", "/bin/zsh", venv, "test", environ, rc_root)
    assert zsh.argv == ("/bin/zsh", "-i")
    assert {p.name for p in zsh.files} == {".zshenv", ".zshrc"}
    assert zsh.env["ZDOTDIR"] == str(next(iter(zsh.files)).parent)
    assert zsh.env["_VRUN_ZDOTDIR"] == "/zd"

    sh = shell_exec_plan("dash", "/bin/dash", venv, "test", environ, rc_root)
    assert sh.env["ENV"] == str(next(iter(sh.files)))
    assert sh.env["_VRUN_ENV"] == "/e"

    csh = shell_exec_plan("tcsh", "/bin/tcsh", venv, "test", environ, rc_root)
    assert csh.env["HOME"] == str(next(iter(csh.files)).parent)
    assert csh.env["_VRUN_HOME"] == environ["HOME"]

    fish = shell_exec_plan("fish", "/bin/fish", venv, "test", environ, rc_root)
    assert fish.files == {}
    assert fish.argv[:3] == ("/bin/fish", "-i", "-C")


def test_plan_unknown_kind(venv: Path, environ: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="unsupported shell 'nu'"):
        shell_exec_plan("nu", "/bin/nu", venv, "test", environ)


def test_default_rc_root(tmp_path: Path) -> None:
    assert default_rc_root({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path / "vrun"
    assert default_rc_root({"TMPDIR": str(tmp_path)}) == tmp_path / f"vrun-{os.getuid()}"
    assert default_rc_root({"XDG_RUNTIME_DIR": str(tmp_path / "missing")}).name == f"vrun-{os.getuid()}"


def test_rc_files_are_private_and_rewritten_only_when_changed(
    venv: Path, environ: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    plan = shell_exec_plan("zsh", "/bin/zsh", venv, "test", environ, root)
    write_rc_files(plan)
    for path, text in plan.files.items():
        assert path.read_text() == text
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(next(iter(plan.files)).parent.stat().st_mode) == 0o700
    before = {p: p.stat().st_mtime_ns for p in plan.files}
    first = next(iter(plan.files))
    first.write_text("tampered")
    write_rc_files(plan)
    assert first.read_text() == plan.files[first]
    assert all(p.stat().st_mtime_ns == before[p] for p in plan.files if p != first)
    assert sorted(p.name for p in first.parent.iterdir()) == sorted(
        p.name for p in plan.files
    )  # no temp left


def test_rc_root_open_to_others_is_refused(venv: Path, environ: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    plan = shell_exec_plan("bash", "/bin/bash", venv, "test", environ, root)
    with pytest.raises(VrunError, match="not a private directory"):
        write_rc_files(plan)
    root.chmod(0o700)
    (tmp_path / "link").symlink_to(root)
    with pytest.raises(VrunError, match="not a private directory"):
        write_rc_files(shell_exec_plan("bash", "/bin/bash", venv, "test", environ, tmp_path / "link"))


def test_exec_shell_replaces_the_process(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from vrun.commands.usershell import ShellPlan, exec_shell\n"
        f"rc = Path({str(tmp_path / 'rc' / 'x' / 'f')!r})\n"
        "argv = ('/bin/sh', '-c', 'cat \"$1\"; echo \"$X\"', 'sh', str(rc))\n"
        "exec_shell(ShellPlan(argv, {'X': 'set'}, {rc: 'written'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "writtenset\n"


def test_exec_shell_missing_executable(tmp_path: Path) -> None:
    with pytest.raises(CommandNotFoundError, match="not found"):
        exec_shell(ShellPlan((str(tmp_path / "nosh"), "-i"), {}, {}))


# --- real shells -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish", "sh", "dash", "csh", "tcsh"])
def test_shell_is_activated(kind: str, venv: Path, environ: dict[str, str], rc_root: Path) -> None:
    plan = shell_exec_plan(kind, need(kind), venv, "test", environ, rc_root)
    out = run_plan(plan, PROBES[kind])
    assert out["VE"] == str(venv)
    assert out["VEP"] == "test"
    assert out["PATH"] == f"{venv}/bin:{BASE_PATH}"
    assert out["PY"] == f"{venv}/bin/python"
    assert out["PROMPT"].startswith("(test) ")


#: rc files that rebuild PATH and set RC; ``{h}`` is HOME.
USER_RC = {
    "bash": {".bashrc": "export PATH=/usr/bin:/bin:{h}/mybin RC=bashrc"},
    "zsh": {
        ".zshenv": "ZDOTDIR={h}/zdot; export ENVRC=zshenv",
        "zdot/.zshrc": "export PATH=/usr/bin:/bin:{h}/mybin RC=$ENVRC-zshrc",
    },
    "fish": {".config/fish/config.fish": "set -gx PATH /usr/bin /bin {h}/mybin; set -gx RC config.fish"},
    "sh": {".shrc": "export PATH=/usr/bin:/bin:{h}/mybin RC=shrc"},
    "dash": {".shrc": "export PATH=/usr/bin:/bin:{h}/mybin RC=shrc"},
    "csh": {".cshrc": "setenv PATH /usr/bin:/bin:{h}/mybin; setenv RC cshrc"},
    "tcsh": {".tcshrc": "setenv PATH /usr/bin:/bin:{h}/mybin; setenv RC tcshrc", ".cshrc": "setenv RC wrong"},
}


RC_LOADED = {
    "bash": "bashrc",
    "zsh": "zshenv-zshrc",
    "fish": "config.fish",
    "sh": "shrc",
    "dash": "shrc",
    "csh": "cshrc",
    "tcsh": "tcshrc",
}


@pytest.mark.parametrize("kind", sorted(USER_RC))
def test_env_is_first_on_PATH_after_the_users_rc_files(
    kind: str, venv: Path, home: Path, environ: dict[str, str], rc_root: Path
) -> None:
    for name, text in USER_RC[kind].items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text.format(h=home) + "\n")
    if kind in ("sh", "dash"):
        environ["ENV"] = "$HOME/.shrc"  # POSIX: parameter expansion applies
    plan = shell_exec_plan(kind, need(kind), venv, "test", environ, rc_root)
    probe = PROBES[kind] + ' RC "$RC" HOME "$HOME"'
    out = run_plan(plan, probe.replace('"$PATH"', "(string join : $PATH)") if kind == "fish" else probe)
    assert out["PATH"] == f"{venv}/bin:/usr/bin:/bin:{home}/mybin"
    assert out["RC"] == RC_LOADED[kind]
    assert out["HOME"] == str(home)


def test_zsh_gets_the_users_ZDOTDIR_back(
    venv: Path, home: Path, environ: dict[str, str], rc_root: Path
) -> None:
    zsh = need("zsh")
    (home / ".zshenv").write_text(f"ZDOTDIR={home}/zdot\n")  # not exported, as usual
    (home / "zdot").mkdir()
    (home / "zdot" / ".zshrc").write_text("HISTFILE=$ZDOTDIR/.zsh_history\n")
    out = run_plan(
        shell_exec_plan("zsh", zsh, venv, "test", environ, rc_root),
        'printf "@%s=%s@\\n" ZD "$ZDOTDIR" EXPORTED "$(printenv ZDOTDIR)" HF "$HISTFILE" '
        'LEFT "${(k)parameters[(I)_vrun*|_VRUN*]}"',
    )
    assert out == {"ZD": f"{home}/zdot", "EXPORTED": "", "HF": f"{home}/zdot/.zsh_history", "LEFT": ""}

    (home / ".zshenv").write_text(f"export ZDOTDIR={home}/zdot\n")
    out = run_plan(
        shell_exec_plan("zsh", zsh, venv, "test", environ, rc_root),
        'printf "@%s=%s@\\n" ZD "$ZDOTDIR" EXPORTED "$(printenv ZDOTDIR)"',
    )
    assert out == {"ZD": f"{home}/zdot", "EXPORTED": f"{home}/zdot"}

    environ["ZDOTDIR"] = str(home / "zdot")  # exported by the caller: read from there, stays exported
    (home / "zdot" / ".zshenv").write_text("export ENVRC=zdot\n")
    out = run_plan(
        shell_exec_plan("zsh", zsh, venv, "test", environ, rc_root),
        'printf "@%s=%s@\\n" ZD "$ZDOTDIR" EXPORTED "$(printenv ZDOTDIR)" ENVRC "$ENVRC"',
    )
    assert out == {"ZD": f"{home}/zdot", "EXPORTED": f"{home}/zdot", "ENVRC": "zdot"}


@pytest.mark.parametrize("kind", ["bash", "zsh", "dash", "tcsh", "fish"])
def test_prompt_name_is_the_session_even_if_the_env_says_otherwise(
    kind: str, unnamed_venv: Path, environ: dict[str, str], rc_root: Path
) -> None:
    out = run_plan(shell_exec_plan(kind, need(kind), unnamed_venv, "lint", environ, rc_root), PROBES[kind])
    assert out["VEP"] == "lint"
    assert out["PROMPT"].startswith("(lint) ")
    assert "other-env" not in out["PROMPT"]


@pytest.mark.parametrize("kind", ["bash", "fish"])
def test_stale_inherited_env_is_cleaned(
    kind: str, venv: Path, tmp_path: Path, environ: dict[str, str], rc_root: Path
) -> None:
    """The tmux case: VIRTUAL_ENV (and fish's exported _OLD_VIRTUAL_PATH) inherited, PATH rebuilt."""
    stale = tmp_path / "stale"
    environ.update(
        VIRTUAL_ENV=str(stale),
        VIRTUAL_ENV_PROMPT="stale",
        _OLD_VIRTUAL_PATH=f"/old:{BASE_PATH}",
        PATH=f"/usr/bin:{stale}/bin:{BASE_PATH}",
    )
    assert inherited_env_problem(environ) is not None
    out = run_plan(shell_exec_plan(kind, need(kind), venv, "test", environ, rc_root), PROBES[kind])
    assert out["PATH"] == f"{venv}/bin:/usr/bin:/usr/local/bin:/bin"
    assert out["VE"] == str(venv)


def test_nested_shell_is_refused_until_deactivate(venv: Path, environ: dict[str, str], rc_root: Path) -> None:
    dump = f'{sys.executable} -c \'import json, os; print("@ENV=" + json.dumps(dict(os.environ)) + "@")\''
    plan = shell_exec_plan("bash", need("bash"), venv, "test", environ, rc_root)
    inside = json.loads(run_plan(plan, dump)["ENV"])
    with pytest.raises(UsageError, match="already in a vrun shell"):
        refuse_nested(inside)
    refuse_nested(json.loads(run_plan(plan, "deactivate\n" + dump)["ENV"]))


# --- vrun activate ---------------------------------------------------------------------------


EVAL = {
    "bash": 'PS1="my> "; eval "$(cat {code})"',
    "zsh": 'PS1="my> "; eval "$(cat {code})"',
    "dash": 'PS1="my> "; eval "$(cat {code})"',
    "fish": "source {code}",
    "tcsh": 'set prompt = "my> "; eval "`cat {code}`"',
}
AFTER = {
    "bash": 'deactivate; printf "@%s=%s@\\n" PATH2 "$PATH" PS12 "$PS1" VE2 "${VIRTUAL_ENV-unset}"',
    "zsh": 'deactivate; printf "@%s=%s@\\n" PATH2 "$PATH" PS12 "$PS1" VE2 "${VIRTUAL_ENV-unset}"',
    "dash": 'deactivate; printf "@%s=%s@\\n" PATH2 "$PATH" PS12 "$PS1" VE2 "${VIRTUAL_ENV-unset}"',
    "fish": 'deactivate; printf "@%s=%s@\\n" PATH2 (string join : $PATH) VE2 "$VIRTUAL_ENV"',
    "tcsh": 'deactivate; printf "@%s=%s@\\n" PATH2 "$PATH" PS12 "$prompt:q" VE2 "$?VIRTUAL_ENV"',
}


@pytest.mark.parametrize("kind", sorted(EVAL))
def test_activate_code_and_deactivate_round_trip(
    kind: str, venv: Path, tmp_path: Path, environ: dict[str, str]
) -> None:
    exe = need(kind)
    code = tmp_path / "code"
    code.write_text(activate_code(kind, venv, "test"))
    path = f"{BASE_PATH}:/opt/a b:/usr/bin"  # a space and a repeat survive exactly
    environ.update(PATH=path, XDG_CONFIG_HOME=str(tmp_path / "noconfig"))
    argv = [exe, "-f"] if kind in ("tcsh", "csh") else [exe, "--no-config"] if kind == "fish" else [exe]
    if kind == "fish":
        environ["fish_greeting"] = ""
    script = EVAL[kind].format(code=code) + "\n" + PROBES[kind] + "\n" + AFTER[kind] + "\n"
    out = run(argv, environ, script)
    assert out["VE"] == str(venv)
    assert out["VEP"] == "test"
    assert out["PATH"] == f"{venv}/bin:{path}"
    assert out["PY"] == f"{venv}/bin/python"
    if kind != "fish":  # fish --no-config has no prompt of its own to prefix
        assert out["PROMPT"].startswith("(test) ")
    assert out["PATH2"] == path
    assert out["VE2"] in ("unset", "", "0")
    if kind != "fish":
        assert out["PS12"] == "my> "


def test_activate_code_unknown_kind(venv: Path) -> None:
    with pytest.raises(UsageError, match="unsupported shell"):
        activate_code("nu", venv, "test")


def test_activate_code_quotes_paths(tmp_path: Path) -> None:
    odd = tmp_path / "it's $HOME !x"
    assert f"'{tmp_path}/it'\"'\"'s $HOME !x/bin/activate'" in activate_code("bash", odd, "t")
    assert f"'{tmp_path}/it\\'s $HOME !x/bin/activate.fish'" in activate_code("fish", odd, "t")
    assert "'\\!'x/bin/activate.csh" in activate_code("tcsh", odd, "t")
    with pytest.raises(UsageError, match="newline"):
        activate_code("csh", tmp_path / "a\nb", "t")


# --- vrun's own command inside ---------------------------------------------------------------


def test_own_command_is_the_script_or_the_same_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "bin" / "vrun"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    assert own_command(str(script), "/py/bin/python") == (str(script), None)
    monkeypatch.chdir(tmp_path)
    assert own_command("bin/vrun", "/py/bin/python") == (str(script), None)  # made absolute
    # python -m vrun: argv[0] is the package's __main__.py
    main = str(Path(__import__("vrun").__file__).parent / "__main__.py")
    assert own_command(main, "/opt/my py/bin/python") == (
        None,
        "#!/bin/sh\nexec '/opt/my py/bin/python' -m vrun \"$@\"\n",
    )
    assert own_command(str(tmp_path / "gone"), "/py")[0] is None


def test_plan_shim_only_when_PATH_has_no_vrun(tmp_path: Path) -> None:
    script = tmp_path / "venv" / "bin" / "vrun"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    other = tmp_path / "other"
    other.mkdir()
    (other / "vrun").write_text("not executable")
    root = tmp_path / "rc"
    assert plan_shim(f"{script.parent}:{BASE_PATH}", root, str(script), "/py") is None
    shim = plan_shim(f"{other}:{BASE_PATH}", root, str(script), "/py")
    assert shim is not None
    assert shim.directory.parent == root
    assert (shim.target, shim.text) == (str(script), None)
    by_m = plan_shim(BASE_PATH, root, "/src/vrun/__main__.py", "/py")
    assert by_m is not None and by_m.target is None and by_m.directory != shim.directory


def test_write_shim_links_the_script_or_writes_one(tmp_path: Path) -> None:
    root = tmp_path / "rc"
    script = tmp_path / "vrun-script"
    script.write_text('#!/bin/sh\necho script "$@"\n')
    script.chmod(0o755)
    shim = plan_shim(BASE_PATH, root, str(script), sys.executable)
    assert shim is not None
    write_shim(shim)
    link = shim.directory / "vrun"
    assert os.readlink(link) == str(script)
    before = link.lstat().st_ino
    write_shim(shim)  # unchanged: not rewritten
    assert link.lstat().st_ino == before
    assert stat.S_IMODE(shim.directory.stat().st_mode) == 0o700
    assert subprocess.run([link, "x"], capture_output=True, text=True, check=True).stdout == "script x\n"

    by_m = plan_shim(BASE_PATH, root, "/src/vrun/__main__.py", sys.executable)
    assert by_m is not None
    write_shim(by_m)
    proc = subprocess.run([by_m.directory / "vrun", "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("vrun ")
    assert sorted(p.name for p in by_m.directory.iterdir()) == ["vrun"]  # no temp left


#: Print where ``vrun`` and ``python`` are found, and what the ``vrun`` found says.
WHICH = {
    "csh": 'printf "@%s=%s@\\n" VR "`which vrun`" PY "`which python`" OUT "`vrun hi`"',
    "tcsh": 'printf "@%s=%s@\\n" VR "`which vrun`" PY "`which python`" OUT "`vrun hi`"',
}


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish", "sh", "dash", "csh", "tcsh"])
def test_shell_keeps_vrun_last_on_PATH(
    kind: str, venv: Path, tmp_path: Path, environ: dict[str, str], rc_root: Path
) -> None:
    """vrun was started from a venv whose bin/ the shell's PATH lost: a directory with only ``vrun``
    (a link to that script) goes last, so ``python`` stays the env's; ``deactivate`` keeps it."""
    script = tmp_path / "vrun-venv" / "bin" / "vrun"
    script.parent.mkdir(parents=True)
    script.write_text('#!/bin/sh\necho "vrun says $*"\n')
    script.chmod(0o755)
    shim = plan_shim(environ["PATH"], rc_root, str(script), sys.executable)
    assert shim is not None
    plan = shell_exec_plan(kind, need(kind), venv, "test", environ, rc_root, shim)
    probe = WHICH.get(
        kind, 'printf "@%s=%s@\\n" VR "$(command -v vrun)" PY "$(command -v python)" OUT "$(vrun hi)"'
    )
    path = "(string join : $PATH)" if kind == "fish" else '"$PATH"'
    again = '"`vrun hi`"' if kind in ("csh", "tcsh") else '"$(vrun hi)"'
    out = run_plan(plan, probe + f"\ndeactivate\nprintf '@%s=%s@\\n' PATH2 {path} VR2 {again}")
    assert out["VR"] == str(shim.directory / "vrun")
    assert out["OUT"] == "vrun says hi"
    assert out["PY"] == f"{venv}/bin/python"
    assert out["PATH2"] == f"{BASE_PATH}:{shim.directory}"
    assert out["VR2"] == "vrun says hi"


@pytest.mark.parametrize("kind", sorted(EVAL))
def test_activate_code_appends_vrun_and_deactivate_removes_it(
    kind: str, venv: Path, tmp_path: Path, environ: dict[str, str]
) -> None:
    exe = need(kind)
    shim_dir = tmp_path / "only vrun"
    code = tmp_path / "code"
    code.write_text(activate_code(kind, venv, "test", shim_dir))
    environ.update(XDG_CONFIG_HOME=str(tmp_path / "noconfig"), fish_greeting="")
    argv = [exe, "-f"] if kind in ("tcsh", "csh") else [exe, "--no-config"] if kind == "fish" else [exe]
    out = run(argv, environ, EVAL[kind].format(code=code) + "\n" + PROBES[kind] + "\n" + AFTER[kind] + "\n")
    assert out["PATH"] == f"{venv}/bin:{BASE_PATH}:{shim_dir}"
    assert out["PY"] == f"{venv}/bin/python"
    assert out["PATH2"] == BASE_PATH
