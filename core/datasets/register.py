"""Registering a Delta commit in the catalog: the one place that turns a committed
table version into a catalog pointer, lineage and journal events (one SQLite
transaction). Used by ingest, mutations and crash recovery alike."""

from __future__ import annotations

from core.storage.catalog import Catalog
from core.storage.duck import columns_of_arrow
from core.storage.faults import crash_point
from core.datasets.journal import events_for_commit
from core.storage.tables import Snapshot


def register(catalog: Catalog, name: str, snap: Snapshot, meta: dict, *,
             sources: list[dict] | None = None, primary_key: list[str] | None = None) -> None:
    crash_point("after_delta_commit")
    prev = catalog.datasets.get(name)
    events = events_for_commit(meta, snap.operation, snap.metrics, prev.row_count if prev else 0,
                               snap.rows)
    catalog.datasets.register_commit(
        name=name, kind=meta.get("kind", "table"), fmt=meta.get("format", ""),
        columns=columns_of_arrow(snap.arrow_schema), table_version=snap.version, files=snap.files,
        rows=snap.rows, nbytes=snap.bytes, sources=sources or [], job_id=meta.get("job", ""),
        mode=meta.get("mode", "append"), reader=snap.reader, journal=events,
        primary_key=primary_key or meta.get("primary_key"))
