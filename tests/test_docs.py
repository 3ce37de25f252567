"""Every example in the docs is loaded or run: ``README.md`` and ``docs/*.md``.

- Every TOML example (```toml blocks, and what ``$ cat vrun.toml`` prints in a console block) is
  parsed; one that is a vrun config (``vrun.toml`` keys, or ``[tool.vrun]`` in a pyproject) or a
  session's keys on their own passes :func:`vrun.config.load.load_config` in a project where the files
  it names exist, and passes vrun's JSON Schema. The others must be recognized: a pyproject
  excerpt, a ``[dependency-groups]`` one, or a taplo configuration (which must give ``vrun.toml``
  and ``pyproject.toml`` vrun's published schemas). An ```ini block parses as tox's INI, a
  ```python one as Python and a ```json one as JSON (a SchemaStore catalog entry or an editor's
  schema association is checked); a ``tox.ini`` or ``noxfile.py`` goes through ``vrun init`` and
  its translation loads.
- Every ``vrun ...`` command line shown (console and bash blocks, ``run:`` steps of the CI
  recipes, inline code) parses with vrun's own parsers (:func:`vrun.arguments.build_parsers` after
  :func:`vrun.arguments.normalize`), so no page shows an option vrun does not have.
- A few representative command lines run for real against a small offline project; what the
  pages show vrun printing is compared with what it prints by tests/test_docs_output.py.

A wrong example is fixed in the docs, never here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Vrun, write_project
from vrun._compat import tomllib
from vrun.arguments import build_parsers, normalize
from vrun.config import reqfiles
from vrun.config.keys import SESSION_KEYS, TOP_KEYS
from vrun.config.load import load_config

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: A fenced block, and the ``<!-- docs-test: MARK -->`` comment right before it, if any
#: (tests/test_docs_output.py reads the marks).
_FENCE = re.compile(
    r"(?:^<!-- docs-test: (?P<mark>.*?) -->\n(?:[ \t]*\n)*)?"
    r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


@dataclass(frozen=True)
class Block:
    """A fenced block of a page: where it starts, its language, its text (dedented) and the
    ``docs-test`` mark before it (``""``: none)."""

    page: str
    line: int
    lang: str
    text: str
    mark: str = ""

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def page_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    return [
        Block(
            page.name,
            text[: match.start("indent")].count("\n") + 1,
            match["lang"],
            textwrap.dedent(match["body"]),
            match["mark"] or "",
        )
        for match in _FENCE.finditer(text)
    ]


BLOCKS = [block for page in PAGES for block in page_blocks(page)]


def test_the_docs_have_examples() -> None:
    """The extraction sees the pages' blocks (a changed fence style would silently check nothing)."""
    langs = {block.lang for block in BLOCKS}
    assert {"toml", "console", "bash", "yaml"} <= langs
    assert "" not in langs, [b.where for b in BLOCKS if not b.lang]  # every block names its language


# --- TOML --------------------------------------------------------------------------------------


def _toml_examples() -> list[tuple[str, str]]:
    """``(where, text)`` of each ```toml block and each ``$ cat *.toml`` output in a console block."""
    found = [(b.where, b.text) for b in BLOCKS if b.lang == "toml"]
    for block in BLOCKS:
        if block.lang != "console":
            continue
        for match in re.finditer(r"^\$ cat (\S+\.toml)\n((?:(?!\$ ).*\n)*)", block.text, re.M):
            found.append((f"{block.where} ({match.group(1)})", match.group(2)))
    return found


TOML_EXAMPLES = _toml_examples()


def _kind(data: dict[str, Any]) -> str:
    if "lock-version" in data:
        return "lock file"
    tool = data.get("tool")
    if isinstance(tool, dict) and "vrun" in tool:
        return "pyproject with [tool.vrun]"
    if "sessions" in data and set(data) <= set(TOP_KEYS):
        return "vrun.toml"
    if data and set(data) <= set(SESSION_KEYS):
        return "session keys"
    if data and set(data) <= {"build-system", "project", "dependency-groups", "tool"}:
        return "pyproject"
    if "rule" in data and set(data) <= {"include", "exclude", "rule", "schema", "formatting"}:
        return "taplo config"
    if data and all(isinstance(v, list) and all(isinstance(r, str) for r in v) for v in data.values()):
        return "dependency groups"
    raise AssertionError(f"not a vrun config nor a recognized excerpt: {sorted(data)}")


