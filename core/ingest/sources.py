"""Readers that turn one source file into a DuckDB SELECT over it.

Each tabular source knows how to express itself as SQL for DuckDB's own readers
(read_csv / read_json / read_parquet, which stream and run in parallel) and how
to turn the reader's errors into one sentence naming the file and line or record.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import IngestError
from core.names import quote_ident, sql_str


# Python's csv refuses fields over 128 KiB by default; DuckDB reads them, so should we.
csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))




def literal_path(path: Path | str) -> str:
    """A file path as DuckDB's readers take it literally. They glob every path they are
    given (a file named `*.csv` would read every CSV beside it), so each glob character
    is put in a bracket class of its own: `[*]`, `[?]`, `[[]` match only themselves."""
    return re.sub(r"([*?\[])", r"[\1]", str(path))


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
    read_path: Path | None = None  # a UTF-8 copy DuckDB reads when the source is UTF-16/32
    json_array: bool = False  # json: one top-level array (else objects one after another)
    json_check: object = None  # a BackgroundJsonCheck for big JSON files
    stat: object = None  # os.stat_result taken before the hash: the file must still be this one
    # csv only
    delim: str = ","
    skip: int = 0  # title/comment lines before the header
    whole_file_sample: bool = False
    fully_scanned: bool = False  # every byte checked for its encoding (after a reader error)

    # -- SQL -----------------------------------------------------------------
    def from_sql(self) -> str:
        p = sql_str(literal_path(self.read_path or self.path))
        if self.fmt in ("csv", "tsv"):
            types = {**{c: "VARCHAR" for c in self.text_columns}, **self.types}
            # TSV (IANA text/tab-separated-values) has no quoting: a '"' is just a character.
            quote = "quote='', escape=''" if self.fmt == "tsv" else "quote='\"', escape='\"'"
            args = [p, f"delim={sql_str(self.delim)}", quote, "strict_mode=true", "null_padding=false"]
            if self.skip:
                args += [f"skip={self.skip}", "header=true"]
            if self.encoding == "latin-1":
                args.append("encoding='latin-1'")
            if self.whole_file_sample:
                args.append("sample_size=-1")
            if types:
                args.append("types={" + ", ".join(f"{sql_str(k)}: {sql_str(v)}"
                                                  for k, v in types.items()) + "}")
            return f"read_csv({', '.join(args)})"
        if self.fmt == "json":
            args = [p, "format='array'" if self.json_array else "format='auto'"]
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
        if "not latin-1 encoded" in msg:
            return IngestError(f"{where}: bytes that are not Latin-1 text (0x80-0x9f) — convert the "
                               "file to UTF-8 from its real encoding (e.g. `iconv -f WINDOWS-1252 "
                               "-t UTF-8`) and ingest the converted file")
        if "has duplicate key" in msg:
            key = re.search(r'has duplicate key "([^"]*)"', msg)
            return IngestError(f"{self.path}: an object has the key {key.group(1) if key else ''!r} "
                               "twice (keys differing only in case count as the same column) — "
                               "keep one of them")
        if "maximum recursion depth" in msg:
            return IngestError(f"{self.path}: the JSON is nested too deeply to read (at most 128 "
                               "levels) — flatten it")
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


class _BadQuote(Exception):
    def __init__(self, start: int, why: str):
        self.start, self.why = start, why


def _records(text: str, delim: str, quoting: bool = True):
    """Yield (start_line, fields) using Python's csv module (RFC 4180 quoting, or none).
    A quoting error raises _BadQuote with the line where the failing record starts."""
    rdr = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"',
                     doublequote=True, strict=True,
                     quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE)
    start = 1
    while True:
        try:
            row = next(rdr)
        except StopIteration:
            return
        except csv.Error as e:
            raise _BadQuote(start, str(e)) from None
        yield start, row
        start = rdr.line_num + 1


def _preamble(text: str, delim: str, quoting: bool) -> int:
    """Lines before the header that are a title or comments: leading records of one field
    (or starting with '#') when the records after them have several fields. DuckDB's
    sniffer skips such lines too; without this they would become a one-column header."""
    lead, counts = [], []
    try:
        for start, row in _records(text, delim, quoting):
            if not row:
                continue
            if not counts and (len(row) == 1 or row[0].lstrip().startswith("#")):
                lead.append(start)
                if len(lead) > 20:
                    return 0
                continue
            counts.append(len(row))
            if len(counts) >= 20:
                break
    except _BadQuote:
        pass  # the validation below reports it
    if not lead or not counts or counts[0] < 2:
        return 0
    first_header = next(st for st, row in _records(text, delim, quoting) if st > lead[-1] and row)
    return first_header - 1


def prepare_csv(src: TabularSource, sample: bytes, at_eof: bool) -> None:
    """Pick the delimiter, skip a title/comment preamble, and validate the sample's
    structure (raises with a line)."""
    text = sample.decode(src.encoding or "utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise IngestError(f"{src.path} is empty — there are no rows to ingest")
    if not at_eof:  # drop the partial last line of the sample
        text = text[: text.rfind("\n") + 1] or text
    quoting = src.fmt != "tsv"
    if src.fmt == "tsv":
        src.delim = "\t"
    else:
        src.delim = _sniff_delim(text)
    src.skip = _preamble(text, src.delim, quoting)
    if src.skip:
        src.notes.append(f"skipped {src.skip} line(s) before the header (a title or comments)")
    header_len = None
    n = 0
    try:
        for start, row in _records(text, src.delim, quoting):
            if not row or start <= src.skip:  # blank line, or the preamble
                continue
            n += 1
            if header_len is None:
                header_len = len(row)
                bad = next((c for c in row if "\x00" in c), None)
                if bad is not None:  # DuckDB would cut the name at the NUL: refuse, never truncate
                    raise IngestError(f"{src.path}: line {start}: the header's column name {bad!r} holds a "
                                      "NUL byte, which a column name cannot — fix the header")
            elif len(row) != header_len:
                raise IngestError(
                    f"{src.path}: line {start}: row has {len(row)} fields but the header has "
                    f"{header_len} — fix that row (quote values that contain {src.delim!r})")
    except _BadQuote as e:
        problem = _quote_problem(text, src.delim, e.start)
        if problem is None:
            raise IngestError(f"{src.path}: line {e.start}: cannot be parsed as CSV ({e.why}) — "
                              "fix that row") from None
        opened, closed = problem
        if closed == opened:
            raise IngestError(
                f"{src.path}: line {opened}: a quoted field is followed by text after its closing "
                "quote — put the whole value in quotes and write each \" inside it as \"\"") from None
        if closed is not None:
            raise IngestError(
                f"{src.path}: line {opened}: a quoted field opens here and its closing quote (on "
                f"line {closed}) is followed by text — add the missing closing \" on line {opened}, "
                "or write each \" inside a value as \"\"") from None
        if at_eof:
            raise IngestError(
                f"{src.path}: line {opened}: a quoted field is never closed — add the closing \" "
                "or escape quotes inside values as \"\"") from None
        # else: the field runs past the sample's end; the reader checks the rest
    src.whole_file_sample = at_eof
    if n and len(sample):
        src.est_rows = max(int((n - 1) * src.size / len(sample)), n - 1)


def _sniff_delim(text: str) -> str:
    """The delimiter that splits most of the first lines into the same number (>1) of
    fields (the most common count, so a title line above the header does not decide)."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip() and not ln.lstrip().startswith("#")]
    best, best_score = ",", 0.0
    for d in _DELIMS:
        counts = [ln.count(d) for ln in lines]
        mode = max(sorted(set(counts)), key=counts.count) if counts else 0
        if mode == 0:
            continue
        same = counts.count(mode) / len(counts)
        score = same * 10 + min(mode, 10) / 10
        if score > best_score:
            best, best_score = d, score
    return best


