"""Scheduled ingest: intervals, what a schedule may be made of, and running the due ones.

A schedule re-ingests one source (a path, a glob or a postgresql:// query) every interval.
`run_due(lh, stop_event)` is what a runner calls about once a second (the daemon's and a
standalone TUI's core.live.runner): it claims each due schedule in one SQLite statement —
two processes calling it at once never run a schedule twice — runs it as a job, and
records the outcome on the schedule. A run missed while no runner was up runs once when
one starts, and the next run is then `every` from that moment. Nothing a run does (a bad
file, a vanished folder, a bug) escapes run_due: it is the run's outcome instead.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from core.errors import Cancelled, Hint, LakehouseError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# the runner ticks about once a second; a shorter interval than this is a watched folder's job
MIN_EVERY_S = 10
MAX_EVERY_S = 366 * 86400
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
POLICIES = ("refuse", "additive")  # a schedule never takes a schema change wholesale


class ScheduleError(LakehouseError):
    """A schedule that cannot be made, or found."""


def parse_every(every) -> int:
    """'30s' | '15m' | '2h' | '1d' -> seconds, or one sentence on why not."""
    m = _EVERY.match(str(every)) if isinstance(every, (str, int)) else None
    if m is None:
        raise ScheduleError(f"--every {every!r} is not an interval — write a number and a unit: "
                            "30s, 15m, 2h or 1d")
    seconds = int(m.group(1)) * UNITS[m.group(2)]
    if seconds < MIN_EVERY_S:
        raise ScheduleError(f"--every {every} is too often — a schedule runs at most every {MIN_EVERY_S}s",
                            hint=Hint("to follow a folder as files land, {watch it} instead", "watch_add",
                                      {"folder": "FOLDER"}))
    if seconds > MAX_EVERY_S:
        raise ScheduleError(f"--every {every} is longer than a year — use at most 366d")
    return seconds


def glob_root(source: str) -> Path | None:
    """The fixed folder a glob starts from (None when `source` has no glob characters)."""
    from core.ingest.paths import has_magic

    if not has_magic(source):
        return None
    parts = Path(source).parts
    fixed = [p for p in parts[:next(i for i, p in enumerate(parts) if has_magic(p))]]
    return Path(*fixed) if fixed else Path(".")


def check_source(source: str, query: str | None, table: str | None, incremental_by: str | None) -> str:
    """The source as stored (a path made absolute), or why it cannot be scheduled."""
    from core.ingest.run import is_database_url

    if not isinstance(source, str) or not source.strip():
        raise ScheduleError("a schedule needs a source — a file, a folder, a glob or a postgresql:// URL")
    if is_database_url(source):
        return _check_url(source, query, table)
    for flag, value in (("--query", query), ("--table", table), ("--incremental-by", incremental_by)):
        if value is not None:
            raise ScheduleError(f"{flag} is for a database source — schedule a postgresql://USER@HOST/DB "
                                "URL, or drop the flag for files")
    path = os.path.abspath(os.path.expanduser(source))
    if os.path.lexists(path):
        return path
    root = glob_root(path)
    if root is None:
        raise ScheduleError(f"{source}: no such file or directory — schedule a file, folder or glob that exists")
    if not root.is_dir():
        raise ScheduleError(f"{source}: the folder {root} does not exist — create it, or fix the pattern")
    return path


def _check_url(source: str, query: str | None, table: str | None) -> str:
    try:
        url = urlsplit(source)
        password = url.password
    except ValueError:
        raise ScheduleError(f"{redact(source)} is not a valid postgresql:// URL — write "
                            "postgresql://USER@HOST[:PORT]/DB") from None
    if password is not None or "password" in {k.lower() for k in parse_qs(url.query)}:
        raise ScheduleError("the URL carries a password, and a schedule never stores one — drop it from the URL "
                            "and give it through PGPASSWORD, ~/.pgpass or the secrets file")
    if (query is None) == (table is None):
        raise ScheduleError("a postgresql:// schedule needs exactly one of --query \"SELECT …\" or --table "
                            "schema.name")
    return source


def redact(source: str) -> str:
    """A source as messages show it: a URL's password (in its userinfo or a password=
    parameter) replaced, never raising (core/ingest/secrets.py)."""
    from core.ingest.secrets import redact as redact_url

    return redact_url(source, safe=True) if "://" in source else source


def check_policy(policy: str | None) -> str:
    policy = policy or "refuse"
    if policy not in POLICIES:
        raise ScheduleError(f"--on-schema-change {policy!r} is not a schedule's policy — use refuse (report the "
                            "change and write nothing) or additive (take added columns only); to take another "
                            "change, ingest that source once by hand with --accept-schema")
    return policy


def default_mode(source: str, options: dict) -> str:
    """The mode a run ingests with when none was given: a folder or glob gains new files
    (append), one file or a full query is the latest state (replace), an incremental query
    adds rows past its high-water mark (append)."""
    from core.ingest.run import is_database_url

    if options.get("mode"):
        return options["mode"]
    if is_database_url(source):
        return "append" if options.get("incremental_by") else "replace"
    return "append" if glob_root(source) is not None or os.path.isdir(source) else "replace"


# -- running ------------------------------------------------------------------------------
def rows_of(lh):
    """The facade's schedule rows (migrating the area on first use)."""
    return lh._schedule_rows


