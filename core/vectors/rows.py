"""The vectors area's rows: `indexes` (which generation searches use, and the ones
before it), `index_generations` (each build's settings and figures) and
`index_events` (builds, promotions, rollbacks, drops)."""

from __future__ import annotations

import json
import sqlite3

from core.storage.db import Db, Statement, now
from core.storage.migrations import Migrations

migrations = Migrations("vectors")


@migrations
def m001_indexes_generations_events(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS indexes (
    name TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    column_name TEXT NOT NULL,
    key_json TEXT NOT NULL,          -- JSON list of the columns that identify a source row
    active_gen INTEGER,              -- the generation searches use (NULL: none yet)
    history_json TEXT NOT NULL DEFAULT '[]',  -- previously active generations, for rollback
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS index_generations (
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
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS index_events (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    index_name TEXT NOT NULL,
    action TEXT NOT NULL,            -- build | promote | rollback | drop | rebuild
    from_gen INTEGER,
    to_gen INTEGER,
    actor TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
)""")


@migrations
def m002_auto_refresh(db: sqlite3.Connection) -> None:
    # 1: an ingest that changes the dataset re-embeds the changed chunks into a new live generation
    db.execute("ALTER TABLE indexes ADD COLUMN auto_refresh INTEGER NOT NULL DEFAULT 1")


class IndexRows:
    def __init__(self, db: Db):
        self._db = db

    def get(self, name: str) -> dict | None:
        rows = self._db.dicts("SELECT * FROM indexes WHERE name = ?", (name,))
        if not rows:
            return None
        row = rows[0]
        row["key"] = json.loads(row.pop("key_json"))
        row["history"] = json.loads(row.pop("history_json"))
        return row

    def all(self) -> list[dict]:
        return [self.get(r[0]) for r in self._db.query("SELECT name FROM indexes ORDER BY name")]

    def create(self, name: str, dataset: str, column: str, key: list[str]) -> None:
        t = now()
        self._db.execute("INSERT OR IGNORE INTO indexes (name, dataset, column_name, key_json, created_at, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?)", (name, dataset, column, json.dumps(key), t, t))

    def set_auto_refresh(self, name: str, on: bool) -> None:
        self._db.execute("UPDATE indexes SET auto_refresh = ?, updated_at = ? WHERE name = ?",
                         (int(bool(on)), now(), name))

    def generations(self, name: str) -> list[dict]:
        return self._db.dicts("SELECT * FROM index_generations WHERE index_name = ? ORDER BY gen", (name,))

    def generation(self, name: str, gen: int) -> dict | None:
        rows = self._db.dicts("SELECT * FROM index_generations WHERE index_name = ? AND gen = ?", (name, gen))
        return rows[0] if rows else None

    def add_generation(self, fields: dict) -> None:
        fields = dict(fields, created_at=now(), status="building")
        cols = ", ".join(fields)
        self._db.execute(f"INSERT INTO index_generations ({cols}) VALUES ({', '.join('?' * len(fields))})",
                         fields.values())

    def update_generation(self, name: str, gen: int, **fields) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._db.execute(f"UPDATE index_generations SET {sets} WHERE index_name = ? AND gen = ?",
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
        self._db.transaction(stmts)

    def _activate_stmts(self, name: str, gen: int, action: str, actor: str, detail: str, t: str,
                        history: list[int] | None = None) -> list[Statement]:
        idx = self.get(name)
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
        self._db.transaction(self._activate_stmts(name, gen, action, actor, detail, now(), history))

    def drop_generation(self, name: str, gen: int, actor: str, event: bool = True) -> None:
        """Forget a generation (event=False: a build that turned out to be unneeded)."""
        idx = self.get(name)
        history = [g for g in idx["history"] if g != gen] if idx else []
        t = now()
        stmts = [("DELETE FROM index_generations WHERE index_name = ? AND gen = ?", (name, gen)),
                 ("UPDATE indexes SET history_json = ?, updated_at = ? WHERE name = ?",
                  (json.dumps(history), t, name))]
        if event:
            stmts.append(("INSERT INTO index_events (ts, index_name, action, from_gen, to_gen, actor) "
                          "VALUES (?, ?, 'drop', ?, NULL, ?)", (t, name, gen, actor)))
        self._db.transaction(stmts)

    def drop(self, name: str, actor: str) -> None:
        t = now()
        self._db.transaction([("DELETE FROM index_generations WHERE index_name = ?", (name,)),
                              ("DELETE FROM indexes WHERE name = ?", (name,)),
                              ("INSERT INTO index_events (ts, index_name, action, actor, detail) "
                               "VALUES (?, ?, 'drop', ?, 'the whole index')", (t, name, actor))])

    def log_rebuild(self, name: str, gen: int) -> None:
        """Record that a generation's sidecars were re-derived; its rows do not change."""
        self._db.transaction([("INSERT INTO index_events (ts, index_name, action, from_gen, to_gen, actor) "
                               "VALUES (?, ?, 'rebuild', ?, ?, '')", (now(), name, gen, gen))])

    def events(self, name: str) -> list[dict]:
        return self._db.dicts("SELECT * FROM index_events WHERE index_name = ? ORDER BY id", (name,))
