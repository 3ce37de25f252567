"""vrun: a project-local workflow runner.

A project declares named sessions in ``vrun.toml`` (or ``[tool.vrun]`` in ``pyproject.toml``);
``vrun NAME`` finds or builds the session's virtual environment under ``.venvs/``, keyed by a
hash of everything that decides its contents, and runs the session's commands inside it.
"""

__version__ = "0.1.0"
