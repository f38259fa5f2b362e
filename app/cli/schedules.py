"""Schedules (the `schedule` group): ingest a path, a glob or a PostgreSQL query every
interval — run by the daemon (`lakehouse serve`) or a running TUI — and list, pause,
resume, remove or run one now. `lakehouse jobs` shows them below the jobs."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from app.cli.options import LIST_FORMAT, ListFormat
from app.cli.progress import run_job
from app.cli.session import open_lh, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert

group = typer.Typer(help="Ingest a source every interval (run by `lakehouse serve` or a running TUI).",
                    rich_markup_mode=None)
COLUMNS = ["id", "source", "every", "state", "last run", "next run", "outcome", "duration", "message"]
SCHEDULE_ID = typer.Argument(..., help="Schedule id from `lakehouse schedule list`.")


def _minute(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "—"


def records(schedules) -> list[dict]:
    """Schedules as table rows (also `lakehouse jobs`'s table below the jobs)."""
    out = []
    for s in schedules:
        name = s.options.get("name")
        out.append({"id": s.id, "source": s.source + (f" → {name}" if name else ""), "every": s.every,
                    "state": s.state + (" (running)" if s.running else ""), "last run": _minute(s.last_run_at),
                    "next run": _minute(s.next_run_at), "outcome": s.last_outcome or "—",
                    "duration": "—" if s.last_duration_s is None else f"{s.last_duration_s:.1f} s",
                    "message": s.last_message})
    return out


def _show(schedules, format: ListFormat) -> None:
    from app.output import dumps, print_records

    if format == ListFormat.json:
        print(dumps([s.to_dict() for s in schedules]))
    else:
        print_records(records(schedules), COLUMNS, "table")


@group.command("add")
def add(
    source: str = typer.Argument(..., help="A file, folder or glob ('dir/*.csv', quoted), or a "
                                            "postgresql://USER@HOST/DB URL (no password in it)."),
    every: str = typer.Option(..., "--every", help="How often: 30s, 15m, 2h or 1d (at least 10s)."),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset name (default: from each file's name)."),
    format: Optional[str] = typer.Option(None, "--format", help="Input format (default: from the extension)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="append, replace or upsert (default: append for a "
                                                            "folder, a glob or --incremental-by; replace otherwise)."),
    key: Optional[str] = typer.Option(None, "--key", help="Primary key column(s), e.g. id or region,id."),
    query: Optional[str] = typer.Option(None, "--query", help="For a postgresql:// source: the SELECT to ingest."),
    table: Optional[str] = typer.Option(None, "--table", help="For a postgresql:// source: the table (schema.name)."),
    incremental_by: Optional[str] = typer.Option(None, "--incremental-by", metavar="COLUMN",
                                                 help="For a postgresql:// source: fetch only rows past the last "
                                                      "run's high-water mark of COLUMN."),
    on_schema_change: str = typer.Option("refuse", "--on-schema-change", metavar="refuse|additive",
                                         help="refuse (report the change, write nothing) or additive "
                                              "(take added columns only)."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who runs it, for the journal (default: you)."),
    reason: str = typer.Option("", "--reason", help="Why, for the journal."),
    json_out: bool = typer.Option(False, "--json", help="Print the schedule as JSON."),
):
    """Schedule a source to be ingested every interval; its first run is one interval from now."""
    from app.output import dumps

    if "://" not in source:  # as the daemon sees it: it has its own working directory
        source = os.path.abspath(os.path.expanduser(source))
    s = with_lh(lambda lh: lh.schedule_add(source, every, name=name, format=format, mode=mode, key=key,
                                           query=query, table=table, incremental_by=incremental_by,
                                           schema_change=on_schema_change, actor=actor, reason=reason))
    if json_out:
        print(dumps(s.to_dict()))
        return
    print(f"schedule {s.id}: {s.source} every {s.every}, first run {_minute(s.next_run_at)} UTC by `lakehouse "
          f"serve` (or a running TUI) — `lakehouse schedule run {s.id}` runs it now")


@group.command("list")
def list_(format: ListFormat = LIST_FORMAT):
    """Schedules with their last run, next run, outcome and duration."""
    schedules = with_lh(lambda lh: lh.schedule_list())
    if format == ListFormat.table and not schedules:
        print("no schedules — add one with `lakehouse schedule add SOURCE --every 15m`", file=sys.stderr)
        return
    _show(schedules, format)


@group.command("remove")
def remove(schedule_id: str = SCHEDULE_ID):
    """Remove a schedule (what it ingested stays)."""
    s = with_lh(lambda lh: lh.schedule_remove(schedule_id))
    print(f"schedule {s.id} ({s.source}) removed")


@group.command("pause")
def pause(schedule_id: str = SCHEDULE_ID):
    """Pause a schedule: it keeps its settings and runs only when asked."""
    s = with_lh(lambda lh: lh.schedule_pause(schedule_id))
    print(f"schedule {s.id} paused — `lakehouse schedule resume {s.id}` starts it again")


@group.command("resume")
def resume(schedule_id: str = SCHEDULE_ID):
    """Resume a paused schedule; its next run is one interval from now."""
    s = with_lh(lambda lh: lh.schedule_resume(schedule_id))
    print(f"schedule {s.id} active, next run {_minute(s.next_run_at)} UTC")


@group.command("run")
def run(schedule_id: str = SCHEDULE_ID, json_out: bool = typer.Option(False, "--json", help="Print the schedule as JSON.")):
    """Run a schedule now, here, as a job (Ctrl-C cancels); exit 1 when the run failed."""
    from app.output import dumps

    with open_lh() as lh:
        s = run_job(lh.schedule_run, schedule_id)
    if json_out:
        print(dumps(s.to_dict()))
    else:
        print(f"schedule {s.id}: {s.last_outcome} — {s.last_message} ({s.last_duration_s or 0:.1f} s, "
              f"job {s.last_job_id})")
    if s.last_outcome in ("failed", "cancelled"):
        raise typer.Exit(130 if s.last_outcome == "cancelled" else 1)
