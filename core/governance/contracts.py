"""Dataset contracts: `[contracts.NAME]` tables of lakehouse.toml, validated at load.

A contract names what every committed version of dataset NAME must hold — required
columns and their types, columns never NULL, unique keys, accepted values, inclusive
ranges — and a freshness SLA (`max_age`). core/governance/contract_check.py enforces it
at ingest and on update; core/governance/freshness.py judges the SLA.

Types match by family, not by exact name: a CSV's integers arrive as BIGINT, so a column
declared INTEGER accepts any integer column whose values fit INTEGER (rows that do not
fit violate it); a column declared FLOAT, DOUBLE or DECIMAL also accepts integers.

This module is imported when lakehouse.toml loads (the `sql` fast path): no DuckDB here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError, IngestError

KEYS = {
    "columns": "required columns and their types, e.g. { id = \"BIGINT\", email = \"VARCHAR\" }",
    "not_null": "columns that may never be NULL, e.g. [\"id\", \"email\"]",
    "unique": "a unique key, e.g. [\"id\"] or [\"order_id\", \"line\"], or several: [[\"id\"], [\"email\"]]",
    "accepted": "accepted values per column, e.g. { state = [\"CA\", \"NY\"] }",
    "ranges": "inclusive [min, max] per column, e.g. { age = [0, 130] }",
    "max_age": "freshness SLA: the longest time since the last ingest, e.g. \"24h\" (s, m, h or d)",
}

# type name (and aliases) -> (family, integer bits or 0)
_INTS = {"TINYINT": 8, "SMALLINT": 16, "INTEGER": 32, "BIGINT": 64, "HUGEINT": 128,
         "UTINYINT": 8, "USMALLINT": 16, "UINTEGER": 32, "UBIGINT": 64, "UHUGEINT": 128}
_ALIASES = {"INT": "INTEGER", "INT4": "INTEGER", "INT32": "INTEGER", "SIGNED": "INTEGER",
            "INT8": "BIGINT", "INT64": "BIGINT", "LONG": "BIGINT", "INT2": "SMALLINT",
            "INT16": "SMALLINT", "SHORT": "SMALLINT", "INT1": "TINYINT", "REAL": "FLOAT",
            "FLOAT4": "FLOAT", "FLOAT8": "DOUBLE", "NUMERIC": "DECIMAL", "TEXT": "VARCHAR",
            "STRING": "VARCHAR", "CHAR": "VARCHAR", "BPCHAR": "VARCHAR", "BOOL": "BOOLEAN",
            "DATETIME": "TIMESTAMP", "TIMESTAMPTZ": "TIMESTAMP", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
            "TIMESTAMP_S": "TIMESTAMP", "TIMESTAMP_MS": "TIMESTAMP", "TIMESTAMP_NS": "TIMESTAMP",
            "BYTEA": "BLOB", "BINARY": "BLOB"}
_FAMILIES = {**{t: "integer" for t in _INTS}, "FLOAT": "float", "DOUBLE": "float", "DECIMAL": "decimal",
             "VARCHAR": "text", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp",
             "TIME": "time", "BLOB": "blob", "UUID": "uuid", "INTERVAL": "interval"}
_NUMERIC = ("float", "decimal")  # declared families that also take integer columns
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ContractError(IngestError):
    """Data that breaks its dataset's contract; nothing was written. `violations` is the
    structured list ({rule, columns, count, rows, keys}) for JSON output; the message
    names rules, counts and row numbers only, never a cell's value (it lands in `_errors`)."""

    refused = True

    def __init__(self, message: str, violations: list[dict] | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.violations = violations or []


@dataclass(frozen=True)
class Contract:
    dataset: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> canonical type name
    not_null: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()  # each a key of one or more columns
    accepted: dict[str, tuple] = field(default_factory=dict)
    ranges: dict[str, tuple] = field(default_factory=dict)  # column -> (min, max), inclusive
    max_age: str = ""  # as written, e.g. "24h"; "" = no freshness SLA
    max_age_s: float = 0.0

    @property
    def has_rules(self) -> bool:
        return bool(self.columns or self.not_null or self.unique or self.accepted or self.ranges)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "columns": dict(self.columns), "not_null": list(self.not_null),
                "unique": [list(k) for k in self.unique], "accepted": {c: list(v) for c, v in self.accepted.items()},
                "ranges": {c: list(v) for c, v in self.ranges.items()}, "max_age": self.max_age}


def canonical_type(name: str) -> str | None:
    """A declared type's canonical name ("int" -> "INTEGER", "DECIMAL(10,2)" kept), or None."""
    t = re.sub(r"\s+", " ", str(name).strip().upper())
    base = t.split("(")[0].strip()
    base = _ALIASES.get(base, base)
    if base not in _FAMILIES:
        return None
    if base == "DECIMAL" and "(" in t:
        if not re.fullmatch(r"(DECIMAL|NUMERIC)\s*\(\s*\d+\s*(,\s*\d+\s*)?\)", t):
            return None
        return "DECIMAL" + t[t.index("("):].replace(" ", "")
    return base


