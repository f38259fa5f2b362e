"""Schema changes a re-ingest would make, shown before anything is written.

The columns a source brings are compared with the dataset's: added, removed, retyped and
likely-renamed columns (a removed and an added column whose names and values look alike,
e.g. first_name → full_name). By default a change is refused with that diff and the
flag that takes it; `additive` (watches, schedules) takes added columns only; `accept`
takes any change (a new schema version in `describe`). A column map the user gives
(`full_name=first_name`) writes an incoming column into the dataset's column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from core.errors import IngestError

POLICIES = ("refuse", "additive", "accept")
SAMPLE_ROWS = 200  # rows of each side compared when looking for renames
_RENAMED = 0.6  # a pair scoring at least this is called a likely rename


def parse_column_map(spec: str | dict | None) -> dict[str, str]:
    """'full_name=first_name,zip=postcode' -> {incoming column: dataset column}."""
    if not spec:
        return {}
    items = spec.items() if isinstance(spec, dict) else (p.partition("=")[::2] for p in str(spec).split(","))
    out: dict[str, str] = {}
    for src, dst in items:
        src, dst = str(src).strip(), str(dst).strip()
        if not src or not dst:
            raise IngestError(f"--map {spec!r} is not SOURCE=COLUMN pairs — write e.g. "
                              "--map full_name=first_name (the source's column, then the dataset's)")
        if src in out or dst in out.values():
            raise IngestError(f"--map names {src if src in out else dst!r} twice — map each column once")
        out[src] = dst
    return out


@dataclass(frozen=True)
class SchemaOptions:
    """What a re-ingest may do to the dataset's schema (Ingestor.schema)."""

    policy: str = "refuse"
    column_map: dict[str, str] = field(default_factory=dict)  # incoming column -> dataset column

    @classmethod
    def of(cls, policy: str | None, column_map: str | dict | None) -> "SchemaOptions":
        policy = policy or "refuse"
        if policy not in POLICIES:
            raise IngestError(f"unknown schema-change policy {policy!r} — use one of: {', '.join(POLICIES)}")
        return cls(policy, parse_column_map(column_map))

    def rename(self, column: str) -> str:
        """The dataset column an incoming column is written to."""
        return self.column_map.get(column, column)


def apply_map(column_map: dict[str, str], names: list[str], source) -> list[str]:
    """A source's column names as the dataset gets them; a map naming a column the source
    lacks, or writing two columns into one, is refused."""
    unknown = [c for c in column_map if c not in names]
    if unknown:
        raise IngestError(f"{source}: --map names {', '.join(map(repr, unknown))}, which it does not "
                          f"have — its columns are: {', '.join(names)}")
    out = [column_map.get(c, c) for c in names]
    clash = sorted({n for n in out if out.count(n) > 1})
    if clash:
        raise IngestError(f"{source}: --map writes into {', '.join(map(repr, clash))}, which it already "
                          "has — map the other column too, or drop one of them")
    return out


@dataclass
class SchemaDiff:
    added: list[tuple[str, str]] = field(default_factory=list)  # (column, type) only the source has
    removed: list[tuple[str, str]] = field(default_factory=list)  # (column, type) only the dataset has
    retyped: list[tuple[str, str, str]] = field(default_factory=list)  # (column, dataset type, source type)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # (dataset col, source col, evidence)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.retyped or self.renamed)

    @property
    def additive(self) -> bool:
        """Only new columns: every existing column still arrives with a type it can take."""
        return bool(self.added) and not (self.removed or self.retyped or self.renamed)

    def describe(self, most: int = 8) -> str:
        """The diff in a line: up to `most` columns of each kind, then how many more."""
        def listed(items: list[str]) -> str:
            more = f" and {len(items) - most} more" if len(items) > most else ""
            return ", ".join(items[:most]) + more

        parts = []
        if self.renamed:
            parts.append("likely renamed " + listed([f"{o} → {n} ({why})" for o, n, why in self.renamed]))
        if self.added:
            parts.append("added " + listed([f"{c} {t}" for c, t in self.added]))
        if self.removed:
            parts.append("removed " + listed([f"{c} {t}" for c, t in self.removed]))
        if self.retyped:
            parts.append("type changed " + listed([f"{c} {a} → {b}" for c, a, b in self.retyped]))
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"added": [{"column": c, "type": t} for c, t in self.added],
                "removed": [{"column": c, "type": t} for c, t in self.removed],
                "retyped": [{"column": c, "from": a, "to": b} for c, a, b in self.retyped],
                "renamed": [{"from": o, "to": n, "evidence": w} for o, n, w in self.renamed]}


