"""memory.sqlite: playbook memory entries, their scopes, their journal and their vectors.

    entries       one row per entry version (see MemoryEntry); keys and scope as JSON
    scopes        the distinct scopes of an index's entries: a filtered search evaluates its
                  condition once per scope, not once per entry (core/memory/boost.py)
    journal       every change: the entry as it became (JSON) and its vector — the store can
                  be rebuilt from it alone (`rebuild`)
    embedders     a small id per embedder identity (the vec tables filter on integers)
    vec_d<dim>    a sqlite-vec vec0 table per vector dimension: cosine KNN partitioned by
                  index and scope (a filtered search scans only its scopes' vectors), with
                  live, embedder id and validity (epoch ms) as integer metadata filtered
                  during the scan — text metadata costs a lookup per row; retired and
                  superseded entries have live = 0

Python's sqlite3 can load extensions only when built to (this one is not, nor are many
pyenv and macOS builds); then sqlean.py is used: a maintained build of current SQLite with
the same DB-API, so the rest of the code is one code path whichever loaded sqlite-vec
(apsw would be the other choice, with an API of its own). One transaction per change:
entry, vector and journal land together or not at all.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.storage.db import Db, now
from core.storage.faults import crash_point
from core.storage.migrations import Migrations, migrate

migrations = Migrations("memory")
FOREVER = 2 ** 62  # valid_until (epoch ms) of an open-ended entry, in the vec metadata
FIELDS = ("id", "index_name", "operation", "approach", "keys", "scope", "scope_id", "natural_key", "actor", "profile",
          "created_at", "updated_at", "valid_from", "valid_until", "fingerprint", "version", "parent_id",
          "superseded_at", "superseded_by", "retired_at", "retired_reason", "embedder", "dim")


def epoch_ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp() * 1000)


@migrations
def m001_entries(db) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    index_name TEXT NOT NULL,
    operation TEXT NOT NULL,         -- what was done
    approach TEXT NOT NULL DEFAULT '', -- how, and its context
    keys TEXT NOT NULL,              -- JSON list: the row keys it endorses
    scope TEXT NOT NULL,             -- JSON object (sorted keys): column -> value it applies in
    scope_id INTEGER NOT NULL,
    natural_key TEXT NOT NULL,       -- the upsert key: index, operation, day, scope
    actor TEXT NOT NULL,
    profile TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT,                -- NULL: open-ended
    fingerprint TEXT NOT NULL,       -- the dataset's schema when it was made
    version INTEGER NOT NULL,
    parent_id INTEGER,
    superseded_at TEXT,
    superseded_by INTEGER,
    retired_at TEXT,
    retired_reason TEXT,
    embedder TEXT NOT NULL,          -- provider/model/digest of its vector
    dim INTEGER NOT NULL
)""")
    db.execute("CREATE INDEX IF NOT EXISTS entries_natural ON entries (natural_key)")
    db.execute("CREATE INDEX IF NOT EXISTS entries_index ON entries (index_name, id)")
    db.execute("""CREATE TABLE IF NOT EXISTS scopes (
    id INTEGER PRIMARY KEY,
    index_name TEXT NOT NULL,
    scope TEXT NOT NULL,
    UNIQUE (index_name, scope)
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    op TEXT NOT NULL,                -- add | update | revise | supersede | retire | delete
    entry_id INTEGER NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    entry TEXT NOT NULL,             -- the entry as it became (JSON)
    vector BLOB                      -- its vector when it changed (float32)
)""")


@migrations
def m002_live_index_and_embedders(db) -> None:
    # what a boosted search counts (live in its scopes, by embedder) read from the index alone
    db.execute("CREATE INDEX IF NOT EXISTS entries_live ON entries (index_name, scope_id, retired_at, superseded_at, "
               "valid_from, valid_until, embedder)")
    db.execute("CREATE TABLE IF NOT EXISTS embedders (id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE)")


def connect(path: Path):
    """An autocommit connection to `path` with sqlite-vec loaded (see the module docstring)."""
    import sqlite3

    import sqlite_vec

    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        import sqlean as sqlite3  # noqa: PLW0127 - the drop-in, same DB-API
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    return conn


