"""Readers that turn one source file into a DuckDB SELECT over it.

Each tabular source knows how to express itself as SQL for DuckDB's own readers
(read_csv / read_json / read_parquet, which stream and run in parallel) and how
to turn the reader's errors into one sentence naming the file and line or record.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IngestError
from ..names import quote_ident


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass
class TabularSource:
    path: Path
    fmt: str
    encoding: str | None
    size: int
    types: dict[str, str] = field(default_factory=dict)  # user overrides (--types)
    text_columns: set[str] = field(default_factory=set)  # widened to text after a mixed-type error
    est_rows: int | None = None
    notes: list[str] = field(default_factory=list)
    # csv only
    delim: str = ","
    whole_file_sample: bool = False
    fully_scanned: bool = False  # every byte checked for its encoding (after a reader error)

    # -- SQL -----------------------------------------------------------------
    def from_sql(self) -> str:
        p = sql_str(str(self.path))
        if self.fmt in ("csv", "tsv"):
            types = {**{c: "VARCHAR" for c in self.text_columns}, **self.types}
            args = [p, f"delim={sql_str(self.delim)}", "quote='\"'", "escape='\"'",
                    "strict_mode=true", "null_padding=false"]
            if self.encoding == "latin-1":
                args.append("encoding='latin-1'")
            if self.whole_file_sample:
                args.append("sample_size=-1")
            if types:
                args.append("types={" + ", ".join(f"{sql_str(k)}: {sql_str(v)}"
                                                  for k, v in types.items()) + "}")
            return f"read_csv({', '.join(args)})"
        if self.fmt == "json":
            args = [p, "format='auto'"]
            if self.whole_file_sample:
                args.append("sample_size=-1")
            return f"read_json({', '.join(args)})"
        if self.fmt == "parquet":
            return f"read_parquet({p})"
        raise AssertionError(self.fmt)

    # -- errors --------------------------------------------------------------
    def explain(self, exc: BaseException) -> IngestError | str:
        """Map a reader error to one clear IngestError, or return a column name to
        widen to text (a mixed-type column the type sample did not see)."""
        msg = str(exc)
        m = re.search(r'Error when converting column "([^"]+)"', msg) or re.search(
            r"Could not convert string .* to '?\w+'? in column \"([^\"]+)\"", msg)
        if m and m.group(1) not in self.types and m.group(1) not in self.text_columns:
            return m.group(1)
        line = re.search(r"CSV Error on Line: (\d+)", msg)
        where = f"{self.path}: line {line.group(1)}" if line else str(self.path)
        if m:  # a --types override that the data does not fit
            val = re.search(r'Could not convert string "([^"]*)" to \'?(\w+)', msg)
            what = f"value {val.group(1)!r} is not {val.group(2)}" if val else "a value does not fit its type"
            return IngestError(f"{where}: column {m.group(1)!r}: {what} — fix the value or change --types")
        cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", msg)
        if cols:
            return IngestError(f"{where}: row has {cols.group(2)} fields but the header has "
                               f"{cols.group(1)} — fix that row (quote values that contain "
                               f"{self.delim!r})")
        if "unterminated quote" in msg:
            return IngestError(f"{where}: a quoted field is never closed — add the closing \" "
                               "or escape quotes inside values as \"\"")
        if "Invalid unicode" in msg:
            return IngestError(f"{where}: bytes that are not valid {self.encoding or 'UTF-8'} — "
                               "re-save the file in one encoding and ingest it again")
        js = re.search(r'Malformed JSON in file "[^"]*", at byte (\d+) in (record/value|line) (\d+): '
                       r'([^\n]*)', msg)
        if js:
            # DuckDB counts one past the failing record/line (seen in 1.x and 2.0).
            n = max(int(js.group(3)) - 1, 1)
            unit = "line" if js.group(2) == "line" else "record"
            why = js.group(4).strip().rstrip(".")
            return IngestError(f"{self.path}: {unit} {n}: malformed JSON ({why} at byte "
                               f"{js.group(1)} of the {unit}) — fix or remove that {unit}")
        if self.fmt == "parquet" and ("magic" in msg.lower() or "parquet" in msg.lower()):
            return IngestError(f"{self.path}: not a readable Parquet file — "
                               f"{_first_line(msg)}")
        return IngestError(f"{where}: cannot be read as {self.fmt.upper()} — {_first_line(msg)}")


def _first_line(msg: str) -> str:
    msg = re.sub(r"^[A-Za-z ]+Error: ", "", msg.strip())
    return msg.splitlines()[0] if msg else "unknown error"


# -- CSV: dialect and structure from a sample, so errors name a line --------------

_DELIMS = [",", "\t", ";", "|"]


def _records(text: str, delim: str):
    """Yield (start_line, fields) using Python's csv module (RFC 4180 quoting)."""
    rdr = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"',
                     doublequote=True, strict=True)
    start = 1
    while True:
        try:
            row = next(rdr)
        except StopIteration:
            return
        yield start, row
        start = rdr.line_num + 1


