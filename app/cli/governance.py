"""Catalog governance: columns' sensitivity tags — set or clear one (`tag`), list them
with their evidence (`tags`)."""

from __future__ import annotations

from typing import Optional

import typer

from app.cli.options import ACTOR, LIST_FORMAT, REASON, ListFormat
from app.cli.session import with_lh
from app.output import say as print  # noqa: A001 — every message prints inert
from core.errors import LakehouseError

TAG_CHOICES = "pii, financial, health or none"


def split_target(target: str) -> tuple[str, str]:
    """'people.ssn' -> ('people', 'ssn'); a column name may hold dots, a dataset's cannot."""
    dataset, dot, column = target.partition(".")
    if not dot or not dataset or not column:
        raise LakehouseError(f"{target!r} is not DATASET.COLUMN — write e.g. people.ssn")
    return dataset, column


def tag(
    target: str = typer.Argument(..., metavar="DATASET.COLUMN", help="The column, e.g. people.ssn."),
    sensitivity: str = typer.Argument(..., metavar="TAG", help=f"{TAG_CHOICES} (none clears what the scan found)."),
    reason: str = REASON,
    actor: Optional[str] = ACTOR,
):
    """Set or clear a column's sensitivity tag; it is kept across re-ingests."""
    dataset, column = split_target(target)
    t = with_lh(lambda lh: lh.tag(dataset, column, sensitivity, reason=reason, actor=actor))
    print(f"{t.dataset}.{t.column}: {t.tag or 'none'} ({t.evidence()})")


def tags(
    dataset: Optional[str] = typer.Argument(None, help="Only this dataset's columns (default: every dataset)."),
    format: ListFormat = LIST_FORMAT,
):
    """Columns' sensitivity tags and where each comes from (the scan's evidence or a person's reason)."""
    from app.output import print_records

    found = with_lh(lambda lh: lh.tags(dataset))
    records = [t.to_dict() for t in found]
    if format == ListFormat.json:
        print_records(records, [], "json")
        return
    for r in records:
        r["column"] = f"{r['dataset']}.{r['column']}"
        r["tag"] = r["tag"] or "none"
        r["at"] = (r["at"] or "")[:16].replace("T", " ")
    print_records(records, ["column", "type", "tag", "source", "evidence", "at"], "table")
    if not records:
        print("no tagged columns" + (f" in {dataset}" if dataset else ""))
