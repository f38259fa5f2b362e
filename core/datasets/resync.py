"""Resync: rebuild what the catalog says about datasets (rows, bytes, columns, version,
data files) from their Delta tables, when the two drifted apart."""

from __future__ import annotations

from pathlib import Path

from core.storage.duck import columns_of_arrow
from core.storage.locks import write_lock
from core.storage.recovery import latest_log_version, recover_dataset


def resync(root: Path, catalog, tables, names: list[str], adopting: bool) -> list[str]:
    """One note per dataset. `adopting` (one dataset named): a commit lakehouse did not
    write is taken as that dataset's current version."""
    notes: list[str] = []
    with write_lock(root):
        for n in names:
            notes.extend(recover_dataset(catalog, tables, n, adopting=adopting))
            ds = catalog.datasets.get(n)
            if not adopting and latest_log_version(tables.path(n)) > ds.table_version:
                continue
            if not tables.exists(n):
                notes.append(f"{n}: its table is missing at {tables.path(n)} — the data "
                             "is gone; ingest the source again with --mode replace")
                continue
            notes.append(_sync_one(catalog, tables, n, ds))
    return notes


def _sync_one(catalog, tables, n: str, ds) -> str:
    snap = tables.snapshot(n)
    cols = columns_of_arrow(snap.arrow_schema)
    changes = []
    if ds.row_count != snap.rows:
        changes.append(f"rows {ds.row_count:,} -> {snap.rows:,}")
    if ds.bytes != snap.bytes:
        changes.append(f"bytes {ds.bytes:,} -> {snap.bytes:,}")
    if [(c.name, c.type) for c in ds.columns] != [(c.name, c.type) for c in cols]:
        changes.append("columns " + ", ".join(c.name for c in cols))
    if ds.table_version != snap.version:
        changes.append(f"version {ds.table_version} -> {snap.version}")
    if [f["path"] for f in catalog.datasets.files(n)] != [f["path"] for f in snap.files]:
        changes.append(f"{len(snap.files)} data file(s)")
    if not changes:
        return f"{n}: in sync"
    catalog.datasets.update_stats(n, columns=cols, table_version=snap.version, files=snap.files,
                                  rows=snap.rows, nbytes=snap.bytes, reader=snap.reader)
    return f"{n}: " + "; ".join(changes)
