"""Contracts enforced: on an ingest's staged rows before the Delta commit, on an
update's record, and on a dataset's current data (`check_contract`).

At ingest (`gate`) the rows on their way to delta-rs are staged to one Parquet file under
<root>/tmp/ingest first — only for a dataset that has a contract — then DuckDB checks
every rule over it (uniqueness over the rows the commit would leave: on append the
existing rows too, on upsert those it does not replace) and the writer reads the staged
file. A violation raises ContractError before delta-rs sees a row: nothing is written.

Row numbers are 1-based positions in what was ingested (a CSV's data rows, the header
not counted; a query's result rows). Messages name rules, counts and row numbers, never
a value: they land in `_errors`, which a profile with masked columns may read.
"""

from __future__ import annotations

import os
import threading
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from core.governance.contracts import Contract, ContractError, family, int_bits, type_fits
from core.names import quote_ident, sql_str

SHOWN_ROWS = 5  # row numbers named in a message
_FIX = "fix them or change [contracts.{name}] in lakehouse.toml"


def _rows(rows: list[int], n: int) -> str:
    shown = ", ".join(str(r) for r in rows[:SHOWN_ROWS])
    return f"{'row' if n == 1 else 'rows'} {shown}{', …' if n > SHOWN_ROWS else ''}"


def _lit(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, (int, float)) else sql_str(str(v))


def _a(col: str) -> str:
    return f"{'an' if col[:1].lower() in 'aeiou' else 'a'} {col}"


