"""Policies as code: column masks and row filters from lakehouse.toml, bound to profiles.

    [policies.NAME]
    profiles = ["analyst", "agent"]            # who it binds ("default": the built-in profile)
    masks = { "people.ssn" = "last4",          # DATASET.COLUMN, globs allowed in both parts
              "*.email" = "hash",
              "tag:pii" = "redact" }           # every column tagged pii (`people.tag:pii`: in one dataset)
    rows = { people = "state = 'CA'" }         # a condition over the dataset's own columns

A profile's `Guard` is every policy that binds it. The SQL engine reads each dataset it
shapes through the guard's SELECT (masked columns replaced, filtered rows gone) and never
through the raw files, so no statement can compute on a masked value or a filtered row
(docs/policies.md says what "cannot be recovered" means, and what is left visible).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.errors import ConfigError
from core.names import quote_ident, sql_str

MASKS = ("last4", "hash", "null", "redact")
# when two policies mask one column, the one that shows less wins
_STRENGTH = {"last4": 0, "hash": 1, "redact": 2, "null": 3}
REDACTED = "[redacted]"
HASH_FUNCTION = "_lh_mask_hash"  # the keyed hash UDF; user SQL may not call it (core/query/gate.py)
KEY_FILE = "policy.key"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
_KEYS = ("profiles", "masks", "rows", "description")


@dataclass(frozen=True)
class Policy:
    name: str
    profiles: tuple[str, ...]
    masks: dict[str, str] = field(default_factory=dict)  # pattern -> mask kind
    rows: dict[str, str] = field(default_factory=dict)  # dataset pattern -> condition
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "profiles": list(self.profiles), "masks": dict(self.masks),
                "rows": dict(self.rows), "description": self.description}


def parse(raw: Any, path: Path | str) -> dict[str, Policy]:
    """Validate the [policies] section; a malformed key names itself, its file and a fix."""
    from core.config import named_tables

    out: dict[str, Policy] = {}
    for name, table in named_tables(raw, path, "policies", _NAME,
                                    "a policy name is a letter then letters, digits, '-' or '_' (at most 63)"):
        unknown = [k for k in table if k not in _KEYS]
        if unknown:
            raise ConfigError(f"{path}: unknown key 'policies.{name}.{unknown[0]}' — known keys: {', '.join(_KEYS)}")
        where = f"{path}: key 'policies.{name}"
        profiles = table.get("profiles", [])
        if not isinstance(profiles, list) or not profiles or not all(isinstance(p, str) and p for p in profiles):
            raise ConfigError(f"{where}.profiles' must list the profiles it binds, e.g. [\"analyst\", \"default\"]")
        masks = table.get("masks", {})
        if not isinstance(masks, dict):
            raise ConfigError(f"{where}.masks' must be a table like {{ \"people.ssn\" = \"last4\" }}")
        for pattern, kind in masks.items():
            if kind not in MASKS:
                raise ConfigError(f"{where}.masks.\"{pattern}\"' is {kind!r} — a mask is one of {', '.join(MASKS)}")
            _split(pattern, f"{where}.masks.\"{pattern}\"'")
        rows = table.get("rows", {})
        if not isinstance(rows, dict) or not all(isinstance(v, str) and v.strip() for v in rows.values()):
            raise ConfigError(f"{where}.rows' must be a table like {{ people = \"state = 'CA'\" }} of "
                              "dataset → SQL condition")
        description = table.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{where}.description' must be a string")
        if not masks and not rows:
            raise ConfigError(f"{where}' has neither masks nor rows — give it at least one")
        out[name] = Policy(name, tuple(profiles), dict(masks), {k: v.strip() for k, v in rows.items()}, description)
    return out


def check_bindings(policies: dict[str, Policy], profiles: dict, path) -> None:
    """Refuse a policy that binds a profile no one defined: a typo would leave the profile
    it meant reading everything."""
    for p in policies.values():
        for pid in p.profiles:
            if pid != "default" and pid not in profiles:
                known = ", ".join(["default", *sorted(profiles)])
                raise ConfigError(f"{path}: key 'policies.{p.name}.profiles' names profile {pid!r}, which is not "
                                  f"defined — profiles: {known}")


def _split(pattern: str, where: str) -> tuple[str, str | None, str | None]:
    """(dataset glob, column glob or None, tag or None) of a mask's key."""
    if pattern.startswith("tag:"):
        ds, rest = "*", pattern
    elif "." in pattern:
        ds, rest = pattern.split(".", 1)
    else:
        raise ConfigError(f"{where} must be DATASET.COLUMN (globs allowed), tag:TAG or DATASET.tag:TAG")
    if rest.startswith("tag:"):
        from core.governance.rows import TAGS

        tag = rest[4:]
        if tag not in TAGS:
            raise ConfigError(f"{where} names tag {tag!r} — tags are {', '.join(TAGS)}")
        return ds, None, tag
    if not ds or not rest:
        raise ConfigError(f"{where} must be DATASET.COLUMN (globs allowed), tag:TAG or DATASET.tag:TAG")
    return ds, rest, None


