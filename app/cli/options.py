"""Options and choices several commands share, declared once."""

from __future__ import annotations

from enum import Enum

import typer


class ListFormat(str, Enum):
    table = "table"
    json = "json"


LIST_FORMAT = typer.Option(ListFormat.table, "--format", help="table or json.")  # every listing command


class RowFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class Embedder(str, Enum):
    auto = "auto"
    ollama = "ollama"
    hashing = "hashing"


DATASET = typer.Argument(..., help="Dataset name.")
INDEX = typer.Argument(..., help="Index name.")
PROFILE = typer.Argument(..., help="Profile name.")
ACTOR = typer.Option(None, "--actor", help="Who (default: your user name).")  # a change's journal entry
REASON = typer.Option("", "--reason", help="Why, for the journal.")
JSON_RESULT = typer.Option(False, "--json", help="Print the result as JSON.")


def pairs(items: list[str] | None, flag: str, example: str) -> dict:
    """`--set col=value` / `--scope col=value` options as a dict, or exit 2 with one sentence."""
    import sys

    from app.output import say

    out = {}
    for item in items or []:
        col, eq, value = item.partition("=")
        if not eq or not col.strip():
            say(f"error: {flag} {item!r} is not col=value — write e.g. {flag} {example}", file=sys.stderr)
            raise typer.Exit(2)
        out[col.strip()] = value
    return out

