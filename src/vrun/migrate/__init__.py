"""``vrun init``: translate tox (``tox.ini``, ``tox.toml``, ``[tool.tox]``, ``setup.cfg``) and nox
(``noxfile.py``, read statically) configuration into ``vrun.toml`` text, or guess sessions.
Imports only config and the bottom layer (docs/architecture.md).
"""