#: A PEP 723 script for the examples' ``script`` keys and for the scripts a tox.ini or noxfile.py names.
SCRIPT = '# /// script\n# requires-python = ">=3.9"\n# dependencies = []\n# ///\n'


def make_inputs(root: Path, config: dict[str, Any], data: dict[str, Any]) -> str:
    """Create the files ``config``'s sessions name; return what pyproject.toml must add."""
    groups: dict[str, list[str]] = {}
    installs = False
    for session in config.get("sessions", {}).values():
        installs = installs or session.get("install_project", False) not in (False, None)
        for entry in session.get("deps", []):
            option = reqfiles.file_option(entry)
            if option is not None and option[0] in ("-r", "-c"):
                write_project(root, {option[1]: ""})
            elif option is not None or reqfiles.is_local_path(entry):
                (root / (option[1] if option else entry)).mkdir(parents=True, exist_ok=True)
        groups.update({name: [] for name in session.get("groups", [])})
        if "script" in session:
            write_project(root, {session["script"]: SCRIPT})
        if "cwd" in session:
            (root / session["cwd"]).mkdir(parents=True, exist_ok=True)
        env_files = session.get("env_file", [])
        for name in [env_files] if isinstance(env_files, str) else env_files:
            if not name.startswith("-"):
                write_project(root, {name: "EXAMPLE=1\n"})
    extra = '[project]\nname = "example"\nversion = "1"\n' if installs and "project" not in data else ""
    if groups and "dependency-groups" not in data:
        extra += "[dependency-groups]\n" + "".join(f'"{g}" = []\n' for g in groups)
    return extra


@pytest.mark.parametrize(("where", "example"), TOML_EXAMPLES, ids=[w for w, _ in TOML_EXAMPLES])
def test_toml_example(where: str, example: str, tmp_path: Path) -> None:
    """The example parses; a vrun config loads once the files it names exist."""
    data = tomllib.loads(example)
    kind = _kind(data)
    if kind == "dependency groups":
        from packaging.requirements import Requirement

        for requirements in data.values():
            for requirement in requirements:
                Requirement(requirement)
        return
    if kind == "pyproject":
        return  # another tool's settings: parsing is what there is to check
    if kind == "taplo config":
        _check_taplo_config(data)
        return
    if kind == "lock file":
        _check_lock_file(data)
        return
    if kind == "session keys":
        example = f"[sessions.example]\n{example}"
        data = tomllib.loads(example)
    config = data["tool"]["vrun"] if kind.startswith("pyproject") else data
    extra = make_inputs(tmp_path, config, data)
    name = "pyproject.toml" if kind.startswith("pyproject") else "vrun.toml"
    if name == "pyproject.toml":
        example += "\n" + extra
    elif extra:
        write_project(tmp_path, {"pyproject.toml": extra})
    (tmp_path / name).write_text(example, encoding="utf-8")
    config_loaded = load_config(tmp_path / name)
    assert config_loaded.sessions, where
    validate_config(config, where)


def validate_config(config: dict[str, Any], where: str) -> None:
    """``config`` (a vrun.toml, or a ``[tool.vrun]`` table) passes vrun's JSON Schema
    (``tools/configschema.py``'s ``build_schema``): an editor would not flag an example vrun loads."""
    import jsonschema

    from tests.conftest import configschema

    build_schema = configschema.build_schema

    errors = [error.message for error in jsonschema.Draft7Validator(build_schema()).iter_errors(config)]
    assert not errors, f"{where}: vrun loads it, its JSON Schema rejects it: {errors}"


def _published_schema(url: str) -> str:
    """The file name of one of vrun's published JSON Schemas at ``url`` (asserting it is one)."""
    from tests.conftest import configschema

    name = url.removeprefix(configschema.DOCS_URL)
    assert name in configschema.files(), f"{url} is not one of vrun's schemas"
    return name


