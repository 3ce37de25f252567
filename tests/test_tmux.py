"""``vrun shell`` and ``vrun activate`` driven in tmux, as a person would type them.

Each test starts a tmux server on a private socket with one pane running an interactive bash, zsh
or fish, in a fresh HOME whose rc files set a plain prompt (``b$``, ``z%``, ``f>``), and a PATH of
``tmp_path/bin`` (a ``vrun`` script that runs this checkout's vrun) and the system directories.
It types commands with ``send-keys`` and reads the screen with ``capture-pane``, polling for the
expected text. Values are printed as ``@@NAME=[value]`` lines; the command types ``"@@""NAME``, so
only the output matches.

The project (one non-matrix session ``test``, no deps, ``install_project = false``) is shared by
the tests of this module, so its env is built once, offline, by whichever test types
``vrun shell`` first. Skipped where tmux or the shell is not installed
(``apt-get install tmux zsh fish``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import alive, process_state, wait_for, write_project

pytestmark = pytest.mark.tmux

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
#: Seconds to wait for a shell to answer; the first ``vrun shell`` also builds the env.
STEP = 15.0
BUILD = 90.0


@dataclass(frozen=True)
class Shell:
    """How to drive one shell: its rc files (relative to HOME), its prompt, its ``$?``."""

    name: str
    rc: dict[str, str]
    prompt: str
    status: str


SHELLS = {
    "bash": Shell("bash", {".bashrc": "PS1='b$ '\nunset PROMPT_COMMAND\n"}, "b$", "$?"),
    "zsh": Shell("zsh", {".zshrc": "PROMPT='z%% '\nRPROMPT=''\n"}, "z%", "$?"),
    "fish": Shell(
        "fish",
        {
            ".config/fish/config.fish": (
                "set -g fish_greeting\n"
                "set -g fish_autosuggestion_enabled 0\n"
                "function fish_prompt\n    echo -n 'f> '\nend\n"
            )
        },
        "f>",
        "$status",
    ),
}


def need(program: str) -> str:
    """The program's path on the system PATH, or skip the test."""
    exe = shutil.which(program, path=BASE_PATH)
    if exe is None:
        pytest.skip(f"{program} is not installed")
    return exe


class Pane:
    """One pane of a tmux server of its own: type lines into it, read its screen.

    :param socket: the server's socket name (``tmux -L``).
    :param env: the environment the server, and so the pane, starts with.
    """

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env
        self.pane = ""
        self.current = ""

    def tmux(self, *args: str) -> str:
        """Run a tmux command against this server; return its output."""
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def type(self, line: str) -> None:
        """Type ``line`` literally, then Enter."""
        self.tmux("send-keys", "-t", self.pane, "-l", line)
        self.tmux("send-keys", "-t", self.pane, "Enter")

    def screen(self) -> str:
        """The whole pane, scrollback included, wrapped lines joined, trailing blanks dropped."""
        try:
            text = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.pane)
        except subprocess.CalledProcessError as exc:
            pytest.fail(f"the pane is gone (its shell exited?): {exc.stderr.strip()}")
        return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")

    def wait(self, found: Callable[[str], bool], what: str, timeout: float = STEP) -> str:
        """Poll the screen until ``found(screen)``; return the screen, or fail showing it."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if found(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {timeout:.0f}s; the pane shows:\n{screen}")
            time.sleep(0.05)

    def prompt(self, prompt: str, timeout: float = STEP) -> str:
        """Wait until the last line of the screen is ``prompt`` (nothing typed after it).

        Later :meth:`ask` calls wait for the same prompt.
        """
        self.current = prompt
        return self.wait(lambda s: s.splitlines()[-1:] == [prompt], f"prompt {prompt!r}", timeout)

    def ask(self, name: str, expr: str, before: str = "") -> str:
        """Type ``before`` and a command printing ``@@NAME=[expr]`` (``expr`` expanded by the shell);
        wait for that line and the next prompt; return the value.

        Waiting for the prompt before typing again, as a person does, keeps typed-ahead text (which
        the terminal echoes while a command runs) out of the output.
        """
        self.type(f'{before}echo "@@""{name}=[{expr}]"')
        pattern = re.compile(rf"^@@{name}=\[(.*)\]$", re.MULTILINE)
        screen = self.wait(
            lambda s: bool(pattern.search(s)) and s.splitlines()[-1:] == [self.current],
            f"@@{name} line, then prompt {self.current!r}",
        )
        match = pattern.search(screen)
        assert match is not None
        return match.group(1)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with one session named ``test`` on this Python, no deps, no project install."""
    return write_project(
        tmp_path_factory.mktemp("tmux-project"),
        {
            "vrun.toml": f"""
                [sessions.test]
                python = "{PY}"
                install_project = false
            """
        },
    )


