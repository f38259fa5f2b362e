"""The governance area's rows: `column_tags` — each column's sensitivity tag.

A column may hold two rows: the scan's (`source = 'scan'`, replaced by each ingest's
scan) and the user's (`source = 'user'`, set with a reason and kept across re-ingests).
The user's row wins; a user tag of 'none' clears what the scan found. Policies that
mask by tag read the effective tags (core/governance/policies.py).
"""

from __future__ import annotations

import sqlite3

from core.storage.db import Db
from core.storage.migrations import Migrations

migrations = Migrations("governance")

TAGS = ("pii", "financial", "health")  # what a column may be tagged; 'none' clears a tag


@migrations
def m001_column_tags(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS column_tags (
    dataset TEXT NOT NULL,
    column_name TEXT NOT NULL,
    source TEXT NOT NULL,                 -- 'scan' (replaced by each ingest) or 'user' (kept)
    tag TEXT NOT NULL,                    -- pii, financial, health, or none (a user's clear)
    evidence_json TEXT NOT NULL DEFAULT '{}',  -- the scan's detector, share, sampled; {} for a user's
    reason TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (dataset, column_name, source)
)""")


class TagRows:
    def __init__(self, db: Db):
        self._db = db

    def effective(self, dataset: str) -> dict[str, str]:
        """{column: tag} as it applies: the user's tag over the scan's, 'none' left out."""
        out: dict[str, str] = {}
        for col, source, tag in self._db.query(
                "SELECT column_name, source, tag FROM column_tags WHERE dataset = ? "
                "ORDER BY column_name, source = 'user'", (dataset,)):
            out[col] = tag  # the user's row sorts last, so it wins
        return {c: t for c, t in out.items() if t != "none"}
