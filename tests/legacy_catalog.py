"""A fixture: the catalog schema as the code before named migrations made it — SCHEMA_SQL
(always the then-current schema) and the integer MIGRATIONS (PRAGMA user_version holds how
many were applied; a catalog it made has user_version = len(MIGRATIONS)). Copied verbatim
from core/storage/catalog.py as it stood then; the upgrade tests build old catalogs from it."""

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