class MemoryRows:
    """The store's rows; every change one transaction."""

    def __init__(self, path: Path):
        self.db = Db(path, connect(path))
        with self.db.lock:
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
                self.db.conn.execute(f"PRAGMA {pragma}")
            migrate(self.db.conn, [migrations])
        self._dims = {r[0] for r in self.db.query("SELECT DISTINCT dim FROM entries")}

    def close(self) -> None:
        self.db.close()

    # -- reading ------------------------------------------------------------------------
    def get(self, entry_id: int) -> dict | None:
        rows = self.db.dicts("SELECT * FROM entries WHERE id = ?", (entry_id,))
        return _decoded(rows[0]) if rows else None

    def live_by_natural_key(self, natural_key: str) -> dict | None:
        rows = self.db.dicts("SELECT * FROM entries WHERE natural_key = ? AND retired_at IS NULL "
                             "AND superseded_at IS NULL ORDER BY id DESC LIMIT 1", (natural_key,))
        return _decoded(rows[0]) if rows else None

    def select(self, where: str = "1", args: tuple = (), limit: int | None = None) -> list[dict]:
        """Entries matching a fixed condition written by this package (never user text)."""
        tail = f" LIMIT {int(limit)}" if limit else ""
        return [_decoded(r) for r in self.db.dicts(f"SELECT * FROM entries WHERE {where} ORDER BY id{tail}", args)]

    def by_ids(self, ids) -> dict[int, dict]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        return {r["id"]: r for r in self.select(f"id IN ({','.join(map(str, ids))})")}

    def scopes(self, index: str) -> list[tuple[int, dict]]:
        return [(sid, json.loads(scope)) for sid, scope in
                self.db.query("SELECT id, scope FROM scopes WHERE index_name = ?", (index,))]

    def counts(self) -> dict[str, int]:
        t = now()
        row = self.db.query(
            "SELECT count(*), count(*) FILTER (WHERE retired_at IS NOT NULL), "
            "count(*) FILTER (WHERE superseded_at IS NOT NULL AND retired_at IS NULL), "
            "count(*) FILTER (WHERE retired_at IS NULL AND superseded_at IS NULL AND valid_until <= ?) "
            "FROM entries", (t,))[0]
        return {"entries": row[0], "retired": row[1], "superseded": row[2], "expired": row[3],
                "live": row[0] - row[1] - row[2] - row[3]}

    def knn(self, dim: int, q: np.ndarray, k: int, index: str, embedder: str, at: str,
            scope_ids: list[int] | None = None) -> list[tuple[int, float]]:
        """(entry id, cosine similarity) of the k live, valid entries of `index` nearest
        to q, made with `embedder`, within `scope_ids` (None: any scope)."""
        if k < 1 or scope_ids == [] or not self._has_table(dim):
            return []
        found = self.db.query("SELECT id FROM embedders WHERE identity = ?", (embedder,))
        if not found:
            return []
        scoped = f" AND scope_id IN ({','.join(str(int(s)) for s in scope_ids)})" if scope_ids is not None else ""
        t = epoch_ms(at)
        rows = self.db.query(
            f"SELECT entry_id, distance FROM vec_d{int(dim)} WHERE embedding MATCH ? AND k = ? "
            f"AND index_name = ?{scoped} AND live = 1 AND embedder_id = ? AND valid_from <= ? AND valid_until > ?",
            (np.asarray(q, np.float32).tobytes(), int(k), index, found[0][0], t, t))
        return [(int(i), 1.0 - float(d)) for i, d in rows]

    def _has_table(self, dim: int) -> bool:
        """Whether vec_d<dim> exists (another process may have made it since this one looked)."""
        if dim not in self._dims and self.db.query("SELECT 1 FROM sqlite_master WHERE name = ?", (f"vec_d{int(dim)}",)):
            self._dims.add(dim)
        return dim in self._dims

    def live_count(self, index: str, at: str, embedder: str, scope_ids: list[int] | None = None) -> tuple[int, int]:
        """(live, valid entries of `index` within the scopes made with `embedder`, those made with another)."""
        if scope_ids == []:
            return 0, 0
        scoped = f" AND scope_id IN ({','.join(str(int(s)) for s in scope_ids)})" if scope_ids else ""
        same, other = self.db.query(
            "SELECT count(*) FILTER (WHERE embedder = ?), count(*) FILTER (WHERE embedder != ?) FROM entries "
            "WHERE index_name = ? AND retired_at IS NULL AND superseded_at IS NULL AND valid_from <= ? AND "
            "(valid_until IS NULL OR valid_until > ?)" + scoped, (embedder, embedder, index, at, at))[0]
        return same, other

    def journal(self, entry_id: int | None = None, vectors: bool = False) -> list[dict]:
        cond, args = ("WHERE entry_id = ?", (entry_id,)) if entry_id is not None else ("", ())
        cols = "id, at, op, entry_id, actor, reason, entry" + (", vector" if vectors else "")
        return self.db.dicts(f"SELECT {cols} FROM journal {cond} ORDER BY id", args)

    # -- changing (each one transaction) ------------------------------------------------
    @contextmanager
    def _change(self):
        """One change: all of it lands, or (an error, a kill) none of it."""
        with self.db.lock:
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                crash_point("memory_change")
                self.db.conn.execute("COMMIT")
            except BaseException:
                self.db.conn.execute("ROLLBACK")
                raise

    def insert(self, e: dict, vector: np.ndarray, op: str, actor: str, reason: str = "",
               supersede: int | None = None) -> int:
        """Add entry `e` (no id) with its vector; `supersede`: the entry it revises."""
        self._vec_table(e["dim"])
        with self._change():
            e = dict(e, scope_id=self._scope_id(e["index_name"], e["scope"]))
            cols = [f for f in FIELDS if f != "id"]
            cur = self.db.conn.execute(f"INSERT INTO entries ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                                       [_encoded(f, e[f]) for f in cols])
            e["id"] = cur.lastrowid
            if supersede is not None:
                self.db.conn.execute("UPDATE entries SET superseded_at = ?, superseded_by = ?, updated_at = ? "
                                     "WHERE id = ?", (e["created_at"], e["id"], e["created_at"], supersede))
                self.db.conn.execute(f"UPDATE vec_d{int(e['dim'])} SET live = 0 WHERE entry_id = ?", (supersede,))
                self._journal("supersede", self._row(supersede), actor, reason, None)
            self._put_vector(e, vector)
            self._journal(op, e, actor, reason, vector)
        return e["id"]

    def update(self, e: dict, vector: np.ndarray | None, op: str, actor: str, reason: str = "") -> None:
        """Write entry `e` (with its id) over its row; a new `vector` when its text changed."""
        with self._change():
            e = dict(e, scope_id=self._scope_id(e["index_name"], e["scope"]))
            cols = [f for f in FIELDS if f != "id"]
            self.db.conn.execute(f"UPDATE entries SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                                 [_encoded(f, e[f]) for f in cols] + [e["id"]])
            table = f"vec_d{int(e['dim'])}"
            live = int(e["retired_at"] is None and e["superseded_at"] is None)
            self.db.conn.execute(f"UPDATE {table} SET live = ?, valid_from = ?, valid_until = ? WHERE entry_id = ?",
                                 (live, epoch_ms(e["valid_from"]), _until(e), e["id"]))  # a scope never changes
            if vector is not None:
                self.db.conn.execute(f"UPDATE {table} SET embedding = ? WHERE entry_id = ?",
                                     (np.asarray(vector, np.float32).tobytes(), e["id"]))
            self._journal(op, e, actor, reason, vector)

    def delete(self, e: dict, actor: str, reason: str) -> None:
        """Remove entry `e` and its vector; its parent (if it revised one) is the tip again."""
        with self._change():
            self.db.conn.execute("DELETE FROM entries WHERE id = ?", (e["id"],))
            self.db.conn.execute(f"DELETE FROM vec_d{int(e['dim'])} WHERE entry_id = ?", (e["id"],))
            self._journal("delete", e, actor, reason, None)
            if e["parent_id"] is not None and (parent := self._row(e["parent_id"])) is not None:
                parent.update(superseded_at=None, superseded_by=None, updated_at=now())
                self.db.conn.execute("UPDATE entries SET superseded_at = NULL, superseded_by = NULL, updated_at = ? "
                                     "WHERE id = ?", (parent["updated_at"], parent["id"]))
                live = int(parent["retired_at"] is None)
                self.db.conn.execute(f"UPDATE vec_d{int(parent['dim'])} SET live = ? WHERE entry_id = ?",
                                     (live, parent["id"]))
                self._journal("update", parent, actor, f"its revision #{e['id']} was deleted", None)

    def _row(self, entry_id: int) -> dict | None:
        cur = self.db.conn.execute("SELECT * FROM entries WHERE id = ?", (entry_id,))
        row = cur.fetchone()
        return _decoded(dict(zip([d[0] for d in cur.description], row))) if row else None

    def vector(self, entry_id: int, dim: int) -> np.ndarray:
        with self.db.lock:
            row = self.db.conn.execute(f"SELECT embedding FROM vec_d{int(dim)} WHERE entry_id = ?",
                                       (entry_id,)).fetchone()
        return np.frombuffer(row[0], np.float32).copy()

    # -- inside a transaction -----------------------------------------------------------
    def _vec_table(self, dim: int) -> None:
        if dim in self._dims:
            return
        with self.db.lock:
            self.db.conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS vec_d{int(dim)} USING vec0(entry_id INTEGER PRIMARY KEY, "
                f"embedding float[{int(dim)}] distance_metric=cosine, index_name TEXT partition key, "
                "scope_id INTEGER partition key, live INTEGER, embedder_id INTEGER, valid_from INTEGER, "
                "valid_until INTEGER)")
        self._dims.add(dim)

    def _put_vector(self, e: dict, vector: np.ndarray) -> None:
        live = int(e["retired_at"] is None and e["superseded_at"] is None)
        self.db.conn.execute("INSERT OR IGNORE INTO embedders (identity) VALUES (?)", (e["embedder"],))
        emb = self.db.conn.execute("SELECT id FROM embedders WHERE identity = ?", (e["embedder"],)).fetchone()[0]
        self.db.conn.execute(
            f"INSERT INTO vec_d{int(e['dim'])} (entry_id, embedding, index_name, scope_id, live, embedder_id, "
            "valid_from, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (e["id"], np.asarray(vector, np.float32).tobytes(), e["index_name"], e["scope_id"], live, emb,
             epoch_ms(e["valid_from"]), _until(e)))

    def _scope_id(self, index: str, scope: dict) -> int:
        text = json.dumps(scope, sort_keys=True, ensure_ascii=False)
        self.db.conn.execute("INSERT OR IGNORE INTO scopes (index_name, scope) VALUES (?, ?)", (index, text))
        return self.db.conn.execute("SELECT id FROM scopes WHERE index_name = ? AND scope = ?",
                                    (index, text)).fetchone()[0]

    def _journal(self, op: str, e: dict, actor: str, reason: str, vector) -> None:
        body = json.dumps({f: e[f] for f in FIELDS if f != "scope_id"}, ensure_ascii=False, sort_keys=True)
        self.db.conn.execute("INSERT INTO journal (at, op, entry_id, actor, reason, entry, vector) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (now(), op, e["id"], actor, reason or "", body,
                              None if vector is None else np.asarray(vector, np.float32).tobytes()))

    def forget_index(self, index: str) -> int:
        """Remove every entry of `index` (the index was dropped), journaled as retirements."""
        gone = self.select("index_name = ? AND retired_at IS NULL", (index,))
        for e in gone:
            self.update(dict(e, retired_at=now(), retired_reason=f"index {index} was dropped", updated_at=now()),
                        None, "retire", "lakehouse", f"index {index} was dropped")
        return len(gone)


