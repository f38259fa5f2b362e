"""`lakehouse column-profile DATASET.COLUMN`: one column's figures and a histogram (or its
top values) drawn in text — what Explore draws when a column is selected."""

from __future__ import annotations

import typer

from app.cli.options import LIST_FORMAT, ListFormat
from app.cli.session import with_lh
from app.output import say as print  # noqa: A001 — every message prints inert

BAR = 40  # the widest bar, in characters


def column_profile(
    target: str = typer.Argument(..., metavar="DATASET.COLUMN", help="The column, e.g. people.salary."),
    format: ListFormat = LIST_FORMAT,
):
    """One column's profile: type, null share, distinct count, min/max, top values and a histogram."""
    from app.output import dumps
    from core.errors import LakehouseError
    from core.query.column_profile import figures

    dataset, dot, column = target.partition(".")
    if not dot or not dataset or not column:
        raise LakehouseError(f"{target!r} names no column — give DATASET.COLUMN, e.g. people.salary")
    p = with_lh(lambda lh: lh.column_profile(dataset, column))
    if format == ListFormat.json:
        print(dumps(p))
        return
    for text in figures(p):
        print(text)
    if p["histogram"]:
        print("histogram (bin: count)")
        _bars([(f"{b['lo']} – {b['hi']}", b["count"]) for b in p["histogram"]])
    elif p["top"]:
        print("top values (value: count)")
        _bars([(str(t["value"]), t["count"]) for t in p["top"]])


def _bars(items: list[tuple[str, int]]) -> None:
    """Labelled bars of # (their counts printed too: nothing is told by length alone)."""
    most = max((n for _, n in items), default=0) or 1
    width = min(max(len(label) for label, _ in items), 40)
    for label, n in items:
        label = label if len(label) <= width else label[: width - 1] + "…"
        print(f"  {label.ljust(width)} │{'#' * round(BAR * n / most):<{BAR}} {n:,}")
