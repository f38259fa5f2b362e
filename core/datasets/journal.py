"""Journal events for a commit, derived from what the commit itself carries.

Per-field events (single-row update/delete) travel in the commit's metadata; bulk
commits get one summary event whose row counts come from the commit's own
operationMetrics. Both the normal path and crash recovery build events here, so
the journal records exactly the commits the catalog registers.
"""

from __future__ import annotations


def _int(metrics: dict, *keys: str) -> int:
    return sum(int(metrics.get(k) or 0) for k in keys)


def row_changes(operation: str, metrics: dict | None, prev_rows: int, new_rows: int) -> tuple[int, int, int]:
    """(added, updated, deleted) rows of one commit."""
    m = metrics or {}
    op = operation.upper()
    if op == "MERGE":
        return (_int(m, "num_target_rows_inserted"), _int(m, "num_target_rows_updated"),
                _int(m, "num_target_rows_deleted"))
    if op == "UPDATE":
        return 0, _int(m, "num_updated_rows"), 0
    if op == "DELETE":
        return 0, 0, _int(m, "num_deleted_rows")
    if op in ("WRITE", "CREATE TABLE") and "num_added_rows" in m:
        added = _int(m, "num_added_rows")
        # an overwrite removes what was there before
        return added, 0, max(prev_rows + added - new_rows, 0)
    diff = new_rows - prev_rows  # RESTORE and anything else: the net change
    return max(diff, 0), 0, max(-diff, 0)


def events_for_commit(meta: dict, operation: str, metrics: dict | None, prev_rows: int,
                      new_rows: int) -> list[dict]:
    common = {"actor": meta.get("actor", ""), "reason": meta.get("reason", ""),
              "source": meta.get("source", "ingest")}
    if meta.get("journal"):
        return [{**common, **ev} for ev in meta["journal"]]
    if common["source"] == "compact":
        return []  # rewrites files, changes no data
    added, updated, deleted = row_changes(operation, metrics, prev_rows, new_rows)
    summary = meta.get("summary") or f"+{added} ~{updated} -{deleted} rows"
    return [{**common, "new": summary, "added": added, "updated": updated, "deleted": deleted}]
