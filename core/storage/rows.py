"""The storage area's rows: `meta` (key/value, including the datasets' generation
counter) and `commit_intents` (the Delta commits lakehouse is about to make; crash
recovery rolls forward only those)."""

from __future__ import annotations

import sqlite3

from core.storage.db import Db, Statement, now
from core.storage.migrations import Migrations

migrations = Migrations("storage")


@migrations
def m001_meta_and_commit_intents(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("""CREATE TABLE IF NOT EXISTS commit_intents (  -- a Delta commit lakehouse is about to make
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,        -- the table version the commit will create
    operation TEXT NOT NULL,         -- its Delta operation (WRITE, MERGE, SET TBLPROPERTIES, ...)
    meta_sha256 TEXT NOT NULL,       -- sha256 of its lakehouse commit metadata ('' when none)
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
)""")
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0')")


class MetaRows:
    # bumped in every transaction that changes what a dataset's view reads
    BUMP: Statement = ("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'", ())

    def __init__(self, db: Db):
        self._db = db

    def generation(self) -> int:
        return int(self._db.query("SELECT value FROM meta WHERE key = 'generation'")[0][0])

    def get(self, key: str) -> str | None:
        rows = self._db.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


class IntentRows:
    def __init__(self, db: Db):
        self._db = db

    @staticmethod
    def clear(name: str, upto: int) -> Statement:
        """The statement forgetting intents a registered commit has fulfilled."""
        return ("DELETE FROM commit_intents WHERE dataset = ? AND version <= ?", (name, upto))

    def record(self, name: str, first: int, commits: list[tuple[str, str]]) -> None:
        """Record, before making them, the commits [(operation, meta sha256)] that will
        create versions first, first+1, ... of `name` (older intents for those versions,
        e.g. of a dropped table, are replaced)."""
        stmts = [("DELETE FROM commit_intents WHERE dataset = ? AND version >= ?", (name, first))]
        stmts += [("INSERT INTO commit_intents (dataset, version, operation, meta_sha256, created_at) "
                   "VALUES (?,?,?,?,?)", (name, first + i, op, sha, now()))
                  for i, (op, sha) in enumerate(commits)]
        self._db.transaction(stmts)

    def get(self, name: str) -> dict[int, tuple[str, str]]:
        """{version: (operation, meta sha256)} of the commits lakehouse meant to make."""
        return {v: (op, sha) for v, op, sha in self._db.query(
            "SELECT version, operation, meta_sha256 FROM commit_intents WHERE dataset = ?", (name,))}

    def drop(self, name: str, above: int = -1) -> None:
        """Forget intents for versions above `above` (commits that were never made)."""
        self._db.execute("DELETE FROM commit_intents WHERE dataset = ? AND version > ?", (name, above))
