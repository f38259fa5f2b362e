"""The governance area's rows: `column_tags` — each column's sensitivity tag.

A column may hold two rows: the scan's (`source = 'scan'`, replaced by each ingest's
scan) and the user's (`source = 'user'`, set with a reason and kept across re-ingests).
The user's row wins; a user tag of 'none' clears what the scan found. Policies that
mask by tag read the effective tags (core/governance/policies.py).
"""

from __future__ import annotations

import sqlite3

from core.storage.db import Db, now
from core.storage.migrations import Migrations
from core.storage.rows import MetaRows

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

    # -- the scan's rows, the user's rows, and what both say --------------------------
    def set_scan(self, dataset: str, findings: dict, version: int | None = None) -> None:
        """Replace `dataset`'s scan rows with `findings` ({column: Finding or None}); the
        user's rows are not touched. An untagged column gets no row. `version`: the table
        version scanned (policies that mask by tag rescan a version not yet scanned)."""
        import json

        at = now()
        stmts = [("DELETE FROM column_tags WHERE dataset = ? AND source = 'scan'", (dataset,))]
        for col, f in findings.items():
            if f is not None:
                ev = {"kind": f.kind, "share": f.share, "sampled": f.sampled, "by_name": f.by_name}
                stmts.append(("INSERT INTO column_tags (dataset, column_name, source, tag, evidence_json, "
                              "updated_at) VALUES (?, ?, 'scan', ?, ?, ?)",
                              (dataset, col, f.tag, json.dumps(ev), at)))
        if version is not None:
            stmts.append(("INSERT INTO tag_scans (dataset, table_version, scanned_at) VALUES (?, ?, ?) ON CONFLICT "
                          "(dataset) DO UPDATE SET table_version = excluded.table_version, "
                          "scanned_at = excluded.scanned_at", (dataset, version, at)))
        stmts.append(MetaRows.BUMP)  # masks follow tags: engines reshape their views
        self._db.transaction(stmts)

    def scanned_version(self, dataset: str) -> int | None:
        """The table version of `dataset` the scan last read (None: never scanned)."""
        rows = self._db.query("SELECT table_version FROM tag_scans WHERE dataset = ?", (dataset,))
        return rows[0][0] if rows else None

    def set_user(self, dataset: str, column: str, tag: str, reason: str, actor: str) -> None:
        """The user's tag for a column (kept across re-ingests); 'none' clears the scan's."""
        self._db.transaction([(
            "INSERT INTO column_tags (dataset, column_name, source, tag, reason, actor, updated_at) "
            "VALUES (?, ?, 'user', ?, ?, ?, ?) ON CONFLICT (dataset, column_name, source) DO UPDATE SET "
            "tag = excluded.tag, reason = excluded.reason, actor = excluded.actor, "
            "updated_at = excluded.updated_at", (dataset, column, tag, reason, actor, now())), MetaRows.BUMP])

    def rows(self, dataset: str | None = None) -> dict[tuple[str, str], dict]:
        """{(dataset, column): {'scan': row, 'user': row}}; each row a dict with tag,
        evidence (a dict), reason, actor and updated_at."""
        import json

        where, args = ("WHERE dataset = ?", (dataset,)) if dataset is not None else ("", ())
        out: dict[tuple[str, str], dict] = {}
        for ds, col, source, tag, ev, reason, actor, at in self._db.query(
                "SELECT dataset, column_name, source, tag, evidence_json, reason, actor, updated_at "
                f"FROM column_tags {where}", args):
            out.setdefault((ds, col), {})[source] = {"tag": tag, "evidence": json.loads(ev or "{}"),
                                                     "reason": reason, "actor": actor, "at": at}
        return out

    # -- a description drafted by the chat model ------------------------------------
    def set_draft(self, dataset: str, text: str, model: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO description_drafts (dataset, description, model, drafted_at) "
                         "VALUES (?, ?, ?, ?)", (dataset, text, model, now()))

    def draft(self, dataset: str) -> dict | None:
        """The drafted description ({description, model, drafted_at}), or None."""
        rows = self._db.dicts("SELECT description, model, drafted_at FROM description_drafts "
                              "WHERE dataset = ?", (dataset,))
        return rows[0] if rows else None

    def clear_draft(self, dataset: str) -> None:
        self._db.execute("DELETE FROM description_drafts WHERE dataset = ?", (dataset,))


@migrations
def m002_description_drafts(db: sqlite3.Connection) -> None:
    """A description the chat model drafted: marked as drafted until a user sets one."""
    db.execute("""CREATE TABLE IF NOT EXISTS description_drafts (
    dataset TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    drafted_at TEXT NOT NULL
)""")


@migrations
def m003_tag_scans(db: sqlite3.Connection) -> None:
    """Which table version of each dataset the scan read: an ingest's scan runs after its
    commit, so a policy masking by tag rescans a version it finds unscanned."""
    db.execute("""CREATE TABLE IF NOT EXISTS tag_scans (
    dataset TEXT PRIMARY KEY,
    table_version INTEGER NOT NULL,
    scanned_at TEXT NOT NULL
)""")
