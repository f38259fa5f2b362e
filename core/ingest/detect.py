"""What a source file is: its format, its content hash and (for text) its encoding."""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import IngestError

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
    encoding: str | None  # 'utf-8' | 'latin-1' for text formats, None otherwise


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


def scan(path: Path, fmt: str) -> Scan:
    """Hash the file; for text formats also decide its encoding in the same pass.

    UTF-8 (with or without BOM) when every byte decodes; Latin-1 when bytes do not
    decode and nothing before them was multi-byte UTF-8; otherwise the file mixes
    encodings and is refused with the line of the first bad byte.
    """
    h = hashlib.sha256()
    text = fmt in TEXT_FORMATS
    decoder = codecs.getincrementaldecoder("utf-8")()
    size, bad_at, multibyte = 0, None, False
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
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
    if text:
        if bad_at is None:
            encoding = "utf-8"
        elif not multibyte:
            encoding = "latin-1"
        else:
            line = line_of(path, max(bad_at, 0))
            raise IngestError(
                f"{path}: line {line}: bytes that are not valid UTF-8 in a file that is otherwise "
                "UTF-8 — re-save the file in one encoding (UTF-8 or Latin-1) and ingest it again")
    return Scan(sha256=h.hexdigest(), bytes=size, encoding=encoding)


def sample_encoding(path: Path, sample: bytes, at_eof: bool) -> str:
    """Encoding judged from the file's first bytes (the whole file when at_eof).
    A later byte that contradicts it surfaces as a reader error, and then the whole
    file is scanned (see scan) to decide."""
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if not at_eof and e.start >= len(sample) - 3:
            return "utf-8"  # a multi-byte character cut by the sample's end
        if not sample[: e.start].isascii():
            line = sample[: e.start].count(b"\n") + 1
            raise IngestError(
                f"{path}: line {line}: bytes that are not valid UTF-8 in "
                "a file that is otherwise UTF-8 — re-save the file in one encoding (UTF-8 or "
                "Latin-1) and ingest it again") from None
        return "latin-1"


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
