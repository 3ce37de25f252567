"""vrun: a project-local workflow runner.

A project declares named sessions in ``vrun.toml`` (or ``[tool.vrun]`` in ``pyproject.toml``);
``vrun NAME`` finds or builds the session's virtual environment under ``.venvs/``, keyed by a
hash of everything that decides its contents, and runs the session's commands inside it.
"""

__version__ = "0.1.0"

#: vrun's subcommands, the one list: the command line dispatches on them, a session may not take
#: one of their names, completion offers them. Here because this module costs nothing to import.
SUBCOMMANDS = (
    "list",
    "shell",
    "activate",
    "run",
    "path",
    "rm",
    "gc",
    "freeze",
    "explain",
    "show",
    "lock",
    "init",
    "completion",
    "help",
    "version",
)