def _text(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _int_range(declared: str) -> tuple[int, int]:
    bits = int_bits(declared)
    if declared.upper().startswith("U"):
        return 0, 2 ** bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _int_within(actual: str, declared: str) -> bool:
    """Whether every value of integer type `actual` fits `declared` (UBIGINT does not fit BIGINT)."""
    (alo, ahi), (lo, hi) = _int_range(actual), _int_range(declared)
    return lo <= alo and ahi <= hi


def _numbers(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _not_accepted(col: str, dtype: str, values) -> str:
    """A row outside `values`: compared as numbers on a numeric column (1 accepts 1.0 of
    a DOUBLE column, 1.5 a DECIMAL's 1.50), as booleans on a boolean one, else as text."""
    q, fam = quote_ident(col), family(dtype)
    if fam in ("integer", "float", "decimal") and _numbers(values):
        return f"{q} NOT IN ({', '.join(_lit(v) for v in values)})"
    if fam == "boolean" and all(isinstance(v, bool) for v in values):
        return f"{q} NOT IN ({', '.join(_lit(v) for v in values)})"
    return f"CAST({q} AS VARCHAR) NOT IN ({', '.join(sql_str(_text(v)) for v in values)})"


def _row_rules(contract: Contract, types: dict[str, str]) -> tuple[list[dict], list[tuple[dict, str]]]:
    """Schema violations found from the column types alone, and the row rules to count:
    (violation without count, SQL predicate of a violating row)."""
    schema: list[dict] = []
    rules: list[tuple[dict, str]] = []
    for col, want in contract.columns.items():
        if col not in types:
            schema.append({"rule": "columns", "columns": [col], "count": None,
                           "says": f"it has no column {col} (required as {want})"})
        elif not type_fits(want, types[col]):
            schema.append({"rule": "columns", "columns": [col], "count": None,
                           "says": f"column {col} is {types[col]} where the contract requires {want}"})
        elif family(want) == "integer" and not _int_within(types[col], want):
            lo, hi = _int_range(want)
            rules.append(({"rule": "columns", "columns": [col], "says": f"{_a(col)} too large for {want}"},
                          f"{quote_ident(col)} NOT BETWEEN {lo} AND {hi}"))
    named = set(contract.not_null) | {c for k in contract.unique for c in k} | set(contract.accepted) | \
        set(contract.ranges)
    for col in sorted(named - set(types) - set(contract.columns)):
        schema.append({"rule": "columns", "columns": [col], "count": None,
                       "says": f"it has no column {col}, which the contract's rules name"})
    ok = {c for c in types if not any(col == c for v in schema for col in v["columns"])}
    for col in contract.not_null:
        if col in ok:
            rules.append(({"rule": "not_null", "columns": [col], "says": f"a NULL {col}"},
                          f"{quote_ident(col)} IS NULL"))
    for col, values in contract.accepted.items():
        if col in ok:
            rules.append(({"rule": "accepted", "columns": [col], "says": f"{_a(col)} outside its accepted values"},
                          _not_accepted(col, types[col], values)))
    for col, (lo, hi) in contract.ranges.items():
        if col not in ok:
            continue
        if isinstance(lo, (int, float)) and family(types[col]) not in ("integer", "float", "decimal"):
            schema.append({"rule": "ranges", "columns": [col], "count": None,
                           "says": f"column {col} is {types[col]}, which a numeric range cannot bound"})
            continue
        rules.append(({"rule": "ranges", "columns": [col], "says": f"{_a(col)} outside [{lo}, {hi}]"},
                      f"({quote_ident(col)} < {_lit(lo)} OR {quote_ident(col)} > {_lit(hi)})"))
    return schema, rules


def violations(con, contract: Contract, new_sql: str, old_sql: str | None = None,
               key: list[str] | None = None, plain_sql: str | None = None, row: str = "__row") -> list[dict]:
    """Every rule `new_sql`'s rows break ({rule, columns, count, rows, says[, keys]}).
    `new_sql` yields the data plus __row (1-based); `old_sql` the rows the commit keeps;
    `plain_sql` the same rows as `new_sql` without __row, cheaper to count over (a
    row_number() window sorts them all): __row is then read only for a broken rule.
    `row`: __row's name, when the data has a column called __row (see free_name)."""
    plain = plain_sql or new_sql
    rel = con.sql(f"SELECT * FROM ({new_sql}) LIMIT 0")
    types = {c: str(t) for c, t in zip(rel.columns, rel.types) if c != row}
    r = quote_ident(row)
    out, rules = _row_rules(contract, types)
    for v, pred in rules:
        try:
            n = con.execute(f"SELECT count(*) FROM ({plain}) WHERE {pred}").fetchone()[0]
            rows = _first_rows(con, f"SELECT {r} FROM ({new_sql}) WHERE {pred}") if n else []
        except Exception as e:  # a bound DuckDB cannot compare with the column: a broken rule too
            out.append({**v, "count": None, "says": f"{v['says']} cannot be checked ({str(e).splitlines()[0]})"})
            continue
        if n:
            out.append({**v, "count": n, "rows": rows})
    for k in contract.unique:
        if not set(k) <= set(types):
            continue
        out.extend(_unique(con, k, new_sql, plain, old_sql, r))
    if key and set(key) <= set(types) and all(family(types[c]) in _SHOWN_KEYS for c in key):
        # keys of numbers and dates only: a text key is a cell value, perhaps huge or escape-laden
        for v in out:
            if v.get("rows"):
                ks = ", ".join(quote_ident(c) for c in key)
                got = con.execute(f"SELECT {ks} FROM ({new_sql}) WHERE {r} IN ({', '.join(map(str, v['rows']))}) "
                                  f"ORDER BY {r}").fetchall()
                v["keys"] = [", ".join(str(x) for x in r) for r in got]  # text: JSON and the wire take it
    return out


_SHOWN_KEYS = ("integer", "decimal", "date", "timestamp", "uuid")


def free_name(base: str, taken) -> str:
    """`base`, or base_1, base_2...: a name for a column of ours that no column of the data
    has (SQL names ignore case) — a file may well have a column called __row."""
    names = {str(t).casefold() for t in taken}
    name, i = base, 0
    while name.casefold() in names:
        i += 1
        name = f"{base}_{i}"
    return name


def _first_rows(con, sql: str) -> list[int]:
    got = con.execute(f"SELECT * FROM ({sql}) ORDER BY 1 LIMIT {SHOWN_ROWS}").fetchall()
    return [r[0] for r in got]


def _unique(con, k, new_sql: str, plain: str, old_sql: str | None, r: str = "__row") -> list[dict]:
    """Rows of `plain` whose key (all of it present: NULLs are distinct, as in SQL) another
    row here or in `old_sql` has; counted in one aggregation, rows read only when some are."""
    cols = ", ".join(quote_ident(c) for c in k)
    present = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in k)
    union = f"SELECT {cols}, true AS __new FROM ({plain}) WHERE {present}"
    if old_sql is not None:
        union += f" UNION ALL SELECT {cols}, false FROM ({old_sql}) WHERE {present}"
    n = con.execute(f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) FILTER (WHERE __new) AS n FROM ({union}) "
                    f"GROUP BY {cols} HAVING count(*) > 1)").fetchone()[0]
    if not n:
        return []
    dup = f"SELECT {cols} FROM ({union}) GROUP BY ALL HAVING count(*) > 1"
    rows = _first_rows(con, f"SELECT {r} FROM ({new_sql}) n SEMI JOIN ({dup}) d USING ({cols})")
    again = " here or among the rows already in the dataset" if old_sql is not None else ""
    return [{"rule": "unique", "columns": list(k), "count": int(n), "rows": rows,
             "says": f"{_a(', '.join(k))} that is not unique{again}"}]


