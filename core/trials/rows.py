"""The trials area's rows: `eval_sets` (one per eval set: what it was made against) and
`trials` (one row per measured point of a trial — its settings, eval set, dataset
version, embedder, machine and figures at one ef_search; a trial that failed or was
cancelled is one row without figures), which is the `_trials` system table; `retrials` (one
per index with a re-trial scheduled by a refresh and not yet run)."""

from __future__ import annotations

import sqlite3

from core.storage.db import Db, now
from core.storage.migrations import Migrations

migrations = Migrations("trials")


@migrations
def m001_eval_sets_trials(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS eval_sets (
    index_name TEXT NOT NULL,
    name TEXT NOT NULL,
    generation INTEGER NOT NULL,     -- the generation its truth was computed on
    dataset_version INTEGER NOT NULL,
    embedder TEXT NOT NULL,          -- provider: hashing | ollama
    model TEXT NOT NULL,
    k INTEGER NOT NULL,
    queries INTEGER NOT NULL,
    source TEXT NOT NULL,            -- held-out | file (perturbed: an early method, refused as stale)
    created_at TEXT NOT NULL,
    profile TEXT NOT NULL,
    PRIMARY KEY (index_name, name)
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    trial_id TEXT NOT NULL,
    index_name TEXT NOT NULL,
    generation INTEGER NOT NULL,     -- the generation whose vectors it was built from
    eval_set TEXT NOT NULL,
    k INTEGER NOT NULL,
    m INTEGER NOT NULL,
    ef_construction INTEGER NOT NULL,
    ef_search INTEGER,               -- NULL on a failed or cancelled trial's row
    recall REAL,
    p50_us REAL,
    p95_us REAL,
    p99_us REAL,
    build_s REAL,
    index_bytes INTEGER,
    peak_mem_bytes INTEGER,
    dataset_version INTEGER NOT NULL,
    embedder TEXT NOT NULL,
    model TEXT NOT NULL,
    machine TEXT NOT NULL,
    profile TEXT NOT NULL,
    status TEXT NOT NULL,            -- ok | failed | cancelled
    error TEXT NOT NULL DEFAULT '',
    job_id TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    promoted_generation INTEGER      -- the generation `trial promote` made of it
)""")
    db.execute("CREATE INDEX IF NOT EXISTS trials_by_index ON trials (index_name, trial_id)")


@migrations
def m002_graphs_retrials(db: sqlite3.Connection) -> None:
    # graph_removed: its graph went (graphs.prune), so it cannot be promoted; origin: the job
    # kind that ran it (trial | autotune | retrial); retrials: re-trials scheduled by a refresh
    db.execute("ALTER TABLE trials ADD COLUMN graph_removed INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE trials ADD COLUMN origin TEXT NOT NULL DEFAULT 'trial'")
    db.execute("""CREATE TABLE IF NOT EXISTS retrials (
    index_name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,     -- the refreshed generation whose settings it re-measures
    dataset_version INTEGER NOT NULL,
    requested_at TEXT NOT NULL
)""")


class TrialRows:
    def __init__(self, db: Db):
        self._db = db

    # -- eval sets ----------------------------------------------------------------------
    def add_eval(self, row: dict) -> None:
        row = dict(row, created_at=row.get("created_at") or now())
        self._db.execute(f"INSERT OR REPLACE INTO eval_sets ({', '.join(row)}) "
                         f"VALUES ({', '.join('?' * len(row))})", row.values())

    def eval(self, index: str, name: str) -> dict | None:
        rows = self._db.dicts("SELECT * FROM eval_sets WHERE index_name = ? AND name = ?", (index, name))
        return rows[0] if rows else None

    def evals(self, index: str) -> list[dict]:
        return self._db.dicts("SELECT * FROM eval_sets WHERE index_name = ? ORDER BY created_at, name", (index,))

    # -- trials -------------------------------------------------------------------------
    def add_points(self, rows: list[dict]) -> None:
        """A trial's rows, in one transaction: all of its points or none."""
        stmts = [(f"INSERT INTO trials ({', '.join(r)}) VALUES ({', '.join('?' * len(r))})", tuple(r.values()))
                 for r in rows]
        self._db.transaction(stmts)

    def points(self, trial_id: str) -> list[dict]:
        return self._db.dicts("SELECT * FROM trials WHERE trial_id = ? ORDER BY ef_search", (trial_id,))

    def of_index(self, index: str) -> list[dict]:
        return self._db.dicts("SELECT * FROM trials WHERE index_name = ? ORDER BY id", (index,))

    def set_promoted(self, trial_id: str, gen: int) -> None:
        self._db.execute("UPDATE trials SET promoted_generation = ? WHERE trial_id = ?", (gen, trial_id))

    def set_graph_removed(self, trial_ids: list[str]) -> None:
        self._db.transaction([("UPDATE trials SET graph_removed = 1 WHERE trial_id = ?", (t,)) for t in trial_ids])

    def forget_index(self, index: str) -> None:
        """A dropped index takes its eval sets, trials and pending re-trial with it (their
        files went with its directory; the drop itself stays in `_index_events` and the
        audit), so an index made again under the name starts with none."""
        self._db.transaction([(f"DELETE FROM {table} WHERE index_name = ?", (index,))
                              for table in ("eval_sets", "trials", "retrials")])

    # -- re-trials scheduled by a refresh (core/trials/retrial.py) ----------------------
    def schedule_retrial(self, index: str, generation: int, dataset_version: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO retrials VALUES (?, ?, ?, ?)",
                         (index, generation, dataset_version, now()))

    def retrial(self, index: str) -> dict | None:
        rows = self._db.dicts("SELECT * FROM retrials WHERE index_name = ?", (index,))
        return rows[0] if rows else None

    def clear_retrial(self, index: str) -> None:
        self._db.execute("DELETE FROM retrials WHERE index_name = ?", (index,))
