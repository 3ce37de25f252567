"""The user's pip settings hold under uv, the default backend (docs/envs.md, "pip's settings under uv").

Each test installs ``onlyhere``, a package that exists only where the user's pip settings point:
a PEP 503 index served on 127.0.0.1, a find-links folder, or a ``pip.conf`` naming one of them.
Nothing else offers it, so the env builds only if uv got the setting. The vrun default backend
(``auto``) must build with uv, so each test also checks the env was built by uv.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import Vrun, build_wheel, write_project
from tests.test_speed_defaults import marker_of

SESSION = """
    [sessions.s]
    install_project = false
    deps = ["onlyhere"]
    commands = ["python -c 'import onlyhere; print(\\"onlyhere\\", onlyhere.VERSION)'"]
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, wheelhouse: Path) -> Iterator[tuple[str, Path]]:
    """A PEP 503 simple index on 127.0.0.1 with the wheelhouse's wheels and ``onlyhere`` 1.0,
    and a find-links folder holding ``onlyhere`` alone: ``(index URL, folder)``."""
    root = tmp_path / "index"
    files = root / "files"
    files.mkdir(parents=True)
    alone = tmp_path / "links"
    alone.mkdir()
    build_wheel(alone, "onlyhere", "1.0")
    wheels = [*wheelhouse.glob("*.whl"), *alone.glob("*.whl")]
    projects: dict[str, list[str]] = {}
    for wheel in wheels:
        (files / wheel.name).write_bytes(wheel.read_bytes())
        projects.setdefault(wheel.name.split("-")[0].lower().replace("_", "-"), []).append(wheel.name)
    for project, names in projects.items():
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        links = "".join(f'<a href="../../files/{html.escape(n)}">{html.escape(n)}</a>\n' for n in names)
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple", alone
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def user(vrun: Vrun) -> Vrun:
    """vrun with no package source but the user's pip settings the test adds: the suite's own
    offline uv and pip settings removed."""
    for name in ("UV_OFFLINE", "UV_FIND_LINKS", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONFIG_FILE"):
        vrun.env.pop(name, None)
    vrun.env["NO_PROXY"] = "127.0.0.1"
    return vrun


def built_by_uv(project: Path) -> bool:
    return marker_of(project, "s")["backend"] == "uv"


def test_pip_index_url_from_the_environment(project: Path, user: Vrun, served: tuple[str, Path]) -> None:
    write_project(project, {"vrun.toml": SESSION})
    user.env.update(PIP_INDEX_URL=served[0], PIP_CONFIG_FILE="/dev/null")
    proc = user("s", check=0)
    assert "onlyhere 1.0" in proc.stdout and built_by_uv(project), proc.stderr


def test_pip_conf_index_url_and_trusted_host(project: Path, user: Vrun, served: tuple[str, Path]) -> None:
    conf = project.parent / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {served[0]}\ntrusted-host = 127.0.0.1\n")
    write_project(project, {"vrun.toml": SESSION})
    user.env["PIP_CONFIG_FILE"] = str(conf)
    proc = user("s", check=0)
    assert "onlyhere 1.0" in proc.stdout and built_by_uv(project), proc.stderr
    conf.write_text("[global]\nindex-url = http://127.0.0.1:9/simple\n")  # a changed pip.conf: a new env
    again = user("s", check=1)
    assert "creating env s-" in again.stderr


def test_pip_find_links_and_no_index(
    project: Path, user: Vrun, served: tuple[str, Path], wheelhouse: Path
) -> None:
    write_project(project, {"vrun.toml": SESSION})
    user.env.update(PIP_FIND_LINKS=f"{wheelhouse} {served[1]}", PIP_NO_INDEX="1", PIP_CONFIG_FILE="/dev/null")
    proc = user("s", check=0)
    assert "onlyhere 1.0" in proc.stdout and built_by_uv(project), proc.stderr


def test_pip_constraint_is_applied(project: Path, vrun: Vrun) -> None:
    """The wheelhouse has alpha 1.0 and 2.0; a pip constraints file holds uv to 1.0."""
    constraints = project.parent / "constraints.txt"
    constraints.write_text("alpha==1.0\n")
    write_project(
        project,
        {
            "vrun.toml": """
                [sessions.s]
                install_project = false
                deps = ["alpha"]
                commands = ["python -c 'import alpha; print(\\"alpha\\", alpha.VERSION)'"]
            """
        },
    )
    vrun.env["PIP_CONSTRAINT"] = str(constraints)
    proc = vrun("s", check=0)
    assert "alpha 1.0" in proc.stdout and built_by_uv(project), proc.stderr


def test_a_pip_setting_uv_cannot_take_builds_with_pip_saying_why(project: Path, vrun: Vrun) -> None:
    write_project(project, {"vrun.toml": SESSION.replace("onlyhere", "alpha")})
    vrun.env["PIP_ONLY_BINARY"] = "alpha"
    proc = vrun("s", check=0)
    assert not built_by_uv(project)
    assert (
        "pip's only-binary (PIP_ONLY_BINARY) has no uv equivalent; building with virtualenv + pip"
        in proc.stderr
    )


@pytest.mark.parametrize("key", ["target", "prefix", "root"])
def test_install_redirects_in_a_pip_conf_are_neutralized(project: Path, vrun: Vrun, key: str) -> None:
    """pip.conf's ``[install] target`` (or prefix, root) would make pip write the session's
    packages into the user's folder; vrun's installs ignore it, and keep the file's other settings."""
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    conf = project.parent / "pip.conf"
    find_links = vrun.env.pop("PIP_FIND_LINKS")  # from the file instead: it must still apply
    conf.write_text(f"[global]\nfind-links = {find_links}\n[install]\n{key} = {elsewhere}\n")
    vrun.env["PIP_CONFIG_FILE"] = str(conf)
    write_project(
        project,
        {
            "vrun.toml": SESSION.replace("onlyhere", "alpha").replace(
                "[sessions.s]", '[sessions.s]\nbackend = "virtualenv"'
            )
        },
    )
    proc = vrun("s", check=0)
    assert "alpha" in proc.stdout, proc.stderr
    assert list(elsewhere.iterdir()) == []
