"""Strict validation of a JSON source before DuckDB reads it.

DuckDB's read_json is lenient: it loads a truncated array (`[{"a":1},`), trailing
data (`{"a":1} "x"`), top-level scalars, NaN and trailing commas. A file must hold
one object, an array of objects, or objects one after another (NDJSON / JSON Lines,
or concatenated objects). This module checks that with Python's own parser, one
record at a time over a sliding buffer, so memory stays bounded by the largest
record (not the file) and errors name the line and column. Cost: one pass of the
C-accelerated `json` scanner over the file (roughly 50-100 MB/s per core).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import IngestError

_CHUNK = 1 << 20  # characters read per refill
_MAX_RECORD = 64 << 20  # characters one record may span (DuckDB's own default is 16 MB)
_WS = " \t\n\r"
SHAPE = "a JSON file must hold an object, an array of objects, or one object per line"


@dataclass
class JsonShape:
    array: bool  # one top-level array of objects (else objects one after another)
    records: int


class _KeyProblem(Exception):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    """object_pairs_hook: keys must make distinct, non-empty column names."""
    seen = set()
    for k, _ in pairs:
        if k == "":
            raise _KeyProblem("an object has an empty key \"\", which cannot name a column — "
                              "give the key a name")
        if "\x00" in k:
            raise _KeyProblem(f"an object's key {k!r} holds a NUL character (\\u0000), which cannot be in a "
                              "column name — remove it from the key")
        if k in seen:
            raise _KeyProblem(f"an object has the key {k!r} twice — keep one of them")
        seen.add(k)
    return dict(pairs)


def _constant(name: str):
    raise ValueError(f"{name} is not valid JSON — write null or a number")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)
_KINDS = {str: "a string", int: "a number", float: "a number", bool: "true/false",
          type(None): "null", list: "an array"}


class _Buf:
    """A text window over the file with line/column bookkeeping for what was dropped."""

    def __init__(self, f, path: Path):
        self.f, self.path = f, path
        self.dec = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf, self.pos, self.eof = "", 0, False
        self.lines, self.col = 1, 1  # line and column of buf[0]

    def more(self) -> bool:
        if self.eof:
            return False
        raw = self.f.read(_CHUNK)
        if not raw:
            self.eof = True
            self.buf += self.dec.decode(b"", final=True)
            return False
        # drop what was consumed, keeping the line/column of the new buf[0]
        gone = self.buf[: self.pos]
        nl = gone.count("\n")
        if nl:
            self.lines += nl
            self.col = len(gone) - gone.rfind("\n")
        else:
            self.col += len(gone)
        self.buf = self.buf[self.pos:] + self.dec.decode(raw)
        self.pos = 0
        if len(self.buf) > _MAX_RECORD:
            raise IngestError(f"{self.path}: {self.where(0)}: one record is larger than "
                              f"{_MAX_RECORD >> 20} MB — split it into smaller records")
        return True

    def where(self, i: int) -> str:
        nl = self.buf.count("\n", 0, i)
        if nl:
            return f"line {self.lines + nl}, column {i - self.buf.rfind(chr(10), 0, i)}"
        return f"line {self.lines}, column {self.col + i}"

    def skip_ws(self) -> str:
        """Skip whitespace; return the next character ('' at the end of the file)."""
        while True:
            n = len(self.buf)
            while self.pos < n and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < n:
                return self.buf[self.pos]
            if not self.more():
                return ""

    def fail(self, i: int, what: str) -> IngestError:
        return IngestError(f"{self.path}: {self.where(i)}: {what}")

    def value(self):
        """Decode one JSON value at pos (refilling the window when it is cut)."""
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if not self.eof and (e.pos >= len(self.buf) - 64 or e.msg.startswith("Unterminated")):
                    self.more()
                    continue
                if e.pos >= len(self.buf):
                    raise self.fail(e.pos, "the JSON ends too early — the file looks cut short; "
                                           "check that it is complete") from None
                raise self.fail(e.pos, f"malformed JSON ({e.msg.lower()}) — fix the file") from None
            except _KeyProblem as e:
                raise self.fail(self.pos, str(e)) from None
            except ValueError as e:  # NaN / Infinity
                raise self.fail(self.pos, f"malformed JSON ({e})") from None
            except RecursionError:
                raise self.fail(self.pos, "the JSON is nested too deeply to read — flatten it "
                                          "(at most 128 levels)") from None
            if end >= len(self.buf) and not self.eof and not isinstance(obj, (dict, list, str)):
                self.more()  # a number or literal may continue in the next chunk
                continue
            return obj, end


def check_json(path: Path, read_path: Path | None = None) -> JsonShape:
    """Validate the whole file; return its shape or raise one IngestError naming the spot."""
    with open(read_path or path, "rb") as f:
        b = _Buf(f, path)
        try:
            return _check(b, path)
        except UnicodeDecodeError:
            raise IngestError(f"{path}: JSON must be UTF-8 and this file is not — re-save it "
                              "as UTF-8 and ingest it again") from None


def _check(b: _Buf, path: Path) -> JsonShape:
    c = b.skip_ws()
    if not c:
        raise IngestError(f"{path} is empty — there are no records to ingest")
    if c not in "[{":
        obj, _ = b.value()  # a malformed scalar gets the parser's own message
        raise b.fail(b.pos, f"the file holds {_KINDS.get(type(obj), 'a value')}, not records — {SHAPE}")
    n, keys = 0, False
    if c == "[":
        b.pos += 1
        if b.skip_ws() == "]":
            b.pos += 1
        else:
            while True:
                obj, end = b.value()
                if not isinstance(obj, dict):
                    raise b.fail(b.pos, f"element {n + 1} of the array is {_KINDS[type(obj)]}, "
                                        f"not an object — {SHAPE}")
                n, keys = n + 1, keys or bool(obj)
                b.pos = end
                c = b.skip_ws()
                if c == ",":
                    b.pos += 1
                    if not b.skip_ws():
                        raise b.fail(b.pos, "the file ends after a comma, inside the array — it "
                                            "looks cut short; check that it is complete")
                    continue
                if c == "]":
                    b.pos += 1
                    break
                if not c:
                    raise b.fail(b.pos, "the array is never closed (no ']' before the end of the "
                                        "file) — it looks cut short; check that it is complete")
                raise b.fail(b.pos, "expected ',' or ']' after an element of the array — fix the file")
        if b.skip_ws():
            raise b.fail(b.pos, f"unexpected data after the closing ']' — {SHAPE}")
        if not n:
            raise IngestError(f"{path} holds an empty array — there are no records to ingest")
        if not keys:
            raise IngestError(f"{path}: every record is an empty object {{}} — there are no columns to ingest")
        return JsonShape(array=True, records=n)
    while c:
        obj, end = b.value()
        if not isinstance(obj, dict):
            raise b.fail(b.pos, f"record {n + 1} is {_KINDS[type(obj)]}, not an object — {SHAPE}")
        n, keys = n + 1, keys or bool(obj)
        b.pos = end
        c = b.skip_ws()
    if not keys:
        raise IngestError(f"{path}: every record is an empty object {{}} — there are no columns to ingest")
    return JsonShape(array=False, records=n)


class BackgroundJsonCheck:
    """check_json on another thread while DuckDB streams the rows (big files): the
    ingest waits for its verdict before it commits."""

    def __init__(self, path: Path, read_path: Path | None = None):
        import threading

        self._result: list = []
        self._thread = threading.Thread(target=self._run, args=(path, read_path), daemon=True)
        self._thread.start()

    def _run(self, path: Path, read_path: Path | None) -> None:
        try:
            self._result.append(check_json(path, read_path))
        except IngestError as e:
            self._result.append(e)
        except OSError as e:
            self._result.append(IngestError(f"{path}: cannot be read ({e.strerror or e})"))

    def result(self) -> JsonShape:
        self._thread.join()
        r = self._result[0]
        if isinstance(r, IngestError):
            raise r
        return r
