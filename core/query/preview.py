"""A query result as plain JSON-ready values: the first rows, and the true count of all
of them (the rest are counted, never fetched into memory)."""

from __future__ import annotations

from core.models import plain


def preview(reader, limit: int) -> dict:
    """`columns`, `types`, the first `limit` `rows` of a RecordBatchReader, and `row_count`."""
    rows: list = []
    n = 0
    for b in reader:
        if len(rows) < limit:
            part = b.slice(0, limit - len(rows))
            rows.extend(zip(*(c.to_pylist() for c in part.columns)) if part.num_columns else [])
        n += b.num_rows
    return {"columns": reader.schema.names, "types": [str(t) for t in reader.schema.types],
            "rows": [[plain(v) for v in r] for r in rows], "row_count": n}