def run_due(lh, stop_event: threading.Event | None = None, now: float | None = None) -> list[dict]:
    """Run each due, active schedule once (claimed first, so never twice across processes);
    return what each run did. Never raises: a failure is the run's recorded outcome."""
    ran: list[dict] = []
    try:
        rows = rows_of(lh)
        rows.release_dead_claims()
        t = time.time() if now is None else now
        for sid in rows.due(t):
            if stop_event is not None and stop_event.is_set():
                break
            if rows.claim_due(sid, t):
                row = rows.get(sid)
                if row is not None:
                    ran.append(run_claimed(lh, row, stop=stop_event))
    except Exception as e:  # the catalog itself failed: say so once, keep the runner alive
        _record_error(lh, f"schedules could not run: {type(e).__name__}: {e}")
    return ran


def run_claimed(lh, row: dict, progress=None, cancel: threading.Event | None = None,
                stop: threading.Event | None = None) -> dict:
    """Run one claimed schedule as a job and record its outcome on the schedule (and
    release the claim), whatever happens. `stop` (the runner stopping) cancels the run."""
    rows, sid = rows_of(lh), row["id"]
    started, t0 = time.time(), time.monotonic()
    outcome, message, job_id = "failed", "", ""
    run_cancel = cancel or threading.Event()
    done = threading.Event()
    if stop is not None:
        threading.Thread(target=_link, args=(stop, run_cancel, done), daemon=True,
                         name=f"schedule-{sid}-stop").start()
    try:
        with lh._jobs.run("schedule run", _target(row), progress, run_cancel) as job:
            job_id = job.id
            job.progress(message=f"running schedule {sid}: {redact(row['source'])}", force=True)
            outcome, message = _ingest(lh, row, progress, job)
            job.message = message
        if outcome == "failed":  # its sentence is in _errors already (the ingest's own row)
            lh.catalog.jobs.finish(job_id, "failed", message)
    except Cancelled as e:
        outcome, message = "cancelled", str(e)
    except Exception as e:  # a bug: recorded by the job (with its traceback); the runner lives on
        outcome, message = "failed", f"schedule {sid} failed unexpectedly: {type(e).__name__}: {e}"
        if not job_id:
            _record_error(lh, message)
    finally:
        done.set()
        try:
            rows.finish(sid, started, outcome, message, time.monotonic() - t0, job_id)
            if outcome == "cancelled" and stop is not None and stop.is_set():
                rows.due_again(sid, started)  # cut short by the runner stopping: it runs when one starts
        except Exception as e:
            _record_error(lh, f"schedule {sid}: its outcome could not be recorded: {e}")
    return {"id": sid, "outcome": outcome, "message": message, "job_id": job_id}


