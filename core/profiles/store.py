"""Profiles: every reader — a person, an agent, a local model — works through one.

A profile decides what data it sees (dataset and index names or glob patterns), which
models it uses and how its indexes are searched. They live in lakehouse.toml under
`[profiles.<id>]`; `default` always exists and sees everything.

Editing changes only the profile's own table in the file (with tomlkit, which keeps a
document's comments and layout), so the user's other settings, profiles and comments
stay exactly as they were.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError, Hint, LakehouseError, NotFound
from core.trials.front import OBJECTIVES

DEFAULT = "default"
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# key -> (type, doc)
KEYS: dict[str, tuple[type, str]] = {
    "description": (str, "what the profile is for"),
    "datasets": (list, "dataset names or glob patterns it may see"),
    "indexes": (list, "vector index names or glob patterns it may search"),
    "chat_model": (str, "Ollama chat model for its asks"),
    "embedder": (str, "auto, ollama or hashing, for its embeds"),
    "embed_model": (str, "Ollama embedding model for its embeds"),
    "keep_alive": (str, "how long Ollama keeps its models loaded"),
    "hnsw": (dict, "{ m, ef_construction, ef_search } for its index builds and searches"),
    "sql_timeout_s": (float, "its queries' time limit in seconds (0 = none); empty = [sql] timeout_s"),
    "sql_memory_limit": (str, "its queries' DuckDB memory limit, e.g. '2GB'; empty = [sql] memory_limit"),
    "autotune_min_recall": (float, "its autotunes' minimum recall@k (above 0, at most 1); empty = [trials] min_recall"),
    "autotune_objective": (str, "what its autotunes lower: p50, p95, build or memory; empty = [trials] objective"),
    "memory": (bool, "whether its searches and asks use playbook memory; empty = [memory] search / ask"),
}
HNSW_KEYS = ("m", "ef_construction", "ef_search")


@dataclass
class Profile:
    id: str
    description: str = ""
    datasets: list[str] = field(default_factory=lambda: ["*"])
    indexes: list[str] = field(default_factory=lambda: ["*"])
    chat_model: str = ""  # empty: [ollama] chat_model
    embedder: str = ""  # empty: [vectors] embedder
    embed_model: str = ""  # empty: [ollama] embed_model
    keep_alive: str = ""  # empty: [ollama] keep_alive
    hnsw: dict[str, int] = field(default_factory=dict)  # empty: [vectors] hnsw_*
    sql_timeout_s: float | None = None  # None: [sql] timeout_s
    sql_memory_limit: str = ""  # empty: [sql] memory_limit
    autotune_min_recall: float | None = None  # None: [trials] min_recall
    autotune_objective: str = ""  # empty: [trials] objective
    memory: bool | None = None  # None: [memory] search / ask
    defined: bool = True  # False for the built-in default
    bound: bool = False  # a policy binds it ([policies.*] profiles): then it is restricted (core/access.py)

    @property
    def sees_all(self) -> bool:
        return "*" in self.datasets

    def sees(self, dataset: str) -> bool:
        return any(fnmatch.fnmatchcase(dataset, p) for p in self.datasets)

    def searches(self, index: str) -> bool:
        return any(fnmatch.fnmatchcase(index, p) for p in self.indexes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("defined")
        d.pop("bound")
        return d

    def toml_table(self) -> dict[str, Any]:
        """The keys as they are written to lakehouse.toml (empty ones left out)."""
        d = self.to_dict()
        d.pop("id")
        return {k: v for k, v in d.items() if v not in ("", [], {}, None, ["*"])}  # defaults left out


def check_id(pid: str) -> str:
    if not isinstance(pid, str) or not _ID.fullmatch(pid):
        raise ConfigError(f"profile name {pid!r} is invalid: use lowercase letters, digits, - and _ "
                          "(starting with a letter, at most 63 characters)")
    return pid


def parse(raw: Any, path: Path | str) -> dict[str, Profile]:
    """Validate the [profiles] section; a malformed table names its key and file."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'profiles' must be tables like [profiles.NAME], got {raw!r}")
    out: dict[str, Profile] = {}
    for pid, table in raw.items():
        try:
            check_id(pid)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [profiles.{pid}] must be a table of keys, got {table!r}")
        values: dict[str, Any] = {}
        for key, value in table.items():
            where = f"{path}: key 'profiles.{pid}.{key}'"
            if key not in KEYS:
                raise ConfigError(f"{path}: unknown key 'profiles.{pid}.{key}' — known keys: {', '.join(KEYS)}")
            typ = KEYS[key][0]
            if typ is list:
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    raise ConfigError(f"{where} must be a list of names or patterns, e.g. [\"documents\", \"docs_*\"]")
            elif typ is dict:
                if not isinstance(value, dict) or set(value) - set(HNSW_KEYS) or not all(
                        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()):
                    raise ConfigError(f"{where} must be a table like {{ m = 16, ef_construction = 80, "
                                      "ef_search = 50 }} of positive integers")
            elif typ is bool:
                if not isinstance(value, bool):
                    raise ConfigError(f"{where} must be true or false, got {value!r}")
            elif key == "autotune_min_recall":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                    raise ConfigError(f"{where} must be a recall above 0 and at most 1, e.g. 0.95, got {value!r}")
                value = float(value)
            elif typ is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ConfigError(f"{where} must be a number of seconds (0 = no limit), got {value!r}")
                value = float(value)
            elif not isinstance(value, str):
                raise ConfigError(f"{where} must be a string, got {type(value).__name__} {value!r}")
            values[key] = value
        if values.get("sql_memory_limit"):
            from core.query.cache import parse_size

            try:
                parse_size(values["sql_memory_limit"])
            except ValueError:
                raise ConfigError(f"{path}: key 'profiles.{pid}.sql_memory_limit' must be a size such as "
                                  f"512MB or 2GB, got {values['sql_memory_limit']!r}") from None
        if values.get("embedder", "auto") not in ("auto", "ollama", "hashing"):
            raise ConfigError(f"{path}: key 'profiles.{pid}.embedder' must be auto, ollama or hashing, "
                              f"got {values['embedder']!r}")
        if values.get("autotune_objective", "p50") not in OBJECTIVES:
            raise ConfigError(f"{path}: key 'profiles.{pid}.autotune_objective' must be one of "
                              f"{', '.join(OBJECTIVES)}, got {values['autotune_objective']!r}")
        out[pid] = Profile(pid, **values)
    return out