@dataclass(frozen=True)
class Shape:
    """What a guard does to one dataset: masks by column, and a row filter."""
    masks: dict[str, tuple[str, str]]  # column -> (mask kind, the policy that set it)
    conditions: tuple[str, ...]  # every binding policy's row condition (all must hold)
    policies: tuple[str, ...]  # the policies that shape it

    def __bool__(self) -> bool:
        return bool(self.masks) or bool(self.conditions)

    @property
    def row_filter(self) -> str | None:
        """The conditions ANDed, each in brackets on lines of its own (a trailing `--`
        comment in one cannot swallow the rest), or None."""
        return " AND ".join(f"({c}\n)" for c in self.conditions) if self.conditions else None

    def key(self) -> tuple:
        return (tuple(sorted((c, k) for c, (k, _) in self.masks.items())), self.conditions)

    def describe(self) -> str:
        """One line for the audit and the panes: `masked ssn (last4), rows filtered`."""
        parts = [f"{c} {k}" for c, (k, _) in sorted(self.masks.items())]
        text = ("masked " + ", ".join(parts)) if parts else ""
        if self.row_filter is not None:
            text += ("; " if text else "") + "rows filtered"
        return f"{text} (policy {', '.join(self.policies)})"


class Guard:
    """The policies that bind one profile, applied to the datasets it reads."""

    def __init__(self, policies: list[Policy], tags_of: Callable[[str], dict[str, str]], root: Path):
        self.policies, self.tags_of, self.root = policies, tags_of, root
        self._key: bytes | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.policies]

    def shape(self, dataset: str, columns: list[str]) -> Shape:
        masks: dict[str, tuple[str, str]] = {}
        filters: list[str] = []
        used: list[str] = []
        tags = None
        for p in self.policies:
            used_here = False
            for pattern, kind in p.masks.items():
                ds, col, tag = _split(pattern, pattern)
                if not fnmatch.fnmatchcase(dataset, ds):
                    continue
                if tag is not None:
                    tags = self.tags_of(dataset) if tags is None else tags
                    hit = [c for c in columns if tags.get(c) == tag]
                else:
                    hit = [c for c in columns if fnmatch.fnmatchcase(c, col)]
                for c in hit:
                    if c not in masks or _STRENGTH[kind] > _STRENGTH[masks[c][0]]:
                        masks[c] = (kind, p.name)
                        used_here = True
            for pattern, cond in p.rows.items():
                if fnmatch.fnmatchcase(dataset, pattern):
                    filters.append(cond)
                    used_here = True
            if used_here:
                used.append(p.name)
        return Shape(masks, tuple(filters), tuple(used))

    def touches(self, dataset: str) -> bool:
        """Whether any mask or row filter could apply to `dataset` (by its name alone)."""
        return any(fnmatch.fnmatchcase(dataset, _split(m, m)[0]) for p in self.policies for m in p.masks) or \
            any(fnmatch.fnmatchcase(dataset, r) for p in self.policies for r in p.rows)

    # -- SQL -----------------------------------------------------------------------------
    def select_sql(self, dataset: str, source: str, columns: list[tuple[str, str]], shape: Shape) -> str:
        """The SELECT that reads `dataset` as this guard shows it, over `source` (a SELECT
        of its raw columns, or a registered name); `columns` are (name, type)."""
        cols = []
        for name, typ in columns:
            q = quote_ident(name)
            kind = shape.masks.get(name, (None,))[0]
            cols.append(q if kind is None else f"{mask_sql(kind, q, typ, f'{dataset}.{name}')} AS {q}")
        where = f" WHERE {shape.row_filter}" if shape.row_filter is not None else ""
        return f"SELECT {', '.join(cols) or '*'} FROM ({source}) AS _raw{where}"

    def install(self, con) -> None:
        """Give a DuckDB connection the keyed hash (the key stays in this process: it is
        never in any SQL text a plan or an error could show)."""
        import duckdb
        import pyarrow as pa

        key = self.key()

        def keyed(values, scopes):
            out = [None if v is None else digest(key, s, v)
                   for v, s in zip(values.to_pylist(), scopes.to_pylist())]
            return pa.array(out, pa.string())
        text = duckdb.sqltype("VARCHAR")
        con.create_function(HASH_FUNCTION, keyed, [text, text], text, type="arrow", side_effects=False)

    def key(self) -> bytes:
        """The root's masking key (created once, mode 0600): hashes are stable within a
        root, and differ between roots and between columns."""
        if self._key is None:
            path = self.root / KEY_FILE
            if not path.exists():  # written whole, then linked into place: two processes agree on one key
                tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
                    f.flush()
                    os.fsync(f.fileno())
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass
                finally:
                    tmp.unlink()
            key = path.read_bytes()
            if len(key) < 32:
                raise ConfigError(f"{path} holds {len(key)} bytes, not a masking key — restore it from a backup "
                                  "(or delete it: hash masks will then show other values)")
            self._key = key
        return self._key

    # -- values outside SQL (the journal) --------------------------------------------------
    def mask_value(self, kind: str, value, scope: str):
        """`value` as mask `kind` shows it — the same text the SQL mask gives."""
        if value is None or kind == "null":
            return None
        if kind == "redact":
            return REDACTED
        text = str(value)
        if kind == "hash":
            return digest(self.key(), scope, text)
        return "*" * len(text) if len(text) <= 4 else "*" * (len(text) - 4) + text[-4:]


def digest(key: bytes, scope: str, value: str) -> str:
    """The keyed hash of one value in one column (`dataset.column`): 16 hex characters."""
    return hmac.new(key, f"{scope}\x00{value}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]


def mask_sql(kind: str, q: str, typ: str, scope: str) -> str:
    """The SQL expression showing column `q` (of type `typ`) masked."""
    if kind == "null":
        return f"CAST(NULL AS {typ})"
    if kind == "redact":
        return f"CASE WHEN {q} IS NULL THEN NULL ELSE {sql_str(REDACTED)} END"
    text = f"CAST({q} AS VARCHAR)"
    if kind == "hash":
        return f"{HASH_FUNCTION}({text}, {sql_str(scope)})"
    return (f"CASE WHEN {q} IS NULL THEN NULL WHEN length({text}) <= 4 THEN repeat('*', length({text})) "
            f"ELSE repeat('*', length({text}) - 4) || right({text}, 4) END")


def guard_for(policies: dict[str, Policy], profile_id: str, tags_of, root: Path) -> Guard | None:
    """The guard of the policies binding `profile_id`, or None when none does."""
    bound = [p for p in policies.values() if profile_id in p.profiles]
    return Guard(bound, tags_of, root) if bound else None
