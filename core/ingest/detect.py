"""What a source file is: its format, its content hash and (for text) its encoding."""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import IngestError

EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv",
    ".json": "json", ".ndjson": "json", ".jsonl": "json",
    ".parquet": "parquet", ".pq": "parquet",
    ".pdf": "pdf",
    ".txt": "text", ".md": "text", ".markdown": "text",
}
FORMATS = ("csv", "tsv", "json", "parquet", "pdf", "text")
DOCUMENT_FORMATS = ("pdf", "text")
TEXT_FORMATS = ("csv", "tsv", "json", "text")

_CHUNK = 4 * 1024 * 1024


@dataclass
class Scan:
    sha256: str
    bytes: int
    encoding: str | None  # 'utf-8' | 'latin-1' | 'utf-16-le' … for text formats, None otherwise


def detect_format(path: Path, override: str | None) -> str:
    if override:
        if override not in FORMATS:
            raise IngestError(f"unknown format {override!r} — use one of: {', '.join(FORMATS)}")
        return override
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(
            f"{path}: unknown file type {path.suffix or '(no extension)'!r} — "
            f"pass --format {'|'.join(FORMATS)} to say what it is")
    return fmt


def line_of(path: Path, offset: int) -> int:
    """1-based line number of a byte offset."""
    line, done = 1, 0
    with open(path, "rb") as f:
        while done < offset:
            chunk = f.read(min(_CHUNK, offset - done))
            if not chunk:
                break
            line += chunk.count(b"\n")
            done += len(chunk)
    return line


# Byte-order marks, longest first: a UTF-32LE BOM begins with the UTF-16LE one.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"))
_C1 = re.compile(rb"[\x80-\x9f]")


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of the file declares, if any."""
    for bom, enc in BOMS:
        if head.startswith(bom):
            return enc
    return None


def utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 saved without a byte-order mark (some Windows exports do): text that is
    mostly ASCII then has a NUL in every other byte — odd positions for LE, even for BE.
    UTF-8 and Latin-1 text has no NULs, so this never mistakes one for the other."""
    n = len(head) - len(head) % 2
    if n < 4:
        return None
    even, odd = head[0:n:2].count(0), head[1:n:2].count(0)
    half = n // 2
    if odd >= 0.4 * half and even <= 0.05 * half:
        return "utf-16-le"
    if even >= 0.4 * half and odd <= 0.05 * half:
        return "utf-16-be"
    return None


def declared_encoding(head: bytes) -> tuple[str | None, str]:
    """(encoding, why) when the first bytes settle it: a byte-order mark, or the NUL
    pattern of UTF-16 without one; else (None, "")."""
    bom = bom_encoding(head)
    if bom:
        return bom, "its byte-order mark"
    guess = utf16_without_bom(head)
    if guess:
        return guess, "no byte-order mark, but a NUL in every other byte"
    return None, ""


def needs_transcoding(encoding: str | None) -> bool:
    """DuckDB's readers take UTF-8 and Latin-1; UTF-16/32 are converted to UTF-8 first."""
    return bool(encoding) and encoding.startswith(("utf-16", "utf-32"))


_LABELS = {"utf-8": "UTF-8", "latin-1": "Latin-1", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE",
           "utf-32-le": "UTF-32LE", "utf-32-be": "UTF-32BE"}


def encoding_label(encoding: str | None) -> str:
    return _LABELS.get(encoding or "utf-8", encoding or "UTF-8")


def not_utf8(path: Path, offset: int, byte: int, line: int) -> IngestError:
    # C1 bytes (0x80-0x9f) never occur in Latin-1 text: the file is Windows-1252, Shift_JIS,
    # GBK, ... and only its author knows which, so say how to convert it rather than guess.
    return IngestError(
        f"{path}: line {line}: byte 0x{byte:02x} at offset {offset} is not UTF-8, and the file is "
        f"not Latin-1 either — convert it to UTF-8 from its real encoding (e.g. `iconv -f SHIFT_JIS "
        f"-t UTF-8` or `iconv -f WINDOWS-1252 -t UTF-8`) and ingest the converted file")


def _mixed(path: Path, line: int) -> IngestError:
    return IngestError(
        f"{path}: line {line}: bytes that are not valid UTF-8 in a file that is otherwise "
        "UTF-8 — re-save the file in one encoding (UTF-8 or Latin-1) and ingest it again")


