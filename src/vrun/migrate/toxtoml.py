"""tox's TOML format for ``vrun init``: ``tox.toml``, or ``[tool.tox]`` in ``pyproject.toml``.

The rules are the tox 4 documentation's ("tox.toml", "Configuration"): ``env_run_base`` is
inherited by ``[env.NAME]``; commands are arrays of words; ``{ replace = "ref", ... }`` tables
reference other values, ``{ replace = "posargs" }`` and ``{ replace = "env" }`` stand for
``{posargs}`` and ``{env:NAME}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from vrun.migrate.model import Notes
from vrun.migrate.tox import TOX_KEYS, TOX_SPELLINGS, ToxReader
from vrun.migrate.toxsyntax import expand, placeholders, split_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vrun._types import TomlTable, TomlValue


class TomlTox(ToxReader):
    """tox 4's TOML format: ``tox.toml`` or ``[tool.tox]`` of ``pyproject.toml``."""

    def __init__(self, root: Path, data: TomlTable, source: str, notes: Notes) -> None:
        super().__init__(root, notes)
        self.source = source
        self.data = data
        for key, value in data.items():
            if key in ("env_list", "env_run_base", "env_pkg_base", "env", "min_version", "requires"):
                if key == "requires":
                    notes.add(f"{source} requires (tox plugins): not translated")
                if key == "env_pkg_base" and isinstance(value, dict):  # its set_env: build_env
                    for name in value:
                        if name != "set_env":
                            notes.add(f"{source} [env_pkg_base] {name}: not translated")
                continue
            if key in ("no_package", "skipsdist") and value is True:
                self.no_package = True
            elif key == "labels" and isinstance(value, dict):
                self.core_labels = {
                    k: [e for e in v if isinstance(e, str)] for k, v in value.items() if isinstance(v, list)
                }
            elif key == "skip_missing_interpreters":
                self.skip_missing = value is not False and str(value).lower() != "false"
            else:
                notes.add(f"{source} {key}: not translated")
        for name, table in [("env_run_base", data.get("env_run_base", {})), *self.envs().items()]:
            if isinstance(table, dict):
                for key in table:
                    if key not in TOX_SPELLINGS:
                        notes.add(f"{source} [{name}] {key}: not translated")

    def envs(self) -> TomlTable:
        """The ``[env]`` tables by (unexpanded) name."""
        envs = self.data.get("env", {})
        return envs if isinstance(envs, dict) else {}

    def env_items(self) -> list[str] | None:
        value = self.data.get("env_list")
        if value is None:
            return None
        items: list[str] = []
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                items.append(item)
            else:
                self.notes.add(f"{self.source} env_list: {item!r} not translated")
        return items

    def section_items(self) -> list[str]:
        return list(self.envs())

    def raw(self, env: str) -> dict[str, TomlValue]:
        """``env``'s settings: its ``[env.NAME]`` table's, else ``env_run_base``'s, refs resolved."""
        base = self.data.get("env_run_base", {})
        own: TomlTable = {}
        own_name = f"env.{env}"
        for name, table in self.envs().items():
            if env in expand(name, Notes()) and isinstance(table, dict):
                own, own_name = table, f"env.{name}"
        out: dict[str, TomlValue] = {}
        for key, spellings in TOX_KEYS.items():
            for table, label in ((own, own_name), (base if isinstance(base, dict) else {}, "env_run_base")):
                hit = next((table[s] for s in spellings if s in table), None)
                if hit is not None:
                    self.origins[env, key] = label
                    out[key] = self.resolve(hit, env, key)
                    break
        return out

    def resolve(self, value: TomlValue, env: str, key: str, depth: int = 0) -> TomlValue:
        """Resolve ``{replace = "ref"}`` items; posargs and env stay for :meth:`word`."""
        if isinstance(value, list):
            out: list[TomlValue] = []
            for item in value:
                if isinstance(item, dict) and item.get("replace") == "ref" and depth < 10:
                    found = self.ref(item, env)
                    if found is None:
                        self.notes.add(f"{self.source} [{env}] {key}: reference {item} not found; dropped")
                        continue
                    resolved = self.resolve(found, env, key, depth + 1)
                    if item.get("extend") and isinstance(resolved, list):
                        out += resolved
                    else:
                        out.append(resolved)
                else:
                    out.append(self.resolve(item, env, key, depth + 1) if isinstance(item, list) else item)
            return out
        if isinstance(value, dict) and value.get("replace") == "ref" and depth < 10:
            found = self.ref(value, env)
            return self.resolve(found, env, key, depth + 1) if found is not None else []
        return value

    def ref(self, item: TomlTable, env: str) -> TomlValue | None:
        """What a ``{ replace = "ref" }`` table points at (``of = [...]`` or ``env``/``key``), or ``None``."""
        of = item.get("of")
        if isinstance(of, list):
            node: TomlValue = self.data
            for part in of:
                if not isinstance(node, dict) or not isinstance(part, str) or part not in node:
                    return None
                node = node[part]
            return node
        if "env" in item and "key" in item:
            return self.raw(str(item["env"])).get(TOX_SPELLINGS.get(str(item["key"]), str(item["key"])))
        return None

    def word(self, item: TomlValue, where: str) -> list[str]:
        """One element of a TOML command: a string, or a ``replace`` table (posargs, env)."""
        if isinstance(item, str):
            return [placeholders(item, where, self.notes)]
        if isinstance(item, dict) and item.get("replace") == "posargs":
            default = item.get("default", [])
            words = [str(w) for w in default] if isinstance(default, list) else [str(default)]
            if not words:
                return ["{posargs}"]
            if all(" " not in w and "}" not in w for w in words):
                return ["{posargs:" + " ".join(words) + "}"]
            self.notes.add(f"{where}: posargs default {words} has spaces; kept as {{posargs}}")
            return ["{posargs}"]
        if isinstance(item, dict) and item.get("replace") == "env" and "name" in item:
            fallback = item.get("default")
            return ["{env:" + str(item["name"]) + (f":{fallback}" if fallback is not None else "") + "}"]
        self.notes.add(f"{where}: {item!r} not translated")
        return []

    def commands(self, value: TomlValue | None, where: str) -> Iterator[list[str]]:
        if not value:
            return
        for command in value if isinstance(value, list) else [value]:
            words = split_command(command) if isinstance(command, str) else command
            if not isinstance(words, list):
                self.notes.add(f"{where}: {command!r} not translated")
                self.dropped += 1
                continue
            args = [w for item in words for w in self.word(item, where)]
            argv = self.argv(args, where)
            if argv:
                yield argv

    def set_env(self, raw: Mapping[str, TomlValue], where: str) -> tuple[list[tuple[str, str]], list[str]]:
        value = raw.get("set_env", {})
        pairs: list[tuple[str, str]] = []
        files: list[str] = []
        if not isinstance(value, dict):
            self.notes.add(f"{where}: {value!r} not translated")
            return [], []
        for name, item in value.items():
            if name == "file" and isinstance(item, str):  # tox 4: set_env = { file = ".env" }
                files.append(item)
            elif isinstance(item, (str, int, float, bool)) and not isinstance(item, bool):
                pairs.append((name, str(item)))
            elif isinstance(item, dict):
                words = self.word(item, where)
                if words:
                    pairs.append((name, words[0]))
            else:
                self.notes.add(f"{where} {name}: {item!r} not translated")
        return pairs, files

    def package_set_env(self) -> list[tuple[str, str]]:
        pairs: dict[str, str] = {}
        for label, table in (
            ("env_pkg_base", self.data.get("env_pkg_base")),
            ('env.".pkg"', self.envs().get(".pkg")),
        ):
            if isinstance(table, dict) and "set_env" in table:
                where = f"{self.source} [{label}] set_env"
                found, files = self.set_env(
                    {"set_env": self.resolve(table["set_env"], ".pkg", "set_env")}, where
                )
                pairs.update(found)
                for name in files:
                    self.notes.add(f"{where}: file {name!r} not translated for the build")
        return list(pairs.items())

    def items(self, value: TomlValue, lines: bool = False) -> list[str]:
        """A TOML list's string items (a lone string is one item); others are noted."""
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            return []
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            else:
                self.notes.add(f"{self.source}: {item!r} not translated")
        return out
