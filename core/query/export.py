"""Writing a query's result to a file (or stdout) as CSV, JSON or Parquet, batch by batch.

One place for it: the CLI (`lakehouse sql … --output FILE`) and the TUI's SQL pane
(export) both write through `write_result`, and both tell the format from a file's
extension with `format_of` (one map, `EXTENSIONS`).
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

# a file's extension -> the format written to it (the only such map)
EXTENSIONS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet"}


def format_of(path: str | Path) -> str | None:
    """The export format a file's extension names (csv, json or parquet), or None."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def json_default(o: Any):
    """How a value JSON has no type for is written: dates ISO, decimals and other values as
    text, bytes as hex."""
    if isinstance(o, (datetime, date, time)):
        return o.isoformat()
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, bytes):
        return o.hex()
    return str(o)


def json_row(row: dict) -> bytes:
    """One row as JSON. JSON has no NaN or Infinity: such a value is written as the
    string sql_rows and the daemon use ("nan", "inf"), so the output always parses."""
    try:
        return json.dumps(row, default=json_default, ensure_ascii=False, allow_nan=False).encode()
    except ValueError:
        from core.models import plain

        return json.dumps(plain(row), ensure_ascii=False).encode()


def write_result(reader, fmt: str, output: str | None) -> int:
    """Stream a RecordBatchReader out as csv, json or parquet, batch by batch (memory
    stays bounded); return the number of rows."""
    n = 0
    if fmt == "parquet" and output is None and sys.stdout.isatty():
        raise ValueError("parquet output is binary — give --output FILE or redirect stdout")
    try:
        target = open(output, "wb") if output else sys.stdout.buffer
    except OSError as e:
        raise ValueError(f"cannot write {output} ({e.strerror}) — check the --output path") from None
    try:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            plain = not any(set(n) & set(',"\r\n') for n in reader.schema.names)
            opts = pacsv.WriteOptions(quoting_style="needed",
                                      quoting_header="none" if plain else "needed")
            with pacsv.CSVWriter(target, reader.schema, write_options=opts) as w:
                for b in reader:
                    w.write_batch(b)
                    n += b.num_rows
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            with pq.ParquetWriter(target, reader.schema) as w:
                for b in reader:
                    w.write_batch(b)
                    n += b.num_rows
        elif fmt == "json":
            target.write(b"[")
            first = True
            for b in reader:
                for row in b.to_pylist():
                    target.write((b"\n  " if first else b",\n  ") + json_row(row))
                    first = False
                n += b.num_rows
            target.write(b"\n]\n" if not first else b"]\n")
        else:
            raise ValueError(f"unknown format {fmt!r}")
    finally:
        if output:
            target.close()
        else:
            target.flush()
    return n
