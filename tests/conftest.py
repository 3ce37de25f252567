"""Shared fixtures: a local wheelhouse of tiny wheels, throwaway projects, a vrun runner.

Integration tests build real envs and install real wheels, offline: pip is pointed at the
wheelhouse with ``--no-index --find-links`` through ``PIP_*`` variables, which vrun passes to
the installer like any user's index settings.

The suite runs in parallel (pytest-xdist, ``vrun test``): every session-scoped fixture here is
made once per worker process under that worker's own ``tmp_path_factory`` folder, so no two
workers share a path, and a test changes ``os.environ`` or the working directory only through
``monkeypatch`` (:func:`environ_and_cwd_are_restored` fails a test that does otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun.config.load import Config
    from vrun.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def _load_tool(name: str) -> types.ModuleType:
    """A developer tool of ``tools/`` (not part of the installed package), imported from its file."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


#: The JSON Schema of ``--report`` files: it lives in the docs only, and tests check reports against it.
REPORT_SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))

#: ``tools/configschema.py``: the generator of the committed JSON Schemas, which tests run.
configschema = _load_tool("configschema")


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    modules: Mapping[str, str] | None = None,
    scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write a pure-Python wheel (PEP 427) by hand: fast, offline, exact.

    :param modules: ``{"pkg/__init__.py": source}``; defaults to one module named after the
        distribution with ``VERSION = "<version>"``.
    :param scripts: console scripts, ``{"name": "module:function"}``.
    """
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = dict(modules or {f"{dist}.py": f"VERSION = {version!r}\n"})
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    files[f"{info}/METADATA"] = "\n".join(meta) + "\n"
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: vrun-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if scripts:
        files[f"{info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items()
        )
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


GREET = textwrap.dedent(
    """
    import sys

    def main():
        print("greet:", " ".join(sys.argv[1:]))
        return 0
    """
)


#: Variables that change under every test by design: pytest's own progress marker.
_CHANGING = frozenset({"PYTEST_CURRENT_TEST"})


@pytest.fixture(autouse=True)
def environ_and_cwd_are_restored() -> Iterator[None]:
    """Fail a test that leaves ``os.environ`` or the working directory changed.

    Tests run one after another in each xdist worker: a variable or a ``chdir`` a test leaves
    behind reaches every later test of that worker, so results depend on the order. Changes made
    through ``monkeypatch`` (undone before this check runs, as its teardown comes first) and by
    fixtures of a wider scope (set up before this one) are fine. A leak is undone before the test
    fails, so one leak fails one test. After virtualenv's ``tests/conftest.py``.
    """
    environ, cwd = dict(os.environ), os.getcwd()
    yield
    now = dict(os.environ)
    problems = [f"sets {k}={now[k]!r}" for k in sorted(now.keys() - environ.keys() - _CHANGING)]
    problems += [f"removes {k}" for k in sorted(environ.keys() - now.keys() - _CHANGING)]
    problems += [
        f"changes {k} from {environ[k]!r} to {now[k]!r}"
        for k in sorted(environ.keys() & now.keys() - _CHANGING)
        if environ[k] != now[k]
    ]
    try:
        moved = os.getcwd()
    except FileNotFoundError:  # it moved into a folder it then removed
        moved = "a removed folder"
    if moved != cwd:
        problems.append(f"leaves the working directory at {moved} (was {cwd})")
    if problems:
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(cwd)
        pytest.fail("the test leaks state (use monkeypatch): " + "; ".join(problems), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode as an installed vrun has it, whatever ``PYTHONDONTWRITEBYTECODE`` says.

    A machine that sets ``PYTHONDONTWRITEBYTECODE=1`` (CI images often do) would make every
    ``python -m vrun`` the suite starts compile vrun's ~70 modules from source when vrun runs from a
    checkout (a fresh clone has no ``__pycache__``): about 60 ms more per run, over 700 runs. An
    installer compiles at install time (pip does by default), so the suite does it once here, and
    lets pytest keep its rewritten test modules in ``__pycache__`` (it writes none while
    :data:`sys.dont_write_bytecode` is set), which xdist's workers then share.
    """
    import compileall

    import vrun

    sys.dont_write_bytecode = False
    compileall.compile_dir(str(Path(vrun.__file__).parent), quiet=1)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pytest-xdist's hook): two workers per core the process may run on.

    A test spends most of its time waiting for the vrun, uv and pip processes it starts: with one
    worker per core the suite kept 1.6 of 2 cores busy, so a second worker per core fills the wait.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 2 * cores


