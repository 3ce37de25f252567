"""One module per subcommand; :mod:`vrun.cli` dispatches here through its handler table
(docs/architecture.md).
"""