def _quote_problem(text: str, delim: str, from_line: int) -> tuple[int, int | None] | None:
    """For the record starting at from_line that csv could not parse: (line where its bad
    quoted field opens, line where that field's closing quote is followed by text — None
    when the field is never closed), or None when no quote is at fault."""
    lines = text.split("\n")
    in_quote, open_line = False, from_line
    for i in range(from_line - 1, len(lines)):
        line, j, after_close = lines[i].rstrip("\r"), 0, False
        while j < len(line):
            ch = line[j]
            if in_quote:
                if ch == '"':
                    if j + 1 < len(line) and line[j + 1] == '"':
                        j += 1
                    else:
                        in_quote, after_close = False, True
            elif after_close:
                if ch != delim:
                    return open_line, i + 1
                after_close = False
            elif ch == '"' and (j == 0 or line[j - 1] == delim):
                in_quote, open_line = True, i + 1
            j += 1
        if not in_quote:
            break  # the record ends with this line: later records are not its fault
    return (open_line, None) if in_quote else None


def _holds_json(typ) -> bool:
    if str(typ) == "JSON":
        return True
    return typ.id in ("list", "array", "struct", "map", "union") and any(
        _holds_json(t) for _, t in typ.children)


def flatten_select(columns: list[str], types: list, path: Path | None = None) -> list[str]:
    """SELECT items that flatten STRUCT columns into dotted names (JSON objects).
    `types` are DuckDB type objects (relation.types)."""
    out: list[str] = []
    names: dict[str, str] = {}

    def walk(expr: str, name: str, typ) -> None:
        if typ.id == "struct":
            for fname, ftyp in typ.children:
                walk(f"{expr}[{sql_str(fname)}]", f"{name}.{fname}", ftyp)
            return
        key = name.lower()  # DuckDB and Delta column names ignore case
        if key in names:
            raise IngestError(f"{path}: the keys {names[key]!r} and {name!r} both become column "
                              f"{name!r} (nested keys are joined with '.', case is ignored) — "
                              "rename one of them")
        names[key] = name
        if str(typ) == "JSON":  # a field whose values mix types: keep it as plain text
            out.append(f"({expr})->>'$' AS {quote_ident(name)}")
        elif _holds_json(typ):  # e.g. an array mixing types: store it as valid JSON text
            out.append(f"CAST(to_json({expr}) AS VARCHAR) AS {quote_ident(name)}")
        else:
            out.append(f"{expr} AS {quote_ident(name)}")

    for c, t in zip(columns, types):
        walk(quote_ident(c), c, t)
    return out