def prepare_csv(src: TabularSource, sample: bytes, at_eof: bool) -> None:
    """Pick the delimiter and validate the sample's structure (raises with a line)."""
    text = sample.decode(src.encoding or "utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise IngestError(f"{src.path} is empty — there are no rows to ingest")
    if not at_eof:  # drop the partial last line of the sample
        text = text[: text.rfind("\n") + 1] or text
    if src.fmt == "tsv":
        src.delim = "\t"
    else:
        src.delim = _sniff_delim(text)
    header_len = None
    n = 0
    try:
        for start, row in _records(text, src.delim):
            if not row:  # blank line
                continue
            n += 1
            if header_len is None:
                header_len = len(row)
            elif len(row) != header_len:
                raise IngestError(
                    f"{src.path}: line {start}: row has {len(row)} fields but the header has "
                    f"{header_len} — fix that row (quote values that contain {src.delim!r})")
    except csv.Error as e:
        if at_eof or "end of data" not in str(e):
            line = _quote_start_line(text, src.delim)
            raise IngestError(
                f"{src.path}: line {line}: a quoted field is never closed — add the closing \" "
                "or escape quotes inside values as \"\"") from None
    src.whole_file_sample = at_eof
    if n and len(sample):
        src.est_rows = max(int((n - 1) * src.size / len(sample)), n - 1)


def _sniff_delim(text: str) -> str:
    """The delimiter that splits the first lines into the same number (>1) of fields."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    best, best_score = ",", 0.0
    for d in _DELIMS:
        counts = [ln.count(d) for ln in lines]
        if not counts or counts[0] == 0:
            continue
        same = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = same * 10 + min(counts[0], 10) / 10
        if score > best_score:
            best, best_score = d, score
    return best


def _quote_start_line(text: str, delim: str) -> int:
    """Line where an unclosed quoted field opens (scan quote state line by line)."""
    in_quote, open_line = False, 1
    for i, line in enumerate(text.split("\n"), start=1):
        j = 0
        while j < len(line):
            ch = line[j]
            if in_quote:
                if ch == '"':
                    if j + 1 < len(line) and line[j + 1] == '"':
                        j += 1
                    else:
                        in_quote = False
            elif ch == '"' and (j == 0 or line[j - 1] == delim):
                in_quote, open_line = True, i
            j += 1
    return open_line


def flatten_select(columns: list[str], types: list) -> list[str]:
    """SELECT items that flatten STRUCT columns into dotted names (JSON objects).
    `types` are DuckDB type objects (relation.types)."""
    out: list[str] = []

    def walk(expr: str, name: str, typ) -> None:
        if typ.id == "struct":
            for fname, ftyp in typ.children:
                walk(f"{expr}[{sql_str(fname)}]", f"{name}.{fname}", ftyp)
        elif str(typ) == "JSON":  # a field whose values mix types: keep it as plain text
            out.append(f"({expr})->>'$' AS {quote_ident(name)}")
        else:
            out.append(f"{expr} AS {quote_ident(name)}")

    for c, t in zip(columns, types):
        walk(quote_ident(c), c, t)
    return out
