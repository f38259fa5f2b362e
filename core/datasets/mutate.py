"""Single-record mutations, restore and compaction: each one Delta commit (through
delta-rs) registered in the catalog with its journal events in one transaction.

update/delete rewrite only the data files holding the affected rows (delta-rs is
copy-on-write; keyed datasets keep files small for that reason).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.storage.catalog import Catalog
from core.config import Config
from core.errors import Hint, LakehouseError
from core.storage.locks import write_lock
from core.models import Dataset
from core.names import quote_ident, sql_str
from core.storage.recovery import recover_dataset
from core.storage.faults import crash_point
from core.datasets.register import register
from core.storage.tables import Tables, _ident, open_at

# Key and value types a literal can be written for (DuckDB type names).
# Per-record field events one restore writes into its commit (and the journal); past
# this the restore's summary event says how many records were not listed one by one.
RESTORE_JOURNAL_MAX = 10_000
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


class MutationError(LakehouseError):
    pass


@dataclass
class MutationResult:
    dataset: str
    table_version: int | None
    message: str
    changes: list[dict] = field(default_factory=list)  # {field, old, new}
    bytes_written: int = 0
    files_rewritten: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    return str(v)


class Mutator:
    def __init__(self, root: Path, config: Config, catalog: Catalog, tables: Tables):
        self.root, self.config, self.catalog, self.tables = root, config, catalog, tables
        self._con = None  # an unsandboxed DuckDB connection for checks and reads

    # -- helpers ------------------------------------------------------------------
    def _dataset(self, name: str) -> Dataset:
        return self.catalog.datasets.require(name)

    def _keyed(self, name: str, key: str | list[str]) -> tuple[Dataset, dict[str, Any]]:
        """The dataset and {key column: typed value} for a key given as text."""
        ds = self._dataset(name)
        if not ds.primary_key:
            raise MutationError(f"dataset {name} has no primary key", hint=Hint(
                "declare one with {a replacing ingest that names the key} (or give the key at create)", "ingest",
                {"paths": "FILE", "name": name, "mode": "replace", "key": "COL"}))
        parts = list(key) if isinstance(key, (list, tuple)) else [key]
        if not parts or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in parts):
            raise MutationError(f"a key of {name} is text, a number, or a list of them — got {key!r}")
        if isinstance(key, (int, float)):  # a JSON client's number
            key = str(key)
        values = key.split(",") if isinstance(key, str) and len(ds.primary_key) > 1 else (
            [key] if isinstance(key, str) else [str(v) for v in key])
        if len(values) != len(ds.primary_key):
            raise MutationError(f"dataset {name} is keyed by {', '.join(ds.primary_key)}: give "
                                f"{len(ds.primary_key)} value(s) separated by commas, got {key!r}")
        types = {c.name: c.type for c in ds.columns}
        typed = {k: self._typed(name, k, types[k], v.strip() if isinstance(v, str) else v)
                 for k, v in zip(ds.primary_key, values)}
        return ds, typed

    def _typed(self, dataset: str, column: str, typ: str, raw: str | None) -> Any:
        """Check that `raw` is a value of `typ` (via DuckDB's own cast); return it typed."""
        if raw is None:
            return None
        con = self._duck()
        try:
            return con.execute(f"SELECT CAST(? AS {typ})", [raw]).fetchall()[0][0]
        except Exception:
            raise MutationError(f"{dataset}.{column} is {typ}; {raw!r} is not a valid {typ} — "
                                "nothing was written") from None

    def _duck(self):
        import duckdb

        if self._con is None:
            self._con = duckdb.connect()
        return self._con

    @staticmethod
    def _literal(value: Any, typ: str) -> str:
        """A DataFusion SQL literal for delta-rs predicates and updates."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if typ.split("(")[0] in _NUMERIC:
            return str(value)
        text = sql_str(_text(value))  # DataFusion quotes strings as DuckDB does
        if typ == "DATE":
            return f"CAST({text} AS DATE)"
        if typ.startswith("TIMESTAMP"):
            return f"CAST({text} AS TIMESTAMP)"
        if typ != "VARCHAR":
            raise MutationError(f"columns of type {typ} cannot be set or matched here yet")
        return text

    def _predicate(self, ds: Dataset, key: dict[str, Any]) -> str:
        types = {c.name: c.type for c in ds.columns}
        return " AND ".join(f"{_ident(k)} = {self._literal(v, types[k])}" for k, v in key.items())

    def _current_row(self, ds: Dataset, key: dict[str, Any]) -> dict | None:
        """The record's current values, from the data files of the catalog's version."""
        con = self._duck()
        files = [str(self.tables.path(ds.name) / f["path"]) for f in self.catalog.datasets.files(ds.name)]
        if not files:
            return None
        where = " AND ".join(f"{quote_ident(k)} = ?" for k in key)
        cur = con.execute(f"SELECT * FROM read_parquet(?, union_by_name = true) WHERE {where}",
                          [files, *key.values()])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        if len(rows) > 1:
            raise MutationError(f"{ds.name} holds {len(rows)} rows with key {self._show(key)} — the "
                                "key is not unique; fix it with an upsert")
        return rows[0] if rows else None

    @staticmethod
    def _show(key: dict[str, Any]) -> str:
        return ", ".join(f"{k} = {_text(v)!r}" for k, v in key.items())

    def _commit(self, ds: Dataset, action, meta: dict) -> tuple:
        """Run one Delta commit under the write lock and register it."""
        with write_lock(self.root):
            recover_dataset(self.catalog, self.tables, ds.name)
            before = {f["path"] for f in self.catalog.datasets.files(ds.name)}
            crash_point("before_delta_commit")
            snap = action()
            register(self.catalog, ds.name, snap, meta)
        new = [f for f in snap.files if f["path"] not in before]
        self._auto_compact(ds.name)
        return snap, sum(f["size"] for f in new), len(before - {f["path"] for f in snap.files})

    # -- update / delete ----------------------------------------------------------------
    def update(self, name: str, key, values: dict[str, str], actor: str, reason: str) -> MutationResult:
        ds, typed_key = self._keyed(name, key)
        if not values:
            raise MutationError("nothing to set — give --set col=value (one or more)")
        types = {c.name: c.type for c in ds.columns}
        unknown = [c for c in values if c not in types]
        if unknown:
            raise MutationError(f"{name} has no column {', '.join(map(repr, unknown))} — its "
                                f"columns are: {', '.join(types)}")
        if set(values) & set(ds.primary_key):
            raise MutationError(f"the key ({', '.join(ds.primary_key)}) cannot be updated — "
                                "delete the record and ingest it under the new key")
        new = {c: self._typed(name, c, types[c], None if str(v).lower() == "null" else v)
               for c, v in values.items()}
        old = self._current_row(ds, typed_key)
        if old is None:
            raise MutationError(f"no record with {self._show(typed_key)} in {name} — nothing was written")
        changes = [{"field": c, "old": _text(old.get(c)), "new": _text(v)}
                   for c, v in new.items() if _text(old.get(c)) != _text(v)]
        if not changes:
            return MutationResult(name, ds.table_version, f"{name} {self._show(typed_key)}: "
                                  "already has these values — nothing written")
        from core.governance.contract_check import check_update

        check_update(self, ds, typed_key, {**old, **new}, {ch["field"] for ch in changes})  # nothing written if not
        entity = ",".join(_text(v) for v in typed_key.values())
        meta = {"source": "update", "actor": actor, "reason": reason, "mode": "update",
                "journal": [{"entity": entity, **ch} for ch in changes]}
        updates = {c: self._literal(v, types[c]) for c, v in new.items()}
        snap, written, rewritten = self._commit(
            ds, lambda: self.tables.update(name, self._predicate(ds, typed_key), updates, meta), meta)
        return MutationResult(name, snap.version,
                              f"{name} {self._show(typed_key)}: updated {', '.join(ch['field'] for ch in changes)} "
                              f"(version {snap.version})", changes, written, rewritten)

    def delete(self, name: str, key, actor: str, reason: str) -> MutationResult:
        ds, typed_key = self._keyed(name, key)
        old = self._current_row(ds, typed_key)
        if old is None:
            raise MutationError(f"no record with {self._show(typed_key)} in {name} — nothing was written")
        entity = ",".join(_text(v) for v in typed_key.values())
        changes = [{"field": c, "old": _text(v), "new": None} for c, v in old.items()]
        meta = {"source": "delete", "actor": actor, "reason": reason, "mode": "delete",
                "journal": [{"entity": entity, **ch} for ch in changes]}
        snap, written, rewritten = self._commit(
            ds, lambda: self.tables.delete(name, self._predicate(ds, typed_key), meta), meta)
        return MutationResult(name, snap.version, f"{name} {self._show(typed_key)}: deleted "
                              f"(version {snap.version})", changes, written, rewritten)

    # -- restore -------------------------------------------------------------------------
    def restore(self, name: str, as_of: int | str, actor: str, reason: str) -> MutationResult:
        ds = self._dataset(name)
        target = open_at(self.tables.path(name), name, as_of, upto=ds.table_version)  # exists, readable
        version = target.version()
        if version == ds.table_version:
            return MutationResult(name, ds.table_version, f"{name} is already at version {version} — "
                                  "nothing written")
        meta = {"source": "restore", "actor": actor, "reason": reason, "mode": "restore",
                "summary": f"restored version {version}"}
        if ds.primary_key:  # each record the restore changes gets its history, as update/delete do
            meta["journal"] = self._restore_events(ds, target, version)
        snap, written, rewritten = self._commit(ds, lambda: self.tables.restore(name, version, meta), meta)
        return MutationResult(name, snap.version, f"{name}: restored version {version} as version "
                              f"{snap.version} ({snap.rows:,} rows)", [], written, rewritten)

    def _restore_events(self, ds: Dataset, target, version: int) -> list[dict]:
        """Journal events for restoring a keyed dataset to `target` (a DeltaTable): one
        summary, then the old -> new value of each field of each record that changes (a
        record the restore brings back has old values None; one it removes, new None).
        Past RESTORE_JOURNAL_MAX field events the summary says how many were not listed."""
        con = self._duck()
        files = [str(self.tables.path(ds.name) / f["path"]) for f in self.catalog.datasets.files(ds.name)]
        cur = con.read_parquet(files, union_by_name=True) if files else None
        if cur is None:
            return []
        con.register("_restore_cur", cur)
        con.register("_restore_tgt", target.to_pyarrow_dataset())
        try:
            on = " AND ".join(f"c.{quote_ident(k)} = t.{quote_ident(k)}" for k in ds.primary_key)
            k0 = quote_ident(ds.primary_key[0])
            frm = (f"FROM _restore_cur c FULL OUTER JOIN _restore_tgt t ON {on} "
                   "WHERE to_json(c)::VARCHAR IS DISTINCT FROM to_json(t)::VARCHAR")
            added, deleted, updated = con.execute(
                f"SELECT count(*) FILTER (WHERE c.{k0} IS NULL), count(*) FILTER (WHERE t.{k0} IS NULL), "
                f"count(*) FILTER (WHERE c.{k0} IS NOT NULL AND t.{k0} IS NOT NULL) {frm}").fetchone()
            pairs = con.execute(f"SELECT c, t {frm} ORDER BY {', '.join(f'coalesce(c.{quote_ident(k)}, t.{quote_ident(k)})' for k in ds.primary_key)} "
                                f"LIMIT {RESTORE_JOURNAL_MAX}").fetchall()
        finally:
            con.unregister("_restore_cur")
            con.unregister("_restore_tgt")
        events: list[dict] = []
        for old, new in pairs:
            old_there = old is not None and any(old.get(k) is not None for k in ds.primary_key)
            new_there = new is not None and any(new.get(k) is not None for k in ds.primary_key)
            rec = new if new_there else old
            entity = ",".join(_text(rec.get(k)) for k in ds.primary_key)
            for col in dict.fromkeys([*(old or {}), *(new or {})]):
                o = _text(old.get(col)) if old_there else None
                n = _text(new.get(col)) if new_there else None
                if o != n and len(events) < RESTORE_JOURNAL_MAX:
                    events.append({"entity": entity, "field": col, "old": o, "new": n})
        changed = added + deleted + updated
        summary = f"restored version {version}: {updated:,} records changed, {added:,} brought back, {deleted:,} removed"
        if changed > len(pairs) or len(events) >= RESTORE_JOURNAL_MAX:
            summary += f" (field changes journaled per record for the first {len(pairs):,} records only)"
        return [{"new": summary, "added": added, "updated": updated, "deleted": deleted}] + events

    # -- compaction ----------------------------------------------------------------------
    def target_mb(self, ds: Dataset) -> int:
        return self.config.get("tables.keyed_file_mb") if ds.primary_key else self.config.get(
            "ingest.target_file_mb")

    def compact(self, name: str, vacuum: bool = False, retain_hours: int | None = None) -> dict:
        ds = self._dataset(name)
        retain = self.config.get("tables.vacuum_retain_hours") if retain_hours is None else retain_hours
        if retain < 0:
            raise MutationError(f"--retain must be 0 hours or more, got {retain}")
        out: dict[str, Any] = {"dataset": name}
        with write_lock(self.root):
            recover_dataset(self.catalog, self.tables, name)
            before = len(self.catalog.datasets.files(name))
            meta = {"source": "compact", "mode": "compact", "actor": "", "reason": "compact"}
            snap, metrics = self.tables.compact(name, self.target_mb(ds), meta)
            if snap.version != ds.table_version:
                register(self.catalog, name, snap, meta)
            out.update(files_before=before, files_after=len(snap.files),
                       files_added=int(metrics.get("numFilesAdded", 0)),
                       files_removed=int(metrics.get("numFilesRemoved", 0)), table_version=snap.version)
            if vacuum:
                snap, removed = self.tables.vacuum(name, retain)
                if snap.version != self.catalog.datasets.get(name).table_version:
                    self.catalog.datasets.update_stats(name, columns=self.catalog.datasets.get(name).columns,
                                              table_version=snap.version, files=snap.files,
                                              rows=snap.rows, nbytes=snap.bytes, reader=snap.reader)
                out.update(vacuumed_files=len(removed), retain_hours=retain, table_version=snap.version)
        return out

    def _auto_compact(self, name: str) -> None:
        limit = self.config.get("tables.auto_compact_files")
        if not limit:
            return
        ds = self.catalog.datasets.get(name)
        small = min(self.config.get("tables.small_file_mb"), max(self.target_mb(ds) // 2, 1)) * 2**20
        if sum(1 for f in self.catalog.datasets.files(name) if f["size"] < small) > limit:
            self.compact(name)


def versions(tables: Tables, name: str, upto: int | None = None) -> list[dict]:
    """Every version of a dataset (up to `upto`, the catalog's: a newer commit it did not
    register is not the dataset's): when, which operation, rows added/updated/deleted, who."""
    import json

    from core.datasets.journal import row_changes
    from core.storage.tables import META_KEY

    out, prev_rows = [], 0
    for h in sorted(tables.history(name, upto), key=lambda h: h["version"]):
        v, op = h["version"], h.get("operation", "")
        if upto is not None and v > upto:
            break
        try:
            meta = json.loads(h[META_KEY]) if h.get(META_KEY) else {}
        except ValueError:  # another tool's commit (adopted by resync) with odd metadata
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        rows = tables.snapshot(name, v).rows  # from the log's add actions: works after vacuum too
        added, updated, deleted = row_changes(op, h.get("operationMetrics"), prev_rows, rows)
        out.append({"version": v, "timestamp": datetime.fromtimestamp(h["timestamp"] / 1000, timezone.utc)
                    .isoformat(timespec="milliseconds"), "operation": op,
                    "source": meta.get("source", ""), "rows": rows, "rows_added": added,
                    "rows_updated": updated, "rows_deleted": deleted,
                    "actor": meta.get("actor", ""), "reason": meta.get("reason", "")})
        prev_rows = rows
    return out
