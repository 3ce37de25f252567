"""A real third-party project, as a new user meets vrun: tabulate 0.10.0's sdist and its own suite.

Nobody on this project wrote tabulate; its suite passes with plain venv + pip (296 passed,
39 skipped with tox's command, ``pytest --doctest-modules --ignore benchmark``), so a
failure here is vrun's. It needs PyPI: the sdist is downloaded with pip and vrun installs
pytest and the project (editable) from the real index. Skipped when the index is unreachable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Vrun, write_project

pytestmark = pytest.mark.network

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
VERSION = "0.10.0"

#: What pip and urllib3 print when the index cannot be reached (offline, DNS, proxy, TLS, timeout).
_NETWORK_TROUBLE = re.compile(
    r"Max retries exceeded|NewConnectionError|Failed to establish a new connection|"
    r"Name or service not known|Temporary failure in name resolution|Network is unreachable|"
    r"ProxyError|SSLError|timed out|ReadTimeoutError|Could not fetch URL|"
    r"No matching distribution found for (?:tabulate|humanize|six|simplejson)=="
)


def _real_index_env(home: Path, cache_dir: Path) -> dict[str, str]:
    """The caller's environment for a run against the real index: private caches and home.

    The caller's ``PIP_*`` variables stay (they may name the mirror that reaches the index);
    config files are not read (``PIP_CONFIG_FILE=/dev/null`` plus a fresh ``HOME``), and
    colour is off so pytest's summary line can be matched.
    """
    drop = ("VIRTUAL_ENV", "VRUN_", "PYTHONPATH", "PYTHONHOME", "FORCE_COLOR", "PY_COLORS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        VRUN_CACHE_DIR=str(cache_dir),
        VIRTUALENV_OVERRIDE_APP_DATA=str(cache_dir / "virtualenv-app-data"),
        PIP_CONFIG_FILE=os.devnull,
        NO_COLOR="1",
    )
    return env


def _skip_if_unreachable(what: str, output: str) -> None:
    """``pytest.skip`` when ``output`` shows the index could not be reached."""
    trouble = _NETWORK_TROUBLE.search(output)
    if trouble:
        pytest.skip(f"{what}: package index unreachable ({trouble.group(0)})")


def _fetch_tabulate(dest: Path, env: dict[str, str]) -> Path:
    """Download the tabulate sdist with pip and unpack it under ``dest``; return its root."""
    return _fetch(dest, env, "tabulate", VERSION)


def _fetch(dest: Path, env: dict[str, str], name: str, version: str) -> Path:
    """Download the sdist of ``name`` ``version`` with pip and unpack it under ``dest``; its root."""
    download = dest / "sdist"
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    argv += ["--retries", "1", "--timeout", "30", f"{name}=={version}", "-d", str(download)]
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("pip download: timed out reaching the package index")
    if proc.returncode != 0:
        _skip_if_unreachable("pip download", proc.stdout + proc.stderr)
        pytest.fail(f"pip download failed (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}")
    (sdist,) = download.glob(f"{name}-*.tar.gz")
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # PEP 706; warns from 3.12 when not given
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python < 3.11.4 without the backport
            tar.extractall(dest)
    return dest / f"{name}-{version}"


@pytest.mark.skipif(sys.version_info < (3, 10), reason="tabulate 0.10.0 requires Python >= 3.10")
def test_tabulate_sdist_suite_passes_under_vrun(tmp_path: Path, cache_dir: Path) -> None:
    env = _real_index_env(tmp_path / "home", cache_dir)
    root = _fetch_tabulate(tmp_path, env)
    write_project(
        root,
        {
            "vrun.toml": f"""
                [sessions.test]
                description = "tabulate's suite, as its tox.ini runs it"
                python = ["{PY}"]
                deps = ["pytest"]
                install_project = "editable"
                commands = ["pytest --doctest-modules --ignore benchmark {{posargs}}"]
            """
        },
    )
    vrun = Vrun(root, env)
    session = f"test-{PY}"

    cold = vrun(session, timeout=900)
    if cold.returncode != 0:
        _skip_if_unreachable("vrun's pip install", cold.stdout + cold.stderr)
    assert cold.returncode == 0, f"exit {cold.returncode}\n{cold.stdout}\n{cold.stderr}"
    assert f"creating env {session}-" in cold.stderr
    assert re.search(r"^=+ 296 passed, 39 skipped in [\d.]+s =+$", cold.stdout, re.MULTILINE), cold.stdout
    assert f"session {session} passed in " in cold.stderr
    installed = root / ".venvs" / session / "lib" / f"python{PY}" / "site-packages"
    assert any(installed.glob("__editable__*tabulate*")), "tabulate is not installed editable"

    warm = vrun(session, "--", "-q", "-k", "wrap and not multiline", timeout=300, check=0)
    assert "creating env" not in warm.stderr
    assert f"reusing env {session}-" in warm.stderr
    assert re.search(r"^\d+ passed, \d+ skipped, \d+ deselected in ", warm.stdout, re.MULTILINE), warm.stdout


@pytest.mark.skipif(sys.version_info < (3, 10), reason="both projects require Python >= 3.10")
@pytest.mark.parametrize(("name", "version"), [("tabulate", VERSION), ("humanize", "4.17.0")])
def test_vrun_init_turns_the_tox_ini_into_a_passing_session(
    tmp_path: Path, cache_dir: Path, name: str, version: str
) -> None:
    """``vrun init`` from the project's own tox.ini, then its test session on this Python, as the
    project's tox env would run it (tabulate: ``pytest -v --doctest-modules``; humanize: the
    translations compiled first, then ``pytest --cov``)."""
    env = _real_index_env(tmp_path / "home", cache_dir)
    root = _fetch(tmp_path, env, name, version)
    vrun = Vrun(root, env)
    vrun("init", check=0)
    session = f"test-{PY}"
    assert session in vrun("list", check=0).stdout
    run = vrun(session, timeout=900)
    if run.returncode != 0:
        _skip_if_unreachable("vrun's install", run.stdout + run.stderr)
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr}"
    assert re.search(r"^=+ \d+ passed(, \d+ skipped)? in [\d.]+s =+$", run.stdout, re.MULTILINE), run.stdout


@pytest.mark.parametrize(
    ("name", "version", "summary"),
    [
        ("six", "1.17.0", r"^=+ [1-9]\d* passed[\w, ]* in [\d.]+s =+$"),  # test_six.py, pytest
        ("simplejson", "4.3.0", r"^Ran [1-9]\d* tests? in [\d.]+s\n\nOK"),  # simplejson/tests/, unittest
    ],
)
def test_vrun_init_guesses_a_passing_session_without_tox_or_nox(
    tmp_path: Path, cache_dir: Path, name: str, version: str, summary: str
) -> None:
    """six's tests are one ``test_six.py`` at its root (pytest, configured in setup.cfg);
    simplejson's are unittest modules inside its package. Neither has tox.ini or a noxfile: the
    guess must find them, and the session it writes must run them."""
    env = _real_index_env(tmp_path / "home", cache_dir)
    root = _fetch(tmp_path, env, name, version)
    vrun = Vrun(root, env)
    vrun("init", check=0)
    run = vrun("test", timeout=900)
    if run.returncode != 0:
        _skip_if_unreachable("vrun's install", run.stdout + run.stderr)
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert re.search(summary, run.stdout + run.stderr, re.MULTILINE), run.stdout[-2000:] + run.stderr[-2000:]