def scan(path: Path, fmt: str) -> Scan:
    """Hash the file; for text formats also decide its encoding in the same pass.

    A UTF-16/32 byte-order mark decides it; else UTF-8 (with or without BOM) when every
    byte decodes; Latin-1 when bytes do not decode, nothing before them was multi-byte
    UTF-8 and no byte is a C1 control; otherwise the file is refused with the line of
    the first bad byte.
    """
    h = hashlib.sha256()
    text = fmt in TEXT_FORMATS
    decoder = codecs.getincrementaldecoder("utf-8")()
    size, bad_at, multibyte, c1, bom = 0, None, False, False, None
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
                if text and size == 0:
                    bom = declared_encoding(chunk)[0]
                    if needs_transcoding(bom):
                        text = False  # not UTF-8 at all: the transcoder checks its bytes
                if text and not c1 and _C1.search(chunk):
                    c1 = True
                if text and bad_at is None and chunk.isascii() and not decoder.getstate()[0]:
                    pass  # pure ASCII: valid UTF-8, nothing to decode
                elif text and bad_at is None:
                    try:
                        decoder.decode(chunk)
                        if not multibyte and not chunk.isascii():
                            multibyte = True
                    except UnicodeDecodeError as e:
                        bad_at = size + e.start - len(decoder.getstate()[0])
                        # bytes before the bad one, in this chunk, may hold UTF-8 too
                        if not chunk[: max(e.start, 0)].isascii():
                            multibyte = True
                size += len(chunk)
            if text and bad_at is None:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    bad_at = size - 1
    except IsADirectoryError:
        raise IngestError(f"{path} is a directory — give files, a directory to walk, or a glob") from None
    except OSError as e:
        raise IngestError(f"{path}: cannot be read ({e.strerror or e})") from None
    encoding = None
    if needs_transcoding(bom) and fmt in TEXT_FORMATS:
        encoding = bom
    elif text:
        if bad_at is None:
            encoding = "utf-8"
        elif multibyte:
            raise _mixed(path, line_of(path, max(bad_at, 0)))
        elif c1:
            with open(path, "rb") as f:
                f.seek(max(bad_at, 0))
                byte = f.read(1)[0]
            raise not_utf8(path, bad_at, byte, line_of(path, max(bad_at, 0)))
        else:
            encoding = "latin-1"
    return Scan(sha256=h.hexdigest(), bytes=size, encoding=encoding)


def sample_encoding(path: Path, sample: bytes, at_eof: bool) -> str:
    """Encoding judged from the file's first bytes (the whole file when at_eof).
    A later byte that contradicts it surfaces as a reader error, and then the whole
    file is scanned (see scan) to decide."""
    declared = declared_encoding(sample)[0]
    if declared:
        return declared
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if not at_eof and e.start >= len(sample) - 3:
            return "utf-8"  # a multi-byte character cut by the sample's end
        if not sample[: e.start].isascii():
            raise _mixed(path, sample[: e.start].count(b"\n") + 1) from None
        if _C1.search(sample):
            raise not_utf8(path, e.start, sample[e.start], sample[: e.start].count(b"\n") + 1) from None
        return "latin-1"


def transcode(path: Path, encoding: str, dest: Path) -> None:
    """Stream a UTF-16/32 file into a UTF-8 copy (without its BOM) for DuckDB to read."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done, first = 0, True
    try:
        with open(path, "rb") as f, open(dest, "w", encoding="utf-8", newline="") as out:
            while chunk := f.read(_CHUNK):
                try:
                    s = decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    raise IngestError(
                        f"{path}: byte offset {done + e.start}: bytes that are not valid "
                        f"{encoding_label(encoding)} (the encoding its first bytes declare) — "
                        "re-save the file in one encoding and ingest it again") from None
                if first and s:
                    s, first = s.removeprefix("\ufeff"), False
                out.write(s)
                done += len(chunk)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise IngestError(
                    f"{path}: the file ends in the middle of a {encoding_label(encoding)} character "
                    "— it looks cut short; check that the file is complete") from None
    except OSError as e:
        raise IngestError(f"{path}: cannot be converted to UTF-8 ({e.strerror or e})") from None


def hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class BackgroundHash:
    """SHA-256 of a big file computed on another core while the ingest reads it
    (hashlib releases the GIL on large buffers)."""

    def __init__(self, path: Path):
        import threading

        self._result: list = []
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._result.append(hash_file(path))
        except OSError as e:
            self._result.append(e)

    def result(self) -> str:
        self._thread.join()
        r = self._result[0]
        if isinstance(r, OSError):
            raise IngestError(f"cannot read the source while hashing it ({r.strerror or r})")
        return r


def changed(path: Path, before: os.stat_result) -> bool:
    """Whether the file at `path` is no longer the one `before` described (replaced,
    grown, truncated or rewritten)."""
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
        before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)


def changed_error(path: Path) -> IngestError:
    return IngestError(f"{path} changed while it was being ingested — try again when it is no "
                       "longer being written")
