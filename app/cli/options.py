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
