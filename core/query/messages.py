"""DuckDB's errors as Lakehouse's: one readable SqlError, whether the gate's parser or a
running query raised it."""

from __future__ import annotations

import re

from core.errors import Hint, LakehouseError, SqlError
from core.text import inert


def clean_error(e: BaseException):
    """DuckDB's error as ours: its first line with its hints ("Did you mean", "Candidate
    bindings"), and the caret context ("LINE 1: …" and the marker under it) kept on lines
    of their own so the marker still points at the right character. File-access refusals
    are explained."""
    if isinstance(e, LakehouseError):  # ours already (a cancel stays a cancel)
        return e
    msg = str(e).strip()
    if "file system operations are disabled" in msg or "disabled through configuration" in msg \
            or "external access" in msg.lower():
        m = re.search(r'"([^"]+)"', msg)
        what = f" ({m.group(1)})" if m else ""
        return SqlError(f"file access is disabled in Lakehouse SQL{what}: query datasets by name", refused=True,
                        hint=Hint("to bring a file in, ingest it", "ingest", {"paths": "PATH"}))
    # only \n ends a line: a CR or form feed inside a quoted value must not cut the message
    lines = [ln.rstrip() for ln in msg.split("\n") if ln.strip()]
    head = lines[0].strip() if lines else "query failed"
    hints = [ln.strip() for ln in lines[1:] if ln.lstrip().startswith(("Did you mean", "Candidate bindings"))]
    unknown = "does not exist" in head and not hints
    context: list[str] = []
    for i, ln in enumerate(lines):
        if ln.startswith("LINE ") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= {"^"}:
            context = [ln, lines[i + 1]]
            break
    text = "\n".join([" ".join([head] + hints)] + context)
    # DuckDB quotes the query and cell values back: control characters in them (ESC, OSC,
    # a bare CR) must not reach a terminal as sequences — they are shown escaped
    return SqlError(inert(text), hint=Hint("{the dataset list} lists them", "datasets") if unknown else None)
