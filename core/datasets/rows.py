"""The datasets area's rows: `datasets` (each pointing at a Delta table version and
its data files), `lineage` (the sources ingested), `schema_versions` and `journal`
(record-level changes). Every change to what a view reads bumps the generation."""

from __future__ import annotations

import getpass
import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.models import Column, Dataset, LineageEntry, SchemaVersion
from core.storage.db import Db, Statement, now
from core.storage.migrations import Migrations, add_missing_column

if TYPE_CHECKING:
    from core.storage.rows import IntentRows, MetaRows

migrations = Migrations("datasets")


@migrations
def m001_datasets_lineage_journal(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    source_uri TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    table_version INTEGER NOT NULL,
    files_json TEXT NOT NULL,
    reader TEXT NOT NULL DEFAULT 'files',  -- 'files': read_parquet over files_json; 'delta': via delta-rs
    mixed_schema INTEGER NOT NULL DEFAULT 0,  -- 1 once files with different columns coexist
    primary_key TEXT NOT NULL DEFAULT '[]',   -- JSON list of key columns (update/delete/upsert)
    pinned INTEGER NOT NULL DEFAULT 0,        -- kept in the hot cache
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    tags_json TEXT NOT NULL DEFAULT '[]'
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS schema_versions (
    dataset TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    table_version INTEGER NOT NULL,
    schema_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset, schema_version)
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS lineage (
    id INTEGER PRIMARY KEY,
    dataset TEXT NOT NULL,
    source_uri TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source_bytes INTEGER NOT NULL,
    format TEXT NOT NULL,
    mode TEXT NOT NULL,
    job_id TEXT NOT NULL,
    table_version INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
)""")
    db.execute("CREATE INDEX IF NOT EXISTS lineage_by_hash ON lineage (dataset, content_hash)")
    db.execute("""CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    dataset TEXT NOT NULL,
    entity TEXT,               -- the record's key (NULL for a bulk summary event)
    field TEXT,                -- the column (NULL for a bulk summary or a whole-row event)
    old_value TEXT,
    new_value TEXT,
    actor TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,      -- ingest | upsert | update | delete | restore | compact
    reason TEXT NOT NULL DEFAULT '',
    table_version INTEGER NOT NULL,
    rows_added INTEGER,
    rows_updated INTEGER,
    rows_deleted INTEGER,
    job_id TEXT NOT NULL DEFAULT ''
)""")
    db.execute("CREATE INDEX IF NOT EXISTS journal_by_entity ON journal (dataset, entity)")


@migrations
def m002_columns_of_early_catalogs(db: sqlite3.Connection) -> None:
    """Catalogs from the first releases lack these (m001 left their tables as they were)."""
    add_missing_column(db, "datasets", "reader TEXT NOT NULL DEFAULT 'files'")
    add_missing_column(db, "datasets", "mixed_schema INTEGER NOT NULL DEFAULT 1")  # unknown: assume mixed
    add_missing_column(db, "datasets", "primary_key TEXT NOT NULL DEFAULT '[]'")
    add_missing_column(db, "datasets", "pinned INTEGER NOT NULL DEFAULT 0")


@dataclass
class ViewSpec:
    name: str
    files: list[str]  # relative to the table directory
    columns: list[Column]
    reader: str  # 'files' | 'delta'
    version: int
    mixed_schema: bool  # data files differ in columns: read them by name


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (some containers)
        return ""


def _columns(schema_json: str) -> list[Column]:
    return [Column(**c) for c in json.loads(schema_json)]


_COLS = ("name, kind, format, source_uri, content_hash, schema_json, row_count, bytes, "
         "created_at, updated_at, table_version, description, owner, tags_json, primary_key, pinned")
_JOURNAL_COLS = ("id, ts, dataset, entity, field, old_value, new_value, actor, source, reason, "
                 "table_version, rows_added, rows_updated, rows_deleted, job_id")


def _change(before: list[Column], after: list[Column]) -> str:
    """One schema version's change from the one before, in a line."""
    was, now_ = {c.name: c.type for c in before}, {c.name: c.type for c in after}
    parts = [f"+{c} {t}" for c, t in now_.items() if c not in was]
    parts += [f"-{c}" for c in was if c not in now_]
    parts += [f"{c} {was[c]} → {t}" for c, t in now_.items() if c in was and was[c] != t]
    return "; ".join(parts) or "nullability"


def _dataset(row: tuple) -> Dataset:
    (name, kind, fmt, uri, h, schema_json, rows, nbytes, created, updated, version,
     desc, owner, tags, pk, pinned) = row
    return Dataset(name=name, kind=kind, format=fmt, source_uri=uri, content_hash=h,
                   columns=_columns(schema_json), row_count=rows, bytes=nbytes,
                   created_at=created, updated_at=updated, table_version=version,
                   description=desc, owner=owner, tags=json.loads(tags),
                   primary_key=json.loads(pk), pinned=bool(pinned))


