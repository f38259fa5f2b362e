"""The facade's schedule operations (a part of `core.Lakehouse`): add, list, pause, resume,
remove and run now a scheduled ingest (core/live/schedules.py runs the due ones)."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cached_property

from core import access
from core.api import operation
from core.errors import Hint, NotFound
from core.ops.jobs import Listener


@dataclass
class ScheduleInfo:
    """One schedule: its source and ingest options, interval, state and last run."""

    id: int
    source: str
    options: dict = field(default_factory=dict)  # name, format, mode, key, query, table, incremental_by, schema_change
    every: str = ""
    state: str = "active"  # active | paused
    last_run_at: str | None = None
    next_run_at: str | None = None  # None while paused
    last_outcome: str = ""  # ingested | unchanged | no files | failed | cancelled ('' before its first run)
    last_duration_s: float | None = None
    last_job_id: str = ""
    runs: int = 0
    created_at: str = ""
    last_message: str = ""  # the last run's sentence (what it wrote, or why it failed)
    running: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _info(row: dict) -> ScheduleInfo:
    return ScheduleInfo(row["id"], row["source"], row["options"], row["every"], row["state"],
                        _iso(row["last_run_at"]), _iso(row["next_run_at"]) if row["state"] == "active" else None,
                        row["last_outcome"], row["last_duration_s"], row["last_job_id"], row["runs"],
                        _iso(row["created_at"]), row["last_message"], row["running_pid"] is not None)


def _user() -> str:
    from core.ingest.run import current_user

    return current_user()


class ScheduleOps:
    """Mixed into Lakehouse: uses its catalog, jobs and profile."""

    @cached_property
    def _schedule_rows(self):
        from core.live.schedule_rows import ScheduleRows

        return ScheduleRows(self.catalog.db)

    @operation("schedule a source (path, glob or postgresql:// query) to be ingested every interval",
               remote=True, scope="datasets", mutates=True)
    def schedule_add(self, source: str, every: str, *, name: str | None = None, format: str | None = None,
                     mode: str | None = None, key: str | list[str] | None = None, query: str | None = None,
                     table: str | None = None, incremental_by: str | None = None, schema_change: str = "refuse",
                     actor: str | None = None, reason: str = "") -> ScheduleInfo:
        """Check everything a run will need now (the source exists, the interval, mode, key,
        name and policy are valid; a URL carries no password) and store the schedule. Its
        first run is one interval from now (`schedule_run` runs it at once); mode defaults to append for a folder, a glob or an
        incremental query and replace for one file or a full query."""
        from core.ingest.detect import FORMATS
        from core.ingest.run import MODES, parse_key
        from core.live import schedules as s
        from core.names import check_dataset_name

        every_s = s.parse_every(every)
        stored = s.check_source(source, query, table, incremental_by)
        if name is not None:
            check_dataset_name(name)
        access.check_ingest(self.profile, name)
        if format is not None and format not in FORMATS:
            raise s.ScheduleError(f"unknown format {format!r} — use one of: {', '.join(FORMATS)}")
        if mode is not None and mode not in MODES:
            raise s.ScheduleError(f"unknown mode {mode!r} — use one of: {', '.join(MODES)}")
        if mode == "create":
            raise s.ScheduleError("a schedule runs again and again, so --mode create would fail from its second "
                                  "run — use append, replace or upsert")
        keys = parse_key(key)
        if mode == "upsert" and not keys:
            raise s.ScheduleError("an upsert needs a key: pass --key COL[,COL]")
        options = {"name": name, "format": format, "mode": mode, "key": keys or None, "query": query,
                   "table": table, "incremental_by": incremental_by, "schema_change": s.check_policy(schema_change)}
        sid = self._schedule_rows.add(stored, options, str(every).strip(), every_s, self.profile.id,
                                      actor or _user(), reason or "", time.time())
        return _info(self._schedule_rows.get(sid))

    @operation("the schedules this profile sees, with last run, next run and outcome", remote=True, scope="datasets")
    def schedule_list(self) -> list[ScheduleInfo]:
        return [_info(r) for r in self._schedule_rows.all() if self._sees_schedule(r)]

    @operation("remove a schedule (what it ingested stays)", remote=True, scope="datasets", mutates=True)
    def schedule_remove(self, schedule_id: int | str) -> ScheduleInfo:
        row = self._schedule(schedule_id)
        self._schedule_rows.remove(row["id"])
        return _info(row)

    @operation("pause a schedule: it keeps its settings and runs only when asked", remote=True,
               scope="datasets", mutates=True)
    def schedule_pause(self, schedule_id: int | str) -> ScheduleInfo:
        row = self._schedule(schedule_id)
        self._schedule_rows.set_state(row["id"], "paused")
        return _info(self._schedule(row["id"]))

    @operation("resume a paused schedule: its next run is one interval from now", remote=True,
               scope="datasets", mutates=True)
    def schedule_resume(self, schedule_id: int | str) -> ScheduleInfo:
        row = self._schedule(schedule_id)
        if row["state"] != "active":
            self._schedule_rows.set_state(row["id"], "active", time.time() + row["every_s"])
        return _info(self._schedule(row["id"]))

    @operation("run a schedule now, in this process, as a job; its outcome is recorded on it",
               remote=True, scope="datasets", mutates=True)
    def schedule_run(self, schedule_id: int | str, progress: Listener | None = None,
                     cancel: threading.Event | None = None) -> ScheduleInfo:
        from core.live import schedules as s

        row = self._schedule(schedule_id)
        if not self._schedule_rows.claim_now(row["id"], time.time()):
            raise s.ScheduleError(f"schedule {row['id']} is running now — wait for that run to finish "
                                  "(the jobs list shows it)")
        s.run_claimed(self, row, progress, cancel)
        return _info(self._schedule(row["id"]))

    def _schedule(self, schedule_id) -> dict:
        """One schedule this profile sees, or one sentence naming the ones it does."""
        try:
            sid = int(str(schedule_id).strip().removeprefix("#"))
        except ValueError:
            sid = None
        row = self._schedule_rows.get(sid) if sid is not None else None
        if row is None or not self._sees_schedule(row):
            known = ", ".join(str(r["id"]) for r in self._schedule_rows.all() if self._sees_schedule(r))
            raise NotFound(f"no schedule {schedule_id!r} — " + (f"schedules: {known}" if known else "there are none"),
                           hint=None if known else Hint("add one with {schedule add}", "schedule_add"))
        return row

    def _sees_schedule(self, row: dict) -> bool:
        """A restricted profile sees the schedules that write its datasets."""
        name = row["options"].get("name")
        return self.profile.sees_all or bool(name and self.profile.sees(name))
