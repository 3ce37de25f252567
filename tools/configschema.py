"""The JSON Schema of ``vrun.toml`` and ``[tool.vrun]``, generated from vrun's own definitions.

The keys come from :data:`vrun.config.keys.TOP_KEYS` and :data:`vrun.config.keys.SESSION_KEYS`, the value
sets from :data:`~vrun.config.keys.BACKEND_CHOICES` and :data:`~vrun.config.keys.INSTALL_MODES`, the
patterns from :data:`vrun.config.load.SESSION_NAME`, :data:`vrun.config.keys.EXTRA_NAME` and
:data:`vrun.config.fields.VARIABLE_GLOB`; this module adds a description and a value shape for each key
(:data:`TOP_PROPERTIES`, :data:`SESSION_PROPERTIES`). A key in the key lists without an entry
here, or an entry for a key that is no longer there, is an :class:`UndescribedKeyError`, so the
schema cannot fall behind the loader. ``docs/vrun.schema.json`` and
``docs/vrun-pyproject.schema.json`` are this module's output (``python tools/configschema.py
--write docs``); a test regenerates them and fails when the committed files differ.

The schema is JSON Schema draft-07, the draft SchemaStore recommends and taplo (Even Better
TOML) reads. It is looser than :func:`vrun.config.load.load_config` where a rule needs more than the
file (PEP 508 requirements, ``-r`` files that must exist, ``requires`` naming real sessions,
dependency groups): it catches typos and wrong types while editing; vrun checks the rest.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, NamedTuple

from vrun import SUBCOMMANDS
from vrun.config import fields
from vrun.config.keys import (
    ADD_KEYS,
    BACKEND_CHOICES,
    DOWNLOAD_CHOICES,
    EXTRA_NAME,
    INSTALL_MODES,
    OVERRIDE_KEYS,
    SESSION_KEYS,
    TOP_KEYS,
)
from vrun.config.load import SESSION_NAME
from vrun.config.matrix import FACTOR_NAME, VALUE
from vrun.env.layout import NAME_MAX, NAME_OVERHEAD

if TYPE_CHECKING:
    from vrun._types import JsonObject

#: Where the documentation site lives (pyproject's ``Documentation`` URL and mkdocs' ``site_url``).
DOCS_URL = "https://vrun-dev.github.io/vrun/"
#: The JSON Schema draft of both schemas: draft-07, as SchemaStore advises for editor support.
DRAFT = "http://json-schema.org/draft-07/schema#"
#: The schema of ``vrun.toml`` (and of the ``[tool.vrun]`` table), as written to ``docs/``.
SCHEMA_FILE = "vrun.schema.json"
#: The schema of a whole ``pyproject.toml`` whose ``[tool.vrun]`` table is checked.
PYPROJECT_SCHEMA_FILE = "vrun-pyproject.schema.json"
#: SchemaStore's schema of ``pyproject.toml``, which the pyproject schema extends.
SCHEMASTORE_PYPROJECT = "https://json.schemastore.org/pyproject.json"
#: How to regenerate the committed schemas (from the repository's root).
REGENERATE = "python tools/configschema.py --write docs"


class Key(NamedTuple):
    """What the schema says about one key.

    :param description: one or two sentences for an editor's hover text, in vrun's terms.
    :param shape: the JSON Schema (draft-07) of the key's value, without its description.
    :param anchor: the section of docs/config.md that documents it (a GitHub-style anchor).
    """

    description: str
    shape: JsonObject
    anchor: str


class UndescribedKeyError(LookupError):
    """A key of :data:`~vrun.config.keys.TOP_KEYS` / :data:`~vrun.config.keys.SESSION_KEYS` has no
    :class:`Key` here, or a :class:`Key` here names a key vrun no longer has."""


def _full(pattern: re.Pattern[str]) -> str:
    """``pattern`` (used with ``fullmatch``) as a JSON Schema pattern, which matches anywhere
    unless anchored (ECMA-262 syntax; vrun's patterns use nothing Python-only)."""
    return f"^(?:{pattern.pattern})$"


_TEXT: JsonObject = {"type": "string", "pattern": r"\S"}  # vrun's "a non-empty string"
_TEXTS: JsonObject = {"type": "array", "items": _TEXT}
_BACKEND: JsonObject = {"type": "string", "enum": list(BACKEND_CHOICES)}
_SESSION_REF: JsonObject = {
    "type": "string",
    "pattern": _full(SESSION_NAME),
    "maxLength": NAME_MAX - NAME_OVERHEAD,
}
_SESSION_REFS: JsonObject = {"type": "array", "items": _SESSION_REF}
#: A table of environment variables (``env``, ``build_env``): names without ``=`` or NUL, not
#: one vrun sets itself, string values.
_VARIABLES: JsonObject = {
    "type": "object",
    "propertyNames": {"pattern": "^[^=\\u0000]+$", "not": {"enum": list(fields.RESERVED_ENV)}},
    "additionalProperties": {"type": "string", "pattern": "^[^\\u0000]*$"},
}

#: A list of commands (``commands``, ``commands_pre``, ``commands_post``): strings, or argv arrays.
_COMMANDS: JsonObject = {
    "type": "array",
    "items": {
        "oneOf": [
            _TEXT,
            {
                "type": "array",
                "items": [{"type": "string", "minLength": 1}],
                "additionalItems": {"type": "string"},
                "minItems": 1,
            },
        ]
    },
}

#: The top-level keys (of ``vrun.toml``, or of ``[tool.vrun]``).
TOP_PROPERTIES: dict[str, Key] = {
    "default": Key(
        "The sessions a bare `vrun` runs, in this order (a matrix's base name stands for all its "
        "entries). Every session when absent.",
        _SESSION_REFS,
        "top-level-keys",
    ),
    "python": Key(
        'The interpreter spec ("3.12", "pypy3.10", ">=3.10", a path) of every session that names '
        "none. The interpreter running vrun when absent. A matrix (a list) belongs to a session.",
        _TEXT,
        "python",
    ),
    "backend": Key(
        'How envs are built: "auto" (uv wherever it can build the env, else virtualenv + pip), '
        '"uv" or "virtualenv". A session\'s own backend, --backend and VRUN_BACKEND win over it.',
        {**_BACKEND, "default": "auto"},
        "top-level-keys",
    ),
    "sessions": Key(
        "One table per session, [sessions.NAME]. A name starts with a letter or digit and holds "
        "letters, digits, _ . + -; it cannot be a vrun command.",
        {
            "type": "object",
            "propertyNames": {**_SESSION_REF, "not": {"enum": list(SUBCOMMANDS)}},
            "additionalProperties": {"$ref": "#/definitions/session"},
        },
        "session-names-and-matrices",
    ),
    "locked": Key(
        "true: every session must install from a current lock file (vrun lock); a run refuses to "
        "build a session whose lock file is missing or stale. A session's own locked wins.",
        {"type": "boolean", "default": False},
        "top-level-keys",
    ),
    "uv_lock": Key(
        "false: no session installs the versions the project's uv.lock pins (by default a session "
        "that installs the project or a dependency group does, when there is a uv.lock). A "
        "session's own uv_lock wins.",
        {"type": "boolean", "default": True},
        "top-level-keys",
    ),
    "python_downloads": Key(
        "\"auto\": a run installs a session's missing Python with uv (uv's managed Pythons, saying so); "
        '"never": the session fails (or, a matrix entry not named, is skipped). --download-python and '
        "VRUN_PYTHON_DOWNLOADS win over it.",
        {"type": "string", "enum": list(DOWNLOAD_CHOICES), "default": "auto"},
        "when-no-python-matches",
    ),
    "project_inputs": Key(
        "Glob patterns, relative to the project root, of further files that decide the project's "
        "metadata: their contents go into the hash of every env that installs the project.",
        _TEXTS,
        "top-level-keys",
    ),
}

#: The keys of a ``[sessions.NAME]`` table.
SESSION_PROPERTIES: dict[str, Key] = {
    "description": Key(
        "Shown by `vrun list` and in the session's header line.", {"type": "string"}, "session-keys"
    ),
    "python": Key(
        'The interpreter spec ("3.12", "pypy3.10", ">=3.10", a path); a list makes a matrix: '
        "test-3.11, test-3.12. The top-level python when absent.",
        {"oneOf": [_TEXT, {**_TEXTS, "minItems": 1}]},
        "python",
    ),
    "matrix": Key(
        'A matrix over any factors: matrix = { python = ["3.11", "3.12"], django = ["4.2", "5.0"] } '
        "makes one session per combination (test-3.11-django4.2, ...); a list of such tables makes "
        "the union of their products. Values stand in the session's strings as {matrix:FACTOR}.",
        {
            "oneOf": [
                {"$ref": "#/definitions/factors"},
                {"type": "array", "items": {"$ref": "#/definitions/factors"}, "minItems": 1},
            ]
        },
        "matrices",
    ),
    "deps": Key(
        "What to install: PEP 508 requirements, local projects (./lib, -e ../core), -r FILE and "
        "-c FILE (paths relative to the project root).",
        _TEXTS,
        "deps",
    ),
    "groups": Key(
        "PEP 735 dependency groups of the root's pyproject.toml [dependency-groups] to install.",
        _TEXTS,
        "groups",
    ),
    "extras": Key(
        "The project's own extras to install with it (needs install_project).",
        {"type": "array", "items": {"type": "string", "pattern": _full(EXTRA_NAME)}},
        "session-keys",
    ),
    "install_project": Key(
        'How the project itself is installed: "editable" (or true), "wheel" (a built package, '
        'rebuilt and reinstalled when the source changed), "sdist" (the wheel built from an sdist, '
        'as tox does), or false. "editable" when the root has [project] or setup.py.',
        {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": list(INSTALL_MODES)}]},
        "install_project",
    ),
    "commands": Key(
        "Run in order, in the env, without a shell; the first failure stops them (commands_post "
        "still run). A string "
        "is split like a POSIX shell would; an array is the argv as is. {posargs} takes what "
        "follows -- on the command line.",
        _COMMANDS,
        "commands",
    ),
    "shell": Key(
        "Run the string commands through /bin/sh -c (pipes, &&, redirections).",
        {"type": "boolean", "default": False},
        "session-keys",
    ),
    "env": Key(
        "set_env: variables set for the commands. VIRTUAL_ENV and PYTHONHOME are vrun's to set.",
        _VARIABLES,
        "env-set_env",
    ),
    "pass_env": Key(
        "Variables of your environment let through to the commands, on top of the default "
        "allow-list: names, or globs like GITHUB_*.",
        {"type": "array", "items": {"type": "string", "pattern": _full(fields.VARIABLE_GLOB)}},
        "pass_env",
    ),
    "system_site_packages": Key(
        "Let the env see the base interpreter's site-packages.",
        {"type": "boolean", "default": False},
        "session-keys",
    ),
    "tags": Key("Labels for vrun -t TAG and vrun -k.", _TEXTS, "session-keys"),
    "requires": Key(
        "Sessions that must pass first; this one is skipped when one of them does not.",
        _SESSION_REFS,
        "requires",
    ),
    "cwd": Key(
        "The directory the commands run in, relative to the project root; it must exist.",
        _TEXT,
        "session-keys",
    ),
    "timeout": Key(
        "Seconds the session's commands may take in all; past it the running command is stopped "
        "and the session fails (exit status 124).",
        {"type": "number", "exclusiveMinimum": 0},
        "timeout",
    ),
    "external": Key(
        "Programs the commands may run from outside the env without a note: names, or absolute paths.",
        _TEXTS,
        "commands",
    ),
    "backend": Key(
        'This session\'s backend: "auto", "uv" or "virtualenv" (part of its env\'s hash). The '
        "top-level backend when absent.",
        _BACKEND,
        "session-keys",
    ),
    "parallel": Key(
        "false: under vrun -p this session runs alone, never beside another.",
        {"type": "boolean", "default": True},
        "session-keys",
    ),
    "locked": Key(
        "true: this session must install from a current lock file, pylock.<session>.toml (vrun lock) "
        "or the project's uv.lock.",
        {"type": "boolean"},
        "session-keys",
    ),
    "uv_lock": Key(
        "false: this session resolves its requirements afresh instead of installing the versions the "
        "project's uv.lock pins.",
        {"type": "boolean"},
        "session-keys",
    ),
    "extends": Key(
        "The session whose keys this one inherits; keys set here replace inherited ones (env and "
        "build_env merge by name). description is not inherited.",
        _SESSION_REF,
        "extends",
    ),
    "overrides": Key(
        'Per-entry settings of a matrix: [sessions.NAME.overrides."django=4.2"] (or "3.12" for a '
        'python value, "python=3.12, django=4.2" for both) holds session keys the entries with '
        "those values use instead (not python, matrix, extends, overrides or requires), and an add "
        "table of arrays they append to.",
        {"type": "object", "additionalProperties": {"$ref": "#/definitions/override"}},
        "matrix-overrides",
    ),
    "build_env": Key(
        "Variables set for the project's build (and the installer's builds of local projects); "
        "part of the env's hash and of the project build cache's key.",
        _VARIABLES,
        "build_env",
    ),
    "script": Key(
        "A single-file script with a PEP 723 block (# /// script), relative to the project root: its "
        "dependencies are installed, its requires-python picks or checks the interpreter, and the "
        "session runs `python SCRIPT {posargs}` unless commands say otherwise. install_project is "
        "false unless set.",
        _TEXT,
        "script",
    ),
    "commands_pre": Key(
        "Commands run before commands, in the same env (tox's commands_pre); a failure skips "
        "commands, and commands_post still run.",
        _COMMANDS,
        "commands_pre-and-commands_post",
    ),
    "commands_post": Key(
        "Commands run after commands, even when one failed (tox 4's commands_post); the first "
        "failure decides the session's exit status.",
        _COMMANDS,
        "commands_pre-and-commands_post",
    ),
    "env_file": Key(
        "dotenv files (KEY=value lines, as uv run --env-file reads them), relative to the project "
        "root, whose variables the commands get; env wins over them. A leading - lets a file be "
        "missing. Not part of the env's hash.",
        {"oneOf": [_TEXT, _TEXTS]},
        "env_file",
    ),
}


def _properties(where: str, names: tuple[str, ...], described: dict[str, Key]) -> JsonObject:
    """The ``properties`` of one table: each key of ``names`` with its description and docs link.

    :raises UndescribedKeyError: when ``names`` and ``described`` differ.
    """
    missing = [name for name in names if name not in described]
    stale = [name for name in described if name not in names]
    if missing:
        raise UndescribedKeyError(
            f"the JSON Schema has no description for {where} key(s) {', '.join(missing)}: add a "
            f"Key(description, shape, anchor) for each to vrun.configschema.{_table_name(where)}, "
            f"then run `{REGENERATE}`"
        )
    if stale:
        raise UndescribedKeyError(
            f"vrun.configschema.{_table_name(where)} describes {', '.join(stale)}, which vrun no "
            f"longer has as {where} key(s): remove them, then run `{REGENERATE}`"
        )
    properties: JsonObject = {}
    for name in names:
        key = described[name]
        url = f"{DOCS_URL}config/#{key.anchor}"
        properties[name] = {
            "description": f"{key.description}\n{url}",
            **key.shape,
            "x-taplo": {"links": {"key": url}},
        }
    return properties


def _table_name(where: str) -> str:
    return "TOP_PROPERTIES" if where == "top-level" else "SESSION_PROPERTIES"


def build_schema() -> JsonObject:
    """The JSON Schema (draft-07) of ``vrun.toml``, which is also that of ``[tool.vrun]``.

    :return: a JSON-serializable dict; unknown keys are rejected at every level, as vrun does.
    :raises UndescribedKeyError: when :data:`~vrun.config.keys.TOP_KEYS` or
        :data:`~vrun.config.keys.SESSION_KEYS` has a key without a :class:`Key` here, or the reverse.
    """
    session = _properties("session", SESSION_KEYS, SESSION_PROPERTIES)
    return {
        "$schema": DRAFT,
        "$id": DOCS_URL + SCHEMA_FILE,
        "title": "vrun configuration",
        "description": (
            "vrun.toml, or the [tool.vrun] table of pyproject.toml: named sessions, each run in a "
            f"hashed virtual environment under .venvs/.\n{DOCS_URL}config/"
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": _properties("top-level", TOP_KEYS, TOP_PROPERTIES),
        "definitions": {
            "session": {
                "description": "A session: an interpreter, what to install, commands to run.\n"
                f"{DOCS_URL}config/#session-keys",
                "type": "object",
                "additionalProperties": False,
                "properties": session,
            },
            "override": {
                "description": "The session keys the matrix entries that meet its condition set "
                f"instead of their session's.\n{DOCS_URL}config/#matrix-overrides",
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    **{name: session[name] for name in OVERRIDE_KEYS},
                    "add": {
                        "description": "Arrays these entries append to their session's instead of "
                        f"replacing them.\n{DOCS_URL}config/#matrix-overrides",
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {name: session[name] for name in ADD_KEYS},
                    },
                },
            },
            "factors": {
                "description": "Factors of a matrix, each a non-empty array of values; the table "
                f"makes every combination.\n{DOCS_URL}config/#matrices",
                "type": "object",
                "propertyNames": {"pattern": _full(FACTOR_NAME)},
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "string", "pattern": _full(VALUE)},
                    "minItems": 1,
                    "uniqueItems": True,
                },
            },
        },
    }


