"""Retention of the catalog's logs ([retention] in lakehouse.toml): rows older than each
table's days are deleted by a job of kind "retention" (Lakehouse.run_retention; the
live runner runs it once a day). 0 days keeps a table forever.

What goes: `_audit` entries, `_errors` entries, `_journal` events (a record's field-level
`history`; the Delta versions `versions` lists and `restore` reads are untouched, since
vacuum, not retention, removes them) and `_asks` (accepted asks are kept: they guide
later questions). The audit log lives in the catalog only, so nothing on disk remains.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# config key -> (catalog table, the rows of it that may go besides their age)
TABLES = {
    "audit_days": ("audit", ""),
    "errors_days": ("errors", ""),
    "journal_days": ("journal", ""),
    "asks_days": ("asks", " AND accepted = 0"),
}
DAY_S = 86400.0  # how often the live runner applies it
CHUNK = 20_000   # rows deleted per statement (about 40 ms of the catalog's write lock)


def due(config) -> bool:
    """Whether any table has a retention set (else there is nothing to run)."""
    return any(config.get(f"retention.{k}") for k in TABLES)


def apply(catalog, config, job=None, now: datetime | None = None) -> dict[str, int]:
    """Delete the rows past each table's retention; {table: rows removed} (0 for kept ones)."""
    now = now or datetime.now(timezone.utc)
    removed: dict[str, int] = {}
    for key, (table, extra) in TABLES.items():
        days = config.get(f"retention.{key}")
        if not days:
            removed[table] = 0
            continue
        try:
            cutoff = (now - timedelta(days=days)).isoformat(timespec="milliseconds")
        except OverflowError:  # further back than any date can be: no row is that old
            removed[table] = 0
            continue
        removed[table] = 0
        while True:  # in chunks: each a short write, so other processes' audit and jobs go on
            n = catalog.db.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
                                   f"WHERE ts < ?{extra} LIMIT {CHUNK})", (cutoff,))
            removed[table] += n
            if job is not None:
                job.progress()  # a cancel stops between chunks: what went is gone, the rest stays
            if n < CHUNK:
                break
        if job is not None:
            job.progress(message=f"{table}: {removed[table]:,} rows older than {days} days removed", force=True)
    return removed