@pytest.fixture(autouse=True, scope="session")
def signals_as_in_a_terminal() -> Iterator[None]:
    """Start every vrun as an interactive shell would, however pytest was started.

    vrun keeps a signal it was started ignoring ignored (a shell's background job ignores SIGINT,
    ``nohup`` SIGHUP), and children inherit ignored signals; the tests that interrupt vrun need
    them not ignored, also when the suite runs as a background job.
    """
    wanted = {signal.SIGINT: signal.default_int_handler, signal.SIGHUP: signal.SIG_DFL}
    old = {sig: signal.signal(sig, h) for sig, h in wanted.items() if signal.getsignal(sig) == signal.SIG_IGN}
    yield
    for sig, handler in old.items():
        signal.signal(sig, handler)


def shared_by_workers(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """A folder ``name`` made once per test run by ``make`` and shared by every xdist worker.

    Under xdist each worker's base temp is ``pytest-N/popen-gwK``; the folder lives beside them,
    in ``pytest-N``. The first worker to get there makes it in a folder of its own and renames it
    into place (atomic on POSIX); a worker that loses the race uses the winner's.
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    final = root / name
    if not final.is_dir():
        scratch = base / f".{name}.making"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        make(scratch)
        try:
            os.rename(scratch, final)
        except OSError:  # another worker made it first
            shutil.rmtree(scratch, ignore_errors=True)
    return final


def _make_wheelhouse(house: Path) -> None:
    build_wheel(house, "alpha", "1.0")
    build_wheel(house, "alpha", "2.0")
    build_wheel(house, "beta", "1.0", requires=("alpha",))
    build_wheel(house, "greet", "1.0", modules={"greet.py": GREET}, scripts={"greet": "greet:main"})
    from virtualenv.seed.wheels import embed

    for pattern in ("setuptools-*.whl", "pip-*.whl"):  # uv-built envs get pip too
        for wheel in Path(embed.__file__).parent.glob(pattern):
            shutil.copy(wheel, house)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of small wheels: alpha 1.0/2.0, beta (needs alpha), greet (a console script),
    setuptools and pip; one per test run, shared by the workers (tests only read it)."""
    return shared_by_workers(tmp_path_factory, "wheelhouse", _make_wheelhouse)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One vrun cache for the whole run, shared by the workers as one user's cache is by their
    terminals: interpreter facts (discovery is slow; facts do not change), uv's cache in ``uv/``
    (see :func:`offline_environ`) and virtualenv's app data. vrun writes its cache files
    atomically, and uv and virtualenv lock theirs, so concurrent runs are what they are built for."""
    return shared_by_workers(tmp_path_factory, "vrun-cache", lambda path: None)


@pytest.fixture
def offline_env(wheelhouse: Path, cache_dir: Path, tmp_path: Path) -> dict[str, str]:
    """An environment for running vrun: offline pip, a private cache, no inherited venv."""
    return offline_environ(wheelhouse, cache_dir, tmp_path / "home")


def offline_environ(wheelhouse: Path, cache_dir: Path, home: Path) -> dict[str, str]:
    """:func:`offline_env`'s environment, for fixtures of a wider scope: ``HOME`` is ``home`` (made).

    uv's cache (``UV_CACHE_DIR``) is ``cache_dir/uv``, shared by the tests of a worker as a user's
    is by their projects: it holds the wheelhouse's wheels unpacked once (uv then links them into
    each env) instead of once per test, and nothing a test writes, since each test's projects and
    wheels live at paths of their own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "VRUN_", "UV_"))}
    env.pop("PYTHONPATH", None)
    env.pop("CI", None)
    # As on a user's machine: Python writes bytecode. A machine that sets PYTHONDONTWRITEBYTECODE
    # (this suite's CI does) would make every build hook import setuptools from source, in
    # uv's cached build envs too, each time (~0.3 s per hook).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_OFFLINE="1",  # with find-links: the wheelhouse and nothing else (uv has no UV_NO_INDEX)
        UV_FIND_LINKS=str(wheelhouse),
        UV_NO_CONFIG="1",
        VRUN_CACHE_DIR=str(cache_dir),
        UV_CACHE_DIR=str(cache_dir / "uv"),
        VIRTUALENV_OVERRIDE_APP_DATA=str(cache_dir / "virtualenv-app-data"),
        NO_COLOR="1",
        HOME=str(home),
    )
    home.mkdir(exist_ok=True)
    return env