def build_pyproject_schema() -> JsonObject:
    """The JSON Schema (draft-07) of a ``pyproject.toml`` whose ``[tool.vrun]`` is checked.

    For editors that give a file one schema (taplo associates a schema with a whole file): it
    extends SchemaStore's ``pyproject.json`` (by reference) and embeds :func:`build_schema` for
    ``tool.vrun``, so it needs no file beside it. Once SchemaStore's pyproject schema refers to
    vrun's (see docs/schema.md), editors need none of this.

    :raises UndescribedKeyError: as :func:`build_schema`.
    """
    vrun = build_schema()
    definitions = vrun.pop("definitions")
    assert isinstance(definitions, dict)  # build_schema's table of the session schemas
    for name in ("$schema", "$id"):
        vrun.pop(name)
    return {
        "$schema": DRAFT,
        "$id": DOCS_URL + PYPROJECT_SCHEMA_FILE,
        "title": "pyproject.toml with vrun's [tool.vrun]",
        "description": (
            "SchemaStore's pyproject.toml schema, with [tool.vrun] checked against vrun's.\n"
            f"{DOCS_URL}schema/"
        ),
        "allOf": [{"$ref": SCHEMASTORE_PYPROJECT}],
        "type": "object",
        "properties": {
            "tool": {"type": "object", "properties": {"vrun": {"$ref": "#/definitions/vrun"}}},
        },
        "definitions": {"vrun": vrun, **definitions},
    }


