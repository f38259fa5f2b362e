"""The facade's column profiles (a part of `core.Lakehouse`): one column's figures, drawn in Explore.

A profile is computed by DuckDB through the profile's own SQL engine, so what a policy
masks is masked here too (the figures are of the masked values) and a row filter keeps
its rows out. It is ONE statement — the aggregates, the top values and the histogram
are CTEs of it — so interrupting the query (the facade's `interrupt_sql`, the daemon's
`cancel`) stops all of it, and nothing runs after the interrupt.

Results are cached per (dataset, table version, column, profile): a new version of the
dataset is a new key, so a cached profile never describes data that has changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from core.api import operation
from core.errors import NotFound
from core.names import quote_ident

TOP = 10  # top values kept
BINS = 20  # histogram bins asked of equi_width_bins (nice numbers may give a few fewer)
EXACT_DISTINCT_ROWS = 1_000_000  # above this many rows the distinct count is approx_count_distinct
CACHED = 64  # profiles kept per facade (a few KB each)


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"}


def family(duckdb_type: str, mask: str | None = None) -> str:
    """What a column's values are, for the figures that fit them: from its type in the
    catalog and the mask this profile reads it through (every mask but `null` gives text).
    Known without a query, so the profile is one statement: an interrupt never falls
    between two and goes unheard."""
    t = duckdb_type.upper().strip()
    if mask and mask != "null":
        return "text"
    if t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION")):
        return "nested"
    if t in ("BOOLEAN", "BOOL"):
        return "bool"
    if t in ("FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"):
        return "float"
    if t in _INTEGERS or t.startswith(("DECIMAL", "NUMERIC")):
        return "numeric"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t in ("VARCHAR", "TEXT", "STRING") or t.startswith("VARCHAR"):
        return "text"
    return "other"


def statement(view: str, col: str, kind: str, approx: bool) -> str:
    """The one query: counts, min/max, distinct and top values; a histogram for
    numbers and times. Floats bin their finite values only (NaN and ±inf have no bin:
    DuckDB's equi_width_bins refuses them) and count the rest apart. The CTEs' names
    have spaces, which no dataset name has, so none shadows the view."""
    c = quote_ident(col)
    v = f"CAST({c} AS VARCHAR)" if kind == "nested" else c  # lists and structs: counted as text
    binned = kind in ("numeric", "float", "date", "timestamp")
    x = f"CASE WHEN isfinite({c}) THEN {c} END" if kind == "float" else c
    distinct = f"approx_count_distinct({v})" if approx else f"count(DISTINCT {v})"
    minmax = "NULL AS lo, NULL AS hi" if kind == "nested" else f"min({c}) AS lo, max({c}) AS hi"
    extra = f", count({c}) FILTER (WHERE NOT isfinite({c})) AS non_finite" if kind == "float" else ""
    bounds = f", min({x}) AS blo, max({x}) AS bhi" if binned else ""
    hist = (f', "cp h" AS (SELECT histogram({x}, equi_width_bins((SELECT blo FROM "cp s"), '
            f'(SELECT bhi FROM "cp s"), {BINS}, true)) AS hist FROM {view} '
            f'WHERE (SELECT blo FROM "cp s") IS NOT NULL)') if binned else ""
    return (f"WITH \"cp s\" AS (SELECT count(*) AS n_rows, count({c}) AS n_values, {distinct} AS n_distinct, "
            f"{minmax}{extra}{bounds} FROM {view}), "
            f"\"cp t\" AS (SELECT list({{'value': v, 'count': n}} ORDER BY n DESC, v) AS top FROM "
            f"(SELECT {v} AS v, count(*) AS n FROM {view} WHERE {c} IS NOT NULL GROUP BY 1 "
            f"ORDER BY n DESC, v LIMIT {TOP})){hist} "
            f'SELECT * FROM "cp s", "cp t"' + (', "cp h"' if binned else ''))


def _bins(hist, lo) -> list[dict]:
    """DuckDB's histogram map (upper bound -> count; the first bin starts at the minimum)
    as bins with both edges."""
    from core.models import plain

    out, left = [], lo
    for upper, n in (hist.items() if isinstance(hist, dict) else hist or []):  # Arrow maps: pairs
        out.append({"lo": plain(left), "hi": plain(upper), "count": int(n)})
        left = upper
    return out


class ColumnProfileOps:
    """Mixed into Lakehouse: uses its `dataset`, `engine`, `sql` and `profile`."""

    @operation("one column's profile: type, rows, null share, distinct count, min/max, top values and "
               "a histogram (numbers, dates, times) — JSON-ready, cached per dataset version",
               remote=True, scope="datasets", audited=True)
    def column_profile(self, dataset: str, column: str) -> dict:
        """The figures of `dataset.column` as this profile reads it (masked values stay masked)."""
        from core.models import plain

        d = self.dataset(dataset)
        col = next((c for c in d.columns if c.name == column), None)
        if col is None:
            raise NotFound(f"dataset {d.name} has no column {column!r} — its columns are "
                           f"{', '.join(c.name for c in d.columns)}")
        key = (d.name, d.table_version, col.name, self.profile.id)
        cache, lock = self._column_profiles()
        with lock:
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                return {**hit, "cached": True}
        view = quote_ident(d.name)
        masked = (self._policy_facts(d.name).get("masked") or {}).get(col.name)
        kind = family(col.type, masked)  # the column as this profile reads it
        approx = d.row_count > EXACT_DISTINCT_ROWS
        row = self.sql(statement(view, col.name, kind, approx)).to_pylist()[0]
        rows, values = int(row["n_rows"]), int(row["n_values"])
        out = {
            "dataset": d.name, "column": col.name, "type": col.type, "kind": kind, "version": d.table_version,
            "masked": masked, "rows": rows, "nulls": rows - values,
            "null_share": round((rows - values) / rows, 6) if rows else None,
            "distinct": int(row["n_distinct"] or 0), "distinct_approx": approx,
            "min": plain(row["lo"]), "max": plain(row["hi"]),
            "top": [{"value": plain(t["value"]), "count": int(t["count"])} for t in row["top"] or []],
            "histogram": _bins(row.get("hist"), row.get("blo")) if "hist" in row else None,
        }
        if kind == "float":
            out["non_finite"] = int(row["non_finite"] or 0)
        with lock:
            cache[key] = out
            while len(cache) > CACHED:
                cache.popitem(last=False)
        return {**out, "cached": False}

    def _column_profiles(self):
        """This facade's cache and its lock (made on first use: the mixin has no __init__)."""
        held = self.__dict__.get("_column_profile_cache")
        if held is None:
            held = self.__dict__.setdefault("_column_profile_cache", (OrderedDict(), threading.Lock()))
        return held


def figures(p: dict) -> list[str]:
    """A profile's figures as lines of plain text (the CLI's table and Explore's detail
    say the same)."""
    from core.text import count

    rows = p["rows"]
    share = "—" if p["null_share"] is None else f"{p['null_share']:.1%}"
    lines = [f"{p['dataset']}.{p['column']}  {p['type']} ({p['kind']})  version {p['version']}"
             + (f"  masked: {p['masked']}" if p["masked"] else ""),
             f"rows {rows:,} · nulls {p['nulls']:,} ({share}) · distinct "
             f"{'≈' if p['distinct_approx'] else ''}{p['distinct']:,}"
             + (" (approx_count_distinct)" if p["distinct_approx"] else ""),
             f"min {_shown(p['min'])} · max {_shown(p['max'])}"]
    if p.get("non_finite"):
        lines.append(f"{count(p['non_finite'], 'value')} NaN or infinite (not in the histogram)")
    if not rows:
        lines.append("the table is empty")
    elif rows == p["nulls"]:
        lines.append("every value is null")
    if p["top"]:
        lines.append("top values: " + ", ".join(f"{_shown(t['value'])} ×{t['count']:,}" for t in p["top"]))
    return lines


def _shown(v, width: int = 40) -> str:
    """A value in a line of figures: null as ∅, long text cut with an ellipsis."""
    s = "∅" if v is None else str(v)
    s = s.replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"
