"""The ops area's rows: `jobs` (long operations and their progress), `errors` (the
errors journal) and `audit` (every data access, per profile)."""

from __future__ import annotations

import sqlite3
from typing import Any

from core.models import ErrorEvent, JobInfo
from core.storage.db import Db, now
from core.storage.migrations import Migrations, add_missing_column

migrations = Migrations("ops")


@migrations
def m001_jobs_errors_audit(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS jobs (
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
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    operation TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    job_id TEXT NOT NULL DEFAULT ''
)""")
    db.execute("""CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    profile TEXT NOT NULL,
    action TEXT NOT NULL,            -- sql | search | ask | embed | update | delete | restore | ingest | activate ...
    datasets TEXT NOT NULL DEFAULT '',  -- comma-separated datasets (or indexes) touched
    statement TEXT NOT NULL DEFAULT '', -- the SQL, query text or question
    row_count INTEGER,
    duration_ms REAL,
    outcome TEXT NOT NULL,           -- ok | masked (a policy shaped it) | refused | failed
    error TEXT NOT NULL DEFAULT ''
)""")
    db.execute("CREATE INDEX IF NOT EXISTS audit_by_profile ON audit (profile, ts)")


@migrations
def m002_job_columns_of_early_catalogs(db: sqlite3.Connection) -> None:
    """Catalogs from the first releases lack these (m001 left their tables as they were)."""
    add_missing_column(db, "jobs", "params TEXT")  # NULL: a job from before retries were recorded
    add_missing_column(db, "jobs", "profile TEXT NOT NULL DEFAULT ''")  # '': before owners were recorded


@migrations
def m003_audit_policy(db: sqlite3.Connection) -> None:
    """What a policy did to an access (masked columns, filtered rows; '' when nothing)."""
    add_missing_column(db, "audit", "policy TEXT NOT NULL DEFAULT ''")


_JOB_COLS = "id, kind, target, status, started_at, finished_at, done, total, unit, message, pid"


class JobRows:
    def __init__(self, db: Db):
        self._db = db

    def add(self, job_id: str, kind: str, target: str, pid: int, params: str | None = None,
            profile: str = "") -> None:
        self._db.execute("INSERT INTO jobs (id, kind, target, status, pid, started_at, params, profile) "
                         "VALUES (?,?,?,?,?,?,?,?)", (job_id, kind, target, "running", pid, now(), params, profile))

    def profile(self, job_id: str) -> str:
        """The profile that started a job ('' when unknown)."""
        rows = self._db.query("SELECT profile FROM jobs WHERE id = ?", (job_id,))
        return rows[0][0] if rows else ""

    def params(self, job_id: str) -> str | None:
        """The facade call that started a job (JSON), or None when none was recorded."""
        rows = self._db.query("SELECT params FROM jobs WHERE id = ?", (job_id,))
        return rows[0][0] if rows else None

    def update(self, job_id: str, done: float, total: float | None, unit: str, message: str) -> bool:
        """Record progress; return True when a cancel was requested (from any process)."""
        with self._db.lock:
            self._db.execute("UPDATE jobs SET done = ?, total = ?, unit = ?, message = ? WHERE id = ?",
                             (done, total, unit, message, job_id))
            row = self._db.query("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,))
        return bool(row and row[0][0])

    def finish(self, job_id: str, status: str, message: str) -> None:
        self._db.execute("UPDATE jobs SET status = ?, message = ?, finished_at = ? WHERE id = ?",
                         (status, message, now(), job_id))

    def request_cancel(self, job_id: str) -> bool:
        return self._db.execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (job_id,)) > 0

    def recent(self, limit: int = 50) -> list[JobInfo]:
        rows = self._db.query(f"SELECT {_JOB_COLS} FROM jobs ORDER BY started_at DESC, rowid DESC LIMIT ?",
                              (limit,))
        return [JobInfo(*r) for r in rows]

    def get(self, job_id: str) -> JobInfo | None:
        rows = self._db.query(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,))
        return JobInfo(*rows[0]) if rows else None

    def mark_interrupted(self, job_ids: list[str]) -> None:
        for jid in job_ids:
            self._db.execute("UPDATE jobs SET status = 'interrupted', finished_at = ?, "
                             "message = 'the process running this job ended before it finished' "
                             "WHERE id = ? AND status = 'running'", (now(), jid))

    def prune(self, keep: int) -> None:
        self._db.execute("DELETE FROM jobs WHERE status != 'running' AND id NOT IN "
                         "(SELECT id FROM jobs ORDER BY started_at DESC LIMIT ?)", (keep,))


class ErrorRows:
    def __init__(self, db: Db):
        self._db = db

    def add(self, operation: str, message: str, *, dataset: str = "", detail: str = "",
            job_id: str = "") -> None:
        self._db.execute("INSERT INTO errors (ts, operation, dataset, message, detail, job_id) "
                         "VALUES (?,?,?,?,?,?)", (now(), operation, dataset, message, detail, job_id))

    def recent(self, since: str | None = None, limit: int | None = None) -> list[ErrorEvent]:
        sql = "SELECT id, ts, operation, dataset, message, detail, job_id FROM errors"
        args: list[Any] = []
        if since:
            sql += " WHERE ts >= ?"
            args.append(since)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [ErrorEvent(*r) for r in self._db.query(sql, args)]

    def has(self, operation: str, dataset: str, detail: str) -> bool:
        return bool(self._db.query("SELECT 1 FROM errors WHERE operation = ? AND dataset = ? AND detail = ? "
                                   "LIMIT 1", (operation, dataset, detail)))


class AuditRows:
    def __init__(self, db: Db):
        self._db = db

    def add(self, rows: list[tuple]) -> None:
        """Append audit entries in one transaction (the audit log's batched flush)."""
        self._db.transaction([
            ("INSERT INTO audit (ts, profile, action, datasets, statement, row_count, duration_ms, "
             "outcome, error, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tuple(r)) for r in rows])

    def recent(self, profile: str | None = None, since: str | None = None, limit: int = 200) -> list[dict]:
        sql, args = "SELECT * FROM audit WHERE 1 = 1", []
        if profile:
            sql += " AND profile = ?"
            args.append(profile)
        if since:
            sql += " AND ts >= ?"
            args.append(since)
        return self._db.dicts(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