# -- comparing -------------------------------------------------------------------------------
def _family(t: str) -> str:
    t = t.upper()
    if t.endswith("[]") or t.startswith(("STRUCT", "MAP", "LIST", "UNION")):
        return "nested"
    if re.match(r"(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|U?INT\d*)\b", t):
        return "integer"
    if t.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return "number"
    if t.startswith(("DATE", "TIMESTAMP", "TIME")):
        return "time"
    if t.startswith(("BOOL",)):
        return "boolean"
    if t.startswith(("BLOB", "BYTEA", "BINARY")):
        return "binary"
    return "text"


def _fits(source: str, dataset: str) -> bool:
    """Whether an appended column of type `source` goes into a dataset column of type
    `dataset` without losing anything (integers into numbers, dates into timestamps, any
    value into text)."""
    if source.upper() == dataset.upper():
        return True
    s, d = _family(source), _family(dataset)
    return s == d or d == "text" or (s, d) == ("integer", "number")


def _tokens(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t}


def _name_score(a: str, b: str) -> float:
    ratio = difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()
    ta, tb = _tokens(a), _tokens(b)
    shared = len(ta & tb) / max(len(ta | tb), 1)
    return max(ratio, shared)


def _value_score(old: list, new: list) -> float:
    """The share of the source's sampled values that equal or contain one of the dataset's
    (first names inside full names), as text; 0 when either side has none."""
    a = {str(v).strip().lower() for v in old if v is not None and str(v).strip()}
    b = [str(v).strip().lower() for v in new if v is not None and str(v).strip()]
    if not a or not b:
        return 0.0
    # a value, or one of its words, among the other side's values: linear in the sample
    hits = sum(1 for v in b if v in a or any(len(w) >= 2 and w in a for w in v.split()))
    return hits / len(b)


def compare(old: list[tuple[str, str]], new: list[tuple[str, str]], mode: str,
            old_sample: dict[str, list] | None = None, new_sample: dict[str, list] | None = None) -> SchemaDiff:
    """The diff between the dataset's columns `old` and a source's `new` ((name, DuckDB
    type) each, the source's already through the column map). On append and upsert a
    source type the dataset's column takes without loss is no change; on replace any
    other type is."""
    old_sample, new_sample = old_sample or {}, new_sample or {}
    have, bring = dict(old), dict(new)
    diff = SchemaDiff()
    for c, t in new:
        if c in have:
            keep = _fits(t, have[c]) if mode in ("append", "upsert") else t.upper() == have[c].upper()
            if not keep:
                diff.retyped.append((c, have[c], t))
    removed = [(c, t) for c, t in old if c not in bring]
    added = [(c, t) for c, t in new if c not in have]
    pos_old = {c: i for i, (c, _) in enumerate(old)}
    pos_new = {c: i for i, (c, _) in enumerate(new)}
    scored = []
    by_values = len(removed) * len(added) <= 400  # a wide reshuffle: names alone, in bounded time
    for oc, ot in removed:
        for nc, nt in added:
            if not _fits(nt, ot) and not _fits(ot, nt):
                continue
            names = _name_score(oc, nc)
            values = _value_score(old_sample.get(oc, []), new_sample.get(nc, [])) if by_values else 0.0
            place = 0.15 if pos_old[oc] == pos_new[nc] else 0.0
            score = max(values, 0.8 * names + place, 0.5 * names + 0.5 * values + place)
            if score >= _RENAMED:
                why = [f"{values:.0%} of sampled values match"] if values >= 0.3 else []
                if names >= 0.5:
                    why.insert(0, "names alike")
                if place:
                    why.append("same position")
                scored.append((score, oc, nc, ", ".join(why) or "similar"))
    taken_old, taken_new = set(), set()
    for _score, oc, nc, why in sorted(scored, key=lambda s: -s[0]):
        if oc not in taken_old and nc not in taken_new:
            taken_old.add(oc)
            taken_new.add(nc)
            diff.renamed.append((oc, nc, why))
    diff.removed = [(c, t) for c, t in removed if c not in taken_old]
    diff.added = [(c, t) for c, t in added if c not in taken_new]
    return diff


