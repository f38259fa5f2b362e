"""Named schema migrations, recorded in the catalog (after simonw/llm's migrations).

Each area declares its tables as a `Migrations` list of functions in its own rows
module; the catalog applies every area's list in order. A migration runs once: its
name (`area.function`) is recorded in `_migrations` when it has run, in the same
transaction as its changes. A later schema change is a new function at the end of
its area's list, never an edit of an applied one.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Callable

Migration = Callable[[sqlite3.Connection], None]


class Migrations:
    """One area's migrations, applied in the order they are declared."""

    def __init__(self, area: str):
        self.area = area
        self.steps: list[Migration] = []

    def __call__(self, fn: Migration) -> Migration:
        """Decorator: register `fn` as the area's next migration."""
        self.steps.append(fn)
        return fn

    def names(self) -> list[str]:
        return [f"{self.area}.{fn.__name__}" for fn in self.steps]


def add_missing_column(db: sqlite3.Connection, table: str, column_sql: str) -> None:
    """ALTER TABLE ... ADD COLUMN, unless the column exists: for catalogs made before
    named migrations, which may or may not have had a column added already."""
    name = column_sql.split()[0]
    if name not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column_sql}")


def applied(db: sqlite3.Connection) -> set[str]:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return {r[0] for r in db.execute("SELECT name FROM _migrations")}


def migrate(db: sqlite3.Connection, areas: list[Migrations]) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; return their names.
    `db` is in autocommit mode (isolation_level=None) and held by the caller's lock."""
    done = applied(db)
    ran = []
    for area in areas:
        for fn, name in zip(area.steps, area.names()):
            if name in done:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                # another process opening the same catalog may have applied it meanwhile
                if not db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                    fn(db)
                    db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                               (name, datetime.now(timezone.utc).isoformat(timespec="milliseconds")))
                    ran.append(name)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
    return ran
