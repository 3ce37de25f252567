"""A zygote for the suite's ``python -m vrun`` runs: one process per xdist worker that has imported
the standard library and vrun's dependencies, and forks a child per run that imports vrun afresh
and runs it as ``python -m vrun`` would.

A real ``python -m vrun`` spends about 90 ms of CPU starting Python and importing ``argparse``,
``dataclasses``, ``tomllib``, ``packaging``... before vrun does anything; the suite starts ~800 of
them. The child of a fork skips that and nothing else: it is a process of its own, with the
test's working directory, environment, ``sys.argv``, ``sys.path[0]`` and descriptors 0, 1, 2,
vrun's modules imported fresh (no state of an earlier run), and Python's exit path (``atexit``,
then the flush; an unhandled KeyboardInterrupt ends it by SIGINT). Only what Python fixes at
start-up is the zygote's (``sys.flags``, the stdio encodings, ``sys.path`` beyond ``[0]``), so a
run whose environment sets any ``PYTHON*``, ``COVERAGE*``, ``LANG`` or ``LC_*`` differently is
run the real way (:func:`tests.conftest.Vrun.__call__` decides). pytest's ``pytester`` offers
the same trade (``runpytest_inprocess``) with less isolation than this.

Protocol, over a ``SOCK_SEQPACKET`` Unix socket: the client sends one JSON message
``{"args": [...], "cwd": ..., "env": {...}}`` with three descriptors (stdin, stdout, stderr);
the server answers with the child's exit status as :func:`os.waitstatus_to_exitcode` gives it.
"""

from __future__ import annotations

# What a cold ``vrun`` imports besides vrun (``python -X importtime -m vrun list``).
import argparse  # noqa: F401
import atexit
import configparser  # noqa: F401
import dataclasses  # noqa: F401
import fnmatch  # noqa: F401
import hashlib  # noqa: F401
import inspect  # noqa: F401
import ipaddress  # noqa: F401
import json
import os
import pathlib  # noqa: F401
import shlex  # noqa: F401
import shutil  # noqa: F401
import signal
import socket
import subprocess  # noqa: F401
import sys
import traceback
import typing
import urllib.parse  # noqa: F401

import packaging.requirements
import packaging.specifiers
import packaging.utils
import packaging.version  # noqa: F401

if sys.version_info >= (3, 11):
    import tomllib  # noqa: F401
else:
    import tomli  # noqa: F401


def _child(request: dict[str, typing.Any], fds: list[int]) -> typing.NoReturn:
    """Become ``python -m vrun ARGS`` in the request's cwd and environment; never returns."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = os.getcwd()  # as ``python -m`` sets it
        assert not any(name == "vrun" or name.startswith("vrun.") for name in sys.modules)
        from vrun import __main__ as main

        sys.argv = [main.__file__, *request["args"]]
        try:
            main.leave(main.run(list(request["args"])))
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:  # Python prints a non-integer exit code and exits 1
                print(exc.code, file=sys.stderr)
        except KeyboardInterrupt:  # Python re-raises SIGINT so that the caller sees the signal
            atexit._run_exitfuncs()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        atexit._run_exitfuncs()  # the interpreter's teardown
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                code = code or 120  # as Python reports a failed final flush
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def serve(path: str) -> None:
    """Listen on ``path``; fork and wait for one child per request, one request at a time."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(4)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        with conn:
            message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            if not message:
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                _child(json.loads(message), fds)
            for fd in fds:
                os.close(fd)
            _, status = os.waitpid(pid, 0)
            conn.sendall(str(os.waitstatus_to_exitcode(status)).encode())


if __name__ == "__main__":
    serve(sys.argv[1])