class DatasetRows:
    def __init__(self, db: Db, meta: "MetaRows", intents: "IntentRows"):
        self._db, self._meta, self._intents = db, meta, intents

    def all(self) -> list[Dataset]:
        return [_dataset(r) for r in self._db.query(f"SELECT {_COLS} FROM datasets ORDER BY name")]

    def get(self, name: str) -> Dataset | None:
        rows = self._db.query(f"SELECT {_COLS} FROM datasets WHERE name = ?", (name,))
        return _dataset(rows[0]) if rows else None

    def require(self, name: str) -> Dataset:
        """The dataset, or one clear NotFound naming the ones that exist."""
        ds = self.get(name)
        if ds is None:
            from core.errors import NotFound

            known = ", ".join(d.name for d in self.all()) or "none yet"
            raise NotFound(f"no dataset named {name!r} — datasets: {known}")
        return ds

    def snapshot(self) -> tuple[int, list[ViewSpec]]:
        """(generation, what each dataset's view reads), read in one transaction."""
        with self._db.reading():
            gen = self._meta.generation()
            rows = self._db.query("SELECT name, files_json, schema_json, reader, table_version, "
                                  "mixed_schema FROM datasets ORDER BY name")
        return gen, [ViewSpec(n, [f["path"] for f in json.loads(fj)], _columns(sj), r, v, bool(m))
                     for n, fj, sj, r, v, m in rows]

    def files(self, name: str) -> list[dict]:
        rows = self._db.query("SELECT files_json FROM datasets WHERE name = ?", (name,))
        return json.loads(rows[0][0]) if rows else []

    def has_source_size(self, dataset: str, size: int) -> bool:
        return bool(self._db.query(
            "SELECT 1 FROM lineage WHERE dataset = ? AND source_bytes = ? AND active = 1 LIMIT 1",
            (dataset, size)))

    def has_source(self, dataset: str, content_hash: str) -> bool:
        return bool(self._db.query(
            "SELECT 1 FROM lineage WHERE dataset = ? AND content_hash = ? AND active = 1 LIMIT 1",
            (dataset, content_hash)))

    def register_commit(self, *, name: str, kind: str, fmt: str, columns: list[Column],
                        table_version: int, files: list[dict], rows: int, nbytes: int,
                        sources: list[dict], job_id: str, mode: str, reader: str = "files",
                        journal: list[dict] | None = None, primary_key: list[str] | None = None,
                        at: str | None = None) -> None:
        """Point `name` at a new table version and record its lineage and journal events,
        in one commit: the journal never holds a change the catalog does not, nor misses one."""
        at = at or now()
        schema_json = json.dumps([c.__dict__ for c in columns])
        stmts = self._pointer(name, kind, fmt, schema_json, columns, table_version, files, rows, nbytes,
                              sources, mode, reader, primary_key, at)
        for ev in journal or []:
            stmts.append((
                "INSERT INTO journal (ts, dataset, entity, field, old_value, new_value, actor, source, "
                "reason, table_version, rows_added, rows_updated, rows_deleted, job_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (at, name, ev.get("entity"), ev.get("field"), ev.get("old"), ev.get("new"),
                 ev.get("actor") or "", ev["source"], ev.get("reason") or "", table_version,
                 ev.get("added"), ev.get("updated"), ev.get("deleted"), job_id)))
        if mode == "replace":
            stmts.append(("UPDATE lineage SET active = 0 WHERE dataset = ?", (name,)))
        for s in sources:
            stmts.append((
                "INSERT INTO lineage (dataset, source_uri, content_hash, source_bytes, format, mode, "
                "job_id, table_version, rows, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (name, s["uri"], s["sha256"], s["bytes"], s.get("format", fmt), mode, job_id,
                 table_version, s["rows"], at)))
        stmts.extend(self._schema_version(name, schema_json, table_version, at))
        stmts.append(self._intents.clear(name, table_version))
        stmts.append(self._meta.BUMP)
        self._db.transaction(stmts)

    def _pointer(self, name, kind, fmt, schema_json, columns, table_version, files, rows, nbytes,
                 sources, mode, reader, primary_key, at) -> list[Statement]:
        """The statements that insert the dataset's row, or point it at the new version."""
        if self.get(name) is None:
            first = sources[0] if sources else {"uri": "", "sha256": ""}
            return [(
                "INSERT INTO datasets (name, kind, format, source_uri, content_hash, schema_json, "
                "row_count, bytes, table_version, files_json, reader, created_at, updated_at, owner, "
                "primary_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, kind, fmt, first["uri"], first["sha256"], schema_json, rows, nbytes,
                 table_version, json.dumps(files), reader, at, at, _user(), json.dumps(primary_key or [])))]
        stmts: list[Statement] = []
        if sources:  # the dataset's latest source; mutations without a file keep it
            stmts.append(("UPDATE datasets SET format = ?, source_uri = ?, content_hash = ? "
                          "WHERE name = ?", (fmt, sources[0]["uri"], sources[0]["sha256"], name)))
        if primary_key:
            stmts.append(("UPDATE datasets SET primary_key = ? WHERE name = ?",
                          (json.dumps(primary_key), name)))
        stmts.append((
            "UPDATE datasets SET schema_json = ?, row_count = ?, bytes = ?, table_version = ?, "
            "files_json = ?, reader = ?, updated_at = ?, mixed_schema = ? WHERE name = ?",
            (schema_json, rows, nbytes, table_version, json.dumps(files), reader, at,
             self._mixed(name, mode, columns), name)))
        return stmts

    def _mixed(self, name: str, mode: str, columns: list[Column]) -> int:
        """Whether the dataset's live files may differ in columns after this commit:
        a replace rewrites every file; an append that changes the columns mixes them."""
        if mode == "replace":
            return 0
        row = self._db.query("SELECT schema_json, mixed_schema FROM datasets WHERE name = ?", (name,))
        if not row:
            return 0
        changed = [(c["name"], c["type"]) for c in json.loads(row[0][0])] != [(c.name, c.type) for c in columns]
        return 1 if (changed or row[0][1]) else 0

    def _schema_version(self, name: str, schema_json: str, table_version: int, at: str) -> list[Statement]:
        """The statement recording a new schema version, if the schema changed."""
        last = self._db.query("SELECT schema_version, schema_json FROM schema_versions WHERE dataset = ? "
                              "ORDER BY schema_version DESC LIMIT 1", (name,))
        if last and last[0][1] == schema_json:
            return []
        return [("INSERT INTO schema_versions (dataset, schema_version, table_version, schema_json, "
                 "created_at) VALUES (?,?,?,?,?)",
                 (name, (last[0][0] + 1) if last else 1, table_version, schema_json, at))]

    def update_stats(self, name: str, *, columns: list[Column], table_version: int,
                     files: list[dict], rows: int, nbytes: int, reader: str = "files") -> None:
        """Resync: overwrite what the catalog says with what the table says."""
        schema_json = json.dumps([c.__dict__ for c in columns])
        stmts = [(
            "UPDATE datasets SET schema_json = ?, row_count = ?, bytes = ?, table_version = ?, "
            "files_json = ?, reader = ?, updated_at = ?, mixed_schema = ? WHERE name = ?",
            (schema_json, rows, nbytes, table_version, json.dumps(files), reader, now(),
             self._mixed(name, "append", columns), name))]
        stmts.extend(self._schema_version(name, schema_json, table_version, now()))
        stmts.append(self._intents.clear(name, table_version))
        stmts.append(self._meta.BUMP)
        self._db.transaction(stmts)

    def annotate(self, name: str, description: str | None, owner: str | None,
                 tags: list[str] | None) -> None:
        """Set what is given (None leaves a field as it is); tags trimmed, deduplicated, sorted."""
        if tags is not None:
            tags = sorted({t.strip() for t in tags if t.strip()})
        sets, args = [], []
        for col, val in (("description", description), ("owner", owner),
                         ("tags_json", json.dumps(tags) if tags is not None else None)):
            if val is not None:
                sets.append(f"{col} = ?")
                args.append(val)
        if sets:
            self._db.transaction([(f"UPDATE datasets SET {', '.join(sets)}, updated_at = ? WHERE name = ?",
                                   (*args, now(), name)), self._meta.BUMP])

    def lineage(self, name: str) -> list[LineageEntry]:
        rows = self._db.query("SELECT source_uri, content_hash, source_bytes, format, mode, job_id, "
                              "table_version, rows, created_at, active FROM lineage WHERE dataset = ? "
                              "ORDER BY id", (name,))
        return [LineageEntry(*r[:9], active=bool(r[9])) for r in rows]

    def schema_versions(self, name: str) -> list[SchemaVersion]:
        rows = self._db.query("SELECT schema_version, table_version, schema_json, created_at FROM "
                              "schema_versions WHERE dataset = ? ORDER BY schema_version", (name,))
        out: list[SchemaVersion] = []
        for v, tv, sj, at in rows:
            cols = _columns(sj)
            out.append(SchemaVersion(v, tv, cols, at, _change(out[-1].columns, cols) if out else "created"))
        return out

    def pinned(self) -> set[str]:
        return {r[0] for r in self._db.query("SELECT name FROM datasets WHERE pinned = 1")}

    def set_pinned(self, name: str, pinned: bool) -> None:
        self._db.transaction([("UPDATE datasets SET pinned = ? WHERE name = ?", (int(pinned), name)),
                              self._meta.BUMP])

    def journal(self, dataset: str, entity: str | None = None) -> list[dict]:
        sql = f"SELECT {_JOURNAL_COLS} FROM journal WHERE dataset = ?"
        args: list[Any] = [dataset]
        if entity is not None:
            sql += " AND entity = ?"
            args.append(entity)
        return self._db.dicts(sql + " ORDER BY id", args)