def old_sample(tables, dataset: str, columns: list[str], version: int | None = None) -> dict[str, list]:
    """Up to SAMPLE_ROWS values of the dataset's `columns` (for rename evidence)."""
    if not columns:
        return {}
    try:
        from core.storage.tables import open_at

        dt = open_at(tables.path(dataset), dataset, upto=version)
        return dt.to_pyarrow_dataset().head(SAMPLE_ROWS, columns=columns).to_pydict()
    except Exception:  # evidence only: a rename is still found by its name
        return {}


def gate(ing, dataset: str, existing, mode: str, incoming: list[tuple[str, str]],
         new_sample: dict[str, list] | None, source: str) -> SchemaDiff | None:
    """Before anything is written: the diff between `existing` (a Dataset, or None for a
    new one) and the `incoming` columns ((name, DuckDB type), after the column map), and
    the decision of `ing.schema`'s policy — refused in one sentence, else the diff taken
    (None when there is none). `new_sample`: the source's values by column, for renames."""
    opts: SchemaOptions = getattr(ing, "schema", None) or SchemaOptions()
    if existing is None:
        return None
    old = [(c.name, c.type) for c in existing.columns]
    have = {c for c, _ in old}
    bad = [d for d in opts.column_map.values() if d not in have]
    if bad:
        raise IngestError(f"--map writes into {', '.join(map(repr, bad))}, which dataset {dataset} does not "
                          f"have — its columns are: {', '.join(c for c, _ in old)}")
    names = {c for c, _ in incoming}
    if mode in ("append", "upsert") and not names & have:
        cut = lambda cols: ", ".join(cols[:6]) + (", …" if len(cols) > 6 else "")  # noqa: E731
        raise IngestError(f"{source}: none of its columns ({cut([c for c, _ in incoming])}) are in dataset "
                          f"{dataset} ({cut([c for c, _ in old])}) — it looks like different data; "
                          "ingest it under another --name")
    removed = [c for c in have if c not in names]
    diff = compare(old, incoming, mode, old_sample(ing.tables, dataset, removed, existing.table_version),
                   new_sample)
    if diff.empty:
        return None
    if opts.policy == "accept" or (opts.policy == "additive" and diff.additive):
        return diff
    how = "pass --accept-schema to take it"
    if diff.retyped and mode in ("append", "upsert"):  # Delta keeps a column's type on append
        how = ("a column's type changes only with --mode replace --accept-schema; or fix the values, "
               "or pass --accept-schema to append them cast to the dataset's types")
    if diff.renamed:
        o, n, _ = diff.renamed[0]
        how += f", or --map {n}={o} to write {n} into the dataset's {o}"
    if opts.policy == "additive":
        how = "this source takes added columns only: " + how
    raise IngestError(f"{source}: its columns differ from those of dataset {dataset} — {diff.describe()}; "
                      f"nothing was written ({how})")