def resolve(profiles: dict[str, Profile], pid: str | None) -> Profile:
    """The profile named `pid` (None or 'default': the built-in, unless redefined)."""
    pid = pid or DEFAULT
    if pid in profiles:
        return profiles[pid]
    if pid == DEFAULT:
        return Profile(DEFAULT, "sees everything", defined=False)
    known = ", ".join([DEFAULT] + sorted(p for p in profiles if p != DEFAULT))
    raise NotFound(f"no profile named {pid!r} — known profiles: {known}", hint=Hint(
        "create one", "profile_save", {"pid": pid, "create": True, "datasets": "NAME,..."}))


def problems(profile: Profile, datasets: list[str], indexes: list[str]) -> list[str]:
    """Bindings that point at nothing: a missing dataset, a pattern that matches none."""
    out = []
    for pat in profile.datasets:
        if not any(fnmatch.fnmatchcase(d, pat) for d in datasets):
            what = "pattern" if any(ch in pat for ch in "*?[") else "dataset"
            out.append(f"profile {profile.id}: {what} {pat!r} matches no dataset")
    for pat in profile.indexes:
        if pat != "*" and not any(fnmatch.fnmatchcase(i, pat) for i in indexes):
            what = "index pattern" if any(ch in pat for ch in "*?[") else "index"
            out.append(f"profile {profile.id}: {what} {pat!r} matches no index")
    return out


def is_fatal(problem: str) -> bool:
    """A named dataset or index that is missing stops an activation; a pattern that
    matches nothing yet (a place for future datasets) is only reported."""
    return "pattern" not in problem


