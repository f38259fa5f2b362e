"""The sensitivity scan after an ingest: a bounded sample of each column the detectors
read (core/governance/detect.py), straight from the dataset's data files — never
through the profile's engine, whose masks would hide what the scan must see — and the
findings replace the dataset's scan rows (a user's tags stay as they are).

A scan never fails an ingest: its error is one `_errors` row and the rows stay ingested.
"""

from __future__ import annotations

import threading
from pathlib import Path

from core.governance import detect
from core.names import quote_ident

ENABLED = True        # bench/sensitivity.py turns it off to measure what it adds
SAMPLE_ROWS = 2000    # rows sampled per dataset (detect checks up to 512 values of each column)
SCAN_ROWS = 20_000    # rows the sample is drawn from, newest files first: bounds the cost
                      # (about 10 ms a table) however big the dataset grows
CELLS = 400_000       # values sampled per dataset: a wide table samples fewer rows (2,000
                      # columns: 256 rows), so the scan grows with its columns, not their square
MIN_ROWS = 256        # ... but never fewer than this (a share over fewer values says little)
# types the detectors never tag (detect._SKIP_TYPES): not even read
_SKIP = detect._SKIP_TYPES


def scannable(dtype: str) -> bool:
    t = (dtype or "").upper()
    if t.endswith("]"):  # a list (VARCHAR[]): its text never matches, and one row's may be huge
        return False
    return not t.startswith(_SKIP) or t.startswith(detect._DATE_TYPES)


_con = None
_con_lock = threading.Lock()


def _connection():
    """One in-memory DuckDB for the process's scans: opening one costs more than a scan."""
    global _con
    with _con_lock:
        if _con is None:
            import duckdb

            _con = duckdb.connect()
            _con.execute("SET threads = 1")  # a small read: the other core stays free
        return _con


def _source(root: Path, catalog, name: str, con) -> str | None:
    """The FROM clause reading dataset `name`'s current files (None: no rows)."""
    _, specs = catalog.datasets.snapshot()
    spec = next((s for s in specs if s.name == name), None)
    if spec is None or not spec.files:
        return None
    table_dir = root / "tables" / name
    if spec.reader == "delta":  # deletion vectors and the like: delta-rs knows which rows are live
        from core.storage.tables import open_at

        con.register("scanned", open_at(table_dir, name, spec.version).to_pyarrow_dataset())
        return "scanned"
    # newest first: the rows just written, in the current schema (an added column is null
    # in older files), are the ones read before the LIMIT stops
    files = ", ".join("'" + str(table_dir / f).replace("'", "''") + "'" for f in reversed(spec.files))
    by_name = ", union_by_name = true" if spec.mixed_schema else ""
    return f"read_parquet([{files}]{by_name})"


def sample(root: Path, catalog, ds, rows: int = SAMPLE_ROWS) -> tuple[dict[str, list], dict[str, str]]:
    """({column: sampled values}, {column: type}) of dataset `ds`'s scannable columns:
    a reservoir of `rows` rows drawn from the first SCAN_ROWS read (spread over them, not
    their head, which is often sorted), reading only those columns."""
    cols = [c for c in ds.columns if scannable(c.type)]
    if not cols:
        return {}, {}
    rows = max(MIN_ROWS, min(int(rows), CELLS // len(cols)))
    con = _connection().cursor()  # its own cursor: scans on several threads never share one
    try:
        src = _source(root, catalog, ds.name, con)
        if src is None:
            return {}, {}
        sel = ", ".join(_item(c) for c in cols)
        # a reservoir over at most SCAN_ROWS rows (a smaller dataset is sampled whole), or
        # fewer when the table is wide (each row costs a value of every column)
        scanned = max(rows, min(SCAN_ROWS, CELLS * 10 // len(cols)))
        got = con.execute(f"SELECT * FROM (SELECT {sel} FROM {src} LIMIT {scanned}) "
                          f"USING SAMPLE reservoir({rows} ROWS) REPEATABLE (19)").fetchall()
    finally:
        con.close()
    values = {c.name: [r[i] for r in got] for i, c in enumerate(cols)}
    return values, {c.name: c.type for c in cols}


def _item(c) -> str:
    """A column as sampled: text cut past the longest value a detector matches (a 1 MB
    cell would otherwise cross into Python whole, 2,000 times)."""
    q = quote_ident(c.name)
    return f"left({q}, {detect.MAX_LEN + 1}) AS {q}" if (c.type or "").upper() == "VARCHAR" else q


def scan_dataset(root: Path, catalog, name: str) -> dict:
    """Scan dataset `name` and replace its scan rows; the findings ({column: Finding|None})."""
    ds = catalog.datasets.get(name)
    if ds is None or ds.kind != "table":
        return {}
    values, types = sample(root, catalog, ds)
    findings = detect.scan(values, types)
    catalog.tags.set_scan(name, findings, ds.table_version)
    return findings


def current_tags(root: Path, catalog, name: str) -> dict[str, str]:
    """`name`'s effective tags, for a policy that masks by tag: scanned first when its
    current version was not (the scan follows an ingest's commit; a bound profile must not
    read the version in between unmasked). A scan that fails refuses the read."""
    from core.errors import SqlError

    ds = catalog.datasets.get(name)
    if ENABLED and ds is not None and ds.kind == "table" and catalog.tags.scanned_version(name) != ds.table_version:
        try:
            scan_dataset(root, catalog, name)
        except Exception as e:  # noqa: BLE001 — fail closed, in one sentence
            raise SqlError(f"the sensitivity scan of {name} failed ({type(e).__name__}: {e}), so the columns a "
                           "policy masks by tag cannot be told — tag them with a reason, or ingest again",
                           refused=True) from None
    return catalog.tags.effective(name)


def after_ingest(root: Path, catalog, results) -> None:
    """Scan each table dataset an ingest wrote to; a failure is logged, never raised."""
    if not ENABLED:
        return
    for name in dict.fromkeys(r.dataset for r in results if r.status == "ingested" and r.dataset):
        try:
            scan_dataset(root, catalog, name)
        except Exception as e:  # noqa: BLE001 — whatever went wrong, the ingest stands
            try:
                catalog.errors.add("scan", f"the sensitivity scan of {name} failed ({type(e).__name__}: "
                                   f"{e}); its rows are ingested and its column tags are as they were",
                                   dataset=name)
            except Exception:  # noqa: BLE001 — a catalog that cannot even log this: nothing more to do
                pass
