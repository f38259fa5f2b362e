"""Recovery: make the catalog and the Delta tables agree after a crash.

- A table directory with no committed version is the leftover of a killed create:
  removed.
- A Delta commit newer than the catalog's pointer that lakehouse recorded an intent
  for in the catalog before making it (same version, operation and metadata) was fully
  written (Delta commits are atomic) but never registered: rolled forward, so no rows
  are lost and re-ingesting the file is a no-op, not a double.
- Any other commit in a log (another tool's, or one planted there) is never applied to
  the catalog or the journal: queries keep reading the registered version, the commit
  is reported once in `_errors`, and `lakehouse resync NAME` is the explicit way to
  adopt it (writes to the dataset are refused until then).
- Data files newer than the last commit and not part of it were written by a write
  that never committed: removed.
Callers hold the root's write lock.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from core.storage.catalog import Catalog
from core.datasets.register import register
from core.names import _VALID
from core.storage.tables import Tables, foreign_commit_message, log_version, meta_sha256


def latest_log_version(table_dir: Path) -> int:
    """Newest committed version from the log's file names (-1 if none); no delta-rs needed."""
    return log_version(table_dir)


def needs_recovery(catalog: Catalog, tables: Tables) -> bool:
    """Cheap check run at every open: do the log versions match the catalog's?"""
    known = {d.name: d.table_version for d in catalog.datasets.all()}
    dirs = tables.table_dirs()
    # (a catalog entry without a directory is for `resync`, not recovery)
    return any(latest_log_version(tables.path(n)) != known.get(n, -2) for n in dirs)


def recover_dataset(catalog: Catalog, tables: Tables, name: str, *, adopting: bool = False) -> list[str]:
    """Recover one dataset. `adopting`: the caller (`resync NAME`) takes commits lakehouse
    did not write as they are, so neither report nor apply them here."""
    notes: list[str] = []
    if not _VALID.match(name):
        return notes
    path = tables.path(name)
    if not path.is_dir():
        return notes
    ds = catalog.datasets.get(name)
    if latest_log_version(path) < 0:
        if ds is None:
            tables.drop_dir(name)
            notes.append(f"{name}: removed the leftovers of an ingest that never committed")
        return notes
    known = ds.table_version if ds else -1
    if ds is not None and latest_log_version(path) == known:
        # the usual case: catalog and log agree; only a killed write's files may linger (and
        # the intent of a write killed before its commit, which no commit may now claim)
        catalog.intents.drop(name, above=known)
        removed = _sweep(path, {f["path"] for f in catalog.datasets.files(name)})
        if removed:
            notes.append(f"{name}: removed {removed} data file(s) of a write that never committed")
        return notes
    try:
        commits = tables.commits_after(name, known)
    except Exception as e:  # an unreadable log (e.g. a malformed planted file): apply nothing
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        v = latest_log_version(path)
        msg = (f"{name}: its Delta log past version {known} cannot be read ({first[:200]}), so nothing "
               f"in it was applied — delete the log files after version {known} in {path / '_delta_log'} "
               f"that lakehouse did not write")
        if not adopting:
            _report(catalog, name, msg, _fingerprint(path, v))
            notes.append(msg)
        return notes
    intents = catalog.intents.get(name)
    for version, operation, raw in commits:
        if intents.get(version) != (operation, meta_sha256(raw)):  # not a commit we made
            if not adopting:
                msg = foreign_commit_message(name, version, path, known if ds else None)
                _report(catalog, name, msg, _fingerprint(path, version))
                notes.append(msg)
            break
        if raw is None:  # ours without rows or journal: a table-property change, a vacuum
            if ds is not None:
                snap = tables.snapshot(name, version)
                catalog.datasets.update_stats(name, columns=ds.columns, table_version=version, files=snap.files,
                                     rows=snap.rows, nbytes=snap.bytes, reader=snap.reader)
                ds = catalog.datasets.get(name)
                known = version
            continue
        meta = json.loads(raw)
        snap = tables.snapshot(name, version)
        sources = [{**s, "rows": s.get("rows") if s.get("rows") is not None else snap.rows,
                    "sha256": s.get("sha256") or _rehash(s)} for s in meta.get("sources", [])]
        if len(sources) == 1 and meta.get("mode") == "append" and ds is not None:
            sources[0]["rows"] = snap.rows - (ds.row_count if ds else 0)
        register(catalog, name, snap, meta, sources=sources)
        ds = catalog.datasets.get(name)
        known = version
        notes.append(f"{name}: registered version {version}, which a crash left unregistered")
    if ds is not None:
        removed = _sweep(path, {f["path"] for f in catalog.datasets.files(name)})
        if removed:
            notes.append(f"{name}: removed {removed} data file(s) of a write that never committed")
    return notes


def _fingerprint(path: Path, version: int) -> str:
    """What identifies one foreign commit (so it is reported once, not at every start)."""
    log = path / "_delta_log" / f"{version:020d}.json"
    try:
        digest = hashlib.sha256(log.read_bytes()).hexdigest()
    except OSError:
        digest = "unreadable"
    return f"{log} sha256:{digest}"


def _report(catalog: Catalog, name: str, message: str, detail: str) -> None:
    if not catalog.errors.has("recovery", name, detail):
        catalog.errors.add("recovery", message, dataset=name, detail=detail)


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
    from core.ingest.detect import hash_file

    p = Path(source.get("uri", ""))
    try:
        st = p.stat()
        if st.st_size == source.get("bytes") and st.st_mtime_ns == source.get("mtime_ns"):
            return hash_file(p)
    except OSError:
        pass
    return ""


def recover_all(catalog: Catalog, tables: Tables,
                sees: Callable[[str], bool] | None = None) -> list[str]:
    """Recover every table; return the notes about the datasets `sees` accepts (a
    profile's: notes about datasets it does not see are not its to read)."""
    notes: list[str] = []
    for name in tables.table_dirs():
        found = recover_dataset(catalog, tables, name)
        if sees is None or sees(name):
            notes.extend(found)
    return notes


def recover_at_open(root: Path, catalog: Catalog, tables: Tables,
                    sees: Callable[[str], bool] | None = None) -> list[str]:
    """Roll crashed writes forward or away — only if the cheap check says so and no
    other process is writing right now."""
    import os

    from core.storage.locks import try_write_lock

    sweep_staged(root)
    if not needs_recovery(catalog, tables):
        return []
    fd = try_write_lock(root)
    if fd is None:
        return []
    try:
        return recover_all(catalog, tables, sees=sees)
    finally:
        os.close(fd)


def sweep_staged(root: Path) -> int:
    """Remove what killed ingests left under <root>/tmp/ingest — a contract's staged rows
    (contract-PID-…), DuckDB spill (duckdb-PID-…), a transcoded copy (PID-…) — once the
    process named is gone; how many entries went. Never raises: it is housekeeping."""
    import os
    import re
    import shutil

    from core.ops.jobs import _alive

    removed = 0
    try:
        entries = list((root / "tmp" / "ingest").iterdir())
    except OSError:
        return 0
    for entry in entries:
        m = re.match(r"(?:contract-|duckdb-)?(\d+)-", entry.name)
        if not m or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed += 1
        except OSError:
            pass
    return removed