def _until(e: dict) -> int:
    return FOREVER if e["valid_until"] is None else epoch_ms(e["valid_until"])


def _encoded(field: str, value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if field in ("keys", "scope") else value


def _decoded(row: dict) -> dict:
    row["keys"], row["scope"] = json.loads(row["keys"]), json.loads(row["scope"])
    return row


def rebuild(path: Path, journal_rows: list[dict]) -> None:
    """Make a store at `path` (new) from a journal's rows (`journal(vectors=True)`) alone: each
    entry as it last became, with its last vector — the journal holds everything."""
    store = MemoryRows(path)
    try:
        last: dict[int, tuple[dict, bytes | None]] = {}
        vectors: dict[int, bytes] = {}
        for r in journal_rows:
            e = json.loads(r["entry"])
            if r["op"] == "delete":
                last.pop(e["id"], None)
                continue
            if r.get("vector") is not None:
                vectors[e["id"]] = r["vector"]
            last[e["id"]] = e
        for eid in sorted(last):
            e = last[eid]
            store._vec_table(e["dim"])
            with store._change():
                e = dict(e, scope_id=store._scope_id(e["index_name"], e["scope"]))
                store.db.conn.execute(f"INSERT INTO entries ({','.join(FIELDS)}) VALUES ({','.join('?' * len(FIELDS))})",
                                      [_encoded(f, e[f]) for f in FIELDS])
                store._put_vector(e, np.frombuffer(vectors[eid], np.float32))
    finally:
        store.close()