def import_trace(stderr: str) -> tuple[set[str], str]:
    """Split the stderr of a ``python -X importtime`` run: the modules imported from the moment the
    ``vrun`` package was, and the rest of stderr.

    Counting from ``vrun`` leaves out what the interpreter's startup imported (``site``, and under
    ``vrun coverage`` the ``.pth`` hook that starts coverage, which imports ``hashlib`` and
    ``tomllib``): importtime prints a module when its import ends, and the ``vrun`` package imports
    nothing, so every line after its own is the run's.
    """
    modules: set[str] = set()
    rest: list[str] = []
    started = False
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            rest.append(line)
            continue
        name = line.split("|")[-1].strip()
        if started:
            modules.add(name)
        elif name == "vrun":
            started = True
            modules.add(name)
    return modules, "\n".join(rest)


def process_state(pid: int) -> str | None:
    """The state letter of process ``pid`` from ``/proc`` (``S``, ``R``, ``T`` stopped, ``Z``
    zombie, ...), or ``None`` when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped yet counts as gone)."""
    return process_state(pid) not in (None, "Z", "X")


def wait_for(
    condition: Callable[[], object],
    what: str,
    proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    timeout: float = 120.0,
) -> None:
    """Poll ``condition`` every 50 ms until it is true; fail naming ``what`` after ``timeout``
    seconds, or at once when ``proc`` (the vrun under test) exits first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        if proc is not None and proc.poll() is not None and not condition():
            raise AssertionError(f"vrun exited ({proc.returncode}) before {what}")
        time.sleep(0.05)


def screen(term: str) -> list[str]:
    """The lines a terminal shows for ``term`` (what was written to it): each ``\\r`` returns to
    the line's start and ``ESC [K`` erases the rest of it."""
    lines = []
    for raw in term.replace("\r\n", "\n").split("\n"):
        shown = ""
        for part in raw.split("\r"):
            text = part.removeprefix("\x1b[K")
            shown = text if text != part else text + shown[len(text) :]
        lines.append(shown)
    return lines


#: The interpreter running the tests, as a ``python`` spec (``"3.11"``).
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


def load_vrun_toml(tmp_path: Path, text: str) -> Config:
    """The config of a ``vrun.toml`` holding ``text`` (dedented), written in ``tmp_path``."""
    from vrun.config.load import load_config

    (tmp_path / "vrun.toml").write_text(textwrap.dedent(text))
    return load_config(tmp_path / "vrun.toml")


def vrun_toml_error(tmp_path: Path, text: str) -> ConfigError:
    """The :class:`~vrun.errors.ConfigError` that loading such a ``vrun.toml`` raises."""
    from vrun.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_vrun_toml(tmp_path, text)
    return info.value


