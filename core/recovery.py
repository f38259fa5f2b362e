"""Recovery: make the catalog and the Delta tables agree after a crash.

- A table directory with no committed version is the leftover of a killed create:
  removed.
- A Delta commit newer than the catalog's pointer whose metadata names its sources
  was fully written (Delta commits are atomic) but never registered: rolled
  forward, so no rows are lost and re-ingesting the file is a no-op, not a double.
- Data files newer than the last commit and not part of it were written by a write
  that never committed: removed.
Callers hold the root's write lock.
"""

from __future__ import annotations

from pathlib import Path

from .catalog import Catalog
from .register import register
from .names import _VALID
from .tables import Tables


def latest_log_version(table_dir: Path) -> int:
    """Newest committed version from the log's file names (-1 if none); no delta-rs needed."""
    log = table_dir / "_delta_log"
    best = -1
    if log.is_dir():
        for f in log.iterdir():
            stem, dot, ext = f.name.partition(".")
            if ext == "json" and stem.isdigit():
                best = max(best, int(stem))
    return best


def needs_recovery(catalog: Catalog, tables: Tables) -> bool:
    """Cheap check run at every open: do the log versions match the catalog's?"""
    known = {d.name: d.table_version for d in catalog.datasets()}
    dirs = tables.table_dirs()
    # (a catalog entry without a directory is for `resync`, not recovery)
    return any(latest_log_version(tables.path(n)) != known.get(n, -2) for n in dirs)


def recover_dataset(catalog: Catalog, tables: Tables, name: str, *, adopting: bool = False) -> list[str]:
    """Recover one dataset. `adopting`: the caller (resync) takes foreign commits as they
    are, so do not tell the user to run resync."""
    notes: list[str] = []
    if not _VALID.match(name):
        return notes
    path = tables.path(name)
    if not path.is_dir():
        return notes
    ds = catalog.get(name)
    if latest_log_version(path) < 0:
        if ds is None:
            tables.drop_dir(name)
            notes.append(f"{name}: removed the leftovers of an ingest that never committed")
        return notes
    known = ds.table_version if ds else -1
    if ds is not None and latest_log_version(path) == known:
        # the usual case: catalog and log agree; only a killed write's files may linger
        removed = _sweep(path, {f["path"] for f in catalog.files(name)})
        if removed:
            notes.append(f"{name}: removed {removed} data file(s) of a write that never committed")
        return notes
    for version, meta in tables.commits_after(name, known):
        if not meta or "source" not in meta and "sources" not in meta:
            if not adopting:
                notes.append(f"{name}: version {version} was not written by lakehouse; run "
                             f"`lakehouse resync {name}` to adopt it")
            break
        snap = tables.snapshot(name, version)
        sources = [{**s, "rows": s.get("rows") if s.get("rows") is not None else snap.rows,
                    "sha256": s.get("sha256") or _rehash(s)} for s in meta.get("sources", [])]
        if len(sources) == 1 and meta.get("mode") == "append" and ds is not None:
            sources[0]["rows"] = snap.rows - (ds.row_count if ds else 0)
        register(catalog, name, snap, meta, sources=sources)
        ds = catalog.get(name)
        notes.append(f"{name}: registered version {version}, which a crash left unregistered")
    if ds is not None:
        removed = _sweep(path, {f["path"] for f in catalog.files(name)})
        if removed:
            notes.append(f"{name}: removed {removed} data file(s) of a write that never committed")
    return notes


def _sweep(path: Path, live: set[str]) -> int:
    """Remove data files newer than the newest commit that the catalog's version does not
    list: a killed write's leftovers (older unlisted files belong to earlier versions)."""
    log = [f.stat().st_mtime for f in (path / "_delta_log").glob("*.json")]
    if not log:
        return 0
    last_commit = max(log)
    n = 0
    for f in path.glob("*.parquet"):
        if f.name not in live and f.stat().st_mtime > last_commit:
            f.unlink(missing_ok=True)
            n += 1
    return n


def _rehash(source: dict) -> str:
    """The hash of a big source was still being computed when the process died: hash the
    file now if it is unchanged (same size and mtime), so re-ingesting it stays a no-op."""
    from .ingest.detect import hash_file

    p = Path(source.get("uri", ""))
    try:
        st = p.stat()
        if st.st_size == source.get("bytes") and st.st_mtime_ns == source.get("mtime_ns"):
            return hash_file(p)
    except OSError:
        pass
    return ""


def recover_all(catalog: Catalog, tables: Tables) -> list[str]:
    notes: list[str] = []
    for name in tables.table_dirs():
        notes.extend(recover_dataset(catalog, tables, name))
    return notes
