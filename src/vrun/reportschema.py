"""The JSON Schema (draft 2020-12) of vrun's ``--report`` file, and its version.

:func:`vrun.report.results.json_report` writes documents of this schema; ``docs/report.schema.json``
holds the same schema for users and validators (a test checks that they are equal). The schema
forbids unknown keys, so that it and the code cannot drift apart.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Bumped when a key of the report changes meaning or disappears (adding a key bumps it too,
#: since the schema forbids unknown keys so that the schema and the code cannot drift apart).
REPORT_VERSION = 1

_NULLABLE_STRING = {"type": ["string", "null"]}
_SECONDS = {"type": "number", "minimum": 0}

#: JSON Schema (draft 2020-12) of :func:`json_report`'s result; ``docs/report.schema.json``
#: holds the same schema (a test checks that they are equal).
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "vrun run report",
    "description": "Written by `vrun --report FILE`: what ran, where, and how each session ended.",
    "type": "object",
    "required": [
        "report_version",
        "vrun_version",
        "platform",
        "argv",
        "exit_code",
        "started",
        "duration",
        "totals",
        "sessions",
    ],
    "additionalProperties": False,
    "properties": {
        "report_version": {"const": REPORT_VERSION, "description": "Format version of this report."},
        "vrun_version": {"type": "string", "description": "The version of vrun that wrote it."},
        "platform": {
            "type": "object",
            "required": ["python_version", "python_implementation", "system", "machine"],
            "additionalProperties": False,
            "properties": {
                "python_version": {"type": "string", "description": "The Python running vrun."},
                "python_implementation": {"type": "string", "description": "CPython, PyPy, ..."},
                "system": {"type": "string", "description": "Linux, Darwin, ... (platform.system())"},
                "machine": {"type": "string", "description": "x86_64, arm64, ... (platform.machine())"},
            },
        },
        "argv": {
            "type": "array",
            "items": {"type": "string"},
            "description": "vrun's command line, without the program name.",
        },
        "exit_code": {"type": "integer", "description": "vrun's own exit status."},
        "started": {"type": "string", "format": "date-time", "description": "ISO 8601, UTC."},
        "duration": {**_SECONDS, "description": "Wall-clock seconds of the whole run."},
        "totals": {
            "type": "object",
            "required": ["passed", "failed", "skipped"],
            "additionalProperties": False,
            "properties": {
                "passed": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "skipped": {"type": "integer", "minimum": 0},
            },
        },
        "sessions": {"type": "array", "items": {"$ref": "#/$defs/session"}},
    },
    "$defs": {
        "session": {
            "type": "object",
            "required": [
                "name",
                "python",
                "env_dir",
                "env_key",
                "status",
                "reason",
                "exit_code",
                "duration",
                "commands",
            ],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "python": {
                    "type": "object",
                    "required": ["spec", "version", "executable"],
                    "additionalProperties": False,
                    "properties": {
                        "spec": _NULLABLE_STRING,
                        "version": _NULLABLE_STRING,
                        "executable": _NULLABLE_STRING,
                    },
                },
                "env_dir": _NULLABLE_STRING,
                "env_key": {"type": ["string", "null"], "pattern": "^[0-9a-f]+$"},
                "status": {"enum": ["passed", "failed", "skipped"]},
                "reason": {"type": "string"},
                "exit_code": {"type": "integer"},
                "duration": _SECONDS,
                "commands": {"type": "array", "items": {"$ref": "#/$defs/command"}},
            },
            "allOf": [
                {
                    "if": {"properties": {"status": {"const": "passed"}}},
                    "then": {"properties": {"reason": {"const": ""}, "exit_code": {"const": 0}}},
                },
                {
                    "if": {"properties": {"status": {"const": "failed"}}},
                    "then": {"properties": {"reason": {"minLength": 1}, "exit_code": {"not": {"const": 0}}}},
                },
            ],
        },
        "command": {
            "type": "object",
            "required": ["argv", "exit_code", "duration", "output_tail"],
            "additionalProperties": False,
            "properties": {
                "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "exit_code": {"type": ["integer", "null"], "description": "null: not run."},
                "duration": _SECONDS,
                "output_tail": _NULLABLE_STRING,
            },
        },
    },
}


# ---------------------------------------------------------------- JSON report
