"""Jobs (the `jobs` group: list, cancel, retry) and the operational errors they leave."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from app.cli.data import print_ingest
from app.cli.options import LIST_FORMAT, ListFormat
from app.cli.progress import run_job
from app.cli.session import open_lh, with_lh
from app.cli.vectors import print_embed
from app.output import say as print  # noqa: A001 — every message prints inert

group = typer.Typer(help="List running and recent jobs; cancel or retry one.", rich_markup_mode=None)


@group.callback(invoke_without_command=True)
def jobs(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", help="How many recent jobs."),
    format: ListFormat = LIST_FORMAT,
):
    """List running and recent jobs with their outcome."""
    if ctx.invoked_subcommand is not None:
        return
    from app.output import print_records

    from app.cli import schedules as sched

    records, schedules = with_lh(lambda lh: ([j.to_dict() for j in lh.jobs(limit)], lh.schedule_list()))
    if format == ListFormat.json:  # schedules follow the jobs, each marked kind "schedule"
        print_records(records + [dict(s.to_dict(), kind="schedule", status=s.state, target=s.source)
                                 for s in schedules], [], "json")
        return
    for r in records:
        r["progress"] = (f"{r['done']:,.0f}/{r['total']:,.0f} {r['unit']}" if r["total"]
                         else f"{r['done']:,.0f} {r['unit']}".strip())
        r["started"] = r["started_at"][:19].replace("T", " ")
    print_records(records, ["id", "kind", "target", "status", "progress", "started", "message"], "table")
    if schedules:
        print_records(sched.records(schedules), sched.COLUMNS, "table", title="schedules")


@group.command("cancel")
def jobs_cancel(job_id: str = typer.Argument(..., help="Job id from `lakehouse jobs`.")):
    """Ask a running job (in any process) to stop; it cleans up what it started."""
    ok = with_lh(lambda lh: lh.cancel_job(job_id))
    if ok:
        print(f"cancel requested for job {job_id}")
    else:
        print(f"error: job {job_id} is not running", file=sys.stderr)
        raise typer.Exit(1)


@group.command("retry")
def jobs_retry(job_id: str = typer.Argument(..., help="Id of a failed, cancelled or interrupted job (`lakehouse jobs`).")):
    """Run a failed, cancelled or interrupted job's command again, here, as a new job (Ctrl-C cancels)."""
    with open_lh() as lh:
        job = lh.job(job_id)
        r = run_job(lh.retry_job, job_id)
        print(f"job {job_id} ({job.kind} of {job.target}) retried as a new job", file=sys.stderr)
        resumes = lh.index("resumes") if job.kind == "demo" else None
    if isinstance(r, list):  # ingest, demo: per-file results
        code = print_ingest(r)
        if resumes is not None and resumes.active is not None:
            print(f"index resumes g{resumes.active.gen}: {resumes.active.chunks:,} resume chunks of candidates, "
                  f"{resumes.active.embedder}")
        raise typer.Exit(code)
    if isinstance(r, dict) and "steps" in r:  # a profile activation
        for step, outcome in r["steps"].items():
            print(f"{step}: {outcome}")
        print(f"{r['profile']} is the active profile ({r['seconds']:.2f} s)")
    elif hasattr(r, "embedded"):  # an embed
        print_embed(r)
    else:  # an index rebuild
        print(f"{job.target.split()[0]} g{r.gen}: rebuilt from its {r.chunks:,} stored embeddings")


def errors(
    since: Optional[str] = typer.Option(None, "--since", help="Only newer failures: 30m, 2h, 7d or an ISO time."),
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first."),
    format: ListFormat = LIST_FORMAT,
):
    """Operational failures (refused ingests, failed jobs), newest first. Also: SELECT * FROM _errors."""
    from app.output import print_records

    records = with_lh(lambda lh: [e.to_dict() for e in lh.errors(since, limit)])
    if format == ListFormat.table and not records:
        print("no errors" + (f" since {since}" if since else ""), file=sys.stderr)
        return
    for r in records:
        r["time"] = r["ts"][:19].replace("T", " ")
    print_records(records, ["time", "operation", "dataset", "message"], format.value)