def _check_taplo_config(data: dict[str, Any]) -> None:
    """A ``.taplo.toml`` (docs/schema.md): each rule's schema is one vrun publishes, and a
    ``vrun.toml`` gets vrun's schema, a ``pyproject.toml`` the pyproject one (by the rules'
    ``include`` globs, matched as taplo does, the last matching rule winning)."""
    import fnmatch

    from tests.conftest import configschema

    chosen = {}
    for path in ("project/vrun.toml", "project/pyproject.toml"):
        for rule in data["rule"]:
            if any(fnmatch.fnmatch(path, pattern) for pattern in rule["include"]):
                chosen[path.rsplit("/", 1)[1]] = _published_schema(rule["schema"]["path"])
    assert chosen == {
        "vrun.toml": configschema.SCHEMA_FILE,
        "pyproject.toml": configschema.PYPROJECT_SCHEMA_FILE,
    }


JSON_BLOCKS = [b for b in BLOCKS if b.lang == "json"]


@pytest.mark.parametrize("block", JSON_BLOCKS, ids=[b.where for b in JSON_BLOCKS])
def test_json_example(block: Block) -> None:
    """A JSON example parses; a SchemaStore catalog entry matches ``vrun.toml``, and an editor's
    schema association (Even Better TOML's setting) maps ``vrun.toml`` and nothing else to vrun's
    published schema."""
    import json

    data = json.loads(block.text)
    if "fileMatch" in data:
        assert data["fileMatch"] == ["vrun.toml"] and data["name"] and data["description"], block.where
        assert data["url"] == "https://json.schemastore.org/vrun.json", block.where
    for associations in (v for k, v in data.items() if k.endswith("schema.associations")):
        for pattern, url in associations.items():
            assert _published_schema(url)
            assert re.search(pattern, "file:///home/me/project/vrun.toml"), block.where
            for other in ("file:///p/my-vrun.toml", "file:///p/vrun.toml.txt", "file:///p/pyproject.toml"):
                assert not re.search(pattern, other), (block.where, other)


def _check_lock_file(data: dict[str, Any]) -> None:
    """A PEP 751 file as ``vrun lock`` writes it: lock-version 1.x, pinned packages, and a
    ``[tool.vrun]`` table whose inputs are vrun's and whose digest is theirs (so it reads as current)."""
    from vrun.plan.lockfile import INPUT_LABELS, inputs_digest

    assert data["lock-version"].split(".")[0] == "1"
    assert all(p["name"] and p["version"] for p in data["packages"])
    tool = data["tool"]["vrun"]
    assert list(tool["inputs"]) == list(INPUT_LABELS)
    assert tool["digest"] == inputs_digest(tool["inputs"])


OTHER_FILES = [b for b in BLOCKS if b.lang in ("ini", "python")]


@pytest.mark.parametrize("block", OTHER_FILES, ids=[b.where for b in OTHER_FILES])
def test_ini_and_python_example(block: Block, tmp_path: Path) -> None:
    """A tox.ini parses as tox's INI, Python parses; a tox.ini or noxfile.py (migrating.md) is what
    ``vrun init`` reads: its translation loads."""
    import ast

    from vrun.migrate.toxini import parse_ini
    from vrun.migrate.translate import write_config

    first = block.text.splitlines()[0]
    if block.lang == "ini":
        assert parse_ini(block.text, "tox") is not None, block.where
    else:
        ast.parse(block.text)
    name = first.removeprefix("# ").strip()
    if name not in ("tox.ini", "noxfile.py"):
        return
    files = {name: block.text, "pyproject.toml": '[project]\nname = "example"\nversion = "1"\n'}
    files.update(dict.fromkeys(re.findall(r"[\w-]+\.txt", block.text), ""))
    files.update({p: SCRIPT for p in re.findall(r"[\w/-]+\.py", block.text) if p != "noxfile.py"})
    write_project(tmp_path, files)
    path, _notes = write_config(tmp_path)
    assert load_config(path).sessions


# --- command lines -----------------------------------------------------------------------------


def _substitutions(text: str) -> tuple[str, list[str]]:
    """``text`` with each ``$(...)`` replaced by a word, and the texts inside them (an unclosed one
    runs to the end: a CI step continues it on the next lines)."""
    inner: list[str] = []
    while (start := text.find("$(")) >= 0:
        depth, quote, i = 1, "", start + 2
        while i < len(text) and depth:
            char = text[i]
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            i += 1
        inner.append(text[start + 2 : i - 1] if depth == 0 else text[start + 2 :])
        text = text[:start] + "SUBST" + text[i:]
    return text, inner


