"""Datasets: ingest files, list and describe them, annotate, compact, pin, resync."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from app.cli.options import DATASET, LIST_FORMAT, REASON, ListFormat
from app.cli.progress import run_job
from app.cli.session import open_lh, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert
from core.text import count


def print_ingest(results, as_json: bool = False) -> int:
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


def ingest(
    paths: List[str] = typer.Argument(..., help="Files, directories or globs, or one postgresql://USER@HOST/DB URL."),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset name (default: from the file name; documents go to 'documents')."),
    format: Optional[str] = typer.Option(None, "--format", help="Input format: csv, tsv, json, parquet, pdf, text (default: from the extension)."),
    types: Optional[str] = typer.Option(None, "--types", help="Column types that override inference, e.g. id=BIGINT,price=DECIMAL(10,2)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="create (default for tables), append (default for documents), replace or upsert."),
    key: Optional[str] = typer.Option(None, "--key", help="Primary key column(s), e.g. id or region,id: declared at create, matched by upsert."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who is making the change (default: your user name)."),
    reason: str = REASON,
    query: Optional[str] = typer.Option(None, "--query", help="For a postgresql:// source: the SELECT whose rows to ingest."),
    table: Optional[str] = typer.Option(None, "--table", help="For a postgresql:// source: the table (schema.name) to ingest."),
    incremental_by: Optional[str] = typer.Option(None, "--incremental-by", metavar="COLUMN",
                                                 help="For a postgresql:// source: fetch only rows whose COLUMN is past the last run's high-water mark."),
    accept_schema: bool = typer.Option(False, "--accept-schema", help="Take a schema change (added, removed, retyped or renamed columns) that is refused by default."),
    column_map: Optional[str] = typer.Option(None, "--map", metavar="SOURCE=COLUMN,…",
                                             help="Write the source's column into the dataset's, e.g. --map full_name=first_name."),
    refresh: bool = typer.Option(True, "--refresh/--no-refresh", help="Re-embed the changed rows into the indexes over the dataset (those with auto-refresh on) before exiting."),
    json_out: bool = typer.Option(False, "--json", help="Print per-file results as JSON."),
    preview: bool = typer.Option(False, "--preview", help="Show what one file would be read as (format, dialect, "
                                                          "dataset, columns with types, first rows), from a sample; "
                                                          "ingest nothing."),
):
    """Ingest CSV/TSV, JSON/NDJSON, Parquet, PDF and text files, or a PostgreSQL query or table, into Delta tables."""
    if preview:
        used = [flag for flag, v in (("--mode", mode), ("--key", key), ("--actor", actor), ("--reason", reason),
                                     ("--incremental-by", incremental_by), ("--accept-schema", accept_schema),
                                     ("--map", column_map)) if v]
        raise typer.Exit(ingest_preview(paths, name, format, types, used, json_out, query=query, table=table))
    with open_lh() as lh:
        results = run_job(lh.ingest, paths, name=name, format=format, types=types, mode=mode,
                          key=key, actor=actor, reason=reason, query=query, table=table,
                          incremental_by=incremental_by, column_map=column_map,
                          schema_change="accept" if accept_schema else "refuse")
        code = print_ingest(results, json_out)
        from core.errors import Cancelled

        # also after an unchanged re-run: an earlier refresh may have been interrupted
        touched = sorted({r.dataset for r in results if r.status in ("ingested", "unchanged")})
        for ds in touched if refresh else []:
            try:
                outcomes = run_job(lh.refresh, ds, actor=actor)
            except Cancelled as e:
                raise Cancelled(f"{e} (the rows are ingested; `lakehouse index refresh --dataset {ds}` "
                                "finishes the refresh)") from None
            for o in outcomes:
                print(("warning: " if o.status in ("failed", "not-live") else "") + o.message,
                      file=sys.stderr if json_out or o.status in ("failed", "not-live") else sys.stdout)
    raise typer.Exit(code)


def ingest_preview(paths: list[str], name, format, types, used: list[str], as_json: bool,
                   query: str | None = None, table: str | None = None) -> int:
    """`ingest --preview`: one file's (or a PostgreSQL table's or query's) detected schema
    and first rows; nothing is written."""
    import os

    from app.output import dumps, human_bytes, print_rows
    from core.errors import IngestError
    from core.ingest.run import is_database_url

    if len(paths) != 1:
        raise IngestError("--preview shows one file or one database table or query — give a single file path "
                          "or postgresql:// URL")
    if used:
        raise IngestError(f"{', '.join(used)}: not for --preview, which reads a source and writes nothing — "
                          "drop them (--name, --format, --types, --table and --query apply)")
    url = is_database_url(paths[0])
    # a path as the daemon sees it (it has its own cwd); a URL as given
    path = paths[0] if url else os.path.abspath(os.path.expanduser(paths[0]))
    pv = with_lh(lambda lh: lh.ingest_preview(path, name=name, format=format, types=types, query=query,
                                              table=table))
    if as_json:
        print(dumps(pv))
        return 0
    how = [pv["format"]] + ([pv["encoding"]] if pv["encoding"] else [])
    d = pv["dialect"]
    if d:
        skip = f", header on line {d['header_line']}" if d["skipped_lines"] else ""
        how.append(f"delimiter {d['delimiter']!r}{skip}")
    if url:  # rows, not bytes: the first ones of a server-side query
        how.append(f"table {table}" if table else "query")
        read = (f"first {count(len(pv['rows']), 'row')} of more" if pv["sampled"]
                else f"all {count(len(pv['rows']), 'row')}")
    else:
        read = (f"{human_bytes(pv['bytes_read'])} of {human_bytes(pv['size'])} read" if pv["sampled"]
                else f"all {human_bytes(pv['size'])} read")
    est = f", about {pv['est_rows']:,} rows" if pv["est_rows"] is not None else ""
    print(f"{pv['path']}: {', '.join(how)} -> dataset {pv['dataset']} ({read}{est})")
    print_rows(["column", "type"], [(c["name"], c["type"]) for c in pv["columns"]], title="schema")
    print_rows([c["name"] for c in pv["columns"]], pv["rows"], title=f"first {count(len(pv['rows']), 'row')}")
    for n in pv["notes"]:
        print(f"  note: {n}")
    if pv["refusal"]:
        print(f"warning: an ingest of it would be refused: {pv['refusal']}", file=sys.stderr)
    return 0


def print_datasets(datasets, fmt: ListFormat, fresh: dict | None = None) -> None:
    """`fresh`: {dataset: "ok" | "stale 2h over"} for datasets whose contract sets max_age."""
    from app.output import human_bytes, print_records

    records = [d.to_dict() for d in datasets]
    for r in records if fresh else ():
        r["fresh"] = fresh.get(r["name"], "-")
    if fmt == ListFormat.json:
        print_records(records, [], "json")
        return
    for r in records:
        r["size"] = human_bytes(r["bytes"])
        r["rows"] = f"{r['row_count']:,}"
        r["columns"] = len(r["columns"])
        r["updated"] = r["updated_at"][:16].replace("T", " ")
    print_records(records, ["name", "kind", "format", "rows", "columns", "size", "updated"]
                  + (["fresh"] if fresh else []), "table")


def datasets(format: ListFormat = LIST_FORMAT):
    """List datasets with their size and freshness."""
    with_lh(lambda lh: print_datasets(lh.datasets(), format, lh.freshness()))


def describe(
    name: str = DATASET,
    format: ListFormat = LIST_FORMAT,
):
    """Schema, row count, lineage and a sample of one dataset."""
    from app.output import dumps, human_bytes, print_rows

    d = with_lh(lambda lh: lh.describe(name))
    if format == ListFormat.json:
        print(dumps(d.to_dict()))
        return
    ds = d.dataset
    print(f"{ds.name}  ({ds.kind}, {ds.format})  {count(ds.row_count, 'row')}  {human_bytes(ds.bytes)}  "
          f"version {ds.table_version}  updated {ds.updated_at[:19].replace('T', ' ')}")
    if ds.description:
        print(ds.description + ("  (drafted by the chat model)" if d.description_drafted else ""))
    print(f"owner: {ds.owner or '-'}   tags: {', '.join(ds.tags) or '-'}")
    print(f"primary key: {', '.join(ds.primary_key) or '(none — update/delete/upsert need one)'}"
          + ("   pinned in the hot cache" if ds.pinned else ""))
    if d.policy:
        print(f"policy: {d.policy}")
    tagged = {t.column: t for t in d.column_tags}
    masked = ["masked"] if d.masked else []
    print_rows(["column", "type", "nullable", "sensitivity", *masked],
               [(c.name, c.type, c.nullable, _sensitivity(tagged.get(c.name)),
                 *([d.masked.get(c.name, "-")] if masked else [])) for c in ds.columns],
               title="schema", full=("sensitivity",))
    print_rows(["source", "format", "mode", "rows", "version", "sha256", "at", "active"],
               [(l.source_uri, l.format, l.mode, l.rows, l.table_version, l.content_hash[:12],
                 l.created_at[:19].replace("T", " "), l.active) for l in d.lineage], title="lineage",
               full=("source",))  # a path cut short would hide its file name
    if len(d.schema_versions) > 1:
        print_rows(["schema version", "table version", "change", "columns", "at"],
                   [(s.schema_version, s.table_version, s.change, ", ".join(c.name for c in s.columns),
                     s.created_at[:19]) for s in d.schema_versions], title="schema versions")
    sample = d.sample
    print_rows(sample.column_names, zip(*(c.to_pylist() for c in sample.columns)) if sample.num_rows else [],
               title="sample")


def _sensitivity(t) -> str:
    """`pii (us_ssn, 100% of 512 sampled)`, `none (cleared by alice: ...)`, or `-`."""
    if t is None or (t.tag is None and t.source != "user"):
        return "-"
    return f"{t.tag or 'none'} ({t.evidence()})"


def annotate(
    name: str = DATASET,
    description: Optional[str] = typer.Option(None, "--description", help="What the dataset holds."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Who answers for it."),
    tag: Optional[List[str]] = typer.Option(None, "--tag", help="A tag (repeat for several; replaces the tags)."),
    draft: bool = typer.Option(False, "--draft", help="Have the chat model draft the description (marked as "
                                                       "drafted until you set one with --description)."),
):
    """Set a dataset's description, owner or tags, or have the chat model draft its description."""
    if draft and description is not None:
        print("error: give --description or --draft, not both", file=sys.stderr)
        raise typer.Exit(2)

    def run(lh):
        drafted = lh.draft_description(name) if draft else None
        if not drafted or owner is not None or tag is not None:
            return lh.annotate(name, description=description, owner=owner, tags=tag), drafted
        return lh.dataset(name), drafted
    d, drafted = with_lh(run)
    said = f"{d.description!r}" + (f" (drafted by {drafted['model']})" if drafted else "")
    print(f"{d.name}: description {said}, owner {d.owner!r}, tags {', '.join(d.tags) or '-'}")




