"""Changes to records and their history: update, delete, restore, versions, history."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from app.cli.options import ACTOR, DATASET, JSON_RESULT, LIST_FORMAT, REASON, ListFormat, pairs
from app.cli.session import open_lh, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert


def _parse_sets(sets: List[str]) -> dict:
    return pairs(sets, "--set", "city=Chicago")


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


def update(
    name: str = DATASET,
    key: str = typer.Option(..., "--key", help="The record's primary key value (comma-separated for a composite key)."),
    set_: List[str] = typer.Option(..., "--set", help="col=value (repeat; 'null' sets NULL)."),
    actor: Optional[str] = ACTOR,
    reason: str = REASON,
    json_out: bool = JSON_RESULT,
):
    """Update fields of one record by primary key (journaled per field)."""
    values = _parse_sets(set_)
    with_lh(lambda lh: _print_mutation(lh.update(name, key, values, actor=actor, reason=reason), json_out))


def delete(
    name: str = DATASET,
    key: str = typer.Option(..., "--key", help="The record's primary key value."),
    actor: Optional[str] = ACTOR,
    reason: str = REASON,
    json_out: bool = JSON_RESULT,
):
    """Delete one record by primary key (its last values are journaled; restore brings it back)."""
    with_lh(lambda lh: _print_mutation(lh.delete(name, key, actor=actor, reason=reason), json_out))


def restore(
    name: str = DATASET,
    version: Optional[int] = typer.Option(None, "--version", help="The version to bring back."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Or the state at this time (ISO)."),
    actor: Optional[str] = ACTOR,
    reason: str = REASON,
    preview: bool = typer.Option(False, "--preview", help="Only show what the restore would change "
                                 "(rows brought back, removed, changed; columns); write nothing."),
    json_out: bool = JSON_RESULT,
):
    """Make an old state current again as a new version (history is never rewritten)."""
    with open_lh() as lh:
        if preview:
            _print_preview(lh.restore_preview(name, version=version, as_of=as_of), json_out)
            return
        _print_mutation(lh.restore(name, version=version, as_of=as_of, actor=actor, reason=reason),
                        json_out)


def _print_preview(p: dict, as_json: bool) -> None:
    """A restore preview: its sentence, the column changes, then a few rows of each kind."""
    import json

    from app.output import dumps

    if as_json:
        print(dumps(p))
        return
    print(p["summary"])

    def row(r: dict) -> str:
        return json.dumps(r, ensure_ascii=False, default=str)
    s = p["schema"]
    for c in s["added"]:
        print(f"  adds column {c['column']} ({c['type']})")
    for c in s["removed"]:
        print(f"  removes column {c['column']} ({c['type']})")
    for c in s["retyped"]:
        print(f"  retypes column {c['column']}: {c['now']} -> {c['after']}")
    ex = p["examples"]
    for r in ex["added"]:
        print(f"  brings back {row(r)}")
    for r in ex["removed"]:
        print(f"  removes {row(r)}")
    for rec in ex["changed"]:
        for ch in rec["changes"]:
            print(f"  changes {rec['key']}: {ch['field']}: {ch['old']!r} -> {ch['new']!r}")
    shown = len(ex["added"]) + len(ex["removed"]) + len(ex["changed"])
    if shown < p["added"] + p["removed"] + p["changed"]:
        print(f"  (examples only: the first {len(ex['added'])} brought back, {len(ex['removed'])} removed "
              f"and {len(ex['changed'])} changed)")


def versions(
    name: str = DATASET,
    format: ListFormat = LIST_FORMAT,
):
    """Versions of a dataset: time, operation, rows added/updated/deleted, actor."""
    from app.output import print_records

    records = with_lh(lambda lh: lh.versions(name))
    for r in records:
        r["time"] = r["timestamp"][:19].replace("T", " ")
    print_records(records, ["version", "time", "operation", "source", "rows", "rows_added",
                            "rows_updated", "rows_deleted", "actor", "reason"], format.value)


def history(
    name: str = DATASET,
    key: Optional[str] = typer.Argument(None, help="One record's key (default: the whole dataset)."),
    format: ListFormat = LIST_FORMAT,
):
    """The journal of a dataset or of one record: who changed what, when and why."""
    from app.output import print_records

    records = with_lh(lambda lh: lh.history(name, key))
    if format == ListFormat.table and not records:
        print(f"no journal events for {name}" + (f" key {key!r}" if key else ""), file=sys.stderr)
        return
    for r in records:
        r["time"] = r["ts"][:19].replace("T", " ")
    print_records(records, ["time", "table_version", "source", "entity", "field", "old_value",
                            "new_value", "actor", "reason"], format.value)
