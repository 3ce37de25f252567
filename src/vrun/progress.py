"""What an env build is doing while it does it: one status line on a terminal, plain lines elsewhere.

A build's steps (creating the env, building the project, installing) run child processes whose
output vrun captures, so for seconds or minutes nothing would move. On a terminal each step is
shown with its elapsed time on one line redrawn in place (:class:`vrun.output.StatusLine`, the line
the ``-p`` scheduler draws), ``vrun > test: installing 12 requirements with uv (3.2s)``, and cleared
when the step ends. No status line, and the step as one plain log line written when it starts
(what vrun always printed), when stderr is not a terminal or ``TERM`` is ``dumb``, under CI
(:func:`vrun.report.ci.ci_name`), with ``-v`` (the installers then write to the terminal themselves),
with ``-q`` (neither), and in a ``-p`` child (its parent draws the line).

The elapsed time is redrawn from the waiting loop of :func:`vrun.process.run_command` (its
``tick``, which :func:`ticker` gives the installers and the project's build hooks), not by a thread:
vrun forks its children, and forking while a thread writes to stderr is what Python 3.12 warns
about. Work done in vrun's own process (virtualenv creating an env) shows the step, not the time.
Imported only when an env is built.
"""

from __future__ import annotations

import contextlib
import os
import time

from vrun import output
from vrun.report.ci import ci_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: The redraw function of the step being shown, innermost last.
_SHOWN: list[Callable[[], None]] = []


@contextlib.contextmanager
def step(session: str, what: str, *, log: bool = True) -> Iterator[None]:
    """Show ``what`` (``installing 12 requirements with uv``) of ``session`` while the block runs.

    On a terminal (see the module docstring): ``vrun > SESSION: WHAT (S.Ss)``, redrawn by
    :func:`ticker`'s function and erased when the block ends, however it ends (an error, Ctrl-C).
    Elsewhere: ``vrun > WHAT`` once, at INFO, unless ``log`` is False (a step another line
    announced already).
    """
    line = output.StatusLine()
    if not (
        line.tty and output.enabled(output.INFO) and not output.verbose() and ci_name(os.environ) is None
    ):
        if log:
            output.info(what)
        yield
        return
    start = time.monotonic()

    def redraw() -> None:
        line.draw(f"vrun > {session}: {what}", f" ({time.monotonic() - start:.1f}s)")

    _SHOWN.append(redraw)
    try:  # a Ctrl-C may come while the line is drawn: it is erased all the same
        redraw()
        yield
    finally:
        _SHOWN.remove(redraw)
        line.clear()


def ticker() -> Callable[[], None] | None:
    """The function that redraws the step shown now, for :func:`vrun.process.run_command`'s
    ``tick``; ``None`` when no step is shown (no terminal, or not building)."""
    return _SHOWN[-1] if _SHOWN else None
