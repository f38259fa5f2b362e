"""The ask area's rows: `asks`, one per question asked (its mode, SQL, citations,
answer and outcome); an accepted one's SQL guides later questions."""

from __future__ import annotations

import sqlite3

from core.storage.db import Db
from core.storage.migrations import Migrations, add_missing_column

migrations = Migrations("ask")


@migrations
def m001_asks(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS asks (
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
)""")


@migrations
def m002_profile_of_early_catalogs(db: sqlite3.Connection) -> None:
    """Catalogs from the first releases lack it (m001 left their table as it was)."""
    add_missing_column(db, "asks", "profile TEXT NOT NULL DEFAULT 'default'")


class AskRows:
    def __init__(self, db: Db):
        self._db = db

    def add(self, row: dict) -> None:
        self._db.execute(f"INSERT INTO asks ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         row.values())

    def get(self, ask_id: str) -> dict | None:
        rows = self._db.dicts("SELECT * FROM asks WHERE id = ?", (ask_id,))
        return rows[0] if rows else None

    def accept(self, ask_id: str) -> None:
        self._db.execute("UPDATE asks SET accepted = 1 WHERE id = ?", (ask_id,))

    def accepted(self) -> list[dict]:
        return self._db.dicts("SELECT id, question, sql FROM asks WHERE accepted = 1 AND sql != '' "
                              "ORDER BY ts DESC")