def family(type_name: str) -> str:
    """The family of a type name as DuckDB prints it ("BIGINT" -> "integer"); else the name."""
    t = str(type_name).strip().upper()
    base = _ALIASES.get(t.split("(")[0].strip(), t.split("(")[0].strip())
    return _FAMILIES.get(base, t)


def int_bits(type_name: str) -> int:
    """Bits of an integer type (0 for anything else)."""
    return _INTS.get(_ALIASES.get(str(type_name).upper(), str(type_name).upper()), 0)


def type_fits(declared: str, actual: str) -> bool:
    """Whether a column of type `actual` can satisfy `declared` (its values may still need
    checking: an integer column wider than an integer declaration)."""
    want, have = family(declared), family(actual)
    return want == have or (want in _NUMERIC and have in ("integer", "decimal", "float"))


def seconds(text: str) -> float | None:
    """"90s", "15m", "24h", "7d" -> seconds; None when it is not such a duration."""
    m = _DURATION.match(str(text))
    return float(m.group(1)) * _UNIT_S[m.group(2)] if m else None


def parse(raw: Any, path: Path | str) -> dict[str, Contract]:
    """Validate the [contracts] section: dataset name -> Contract. A malformed table is
    one sentence naming the file, the dotted key and what to write."""
    from core.names import _VALID

    from core.config import named_tables

    out: dict[str, Contract] = {}
    for name, table in named_tables(raw, path, "contracts", _VALID, "it does not name a dataset — use the "
                                    "dataset's name (lowercase letters, digits and _)"):
        out[name] = _contract(name, table, path)
    return out


def _contract(name: str, table: dict, path) -> Contract:
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown key 'contracts.{name}.{key}' — known keys: {', '.join(KEYS)}")

    def bad(key: str, got: Any) -> ConfigError:
        return ConfigError(f"{path}: key 'contracts.{name}.{key}' must be {KEYS[key]}, got {got!r}")

    columns: dict[str, str] = {}
    raw_cols = table.get("columns", {})
    if not isinstance(raw_cols, dict):
        raise bad("columns", raw_cols)
    for col, typ in raw_cols.items():
        canon = canonical_type(typ) if isinstance(typ, str) else None
        if canon is None:
            raise ConfigError(f"{path}: key 'contracts.{name}.columns.{col}' is not a type: {typ!r} — write "
                              "a DuckDB type such as BIGINT, INTEGER, DOUBLE, DECIMAL(10,2), VARCHAR, "
                              "BOOLEAN, DATE or TIMESTAMP")
        columns[col] = canon
    not_null = table.get("not_null", [])
    if not (isinstance(not_null, list) and all(isinstance(c, str) and c for c in not_null)):
        raise bad("not_null", not_null)
    unique = table.get("unique", [])
    if isinstance(unique, list) and unique and all(isinstance(c, str) for c in unique):
        unique = [unique]
    if not (isinstance(unique, list) and all(isinstance(k, list) and k and all(isinstance(c, str) and c for c in k)
                                             for k in unique)):
        raise bad("unique", table.get("unique"))
    accepted = table.get("accepted", {})
    if not isinstance(accepted, dict) or not all(
            isinstance(v, list) and v and all(isinstance(x, (str, int, float, bool)) for x in v)
            for v in accepted.values()):
        raise bad("accepted", accepted)
    ranges = table.get("ranges", {})
    if not isinstance(ranges, dict) or not all(_is_range(v) for v in ranges.values()):
        raise bad("ranges", ranges)
    max_age = table.get("max_age", "")
    if max_age != "" and (not isinstance(max_age, str) or not seconds(max_age)):
        raise bad("max_age", max_age)
    if columns:  # a rule naming a column the contract does not list is a typo, caught now
        for key, cols in (("not_null", not_null), ("unique", [c for k in unique for c in k]),
                          ("accepted", list(accepted)), ("ranges", list(ranges))):
            unknown = [c for c in cols if c not in columns]
            if unknown:
                raise ConfigError(f"{path}: key 'contracts.{name}.{key}' names {', '.join(map(repr, unknown))}, "
                                  f"which 'contracts.{name}.columns' does not list — add it there or fix the name")
    return Contract(name, columns, tuple(not_null), tuple(tuple(k) for k in unique),
                    {c: tuple(v) for c, v in accepted.items()}, {c: tuple(v) for c, v in ranges.items()},
                    max_age, seconds(max_age) or 0.0)


def _is_range(v: Any) -> bool:
    if not (isinstance(v, list) and len(v) == 2):
        return False
    lo, hi = v
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return all(math.isfinite(x) for x in v) and lo <= hi  # inf has no SQL literal
    return all(isinstance(x, str) and x for x in v) and lo <= hi  # dates or times, e.g. ["2020-01-01", "2030-12-31"]