@pytest.fixture
def start(offline_env: dict[str, str], project: Path, tmp_path: Path) -> Iterator[Callable[..., Pane]]:
    """Return ``start(shell, path=None, **env)``: a new tmux server whose one pane runs ``shell`` in the
    project, with ``path`` (default: ``tmp_path/bin`` and the system's) as PATH and ``env`` added to
    the environment; it waits for the first prompt. The servers are killed afterwards."""
    need("tmux")
    home = Path(offline_env["HOME"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vrun = bin_dir / "vrun"
    vrun.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m vrun "$@"\n')
    vrun.chmod(0o755)
    (tmp_path / "tmp").mkdir()
    keep = ("HOME", "NO_COLOR", "PYTHONDONTWRITEBYTECODE")
    base = {
        k: v
        for k, v in offline_env.items()
        if k.startswith(("PIP_", "UV_", "VRUN_", "VIRTUALENV_")) or k in keep
    }
    started: list[tuple[Pane, str]] = []

    def start_pane(shell: Shell, path: str | None = None, **extra: str) -> Pane:
        exe = need(shell.name)
        write_project(home, shell.rc)
        env = {
            **base,
            "PATH": path or f"{bin_dir}{os.pathsep}{BASE_PATH}",
            "SHELL": exe,
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "TMPDIR": str(tmp_path / "tmp"),  # vrun's rc files go to $TMPDIR/vrun-UID
            **extra,
        }
        pane = Pane(f"vrun-test-{os.getpid()}-{uuid.uuid4().hex[:8]}", env)
        pane.pane = pane.tmux(
            "-f", os.devnull, "new-session", "-d", "-P", "-F", "#{pane_id}",
            "-x", "200", "-y", "50", "-c", str(project), exe, "-i",
        ).strip()  # fmt: skip
        started.append((pane, pane.tmux("display-message", "-p", "#{socket_path}").strip()))
        pane.prompt(shell.prompt)
        return pane

    yield start_pane
    for pane, socket_path in started:
        subprocess.run(
            ["tmux", "-L", pane.socket, "kill-server"], env=pane.env, capture_output=True, check=False
        )
        Path(socket_path).unlink(missing_ok=True)


def in_env(pane: Pane, project: Path) -> tuple[Path, str]:
    """Check, in an activated shell, that ``python`` and ``$VIRTUAL_ENV`` are the session's env
    under ``.venvs/``; return (the env's directory, ``$PATH``)."""
    venv = Path(pane.ask("VE", "$VIRTUAL_ENV"))
    assert venv.parent == project / ".venvs"
    assert re.fullmatch(r"test-[0-9a-f]+", venv.name), venv
    assert (venv / "vrun.json").is_file()
    assert pane.ask("PY", "$(command -v python)") == str(venv / "bin" / "python")
    return venv, pane.ask("P1", "$PATH")


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_vrun_shell_then_nested_refusal_then_exit(
    name: str, start: Callable[..., Pane], project: Path
) -> None:
    """``vrun shell test``: a ``(test)`` prompt, the env's python first (``command -v`` is ``which``);
    ``vrun shell test`` again refused with exit 2; ``exit`` back to the first shell, PATH as it was."""
    shell = SHELLS[name]
    pane = start(shell)
    path = pane.env["PATH"]
    assert pane.ask("P0", "$PATH") == path

    pane.type("vrun shell test")
    screen = pane.prompt(f"(test) {shell.prompt}", BUILD)
    assert f"starting {name} with test-" in screen
    venv, inside = in_env(pane, project)
    assert inside == f"{venv / 'bin'}{os.pathsep}{path}"

    assert pane.ask("RC", shell.status, before="vrun shell test; ") == "2"
    assert f"vrun > error: already in a vrun shell for {venv}\n" in pane.screen()

    pane.type("exit")
    pane.prompt(shell.prompt)
    assert pane.ask("P2", "$PATH") == path
    assert pane.ask("VE2", "$VIRTUAL_ENV") == ""


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_vrun_shell_in_pane_that_inherited_a_stale_virtual_env(
    name: str, start: Callable[..., Pane], project: Path, tmp_path: Path
) -> None:
    """The tmux server was started from a shell with ``old-venv`` active; the pane's rc files put
    ``bin`` in front again: the stale ``bin/`` is on PATH but not first, and ``bin`` is there twice."""
    shell = SHELLS[name]
    stale = tmp_path / "old-venv"
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "python").write_text("#!/bin/sh\necho stale\n")
    (stale / "bin" / "python").chmod(0o755)
    bin_dir = tmp_path / "bin"
    path = os.pathsep.join([str(bin_dir), str(stale / "bin"), str(bin_dir), BASE_PATH])
    pane = start(shell, path=path, VIRTUAL_ENV=str(stale))
    assert pane.ask("P0", "$PATH") == path

    pane.type("vrun shell test")
    screen = pane.prompt(f"(test) {shell.prompt}", BUILD)
    told = [line for line in screen.splitlines() if "VIRTUAL_ENV" in line]
    assert len(told) == 1, screen
    assert told[0].startswith(f"vrun > VIRTUAL_ENV={stale} was inherited but is not active ")
    venv, inside = in_env(pane, project)
    assert str(stale / "bin") not in inside.split(os.pathsep)
    assert inside == os.pathsep.join([str(venv / "bin"), str(bin_dir), BASE_PATH])  # no repeats

    pane.type("exit")
    pane.prompt(shell.prompt)
    assert pane.ask("P2", "$PATH") == path
    assert pane.ask("VE2", "$VIRTUAL_ENV") == str(stale)


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_eval_activate_then_deactivate_round_trips_path(
    name: str, start: Callable[..., Pane], project: Path
) -> None:
    """``eval "$(vrun activate test)"`` activates the env in the current shell; ``deactivate`` puts
    PATH back exactly and the prompt as it was."""
    shell = SHELLS[name]
    pane = start(shell)
    path = pane.env["PATH"]
    assert pane.ask("P0", "$PATH") == path

    pane.type('eval "$(vrun activate test)"')
    pane.prompt(f"(test) {shell.prompt}", BUILD)
    venv, inside = in_env(pane, project)
    assert inside == f"{venv / 'bin'}{os.pathsep}{path}"

    pane.type("deactivate")
    pane.prompt(shell.prompt)
    assert pane.ask("P2", "$PATH") == path
    assert pane.ask("VE2", "$VIRTUAL_ENV") == ""


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_vrun_installed_in_the_active_venv_stays_on_PATH(
    name: str, start: Callable[..., Pane], project: Path
) -> None:
    """vrun installed in a venv (the one running these tests), that venv activated: inside
    ``vrun shell`` and after ``vrun activate``, ``vrun`` is still that script (found last on PATH)
    while ``python`` is the session's, and a nested ``vrun shell`` is still refused."""
    script = Path(sys.executable).parent / "vrun"
    if not (script.is_file() and (script.parent / "activate").is_file()):
        pytest.skip(f"vrun is not installed as a script in a venv beside {sys.executable}")
    shell = SHELLS[name]
    fish = name == "fish"
    pane = start(shell, path=f"{script.parent}{os.pathsep}{BASE_PATH}", VIRTUAL_ENV_DISABLE_PROMPT="1")
    activate = shlex.quote(str(script.parent / ("activate.fish" if fish else "activate")))
    unset = "set -e VIRTUAL_ENV_DISABLE_PROMPT" if fish else "unset VIRTUAL_ENV_DISABLE_PROMPT"
    assert pane.ask("VE0", "$VIRTUAL_ENV", before=f"source {activate}; {unset}; ") == str(
        script.parent.parent
    )
    real = os.path.realpath(script)

    pane.type("vrun shell test")
    pane.prompt(f"(test) {shell.prompt}", BUILD)
    venv, inside = in_env(pane, project)
    assert str(script.parent) not in inside.split(os.pathsep)
    assert pane.ask("VR", '$(readlink -f "$(command -v vrun)")') == real
    assert pane.ask("RC", shell.status, before="vrun shell test; ") == "2"
    assert f"vrun > error: already in a vrun shell for {venv}\n" in pane.screen()
    pane.type("exit")
    pane.prompt(shell.prompt)

    pane.type("vrun activate test | source" if fish else 'eval "$(vrun activate test)"')
    pane.prompt(f"(test) {shell.prompt}", BUILD)
    in_env(pane, project)
    assert pane.ask("V", "$(vrun --version)").startswith("vrun ")
    assert pane.ask("VR2", '$(readlink -f "$(command -v vrun)")') == real


#: How each shell loads vrun's completion script (zsh's needs its completion system first).
LOAD_COMPLETION = {
    "bash": "source <(vrun completion bash)",
    "zsh": "autoload -U compinit && compinit -u -D && source <(vrun completion zsh)",
    "fish": "vrun completion fish | source",
}


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_tab_after_vrun_in_a_hostile_project_runs_nothing(
    name: str, start: Callable[..., Pane], tmp_path: Path
) -> None:
    """A freshly cloned project whose session names are shell code: pressing TAB after ``vrun``
    completes the one real name and runs none of the code."""
    shell = SHELLS[name]
    hostile = write_project(
        tmp_path / "hostile",
        {
            "vrun.toml": """
                [sessions.safe_one]
                [sessions.'$(touch${IFS}PWNED1)']
                [sessions.'`touch PWNED2`']
                [sessions.'x;touch PWNED3']
                [sessions.'$(touch${IFS}PWNED4)'.x]
            """
        },
    )
    pane = start(shell)
    pane.type(f"cd {shlex.quote(str(hostile))} && {LOAD_COMPLETION[name]}")
    pane.prompt(shell.prompt)
    for typed, tabs, shown in (
        ("vrun saf", 1, lambda s: "vrun safe_one" in s),  # the one name that matches, completed
        ("vrun ", 2 if name == "bash" else 1, lambda s: "safe_one" in s and "completion" in s),  # listed
    ):
        pane.tmux("send-keys", "-t", pane.pane, "-l", typed)
        for _ in range(tabs):
            pane.tmux("send-keys", "-t", pane.pane, "Tab")
        pane.wait(shown, f"completions for {typed!r}")
        if name == "fish":
            pane.tmux("send-keys", "-t", pane.pane, "Escape")  # close the pager
        pane.tmux("send-keys", "-t", pane.pane, "C-u")
        pane.tmux("send-keys", "-t", pane.pane, "Enter")
        pane.prompt(shell.prompt)
    assert pane.ask("DONE", "ok") == "ok"  # every completion has finished by now
    assert not list(hostile.glob("PWNED*")) and not list(tmp_path.glob("**/PWNED*"))


#: A session command that starts a grandchild ignoring SIGINT and SIGTERM (a server that will not
#: die), records both pids, reads a line from the terminal, then waits.
JOB = """
import os, subprocess, sys, time
stubborn = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
grandchild = subprocess.Popen([sys.executable, "-c", stubborn])
open(sys.argv[1], "w").write(f"{os.getpid()} {grandchild.pid}")
if sys.argv[2] == "ask":
    print("@@GOT=[" + input("name? ") + "]", flush=True)
print("@@WAITING", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_a_command_at_a_terminal_is_a_job_ctrl_z_fg_and_ctrl_c_reach_every_grandchild(
    name: str, start: Callable[..., Pane], tmp_path: Path
) -> None:
    """At a terminal the session's command gets the terminal (it reads a line), Ctrl-Z stops it
    and vrun and ``fg`` continues both, and Ctrl-C ends the run with 130 and leaves no process of
    the command behind, not even a grandchild that ignores SIGINT and SIGTERM; a ``timeout`` at
    a terminal does the same with 124."""
    shell = SHELLS[name]
    root = write_project(
        tmp_path / "jobs",
        {
            "job.py": JOB,
            "vrun.toml": f"""
                [sessions.job]
                python = "{PY}"
                install_project = false
                commands = [["python", "job.py", "pids", "ask"]]

                [sessions.slow]
                python = "{PY}"
                install_project = false
                timeout = 1
                commands = [["python", "job.py", "slow-pids", "wait"]]
            """,
        },
    )
    pane = start(shell, VRUN_KILL_GRACE="0.2")
    pane.type(f"cd {shlex.quote(str(root))} && vrun job")
    pane.wait(lambda s: s.endswith("name?"), "the question", BUILD)
    pane.type("abc")
    pane.wait(lambda s: "@@GOT=[abc]" in s and "@@WAITING" in s, "the answer read from the terminal")
    job, grandchild = (int(pid) for pid in (root / "pids").read_text().split())

    pane.tmux("send-keys", "-t", pane.pane, "C-z")
    pane.prompt(shell.prompt)  # the shell has the terminal again: vrun stopped with its job
    wait_for(lambda: process_state(job) == "T", "stopped job", timeout=STEP)
    pane.type("fg")
    wait_for(lambda: process_state(job) == "S", "continued job", timeout=STEP)
    time.sleep(0.2)  # the job's group has the terminal again before the key is pressed
    pane.tmux("send-keys", "-t", pane.pane, "C-c")
    assert pane.ask("RC", shell.status) == "130"
    wait_for(
        lambda: not alive(job) and not alive(grandchild), "end of the job and its grandchild", timeout=STEP
    )

    pane.type("vrun slow")
    pane.prompt(shell.prompt, timeout=STEP)
    assert pane.ask("RC2", shell.status) == "124"
    _, slow_grandchild = (int(pid) for pid in (root / "slow-pids").read_text().split())
    wait_for(lambda: not alive(slow_grandchild), "end of the timed-out command's grandchild", timeout=STEP)
