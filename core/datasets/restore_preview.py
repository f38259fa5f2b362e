"""What a restore would change, before it is made (a part of `core.Lakehouse`).

`restore_preview` compares the dataset's current version with the one a restore would
bring back: rows the restore brings back, removes and changes — matched by primary key
when the dataset has one (and both versions hold it), else as whole rows — with their
counts, a few examples of each, and the columns it adds, removes or retypes. DuckDB
scans both Delta versions through Arrow datasets, so only counts and the few example
rows ever reach Python, however big the dataset is.
"""

from __future__ import annotations

import json

from core.api import operation
from core.errors import LakehouseError
from core.names import quote_ident
from core.text import count

EXAMPLES = 5  # example rows of each kind a preview carries


class RestorePreviewOps:
    """Mixed into Lakehouse: uses its `dataset`, `tables` and `_policy_write_check`."""

    @operation("what restoring a version would change: rows brought back, removed and changed "
               "(by key), examples, schema differences", remote=True, scope="datasets")
    def restore_preview(self, name: str, version: int | None = None, as_of: str | None = None,
                        examples: int = EXAMPLES) -> dict:
        """The restore `restore(name, version=…/as_of=…)` would make, described without
        writing anything (see the module's docstring for what it holds)."""
        if (version is None) == (as_of is None):
            raise LakehouseError("give exactly one of --version V or --as-of TIMESTAMP")
        ds = self.dataset(name)
        # a profile its policy shapes this dataset for may not restore it, and the
        # examples would show values its policy masks or rows its filter hides
        self._policy_write_check(name, "restore")
        return preview(self.tables, ds, version if version is not None else as_of, max(0, int(examples)))


def preview(tables, ds, as_of, examples: int = EXAMPLES) -> dict:
    """The preview of restoring dataset `ds` (a Dataset) to `as_of` (a version or a time)."""
    import duckdb

    from core.storage.tables import open_at

    path = tables.path(ds.name)
    target = open_at(path, ds.name, as_of, upto=ds.table_version)
    current = open_at(path, ds.name, None, upto=ds.table_version)
    con = duckdb.connect()
    try:
        con.register("_now", current.to_pyarrow_dataset())
        con.register("_then", target.to_pyarrow_dataset())
        out = _compare(con, ds, examples)
    finally:
        con.close()
    out.update(dataset=ds.name, version=target.version(), current_version=current.version())
    out["summary"] = _summary(out)
    return out


def _columns(con, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()}


def _compare(con, ds, examples: int) -> dict:
    now, then = _columns(con, "_now"), _columns(con, "_then")
    schema = {"added": [{"column": c, "type": t} for c, t in then.items() if c not in now],
              "removed": [{"column": c, "type": t} for c, t in now.items() if c not in then],
              "retyped": [{"column": c, "now": now[c], "after": then[c]} for c in now
                          if c in then and now[c] != then[c]]}
    common = [c for c in now if c in then]
    retyped = {r["column"] for r in schema["retyped"]}

    def val(alias: str, c: str) -> str:  # a retyped column is compared as text
        ref = f"{alias}.{quote_ident(c)}" if alias else quote_ident(c)
        return f"{ref}::VARCHAR" if c in retyped else ref
    key = [k for k in ds.primary_key if k in now and k in then]
    keyed = bool(key) and len(key) == len(ds.primary_key)
    out = {"key": list(ds.primary_key) if keyed else [], "compared_by": "key" if keyed else "row",
           "schema": schema,
           "rows_now": con.execute("SELECT count(*) FROM _now").fetchone()[0],
           "rows_after": con.execute("SELECT count(*) FROM _then").fetchone()[0]}
    if keyed:
        out.update(_by_key(con, key, common, val, examples))
    else:
        out.update(_by_row(con, common, val, examples))
    return out


def _rows(con, sql: str) -> list[dict]:
    """A few rows as JSON values (to_json in DuckDB: dates, decimals and nested values as text)."""
    return [json.loads(r[0]) for r in con.execute(sql).fetchall()]