def sentence(where: str, contract: Contract, found: list[dict]) -> str:
    """One sentence: the first broken rule, its count and rows; how many more rules broke."""
    first = found[0]
    n = first.get("count")
    if n is None:
        what = first["says"]
    else:
        what = f"{n:,} {'row has' if n == 1 else 'rows have'} {first['says']} ({_rows(first['rows'], n)})"
    more = f"; {len(found) - 1} more rule(s) broken too" if len(found) > 1 else ""
    return f"{where} violates contract {contract.dataset}: {what}{more} — {_FIX.format(name=contract.dataset)}"


def _error(where: str, contract: Contract, found: list[dict], nothing: str = " (nothing was written)") -> ContractError:
    return ContractError(sentence(where, contract, found) + nothing, violations=found)


# -- at ingest -------------------------------------------------------------------------------
@contextmanager
def gate(ing, dataset: str, stream, mode: str, key: list[str] | None, where: str, job=None):
    """The stream the writer should read: `stream` itself when `dataset` has no contract;
    else its rows staged, checked (ContractError when they break it) and read back.
    `job`: a cancel interrupts the check and stops the read-back, so the writer never
    commits what a cancelled ingest staged (the stream's own checks ran out while staging)."""
    contract = ing.config.contracts.get(dataset)
    if contract is None or not contract.has_rules:
        yield stream
        return
    stage = Path(ing.root) / "tmp" / "ingest" / f"contract-{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir(parents=True, exist_ok=True)
    path = stage / "rows.parquet"
    row = free_name("__row", stream.schema.names)
    try:
        _stage(stream, path, row)
        _check_staged(ing, contract, dataset, path, mode, key, where, stage, job, row)
        yield _read_back(path, stream.schema, job)
    finally:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)


