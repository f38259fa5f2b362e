"""`lakehouse` — the scripted frontend. Thin: parse, call core.Lakehouse, render.

Heavy libraries (duckdb, pyarrow, deltalake) are imported only by the commands
that need them, so `lakehouse --help` stays fast.
"""

from __future__ import annotations

import sys
import threading
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from app.output import say as print  # noqa: A001 — every message prints inert (control characters shown
#                                      as \x1b, never sent to the terminal); JSON from dumps() exactly as is
from app.fast import looks_like_address as _looks_like_address  # the entry's rule: one for both
from core.errors import LakehouseError
from core.text import count, inert

app = typer.Typer(
    name="lakehouse",
    help="Local knowledge workstation: ingest messy files into versioned Delta tables, query them "
         "with DuckDB SQL, search their text by meaning and ask questions answered from them by a "
         "local model — all on this machine.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
jobs_app = typer.Typer(help="List running and recent jobs; cancel or retry one.", rich_markup_mode=None)
app.add_typer(jobs_app, name="jobs")
profile_app = typer.Typer(help="Profiles: who sees which data, with which models; list, create, edit, activate.",
                          rich_markup_mode=None)
app.add_typer(profile_app, name="profile")
index_app = typer.Typer(help="Vector indexes and their generations: list, promote, rollback, drop, rebuild.",
                        rich_markup_mode=None)
app.add_typer(index_app, name="index")


class ListFormat(str, Enum):
    table = "table"
    json = "json"


_LIST_FORMAT = typer.Option(ListFormat.table, "--format", help="table or json.")  # every listing command


class RowFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class _State:
    home: Optional[str] = None
    config: Optional[str] = None
    profile: Optional[str] = None
    remote: Optional[str] = None  # "-": this storage root's daemon; else a socket path or HOST:PORT


state = _State()


def _open():
    """The facade: in this process, or a running daemon's through the remote proxy
    (--remote, or [daemon] auto_connect when one serves this root)."""
    from core import config as config_mod

    cfg = config_mod.load(home=state.home, config_file=state.config, profile=state.profile)
    address = None
    if state.remote is not None:
        from app import remote

        address = remote.address_for(cfg, None if state.remote == "-" else state.remote)
    elif cfg.get("daemon.auto_connect"):
        from app import remote

        address = remote.running(cfg)
    if address is not None:
        lh = remote.RemoteLakehouse(address, remote.token_for(cfg, address), cfg.profile, **remote.timeouts(cfg))
    else:
        from core import Lakehouse

        lh = Lakehouse.open(config=cfg)
    if cfg.profile is None and lh.profile.id != "default":  # activated earlier (here or in the TUI): say so
        print(f"profile: {lh.profile.id} (the active profile; `lakehouse --profile default profile activate "
              "default` to leave it)", file=sys.stderr)
    for note in lh.recovery_notes:
        print(f"recovered: {note}", file=sys.stderr)
    for problem in lh.profile_problems:
        print(f"warning: {problem}", file=sys.stderr)
    return lh


def _fail(e: LakehouseError) -> None:
    from core.errors import Cancelled

    if _ctrl_c.hit:  # the error is how Ctrl-C surfaced (DuckDB: "Query interrupted")
        _ctrl_c.say()
        raise typer.Exit(130)
    # a cancel the user asked for is an outcome, not an error: its sentence says "cancelled"
    print(str(e) if isinstance(e, Cancelled) else f"error: {e}", file=sys.stderr)
    raise typer.Exit(e.exit_code)


class _CtrlC:
    """Ctrl-C outside a job (a long query, a search, an answer streaming): the command
    stops where it is and the CLI says "cancelled" once, exit 130, no traceback."""
    hit = said = False

    def handler(self, signum, frame):
        self.hit = True
        raise KeyboardInterrupt

    def say(self) -> None:
        if not self.said:
            self.said = True
            print("cancelled", file=sys.stderr)


_ctrl_c = _CtrlC()


def _with_lh(fn):
    """Open the lakehouse, return fn(lh); a LakehouseError becomes one sentence and an exit code."""
    try:
        with _open() as lh:
            return fn(lh)
    except LakehouseError as e:
        _fail(e)


def _run_job(fn, *args, **kwargs):
    """Run a long facade call in a worker thread with a progress bar; Ctrl-C or SIGTERM
    cancels it. The signal handlers only set the cancel Event: an exception raised into
    the main thread while it joins the worker (Python 3.11) marks the still-running worker
    as stopped, and the interpreter then exits under it (a crash in native code)."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    cancel = threading.Event()
    box: dict = {}
    signals = [0]
    console = Console(stderr=True)
    # the description names files and datasets: literal text (markup=False, inert), never markup
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, int] = {}
        units: dict[str, str] = {}

        def listener(ev):
            if ev.job_id not in tasks:
                tasks[ev.job_id] = bar.add_task(inert(ev.target), total=None, unit="")
            if units.setdefault(ev.job_id, ev.unit) != ev.unit:  # a new phase: its own rate and ETA
                units[ev.job_id] = ev.unit
                bar.reset(tasks[ev.job_id])
            bar.update(tasks[ev.job_id], completed=ev.done,
                       total=ev.total if ev.total else None, unit=inert(ev.unit),
                       description=inert(f"{ev.kind} {ev.target}: {ev.message}"[:70]))

        def work():
            try:
                box["result"] = fn(*args, progress=listener, cancel=cancel, **kwargs)
            except BaseException as e:  # handed to the main thread
                box["error"] = e

        def on_signal(signum, frame):  # runs between bytecodes of the main thread: no I/O here
            signals[0] += 1
            cancel.set()

        # not a daemon thread: the process never ends while it is inside native code
        t = threading.Thread(target=work, name="lakehouse-job")
        previous = _trap_signals(on_signal)
        try:
            t.start()
            told = 0
            while t.is_alive():
                t.join(0.1)
                if signals[0] != told:
                    told = signals[0]
                    if told == 1:
                        bar.console.print("cancelling… (the job stops at its next checkpoint; "
                                          "Ctrl-C twice more stops at once)", highlight=False, soft_wrap=True)
                    elif told == 2:
                        bar.console.print("still cancelling — waiting for the current step to stop "
                                          "(Ctrl-C once more stops at once)", highlight=False, soft_wrap=True)
                    else:
                        _stop_now(fn)
        finally:
            _restore_signals(previous)
    if "error" in box:
        raise box["error"]
    if signals[0]:
        print("the job finished before the cancel reached it; its result is kept", file=sys.stderr)
    return box["result"]


def _trap_signals(handler) -> dict:
    """Route SIGINT and SIGTERM to `handler` (main thread only); the previous handlers."""
    import signal

    previous: dict = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGINT, signal.SIGTERM):
        old = signal.getsignal(sig)
        if sig == signal.SIGINT and old == signal.SIG_IGN:
            continue  # started with Ctrl-C ignored (nohup, `cmd &` in a script): keep it so
        previous[sig] = old
        signal.signal(sig, handler)
    return previous


def _restore_signals(previous: dict) -> None:
    import signal

    for sig, old in previous.items():
        signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _stop_now(fn) -> None:
    """A third signal: record this process's running jobs cancelled and exit at once.
    Whatever they had half-written is uncommitted and invisible; the next start removes it
    (tables) or resumes from it (an embedding's saved batches). A daemon cancels the jobs of
    a client that hangs up, so a remote call needs nothing here."""
    import os

    lh = getattr(fn, "__self__", None)
    catalog = getattr(lh, "__dict__", {}).get("catalog")  # in-process facade only, never a remote proxy

    def record():
        try:
            for j in catalog.jobs(100):
                if j.status == "running" and j.pid == os.getpid():
                    catalog.finish_job(j.id, "cancelled", f"{j.kind} of {j.target} was stopped at once "
                                       "(Ctrl-C three times); unfinished writes are cleaned up at the next start")
        except Exception:  # exiting regardless: the next start marks the job interrupted
            pass
    if catalog is not None:
        recorder = threading.Thread(target=record, daemon=True)
        recorder.start()
        recorder.join(5)
    print("cancelled: stopped at once; unfinished writes are cleaned up at the next start", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(None, "--home", help="Storage root (relocates all state; env LAKEHOUSE_HOME)."),
    config: Optional[str] = typer.Option(None, "--config", help="Config file to use instead of the default."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Work as this profile (env LAKEHOUSE_PROFILE; default: the active one)."),
    remote: Optional[str] = typer.Option(None, "--remote", metavar="[SOCKET]",
                                         help="Run the command in the daemon (`lakehouse serve`): this storage "
                                              "root's, or the one at SOCKET or HOST:PORT. Works before or after "
                                              "the subcommand."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
):
    state.home, state.config, state.profile, state.remote = home, config, profile, remote
    if version:
        from importlib.metadata import version as v

        print(f"lakehouse {v('lakehouse')}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        start()


def _demo_offer(lh) -> str:
    scale = lh.config.get("demo.scale")
    size = ("2.47M rows; ~20 s on an idle 2-core machine, longer on a busy one" if scale == 1
            else f"scale {scale:g} of 2.47M rows")
    return f"The storage root {lh.root} is empty. Load the demo workload (a staffing company, {size})?"


def start() -> None:
    """No subcommand: the workstation in a terminal; in a pipe or script, a summary."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        try:
            with _open() as lh:
                empty = not lh.datasets() and lh.config.get("demo.offer_on_first_run")
                try:
                    load = empty and typer.confirm(inert(_demo_offer(lh)), default=True)
                except typer.Abort:  # Ctrl-C or end of input at the question
                    print("\ncancelled", file=sys.stderr)
                    raise typer.Exit(130) from None
                if load:
                    _print_ingest(_run_job(lh.demo, lh.config.get("demo.scale")))
        except LakehouseError as e:
            _fail(e)
        _open_tui(None, None)
        return
    try:
        lh = _open()
        try:
            if not lh.datasets() and lh.config.get("demo.offer_on_first_run"):
                print(f"The storage root {lh.root} is empty. Load the demo workload with "
                      "`lakehouse demo`, or your own files with `lakehouse ingest PATH`.")
                return
            _print_datasets(lh.datasets(), ListFormat.table)
            names = {d.name for d in lh.datasets()}
            if "candidates" in names:
                q = ("SELECT city, count(*) AS candidates, round(avg(years_experience), 1) AS avg_years "
                     "FROM candidates GROUP BY city ORDER BY candidates DESC LIMIT 5")
            else:
                first = lh.datasets()[0].name
                q = f'SELECT * FROM "{first}" LIMIT 5'
            print(f"\nsample query: lakehouse sql '{q}'")
            from app.output import print_result

            print_result(lh.sql_rows(q, lh.config.get("sql.display_rows")))
        finally:
            lh.close()
    except LakehouseError as e:
        _fail(e)


def _print_ingest(results, as_json: bool = False) -> int:
    """One line per file for a few files; a summary per dataset for many. Failures
    always get their own line on stderr. Returns the exit code."""
    from app.output import dumps

    if as_json:
        print(dumps([r.to_dict() for r in results]))
    for r in results:
        if r.status == "failed":
            print(f"error: {r.message}", file=sys.stderr)
    if not as_json:
        shown = [r for r in results if r.status != "failed"]
        if len(shown) <= 10:
            for r in shown:
                print(r.message, file=sys.stderr if r.status == "skipped" else sys.stdout)
                for n in r.notes:
                    print(f"  note: {n}")
        else:
            groups: dict[tuple[str, str], list] = {}
            for r in shown:
                groups.setdefault((r.dataset, r.status), []).append(r)
            for (ds, status), rs in groups.items():
                files = f"{len(rs)} file{'s' if len(rs) != 1 else ''}"
                if status == "ingested":
                    v = max(x.table_version or 0 for x in rs)
                    print(f"{ds}: {files} ingested, {count(sum(x.rows for x in rs), 'row')} (version {v})")
                elif status == "unchanged":
                    print(f"{ds}: {files} already ingested (identical bytes) — nothing written")
                else:
                    print(f"{files} skipped (unknown type)", file=sys.stderr)
                for x in rs:
                    for n in x.notes:
                        print(f"  note: {n}")
    return 1 if any(r.status == "failed" for r in results) else 0


@app.command()
def ingest(
    paths: List[str] = typer.Argument(..., help="Files, directories or globs."),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset name (default: from the file name; documents go to 'documents')."),
    format: Optional[str] = typer.Option(None, "--format", help="Input format: csv, tsv, json, parquet, pdf, text (default: from the extension)."),
    types: Optional[str] = typer.Option(None, "--types", help="Column types that override inference, e.g. id=BIGINT,price=DECIMAL(10,2)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="create (default for tables), append (default for documents), replace or upsert."),
    key: Optional[str] = typer.Option(None, "--key", help="Primary key column(s), e.g. id or region,id: declared at create, matched by upsert."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who is making the change (default: your user name)."),
    reason: str = typer.Option("", "--reason", help="Why, for the journal."),
    json_out: bool = typer.Option(False, "--json", help="Print per-file results as JSON."),
):
    """Ingest CSV/TSV, JSON/NDJSON, Parquet, PDF and text files into Delta tables."""
    try:
        with _open() as lh:
            results = _run_job(lh.ingest, paths, name=name, format=format, types=types, mode=mode,
                               key=key, actor=actor, reason=reason)
    except LakehouseError as e:
        _fail(e)
    raise typer.Exit(_print_ingest(results, json_out))


def _print_datasets(datasets, fmt: ListFormat) -> None:
    from app.output import human_bytes, print_records

    records = [d.to_dict() for d in datasets]
    if fmt == ListFormat.json:
        print_records(records, [], "json")
        return
    for r in records:
        r["size"] = human_bytes(r["bytes"])
        r["rows"] = f"{r['row_count']:,}"
        r["columns"] = len(r["columns"])
        r["updated"] = r["updated_at"][:16].replace("T", " ")
    print_records(records, ["name", "kind", "format", "rows", "columns", "size", "updated"], "table")


@app.command()
def datasets(format: ListFormat = _LIST_FORMAT):
    """List datasets with their size and freshness."""
    _with_lh(lambda lh: _print_datasets(lh.datasets(), format))


@app.command()
def describe(
    name: str = typer.Argument(..., help="Dataset name."),
    format: ListFormat = _LIST_FORMAT,
):
    """Schema, row count, lineage and a sample of one dataset."""
    from app.output import dumps, human_bytes, print_rows

    d = _with_lh(lambda lh: lh.describe(name))
    if format == ListFormat.json:
        print(dumps(d.to_dict()))
        return
    ds = d.dataset
    print(f"{ds.name}  ({ds.kind}, {ds.format})  {count(ds.row_count, 'row')}  {human_bytes(ds.bytes)}  "
          f"version {ds.table_version}  updated {ds.updated_at[:19].replace('T', ' ')}")
    if ds.description:
        print(ds.description)
    if ds.owner or ds.tags:
        print(f"owner: {ds.owner or '-'}   tags: {', '.join(ds.tags) or '-'}")
    print(f"primary key: {', '.join(ds.primary_key) or '(none — update/delete/upsert need one)'}"
          + ("   pinned in the hot cache" if ds.pinned else ""))
    print_rows(["column", "type", "nullable"], [(c.name, c.type, c.nullable) for c in ds.columns],
               title="schema")
    print_rows(["source", "format", "mode", "rows", "version", "sha256", "at", "active"],
               [(l.source_uri, l.format, l.mode, l.rows, l.table_version, l.content_hash[:12],
                 l.created_at[:19].replace("T", " "), l.active) for l in d.lineage], title="lineage",
               full=("source",))  # a path cut short would hide its file name
    if len(d.schema_versions) > 1:
        print_rows(["schema version", "table version", "columns", "at"],
                   [(s.schema_version, s.table_version, ", ".join(c.name for c in s.columns),
                     s.created_at[:19]) for s in d.schema_versions], title="schema versions")
    sample = d.sample
    print_rows(sample.column_names, zip(*(c.to_pylist() for c in sample.columns)) if sample.num_rows else [],
               title="sample")


@app.command()
def sql(
    query: str = typer.Argument(..., help="One read-only SQL statement ('-' reads it from stdin)."),
    format: RowFormat = typer.Option(RowFormat.table, "--format", help="table, csv, json or parquet."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write rows to FILE instead of stdout."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Read as of a version (v3; one dataset) or a time (2026-01-31T12:00; every dataset)."),
):
    """Run SQL over the datasets (DuckDB; each dataset is a view by its name; "name@v3" reads an old version)."""
    from app.output import print_result, write_result
    from core.query.export import format_of

    if query == "-":
        query = sys.stdin.read()
    try:
        with _open() as lh:
            fmt = format.value
            if format is RowFormat.table and output:  # the file's extension says which format
                fmt = format_of(output) or ""
                if not fmt:
                    raise ValueError(f"cannot tell the format of {output} — give --format csv, json or parquet")
            if fmt == "table":
                print_result(lh.sql_rows(query, lh.config.get("sql.display_rows"), as_of=as_of))
                return
            n = write_result(lh.sql_stream(query, as_of=as_of), fmt, output)
    except LakehouseError as e:
        _fail(e)
    except BrokenPipeError:  # `lakehouse sql … | head`: the reader has all it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    if output:
        print(f"wrote {count(n, 'row')} to {output}", file=sys.stderr)


@app.command()
def annotate(
    name: str = typer.Argument(..., help="Dataset name."),
    description: Optional[str] = typer.Option(None, "--description", help="What the dataset holds."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Who answers for it."),
    tag: Optional[List[str]] = typer.Option(None, "--tag", help="A tag (repeat for several; replaces the tags)."),
):
    """Set a dataset's description, owner or tags."""
    d = _with_lh(lambda lh: lh.annotate(name, description=description, owner=owner, tags=tag))
    print(f"{d.name}: description {d.description!r}, owner {d.owner!r}, tags {', '.join(d.tags) or '-'}")


def _parse_sets(sets: List[str]) -> dict:
    out = {}
    for item in sets:
        col, eq, value = item.partition("=")
        if not eq or not col.strip():
            print(f"error: --set {item!r} is not col=value — write e.g. --set city=Chicago", file=sys.stderr)
            raise typer.Exit(2)
        out[col.strip()] = value
    return out


def _print_mutation(result, as_json: bool) -> None:
    from app.output import dumps

    if as_json:
        print(dumps(result.to_dict()))
        return
    print(result.message)
    for ch in result.changes:
        print(f"  {ch['field']}: {ch['old']!r} -> {ch['new']!r}")
    if result.files_rewritten or result.bytes_written:
        print(f"  rewrote {result.files_rewritten} data file(s), wrote {result.bytes_written:,} bytes")


@app.command()
def update(
    name: str = typer.Argument(..., help="Dataset name."),
    key: str = typer.Option(..., "--key", help="The record's primary key value (comma-separated for a composite key)."),
    set_: List[str] = typer.Option(..., "--set", help="col=value (repeat; 'null' sets NULL)."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: your user name)."),
    reason: str = typer.Option("", "--reason", help="Why, for the journal."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Update fields of one record by primary key (journaled per field)."""
    values = _parse_sets(set_)
    _with_lh(lambda lh: _print_mutation(lh.update(name, key, values, actor=actor, reason=reason), json_out))


@app.command()
def delete(
    name: str = typer.Argument(..., help="Dataset name."),
    key: str = typer.Option(..., "--key", help="The record's primary key value."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: your user name)."),
    reason: str = typer.Option("", "--reason", help="Why, for the journal."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Delete one record by primary key (its last values are journaled; restore brings it back)."""
    _with_lh(lambda lh: _print_mutation(lh.delete(name, key, actor=actor, reason=reason), json_out))


@app.command()
def restore(
    name: str = typer.Argument(..., help="Dataset name."),
    version: Optional[int] = typer.Option(None, "--version", help="The version to bring back."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Or the state at this time (ISO)."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: your user name)."),
    reason: str = typer.Option("", "--reason", help="Why, for the journal."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Make an old state current again as a new version (history is never rewritten)."""
    try:
        with _open() as lh:
            _print_mutation(lh.restore(name, version=version, as_of=as_of, actor=actor, reason=reason),
                            json_out)
    except LakehouseError as e:
        _fail(e)


@app.command()
def versions(
    name: str = typer.Argument(..., help="Dataset name."),
    format: ListFormat = _LIST_FORMAT,
):
    """Versions of a dataset: time, operation, rows added/updated/deleted, actor."""
    from app.output import print_records

    records = _with_lh(lambda lh: lh.versions(name))
    for r in records:
        r["time"] = r["timestamp"][:19].replace("T", " ")
    print_records(records, ["version", "time", "operation", "source", "rows", "rows_added",
                            "rows_updated", "rows_deleted", "actor", "reason"], format.value)


@app.command()
def history(
    name: str = typer.Argument(..., help="Dataset name."),
    key: Optional[str] = typer.Argument(None, help="One record's key (default: the whole dataset)."),
    format: ListFormat = _LIST_FORMAT,
):
    """The journal of a dataset or of one record: who changed what, when and why."""
    from app.output import print_records

    records = _with_lh(lambda lh: lh.history(name, key))
    if format == ListFormat.table and not records:
        print(f"no journal events for {name}" + (f" key {key!r}" if key else ""), file=sys.stderr)
        return
    for r in records:
        r["time"] = r["ts"][:19].replace("T", " ")
    print_records(records, ["time", "table_version", "source", "entity", "field", "old_value",
                            "new_value", "actor", "reason"], format.value)


@app.command()
def compact(
    name: str = typer.Argument(..., help="Dataset name."),
    vacuum: bool = typer.Option(False, "--vacuum", help="Also remove unreferenced files older than the retention."),
    retain: Optional[int] = typer.Option(None, "--retain", help="Retention in hours for --vacuum (default: tables.vacuum_retain_hours, 168)."),
):
    """Merge small files (Delta optimize); with --vacuum, remove old unreferenced files."""
    r = _with_lh(lambda lh: lh.compact(name, vacuum=vacuum, retain_hours=retain))
    print(f"{name}: {r['files_before']} -> {r['files_after']} data files (version {r['table_version']})")
    if vacuum:
        print(f"  vacuum removed {r['vacuumed_files']} unreferenced file(s) older than {r['retain_hours']} h")


@app.command()
def pin(name: str = typer.Argument(..., help="Dataset name.")):
    """Keep a dataset in memory (the hot cache) for faster queries."""
    _with_lh(lambda lh: lh.pin(name))
    print(f"{name} is pinned: queries load it into memory once and read it from there")


@app.command()
def unpin(name: str = typer.Argument(..., help="Dataset name.")):
    """Stop keeping a dataset in memory."""
    _with_lh(lambda lh: lh.unpin(name))
    print(f"{name} is no longer pinned")


@app.command("cache")
def cache_cmd(format: ListFormat = _LIST_FORMAT):
    """Pinned datasets and this process's hot cache: memory, hits, misses."""
    from app.output import dumps, human_bytes, print_records

    stats = _with_lh(lambda lh: lh.cache())
    if format == ListFormat.json:
        print(dumps(stats))
        return
    print(f"limit {human_bytes(stats['limit_bytes'])}, used {human_bytes(stats['used_bytes'])}, "
          f"hits {stats['hits']}, misses {stats['misses']}, evictions {stats['evictions']}")
    cached = {c["name"]: c for c in stats["cached"]}
    print_records([{"dataset": n, "state": "in memory" if n in cached else "loads on first query",
                    "memory": human_bytes(cached[n]["bytes"]) if n in cached else "-"}
                   for n in stats["pinned"]], ["dataset", "state", "memory"], "table")


@app.command()
def resync(name: Optional[str] = typer.Argument(None, help="Dataset (default: all). Naming one also adopts "
                                                 "commits in its log that lakehouse did not write.")):
    """Rebuild row counts, sizes and columns from the tables when the catalog drifted.

    A commit in a table's log that lakehouse did not write (another tool's, such as
    Spark's, or a planted file) is never applied on its own: recovery reports it in
    `lakehouse errors`. `lakehouse resync NAME` adopts it as the dataset's current
    state; to discard it instead, delete the log file the error names."""
    try:
        with _open() as lh:
            for note in lh.resync(name):
                print(note)
    except LakehouseError as e:
        _fail(e)


@jobs_app.callback(invoke_without_command=True)
def jobs(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", help="How many recent jobs."),
    format: ListFormat = _LIST_FORMAT,
):
    """List running and recent jobs with their outcome."""
    if ctx.invoked_subcommand is not None:
        return
    from app.output import print_records

    records = _with_lh(lambda lh: [j.to_dict() for j in lh.jobs(limit)])
    for r in records:
        r["progress"] = (f"{r['done']:,.0f}/{r['total']:,.0f} {r['unit']}" if r["total"]
                         else f"{r['done']:,.0f} {r['unit']}".strip())
        r["started"] = r["started_at"][:19].replace("T", " ")
    print_records(records, ["id", "kind", "target", "status", "progress", "started", "message"],
                  format.value)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str = typer.Argument(..., help="Job id from `lakehouse jobs`.")):
    """Ask a running job (in any process) to stop; it cleans up what it started."""
    ok = _with_lh(lambda lh: lh.cancel_job(job_id))
    if ok:
        print(f"cancel requested for job {job_id}")
    else:
        print(f"error: job {job_id} is not running", file=sys.stderr)
        raise typer.Exit(1)


@jobs_app.command("retry")
def jobs_retry(job_id: str = typer.Argument(..., help="Id of a failed, cancelled or interrupted job (`lakehouse jobs`).")):
    """Run a failed, cancelled or interrupted job's command again, here, as a new job (Ctrl-C cancels)."""
    try:
        with _open() as lh:
            job = lh.job(job_id)
            r = _run_job(lh.retry_job, job_id)
            print(f"job {job_id} ({job.kind} of {job.target}) retried as a new job", file=sys.stderr)
            resumes = lh.index("resumes") if job.kind == "demo" else None
    except LakehouseError as e:
        _fail(e)
    if isinstance(r, list):  # ingest, demo: per-file results
        code = _print_ingest(r)
        if resumes is not None and resumes.active is not None:
            print(f"index resumes g{resumes.active.gen}: {resumes.active.chunks:,} resume chunks of candidates, "
                  f"{resumes.active.embedder}")
        raise typer.Exit(code)
    if isinstance(r, dict) and "steps" in r:  # a profile activation
        for step, outcome in r["steps"].items():
            print(f"{step}: {outcome}")
        print(f"{r['profile']} is the active profile ({r['seconds']:.2f} s)")
    elif hasattr(r, "embedded"):  # an embed
        _print_embed(r)
    else:  # an index rebuild
        print(f"{job.target.split()[0]} g{r.gen}: rebuilt from its {r.chunks:,} stored embeddings")


@app.command()
def errors(
    since: Optional[str] = typer.Option(None, "--since", help="Only newer failures: 30m, 2h, 7d or an ISO time."),
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first."),
    format: ListFormat = _LIST_FORMAT,
):
    """Operational failures (refused ingests, failed jobs), newest first. Also: SELECT * FROM _errors."""
    from app.output import print_records

    records = _with_lh(lambda lh: [e.to_dict() for e in lh.errors(since, limit)])
    if format == ListFormat.table and not records:
        print("no errors" + (f" since {since}" if since else ""), file=sys.stderr)
        return
    for r in records:
        r["time"] = r["ts"][:19].replace("T", " ")
    print_records(records, ["time", "operation", "dataset", "message"], format.value)


@app.command()
def demo(scale: Optional[float] = typer.Option(None, "--scale", help="Size factor: 1 = 2.47M rows (default: [demo] scale).")):
    """Generate and ingest the reference staffing workload (deterministic)."""
    try:
        with _open() as lh:
            code = _print_ingest(_run_job(lh.demo, scale if scale is not None else lh.config.get("demo.scale")))
            info = lh.index("resumes")
    except LakehouseError as e:
        _fail(e)
    a = info.active
    print(f"index resumes g{a.gen}: {a.chunks:,} resume chunks of candidates, {a.embedder} — try "
          "`lakehouse search resumes \"someone who could handle our Kubernetes migration\" --where \"state='IL'\"`")
    raise typer.Exit(code)


class Embedder(str, Enum):
    auto = "auto"
    ollama = "ollama"
    hashing = "hashing"


class IndexKind(str, Enum):
    hnsw = "hnsw"
    exact = "exact"


@app.command()
def embed(
    dataset: str = typer.Argument(..., help="Dataset whose text column to embed."),
    column: str = typer.Option(..., "--column", "-c", help="The text column."),
    index: Optional[str] = typer.Option(None, "--index", help="Index name (default DATASET_COLUMN)."),
    key: Optional[str] = typer.Option(None, "--key", help="Column(s) identifying a row, comma-separated (default: the primary key)."),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Characters per chunk (default from config, 1000)."),
    overlap: Optional[int] = typer.Option(None, "--overlap", help="Characters shared by consecutive chunks (default 150)."),
    embedder: Optional[Embedder] = typer.Option(None, "--embedder", help="auto, ollama or hashing (default: the index's, else config)."),
    model: Optional[str] = typer.Option(None, "--model", help="Ollama embedding model (default nomic-embed-text)."),
    kind: Optional[IndexKind] = typer.Option(None, "--kind", help="hnsw (approximate) or exact (brute force)."),
    m: Optional[int] = typer.Option(None, "--m", help="HNSW links per node."),
    ef_construction: Optional[int] = typer.Option(None, "--ef-construction", help="HNSW build beam."),
    ef_search: Optional[int] = typer.Option(None, "--ef-search", help="HNSW search beam."),
    promote: Optional[bool] = typer.Option(None, "--promote/--no-promote", help="Make the new generation active (default: when it refreshes the active one's embedder)."),
    format: ListFormat = _LIST_FORMAT,
):
    """Embed a text column into a new index generation (only new or changed chunks are embedded)."""
    try:
        with _open() as lh:
            r = _run_job(lh.embed, dataset, column, index=index, key=key, chunk_size=chunk_size,
                         overlap=overlap, embedder=embedder.value if embedder else None, model=model,
                         kind=kind.value if kind else None, m=m, ef_construction=ef_construction,
                         ef_search=ef_search, promote=promote)
    except LakehouseError as e:
        _fail(e)
    _print_embed(r, format)


def _print_embed(r, format: ListFormat = ListFormat.table) -> None:
    from app.output import dumps

    if r.note:
        print(f"note: {r.note}", file=sys.stderr)
    if format == ListFormat.json:
        print(dumps(r.to_dict()))
        return
    if r.up_to_date:
        print(f"{r.index} is up to date: g{r.gen} already has all {r.chunks:,} chunks of "
              f"{r.dataset}.{r.column} — nothing embedded ({r.embedder})")
        return
    rate = r.embedded / r.seconds if r.seconds else 0
    print(f"{r.index} g{r.gen}: {count(r.rows, 'row')} -> {count(r.chunks, 'chunk')}; {r.embedded:,} embedded"
          f"{f' ({rate:,.0f} chunks/s)' if r.embedded else ''}, {r.reused:,} reused"
          f"{f', {r.removed:,} removed' if r.removed else ''}"
          f"{f', {r.split_inputs:,} long inputs split' if r.split_inputs else ''} in {r.seconds:.1f} s")
    print(f"embedder: {r.embedder}")
    if r.promoted:
        print(f"active: g{r.gen}")
    else:
        print(f"active: g{r.active_gen} (g{r.gen} is built beside it) — compare with `lakehouse search "
              f"--compare {r.index}@g{r.active_gen} {r.index}@g{r.gen} \"TEXT\"`, then "
              f"`lakehouse index promote {r.index} {r.gen}`")


def _hit_rows(result, width_cols: int = 4) -> tuple[list[str], list[list]]:
    """Rank, score, row key, chunk text, then the first few source columns."""
    extra: list[str] = []
    for h in result.hits:
        if h.row:
            extra = [c for c in h.row if c not in result.key and c != result.column][:width_cols]
            break
    cols = ["rank", "score", "row_key", "text"] + extra
    rows = [[h.rank, f"{h.score:.3f}", h.row_key, h.text] + [(h.row or {}).get(c) for c in extra]
            for h in result.hits]
    return cols, rows


def _search_caption(r) -> str:
    scope = f"{r.passed_filter:,} of {r.chunks:,} chunks passed --where" if r.passed_filter is not None \
        else f"{r.chunks:,} chunks"
    source = f" ({r.hits[0].dataset}.{r.column})" if r.hits else ""
    return (f"{r.index} g{r.gen}{source} · {r.embedder} · {r.strategy} · {scope} · "
            f"{r.timings_ms['total_ms']:.1f} ms")


@app.command()
def search(
    args: List[str] = typer.Argument(..., help="INDEX TEXT, or with --compare: INDEX@gA INDEX@gB TEXT."),
    k: int = typer.Option(10, "-k", "--k", help="Number of results."),
    where: Optional[str] = typer.Option(None, "--where", help="SQL condition on the source dataset; only rows passing it are ranked."),
    ef: Optional[int] = typer.Option(None, "--ef", help="HNSW search beam for this query (default: the generation's)."),
    embedder: Optional[Embedder] = typer.Option(None, "--embedder", help="Must match the embedder that built the index."),
    compare: bool = typer.Option(False, "--compare", help="Search two generations side by side (overlap@k)."),
    format: ListFormat = _LIST_FORMAT,
):
    """Search an index by meaning; --where narrows to rows passing a SQL condition (hybrid)."""
    from app.output import dumps, print_rows

    want = 3 if compare else 2
    if len(args) != want:
        usage = "INDEX@gA INDEX@gB TEXT" if compare else "INDEX TEXT"
        print(f"error: search takes {usage} (got {len(args)} argument{'s' if len(args) != 1 else ''}) — "
              "quote the search text", file=sys.stderr)
        raise typer.Exit(2)
    try:
        with _open() as lh:
            if compare:
                out = lh.compare(args[0], args[1], args[2], k, where=where)
            else:
                out = lh.search(args[0], args[1], k, where=where, ef=ef,
                                embedder=embedder.value if embedder else None)
    except LakehouseError as e:
        _fail(e)
    if not compare:
        if format == ListFormat.json:
            print(dumps(out.to_dict()))
            return
        cols, rows = _hit_rows(out)
        print_rows(cols, rows, caption=_search_caption(out), wide=("text",))
        return
    a, b = out["a"], out["b"]
    if format == ListFormat.json:
        print(dumps({"a": a.to_dict(), "b": b.to_dict(), "overlap": out["overlap"], "k": out["k"]}))
        return
    both = {h.row_key for h in a.hits} & {h.row_key for h in b.hits}
    n = max(len(a.hits), len(b.hits))
    rows = []
    for i in range(n):
        ha = a.hits[i] if i < len(a.hits) else None
        hb = b.hits[i] if i < len(b.hits) else None
        rows.append([i + 1, _compare_cell(ha, both), _compare_cell(hb, both)])
    print_rows(["rank", f"{a.index}@g{a.gen}", f"{b.index}@g{b.gen}"], rows, wide=(f"{a.index}@g{a.gen}", f"{b.index}@g{b.gen}"),
               caption=f"overlap@{out['k']}: {out['overlap']:.2f} ('=' marks rows in both)\n"
                       f"A: {_search_caption(a)}\nB: {_search_caption(b)}")


def _compare_cell(h, both: set) -> str:
    return "" if h is None else f"{'=' if h.row_key in both else ' '} {h.row_key} {h.score:.3f}  {h.text}"


def _gen_arg(gen: str) -> int:
    g = gen.strip().lower().removeprefix("g")
    if not g.isdigit():
        print(f"error: {gen!r} is not a generation — write g2 or 2", file=sys.stderr)
        raise typer.Exit(2)
    return int(g)


@index_app.command("list")
def index_list(format: ListFormat = _LIST_FORMAT):
    """Every index: its dataset column, active generation and embedder."""
    from app.output import dumps, print_records

    infos = _with_lh(lambda lh: lh.indexes())
    if format == ListFormat.json:
        print(dumps([i.to_dict() for i in infos]))
        return
    if not infos:
        print("no indexes yet — build one with `lakehouse embed DATASET --column COL`", file=sys.stderr)
        return
    recs = []
    for i in infos:
        a = i.active
        recs.append({"index": i.name, "source": f"{i.dataset}.{i.column}",
                     "active": f"g{i.active_gen}" if i.active_gen is not None else "-",
                     "generations": len(i.generations), "chunks": a.chunks if a else 0,
                     "embedder": a.embedder if a else "-",
                     "kind": f"{a.kind}" + (f" M{a.m} ef{a.ef_search}" if a and a.kind == "hnsw" else "") if a else "-",
                     "fresh": ("stale: dataset is at v%s, index at v%s" % (i.dataset_version, a.dataset_version))
                     if i.stale else "yes"})
    print_records(recs, ["index", "source", "active", "generations", "chunks", "embedder", "kind", "fresh"], "table")


@index_app.command("generations")
def index_generations(name: str = typer.Argument(..., help="Index name."),
                      format: ListFormat = _LIST_FORMAT):
    """The generations of an index: embedder, settings, size, build time; * marks the active one."""
    from app.output import dumps, human_bytes, print_records

    info = _with_lh(lambda lh: lh.index(name))
    if format == ListFormat.json:
        print(dumps(info.to_dict()))
        return
    recs = [{"gen": f"{'*' if g.active else ' '}g{g.gen}", "status": g.status, "embedder": g.embedder,
             "chunking": f"{g.chunk_size}/{g.overlap}",
             "kind": g.kind + (f" M{g.m} efc{g.ef_construction} ef{g.ef_search}" if g.kind == "hnsw" else ""),
             "chunks": g.chunks, "embedded": g.embedded, "reused": g.reused,
             "dataset_v": g.dataset_version, "size": human_bytes(g.bytes), "build_s": round(g.build_seconds, 1),
             "created": (g.created_at or "")[:19].replace("T", " ")} for g in info.generations]
    print_records(recs, ["gen", "status", "embedder", "chunking", "kind", "chunks", "embedded", "reused",
                         "dataset_v", "size", "build_s", "created"], "table")


@index_app.command("promote")
def index_promote(name: str = typer.Argument(..., help="Index name."),
                  gen: str = typer.Argument(..., help="Generation to make active (g2 or 2).")):
    """Make a generation the one searches use (an atomic pointer swap)."""
    g = _gen_arg(gen)
    info = _with_lh(lambda lh: lh.promote(name, g))
    print(f"{name}: g{info.active_gen} is active ({info.active.embedder})")


@index_app.command("rollback")
def index_rollback(name: str = typer.Argument(..., help="Index name.")):
    """Return to the generation that was active before the current one."""
    info = _with_lh(lambda lh: lh.rollback(name))
    print(f"{name}: rolled back; g{info.active_gen} is active ({info.active.embedder})")


@index_app.command("drop")
def index_drop(name: str = typer.Argument(..., help="Index name."),
               gen: Optional[str] = typer.Argument(None, help="One generation (default: the whole index).")):
    """Drop one generation (not the active one), or the whole index."""
    g = _gen_arg(gen) if gen else None
    print(_with_lh(lambda lh: lh.drop_index(name, g)))


@index_app.command("rebuild")
def index_rebuild(name: str = typer.Argument(..., help="Index name."),
                  gen: str = typer.Argument(..., help="Generation (g2 or 2).")):
    """Rebuild a generation's vector and HNSW files from its embeddings (the Parquet truth)."""
    n = _gen_arg(gen)
    g = _with_lh(lambda lh: _run_job(lh.rebuild_index, name, n))
    print(f"{name} g{g.gen}: rebuilt from its {g.chunks:,} stored embeddings")


@index_app.command("verify")
def index_verify(name: str = typer.Argument(..., help="Index name."),
                 gen: Optional[str] = typer.Argument(None, help="One generation (default: all).")):
    """Check every file of an index's generations against its recorded size and checksum."""
    g = _gen_arg(gen) if gen else None
    problems = _with_lh(lambda lh: lh.verify_index(name, g))
    for p in problems:
        print(f"problem: {p} — `lakehouse index rebuild {name} GEN` rebuilds it from its embeddings",
              file=sys.stderr)
    if problems:
        raise typer.Exit(1)
    print(f"{name}: all files match their checksums")


class AskMode(str, Enum):
    auto = "auto"
    sql = "sql"
    rag = "rag"


@app.command()
def ask(
    question: Optional[str] = typer.Argument(None, help="The question, in plain language."),
    mode: AskMode = typer.Option(AskMode.auto, "--mode", help="auto (routes, and says why), sql or rag."),
    index: Optional[str] = typer.Option(None, "--index", help="Index for RAG (default [ask] index, or the only one)."),
    model: Optional[str] = typer.Option(None, "--model", help="Chat model (default [ollama] chat_model)."),
    accept: Optional[str] = typer.Option(None, "--accept", help="Accept ask ID's question->SQL pair as an example."),
    format: ListFormat = typer.Option(ListFormat.table, "--format", help="table (streams the answer) or json."),
):
    """Ask your data a question: the local model writes SQL or reads passages; answers cite them."""
    from app.output import dumps, print_rows

    if accept:
        row = _with_lh(lambda lh: lh.accept(accept))
        print(f"accepted ask {accept}: later questions like {row['question']!r} get its SQL as an example")
        return
    if not question:
        print("error: give a question, e.g. lakehouse ask \"how many candidates per state?\"", file=sys.stderr)
        raise typer.Exit(2)
    stream = format == ListFormat.table

    def on_token(piece: str) -> None:  # a model's answer: shown, never obeyed
        sys.stdout.write(inert(piece, tabs=True))
        sys.stdout.flush()
    result = _with_lh(lambda lh: lh.ask(question, mode=mode.value, index=index, model=model,
                                        on_token=on_token if stream else None))
    if not stream:
        print(dumps(result.to_dict()))
        return
    if result.outcome == "not_in_data":
        print(result.answer)
    else:
        print()
    print(f"({result.reason})", file=sys.stderr)
    if result.sql:
        print(f"\nSQL: {result.sql}")
        if result.rows:
            print_rows(result.columns, [[r[c] for c in result.columns] for r in result.rows[:20]],
                       caption=f"{result.row_count:,} row(s)" + (", first 20 shown" if result.row_count > 20 else ""))
    if result.where:
        print(f"filter: {result.where}")
    for c in result.citations:
        print(f"[{c.n}] {c.dataset} {c.row_key} (score {c.score:.2f}): {c.text[:160]}")
    t = result.timings_ms
    tail = f"ask {result.id} · {result.model} · {t.get('total_ms', 0) / 1000:.1f} s (model {t.get('model_ms', 0) / 1000:.1f} s)"
    if result.sql and result.outcome == "answered":
        tail += f" — keep this SQL as an example: lakehouse ask --accept {result.id}"
    print(tail, file=sys.stderr)


@app.command()
def models(format: ListFormat = _LIST_FORMAT):
    """Ollama models: installed (with digests) and loaded in memory (with size and expiry)."""
    from app.output import dumps, human_bytes, print_records

    info = _with_lh(lambda lh: lh.models())
    if format == ListFormat.json:
        print(dumps(info))
        return
    print(f"Ollama at {info['host']}", file=sys.stderr)
    print_records([{"model": m["name"], "digest": m["digest"].removeprefix("sha256:")[:12],
                    "size": human_bytes(m["size"]), "family": m["family"], "parameters": m["parameter_size"],
                    "quantization": m["quantization"]} for m in info["installed"]],
                  ["model", "digest", "size", "family", "parameters", "quantization"], "table")
    if info["loaded"]:
        print_records([{"loaded": m["name"], "memory": human_bytes(m["size"]), "vram": human_bytes(m["size_vram"]),
                        "context": m["context_length"], "expires": m["expires_at"][:19]} for m in info["loaded"]],
                      ["loaded", "memory", "vram", "context", "expires"], "table")
    else:
        print("no model is loaded", file=sys.stderr)


def _split(value: str | None) -> list[str] | None:
    return [x.strip() for x in value.split(",") if x.strip()] if value is not None else None


def _profile_changes(description, datasets, indexes, chat_model, embedder, embed_model, keep_alive,
                     m, ef_construction, ef_search, sql_timeout=None, sql_memory_limit=None) -> dict:
    hnsw = {k: v for k, v in (("m", m), ("ef_construction", ef_construction), ("ef_search", ef_search))
            if v is not None}
    return {"description": description, "datasets": _split(datasets), "indexes": _split(indexes),
            "chat_model": chat_model, "embedder": embedder, "embed_model": embed_model,
            "keep_alive": keep_alive, "hnsw": hnsw or None, "sql_timeout_s": sql_timeout,
            "sql_memory_limit": sql_memory_limit}


_P_DESC = typer.Option(None, "--description", help="What the profile is for.")
_P_DATASETS = typer.Option(None, "--datasets", help="Datasets it may see: names or globs, comma-separated.")
_P_INDEXES = typer.Option(None, "--indexes", help="Indexes it may search: names or globs, comma-separated.")
_P_CHAT = typer.Option(None, "--chat-model", help="Ollama chat model for its asks.")
_P_EMB = typer.Option(None, "--embedder", help="auto, ollama or hashing.")
_P_EMB_MODEL = typer.Option(None, "--embed-model", help="Ollama embedding model.")
_P_KEEP = typer.Option(None, "--keep-alive", help="How long Ollama keeps its models loaded (e.g. 10m).")
_P_M = typer.Option(None, "--m", help="HNSW M for its index builds.")
_P_EFC = typer.Option(None, "--ef-construction", help="HNSW ef_construction for its index builds.")
_P_EFS = typer.Option(None, "--ef-search", help="HNSW ef_search for its searches.")
_P_TIMEOUT = typer.Option(None, "--sql-timeout", help="Its queries' time limit in seconds (0 = none).")
_P_MEM = typer.Option(None, "--sql-memory-limit", help="Its queries' memory limit, e.g. 2GB.")


def _print_profile(p: dict) -> None:
    hnsw = ", ".join(f"{k} {v}" for k, v in p["hnsw"].items()) or "config defaults"
    print(f"profile {p['id']}{' (active)' if p['active'] else ''}: {p['description'] or '-'}")
    print(f"  datasets:    {', '.join(p['datasets'])}")
    print(f"  indexes:     {', '.join(p['indexes'])}")
    print(f"  chat model:  {p['chat_model'] or '[ollama] chat_model'}")
    print(f"  embedder:    {p['embedder'] or '[vectors] embedder'} ({p['embed_model'] or '[ollama] embed_model'})")
    print(f"  keep_alive:  {p['keep_alive'] or '[ollama] keep_alive'}")
    print(f"  hnsw:        {hnsw}")
    for problem in p["problems"]:
        print(f"  problem: {problem}", file=sys.stderr)


@profile_app.command("list")
def profile_list(format: ListFormat = _LIST_FORMAT):
    """Every profile; * marks the active one."""
    from app.output import dumps, print_records

    profiles = _with_lh(lambda lh: lh.profiles())
    if format == ListFormat.json:
        print(dumps(profiles))
        return
    print_records([{"profile": ("* " if p["active"] else "  ") + p["id"], "description": p["description"],
                    "datasets": ", ".join(p["datasets"]), "indexes": ", ".join(p["indexes"]),
                    "chat model": p["chat_model"] or "(config)",
                    "problems": "; ".join(p["problems"]) or "-"} for p in profiles],
                  ["profile", "description", "datasets", "indexes", "chat model", "problems"], "table")


@profile_app.command("show")
def profile_show(name: str = typer.Argument(..., help="Profile name."),
                 format: ListFormat = _LIST_FORMAT):
    """One profile's bindings, models and settings (and any binding that points at nothing)."""
    from app.output import dumps

    p = _with_lh(lambda lh: lh.profile_show(name))
    print(dumps(p)) if format == ListFormat.json else _print_profile(p)


@profile_app.command("create")
def profile_create(name: str = typer.Argument(..., help="Profile name."), description: Optional[str] = _P_DESC,
                   datasets: Optional[str] = _P_DATASETS, indexes: Optional[str] = _P_INDEXES,
                   chat_model: Optional[str] = _P_CHAT, embedder: Optional[str] = _P_EMB,
                   embed_model: Optional[str] = _P_EMB_MODEL, keep_alive: Optional[str] = _P_KEEP,
                   m: Optional[int] = _P_M, ef_construction: Optional[int] = _P_EFC, ef_search: Optional[int] = _P_EFS,
                   sql_timeout: Optional[float] = _P_TIMEOUT, sql_memory_limit: Optional[str] = _P_MEM):
    """Create a profile in lakehouse.toml (the rest of the file is kept as it was)."""
    changes = _profile_changes(description, datasets, indexes, chat_model, embedder, embed_model, keep_alive,
                               m, ef_construction, ef_search, sql_timeout, sql_memory_limit)
    if changes["datasets"] is None:
        print("error: a profile needs --datasets (names or globs it may see, e.g. documents,docs_*)", file=sys.stderr)
        raise typer.Exit(2)
    _print_profile(_with_lh(lambda lh: lh.profile_save(name, changes, create=True)))


@profile_app.command("edit")
def profile_edit(name: str = typer.Argument(..., help="Profile name."), description: Optional[str] = _P_DESC,
                 datasets: Optional[str] = _P_DATASETS, indexes: Optional[str] = _P_INDEXES,
                 chat_model: Optional[str] = _P_CHAT, embedder: Optional[str] = _P_EMB,
                 embed_model: Optional[str] = _P_EMB_MODEL, keep_alive: Optional[str] = _P_KEEP,
                 m: Optional[int] = _P_M, ef_construction: Optional[int] = _P_EFC, ef_search: Optional[int] = _P_EFS,
                 sql_timeout: Optional[float] = _P_TIMEOUT, sql_memory_limit: Optional[str] = _P_MEM):
    """Change some keys of a profile (the others, and the rest of the file, stay)."""
    changes = _profile_changes(description, datasets, indexes, chat_model, embedder, embed_model, keep_alive,
                               m, ef_construction, ef_search, sql_timeout, sql_memory_limit)
    _print_profile(_with_lh(lambda lh: lh.profile_save(name, changes, create=False)))


@profile_app.command("delete")
def profile_delete(name: str = typer.Argument(..., help="Profile name.")):
    """Remove a profile from lakehouse.toml."""
    print(_with_lh(lambda lh: lh.profile_delete(name)))


@profile_app.command("activate")
def profile_activate(name: str = typer.Argument(..., help="Profile name."),
                     wait: bool = typer.Option(False, "--wait", help="Run the activation here, with a progress bar."),
                     job_id: Optional[str] = typer.Option(None, "--job-id", hidden=True)):
    """Make a profile the active one: a background job that loads its indexes and models."""
    import os
    import subprocess
    import uuid

    if wait:
        r = _with_lh(lambda lh: _run_job(lh.activate, name, job_id=job_id))
        for step, outcome in r["steps"].items():
            print(f"{step}: {outcome}")
        print(f"{r['profile']} is the active profile ({r['seconds']:.2f} s)")
        return
    # the name, and whether this holder may activate it, are checked before anything starts
    lh = _with_lh(lambda lh: (lh.check_activate(name), lh.profile_show(name), lh)[2])
    jid = uuid.uuid4().hex[:12]
    logs = lh.root / "logs"
    logs.mkdir(exist_ok=True)
    args = [sys.executable, "-m", "app"]
    for flag, value in (("--home", state.home), ("--config", state.config), ("--remote", state.remote),
                        ("--profile", state.profile)):  # the child acts as the same holder
        if value:
            args += [flag, value]
    args += ["profile", "activate", name, "--wait", "--job-id", jid]
    with open(logs / f"activate-{jid}.log", "wb") as log:
        subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, env=os.environ.copy())
    print(f"activating {name} as job {jid} — `lakehouse jobs` shows its progress; "
          f"`lakehouse jobs cancel {jid}` stops it")


@app.command("audit")
def audit_cmd(of: Optional[str] = typer.Option(None, "--of", metavar="PROFILE",
                                               help="Only this profile's entries (--profile works as that profile, "
                                                    "which also shows only its own)."),
              since: Optional[str] = typer.Option(None, "--since", help="30m, 2h, 7d or an ISO time."),
              limit: int = typer.Option(50, "--limit", help="Most entries to show."),
              format: ListFormat = _LIST_FORMAT):
    """Every data access — SQL, search, ask, mutation, activation — newest first."""
    from app.output import print_records

    rows = _with_lh(lambda lh: lh.audit(of, since, limit))
    for r in rows:
        r["time"] = r["ts"][:19].replace("T", " ")
        r["ms"] = r["duration_ms"]
    print_records(rows, ["time", "profile", "action", "datasets", "statement", "row_count", "ms", "outcome"],
                  format.value)


@app.command()
def tui(theme: Optional[str] = typer.Option(None, "--theme", help="lakehouse-dark or lakehouse-light (default: [tui] theme)."),
        connect: Optional[str] = typer.Option(None, "--connect", metavar="[SOCKET]",
                                              help="Work through the daemon: this storage root's, or the one "
                                                   "at SOCKET or HOST:PORT (the same as --remote).")):
    """Open the workstation: Ask, Explore, SQL and System panes (F1–F4; ctrl+p lists every action)."""
    _open_tui(theme, connect)


def _open_tui(theme: Optional[str], connect: Optional[str]) -> None:
    """The workstation, for `lakehouse tui` and for `lakehouse` with no subcommand."""
    from themes import NAMES

    from core import config as cfg

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("error: the workstation needs a terminal (stdin and stdout are not one) — run `lakehouse tui` "
              "in a terminal, or use the `lakehouse` subcommands from scripts", file=sys.stderr)
        raise typer.Exit(2)
    try:
        c = cfg.load(home=state.home, config_file=state.config, profile=state.profile)
    except LakehouseError as e:
        _fail(e)
    chosen = theme or c.get("tui.theme")
    if chosen not in NAMES:
        print(f"error: unknown theme {chosen!r} — choose one of {', '.join(NAMES)}", file=sys.stderr)
        raise typer.Exit(2)
    connect = connect or state.remote
    opener = None
    if connect is not None:
        from app import remote

        address = remote.address_for(c, None if connect == "-" else connect)
        try:
            remote.connect(c, address).close()  # fail here, in one sentence, not inside the app
        except LakehouseError as e:
            _fail(e)

        def opener():
            return remote.connect(c, address)
    from app.tui import run

    run(state.home, state.config, state.profile, chosen, opener)


@app.command()
def serve(socket: Optional[str] = typer.Option(None, "--socket", help="Unix socket path (default: [daemon] socket, "
                                                 "else one per storage root in the user's runtime dir)."),
          tcp: Optional[str] = typer.Option(None, "--tcp", help="Also listen on HOST:PORT (e.g. 127.0.0.1:7788); "
                                              "clients need the token in STORAGE_ROOT/daemon.token."),
          detach: bool = typer.Option(False, "--detach", help="Run in the background; return once it answers.")):
    """Run the core headless behind a local socket: scripts, `--remote` commands and `tui --connect` share it."""
    import os

    from app import daemon

    if detach:
        raise typer.Exit(_detach(socket, tcp))

    def announce(d) -> None:
        extra = f"; TCP {d.tcp[0]}:{d.tcp[1]} (token in {d.root / 'daemon.token'})" if d.tcp else ""
        print(f"serving {d.root} on {d.socket_path} (pid {os.getpid()}){extra} — Ctrl-C or SIGTERM stops it",
              file=sys.stderr, flush=True)

    try:
        daemon.serve(state.home, state.config, socket, tcp, announce, profile=state.profile)
    except LakehouseError as e:
        _fail(e)
    print("daemon stopped", file=sys.stderr)


def _detach(socket: Optional[str], tcp: Optional[str]) -> int:
    """Start `lakehouse serve` in a new session; return 0 once it answers."""
    import subprocess
    import time

    from app import daemon, rpc
    from core import config as cfg

    try:
        c = cfg.load(home=state.home, config_file=state.config)
    except LakehouseError as e:
        _fail(e)
    c.root.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "app"]
    for flag, value in (("--home", state.home), ("--config", state.config), ("--profile", state.profile)):
        if value:
            args += [flag, value]
    args += ["serve"] + (["--socket", socket] if socket else []) + (["--tcp", tcp] if tcp else [])
    log_path = rpc.log_file(c.root)
    with open(log_path, "ab") as log:
        child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            print(f"{tail[0]}", file=sys.stderr)
            return child.returncode or 1
        info = daemon.read_state(c.root)
        if info and info.get("pid") == child.pid:
            print(f"serving {c.root} on {info['socket']} (pid {child.pid}; log {log_path}) — "
                  f"`lakehouse status` shows it, `kill {child.pid}` stops it")
            return 0
        time.sleep(0.05)
    print(f"error: the daemon did not answer within 60 s — see {log_path}", file=sys.stderr)
    return 1


@app.command()
def status(format: ListFormat = _LIST_FORMAT):
    """Whether a daemon serves this storage root: pid, socket, uptime, clients, jobs (exit 1 if none)."""
    from app import daemon, remote
    from app.output import dumps
    from core import config as cfg

    try:
        c = cfg.load(home=state.home, config_file=state.config)
        address = remote.address_for(c, None if state.remote in (None, "-") else state.remote)
        info = daemon.read_state(c.root) or {}
        if state.remote in (None, "-") and info.get("socket"):
            address = info["socket"]  # the one it really listens on
        try:
            with remote.RemoteLakehouse(address, remote.token_for(c, address), **remote.timeouts(c)) as r:
                st = r.status()
        except remote.Unreachable:
            if format == ListFormat.json:
                print(dumps({"running": False, "root": str(c.root), "socket": address}))
            else:
                print(f"no daemon serves {c.root} (socket {address}) — start one with `lakehouse serve --detach`")
            raise typer.Exit(1)
    except LakehouseError as e:
        _fail(e)
    if format == ListFormat.json:
        print(dumps({"running": True, **st}))
        return
    up = st["uptime_s"]
    print(f"daemon running: pid {st['pid']}, serving {st['root']}")
    print(f"  socket:   {st['socket']}" + (f"   tcp: {st['tcp']}" if st["tcp"] else ""))
    print(f"  uptime:   {int(up // 3600)}h {int(up % 3600 // 60)}m {up % 60:.0f}s")
    print(f"  clients:  {st['clients']} connected (this one included), {st['requests']:,} requests served")
    print("  jobs:     " + (", ".join(f"{j['kind']} {j['target']} ({j['id']})" for j in st["jobs"]) or "none running"))


@app.command("config")
def config_cmd(format: ListFormat = _LIST_FORMAT):
    """Print the effective configuration and where each value came from."""
    from app.output import print_records

    from core import config as cfg

    try:
        c = cfg.load(home=state.home, config_file=state.config)
    except LakehouseError as e:
        _fail(e)
    records = [{"key": k, "value": v, "source": s} for k, v, s in c.items()]
    if format == ListFormat.table:
        print(f"config file: {c.file or '(none; defaults in use)'}", file=sys.stderr)
    print_records(records, ["key", "value", "source"], format.value)


_GLOBAL_VALUED = ("--home", "--config", "--profile")
_EXAMPLE = {"--home": "~/lakehouse", "--config": "./lakehouse.toml", "--profile": "default"}


def _flags() -> set[str]:
    """Every option that takes no value (--json, --wait, …), from the commands themselves."""
    out: set[str] = set()

    def walk(cmd) -> None:  # duck-typed: Typer may bring its own copy of click
        for p in cmd.params:
            if getattr(p, "is_flag", False) or getattr(p, "count", False):
                out.update(list(p.opts) + list(p.secondary_opts))
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)
    walk(typer.main.get_command(app))
    return out


def normalise_argv(argv: list[str]) -> list[str]:
    """Accept the global options anywhere and never take a query for an option.

    - `--home`, `--config`, `--profile` and `--remote [SOCKET]` (or `tui --connect`) may
      come before or after the subcommand; they are moved before it. `--remote` takes
      the next word only when it looks like a socket or HOST:PORT ("-" means this root's
      daemon), so a command name is never taken for a socket.
    - A word that starts with "-" but holds whitespace (`lakehouse sql $'-- note\nSELECT 1'`)
      is a query or a name, not an option: it is passed after `--`.
    """
    front: list[str] = []
    out: list[str] = []
    loose: list[str] = []
    remote = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out += argv[i:]
            break
        if a in ("--remote", "--connect"):
            if i + 1 < len(argv) and _looks_like_address(argv[i + 1]):
                remote, i = argv[i + 1], i + 1
            else:
                remote = "-"
        elif a.startswith(("--remote=", "--connect=")):
            remote = a.split("=", 1)[1] or "-"
        elif a in _GLOBAL_VALUED:
            if i + 1 >= len(argv):
                print(f"error: {a} needs a value — e.g. {a} {_EXAMPLE[a]}", file=sys.stderr)
                raise SystemExit(2)
            front += [a, argv[i + 1]]
            i += 1
        elif a.startswith(tuple(f + "=" for f in _GLOBAL_VALUED)):
            front.append(a)
        elif (a.startswith("-") and len(a) > 1 and any(c.isspace() for c in a)
              and not (i and argv[i - 1].startswith("-") and argv[i - 1] not in _flags())):
            loose.append(a)  # not the value of the option before it (`--reason "- typo fixed"`)
        else:
            out.append(a)
        i += 1
    if remote is not None:
        front += ["--remote", remote]
    if loose:
        out = out[:out.index("--") + 1] + loose + out[out.index("--") + 1:] if "--" in out else out + ["--", *loose]
    return front + out


def main() -> None:
    import os

    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started ignoring it
        signal.signal(signal.SIGINT, _ctrl_c.handler)
    try:
        app(args=normalise_argv(sys.argv[1:]), prog_name="lakehouse")
    except LakehouseError as e:  # anything a command did not catch itself
        if _ctrl_c.hit:
            _ctrl_c.say()
            sys.exit(130)
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except SystemExit as e:  # typer turns a KeyboardInterrupt into a silent exit 130
        if _ctrl_c.hit and e.code == 130:
            _ctrl_c.say()
        raise
    except KeyboardInterrupt:
        _ctrl_c.say()
        sys.exit(130)
    except Exception as e:  # a bug: still one sentence, the traceback on request
        if _ctrl_c.hit:  # a library that wrapped the KeyboardInterrupt
            _ctrl_c.say()
            sys.exit(130)
        if os.environ.get("LAKEHOUSE_DEBUG"):
            raise
        print(f"error: unexpected {type(e).__name__}: {e} — this is a bug in lakehouse; "
              "run again with LAKEHOUSE_DEBUG=1 to see the traceback and report it", file=sys.stderr)
        sys.exit(70)


if __name__ == "__main__":
    main()