def write_project(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (dedented); return ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


#: Where :func:`demo_project` puts the code, by layout.
_DEMO_CODE = {"src": "src/demo/__init__.py", "package": "demo/__init__.py", "module": "demo.py"}


def demo_project(
    *,
    version: str = "0.1",
    dependencies: Sequence[str] = (),
    optional: Mapping[str, Sequence[str]] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    dynamic: Sequence[str] = (),
    layout: str | None = "src",
    source: str = "WORD = 'one'\n",
    build: str | None = "setuptools>=64",
    tables: str = "",
) -> dict[str, str]:
    """The files of a project named ``demo``, for :func:`write_project`.

    ``pyproject.toml`` has ``[build-system]`` (setuptools' PEP 517 backend, ``requires = [build]``;
    none when ``build`` is None), ``[project]`` with ``version``, ``dependencies`` and ``dynamic``,
    then ``[project.optional-dependencies]`` from ``optional`` and ``[dependency-groups]``
    (PEP 735) from ``groups`` when given, then ``tables``: more TOML, verbatim (``[tool.vrun...]``,
    ``[tool.setuptools.dynamic]``, ...). The code, ``source``, goes where ``layout`` says:
    ``"src"`` (``src/demo/__init__.py``), ``"package"`` (``demo/__init__.py``), ``"module"``
    (``demo.py``, named in ``[tool.setuptools] py-modules``), or None (no code, no build).
    Lists are written as JSON arrays, which TOML reads as the same strings.
    """
    lines = []
    if build is not None:
        lines += [
            "[build-system]",
            f"requires = {json.dumps([build])}",
            'build-backend = "setuptools.build_meta"',
        ]
    lines += ["[project]", 'name = "demo"', f"version = {json.dumps(version)}"]
    if dependencies:
        lines.append(f"dependencies = {json.dumps(list(dependencies))}")
    if dynamic:
        lines.append(f"dynamic = {json.dumps(list(dynamic))}")
    for table, entries in (("project.optional-dependencies", optional), ("dependency-groups", groups)):
        if entries:
            lines.append(f"[{table}]")
            lines += [f"{name} = {json.dumps(list(reqs))}" for name, reqs in entries.items()]
    if layout == "module":
        lines += ["[tool.setuptools]", 'py-modules = ["demo"]']
    files = {"pyproject.toml": "\n".join(lines) + "\n" + textwrap.dedent(tables).lstrip("\n")}
    if layout is not None:
        files[_DEMO_CODE[layout]] = source
    return files


#: What Python fixes at start-up from the environment: a run whose environment differs from the
#: zygote's in any of these runs the real way (see tests/forkserver.py).
_STARTUP = ("PYTHON", "COVERAGE", "LC_", "LANG")


class _Zygote:
    """The client of tests/forkserver.py: one server per worker, started on first use, with the
    worker's environment as it was before any test changed it (as :func:`offline_environ`'s base,
    without ``PYTHONPATH`` and ``PYTHONDONTWRITEBYTECODE``)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.path = ""
        self.environ = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
        }

    def fits(self, env: Mapping[str, str]) -> bool:
        """Whether a run with ``env`` would start Python the way the server started."""
        names = {k for k in (*env, *self.environ) if k.startswith(_STARTUP)}
        return all(env.get(k) == self.environ.get(k) for k in names)

    def start(self) -> None:
        import tempfile

        folder = tempfile.mkdtemp(prefix="vrun-zygote-")
        self.path = os.path.join(folder, "socket")
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "forkserver.py"), self.path],
            env=self.environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "ready\n"

    def run(self, args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, bytes, bytes]:
        """Run ``vrun ARGS`` in a forked child; its exit status (negative: killed by that signal),
        stdout and stderr."""
        import socket
        import tempfile

        if self.proc is None or self.proc.poll() is not None:
            self.start()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
                conn.connect(self.path)
                request = json.dumps({"args": list(args), "cwd": str(cwd), "env": dict(env)}).encode()
                socket.send_fds(conn, [request], [0, out.fileno(), err.fileno()])
                code = int(conn.recv(64))
            out.seek(0)
            err.seek(0)
            return code, out.read(), err.read()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)


ZYGOTE = _Zygote()


@pytest.fixture(autouse=True, scope="session")
def _stop_the_zygote() -> Iterator[None]:
    yield
    ZYGOTE.stop()


def _text(data: bytes) -> str:
    """Bytes as ``subprocess.run(text=True)`` decodes them: locale encoding, universal newlines."""
    import locale

    return data.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


class Vrun:
    """Runs the real ``vrun`` command line in a process of its own, in one project directory.

    A plain call (no ``subprocess.run`` keywords) whose environment starts Python as the zygote's
    did runs in a child forked by tests/forkserver.py (vrun imported afresh, ~90 ms of CPU less
    per run); any other runs ``python -m vrun``.
    """

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env

    def __call__(
        self, *args: str, check: int | None = None, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "vrun", *args]
        if not kwargs and ZYGOTE.fits(self.env):
            code, out, err = ZYGOTE.run(args, self.cwd, self.env)
            proc = subprocess.CompletedProcess(argv, code, _text(out), _text(err))
        else:
            proc = subprocess.run(
                argv,
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                check=False,
                **kwargs,  # type: ignore[arg-type]
            )
        if check is not None:
            assert proc.returncode == check, (
                f"exit {proc.returncode} != {check}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc


def other_python(env: Mapping[str, str]) -> str:
    """A CPython ``3.N`` other than the one running the tests that vrun finds with ``env`` (PATH,
    pyenv, uv, as a vrun run with ``env`` searches), for tests that need two Pythons; skips the
    test on a machine with only one."""
    from vrun.errors import InterpreterNotFoundError
    from vrun.plan.interpreters import find_interpreter

    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for version in ("3.12", "3.11", "3.13", "3.10", "3.9"):
        if version == running:
            continue
        try:
            find_interpreter(version, environ=env, cache_dir=Path(env["VRUN_CACHE_DIR"]))
        except InterpreterNotFoundError:
            continue
        return version
    pytest.skip(f"needs a second Python: vrun finds none other than {running} here")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory."""
    root = tmp_path / "proj"
    root.mkdir()
    return root


@pytest.fixture
def vrun(project: Path, offline_env: dict[str, str]) -> Iterator[Vrun]:
    """A :class:`Vrun` for :func:`project`, offline."""
    yield Vrun(project, offline_env)


def to_a_reader_that_left(vrun: Vrun, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``vrun ARGS`` with stdout a pipe whose reader is already gone (``vrun list | head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "vrun", *args],
            cwd=vrun.cwd,
            env=vrun.env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write)