def _link(stop: threading.Event, cancel: threading.Event, done: threading.Event) -> None:
    while not done.is_set():
        if stop.wait(0.2):
            cancel.set()
            return


def _target(row: dict) -> str:
    """The run's job target: its dataset first (profiles see jobs by it), then the schedule."""
    name = row["options"].get("name")
    return f"{name} (schedule {row['id']})" if name else f"{redact(row['source'])} (schedule {row['id']})"


def _ingest(lh, row: dict, progress, job) -> tuple[str, str]:
    """(outcome, sentence) of one run: ingest the source with the stored options, then
    refresh what it wrote. A refused source or schema change is the outcome `failed`,
    its sentence in `_errors` (the ingest's own row, or one here)."""
    from core.ingest.paths import expand
    from core.ingest.run import is_database_url

    source, opts, cancel = row["source"], row["options"], job.cancel_event
    root = None if is_database_url(source) else glob_root(source)
    if root is not None and not root.is_dir():
        message = (f"schedule {row['id']}: the folder {root} of {source} is gone — it runs again at its next "
                   "time; restore the folder, or `lakehouse schedule remove " + str(row["id"]) + "`")
        lh.catalog.errors.add("schedule", message, dataset=opts.get("name") or "", job_id=job.id)
        return "failed", message
    if root is not None:
        try:
            expand([source])
        except LakehouseError:  # waiting for files is normal, not an error worth a row
            return "no files", f"no file matches {source} yet — nothing to ingest"
    try:
        results = lh.ingest([source], name=opts.get("name"), format=opts.get("format"),
                            mode=default_mode(source, opts), key=opts.get("key"), query=opts.get("query"),
                            table=opts.get("table"), incremental_by=opts.get("incremental_by"),
                            schema_change=opts.get("schema_change") or "refuse",
                            actor=row.get("actor") or None, reason=row.get("reason") or f"schedule {row['id']}",
                            progress=progress, cancel=cancel)
    except Cancelled:
        raise
    except LakehouseError as e:  # recorded in _errors by the ingest
        return "failed", str(e)
    failed = [r for r in results if r.status == "failed"]
    written = [r for r in results if r.status == "ingested"]
    rows_written = sum(r.rows for r in written)
    datasets = sorted({r.dataset for r in written})
    wrote = f"{rows_written:,} row{'s' if rows_written != 1 else ''} into {', '.join(datasets)}"
    notes = _refresh(lh, datasets, cancel)
    if failed:
        more = f" (and {len(failed) - 1} more failed)" if len(failed) > 1 else ""
        return "failed", failed[0].message + more + (f"; {wrote}" if written else "") + notes
    if written:
        return "ingested", wrote + notes
    if len(results) == 1 and results[0].message:  # its own words: identical bytes, the same rows, none newer
        return "unchanged", results[0].message
    return "unchanged", f"{len(results)} sources unchanged (identical bytes) — nothing written"


def _refresh(lh, datasets: list[str], cancel: threading.Event) -> str:
    """Refresh the indexes over what a run wrote (Lakehouse.refresh, when it exists)."""
    refresh = getattr(lh, "refresh", None)
    if refresh is None or not datasets:
        return ""
    notes = []
    for ds in datasets:
        try:
            outcomes = refresh(ds, cancel=cancel) or []
        except Cancelled:
            raise
        except LakehouseError as e:
            outcomes = [f"refreshing {ds}'s indexes failed: {e}"]
        notes += [f"; {getattr(o, 'message', o)}" for o in outcomes if getattr(o, "status", "failed") == "failed"]
    return "".join(notes)


def _record_error(lh, message: str) -> None:
    try:
        lh.catalog.errors.add("schedule", message)
    except Exception:  # the catalog is gone too: nothing more can be said from here
        pass
