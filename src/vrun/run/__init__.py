"""Running: the one session loop, the rules it shares with ``-p``, the composition of a session's
command, the ``-p`` scheduler (docs/architecture.md). Never imports plan or config: the warm path stays light.
"""