def _tokens(text: str) -> list[str]:
    """Shell words and operators of one line; a quote left open (continued on the next line of a
    CI step) ends the line there."""
    for end in [len(text), *sorted({m.start() for m in re.finditer(r"['\"]", text)}, reverse=True)]:
        lexer = shlex.shlex(text[:end], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            return list(lexer)
        except ValueError:
            continue
    return []


def vrun_commands(line: str) -> list[list[str]]:
    """The argv (after ``vrun``) of each vrun command on a shell line: at the start, after an
    operator, inside ``$(...)``, after ``VAR=value`` words, or as ``python -m vrun``."""
    line, inner = _substitutions(line)
    found = [argv for text in inner for argv in vrun_commands(text)]
    command: list[str] = []
    for token in [*_tokens(line), ";"]:
        if token and set(token) <= set("&|;()<>"):
            while command and re.fullmatch(r"[A-Za-z_]\w*=.*", command[0]):
                command.pop(0)
            if command[:1] == ["vrun"]:
                found.append(command[1:])
            elif (
                len(command) > 2
                and re.fullmatch(r"python[\d.]*", command[0])
                and command[1:3] == ["-m", "vrun"]
            ):
                found.append(command[3:])
            command = []
        else:
            command.append(token)
    return found


def _command_lines() -> list[tuple[str, str]]:
    """``(where, line)`` of every shell line that may hold a vrun command."""
    lines: list[tuple[str, str]] = []
    for block in BLOCKS:
        for number, line in enumerate(block.text.splitlines(), 1):
            where = f"{block.where}+{number}"
            if block.lang == "console" and line.startswith("$ "):
                lines.append((where, line[2:]))
            elif block.lang in ("bash", "sh"):
                lines.append((where, line))
            elif block.lang == "yaml":
                step = re.match(r"\s*(?:-\s+)?(?:run:\s*)?(.*)", line)
                lines.append((where, step.group(1) if step else line))
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        prose = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for number, line in enumerate(prose.splitlines(), 1):
            for match in _INLINE.finditer(line):
                code = match.group(1).replace("\\|", "|")
                if re.match(r"(?:[A-Z]+=\S+ )*(?:python -m )?vrun\b|eval |cd ", code):
                    lines.append((f"{page.name}:{number} `{code}`", code))
    return [(where, line) for where, line in lines if vrun_commands(line)]


COMMAND_LINES = _command_lines()


def parse(argv: list[str], mention: bool = False) -> argparse.Namespace | None:
    """Parse ``argv`` as :func:`vrun.cli.main` does, without running anything.

    :param mention: ``argv`` comes from inline code naming a subcommand or an option in prose
        (`vrun shell`, `vrun -k`), which may leave out its operands: one ``NAME`` is added when
        argparse misses one. An unknown option still fails.
    :return: the namespace, or ``None`` for ``help``/``version``/``--version``/``-h``.
    :raises AssertionError: with argparse's message when it rejects ``argv``.
    """
    if mention:
        try:
            return parse(argv)
        except AssertionError as exc:
            if "required" not in str(exc) and "expected one argument" not in str(exc):
                raise
            cut = argv.index("--") if "--" in argv else len(argv)
            return parse([*argv[:cut], "NAME", *argv[cut:]])
    if "--" in argv:
        argv = argv[: argv.index("--")]
    parsers = build_parsers()
    argv = normalize(argv, parsers)
    if argv[:1] in (["help"], ["version"]):
        return None
    command = argv[0] if argv and argv[0] in parsers and argv[0] != "" else ""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            return parsers[command].parse_args(argv[1:] if command else argv)
    except SystemExit as exc:
        if exc.code == 0:
            return None
        raise AssertionError(stderr.getvalue().strip()) from None


def test_the_docs_show_command_lines() -> None:
    assert len(COMMAND_LINES) > 50
    shown = [argv for _, line in COMMAND_LINES for argv in vrun_commands(line)]
    for argv in (
        ["list", "--json"],
        ["gc", "--keep", "0"],
        ["path", "--build", "dev"],
        ["--report", "report.json", "--junitxml", "junit.xml", "$SESSION"],  # a CI step
        ["-p", "auto", "--report", "report.json", "--junitxml", "junit.xml"],  # inline code
        ["path", "test-3.12"],  # inside $(...)
        ["run", "test-3.12", "--", "python", "-c", "import sys; print(sys.prefix)"],
    ):
        assert argv in shown, argv


@pytest.mark.parametrize(("where", "line"), COMMAND_LINES, ids=[w for w, _ in COMMAND_LINES])
def test_command_line_parses(where: str, line: str) -> None:
    """Every vrun command line in the docs uses options and subcommands vrun has."""
    for argv in vrun_commands(line):
        parse(argv, mention=where.endswith("`"))


def test_parse_rejects_what_vrun_rejects() -> None:
    """The check has teeth: an unknown option, a missing value, a subcommand's option misplaced."""
    for argv in (["--no-such-flag"], ["-k"], ["list", "--dry-run"], ["gc", "--keep", "x"]):
        with pytest.raises(AssertionError):
            parse(argv)
    with pytest.raises(AssertionError):
        parse(["shell", "--no-such-flag"], mention=True)
    assert parse(["path", "--build"], mention=True) is not None
    assert parse(["-q", "run", "test", "--", "pytest", "-x"]) is not None


# --- run for real ------------------------------------------------------------------------------

#: A project with the session names the docs use; its deps come from the offline wheelhouse.
PROJECT = {
    "vrun.toml": """
        default = ["test"]

        [sessions.test]
        description = "Run the test suite"
        deps = ["greet"]
        tags = ["ci"]
        commands = ["greet {posargs:-q}"]

        [sessions.lint]
        deps = ["alpha"]
        install_project = false
        tags = ["ci"]
        commands = ["python -c 'import alpha; print(alpha.VERSION)'"]

        [sessions.dev]
        deps = ["beta"]
        """,
}


def _shown(line: str) -> list[str]:
    """The argv of ``line`` after checking the docs show it, so this test runs what a reader types."""
    assert any(line == shown or shown.startswith(line + " ") for _, shown in COMMAND_LINES), line
    return shlex.split(line, comments=True)[1:]


def test_examples_run(project: Path, vrun: Vrun) -> None:
    """README's and docs/cli.md's everyday commands, run against a small project."""
    write_project(project, PROJECT)
    result = vrun(*_shown("vrun test -- -x -k parse"), check=0)
    assert "greet: -x -k parse" in result.stdout
    result = vrun(*_shown("vrun list"), check=0)
    assert "test" in result.stdout and "lint" in result.stdout
    result = vrun(*_shown("vrun -t ci --skip-missing-interpreters"), check=0)
    assert "greet: -q" in result.stdout and "2.0" in result.stdout  # alpha 2.0: the newest
    result = vrun(*_shown("vrun list --envs"), check=0)
    assert "lint-" in result.stdout
    result = vrun(*_shown("vrun path --build dev"), check=0)
    env = Path(result.stdout.strip())
    assert env.is_dir() and env.parent == project / ".venvs"
    result = vrun(*_shown("vrun gc --dry-run"), check=0)
    result = vrun(*_shown("vrun rm lint"), check=0)
    assert "removed" in result.stdout
    assert not list((project / ".venvs").glob("lint-*"))
    vrun(*_shown("vrun freeze dev -o constraints.txt"), check=0)
    assert "beta==1.0" in (project / "constraints.txt").read_text()


def test_lock_examples_run(project: Path, vrun: Vrun) -> None:
    """docs/lock.md's workflow against the small project: lock, check, run locked, upgrade, go stale."""
    write_project(project, PROJECT)
    vrun(*_shown("vrun lock test"), check=0)
    assert "pylock.test.toml is current (test)" in vrun(*_shown("vrun lock --check"), check=0).stderr
    result = vrun(*_shown("vrun --locked test"), check=0)
    assert "installing what pylock.test.toml pins" in result.stderr and "greet: -q" in result.stdout
    vrun(*_shown("vrun lock test --upgrade-package pytest"), check=0)
    vrun(*_shown("vrun lock --upgrade"), check=0)
    config = (project / "vrun.toml").read_text()
    (project / "vrun.toml").write_text(config.replace('deps = ["greet"]', 'deps = ["greet", "alpha"]'))
    result = vrun(*_shown("vrun --locked test"), check=1)
    assert "pylock.test.toml is stale: requirement added: alpha" in result.stderr
    assert "hint: run `vrun lock test` to update it, then commit the result" in result.stderr