def compact(
    name: str = DATASET,
    vacuum: bool = typer.Option(False, "--vacuum", help="Also remove unreferenced files older than the retention."),
    retain: Optional[int] = typer.Option(None, "--retain", help="Retention in hours for --vacuum (default: tables.vacuum_retain_hours, 168)."),
):
    """Merge small files (Delta optimize); with --vacuum, remove old unreferenced files."""
    r = with_lh(lambda lh: lh.compact(name, vacuum=vacuum, retain_hours=retain))
    print(f"{name}: {r['files_before']} -> {r['files_after']} data files (version {r['table_version']})")
    if vacuum:
        print(f"  vacuum removed {r['vacuumed_files']} unreferenced file(s) older than {r['retain_hours']} h")


def pin(name: str = DATASET):
    """Keep a dataset in memory (the hot cache) for faster queries."""
    with_lh(lambda lh: lh.pin(name))
    print(f"{name} is pinned: queries load it into memory once and read it from there")


def unpin(name: str = DATASET):
    """Stop keeping a dataset in memory."""
    with_lh(lambda lh: lh.unpin(name))
    print(f"{name} is no longer pinned")


def cache(format: ListFormat = LIST_FORMAT):
    """Pinned datasets and this process's hot cache: memory, hits, misses."""
    from app.output import dumps, human_bytes, print_records

    stats = with_lh(lambda lh: lh.cache())
    if format == ListFormat.json:
        print(dumps(stats))
        return
    print(f"limit {human_bytes(stats['limit_bytes'])}, used {human_bytes(stats['used_bytes'])}, "
          f"hits {stats['hits']}, misses {stats['misses']}, evictions {stats['evictions']}")
    cached = {c["name"]: c for c in stats["cached"]}
    print_records([{"dataset": n, "state": "in memory" if n in cached else "loads on first query",
                    "memory": human_bytes(cached[n]["bytes"]) if n in cached else "-"}
                   for n in stats["pinned"]], ["dataset", "state", "memory"], "table")


def resync(name: Optional[str] = typer.Argument(None, help="Dataset (default: all). Naming one also adopts "
                                                 "commits in its log that lakehouse did not write.")):
    """Rebuild row counts, sizes and columns from the tables when the catalog drifted.

    A commit in a table's log that lakehouse did not write (another tool's, such as
    Spark's, or a planted file) is never applied on its own: recovery reports it in
    `lakehouse errors`. `lakehouse resync NAME` adopts it as the dataset's current
    state; to discard it instead, delete the log file the error names."""
    with open_lh() as lh:
        for note in lh.resync(name):
            print(note)