def _by_key(con, key: list[str], common: list[str], val, examples: int) -> dict:
    on = " AND ".join(f"{val('c', k)} = {val('t', k)}" for k in key)
    differs = " OR ".join(f"{val('c', c)} IS DISTINCT FROM {val('t', c)}" for c in common if c not in key) or "false"
    frm = (f"FROM (SELECT *, true AS __here FROM _now) c FULL OUTER JOIN "
           f"(SELECT *, true AS __here FROM _then) t ON {on}")
    added, removed, changed = con.execute(
        f"SELECT count(*) FILTER (WHERE c.__here IS NULL), count(*) FILTER (WHERE t.__here IS NULL), "
        f"count(*) FILTER (WHERE c.__here AND t.__here AND ({differs})) {frm}").fetchone()
    def order(alias: str) -> str:
        return ", ".join(val(alias, k) for k in key)
    ex = {"added": _rows(con, f"SELECT to_json(t)::VARCHAR FROM _then t WHERE NOT EXISTS "
                              f"(SELECT 1 FROM _now c WHERE {on}) ORDER BY {order('t')} LIMIT {examples}"),
          "removed": _rows(con, f"SELECT to_json(c)::VARCHAR FROM _now c WHERE NOT EXISTS "
                                f"(SELECT 1 FROM _then t WHERE {on}) ORDER BY {order('c')} LIMIT {examples}"),
          "changed": []}
    pairs = con.execute(f"SELECT to_json(c)::VARCHAR, to_json(t)::VARCHAR FROM _now c JOIN _then t ON {on} "
                        f"WHERE {differs} ORDER BY {order('c')} LIMIT {examples}").fetchall()
    for a, b in pairs:
        old, new = json.loads(a), json.loads(b)
        ex["changed"].append({"key": ",".join(_text(old.get(k)) for k in key), "changes": [
            {"field": c, "old": _text(old.get(c)), "new": _text(new.get(c))}
            for c in common if c not in key and _text(old.get(c)) != _text(new.get(c))]})
    return {"added": added, "removed": removed, "changed": changed, "examples": ex}


def _by_row(con, common: list[str], val, examples: int) -> dict:
    """Whole rows over the columns both versions have (a multiset difference: duplicates count)."""
    cols = ", ".join(f"{val('', c)} AS {quote_ident(c)}" for c in common)
    gone = f"SELECT {cols} FROM _now EXCEPT ALL SELECT {cols} FROM _then"
    back = f"SELECT {cols} FROM _then EXCEPT ALL SELECT {cols} FROM _now"
    if not common:  # nothing in common: every row goes and every row comes
        gone, back = "SELECT * FROM _now", "SELECT * FROM _then"
    removed = con.execute(f"SELECT count(*) FROM ({gone})").fetchone()[0]
    added = con.execute(f"SELECT count(*) FROM ({back})").fetchone()[0]
    ex = {"added": _rows(con, f"SELECT to_json(x)::VARCHAR FROM ({back}) x LIMIT {examples}"),
          "removed": _rows(con, f"SELECT to_json(x)::VARCHAR FROM ({gone}) x LIMIT {examples}"), "changed": []}
    return {"added": added, "removed": removed, "changed": 0, "examples": ex}


def _text(v) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _summary(p: dict) -> str:
    """One sentence: what the restore would do."""
    name, v, cur = p["dataset"], p["version"], p["current_version"]
    if v == cur:
        return f"{name} is at version {v} already — restoring it would change nothing"
    by = f"by key {', '.join(p['key'])}" if p["key"] else "as whole rows (no primary key)"
    rows = (f"bring back {count(p['added'], 'row')}, remove {p['removed']:,}"
            + (f" and change {p['changed']:,}" if p["key"] else ""))
    s = p["schema"]
    cols = [f"{len(s[k])} column(s) {w}" for k, w in (("added", "added"), ("removed", "removed"),
                                                         ("retyped", "retyped")) if s[k]]
    return (f"restoring {name} to version {v} (now version {cur}) would {rows}, compared {by}; "
            f"{count(p['rows_now'], 'row')} now, {p['rows_after']:,} after" + (f"; {', '.join(cols)}" if cols else ""))
