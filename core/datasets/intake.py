"""Writes on behalf of a profile: ingest (only into datasets its patterns name) and
guarded changes, a failure recorded in `_errors`; and the SELECT that opens rows by the
keys search hits name."""

from __future__ import annotations

from pathlib import Path

from core import access
from core.errors import LakehouseError
from core.names import quote_ident, sql_str


def ingest(profile, root: Path, config, catalog, tables, jobs, paths, *, name: str | None, **options):
    """`options`: Ingestor.ingest's (fmt, types, mode, key, actor, reason, listener, cancel)."""
    from core.ingest.run import Ingestor

    if isinstance(paths, (str, Path)):
        paths = [paths]
    access.check_ingest(profile, name)
    ing = Ingestor(root, config, catalog, tables, jobs)
    if not access.restricted(profile):  # its demo's generated sources (a narrower one would read past itself)
        ing.readable_in_root = ("demo",)
    try:
        results = ing.ingest(list(paths), name=name, **options)
    except LakehouseError as e:
        if type(e).__name__ != "Cancelled":
            catalog.errors.add("ingest", str(e), dataset=name or "")
        raise
    from core.governance.scan import after_ingest

    after_ingest(root, catalog, results)  # column sensitivity tags; never fails the ingest
    return results


def rows_query(ds, row_keys: list[str]) -> str:
    """A SELECT of dataset `ds`'s rows by their row keys (as search hits and citations name them)."""
    from core.vectors.context import key_expr

    keys = ds.primary_key or (["doc_id", "page"] if ds.kind == "documents" else [])
    if not keys:
        raise LakehouseError(f"dataset {ds.name!r} has no primary key to find rows by")
    text = {c.name for c in ds.columns if c.type.upper() == "VARCHAR"}
    wanted = ", ".join(sql_str(k) for k in row_keys)
    return f"SELECT * FROM {quote_ident(ds.name)} WHERE {key_expr(keys, text)} IN ({wanted})"


def guarded(audit_log, catalog, profile, check, operation: str, dataset: str, fn, statement: str = ""):
    """Run a change within the profile's datasets (`check` refuses others); audited, and a
    refused one lands in `_errors` like a refused ingest."""
    try:
        check(dataset)
        return audit_log.timed(operation, [dataset], statement, fn)
    except LakehouseError as e:
        catalog.errors.add(operation, str(e), dataset=dataset if access.sees_dataset(profile, dataset) else "")
        raise
