"""Dataset contracts and log retention (the `contract` and `retention` groups): the
contracts lakehouse.toml declares with each dataset's freshness, a check of current data
against them, and the retention job."""

from __future__ import annotations

from typing import Optional

import typer

from app.cli.options import LIST_FORMAT, ListFormat
from app.cli.session import with_lh
from app.output import say as print  # noqa: A001 — every message prints inert

group = typer.Typer(help="Dataset contracts ([contracts.NAME] in lakehouse.toml): required columns and types, "
                         "not-null, unique keys, accepted values, ranges and a freshness SLA.", rich_markup_mode=None)
retention = typer.Typer(help="Retention of the system logs ([retention] in lakehouse.toml).", rich_markup_mode=None)


def _rules(c: dict) -> str:
    parts = [f"{len(c['columns'])} column(s)" if c["columns"] else "",
             f"not null: {', '.join(c['not_null'])}" if c["not_null"] else "",
             "unique: " + "; ".join(", ".join(k) for k in c["unique"]) if c["unique"] else "",
             f"accepted: {', '.join(c['accepted'])}" if c["accepted"] else "",
             f"ranges: {', '.join(c['ranges'])}" if c["ranges"] else ""]
    return " · ".join(p for p in parts if p) or "-"


@group.command("list")
def list_(format: ListFormat = LIST_FORMAT):
    """The contracts in lakehouse.toml, their rules and each dataset's freshness (ok, or stale and by how much)."""
    from app.output import print_records

    records = with_lh(lambda lh: lh.contracts())
    if format == ListFormat.table and not records:
        print("no contracts — add a [contracts.DATASET] table to lakehouse.toml")
        return
    for r in records:
        r["rules"] = _rules(r)
        r["max_age"] = r["max_age"] or "-"
        r["fresh"] = r["fresh"] or ("-" if r["exists"] else "no such dataset yet")
    print_records(records, ["dataset", "rules", "max_age", "fresh"], format.value)


@group.command("check")
def check(
    dataset: Optional[str] = typer.Argument(None, help="The dataset to check (default: every one with a contract)."),
    format: ListFormat = LIST_FORMAT,
):
    """Check datasets' current data against their contracts: the rules broken, how many rows and which
    (row numbers in key order). Exit 1 when any rule is broken."""
    from app.output import dumps

    reports = with_lh(lambda lh: lh.check_contract(dataset))
    if format == ListFormat.json:
        print(dumps(reports))
    elif not reports:
        print("no datasets with a contract to check")
    for r in reports if format == ListFormat.table else ():
        fresh = f" · {r['fresh']}" if r["fresh"] else ""
        if r["ok"]:
            print(f"{r['dataset']} (version {r['version']}): keeps its contract{fresh}")
        else:
            print(f"{r['message']}{fresh}")
            for v in r["violations"][1:]:
                rows = f" (rows {', '.join(map(str, v['rows']))}{', …' if v['count'] > len(v['rows']) else ''})" \
                    if v.get("rows") else ""
                count = f"{v['count']:,} " if v.get("count") is not None else ""
                print(f"  also: {count}{v['rule']}: {v['says']}{rows}")
    if any(not r["ok"] for r in reports):
        raise typer.Exit(1)


@retention.command("run")
def run(format: ListFormat = LIST_FORMAT):
    """Delete audit, errors, journal and asks rows older than [retention]'s days (0 = kept), as a job;
    says how many rows each table lost. A running daemon or TUI does this once a day."""
    from app.output import dumps

    r = with_lh(lambda lh: lh.run_retention())
    if format == ListFormat.json:
        print(dumps(r))
        return
    for table, n in r["removed"].items():
        days = r["days"][table]
        print(f"{table}: {n:,} row(s) older than {days} days removed" if days else f"{table}: kept forever (0 days)")