# -- editing lakehouse.toml ---------------------------------------------------------------
def write(path: Path, pid: str, table: dict[str, Any] | None) -> None:
    """Set (or, with None, remove) [profiles.<pid>] in the TOML file at `path`.

    tomlkit edits the parsed document in place, so every other byte — comments, spacing,
    key order, other tables — is written back as it was; within the profile's table only
    the keys that change are rewritten (a new profile is appended at the end of the file).
    The result must parse and differ from the old file only in this profile, else nothing
    is written. Atomic: a temporary file, then a rename."""
    import tomllib

    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML — {e}; fix it before editing profiles") from None
    doc = tomlkit.parse(text if not text or text.endswith("\n") else text + "\n")
    section = doc.get("profiles")
    current = section.get(pid) if isinstance(section, dict) else None
    if pid in before.get("profiles", {}) and not _is_table(current):
        raise LakehouseError(f"{path}: profile {pid!r} is written inline (not as a [profiles.{pid}] table) — "
                             "edit it by hand, or rewrite it as a table first")
    try:
        if table is None:
            if current is not None:
                del section[pid]
        elif current is None:
            doc.append("profiles", _new_table(pid, table))
        else:
            _update(current, table)
        out = tomlkit.dumps(doc)
    except tomlkit.exceptions.TOMLKitError as e:
        raise LakehouseError(f"{path}: cannot write profile {pid!r} ({e}) — the file was left as it was") from None
    if not text.endswith("\n\n"):  # the blank line that set off a removed last table goes with it
        out = out.rstrip("\n") + "\n" if out.strip("\n") else ""
    if not _holds(out, _expected(before, pid, table)):
        raise LakehouseError(f"{path}: writing profile {pid!r} did not round-trip — the file was left as it was")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(out, encoding="utf-8")
    os.replace(tmp, path)


def _is_table(item: Any) -> bool:
    """A table with its own [header] (not an inline table, nor one made of dotted keys)."""
    from tomlkit.container import OutOfOrderTableProxy
    from tomlkit.items import Table

    return isinstance(item, OutOfOrderTableProxy) or isinstance(item, Table) and not item.is_super_table()


def _value(value: Any) -> Any:
    """A new value as written: tables inline (`hnsw = {m = 16}`), like lists."""
    import tomlkit

    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        inline.update(value)
        return inline
    return tomlkit.item(value)


def _new_table(pid: str, table: dict[str, Any]) -> Any:
    """`[profiles.<pid>]` holding `table`, to append at the end of the document."""
    import tomlkit

    body = tomlkit.table()
    for key, value in table.items():
        body.add(key, _value(value))
    profiles = tomlkit.table(is_super_table=True)  # renders no [profiles] header of its own
    profiles.append(pid, body)
    return profiles


def _update(table: Any, new: dict[str, Any]) -> None:
    """Make `table` hold `new`: keys whose value stays keep their bytes (and comments), a
    changed value is replaced where it stands, a sub-table ([profiles.x.hnsw]) is updated
    the same way, and a new key goes after the last key — tomlkit's own append would put
    it after the table's trailing comments, which belong to the next table."""
    from tomlkit.items import Table

    for key in [k for k in table if k not in new]:
        del table[key]
    for key, value in new.items():
        if key not in table:
            _append(table, key, _value(value))
        elif isinstance(table[key], Table) and isinstance(value, dict):
            _update(table[key], value)
        elif table[key] != value:
            table[key] = _value(value)


def _append(table: Any, key: str, value: Any) -> None:
    from tomlkit.items import Table

    body = getattr(table, "value", None)
    last = next((k for k, v in reversed(getattr(body, "body", [])) if k is not None and not isinstance(v, Table)),
                None)
    if last is None:
        table[key] = value
    else:
        body._insert_after(last, key, value)  # no public insert-after-key in tomlkit


def _holds(out: str, want: dict[str, Any]) -> bool:
    """Whether the text to write parses to exactly `want`."""
    import tomllib

    try:
        after = tomllib.loads(out)
    except tomllib.TOMLDecodeError:
        return False
    if after.get("profiles") == {}:  # the last profile went; an empty [profiles] header may stay
        del after["profiles"]
    return after == want


def _expected(before: dict[str, Any], pid: str, table: dict[str, Any] | None) -> dict[str, Any]:
    """The whole file's data as it must read after the write: only this profile changed."""
    want = {**before, "profiles": {k: v for k, v in before.get("profiles", {}).items() if k != pid}}
    if table is not None:
        want["profiles"][pid] = table
    if not want["profiles"]:
        del want["profiles"]
    return want
