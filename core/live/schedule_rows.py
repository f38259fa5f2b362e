"""The schedules area's rows: `schedules`, one per scheduled ingest — its source and ingest
options, its interval, whether it is active or paused, when it runs next, how its last run
went, and which process is running it now (the claim that keeps two runners from running
it twice).

Times are epoch seconds (REAL), so "due" is one comparison in SQL; ScheduleInfo shows them
as ISO text. The area migrates itself on first use (`ScheduleRows(db)`), like memory's rows.
"""

from __future__ import annotations

import json
import os
import sqlite3

from core.ops.jobs import _alive
from core.storage.db import Db
from core.storage.migrations import Migrations, migrate

migrations = Migrations("schedules")


@migrations
def m001_schedules(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,            -- a path, a glob or a postgresql:// URL (never with a password)
    options_json TEXT NOT NULL,      -- lh.ingest's options: name, format, mode, key, query, ...
    every TEXT NOT NULL,             -- as given: 30s, 15m, 2h, 1d
    every_s INTEGER NOT NULL,
    state TEXT NOT NULL,             -- active | paused
    profile TEXT NOT NULL,           -- who added it (a restricted profile sees only its own)
    actor TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    next_run_at REAL NOT NULL,
    last_run_at REAL,
    last_outcome TEXT NOT NULL DEFAULT '',   -- ingested | unchanged | no files | failed | cancelled
    last_message TEXT NOT NULL DEFAULT '',
    last_duration_s REAL,
    last_job_id TEXT NOT NULL DEFAULT '',
    runs INTEGER NOT NULL DEFAULT 0,
    running_pid INTEGER,             -- the process running it now (NULL: none)
    running_since REAL
)""")


class ScheduleRows:
    def __init__(self, db: Db):
        self._db = db
        with db.lock:
            migrate(db.conn, [migrations])

    def add(self, source: str, options: dict, every: str, every_s: int, profile: str, actor: str,
            reason: str, now: float) -> int:
        with self._db.lock:
            cur = self._db.conn.execute(
                "INSERT INTO schedules (source, options_json, every, every_s, state, profile, actor, reason, "
                "created_at, next_run_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
                (source, json.dumps(options), every, every_s, profile, actor, reason, now, now + every_s))
            return int(cur.lastrowid)

    def get(self, sid: int) -> dict | None:
        rows = self._db.dicts("SELECT * FROM schedules WHERE id = ?", (sid,))
        return _decoded(rows[0]) if rows else None

    def all(self) -> list[dict]:
        return [_decoded(r) for r in self._db.dicts("SELECT * FROM schedules ORDER BY id")]

    def remove(self, sid: int) -> bool:
        return self._db.execute("DELETE FROM schedules WHERE id = ?", (sid,)) > 0

    def set_state(self, sid: int, state: str, next_run_at: float | None = None) -> None:
        if next_run_at is None:
            self._db.execute("UPDATE schedules SET state = ? WHERE id = ?", (state, sid))
        else:
            self._db.execute("UPDATE schedules SET state = ?, next_run_at = ? WHERE id = ?",
                             (state, next_run_at, sid))

    # -- runs: claimed in one statement, so two runners never run one schedule twice ------
    def due(self, now: float) -> list[int]:
        """Active schedules whose time has come (claimed or not)."""
        return [r[0] for r in self._db.query(
            "SELECT id FROM schedules WHERE state = 'active' AND next_run_at <= ? ORDER BY next_run_at, id",
            (now,))]

    def release_dead_claims(self) -> None:
        """A claim whose process died (a crash mid-run) is dropped, so the schedule runs again."""
        for sid, pid in self._db.query("SELECT id, running_pid FROM schedules WHERE running_pid IS NOT NULL"):
            if not _alive(pid):  # core.ops.jobs's liveness check, as jobs use it
                self._db.execute("UPDATE schedules SET running_pid = NULL, running_since = NULL "
                                 "WHERE id = ? AND running_pid = ?", (sid, pid))

    def claim_due(self, sid: int, now: float) -> bool:
        """Take a due run for this process; its next run is `every` from now (a run missed
        while no runner was up runs once, not once per missed interval)."""
        return self._db.execute(
            "UPDATE schedules SET running_pid = ?, running_since = ?, next_run_at = ? + every_s "
            "WHERE id = ? AND state = 'active' AND next_run_at <= ? AND running_pid IS NULL",
            (os.getpid(), now, now, sid, now)) > 0

    def claim_now(self, sid: int, now: float) -> bool:
        """Take a run asked for by hand (paused or not, due or not); False if one is running."""
        return self._db.execute("UPDATE schedules SET running_pid = ?, running_since = ? "
                                "WHERE id = ? AND running_pid IS NULL", (os.getpid(), now, sid)) > 0

    def finish(self, sid: int, started: float, outcome: str, message: str, duration_s: float,
               job_id: str) -> None:
        self._db.execute(
            "UPDATE schedules SET running_pid = NULL, running_since = NULL, last_run_at = ?, last_outcome = ?, "
            "last_message = ?, last_duration_s = ?, last_job_id = ?, runs = runs + 1 WHERE id = ?",
            (started, outcome, message, round(duration_s, 3), job_id, sid))


    def due_again(self, sid: int, at: float) -> None:
        self._db.execute("UPDATE schedules SET next_run_at = ? WHERE id = ?", (at, sid))


def _decoded(row: dict) -> dict:
    row["options"] = json.loads(row.pop("options_json"))
    return row
