"""pip's settings, carried into uv's: the index, find-links, constraints and trusted hosts a user
set for pip also hold when uv installs (uv reads none of pip's settings: astral-sh/uv#1535, #2183,
#1404).

pip's settings come from its config files and ``PIP_*`` variables, in pip's order
(pip's ``Configuration``: the site-wide files, the user's, the file ``PIP_CONFIG_FILE`` names,
then the variables; in each file ``[install]`` over ``[global]``). :data:`CARRIED` maps each
setting that decides what gets installed to uv's variable; uv's own setting wins where both are
set (a ``UV_*`` variable, or the same key in a uv config file). A setting that decides what gets
installed but has no uv equivalent (:data:`NOT_CARRIED`) makes ``auto`` build with pip instead
(:func:`vrun.env.choice.select_backend`). Settings that only change how pip talks or where it
writes (``timeout``, ``cache-dir``, ``target``: vrun neutralizes those) are left alone.
docs/envs.md has the table.
"""

from __future__ import annotations

import configparser
import os

from vrun import inputs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

#: pip setting -> (uv variable, how uv joins several values; ``""``: one value). ``no-index`` has
#: no uv variable: it becomes ``--no-index`` (:attr:`UvSettings.args`); ``pre`` becomes
#: ``UV_PRERELEASE=allow``; ``cert`` and ``client-cert`` become the variables uv reads for TLS.
CARRIED: dict[str, tuple[str, str]] = {
    "index-url": ("UV_INDEX_URL", " "),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "find-links": ("UV_FIND_LINKS", ","),
    "constraint": ("UV_CONSTRAINT", " "),
    "trusted-host": ("UV_INSECURE_HOST", " "),
    "pre": ("UV_PRERELEASE", ""),
    "no-index": ("", ""),
    "cert": ("SSL_CERT_FILE", ""),
    "client-cert": ("SSL_CLIENT_CERT", ""),
}
#: The keys of uv's config files that set what each carried setting sets (uv's wins).
UV_KEYS: dict[str, tuple[str, ...]] = {
    "index-url": ("index-url", "index", "default-index"),
    "extra-index-url": ("extra-index-url", "index"),
    "find-links": ("find-links",),
    "constraint": ("constraint-dependencies",),
    "trusted-host": ("allow-insecure-host",),
    "pre": ("prerelease",),
    "no-index": ("no-index",),
    "cert": (),
    "client-cert": (),
}
#: pip settings that decide what gets installed and that uv cannot be given.
NOT_CARRIED = (
    "no-binary",
    "only-binary",
    "prefer-binary",
    "require-hashes",
    "use-pep517",
    "no-build-isolation",
    "use-feature",
    "use-deprecated",
)
_TRUE = ("1", "true", "yes", "on")


