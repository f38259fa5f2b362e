"""Rendering facade results for the terminal: tables, JSON, CSV, Parquet.

JSON and data go to stdout; messages and progress go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable

from core.query.export import json_default as _default


class Machine(str):
    """Text for a program (JSON): `say` prints it exactly as it is, byte for byte."""


def dumps(obj: Any) -> Machine:
    return Machine(json.dumps(obj, default=_default, ensure_ascii=False, indent=2))


def say(*values: Any, sep: str = " ", end: str = "\n", file=None, flush: bool = False) -> None:
    """`print` for messages that may quote untrusted text (file names, cell values, model
    answers, error texts): control characters and bidi controls are shown as escapes
    (core.text.inert), never sent to the terminal. A `Machine` value (JSON from `dumps`)
    is printed exactly as it is."""
    from core.text import inert

    print(*(v if isinstance(v, Machine) else inert(str(v), tabs=True) for v in values),
          sep=sep, end=end, file=file if file is not None else sys.stdout, flush=flush)


def err(msg: str) -> None:
    say(msg, file=sys.stderr)


def _cell(v: Any, width: int = 60):
    """One table cell as literal text: never Rich markup (`[/]`, `[link=…]`), never a
    terminal sequence."""
    from rich.text import Text

    from core.text import inert

    if v is None:
        return Text("∅")
    s = v if isinstance(v, str) else _default(v) if not isinstance(v, (int, float, bool)) else str(v)
    s = inert(s.replace("\n", "⏎").replace("\t", " "))
    return Text(s if len(s) <= width else s[:width - 1] + "…")


def _console():
    """stdout console; when piped, wide enough not to fold tables (COLUMNS still wins)."""
    import os

    from rich.console import Console

    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console(soft_wrap=False)
    return Console(soft_wrap=False, width=160)


def print_rows(columns: list[str], rows: Iterable[Iterable[Any]], title: str | None = None,
               caption: str | None = None, wide: tuple[str, ...] = (), full: tuple[str, ...] = ()) -> None:
    """A table; columns named in `wide` (e.g. the text of a search hit) get 3x the room;
    those in `full` (messages, reasons) are never cut: they take the rest of the width
    and fold onto more lines."""
    from rich.table import Table

    t = Table(title=_cell(title, 1_000) if title is not None else None, show_lines=False, header_style="bold")
    widths = [1_000_000 if c in full else 180 if c in wide else 60 for c in columns]
    for c, w in zip(columns, widths):
        header = _cell(c, 1_000)  # column names come from files too
        if c in full:
            t.add_column(header, overflow="fold", ratio=1)
        else:
            t.add_column(header, overflow="fold", max_width=w)
    for r in rows:
        t.add_row(*(_cell(v, w) for v, w in zip(r, widths)))
    console = _console()
    console.print(t)
    if caption:  # names index, dataset and column: literal text too
        from rich.text import Text

        from core.text import inert

        console.print(Text(inert(caption, tabs=True), style="dim"), soft_wrap=True)


# Columns of listings that hold sentences: shown whole, folded to the terminal's width.
SENTENCES = ("message", "reason", "error", "statement", "detail", "description")


def print_records(records: list[dict], columns: list[str], fmt: str, title: str | None = None) -> None:
    """A listing: a table for people, JSON for scripts."""
    if fmt == "json":
        print(dumps(records))
    else:
        print_rows(columns, ([r.get(c) for c in columns] for r in records), title=title,
                   full=tuple(c for c in columns if c in SENTENCES))


def print_result(result: dict) -> int:
    """A query's first rows (Lakehouse.sql_rows) as a table, captioned with the true
    count and, when rows were left out, how to get them all. Returns the count."""
    n, kept = result["row_count"], len(result["rows"])
    caption = f"{n:,} row{'s' if n != 1 else ''}"
    if n > kept:
        caption = f"showing {kept:,} of {n:,} rows — use --format csv/json/parquet --output FILE for all"
    print_rows(result["columns"], result["rows"], caption=caption)
    return n


def human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