def render(schema: JsonObject) -> str:
    """``schema`` as the committed file holds it: JSON, 2-space indent, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def files() -> dict[str, str]:
    """``{file name: text}`` of both schemas, as ``docs/`` holds them.

    :raises UndescribedKeyError: as :func:`build_schema`.
    """
    return {SCHEMA_FILE: render(build_schema()), PYPROJECT_SCHEMA_FILE: render(build_pyproject_schema())}


def main(argv: list[str] | None = None) -> int:
    """``python tools/configschema.py [--id URL] [--pyproject | --write DIR]``: print
    ``vrun.schema.json`` (or the pyproject one), or write both into DIR. ``--id`` prints the
    schema under another ``$id``, e.g. SchemaStore's copy (docs/schema.md).

    :return: 0, or 2 (with an ``error:`` line) when a key has no description.
    """
    import argparse

    from vrun import inputs, output

    parser = argparse.ArgumentParser(prog="tools/configschema.py", description=main.__doc__)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--pyproject", action="store_true", help=f"print {PYPROJECT_SCHEMA_FILE}")
    both = f"write {SCHEMA_FILE} and {PYPROJECT_SCHEMA_FILE} into DIR"
    what.add_argument("--write", metavar="DIR", help=both)
    parser.add_argument("--id", metavar="URL", help="print vrun.schema.json with this $id")
    args = parser.parse_args(argv)
    if args.id and (args.write or args.pyproject):
        parser.error("--id prints vrun.schema.json only")
    try:
        texts = files()
    except UndescribedKeyError as exc:
        output.error(str(exc))
        return 2
    if args.id:
        sys.stdout.write(render({**build_schema(), "$id": args.id}))
        return 0
    if args.write is None:
        sys.stdout.write(texts[PYPROJECT_SCHEMA_FILE if args.pyproject else SCHEMA_FILE])
        return 0
    for name, text in texts.items():
        path = os.path.join(args.write, name)
        try:
            inputs.write_atomic(path, text)
        except OSError as exc:
            output.error(f"cannot write {path}: {exc.strerror or exc}")
            return 1
        output.info(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
