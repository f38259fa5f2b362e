"""The catalog: SQLite (WAL), the sole metadata authority. Pointers only, never data.

A dataset row points at a Delta table version and the data files that make it up,
so readers build their views without touching the Delta log. Every change to
datasets bumps `generation`, which readers compare to know when to rebuild.
"""

from __future__ import annotations

import json
import sqlite3
import getpass
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from core.models import Column, Dataset, ErrorEvent, JobInfo, LineageEntry, SchemaVersion

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
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
);
CREATE TABLE IF NOT EXISTS schema_versions (
    dataset TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    table_version INTEGER NOT NULL,
    schema_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset, schema_version)
);
CREATE TABLE IF NOT EXISTS lineage (
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
);
CREATE INDEX IF NOT EXISTS lineage_by_hash ON lineage (dataset, content_hash);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    done REAL NOT NULL DEFAULT 0,
    total REAL,
    unit TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    params TEXT,               -- the facade call that started it, JSON (retry makes it again)
    profile TEXT NOT NULL DEFAULT '',  -- the profile that started it ('': before this was recorded)
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS journal (
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
);
CREATE INDEX IF NOT EXISTS journal_by_entity ON journal (dataset, entity);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    operation TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    job_id TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS indexes (
    name TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    column_name TEXT NOT NULL,
    key_json TEXT NOT NULL,          -- JSON list of the columns that identify a source row
    active_gen INTEGER,              -- the generation searches use (NULL: none yet)
    history_json TEXT NOT NULL DEFAULT '[]',  -- previously active generations, for rollback
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS index_generations (
    index_name TEXT NOT NULL,
    gen INTEGER NOT NULL,
    status TEXT NOT NULL,            -- building | ready
    kind TEXT NOT NULL,              -- hnsw | exact
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    digest TEXT NOT NULL,
    dim INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    overlap INTEGER NOT NULL,
    m INTEGER NOT NULL,
    ef_construction INTEGER NOT NULL,
    ef_search INTEGER NOT NULL,
    dataset_version INTEGER NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    embedded INTEGER NOT NULL DEFAULT 0,
    reused INTEGER NOT NULL DEFAULT 0,
    split_inputs INTEGER NOT NULL DEFAULT 0,
    build_seconds REAL NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    base_gen INTEGER,
    job_id TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (index_name, gen)
);
CREATE TABLE IF NOT EXISTS index_events (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    index_name TEXT NOT NULL,
    action TEXT NOT NULL,            -- build | promote | rollback | drop | rebuild
    from_gen INTEGER,
    to_gen INTEGER,
    actor TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS asks (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    question TEXT NOT NULL,
    mode TEXT NOT NULL,              -- sql | rag | hybrid
    reason TEXT NOT NULL DEFAULT '', -- why this mode (auto routing)
    sql TEXT NOT NULL DEFAULT '',
    row_count INTEGER,
    citations_json TEXT NOT NULL DEFAULT '[]',
    answer TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    timings_json TEXT NOT NULL DEFAULT '{}',
    outcome TEXT NOT NULL,           -- answered | not_in_data | failed
    error TEXT NOT NULL DEFAULT '',
    profile TEXT NOT NULL DEFAULT 'default',
    accepted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    profile TEXT NOT NULL,
    action TEXT NOT NULL,            -- sql | search | ask | embed | update | delete | restore | ingest | activate ...
    datasets TEXT NOT NULL DEFAULT '',  -- comma-separated datasets (or indexes) touched
    statement TEXT NOT NULL DEFAULT '', -- the SQL, query text or question
    row_count INTEGER,
    duration_ms REAL,
    outcome TEXT NOT NULL,           -- ok | refused | failed
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_by_profile ON audit (profile, ts);
CREATE TABLE IF NOT EXISTS commit_intents (  -- a Delta commit lakehouse is about to make
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,        -- the table version the commit will create
    operation TEXT NOT NULL,         -- its Delta operation (WRITE, MERGE, SET TBLPROPERTIES, ...)
    meta_sha256 TEXT NOT NULL,       -- sha256 of its lakehouse commit metadata ('' when none)
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
"""

# Schema changes after the first release, applied in order to older catalogs
# (PRAGMA user_version holds how many have been applied). SCHEMA_SQL is always current.
MIGRATIONS: list[str] = [
    "ALTER TABLE datasets ADD COLUMN reader TEXT NOT NULL DEFAULT 'files'",
    "ALTER TABLE datasets ADD COLUMN mixed_schema INTEGER NOT NULL DEFAULT 1",  # unknown: assume mixed
    "ALTER TABLE datasets ADD COLUMN primary_key TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE datasets ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE asks ADD COLUMN profile TEXT NOT NULL DEFAULT 'default'",
    "ALTER TABLE jobs ADD COLUMN params TEXT",  # NULL: a job from before retries were recorded
    "ALTER TABLE jobs ADD COLUMN profile TEXT NOT NULL DEFAULT ''",  # '': started before owners were recorded
]


@dataclass
class ViewSpec:
    name: str
    files: list[str]  # relative to the table directory
    columns: list[Column]
    reader: str  # 'files' | 'delta'
    version: int
    mixed_schema: bool  # data files differ in columns: read them by name


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (some containers)
        return ""


def _columns(schema_json: str) -> list[Column]:
    return [Column(**c) for c in json.loads(schema_json)]


class Catalog:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._migrate()

    def _migrate(self) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        fresh = not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'datasets'").fetchone()
        db.executescript(SCHEMA_SQL)
        if fresh:
            version = len(MIGRATIONS)
        for sql in MIGRATIONS[version:]:
            try:
                db.execute(sql)
            except sqlite3.OperationalError as e:
                if "duplicate column" not in str(e):
                    raise
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing ---------------------------------------------------------
    def _q(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _tx(self, statements: list[tuple[str, tuple]]) -> None:
        """Run statements in one transaction: all or nothing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    _BUMP = ("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'", ())

    def generation(self) -> int:
        return int(self._q("SELECT value FROM meta WHERE key = 'generation'")[0][0])

    # -- datasets ---------------------------------------------------------
    _DS_COLS = ("name, kind, format, source_uri, content_hash, schema_json, row_count, bytes, "
                "created_at, updated_at, table_version, description, owner, tags_json, primary_key, pinned")

    def _dataset(self, row: tuple) -> Dataset:
        (name, kind, fmt, uri, h, schema_json, rows, nbytes, created, updated, version,
         desc, owner, tags, pk, pinned) = row
        return Dataset(name=name, kind=kind, format=fmt, source_uri=uri, content_hash=h,
                       columns=_columns(schema_json), row_count=rows, bytes=nbytes,
                       created_at=created, updated_at=updated, table_version=version,
                       description=desc, owner=owner, tags=json.loads(tags),
                       primary_key=json.loads(pk), pinned=bool(pinned))

    def datasets(self) -> list[Dataset]:
        return [self._dataset(r) for r in self._q(f"SELECT {self._DS_COLS} FROM datasets ORDER BY name")]

    def get(self, name: str) -> Dataset | None:
        rows = self._q(f"SELECT {self._DS_COLS} FROM datasets WHERE name = ?", (name,))
        return self._dataset(rows[0]) if rows else None

    def require(self, name: str) -> Dataset:
        """The dataset, or one clear NotFound naming the ones that exist."""
        ds = self.get(name)
        if ds is None:
            from core.errors import NotFound

            known = ", ".join(d.name for d in self.datasets()) or "none yet"
            raise NotFound(f"no dataset named {name!r} — datasets: {known}")
        return ds

    def snapshot(self) -> tuple[int, list[ViewSpec]]:
        """(generation, what each dataset's view reads), read in one transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                gen = self.generation()
                rows = self._db.execute("SELECT name, files_json, schema_json, reader, table_version, "
                                        "mixed_schema FROM datasets ORDER BY name").fetchall()
            finally:
                self._db.execute("COMMIT")
        return gen, [ViewSpec(n, [f["path"] for f in json.loads(fj)], _columns(sj), r, v, bool(m))
                     for n, fj, sj, r, v, m in rows]

    def files(self, name: str) -> list[dict]:
        rows = self._q("SELECT files_json FROM datasets WHERE name = ?", (name,))
        return json.loads(rows[0][0]) if rows else []

    def has_source_size(self, dataset: str, size: int) -> bool:
        return bool(self._q(
            "SELECT 1 FROM lineage WHERE dataset = ? AND source_bytes = ? AND active = 1 LIMIT 1",
            (dataset, size)))

    def has_source(self, dataset: str, content_hash: str) -> bool:
        return bool(self._q(
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
        existing = self.get(name)
        stmts: list[tuple[str, tuple]] = []
        if existing is None:
            first = sources[0] if sources else {"uri": "", "sha256": ""}
            stmts.append((
                "INSERT INTO datasets (name, kind, format, source_uri, content_hash, schema_json, "
                "row_count, bytes, table_version, files_json, reader, created_at, updated_at, owner, "
                "primary_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, kind, fmt, first["uri"], first["sha256"], schema_json, rows, nbytes,
                 table_version, json.dumps(files), reader, at, at, _user(), json.dumps(primary_key or []))))
        else:
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
        stmts.append(self._clear_intents(name, table_version))
        stmts.append(self._BUMP)
        self._tx(stmts)

    def _mixed(self, name: str, mode: str, columns: list[Column]) -> int:
        """Whether the dataset's live files may differ in columns after this commit:
        a replace rewrites every file; an append that changes the columns mixes them."""
        if mode == "replace":
            return 0
        row = self._q("SELECT schema_json, mixed_schema FROM datasets WHERE name = ?", (name,))
        if not row:
            return 0
        changed = [(c["name"], c["type"]) for c in json.loads(row[0][0])] != [(c.name, c.type) for c in columns]
        return 1 if (changed or row[0][1]) else 0

    def _schema_version(self, name: str, schema_json: str, table_version: int, at: str) -> list:
        """The statement recording a new schema version, if the schema changed."""
        last = self._q("SELECT schema_version, schema_json FROM schema_versions WHERE dataset = ? "
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
        stmts.append(self._clear_intents(name, table_version))
        stmts.append(self._BUMP)
        self._tx(stmts)

    # -- commit intents: recovery rolls forward only the Delta commits recorded here -----
    @staticmethod
    def _clear_intents(name: str, upto: int) -> tuple[str, tuple]:
        return ("DELETE FROM commit_intents WHERE dataset = ? AND version <= ?", (name, upto))

    def intend_commits(self, name: str, first: int, commits: list[tuple[str, str]]) -> None:
        """Record, before making them, the commits [(operation, meta sha256)] that will
        create versions first, first+1, ... of `name` (older intents for those versions,
        e.g. of a dropped table, are replaced)."""
        stmts = [("DELETE FROM commit_intents WHERE dataset = ? AND version >= ?", (name, first))]
        stmts += [("INSERT INTO commit_intents (dataset, version, operation, meta_sha256, created_at) "
                   "VALUES (?,?,?,?,?)", (name, first + i, op, sha, now()))
                  for i, (op, sha) in enumerate(commits)]
        self._tx(stmts)

    def commit_intents(self, name: str) -> dict[int, tuple[str, str]]:
        """{version: (operation, meta sha256)} of the commits lakehouse meant to make."""
        return {v: (op, sha) for v, op, sha in self._q(
            "SELECT version, operation, meta_sha256 FROM commit_intents WHERE dataset = ?", (name,))}

    def drop_intents(self, name: str, above: int = -1) -> None:
        """Forget intents for versions above `above` (commits that were never made)."""
        self._q("DELETE FROM commit_intents WHERE dataset = ? AND version > ?", (name, above))

    def has_error(self, operation: str, dataset: str, detail: str) -> bool:
        return bool(self._q("SELECT 1 FROM errors WHERE operation = ? AND dataset = ? AND detail = ? "
                            "LIMIT 1", (operation, dataset, detail)))

    def annotate(self, name: str, description: str | None, owner: str | None,
                 tags: list[str] | None) -> None:
        sets, args = [], []
        for col, val in (("description", description), ("owner", owner),
                         ("tags_json", json.dumps(tags) if tags is not None else None)):
            if val is not None:
                sets.append(f"{col} = ?")
                args.append(val)
        if sets:
            self._tx([(f"UPDATE datasets SET {', '.join(sets)}, updated_at = ? WHERE name = ?",
                       (*args, now(), name)), self._BUMP])

    def lineage(self, name: str) -> list[LineageEntry]:
        rows = self._q("SELECT source_uri, content_hash, source_bytes, format, mode, job_id, "
                       "table_version, rows, created_at, active FROM lineage WHERE dataset = ? "
                       "ORDER BY id", (name,))
        return [LineageEntry(*r[:9], active=bool(r[9])) for r in rows]

    def schema_versions(self, name: str) -> list[SchemaVersion]:
        rows = self._q("SELECT schema_version, table_version, schema_json, created_at FROM "
                       "schema_versions WHERE dataset = ? ORDER BY schema_version", (name,))
        return [SchemaVersion(v, tv, _columns(sj), at) for v, tv, sj, at in rows]

    # -- jobs ---------------------------------------------------------------
    _JOB_COLS = "id, kind, target, status, started_at, finished_at, done, total, unit, message, pid"

    def add_job(self, job_id: str, kind: str, target: str, pid: int, params: str | None = None,
                profile: str = "") -> None:
        self._q("INSERT INTO jobs (id, kind, target, status, pid, started_at, params, profile) "
                "VALUES (?,?,?,?,?,?,?,?)", (job_id, kind, target, "running", pid, now(), params, profile))

    def job_profile(self, job_id: str) -> str:
        """The profile that started a job ('' when unknown)."""
        rows = self._q("SELECT profile FROM jobs WHERE id = ?", (job_id,))
        return rows[0][0] if rows else ""

    def job_params(self, job_id: str) -> str | None:
        """The facade call that started a job (JSON), or None when none was recorded."""
        rows = self._q("SELECT params FROM jobs WHERE id = ?", (job_id,))
        return rows[0][0] if rows else None

    def update_job(self, job_id: str, done: float, total: float | None, unit: str, message: str) -> bool:
        """Record progress; return True when a cancel was requested (from any process)."""
        with self._lock:
            self._db.execute("UPDATE jobs SET done = ?, total = ?, unit = ?, message = ? WHERE id = ?",
                             (done, total, unit, message, job_id))
            row = self._db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def finish_job(self, job_id: str, status: str, message: str) -> None:
        self._q("UPDATE jobs SET status = ?, message = ?, finished_at = ? WHERE id = ?",
                (status, message, now(), job_id))

    def request_cancel(self, job_id: str) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (job_id,))
        return cur.rowcount > 0

    def jobs(self, limit: int = 50) -> list[JobInfo]:
        rows = self._q(f"SELECT {self._JOB_COLS} FROM jobs ORDER BY started_at DESC, rowid DESC LIMIT ?",
                       (limit,))
        return [JobInfo(*r) for r in rows]

    def job(self, job_id: str) -> JobInfo | None:
        rows = self._q(f"SELECT {self._JOB_COLS} FROM jobs WHERE id = ?", (job_id,))
        return JobInfo(*rows[0]) if rows else None

    def mark_interrupted(self, job_ids: list[str]) -> None:
        for jid in job_ids:
            self._q("UPDATE jobs SET status = 'interrupted', finished_at = ?, "
                    "message = 'the process running this job ended before it finished' "
                    "WHERE id = ? AND status = 'running'", (now(), jid))

    def prune_jobs(self, keep: int) -> None:
        self._q("DELETE FROM jobs WHERE status != 'running' AND id NOT IN "
                "(SELECT id FROM jobs ORDER BY started_at DESC LIMIT ?)", (keep,))

    # -- errors -------------------------------------------------------------
    def add_error(self, operation: str, message: str, *, dataset: str = "", detail: str = "",
                  job_id: str = "") -> None:
        self._q("INSERT INTO errors (ts, operation, dataset, message, detail, job_id) "
                "VALUES (?,?,?,?,?,?)", (now(), operation, dataset, message, detail, job_id))

    def errors(self, since: str | None = None, limit: int | None = None) -> list[ErrorEvent]:
        sql = "SELECT id, ts, operation, dataset, message, detail, job_id FROM errors"
        args: list[Any] = []
        if since:
            sql += " WHERE ts >= ?"
            args.append(since)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [ErrorEvent(*r) for r in self._q(sql, args)]

    # -- pins, keys, journal ---------------------------------------------------------
    def pinned(self) -> set[str]:
        return {r[0] for r in self._q("SELECT name FROM datasets WHERE pinned = 1")}

    def set_pinned(self, name: str, pinned: bool) -> None:
        self._tx([("UPDATE datasets SET pinned = ? WHERE name = ?", (int(pinned), name)), self._BUMP])

    _JOURNAL_COLS = ("id, ts, dataset, entity, field, old_value, new_value, actor, source, reason, "
                     "table_version, rows_added, rows_updated, rows_deleted, job_id")

    def journal(self, dataset: str, entity: str | None = None) -> list[dict]:
        sql = f"SELECT {self._JOURNAL_COLS} FROM journal WHERE dataset = ?"
        args: list[Any] = [dataset]
        if entity is not None:
            sql += " AND entity = ?"
            args.append(entity)
        with self._lock:
            cur = self._db.execute(sql + " ORDER BY id", args)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    # -- vector indexes ------------------------------------------------------------------
    def _dicts(self, sql: str, args: Iterable[Any] = ()) -> list[dict]:
        with self._lock:
            cur = self._db.execute(sql, tuple(args))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def index(self, name: str) -> dict | None:
        rows = self._dicts("SELECT * FROM indexes WHERE name = ?", (name,))
        if not rows:
            return None
        row = rows[0]
        row["key"] = json.loads(row.pop("key_json"))
        row["history"] = json.loads(row.pop("history_json"))
        return row

    def indexes(self) -> list[dict]:
        return [self.index(r[0]) for r in self._q("SELECT name FROM indexes ORDER BY name")]

    def create_index(self, name: str, dataset: str, column: str, key: list[str]) -> None:
        t = now()
        self._q("INSERT OR IGNORE INTO indexes (name, dataset, column_name, key_json, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (name, dataset, column, json.dumps(key), t, t))

    def generations(self, name: str) -> list[dict]:
        return self._dicts("SELECT * FROM index_generations WHERE index_name = ? ORDER BY gen", (name,))

    def index_generation(self, name: str, gen: int) -> dict | None:
        rows = self._dicts("SELECT * FROM index_generations WHERE index_name = ? AND gen = ?", (name, gen))
        return rows[0] if rows else None

    def add_generation(self, fields: dict) -> None:
        fields = dict(fields, created_at=now(), status="building")
        cols = ", ".join(fields)
        self._q(f"INSERT INTO index_generations ({cols}) VALUES ({', '.join('?' * len(fields))})",
                fields.values())

    def update_generation(self, name: str, gen: int, **fields) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._q(f"UPDATE index_generations SET {sets} WHERE index_name = ? AND gen = ?",
                [*fields.values(), name, gen])

    def finish_generation(self, name: str, gen: int, fields: dict, activate: bool, actor: str,
                          detail: str) -> None:
        """Mark a build ready and (optionally) make it active — one transaction."""
        t = now()
        sets = ", ".join(f"{k} = ?" for k in fields)
        stmts = [(f"UPDATE index_generations SET {sets}, status = 'ready', finished_at = ? "
                  "WHERE index_name = ? AND gen = ?", (*fields.values(), t, name, gen)),
                 ("INSERT INTO index_events (ts, index_name, action, from_gen, to_gen, actor, detail) "
                  "VALUES (?, ?, 'build', NULL, ?, ?, ?)", (t, name, gen, actor, detail))]
        if activate:
            stmts += self._activate_stmts(name, gen, "promote", actor, "after its build", t)
        self._tx(stmts)

    def _activate_stmts(self, name: str, gen: int, action: str, actor: str, detail: str, t: str,
                        history: list[int] | None = None) -> list:
        idx = self.index(name)
        prev = idx["active_gen"]
        if history is None:
            history = idx["history"] + ([prev] if prev is not None and prev != gen else [])
        return [("UPDATE indexes SET active_gen = ?, history_json = ?, updated_at = ? WHERE name = ?",
                 (gen, json.dumps(history[-50:]), t, name)),
                ("INSERT INTO index_events (ts, index_name, action, from_gen, to_gen, actor, detail) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (t, name, action, prev, gen, actor, detail))]

    def activate(self, name: str, gen: int, action: str, actor: str, detail: str = "",
                 history: list[int] | None = None) -> None:
        """The atomic pointer swap behind promote and rollback."""
        self._tx(self._activate_stmts(name, gen, action, actor, detail, now(), history))

    def drop_generation(self, name: str, gen: int, actor: str, event: bool = True) -> None:
        """Forget a generation (event=False: a build that turned out to be unneeded)."""
        idx = self.index(name)
        history = [g for g in idx["history"] if g != gen] if idx else []
        t = now()
        stmts = [("DELETE FROM index_generations WHERE index_name = ? AND gen = ?", (name, gen)),
                 ("UPDATE indexes SET history_json = ?, updated_at = ? WHERE name = ?",
                  (json.dumps(history), t, name))]
        if event:
            stmts.append(("INSERT INTO index_events (ts, index_name, action, from_gen, to_gen, actor) "
                          "VALUES (?, ?, 'drop', ?, NULL, ?)", (t, name, gen, actor)))
        self._tx(stmts)

    def drop_index(self, name: str, actor: str) -> None:
        t = now()
        self._tx([("DELETE FROM index_generations WHERE index_name = ?", (name,)),
                  ("DELETE FROM indexes WHERE name = ?", (name,)),
                  ("INSERT INTO index_events (ts, index_name, action, actor, detail) "
                   "VALUES (?, ?, 'drop', ?, 'the whole index')", (t, name, actor))])

    def log_rebuild(self, name: str, gen: int) -> None:
        """Record that a generation's sidecars were re-derived; its rows do not change."""
        self._tx([("INSERT INTO index_events (ts, index_name, action, from_gen, to_gen, actor) "
                   "VALUES (?, ?, 'rebuild', ?, ?, '')", (now(), name, gen, gen))])

    def index_events(self, name: str) -> list[dict]:
        return self._dicts("SELECT * FROM index_events WHERE index_name = ? ORDER BY id", (name,))

    # -- meta, audit ---------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        rows = self._q("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._q("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value))

    def add_audit(self, rows: list[tuple]) -> None:
        """Append audit entries in one transaction (the audit log's batched flush)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO audit (ts, profile, action, datasets, statement, row_count, duration_ms, "
                    "outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def audit(self, profile: str | None = None, since: str | None = None, limit: int = 200) -> list[dict]:
        sql, args = "SELECT * FROM audit WHERE 1 = 1", []
        if profile:
            sql += " AND profile = ?"
            args.append(profile)
        if since:
            sql += " AND ts >= ?"
            args.append(since)
        return self._dicts(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))

    # -- asks ------------------------------------------------------------------------------
    def add_ask(self, row: dict) -> None:
        self._q(f"INSERT INTO asks ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", row.values())

    def ask(self, ask_id: str) -> dict | None:
        rows = self._dicts("SELECT * FROM asks WHERE id = ?", (ask_id,))
        return rows[0] if rows else None

    def accept_ask(self, ask_id: str) -> None:
        self._q("UPDATE asks SET accepted = 1 WHERE id = ?", (ask_id,))

    def accepted_asks(self) -> list[dict]:
        return self._dicts("SELECT id, question, sql FROM asks WHERE accepted = 1 AND sql != '' ORDER BY ts DESC")

    # -- system tables ---------------------------------------------------------------
    _SYSTEM = {"_errors": "errors", "_jobs": "jobs", "_journal": "journal", "_index_events": "index_events", "_asks": "asks", "_audit": "audit"}
    _TIMESTAMPS = ("ts", "started_at", "finished_at", "created_at", "updated_at")

    def system_table(self, name: str):
        """A system table (_datasets, _jobs, _errors, _journal) as a pyarrow.Table."""
        import pyarrow as pa

        if name == "_indexes":
            sql = ("SELECT g.index_name AS index_name, g.gen, g.status, COALESCE(i.active_gen = g.gen, false) "
                   "AS active, i.dataset, i.column_name, g.kind, g.provider, g.model, g.digest, g.dim, "
                   "g.chunk_size, g.overlap, g.m, g.ef_construction, g.ef_search, g.dataset_version, "
                   "g.rows, g.chunks, g.embedded, g.reused, g.build_seconds, g.bytes, g.created_at, "
                   "g.finished_at FROM index_generations g JOIN indexes i ON i.name = g.index_name "
                   "ORDER BY g.index_name, g.gen")
        elif name == "_datasets":
            sql = ("SELECT name, kind, format, source_uri, content_hash, row_count, bytes, table_version, "
                   "primary_key, pinned, description, owner, tags_json AS tags, created_at, updated_at "
                   "FROM datasets ORDER BY name")
        else:
            sql = f"SELECT * FROM {self._SYSTEM[name]} ORDER BY rowid"
        with self._lock:
            cur = self._db.execute(sql)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        ts = pa.timestamp("ms", tz="UTC")
        arrays = []
        for i, n in enumerate(names):
            values = [r[i] for r in rows]
            if n in self._TIMESTAMPS:
                arrays.append(pa.array(values, pa.string()).cast(ts))
            elif n in ("pinned", "active"):
                arrays.append(pa.array([bool(v) for v in values], pa.bool_()))
            else:
                arrays.append(pa.array(values) if rows else pa.array([], pa.string()))
        return pa.table(arrays, names=names)
