"""nox for ``vrun init``: a ``noxfile.py`` read statically with :mod:`ast`, never imported or run.

The rules are the nox documentation's ("Configuration & API"): ``@nox.session`` (``python``,
``name``, ``tags``, ``requires``, ``default``), ``session.install``, ``session.run``,
``session.chdir``, ``session.env``, ``nox.options.sessions``, and ``nox.project.load_toml`` of a
PEP 723 script (``session.install(*nox.project.load_toml("x.py")["dependencies"])`` makes a
script session). Values must be literals, or names
bound to literals at module level; anything else is noted, not guessed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from vrun.config.load import SESSION_NAME
from vrun.config.matrix import FACTOR_NAME, VALUE, Pairs
from vrun.migrate.model import (
    RESERVED,
    Notes,
    Session,
    command_item,
    entry_pairs,
    install_value,
    requirement,
    script_command,
)


class Noxfile:
    """A ``noxfile.py`` read with :mod:`ast`, following the nox documentation's API."""

    def __init__(self, root: Path, text: str, notes: Notes) -> None:
        self.root = root
        self.text = text
        self.notes = notes
        self.constants: dict[str, object] = {}  # module-level name -> its literal value
        self.nox_names = {"nox"}
        self.session_names: set[str] = set()  # aliases of nox.session
        self.parametrize_names: set[str] = set()  # aliases of nox.parametrize
        self.param_names: set[str] = set()  # aliases of nox.param
        self.not_default: set[str] = set()  # sessions with default=False
        #: names bound to a script's ``nox.project.load_toml("x.py")`` (``"toml"``) or to its
        #: ``["dependencies"]`` (``"deps"``): at module level, and in the function being read
        self.scripts: dict[str, tuple[str, str]] = {}
        self.local: dict[str, tuple[str, str]] = {}
        self.factors: set[str] = set()  # the parametrized arguments of the function being read
        self.entries: list[Pairs] = []  # the values of its matrix entries

    def translate(self) -> tuple[list[Session], list[str] | None]:
        """The sessions of the noxfile's ``@nox.session`` functions, and the default sessions.

        :return: ``(sessions, default)``: ``default`` is ``nox.options.sessions`` (names not
            translated dropped, with a note), else the sessions without ``default=False`` when any
            has it, else ``None``. A syntax error gives no sessions and a note.
        """
        try:
            tree = ast.parse(self.text, "noxfile.py")
        except SyntaxError as exc:
            self.notes.add(f"noxfile.py: syntax error at line {exc.lineno}; nothing translated")
            return [], None
        default: list[str] | None = None
        sessions: list[Session] = []
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "nox":
                        self.nox_names.add(alias.asname or "nox")
            elif isinstance(node, ast.ImportFrom) and node.module == "nox":
                for alias in node.names:
                    if alias.name == "session":
                        self.session_names.add(alias.asname or "session")
                    elif alias.name == "parametrize":
                        self.parametrize_names.add(alias.asname or "parametrize")
                    elif alias.name == "param":
                        self.param_names.add(alias.asname or "param")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                bound = None if node.value is None else self.script_value(node.value)
                for target in targets:
                    dotted = _dotted(target)
                    if isinstance(target, ast.Name) and bound is not None:
                        self.scripts[target.id] = bound
                    elif isinstance(target, ast.Name) and node.value is not None:
                        try:
                            self.constants[target.id] = ast.literal_eval(node.value)
                        except ValueError:
                            pass
                    elif dotted and dotted.endswith("options.sessions") and node.value is not None:
                        value = self.literal(node.value)
                        if isinstance(value, list) and all(isinstance(v, str) for v in value):
                            default = value
                        else:
                            self.notes.add(f"noxfile.py:{node.lineno}: nox.options.sessions not literal")
                    elif dotted and ".options." in f".{dotted}":
                        self.notes.add(f"noxfile.py:{node.lineno}: {dotted} not translated")
            elif isinstance(node, ast.FunctionDef):
                session = self.function(node)
                if session is not None:
                    sessions.append(session)
        if default is not None:
            known = {s.name for s in sessions}
            for name in default:
                if name not in known and not any(name.startswith(f"{k}-") for k in known):
                    self.notes.add(f"noxfile.py: nox.options.sessions names {name!r}, not a session here")
            default = [n for n in default if n in known or any(n.startswith(f"{k}-") for k in known)]
        elif self.not_default:
            default = [s.name for s in sessions if s.name not in self.not_default]
        return sessions, default

    def literal(self, node: ast.expr) -> object:
        """The value of a literal or a module-level constant's name, else a sentinel."""
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        try:
            return ast.literal_eval(node)
        except ValueError:
            return _NOT_LITERAL

    def words(self, arg: ast.expr) -> list[str] | None:
        """The strings a call argument stands for: a literal string, ``*`` a literal list or
        tuple of strings, or a parametrized argument (``django``, ``f"django=={django}"``) as
        ``{matrix:django}``; ``None`` for anything else."""
        if isinstance(arg, ast.Starred):
            value = self.literal(arg.value)
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return list(value)
            return None
        if isinstance(arg, ast.Name) and arg.id in self.factors:
            return ["{matrix:" + arg.id + "}"]
        if isinstance(arg, ast.JoinedStr):
            text = self.fstring(arg)
            return None if text is None else [text]
        value = self.literal(arg)
        return [value] if isinstance(value, str) else None

    def fstring(self, node: ast.JoinedStr) -> str | None:
        """An f-string whose fields are parametrized arguments as text with ``{matrix:NAME}``, or
        ``None`` (another field, a conversion or format spec, a brace in its text)."""
        out = []
        for part in node.values:
            if (
                isinstance(part, ast.Constant)
                and isinstance(part.value, str)
                and not set("{}") & set(part.value)
            ):
                out.append(part.value)
            elif (
                isinstance(part, ast.FormattedValue)
                and isinstance(part.value, ast.Name)
                and part.value.id in self.factors
                and part.conversion == -1
                and part.format_spec is None
            ):
                out.append("{matrix:" + part.value.id + "}")
            else:
                return None
        return "".join(out)

    def is_parametrize(self, node: ast.expr) -> bool:
        """Whether ``node`` is a ``@nox.parametrize(...)`` call."""
        if not isinstance(node, ast.Call):
            return False
        dotted = _dotted(node.func)
        return dotted in self.parametrize_names or any(dotted == f"{n}.parametrize" for n in self.nox_names)

    def parametrize(self, call: ast.Call, where: str) -> list[dict[str, list[str]]] | None:
        """A ``@nox.parametrize(names, values)`` as matrix tables (nox's "Parametrizing sessions"):
        one argument gives one factor, several a table per tuple of values; ``None``, with a note,
        when its names or values are not literals vrun can name entries with."""
        shown = f"{where}: @{ast.unparse(call)[:60]}"
        names_value = self.literal(call.args[0]) if call.args else None
        names = (
            [n.strip() for n in names_value.split(",")]
            if isinstance(names_value, str)
            else list(names_value)
            if isinstance(names_value, (list, tuple))
            else None
        )
        if not names or not all(isinstance(n, str) and FACTOR_NAME.fullmatch(n) for n in names):
            self.notes.add(f"{shown} not translated: its argument names are not literal")
            return None
        node = call.args[1] if len(call.args) > 1 else None
        items: list[object] = []
        ids = any(k.arg == "ids" for k in call.keywords)
        if isinstance(node, (ast.List, ast.Tuple)):
            for element in node.elts:
                if isinstance(element, ast.Call) and (
                    _dotted(element.func) in self.param_names
                    or any(_dotted(element.func) == f"{n}.param" for n in self.nox_names)
                ):
                    ids = ids or any(k.arg == "id" for k in element.keywords)
                    values = [self.literal(a) for a in element.args]
                    items.append(values[0] if len(names) == 1 and len(values) == 1 else tuple(values))
                else:
                    items.append(self.literal(element))
        elif node is not None and isinstance(self.literal(node), (list, tuple)):
            items = list(self.literal(node))  # type: ignore[call-overload]
        rows = [item if len(names) > 1 else (item,) for item in items]
        text = [[_text(v) for v in row] if isinstance(row, (list, tuple)) else None for row in rows]
        if not rows or any(row is None or len(row) != len(names) or None in row for row in text):
            self.notes.add(f"{shown} not translated: its values are not literal strings or numbers")
            return None
        bad = [v for row in text for v in row or [] if v is not None and not VALUE.fullmatch(v)]
        if bad:
            self.notes.add(
                f"{shown} not translated: {bad[0]!r} cannot name a vrun matrix entry (letters, digits, "
                "'_', '.', '+', '-')"
            )
            return None
        if ids:
            self.notes.add(f"{shown}: ids not translated; vrun names each entry by its values")
        if len(names) == 1:
            return [{names[0]: list(dict.fromkeys(str(row[0]) for row in text if row))}]
        return [{name: [str(v)] for name, v in zip(names, row or [])} for row in text]

    def is_session_decorator(self, node: ast.expr) -> ast.Call | bool:
        """The call when ``node`` is ``@nox.session(...)``, ``True`` for a bare ``@nox.session``."""
        target = node.func if isinstance(node, ast.Call) else node
        dotted = _dotted(target)
        hit = dotted in self.session_names or any(dotted == f"{n}.session" for n in self.nox_names)
        if not hit:
            return False
        return node if isinstance(node, ast.Call) else True

    def function(self, node: ast.FunctionDef) -> Session | None:
        """The session a decorated function defines, or ``None`` when it is not a nox session."""
        call: ast.Call | None = None
        found = False
        where = f"noxfile.py:{node.lineno} {node.name}"
        tables: list[dict[str, list[str]]] = [{}]  # the matrix @nox.parametrize makes, a product
        self.factors = set()
        for decorator in node.decorator_list:
            hit = self.is_session_decorator(decorator)
            if hit is not False:
                found = True
                call = hit if isinstance(hit, ast.Call) else None
            elif self.is_parametrize(decorator):
                assert isinstance(decorator, ast.Call)
                made = self.parametrize(decorator, where)
                if made is not None:
                    tables = [{**t, **m} for t in tables for m in made]
                    self.factors.update(made[0])
            else:
                self.notes.add(
                    f"noxfile.py:{node.lineno}: @{ast.unparse(decorator)} on {node.name} not translated"
                )
        if not found:
            return None
        session = Session(name=node.name)
        not_default = False
        for keyword in call.keywords if call else []:
            value = self.literal(keyword.value)
            arg = keyword.arg
            if arg in ("python", "py"):
                if value is None:
                    continue
                if isinstance(value, str):
                    session.python = value
                elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
                    session.python = list(value)
                else:
                    self.notes.add(f"{where}: python={ast.unparse(keyword.value)} not translated")
            elif arg == "name" and isinstance(value, str):
                session.name = value
            elif arg == "tags" and isinstance(value, (list, tuple)):
                session.tags = [str(v) for v in value]
            elif arg == "requires" and isinstance(value, (list, tuple)):
                session.requires = [str(v) for v in value]
                if any("{" in str(v) for v in value):
                    self.notes.add(f"{where}: requires with {{python}} templates not translated")
                    session.requires = [str(v) for v in value if "{" not in str(v)]
            elif arg == "default" and value is False:
                not_default = True
            elif arg == "reuse_venv":
                continue  # reuse is automatic in vrun
            else:
                self.notes.add(f"{where}: @nox.session({arg}=...) not translated")
        if self.factors:
            if any("python" in t for t in tables):
                session.python = None  # parametrized: nox takes the parameter's
            elif isinstance(session.python, list):
                tables = [{"python": list(session.python), **t} for t in tables]
                session.python = None
            if len(tables) == 1 and list(tables[0]) == ["python"]:
                session.python = tables[0]["python"]
            else:
                session.matrix = tables[0] if len(tables) == 1 else tables
        self.entries = entry_pairs(session)
        doc = ast.get_docstring(node)
        if doc:
            session.description = " ".join(doc.strip().splitlines()[0].split())
        param = node.args.args[0].arg if node.args.args else "session"
        install: str | None = None
        self.local = {}
        for statement in node.body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                continue  # the docstring
            install = self.statement(statement, param, session, where, install)
        if session.script is not None and session.commands == [script_command(session.script)]:
            session.commands = []  # a script session's own default
        script = session.script is not None
        session.install_project = install_value(self.root, install, where, self.notes, script=script)
        if session.extras and install is None:
            session.extras = []
        if not SESSION_NAME.fullmatch(session.name) or session.name in RESERVED:
            old = session.name
            session.name = re.sub(r"[^A-Za-z0-9_.+-]", "-", old).strip("-_.+") or "session"
            if session.name in RESERVED:
                session.name += "-session"
            self.notes.add(f"{where}: session {old!r} is named {session.name!r} in vrun")
        if not_default:
            self.not_default.add(session.name)
        return session

    def statement(
        self, statement: ast.stmt, param: str, session: Session, where: str, install: str | None
    ) -> str | None:
        """Translate one statement of a session function into ``session``; the install mode so far."""
        line = f"noxfile.py:{statement.lineno}"
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            call = statement.value
            method = _dotted(call.func)
            if method == f"{param}.install":
                return self.install(call, session, line, install)
            if method in (f"{param}.run", f"{param}.run_always", f"{param}.run_install"):
                argv = self.run_args(call, line)
                if argv:
                    session.commands.append(command_item(argv))
                else:
                    session.dropped += 1
                for keyword in call.keywords:
                    if keyword.arg not in ("external", "silent"):
                        self.notes.add(f"{line}: {method}({keyword.arg}=...) not translated")
                return install
            if method == f"{param}.chdir" and call.args:
                value = self.literal(call.args[0])
                if isinstance(value, str) and (self.root / value).is_dir():
                    session.cwd = value
                    return install
            if method in (f"{param}.log", f"{param}.debug", f"{param}.warn"):
                return install
            if method == f"{param}.env.update" and call.args:
                value = self.literal(call.args[0])
                if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                    session.env.update({str(k): v for k, v in value.items()})
                    return install
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            bound = self.script_value(statement.value)
            if isinstance(target, ast.Name) and bound is not None:
                self.local[target.id] = bound
                return install
            if isinstance(target, ast.Subscript) and _dotted(target.value) == f"{param}.env":
                name, value = self.literal(target.slice), self.literal(statement.value)
                if isinstance(name, str) and isinstance(value, str):
                    session.env[name] = value
                    return install
        code = ast.unparse(statement).splitlines()[0]
        self.notes.add(f"{line}: `{code}` not translated")
        runs = (f"{param}.run", f"{param}.run_always", f"{param}.run_install")
        session.dropped += sum(
            isinstance(node, ast.Call) and _dotted(node.func) in runs for node in ast.walk(statement)
        )
        return install

    def install(self, call: ast.Call, session: Session, line: str, install: str | None) -> str | None:
        """A ``session.install(...)`` call: deps, groups, extras; the project's install mode.

        Its arguments are pip's (``uv pip install``'s): each option is taken with its value, so
        that the value is never read as a requirement. ``.`` (``.[extras]``) installs the project,
        ``-e .`` editable; ``-e PATH`` is a local editable dep; ``-r FILE`` and ``-c FILE`` become
        deps; ``--group NAME`` (pip 25.1's ``[PATH:]NAME``) a dependency group; any other option is
        noted, with its value."""
        args: list[str] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                groups = self.dependency_groups(arg.value)
                if groups is not None:
                    session.groups += [g for g in groups if g not in session.groups]
                    continue
                script = self.script_dependencies(arg.value)
                if script is not None:
                    self.use_script(session, script, line)
                    continue
            words = self.words(arg)
            if words is not None:
                args += words
                continue
            self.notes.add(f"{line}: session.install argument `{ast.unparse(arg)}` not translated")
        i = 0
        while i < len(args):
            option, value, used = _option(args, i)
            i += used
            if option is None:
                project = self.project(value or "", "wheel", session, line)
                if project:
                    install = project if install != "editable" else install
                else:
                    req = requirement(value or "", line, self.root, self.notes, self.entries)
                    if req:
                        session.deps.append(req)
            elif option in ("-r", "--requirement", "-c", "--constraint") and value:
                req = requirement(f"{option} {value}", line, self.root, self.notes, self.entries)
                if req:
                    session.deps.append(req)
            elif option in ("-e", "--editable") and value:
                project = self.project(value, "editable", session, line)
                if project:
                    install = project
                elif (self.root / value).is_dir():
                    session.deps.append(f"-e {value}")
                else:
                    self.notes.add(f"{line}: session.install -e {value!r} not translated")
            elif option == "--group" and value:
                path, _, name = value.rpartition(":")
                if path and path not in ("pyproject.toml", "./pyproject.toml"):
                    self.notes.add(f"{line}: --group {value!r} (another pyproject.toml) not translated")
                elif name not in session.groups:
                    session.groups.append(name)
            else:
                shown = option if value is None else f"{option} {value}"
                self.notes.add(f"{line}: session.install option {shown!r} not translated")
        return install

    def project(self, arg: str, mode: str, session: Session, line: str) -> str | None:
        """``mode`` when ``arg`` installs the project (``.``, ``.[extras]``), its extras added."""
        match = re.fullmatch(r"\.(?:/)?(?:\[([^\]]*)\])?", arg)
        if match is None:
            return None
        if match.group(1):
            session.extras += [
                e.strip() for e in match.group(1).split(",") if e.strip() not in session.extras
            ]
        return mode

    def dependency_groups(self, node: ast.expr) -> list[str] | None:
        """The group names of ``nox.project.dependency_groups(pyproject, *names)``, else ``None``."""
        if isinstance(node, ast.Call) and _dotted(node.func).endswith("dependency_groups"):
            names = [self.literal(a) for a in node.args[1:]]
            if all(isinstance(n, str) for n in names):
                return [str(n) for n in names]
        return None

    def script_value(self, node: ast.expr) -> tuple[str, str] | None:
        """What ``node`` is of a PEP 723 script (nox's ``nox.project.load_toml``, which reads the
        ``script`` block of a file not named ``*.toml``): ``("toml", path)`` for the call,
        ``("deps", path)`` for its ``["dependencies"]``; ``None`` for anything else."""
        if isinstance(node, ast.Name):
            return self.local.get(node.id) or self.scripts.get(node.id)
        if isinstance(node, ast.Call) and _dotted(node.func).endswith("load_toml") and node.args:
            path = self.literal(node.args[0])
            return ("toml", path) if isinstance(path, str) and not path.endswith(".toml") else None
        if isinstance(node, ast.Subscript) and self.literal(node.slice) == "dependencies":
            inner = self.script_value(node.value)
            return ("deps", inner[1]) if inner is not None and inner[0] == "toml" else None
        return None

    def script_dependencies(self, node: ast.expr) -> str | None:
        """The script whose dependencies ``node`` (a ``*`` argument of ``session.install``) stands for."""
        found = self.script_value(node)
        return found[1] if found is not None and found[0] == "deps" else None

    def use_script(self, session: Session, script: str, line: str) -> None:
        """Make ``session`` a script session of ``script`` (its dependencies installed), if it exists."""
        if not (self.root / script).is_file():
            self.notes.add(f"{line}: script {script!r} does not exist; its dependencies not translated")
        elif session.script not in (None, script):
            self.notes.add(f"{line}: a second script, {script!r}; only {session.script!r} translated")
        else:
            session.script = script

    def run_args(self, call: ast.Call, line: str) -> list[str]:
        """A ``session.run(...)`` call's argv, ``session.posargs`` as ``{posargs}``; ``[]`` if not literal."""
        argv: list[str] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                inner = arg.value
                if _dotted(inner).endswith(".posargs"):
                    argv.append("{posargs}")
                    continue
                if (
                    isinstance(inner, ast.BoolOp)
                    and isinstance(inner.op, ast.Or)
                    and len(inner.values) == 2
                    and _dotted(inner.values[0]).endswith(".posargs")
                ):
                    default = self.literal(inner.values[1])
                    if isinstance(default, (list, tuple)) and all(
                        isinstance(v, str) and " " not in v and "}" not in v for v in default
                    ):
                        argv.append("{posargs:" + " ".join(default) + "}" if default else "{posargs}")
                        continue
            words = self.words(arg)
            if words is not None:
                argv += words
                continue
            self.notes.add(
                f"{line}: session.run argument `{ast.unparse(arg)}` not translated; command dropped"
            )
            return []
        return argv