def _stage(stream, path: Path, row: str) -> None:
    """The rows, each with its 1-based number in column `row` (the last)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = stream.schema.append(pa.field(row, pa.int64()))
    n = 0
    with pq.ParquetWriter(str(path), schema) as w:
        for batch in stream:
            numbers = pa.array(np.arange(n + 1, n + 1 + batch.num_rows, dtype=np.int64))
            w.write_batch(pa.RecordBatch.from_arrays([*batch.columns, numbers], schema=schema))
            n += batch.num_rows


def _read_back(path: Path, schema, job=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def batches():
        for b in pq.ParquetFile(str(path)).iter_batches(batch_size=8192):
            if job is not None:
                job.progress()  # raises Cancelled: the writer fails before its commit
            b = b.select(range(len(schema)))  # the row numbers (the last column) stay behind
            yield b if b.schema.equals(schema) else b.cast(schema)
    return pa.RecordBatchReader.from_batches(schema, batches())


def _check_staged(ing, contract, dataset, path: Path, mode: str, key, where: str, stage: Path, job=None,
                  row: str = "__row") -> None:
    from contextlib import nullcontext

    from core.storage.duck import connect

    con = connect(ing.config.get("ingest.memory_limit"), temp_directory=str(stage / "spill"))
    try:
        with job.watching(con.interrupt) if job is not None else nullcontext():
            found = _staged_violations(ing, con, contract, dataset, path, mode, key, row)
    except Exception:
        if job is not None:
            job.check_cancel()  # an interrupted check is the cancel, not a broken rule
        raise
    finally:
        con.close()
    if found:
        raise _error(where, contract, found)


def _staged_violations(ing, con, contract, dataset, path: Path, mode: str, key, row: str) -> list[dict]:
    """The rules the staged rows break; on append or upsert, unique keys count the rows kept."""
    new = f"SELECT * FROM read_parquet({sql_str(str(path))})"  # its last column: `row`
    old = None
    files = [str(ing.tables.path(dataset) / f["path"]) for f in ing.catalog.datasets.files(dataset)] \
        if mode in ("append", "upsert") else []
    if files:
        old = f"SELECT * FROM read_parquet([{', '.join(sql_str(f) for f in files)}], union_by_name = true)"
        if mode == "upsert" and key:
            old = f"SELECT * FROM ({old}) ANTI JOIN ({new}) USING ({', '.join(quote_ident(c) for c in key)})"
        cols = set(con.sql(f"SELECT * FROM ({old}) LIMIT 0").columns)
        if not all(set(k) <= cols for k in contract.unique):
            old = None  # the dataset lacks a key column (a schema change adds it): new rows only
    return violations(con, contract, new, old, key or _first_key(contract), row=row)


def _first_key(contract: Contract) -> list[str] | None:
    return list(contract.unique[0]) if contract.unique else None


# -- on update ---------------------------------------------------------------------------------
def check_update(mutator, ds, key: dict, record: dict, changed: set[str]) -> None:
    """An update's record (old values with the new ones) against the contract: not_null,
    accepted, ranges on the changed columns; a unique key it joins must stay unique."""
    contract = mutator.config.contracts.get(ds.name)
    if contract is None:
        return
    broken = []
    for col in sorted(changed):
        v = record.get(col)
        if v is None:
            if col in contract.not_null:
                broken.append({"rule": "not_null", "columns": [col], "says": f"{col} may not be NULL"})
            continue
        if col in contract.accepted and not _is_accepted(v, contract.accepted[col]):
            broken.append({"rule": "accepted", "columns": [col], "says": f"{col} would be outside its accepted values"})
        if col in contract.ranges and not _within(v, contract.ranges[col]):
            lo, hi = contract.ranges[col]
            broken.append({"rule": "ranges", "columns": [col], "says": f"{col} would be outside [{lo}, {hi}]"})
    for k in contract.unique:
        if set(k) & changed and not set(k) <= set(key) and all(record.get(c) is not None for c in k):
            if _taken(mutator, ds, k, key, record):
                broken.append({"rule": "unique", "columns": list(k),
                               "says": f"another record already has this {', '.join(k)}"})
    if broken:
        more = f"; {len(broken) - 1} more rule(s) too" if len(broken) > 1 else ""
        raise ContractError(f"this update of {ds.name} violates contract {ds.name}: {broken[0]['says']}{more} — change the "
                            f"value or [contracts.{ds.name}] in lakehouse.toml (nothing was written)",
                            violations=[{**b, "count": 1} for b in broken])


def _is_accepted(v, values) -> bool:
    if _numbers(values) and isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return any(v == x for x in values)  # 1.0 and Decimal('1.50') are the accepted 1 and 1.5
    return _text(v) in {_text(a) for a in values}


def _within(v, bounds) -> bool:
    lo, hi = bounds
    try:
        if isinstance(lo, (int, float)):
            return lo <= float(v) <= hi
        return str(lo) <= str(v) <= str(hi)
    except (TypeError, ValueError):
        return False


def _taken(mutator, ds, k, key: dict, record: dict) -> bool:
    files = [str(mutator.tables.path(ds.name) / f["path"]) for f in mutator.catalog.datasets.files(ds.name)]
    if not files:
        return False
    same = " AND ".join(f"{quote_ident(c)} = ?" for c in k)
    other = " OR ".join(f"{quote_ident(c)} IS DISTINCT FROM ?" for c in key)
    row = mutator._duck().execute(f"SELECT count(*) FROM read_parquet(?, union_by_name = true) "
                                  f"WHERE {same} AND ({other})", [files, *(record[c] for c in k), *key.values()])
    return row.fetchone()[0] > 0


# -- current data ------------------------------------------------------------------------------
def check_current(config, catalog, tables, ds) -> list[dict]:
    """The rules the dataset's registered version breaks (row numbers in key order, or
    file order without a key)."""
    from core.storage.duck import connect

    contract = config.contracts.get(ds.name)
    files = [str(tables.path(ds.name) / f["path"]) for f in catalog.datasets.files(ds.name)]
    if contract is None or not contract.has_rules or not files:
        return []
    listed = ", ".join(sql_str(f) for f in files)
    read = f"read_parquet([{listed}], union_by_name = true"
    taken = [c.name for c in ds.columns]
    row, r, fname = free_name("__row", taken), quote_ident(free_name("__row", taken)), free_name("__file", taken)
    if ds.primary_key:
        order = ", ".join(quote_ident(c) for c in ds.primary_key)
        new = f"SELECT *, row_number() OVER (ORDER BY {order}) AS {r} FROM {read})"
    elif "file_row_number" in {t.casefold() for t in taken}:  # DuckDB's virtual column is taken: scan order
        new = f"SELECT *, row_number() OVER () AS {r} FROM {read})"
    else:  # file order (the catalog's): each file's first row number from their row counts,
        # not a sort of every row (10M rows: 0.1 s, not 5 s per broken rule)
        f = quote_ident(fname)
        new = (f"SELECT d.* EXCLUDE ({f}, file_row_number), o.start + d.file_row_number + 1 AS {r} "
               f"FROM {read}, filename = {sql_str(fname)}, file_row_number = true) d JOIN (SELECT file_name, "
               f"sum(num_rows) OVER (ORDER BY list_position([{listed}], file_name)) - num_rows AS start "
               f"FROM parquet_file_metadata([{listed}])) o ON d.{f} = o.file_name")
    con = connect(config.get("ingest.memory_limit"))
    try:
        return violations(con, contract, new, plain_sql=f"SELECT * FROM {read})", row=row)
    finally:
        con.close()
