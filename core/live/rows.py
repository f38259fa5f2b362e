"""The watches area's rows: `watches`, one per watched folder — its pattern, where its files
go (a dataset name, or each file's stem), the ingest mode, key and schema-change policy,
its state (active | paused | error) and its last event; and `watch_files`, the files a
watch has seen — path, size, mtime_ns, sha256 and what became of them — so a file already
handled is not ingested again after a restart, and a deleted or renamed one is reported.

The area migrates itself on first use (`WatchRows(db)`), like the schedules' rows.
"""

from __future__ import annotations

import sqlite3

from core.storage.db import Db, now
from core.storage.migrations import Migrations, migrate

migrations = Migrations("live")

# what became of a seen file: handled ones are not ingested again while their size and
# mtime stay; `gone` is a file that vanished and is reported (deleted, or renamed) shortly
DONE = ("ingested", "unchanged", "failed", "skipped")


@migrations
def m001_watches(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    folder TEXT NOT NULL,            -- absolute, as the process running watches sees it
    pattern TEXT NOT NULL,           -- a glob on file names (subfolders are walked too)
    dataset TEXT,                    -- NULL: each file's stem names its dataset
    mode TEXT NOT NULL,              -- append | upsert | replace
    key TEXT NOT NULL DEFAULT '',    -- comma-separated key columns
    schema_change TEXT NOT NULL,     -- refuse | additive
    state TEXT NOT NULL,             -- active | paused | error
    profile TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_event_at TEXT,
    last_outcome TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    ingested INTEGER NOT NULL DEFAULT 0     -- files that wrote rows
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS watch_files (
    watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,                     -- NULL when not hashed (over 64 MB)
    status TEXT NOT NULL,            -- ingested | unchanged | failed | skipped | gone
    dataset TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (watch_id, path)
)""")


class WatchRows:
    def __init__(self, db: Db):
        self._db = db
        with db.lock:
            migrate(db.conn, [migrations])

    # -- watches --------------------------------------------------------------------------
    def add(self, folder: str, pattern: str, dataset: str | None, mode: str, key: str, schema_change: str,
            profile: str) -> int:
        with self._db.lock:
            cur = self._db.conn.execute(
                "INSERT INTO watches (folder, pattern, dataset, mode, key, schema_change, state, profile, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)",
                (folder, pattern, dataset, mode, key, schema_change, profile, now()))
            return int(cur.lastrowid)

    def get(self, wid: int) -> dict | None:
        rows = self._db.dicts("SELECT * FROM watches WHERE id = ?", (wid,))
        return rows[0] if rows else None

    def all(self) -> list[dict]:
        return self._db.dicts("SELECT w.*, (SELECT count(*) FROM watch_files f WHERE f.watch_id = w.id "
                              "AND f.status != 'gone') AS files, (SELECT count(*) FROM watch_files f WHERE "
                              "f.watch_id = w.id AND f.status = 'gone') AS gone FROM watches w ORDER BY w.id")

    def remove(self, wid: int) -> bool:
        return self._db.execute("DELETE FROM watches WHERE id = ?", (wid,)) > 0

    def set_state(self, wid: int, state: str) -> None:
        self._db.execute("UPDATE watches SET state = ? WHERE id = ?", (state, wid))

    def event(self, wid: int, outcome: str, *, error: str | None = None, state: str | None = None,
              ingested: bool = False) -> None:
        """The watch's last event; `error` sets (or with "" clears) its last error; `state`
        is set only over a state the runner may change (never over a user's pause)."""
        sets, args = ["last_event_at = ?", "last_outcome = ?"], [now(), outcome]
        if error is not None:
            sets.append("last_error = ?")
            args.append(error)
        if ingested:
            sets.append("ingested = ingested + 1")
        self._db.execute(f"UPDATE watches SET {', '.join(sets)} WHERE id = ?", (*args, wid))
        if state is not None:
            self._db.execute("UPDATE watches SET state = ? WHERE id = ? AND state != 'paused'", (state, wid))

    # -- the files a watch has seen ---------------------------------------------------------
    def files(self, wid: int) -> dict[str, dict]:
        return {r["path"]: r for r in self._db.dicts("SELECT * FROM watch_files WHERE watch_id = ?", (wid,))}

    def seen(self, wid: int, path: str, size: int, mtime_ns: int, sha256: str | None, status: str,
             dataset: str = "", message: str = "") -> None:
        # a watch removed while its file was being ingested: nothing to remember it by
        self._db.execute(
            "INSERT OR REPLACE INTO watch_files (watch_id, path, size, mtime_ns, sha256, status, dataset, message, "
            "updated_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM watches WHERE id = ?)",
            (wid, path, size, mtime_ns, sha256, status, dataset, message, now(), wid))

    def set_file_status(self, wid: int, path: str, status: str) -> None:
        self._db.execute("UPDATE watch_files SET status = ?, updated_at = ? WHERE watch_id = ? AND path = ?",
                         (status, now(), wid, path))

    def forget_file(self, wid: int, path: str) -> None:
        self._db.execute("DELETE FROM watch_files WHERE watch_id = ? AND path = ?", (wid, path))
