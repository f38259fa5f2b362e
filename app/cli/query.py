"""Reading the data: SQL, questions answered by the local model, and its models."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

from app.cli.options import LIST_FORMAT, ListFormat, RowFormat
from app.cli.session import open_lh, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert
from core.text import count, inert


def sql(
    query: str = typer.Argument(..., help="One read-only SQL statement ('-' reads it from stdin)."),
    format: RowFormat = typer.Option(RowFormat.table, "--format", help="table, csv, json or parquet."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write rows to FILE instead of stdout."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Read as of a version (v3; one dataset) or a time (2026-01-31T12:00; every dataset)."),
):
    """Run SQL over the datasets (DuckDB; each dataset is a view by its name; "name@v3" reads an old version)."""
    from app.output import print_result
    from core.query.export import write_result  # one writer for the CLI and the SQL pane
    from core.query.export import format_of

    if query == "-":
        query = sys.stdin.read()
    try:
        with open_lh() as lh:
            fmt = format.value
            if format is RowFormat.table and output:  # the file's extension says which format
                fmt = format_of(output) or ""
                if not fmt:
                    raise ValueError(f"cannot tell the format of {output} — give --format csv, json or parquet")
            if fmt == "table":
                print_result(lh.sql_rows(query, lh.config.get("sql.display_rows"), as_of=as_of))
                return
            n = write_result(lh.sql_stream(query, as_of=as_of), fmt, output)
    except BrokenPipeError:  # `lakehouse sql … | head`: the reader has all it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    if output:
        print(f"wrote {count(n, 'row')} to {output}", file=sys.stderr)



class AskMode(str, Enum):
    auto = "auto"
    sql = "sql"
    rag = "rag"


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
        row = with_lh(lambda lh: lh.accept(accept))
        print(f"accepted ask {accept}: later questions like {row['question']!r} get its SQL as an example")
        return
    if not question:
        print("error: give a question, e.g. lakehouse ask \"how many candidates per state?\"", file=sys.stderr)
        raise typer.Exit(2)
    stream = format == ListFormat.table

    def on_token(piece: str) -> None:  # a model's answer: shown, never obeyed
        sys.stdout.write(inert(piece, tabs=True))
        sys.stdout.flush()
    result = with_lh(lambda lh: lh.ask(question, mode=mode.value, index=index, model=model,
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


def models(format: ListFormat = LIST_FORMAT):
    """Ollama models: installed (with digests) and loaded in memory (with size and expiry)."""
    from app.output import dumps, human_bytes, print_records

    info = with_lh(lambda lh: lh.models())
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
