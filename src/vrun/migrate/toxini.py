"""tox's INI format for ``vrun init``: ``tox.ini``, ``[tox:tox]`` in ``setup.cfg``, or the
``legacy_tox_ini`` string of ``[tool.tox]`` in ``pyproject.toml``.

The rules are the tox 4 documentation's ("Configuration", INI format): ``[testenv]`` is inherited by
``[testenv:NAME]``, a backslash-newline joins lines and ``#`` starts a comment,
``{[section]key}`` references another section's value, and factor-conditional lines
(``django40: Django<4.1``) apply only to the envs with those factors.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from vrun.migrate.model import Notes
from vrun.migrate.tox import TOX_KEYS, TOX_SPELLINGS, ToxReader
from vrun.migrate.toxsyntax import expand, placeholders, split_command, split_top

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlValue

_TOX_CORE_KEYS = {
    "env_list",
    "envlist",
    "labels",
    "skipsdist",
    "skip_sdist",
    "no_package",
    "min_version",
    "minversion",
    "isolated_build",
}


def parse_ini(text: str, core: str) -> dict[str, dict[str, str]] | None:
    """The sections of a tox INI file, keys with their case kept and no interpolation.

    :param text: the INI text.
    :param core: the core section's name: ``"tox"`` (``tox.ini``) or ``"tox:tox"`` (``setup.cfg``).
    :return: section name -> key -> raw value, ``core`` always present; ``None`` when ``text`` is
        not valid INI or has neither ``core`` nor a ``[testenv]``/``[testenv:NAME]`` section (tox 4
        ignores such a file).
    """
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, delimiters=("=",), default_section="\0none"
    )
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    sections = {name: dict(parser[name]) for name in parser.sections()}
    if core not in sections and not any(n == "testenv" or n.startswith("testenv:") for n in sections):
        return None
    sections.setdefault(core, {})
    return sections


class IniTox(ToxReader):
    """tox.ini, setup.cfg's tox sections, or ``legacy_tox_ini``."""

    def __init__(self, root: Path, sections: dict[str, dict[str, str]], source: str, notes: Notes) -> None:
        super().__init__(root, notes)
        self.source = source
        self.sections = sections
        self.env_sections: dict[str, str] = {}  # env name -> section
        for section in sections:
            if section.startswith("testenv:"):
                for env in expand(section[len("testenv:") :].strip(), notes):
                    self.env_sections.setdefault(env, section)
        core = sections["tox"]
        for key, value in core.items():
            if key in ("skipsdist", "skip_sdist", "no_package") and self.boolean(self.clean(value)):
                self.no_package = True
            elif key == "labels":
                for line in self.clean(value).splitlines():
                    label, _, envs = line.partition("=")
                    if label.strip():
                        listed = [e for item in split_top(envs) for e in expand(item, notes)]
                        self.core_labels[label.strip()] = listed
            elif key == "skip_missing_interpreters":
                self.skip_missing = self.clean(value).strip().lower() != "false"
            elif key == "requires":
                notes.add(f"{source} [tox] requires (tox plugins): not translated")
            elif key not in _TOX_CORE_KEYS:
                notes.add(f"{source} [tox] {key}: not translated")
        for section, table in sections.items():
            if section != "testenv" and not section.startswith("testenv:"):
                continue
            if section.startswith("testenv:."):
                continue
            for key in table:
                if key not in TOX_SPELLINGS:
                    notes.add(f"{source} [{section}] {key}: not translated")

    @staticmethod
    def clean(value: str) -> str:
        """tox 4's INI value cleaning: backslash-newline joins lines, ``#`` starts a comment."""
        value = value.replace("\r", "").replace("\\\n", "")
        lines = []
        for line in value.split("\n"):
            if line.startswith("#"):
                continue
            lines.append(re.sub(r"(\s)*(?<!\\)#.*", "", line).replace("\\#", "#"))
        return "\n".join(lines)

    def env_items(self) -> list[str] | None:
        core = self.sections["tox"]
        value = core.get("env_list", core.get("envlist"))
        return None if value is None else split_top(self.clean(value))

    def section_items(self) -> list[str]:
        return [s[len("testenv:") :].strip() for s in self.sections if s.startswith("testenv:")]

    def lookup(self, section: str, key: str, depth: int = 0) -> str | None:
        """``section``'s value for ``key`` in any of its spellings, cleaned; ``None`` if unset."""
        table = self.sections.get(section, {})
        for spelling in TOX_KEYS.get(key, (key,)):
            if spelling in table:
                return self.clean(table[spelling])
        return None

    def env_value(self, env: str, key: str) -> str | None:
        """Env ``env``'s value for ``key`` as tox 4 reads it for a ``{[testenv:ENV]key}`` reference:
        from the section that defines the env, a generative one included (``[testenv:docs-{build,
        linkcheck}]`` defines ``docs-build``), else from ``[testenv]``; its conditional lines
        filtered for that env's factors. ``None`` if unset."""
        section = self.env_sections.get(env, f"testenv:{env}")
        value = self.lookup(section, key)
        if value is None:
            value = self.lookup("testenv", key)
        return None if value is None else _filter_factors(value, set(env.split("-")))

    def refs(self, value: str, env: str, depth: int = 0) -> str:
        """Replace ``{[section]key}`` references (tox 4: the other section's value, unfiltered here)."""

        def one(match: re.Match[str]) -> str:
            section, key = match.group(1), match.group(2)
            canonical = TOX_SPELLINGS.get(key, key)
            if section.startswith("testenv:"):  # an env's config, as tox 4 resolves it
                found = self.env_value(section[len("testenv:") :].strip(), canonical)
            else:
                found = self.lookup(section, canonical)
            if found is None or depth > 10:
                self.notes.add(f"{self.source}: reference {match.group(0)} not found; dropped")
                return ""
            return self.refs(found, env, depth + 1)

        return re.sub(r"\{\[([^\]]+)\]([^{}]+)\}", one, value)

    def raw(self, env: str) -> dict[str, str]:
        """``env``'s settings: its section's, else ``[testenv]``'s, references resolved and
        conditional lines filtered for its factors."""
        factors = set(env.split("-"))
        section = self.env_sections.get(env)
        out: dict[str, str] = {}
        for key in TOX_KEYS:
            value = self.lookup(section, key) if section else None
            self.origins[env, key] = section or "testenv"
            if value is None:
                value = self.lookup("testenv", key)
                self.origins[env, key] = "testenv"
            if value is None:
                continue
            out[key] = _filter_factors(self.refs(value, env), factors)
        return out

    def commands(self, value: TomlValue | None, where: str) -> Iterator[list[str]]:
        if not value:
            return
        for raw_line in str(value).splitlines():
            line = raw_line.strip()
            if not line:
                continue
            text = placeholders(line, where, self.notes)
            try:
                args = split_command(text)
            except ValueError:
                self.notes.add(f"{where}: cannot split {line!r}; dropped")
                self.dropped += 1
                continue
            argv = self.argv(args, where)
            if argv:
                yield argv

    def set_env(self, raw: Mapping[str, TomlValue], where: str) -> tuple[list[tuple[str, str]], list[str]]:
        pairs, files = [], []
        for raw_line in str(raw.get("set_env", "")).splitlines():
            line = raw_line.strip()
            if not line:
                continue
            if line.startswith("file|"):
                files.append(line[len("file|") :])
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                self.notes.add(f"{where}: {line!r} not translated")
                continue
            pairs.append((name.strip(), value.strip()))
        return pairs, files

    def package_set_env(self) -> list[tuple[str, str]]:
        pairs: dict[str, str] = {}
        for section in ("pkgenv", "testenv:.pkg"):
            value = self.lookup(section, "set_env")
            if value is not None:
                found, files = self.set_env(
                    {"set_env": self.refs(value, section)}, f"{self.source} [{section}]"
                )
                pairs.update(found)
                for name in files:
                    self.notes.add(
                        f"{self.source} [{section}] set_env: file|{name} not translated for the build"
                    )
        return list(pairs.items())


def _filter_factors(value: str, factors: set[str]) -> str:
    """Keep the lines of ``value`` that apply to an env with ``factors`` (tox's conditional lines).

    ``a,b: x`` applies when any group matches, ``a-b: x`` when all factors of a group are present,
    ``!a: x`` when ``a`` is absent; braces in the condition expand as in env names.
    """
    out = []
    for line in value.split("\n"):
        match = re.match(r"^\s*([\w{}.!,-]+):(\s+|$)(.*)$", line)
        if match is None:
            out.append(line)
            continue
        groups = [g for alt in split_top(match.group(1)) for g in expand(alt, Notes())]
        for group in groups:
            parts = [p for p in group.split("-") if p]
            if all((p[1:] not in factors) if p.startswith("!") else (p in factors) for p in parts):
                out.append(match.group(3))
                break
    return "\n".join(out)