_NOT_LITERAL = object()

#: Options of ``pip install`` (and ``uv pip install``) that take a value, long and short forms.
_VALUE_OPTIONS = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "--group",
        "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--only-binary",
        "--no-binary", "--platform", "--python-version", "--implementation", "--abi", "-t",
        "--target", "--root", "--prefix", "--src", "--upgrade-strategy", "-C", "--config-settings",
        "--global-option", "--trusted-host", "--progress-bar", "--cache-dir", "--log", "--proxy",
        "--retries", "--timeout", "--exists-action", "--cert", "--client-cert", "--index-strategy",
        "--extra", "--python", "-p", "--resolution", "--prerelease", "--keyring-provider",
        "--override", "--exclude-newer",
    }
)  # fmt: skip


def _option(args: list[str], i: int) -> tuple[str | None, str | None, int]:
    """The install argument at ``args[i]``: ``(option, its value or None, how many words it took)``,
    or ``(None, the word, 1)`` when it is no option. ``--opt=V``, ``--opt V``, ``-xV`` and ``-x V``
    are read as pip reads them (:data:`_VALUE_OPTIONS` take a value)."""
    word = args[i]
    following = args[i + 1] if i + 1 < len(args) else None
    if word.startswith("--"):
        name, sep, value = word.partition("=")
        if sep:
            return name, value, 1
        if name in _VALUE_OPTIONS:
            return name, following, 2
        return name, None, 1
    if word.startswith("-") and len(word) > 1:
        short, rest = word[:2], word[2:]
        if short in _VALUE_OPTIONS:
            return (short, rest.lstrip("="), 1) if rest else (short, following, 2)
        return word, None, 1
    return None, word, 1


def _text(value: object) -> str | None:
    """A parametrized value as a matrix value: a string as it is, a number as Python writes it;
    ``None`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain on a name, else ``""``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""
