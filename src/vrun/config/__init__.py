"""Configuration: find, read and validate ``vrun.toml`` or ``[tool.vrun]``; select sessions.

The first step of the data flow (docs/architecture.md). Imports only the bottom layer and
:mod:`vrun.env.layout` (the env-name length rule).
"""