def pip_settings(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """pip's install settings as pip would see them: setting -> (value, where it was set: a
    variable's name or a file's path). Only :data:`CARRIED` and :data:`NOT_CARRIED` settings.
    """
    wanted = (*CARRIED, *NOT_CARRIED)
    found = {key: (value, path) for key, value, path in config_settings(environ) if key in wanted}
    for key in wanted:
        name = "PIP_" + key.upper().replace("-", "_")
        if environ.get(name) is not None:
            found[key] = (environ[name], name)
    return found


def config_settings(environ: Mapping[str, str]) -> Iterator[tuple[str, str, str]]:
    """Each ``[global]`` then ``[install]`` setting of pip's config files, in pip's order (a later
    one overrides an earlier), as ``(key, value, file)``; keys spelled with ``-``. Unreadable or
    malformed files are skipped, as pip would fail on them anyway."""
    for path in pip_config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            if not parser.read(path, encoding="utf-8"):
                continue
        except (configparser.Error, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for option, value in parser.items(section):
                    yield option.replace("_", "-"), value, path


class UvSettings:
    """What uv gets from pip's settings (:func:`for_uv`).

    :ivar environ: ``UV_*`` variables to add to uv's environment.
    :ivar args: arguments for ``uv pip install`` (``--no-index``).
    """

    def __init__(self) -> None:
        self.environ: dict[str, str] = {}
        self.args: list[str] = []


def for_uv(environ: Mapping[str, str], root: str) -> UvSettings:
    """pip's settings (:func:`pip_settings`) translated for uv, uv's own settings winning.

    :param environ: the environment the installer gets.
    :param root: the project root (its ``uv.toml`` and ``[tool.uv]`` are uv's settings).
    """
    out = UvSettings()
    settings = pip_settings(environ)
    if not settings:
        return out
    uv_keys = _uv_config_keys(environ, root)
    for key, (value, _source) in settings.items():
        if key in NOT_CARRIED:
            continue
        variable, joiner = CARRIED[key]
        if set(UV_KEYS[key]) & uv_keys or (variable and variable in environ):
            continue  # uv's own setting wins
        if key == "no-index":
            if value.strip().lower() in _TRUE:
                out.args.append("--no-index")
        elif key == "pre":
            if value.strip().lower() in _TRUE:
                out.environ[variable] = "allow"
        else:  # a list (space-separated in pip) joined as uv wants it; a path taken whole
            out.environ[variable] = joiner.join(value.split()) if joiner else value.strip()
    if "UV_EXTRA_INDEX_URL" in out.environ and not (
        "UV_INDEX_STRATEGY" in environ or "index-strategy" in uv_keys
    ):
        # pip picks the best version across all its indexes; uv by default takes a package from
        # the first index that has it. Carrying pip's indexes means carrying how pip uses them.
        out.environ["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    return out


def uncarried(environ: Mapping[str, str]) -> str | None:
    """The first pip setting in effect that decides what gets installed and that uv cannot be
    given (:data:`NOT_CARRIED`), named with where it is set; ``None`` when there is none."""
    for key, (value, source) in pip_settings(environ).items():
        if key not in NOT_CARRIED:
            continue
        if key in ("no-binary", "only-binary") and value.strip().lower() in (":none:", ""):
            continue
        return f"pip's {key} ({source}) has no uv equivalent"
    return None


def _uv_config_keys(environ: Mapping[str, str], root: str) -> set[str]:
    """The top-level and ``[pip]`` keys uv's config files set (uv's own settings), unless
    ``UV_NO_CONFIG`` turns them off."""
    if environ.get("UV_NO_CONFIG"):
        return set()
    tables = [_toml(path) for path in uv_config_files(environ, root)]
    pyproject = _toml(os.path.join(root, "pyproject.toml"))
    tools = pyproject.get("tool") if isinstance(pyproject, dict) else None
    if isinstance(tools, dict):
        tables.append(tools.get("uv"))
    keys: set[str] = set()
    for table in tables:
        if isinstance(table, dict):
            keys |= set(table)
            pip = table.get("pip")
            if isinstance(pip, dict):
                keys |= set(pip)
    return keys


#: pip config-file settings that would send an install outside the env.
REDIRECTING_KEYS = ("target", "prefix", "root", "user")


def without_redirects(environ: Mapping[str, str]) -> dict[str, str] | None:
    """``environ`` for pip with the install-redirecting settings of pip's config files
    (:data:`REDIRECTING_KEYS`) neutralized, as vrun removes their ``PIP_*`` forms; ``None`` when no
    config file sets one (pip is then left to read its files itself).

    pip cannot be told to ignore one key of a file, so the files' other ``[global]`` and
    ``[install]`` settings become ``PIP_*`` variables (a variable the user set wins, as in pip) and
    ``PIP_CONFIG_FILE`` is :data:`os.devnull`, which makes pip read no file at all.
    """
    merged: dict[str, str] = {}
    redirected = False
    for key, value, _path in config_settings(environ):
        if key in REDIRECTING_KEYS:
            redirected = True
        else:
            merged[key] = value
    if not redirected:
        return None
    out = dict(environ)
    out["PIP_CONFIG_FILE"] = os.devnull
    for key, value in merged.items():
        out.setdefault("PIP_" + key.upper().replace("-", "_"), " ".join(value.split()))
    return out


def _toml(path: str) -> object:
    """The parsed TOML file at ``path``, or ``None`` when it is missing or not valid TOML."""
    from vrun._compat import tomllib

    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except (OSError, ValueError):
        return None


def _config_home(environ: Mapping[str, str]) -> tuple[str, str]:
    """``(HOME, XDG_CONFIG_HOME)`` as ``environ`` gives them (the XDG default: ``~/.config``)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    return home, environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")


def uv_config_files(environ: Mapping[str, str], root: str) -> list[str]:
    """uv's config files for a project at ``root``: its ``uv.toml``, the user's
    (``$XDG_CONFIG_HOME/uv/uv.toml``) and the system's (``/etc/uv/uv.toml``), and the file
    ``UV_CONFIG_FILE`` names. The project's ``[tool.uv]`` table is read by the callers."""
    _, config_home = _config_home(environ)
    files = [os.path.join(root, "uv.toml"), os.path.join(config_home, "uv", "uv.toml"), "/etc/uv/uv.toml"]
    return [*files, environ["UV_CONFIG_FILE"]] if environ.get("UV_CONFIG_FILE") else files


def pip_config_files(environ: Mapping[str, str]) -> list[str]:
    """The config files pip reads, in pip's order, as pip's ``Configuration`` chooses them: none
    at all when ``PIP_CONFIG_FILE`` is :data:`os.devnull`; else the site-wide files
    (``$XDG_CONFIG_DIRS/pip/pip.conf``, ``/etc/pip.conf``), the user's (``~/.pip/pip.conf``,
    ``~/.config/pip/pip.conf``) unless ``PIP_CONFIG_FILE`` names an existing file, and that file.
    """
    named = environ.get("PIP_CONFIG_FILE")
    home, config_home = _config_home(environ)
    if named == os.devnull:
        return []
    dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    files = [*(os.path.join(d, "pip", "pip.conf") for d in dirs if d), "/etc/pip.conf"]
    if not (named and inputs.is_file(named)):
        files += [os.path.join(home, ".pip", "pip.conf"), os.path.join(config_home, "pip", "pip.conf")]
    return [*files, named] if named else files
