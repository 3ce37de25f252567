"""Which sessions a command line selects, and in what order they run.

Names (base or full), ``-k`` expressions (pytest's syntax) and ``-t`` tags choose sessions;
``requires`` pulls in the sessions they need, before them. Part of planning: the result goes
into the plan, and the session loop (:mod:`vrun.run.loop`) only follows its order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vrun.config.load import Config, Session
from vrun.errors import UsageError


def keyword_match(expr: str, session: Session) -> bool:
    """Evaluate a ``-k`` expression (pytest's syntax: words, ``and``, ``or``, ``not``, parens).

    A word matches when it is a substring of the session's name, one of its tags, its Python
    spec, or one of its matrix values written ``FACTOR=VALUE`` (``-k django=4.2``), case-insensitive.
    """
    haystack = [session.name.lower(), *(t.lower() for t in session.tags), (session.python or "").lower()]
    haystack += [f"{factor}={value}".lower() for factor, value in session.matrix]
    tokens: list[str] = re.findall(r"\(|\)|[^\s()]+", expr)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise UsageError(f"-k {expr!r}: unexpected end of expression")
        pos += 1
        return tokens[pos - 1]

    def or_expr() -> bool:
        value = and_expr()
        while peek() == "or":
            take()
            value = and_expr() or value
        return value

    def and_expr() -> bool:
        value = not_expr()
        while peek() == "and":
            take()
            value = not_expr() and value
        return value

    def not_expr() -> bool:
        if peek() == "not":
            take()
            return not not_expr()
        token = take()
        if token == "(":
            value = or_expr()
            if take() != ")":
                raise UsageError(f"-k {expr!r}: expected ')'")
            return value
        if token in (")", "and", "or"):
            raise UsageError(f"-k {expr!r}: unexpected {token!r}")
        return any(token.lower() in h for h in haystack)

    result = or_expr()
    if pos != len(tokens):
        raise UsageError(f"-k {expr!r}: unexpected {tokens[pos]!r}")
    return result


def select_sessions(
    config: Config,
    names: Sequence[str],
    *,
    keyword: str | None = None,
    tags: Sequence[str] = (),
    with_requires: bool = True,
) -> list[Session]:
    """The sessions to run, in run order, ``requires`` pulled in before their dependants.

    :param names: base or full session names; empty means ``default`` (or every session).
    :param keyword: a ``-k`` expression filtering the chosen sessions.
    :param tags: ``-t`` tags: keep sessions carrying any of them.
    :param with_requires: add the sessions they require (transitively), before them.
    :raises UsageError: for an unknown name (with a did-you-mean hint) or an empty selection.
    """
    if names:
        wanted = list(names)
    elif keyword or tags:
        wanted = list(config.sessions)
    else:
        wanted = list(config.default) if config.default is not None else list(config.sessions)
    chosen: list[str] = []
    for name in wanted:
        full = config.matrix.get(name) or ((name,) if name in config.sessions else None)
        if full is None:
            import difflib

            close = difflib.get_close_matches(name, [*config.matrix, *config.sessions], n=1)
            hint = f"did you mean {close[0]!r}?" if close else "`vrun list` shows the sessions"
            raise UsageError(f"no session named {name!r} in {config.path}", hint=hint)
        chosen += [f for f in full if f not in chosen]
    sessions = [config.sessions[n] for n in chosen]
    if tags:
        sessions = [s for s in sessions if set(s.tags) & set(tags)]
    if keyword:
        sessions = [s for s in sessions if keyword_match(keyword, s)]
    if not sessions:
        raise UsageError("no session matches the selection", hint="`vrun list` shows the sessions")
    if not with_requires:
        return sessions
    ordered: list[Session] = []
    placed: set[int] = set()
    for session in sessions:  # depth first, without recursion: a requires chain may be long
        stack = [(session, iter(required_names(config, session)))]
        on_stack = {id(session)}
        while stack:
            node, pending = stack[-1]
            for required in pending:
                child = config.sessions[required]
                if id(child) not in placed and id(child) not in on_stack:
                    stack.append((child, iter(required_names(config, child))))
                    on_stack.add(id(child))
                    break
            else:
                stack.pop()
                on_stack.discard(id(node))
                if id(node) not in placed:
                    placed.add(id(node))
                    ordered.append(node)
    return ordered


def required_names(config: Config, session: Session) -> list[str]:
    """The full names of the sessions ``session`` requires."""
    return [full for req in session.requires for full in config.matrix.get(req, (req,))]
